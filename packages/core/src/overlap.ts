/**
 * Whether two byte ranges overlap in the same memory: the one rule the Batch (at add time) and
 * the TypeScript engine (at run time) apply, as the native engines do by address.
 */
import { isBackendMemory, isFileMemory, isHostMemory, type Memory } from './memory.js';

/**
 * Whether `[aOff, aOff + length)` of `a` and `[bOff, bOff + bLength)` of `b` share bytes. Host
 * memory is judged by address where an engine reported one for both (two SharedArrayBuffer
 * objects over one memory then alias), else by buffer object; files by device and inode; a
 * backend's memory by the identity its backend gave it.
 */
export function memoryOverlap(a: Memory, aOff: number, b: Memory, bOff: number, length: number, bLength = length): boolean {
  let x: number;
  let y: number;
  if (isHostMemory(a) && isHostMemory(b)) {
    if (a.address !== undefined && b.address !== undefined) {
      x = a.address + aOff;
      y = b.address + bOff;
    } else {
      if (a.view.buffer !== b.view.buffer) return false;
      x = a.view.byteOffset + aOff;
      y = b.view.byteOffset + bOff;
    }
  } else if (isFileMemory(a) && isFileMemory(b)) {
    // Two opens of one file or device alias whatever their descriptors.
    if (a.dev !== b.dev || a.ino !== b.ino) return false;
    x = a.fileOffset + aOff;
    y = b.fileOffset + bOff;
  } else if (isBackendMemory(a) && isBackendMemory(b) && a.kind === b.kind && a.identity !== undefined && b.identity !== undefined) {
    // Backend memory: by the identity its backend gave it (memory.ts).
    if (a.identity.object !== b.identity.object) return false;
    x = a.identity.offset + aOff;
    y = b.identity.offset + bOff;
  } else return false;
  return length > 0 && bLength > 0 && x < y + bLength && y < x + length;
}
