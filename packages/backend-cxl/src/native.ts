/**
 * The cxl backend's native addon (build/Release/datamover_cxl.node): its typed interface, loaded
 * and called through core's addonLoader and nativeCaller.
 */
import { addonLoader, ErrorCode, nativeCaller, type RingConsumerStats } from '@datamover/core';

export const BACKEND_NAME = 'cxl';

/** The engine class (native/engine.cc): a ring consumer over the soft executor. */
export interface NativeEngine {
  registerHost(index: number, view: Uint8Array, writable: boolean): void;
  registerDax(index: number, mapping: NativeMapping, mapOffset: number, length: number, writable: boolean): void;
  deregister(index: number): void;
  doorbell(): void;
  /** Runs the `count` slots written past Read_Index now on this thread; how many it settled, or -1 when the consumer holds the ring. */
  runInline(count: number): number;
  ref(): void;
  unref(): void;
  close(): void;
  /** The ring consumer's counters, the non-temporal threshold in use, and durable writes completed. */
  stats(): RingConsumerStats & { ntThreshold: number; durableWrites: number };
}

/** What a mapping is, as the addon found it when it mapped it (native/mapping.cc). */
export interface MappingFacts {
  readonly path: string;
  readonly via: 'device-dax' | 'fs-dax' | 'page-cache' | 'shmem';
  /** The region's offset and length in the device or file, as asked. */
  readonly offset: number;
  readonly length: number;
  /** Where the region starts inside the mapping (the mapping starts at an `alignment` boundary). */
  readonly mapOffset: number;
  readonly mapLength: number;
  readonly alignment: number;
  /** Size of the device or file. */
  readonly size: number;
  readonly dev: number;
  readonly ino: number;
  readonly writable: boolean;
  readonly persistent: boolean;
  /** How a durable write reaches the persistence domain. */
  readonly persistence: 'cache-writeback' | 'msync' | 'none';
  /** Mapped with MAP_SYNC (a DAX filesystem). */
  readonly mapSync: boolean;
  /** False once close() dropped the handle's reference. */
  readonly open: boolean;
}

/** An opaque handle on a mapping made by the addon; JavaScript never sees its address. */
export interface NativeMapping {
  describe(): MappingFacts;
  close(): void;
}

export interface MoveReport {
  /** Pages overlapping the region. */
  readonly pages: number;
  /** Pages on the target node afterwards. */
  readonly moved: number;
  /** Pages never touched (nothing to move; they will be placed by policy when first written). */
  readonly absent: number;
  /** Pages the kernel could not move. */
  readonly failed: number;
  /** errno → pages, for the failed ones. */
  readonly errors: Readonly<Record<string, number>>;
}

export interface NativeInfo {
  /** The cache write-back instruction durable writes use: clwb, clflushopt, clflush or none. */
  flush: 'clwb' | 'clflushopt' | 'clflush' | 'none';
  ntThreshold: number;
  llcBytes: number;
  avx2: boolean;
  crc32c: 'sse4.2' | 'table';
  pageSize: number;
}

export interface NativeAddon {
  /** The address of the view's first byte (core's kit, memory_address.h): compared, never passed back. */
  memoryAddress(view: Uint8Array): number;
  Engine: new (ring: Uint8Array, onProgress: () => void, options?: { spinMicros?: number; ntThreshold?: number }) => NativeEngine;
  /** persistence: -1 detect, 0 volatile (durable writes refused), 1 the caller vouches the device is persistent. */
  Mapping: new (path: string, offset: number, length: number, writable: boolean, persistence: -1 | 0 | 1) => NativeMapping;
  /** Zeroed memory, bound to `node` and faulted in there (node -1: unbound); unmapped when collected. */
  allocate(size: number, alignment: number, node: number): ArrayBuffer;
  movePages(view: Uint8Array, node: number): MoveReport;
  pageNodes(view: Uint8Array): { nodes: Record<string, number>; absent: number };
  currentNode(): number;
  /** Out-of-band copies through a mapping (tests, tools): never through an engine. */
  peek(mapping: NativeMapping, mapOffset: number, length: number): Uint8Array;
  poke(mapping: NativeMapping, mapOffset: number, bytes: Uint8Array): void;
  info(): NativeInfo;
}

const loader = addonLoader<NativeAddon>({
  name: BACKEND_NAME,
  packageRoot: new URL('..', import.meta.url),
  requires: { platforms: ['linux'], why: 'device-DAX, mmap, move_pages' },
});
/** Where the addon is built; DATAMOVER_CXL_ADDON selects another build (e.g. a sanitizer build). */
export const addonPath = loader.path;
/** The addon, or the reason it cannot be loaded. */
export const loadNative = loader.load;
/** Runs a call into the addon; what it throws arrives as a DatamoverError (an `errno` in its detail). */
export const native = nativeCaller({ backend: BACKEND_NAME, label: BACKEND_NAME, codes: { ENGINE_CLOSED: ErrorCode.MOVER_CLOSED } });
