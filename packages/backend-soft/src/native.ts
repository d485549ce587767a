/**
 * The soft backend's native addon (build/Release/datamover_soft.node): its typed interface, loaded
 * and called through core's addonLoader and nativeCaller.
 */
import { addonLoader, ErrorCode, nativeCaller, type RingConsumerStats } from '@datamover/core';

/** The native engine class the addon exports (see native/engine.cc). */
export interface NativeEngine {
  registerHost(index: number, view: Uint8Array, writable: boolean): void;
  registerFile(index: number, fd: number, directFd: number, fileOffset: number, length: number, writable: boolean): void;
  deregister(index: number): void;
  doorbell(): void;
  ref(): void;
  unref(): void;
  close(): void;
  /** The ring consumer's counters (still readable after close()). */
  stats(): RingConsumerStats;
}

export interface NativeInfo {
  ntThreshold: number;
  llcBytes: number;
  crc32c: 'sse4.2' | 'table';
  avx2: boolean;
  pageSize: number;
  /** Threads (the engine's own included) that share one striped copy or fill of 8 MiB or more. */
  copyThreads: number;
}

export interface NativeAddon {
  Engine: {
    new (ring: Uint8Array, onProgress: () => void, options?: { spinMicros?: number; ntThreshold?: number }): NativeEngine;
    info(): NativeInfo;
    abiOffsets(): Record<string, Record<string, number>>;
  };
  /** Zeroed host memory at an aligned address, freed when the ArrayBuffer is collected. */
  allocateAligned(size: number, alignment: number): ArrayBuffer;
  /** The address of the view's first byte (core's kit, memory_address.h): compared, never passed back. */
  memoryAddress(view: Uint8Array): number;
}

const loader = addonLoader<NativeAddon>({ name: 'soft', packageRoot: new URL('..', import.meta.url) });
/** Where the addon is built; DATAMOVER_SOFT_ADDON selects another build (e.g. a sanitizer build). */
export const addonPath = loader.path;
/** The addon, or the reason it cannot be loaded. */
export const loadNative = loader.load;
/** Runs a call into the addon; what it throws arrives as a DatamoverError. */
export const native = nativeCaller({ backend: 'soft', label: 'soft native engine', codes: { ENGINE_CLOSED: ErrorCode.MOVER_CLOSED } });
