/** rdma's memory and space: a peer's exported region, as core holds it (core knows only BackendMemory). */
import type { AddressSpace, BackendMemory, Memory } from '@datamover/core';

/**
 * A peer's exported memory, imported from a token. JavaScript holds only the token's fields (the
 * exporter's virtual address is a number in the exporter's space, never dereferenced here) and
 * the backend's opaque connection handle; only engines of `backend` understand it.
 */
export interface RemoteMemory extends BackendMemory {
  readonly kind: 'remote';
  /** The exporter's identity (node id @ address:port). */
  readonly peer: string;
  readonly exportId: number;
  /** The exported bytes' address in the exporter, as the token carries it. */
  readonly address: bigint;
  readonly rkey: number;
  /** The backend's opaque handle on the connection to the peer. */
  readonly handle: object;
}

/** Whether `m` is remote memory (a kind test alone does not narrow core's open Memory). */
export const isRemoteMemory = (m: Memory): m is RemoteMemory => m.kind === 'remote';

/** Memory a peer exported; `peer` names the exporter. */
export function remoteSpace(peer: string): AddressSpace {
  return Object.freeze({
    kind: 'remote',
    name: peer,
    cpuAccessible: false,
    persistent: false,
    alignment: 1,
  });
}
