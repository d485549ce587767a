/** Opening file regions: flags, size checks, and the optional O_DIRECT twin descriptor. */
import { closeSync, constants, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { datamoverError, ErrorCode } from './errors.js';
import type { FileMemory } from './memory.js';
import { checkSize } from './region.js';

export interface OpenFileOptions {
  /** Byte offset in the file of the region's first byte (default 0). */
  offset?: number;
  /** Region length; by default up to the end of the file. A writable region longer than the file extends it. */
  length?: number;
  /** 'r' read-only (default), 'rw' read and write. */
  mode?: 'r' | 'rw';
  /** Create the file if missing (mode 'rw' only). */
  create?: boolean;
  /** Truncate the file to zero first (mode 'rw' only). */
  truncate?: boolean;
  /** O_DIRECT use: 'auto' (default) opens a direct twin where the filesystem allows, 'never', or 'require'. */
  direct?: 'auto' | 'never' | 'require';
}

/** The O_DIRECT alignment engines honour (offset, length and memory address). */
export const DIRECT_ALIGNMENT = 4096;

export function openFileMemory(path: string, options: OpenFileOptions): { memory: FileMemory; length: number; writable: boolean } {
  if (typeof path !== 'string' || path.length === 0) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'file path must be a non-empty string');
  const mode = options.mode ?? 'r';
  if (mode !== 'r' && mode !== 'rw') throw datamoverError(ErrorCode.INVALID_ARGUMENT, `mode must be 'r' or 'rw', got ${String(mode)}`);
  const writable = mode === 'rw';
  if (!writable && (options.create || options.truncate)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, "create and truncate need mode 'rw'");
  const direct = options.direct ?? 'auto';
  if (direct !== 'auto' && direct !== 'never' && direct !== 'require') throw datamoverError(ErrorCode.INVALID_ARGUMENT, `direct must be 'auto', 'never' or 'require'`);
  const offset = options.offset ?? 0;
  checkSize(offset, 'file offset');
  if (options.length !== undefined) checkSize(options.length, 'file region length');

  const flags = (writable ? constants.O_RDWR : constants.O_RDONLY) | (options.create ? constants.O_CREAT : 0) | (options.truncate ? constants.O_TRUNC : 0);
  // O_NONBLOCK so that opening a FIFO (or another special file) cannot block the event loop before
  // the type check below refuses it; regular files and block devices ignore the flag.
  const fd = ioCall(() => openSync(path, flags | constants.O_NONBLOCK, 0o644), `open ${path}`);
  let directFd = -1;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isBlockDevice()) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${path} is not a regular file or block device`);
    let length = options.length;
    if (length === undefined) {
      if (offset > st.size) throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `offset ${offset} is past the end of ${path} (${st.size} bytes)`);
      length = st.size - offset;
    } else if (offset + length > st.size) {
      if (!writable) throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `[${offset}, ${offset + length}) runs past the end of ${path} (${st.size} bytes)`);
      ioCall(() => ftruncateSync(fd, offset + length!), `extend ${path}`);
    }
    if (direct !== 'never') {
      try {
        directFd = openSync(path, (flags & ~(constants.O_CREAT | constants.O_TRUNC)) | constants.O_DIRECT);
      } catch (e) {
        if (direct === 'require') throw datamoverError(ErrorCode.IO_ERROR, `${path}: O_DIRECT refused by the filesystem`, { cause: e });
      }
    }
    return { memory: { kind: 'file', path, fd, directFd, fileOffset: offset, dev: st.dev, ino: st.ino }, length, writable };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export function closeFileMemory(m: FileMemory): void {
  closeSync(m.fd);
  if (m.directFd >= 0) closeSync(m.directFd);
}

function ioCall<T>(f: () => T, what: string): T {
  try {
    return f();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const detail = typeof err.errno === 'number' ? { errno: Math.abs(err.errno), syscall: err.syscall } : { syscall: err.syscall };
    throw datamoverError(ErrorCode.IO_ERROR, `${what}: ${err.code ?? err.message}`, { cause: e, detail });
  }
}
