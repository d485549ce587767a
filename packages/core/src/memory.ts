/** What a registration holds: the bytes an engine touches, described without raw pointers. */

export interface HostMemory {
  readonly kind: 'host';
  /** A view covering exactly the registered bytes (what engines are handed). */
  readonly view: Uint8Array;
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

export type Memory = HostMemory | FileMemory;
