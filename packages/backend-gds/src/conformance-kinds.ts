/**
 * A `gpu` region factory for the conformance suite (@datamover/conformance's KindProvider,
 * declared structurally here so this package does not depend on the suite). The fixture
 * allocates device memory out of band (cudaMalloc through the addon, never the engine under test),
 * registers it with `mover.wrap(pointer, { kind: 'gpu', size })`, and reads and writes it with synchronous cudaMemcpy calls, so
 * the backend never grades its own work. Guard bands are real device memory around the region.
 */
import type { Mover, Region } from '@datamover/core';
import { alignUp, GDS_ALIGNMENT } from './alignment.js';
import { allocateDeviceBuffer } from './device-buffer.js';
import type { LibraryNames } from './native.js';

/** What the suite asks of a fixture (the suite's FixtureOptions, structurally). */
export interface GpuFixtureOptions {
  readOnly?: boolean;
  guard?: number;
  aligned?: boolean;
  contents?: Uint8Array;
}

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The `gpu` kind for backends built with `libraries` (the same the fixture must allocate through). */
export function gpuKind(libraries?: LibraryNames) {
  return {
  /** Device memory is real memory: keep the suite's regions moderate. */
  maxCheapBytes: 256 * 1024 * 1024,
  readOnly: true,
  async create(mover: Mover, size: number, options: GpuFixtureOptions) {
    const guard = options.guard ?? 0;
    // The region starts `lead` bytes into the allocation (4 KiB aligned when asked: cuFile's direct path).
    const lead = options.aligned ? Math.max(GDS_ALIGNMENT, alignUp(guard)) : guard;
    const buffer = allocateDeviceBuffer(lead + size + guard, { alignment: GDS_ALIGNMENT, ...(libraries ? { libraries } : {}) });
    try {
      if (guard > 0) {
        buffer.write(noise(guard, 0x6a09e667 ^ size), lead - guard);
        buffer.write(noise(guard, 0xbb67ae85 ^ size), lead + size);
      }
      buffer.write(options.contents ?? new Uint8Array(size), lead); // cudaMalloc does not zero
      const region: Region = mover.wrap(buffer.pointer + BigInt(lead), { kind: 'gpu', size, device: buffer.device, ...(options.readOnly ? { readOnly: true } : {}) });
      return {
        region,
        size,
        read: async (offset = 0, length = size - offset) => buffer.read(lead + offset, length),
        write: async (data: Uint8Array, offset = 0) => buffer.write(data, lead + offset),
        ...(guard > 0 ? { guards: async () => ({ before: buffer.read(lead - guard, guard), after: buffer.read(lead + size, guard) }) } : {}),
        async dispose() {
          if (region.live) await region.release().catch(() => undefined);
          // An import of our own allocation holds it: freeing here is safe even if a moved handle still lives.
          buffer.free();
        },
      };
    } catch (e) {
      buffer.free();
      throw e;
    }
  },
  };
}

/**
 * Region factories for kinds the suite cannot create itself (pass as `kinds` to runConformance /
 * runSuite); give the same `libraries` as the backend's options.
 */
export function conformanceKinds(libraries?: LibraryNames) {
  return { gpu: gpuKind(libraries) };
}
