/** gds's memory and space: device memory of a GPU, as core holds it (core knows only BackendMemory). */
import type { AddressSpace, BackendMemory, Memory, MemoryIdentity } from '@datamover/core';

/**
 * Device memory of a GPU, held by the backend that allocated or imported it. JavaScript sees an
 * opaque `buffer` object, never a pointer it could hand back to native code; only engines of the
 * owning backend understand `buffer`.
 */
export interface GpuMemory extends BackendMemory {
  readonly kind: 'gpu';
  /** CUDA device ordinal. */
  readonly device: number;
  /** The backend's opaque handle on the device memory. */
  readonly buffer: object;
  /** `{ object: buffer, offset: 0 }`: distinct buffers may still alias (two imports of one allocation); engines check addresses. */
  readonly identity: MemoryIdentity;
}

/** Whether `m` is gpu memory (a kind test alone does not narrow core's open Memory). */
export const isGpuMemory = (m: Memory): m is GpuMemory => m.kind === 'gpu';

/** Memory of CUDA device `device`; `alignment` is what its regions were allocated or found at. */
export function gpuSpace(device: number, alignment: number): AddressSpace {
  return Object.freeze({
    kind: 'gpu',
    name: `cuda:${device}`,
    cpuAccessible: false,
    persistent: false,
    alignment: alignment || 1,
    deviceId: device,
  });
}
