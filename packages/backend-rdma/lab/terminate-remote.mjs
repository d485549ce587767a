// The remote region of the worker-terminate lab test, as conformance's TerminateRegionFactory:
// host memory exported by a second Mover in the same worker and imported over Soft-RoCE loopback
// (the published remote kind, src/conformance.ts), so the terminated worker tears down both the
// importer's and the exporter's engines with work requests in flight between them.
import { rdmaConformanceKinds } from '@datamover/backend-rdma';

export async function remote(mover, size, options) {
  return (await rdmaConformanceKinds(options).remote.create(mover, size, {})).region;
}
