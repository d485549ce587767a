/** What a registration holds: the bytes an engine touches, described without raw pointers. */

export interface HostMemory {
  readonly kind: 'host';
  /** A view covering exactly the registered bytes (what engines are handed). */
  readonly view: Uint8Array;
  /**
   * The address of the view's first byte, where an open engine reports one (soft's and sdxi's
   * native addons): it tells two buffer objects over one memory (two SharedArrayBuffer objects
   * from postMessage) from two memories. Only ever compared; no call takes an address back.
   */
  readonly address?: number;
}

export interface FileMemory {
  readonly kind: 'file';
  readonly path: string;
  /** Buffered descriptor. */
  readonly fd: number;
  /** O_DIRECT descriptor of the same file, or -1 where the filesystem refuses O_DIRECT. */
  readonly directFd: number;
  /** Byte offset in the file of the region's first byte. */
  readonly fileOffset: number;
  /** Device and inode: two regions of one file overlap by file offsets, not by fd. */
  readonly dev: number;
  readonly ino: number;
}

/**
 * Where backend memory sits, for the one overlap rule core applies to every backend's memory
 * (overlap.ts): two regions can share bytes only when their identities' `object`s are the same
 * (`===`), and then they are compared by `offset`.
 */
export interface MemoryIdentity {
  /** The same for two memories over the same bytes: an opaque handle, or a key such as `"dev:ino"`. */
  readonly object: object | string;
  /** Byte offset of the region's first byte inside `object`. */
  readonly offset: number;
}

/**
 * What core needs of any memory a backend makes or imports: which backend's engines understand
 * it, how it is freed, and (optionally) what tells its overlaps. Without an identity core treats
 * two such memories as disjoint and leaves overlap to the engines, which check addresses.
 */
export interface BackendMemoryBase {
  /** The address-space kind the memory belongs to. */
  readonly kind: string;
  /** Name of the backend whose engines understand the memory's handles. */
  readonly backend: string;
  readonly identity?: MemoryIdentity;
  /** Frees or forgets the memory; called once, when the registration is freed. */
  release(): void;
}

/**
 * Device memory of a GPU, held by the backend that allocated or imported it. JavaScript sees an
 * opaque `buffer` object, never a pointer it could hand back to native code; only engines of the
 * owning backend understand `buffer`.
 */
export interface GpuMemory extends BackendMemoryBase {
  readonly kind: 'gpu';
  /** CUDA device ordinal. */
  readonly device: number;
  /** The backend's opaque handle on the device memory. */
  readonly buffer: object;
  /** `{ object: buffer, offset: 0 }`: distinct buffers may still alias (two imports of one allocation); engines check addresses. */
  readonly identity: MemoryIdentity;
}

/**
 * A peer's exported memory, imported from a token. JavaScript holds only the token's fields (the
 * exporter's virtual address is a number in the exporter's space, never dereferenced here) and
 * the backend's opaque connection handle; only engines of `backend` understand it.
 */
export interface RemoteMemory extends BackendMemoryBase {
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

/**
 * A mapping of CXL / persistent memory or of a file, made by the backend that maps it (cxl):
 * a device-DAX character device, a file on a DAX filesystem, or an ordinary file mapped
 * MAP_SHARED. JavaScript holds an opaque `mapping` handle, never a pointer; only engines of
 * `backend` understand it. The region covers `mapOffset`.. of the mapping.
 */
export interface DaxMemory extends BackendMemoryBase {
  readonly kind: 'dax';
  /** The device or file that is mapped. */
  readonly path: string;
  /**
   * What the mapping is: a device-DAX character device, a file on a DAX filesystem (mapped with
   * MAP_SYNC), a file in the page cache, or a file in volatile shared memory (tmpfs and the like).
   */
  readonly via: 'device-dax' | 'fs-dax' | 'page-cache' | 'shmem';
  /** The backend's opaque handle on the mapping (it unmaps it once nothing uses it). */
  readonly mapping: object;
  /** Byte offset of the region's first byte inside the mapping. */
  readonly mapOffset: number;
  /** Byte offset of the region's first byte in the device or file. */
  readonly fileOffset: number;
  /** Identity of the mapped object: two regions overlap by offsets only when dev and ino match (device-DAX: dev = rdev, ino = 0). */
  readonly dev: number;
  readonly ino: number;
  /** `{ object: "dev:ino", offset: fileOffset }`: two mappings of one file or device alias whatever their addresses. */
  readonly identity: MemoryIdentity;
  /** Whether writes can be made durable (persistent media, or a file on a persistent filesystem). */
  readonly persistent: boolean;
  /** The mapping's alignment (device-DAX: the device's align; files: the page size). */
  readonly alignment: number;
  /** NUMA node the memory sits on, where known. */
  readonly numaNode?: number;
}

export type Memory = HostMemory | FileMemory | GpuMemory | RemoteMemory | DaxMemory;

/** Memory a backend package makes or imports and registers with `Mover.registerMemory()`. */
export type BackendMemory = GpuMemory | RemoteMemory | DaxMemory;
