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
 * Device memory of a GPU, held by the backend that allocated or imported it. JavaScript sees an
 * opaque `buffer` object, never a pointer it could hand back to native code; only engines of the
 * owning backend understand `buffer`.
 */
export interface GpuMemory {
  readonly kind: 'gpu';
  /** CUDA device ordinal. */
  readonly device: number;
  /** Name of the backend whose engines can use `buffer`. */
  readonly backend: string;
  /** The backend's opaque handle on the device memory. */
  readonly buffer: object;
  /** Frees an allocation (or forgets an imported range); called once, when the registration is freed. */
  release(): void;
}

/**
 * A peer's exported memory, imported from a token. JavaScript holds only the token's fields (the
 * exporter's virtual address is a number in the exporter's space, never dereferenced here) and
 * the backend's opaque connection handle; only engines of `backend` understand it.
 */
export interface RemoteMemory {
  readonly kind: 'remote';
  /** Name of the backend whose engines can reach it. */
  readonly backend: string;
  /** The exporter's identity (node id @ address:port). */
  readonly peer: string;
  readonly exportId: number;
  /** The exported bytes' address in the exporter, as the token carries it. */
  readonly address: bigint;
  readonly rkey: number;
  /** The backend's opaque handle on the connection to the peer. */
  readonly handle: object;
  /** Forgets the import; called once, when the registration is freed. */
  release(): void;
}

/**
 * A mapping of CXL / persistent memory or of a file, made by the backend that maps it (cxl):
 * a device-DAX character device, a file on a DAX filesystem, or an ordinary file mapped
 * MAP_SHARED. JavaScript holds an opaque `mapping` handle, never a pointer; only engines of
 * `backend` understand it. The region covers `mapOffset`.. of the mapping.
 */
export interface DaxMemory {
  readonly kind: 'dax';
  /** Name of the backend whose engines can use `mapping`. */
  readonly backend: string;
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
  /** Whether writes can be made durable (persistent media, or a file on a persistent filesystem). */
  readonly persistent: boolean;
  /** The mapping's alignment (device-DAX: the device's align; files: the page size). */
  readonly alignment: number;
  /** NUMA node the memory sits on, where known. */
  readonly numaNode?: number;
  /** Drops the handle; the mapping goes away once no engine registration uses it. Called once, when the registration is freed. */
  release(): void;
}

export type Memory = HostMemory | FileMemory | GpuMemory | RemoteMemory | DaxMemory;
