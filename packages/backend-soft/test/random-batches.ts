/**
 * Random batches for the property tests that hold an engine to the TypeScript oracle (here and
 * sdxi's inline test): operations over fractions of a set of regions, made valid for them.
 */
import { DatamoverError, type Batch, type Region } from '@datamover/core';
import fc from 'fast-check';
import { expect } from 'vitest';

/** Host region sizes; the property tests add a file region after them. */
export const SIZES = [1, 7, 64, 4095, 4096, 4097, 65_536 + 3];

export type Op =
  | { op: 'copy'; dst: number; src: number; a: number; b: number; n: number; fence: boolean }
  | { op: 'fill'; dst: number; a: number; n: number; p: bigint; wide: boolean }
  | { op: 'compare'; x: number; y: number; a: number; b: number; n: number }
  | { op: 'crc32c'; src: number; a: number; n: number; seed: number }
  | { op: 'writeImm'; dst: number; a: number; width: 1 | 2 | 4 | 8; v: bigint }
  | { op: 'nop'; fence: boolean };

const frac = fc.double({ min: 0, max: 1, noNaN: true });

/** Operations over regions drawn by `region`, of the kinds in `only` (default every kind). */
export function opsOver(region: fc.Arbitrary<number>, only?: readonly Op['op'][]): fc.Arbitrary<Op> {
  const kinds: Record<Op['op'], fc.Arbitrary<unknown>> = {
    copy: fc.record({ op: fc.constant('copy' as const), dst: region, src: region, a: frac, b: frac, n: frac, fence: fc.boolean() }),
    fill: fc.record({ op: fc.constant('fill' as const), dst: region, a: frac, n: frac, p: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), wide: fc.boolean() }),
    compare: fc.record({ op: fc.constant('compare' as const), x: region, y: region, a: frac, b: frac, n: frac }),
    crc32c: fc.record({ op: fc.constant('crc32c' as const), src: region, a: frac, n: frac, seed: fc.integer({ min: 0, max: 0xffff_ffff }) }),
    writeImm: fc.record({ op: fc.constant('writeImm' as const), dst: region, a: frac, width: fc.constantFrom(1, 2, 4, 8) as fc.Arbitrary<1 | 2 | 4 | 8>, v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    nop: fc.record({ op: fc.constant('nop' as const), fence: fc.boolean() }),
  };
  const drawn = (only ?? (Object.keys(kinds) as Op['op'][])).map((k) => kinds[k]);
  return fc.oneof(...drawn).map((o) => o as Op);
}

/** Turns fractions into a valid range of a region: offset and length both within it. */
function range(r: Region, a: number, n: number, other?: Region, b = 0) {
  const limit = other ? Math.min(r.length, other.length) : r.length;
  const length = Math.floor(n * limit);
  return { off: Math.floor(a * (r.length - length)), length, otherOff: other ? Math.floor(b * (other.length - length)) : 0 };
}

export function add(batch: Batch, regions: Region[], o: Op): boolean {
  try {
    switch (o.op) {
      case 'copy': {
        const d = regions[o.dst]!;
        const s = regions[o.src]!;
        const r = range(d, o.a, o.n, s, o.b);
        batch.copy(d, s, { dstOffset: r.off, srcOffset: r.otherOff, length: r.length, fence: o.fence });
        break;
      }
      case 'fill': {
        const d = regions[o.dst]!;
        const r = range(d, o.a, o.n);
        batch.fill(d, o.wide ? o.p : o.p & 0xffn, { offset: r.off, length: r.length, patternBytes: o.wide ? 8 : 1 });
        break;
      }
      case 'compare': {
        const x = regions[o.x]!;
        const y = regions[o.y]!;
        const r = range(x, o.a, o.n, y, o.b);
        batch.compare(x, y, { aOffset: r.off, bOffset: r.otherOff, length: r.length });
        break;
      }
      case 'crc32c': {
        const s = regions[o.src]!;
        const r = range(s, o.a, o.n);
        batch.crc32c(s, { offset: r.off, length: r.length, seed: o.seed });
        break;
      }
      case 'writeImm': {
        const d = regions[o.dst]!;
        if (d.length < o.width) return false;
        batch.writeImmediate(d, o.v & ((1n << BigInt(o.width * 8)) - 1n), { width: o.width, offset: Math.floor(o.a * (d.length - o.width)) });
        break;
      }
      case 'nop':
        batch.nop({ fence: o.fence });
    }
    return true;
  } catch (e) {
    // Overlapping copies are refused by core before any engine sees them: skip those.
    if (e instanceof DatamoverError && e.code === 'OVERLAPPING_RANGES') return false;
    throw e;
  }
}

/** Equal results per descriptor and equal bytes in every region. */
export function expectSame(native: { values: number[]; bytes: Uint8Array[] }, oracle: { values: number[]; bytes: Uint8Array[] }): void {
  expect(native.values).toEqual(oracle.values);
  for (let i = 0; i < oracle.bytes.length; i++) {
    expect(Buffer.from(native.bytes[i]!).equals(Buffer.from(oracle.bytes[i]!)), `region ${i} differs`).toBe(true);
  }
}
