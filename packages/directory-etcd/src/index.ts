/**
 * @packageDocumentation
 * A Datamover peer directory on etcd (the `etcd3` gRPC client): agents publish their address and
 * exported regions under a prefix, each on its own lease, so a dead agent's entries expire within
 * the TTL. Use it with core's RegionExchange and a remote backend's transport (rdmaTransport).
 */
export { EtcdDirectory } from './etcd-directory.js';
export type { EtcdDirectoryOptions } from './etcd-directory.js';
export { KeySpace } from './keys.js';
