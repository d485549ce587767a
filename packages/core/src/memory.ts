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
 * Memory a backend package makes or imports and registers with `Mover.registerMemory()`: what
 * core needs of it, whatever the kind. A backend declares its own memory by extending it (gds:
 * GpuMemory, rdma: RemoteMemory, cxl: DaxMemory); only its engines read the rest. Without an
 * identity core treats two such memories as disjoint and leaves overlap to the engines, which
 * check addresses.
 */
export interface BackendMemory {
  /** The address-space kind the memory belongs to. */
  readonly kind: string;
  /** Name of the backend whose engines understand the memory's handles. */
  readonly backend: string;
  readonly identity?: MemoryIdentity;
  /** Frees or forgets the memory; called once, when the registration is freed. */
  release(): void;
}

export type Memory = HostMemory | FileMemory | BackendMemory;

/**
 * Whether `m` is host memory. A backend's kind is any string, so a kind test does not narrow the
 * union; registerMemory() refuses backend memory that claims kind host or file.
 */
export const isHostMemory = (m: Memory): m is HostMemory => m.kind === 'host';
/** Whether `m` is an open file (see isHostMemory). */
export const isFileMemory = (m: Memory): m is FileMemory => m.kind === 'file';
/** Whether `m` is a backend's memory: neither host memory nor a file. */
export const isBackendMemory = (m: Memory): m is BackendMemory => m.kind !== 'host' && m.kind !== 'file';
