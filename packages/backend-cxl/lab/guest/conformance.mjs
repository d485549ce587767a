// Guest side of the lab conformance run: the published suite against the cxl backend for the
// `dax` kind on /dev/dax0.0 (ranges of the device, checked through a second mapping), trimmed for
// an emulated (TCG) guest. Prints the report as JSON.
import { pathToFileURL } from 'node:url';
import { runSuite } from '@datamover/conformance/runner';
import { cxl } from '../../dist/index.js';
import { daxDeviceProvider } from '../../dist/testing.js';
import { emit } from './common.mjs';

const only = process.env.CONFORMANCE_GROUPS ? process.env.CONFORMANCE_GROUPS.split(',') : undefined;
const t0 = Date.now();
const report = await runSuite(
  {
    name: `cxl (dax on ${process.env.LAB_DAX})`,
    factory: () => cxl(),
    worker: { module: pathToFileURL(new URL('../../dist/index.js', import.meta.url).pathname).href, export: 'cxl', args: [] },
    kinds: { dax: daxDeviceProvider(process.env.LAB_DAX) },
    trim: { reason: "an emulated (TCG) guest runs ~20x slower than the host", loadDescriptors: 20_000, cycles: 500 },
    ...(only ? { groups: only } : {}),
  },
  { onCase: (o, i, n) => process.stderr.write(`[${i + 1}/${n}] ${o.status} ${o.group} / ${o.name} (${o.durationMs} ms)${o.error ? `: ${o.error.split('\n')[0]}` : ''}\n`) },
);
emit({
  seconds: (Date.now() - t0) / 1000,
  groups: report.groups,
  failed: report.cases.filter((c) => c.status === 'failed').map((c) => ({ group: c.group, name: c.name, error: c.error })),
  passed: report.cases.filter((c) => c.status === 'passed').length,
  skipped: report.cases.filter((c) => c.status === 'skipped').map((c) => `${c.group} / ${c.name}: ${c.reason}`),
});
