/**
 * Device memory outside any Mover: what a framework (or a test) allocates and later hands to
 * `mover.wrap(buffer.pointer, { kind: 'gpu', size, device })`, with out-of-band reads and writes (a
 * synchronous cudaMemcpy on the calling thread — never the engine under test).
 */
import { datamoverError, ErrorCode, nativeCaller } from '@datamover/core';
import { gdsErrorMap } from './errors.js';
import { librariesFromEnv, loadNative, type LibraryNames } from './native.js';

export interface DeviceBuffer {
  /** The device address of byte 0 (hand it to another framework, or to `mover.wrap(pointer, { kind: 'gpu', size })`). */
  readonly pointer: bigint;
  readonly size: number;
  readonly device: number;
  /** A copy of `length` bytes at `offset` (cudaMemcpy device -> host). */
  read(offset?: number, length?: number): Uint8Array;
  /** Copies `data` to `offset` (cudaMemcpy host -> device). */
  write(data: Uint8Array, offset?: number): void;
  /** Frees the memory once no registered region holds it any more. */
  free(): void;
}

/** Allocates device memory with cudaMalloc (aligned to `alignment`, default 4096). */
export function allocateDeviceBuffer(size: number, options: { device?: number; alignment?: number; libraries?: LibraryNames } = {}): DeviceBuffer {
  const n = loadNative();
  if ('error' in n) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `gds: ${n.error}`);
  const libraries = options.libraries ?? librariesFromEnv();
  const device = options.device ?? 0;
  const call = nativeCaller(gdsErrorMap());
  const b = call(() => n.addon.allocateGpu(libraries, size, device, options.alignment ?? 4096), `cudaMalloc(${size}) on device ${device}`);
  return {
    pointer: b.pointer,
    size,
    device,
    read: (offset = 0, length = size - offset) => call(() => b.read(offset, length), 'read device memory'),
    write: (data, offset = 0) => call(() => b.write(data, offset), 'write device memory'),
    free: () => b.release(),
  };
}
