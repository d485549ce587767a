/**
 * The gds engine's memory provider of kind 'gpu' (core's MemoryProvider): `mover.alloc(size,
 * { kind: 'gpu', device })` allocates device memory with cudaMalloc, `mover.wrap(pointer,
 * { kind: 'gpu', size, device })` takes in device memory another framework allocated. The
 * checks of gds's own keys (`device`) and of the pointer live here; core checks the rest.
 */
import { datamoverError, ErrorCode, type MemoryProvider } from '@datamover/core';
import { gpuSpace, type GpuMemory } from './gpu-memory.js';

/** The session's native calls the provider goes through. */
export interface GpuMemoryCalls {
  allocate(size: number, device: number, alignment: number): GpuMemory;
  import(pointer: bigint, size: number, device: number): GpuMemory;
}

export function gpuMemoryProvider(calls: GpuMemoryCalls): MemoryProvider {
  return {
    kind: 'gpu',
    allocOptions: ['device'],
    allocate(size, alignment, options) {
      const memory = calls.allocate(size, gpuDevice(options.device), alignment);
      return { memory, space: gpuSpace(memory.device, alignment) };
    },
    wrapOptions: ['device'],
    wrap(pointer, size, options) {
      if (typeof pointer !== 'bigint' || pointer <= 0n || pointer >= 2n ** 64n) {
        throw datamoverError(ErrorCode.INVALID_ARGUMENT, "wrap({ kind: 'gpu' }) takes the device address as a positive 64-bit bigint");
      }
      const memory = calls.import(pointer, size, gpuDevice(options.device));
      // cuFile's direct path wants 4 KiB-aligned device addresses; an import elsewhere is byte-aligned.
      return { memory, space: gpuSpace(memory.device, Number(BigInt.asUintN(12, pointer)) === 0 ? 4096 : 1) };
    },
  };
}

/** The `device` option: a CUDA device ordinal, default 0. */
function gpuDevice(device: unknown): number {
  if (device === undefined) return 0;
  if (typeof device !== 'number' || !Number.isSafeInteger(device) || device < 0 || device > 0x7fff_ffff) {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `device must be a CUDA device ordinal (a non-negative integer), got ${String(device)}`);
  }
  return device;
}
