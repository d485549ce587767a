/**
 * The rdma backend as core's RemoteTransport, for a RegionExchange over a peer directory: tokens
 * are rdma export tokens, imports connect through the token's host:port (within allowHosts,
 * authenticated by peerAuth), revocation deregisters the memory and tells importers.
 */
import type { Mover, RemoteTransport } from '@datamover/core';
import { rdmaApi } from './index.js';

export function rdmaTransport(mover: Mover): RemoteTransport {
  return {
    export: (region, access) => rdmaApi.export(mover, region, { access }),
    import: (token) => rdmaApi.import(mover, token),
    revoke: (token) => rdmaApi.revoke(mover, token),
  };
}
