/**
 * The checks every copy's two ends pass, shared by a batch's copy and a transfer plan: the region
 * is a live handle of this Mover, writable where written, the offset inside it; the two ranges
 * fit, match in length when none is given, and do not overlap in memory.
 */
import { datamoverError, ErrorCode } from './errors.js';
import { assertRegion } from './options.js';
import { memoryOverlap } from './overlap.js';
import { checkRange, checkSize, type Region, type Registration } from './region.js';

/** One checked end: its registration, the offset inside the handle and the registration, and the bytes from there to the handle's end. */
export interface Endpoint {
  readonly reg: Registration;
  readonly offset: number;
  readonly abs: number;
  readonly room: number;
}

export function endpoint(moverId: number, region: Region, offset: number | undefined, what: string, write = false): Endpoint {
  assertRegion(region, `${what} region`);
  const { reg, base } = region.resolve();
  if (reg.owner.id !== moverId) throw datamoverError(ErrorCode.FOREIGN_REGION, `${what} region belongs to another Mover`);
  if (write && !reg.writable) throw datamoverError(ErrorCode.ACCESS_DENIED, `${what} region is read-only`);
  const off = offset ?? 0;
  checkSize(off, `${what} offset`);
  if (off > region.length) throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `${what} offset ${off} is past the region's ${region.length} bytes`);
  return { reg, offset: off, abs: base + off, room: region.length - off };
}

/** The byte count of a copy from `s` to `d` (`length`, or the source's room, which must equal the destination's). */
export function copyLength(s: Endpoint, d: Endpoint, src: Region, dst: Region, length: number | undefined): number {
  if (length === undefined) {
    if (s.room !== d.room) {
      throw datamoverError(ErrorCode.LENGTH_MISMATCH, `source range is ${s.room} bytes but destination range is ${d.room}; pass { length }`);
    }
    length = s.room;
  }
  checkRange(s.offset, length, src.length, 'source');
  checkRange(d.offset, length, dst.length, 'destination');
  if (memoryOverlap(s.reg.memory, s.abs, d.reg.memory, d.abs, length)) {
    throw datamoverError(ErrorCode.OVERLAPPING_RANGES, 'source and destination of a copy overlap in the same memory');
  }
  return length;
}
