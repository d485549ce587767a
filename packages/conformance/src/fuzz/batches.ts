/**
 * Random batches for property tests that hold an engine to the TypeScript oracle (soft's native
 * engine, sdxi's inline path): operations whose offsets and lengths are fractions of the regions
 * they name, made valid for them, and the comparison of two runs' outcomes.
 */
import { DatamoverError, type Batch, type Region } from '@datamover/core';
import fc from 'fast-check';

/** Sizes of the host regions random batches run over (a test may add regions after them). */
export const BATCH_REGION_SIZES = [1, 7, 64, 4095, 4096, 4097, 65_536 + 3];

/** One random operation, its offsets and lengths as fractions of the regions it names. */
export type BatchOp =
  | { op: 'copy'; dst: number; src: number; a: number; b: number; n: number; fence: boolean }
  | { op: 'fill'; dst: number; a: number; n: number; p: bigint; wide: boolean }
  | { op: 'compare'; x: number; y: number; a: number; b: number; n: number }
  | { op: 'crc32c'; src: number; a: number; n: number; seed: number }
  | { op: 'writeImm'; dst: number; a: number; width: 1 | 2 | 4 | 8; v: bigint }
  | { op: 'nop'; fence: boolean };

const frac = fc.double({ min: 0, max: 1, noNaN: true });

/** Random operations over the regions `region` draws (indexes), of the kinds in `only` (default every kind). */
export function batchOps(region: fc.Arbitrary<number>, only?: readonly BatchOp['op'][]): fc.Arbitrary<BatchOp> {
  const kinds: Record<BatchOp['op'], fc.Arbitrary<unknown>> = {
    copy: fc.record({ op: fc.constant('copy' as const), dst: region, src: region, a: frac, b: frac, n: frac, fence: fc.boolean() }),
    fill: fc.record({ op: fc.constant('fill' as const), dst: region, a: frac, n: frac, p: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), wide: fc.boolean() }),
    compare: fc.record({ op: fc.constant('compare' as const), x: region, y: region, a: frac, b: frac, n: frac }),
    crc32c: fc.record({ op: fc.constant('crc32c' as const), src: region, a: frac, n: frac, seed: fc.integer({ min: 0, max: 0xffff_ffff }) }),
    writeImm: fc.record({ op: fc.constant('writeImm' as const), dst: region, a: frac, width: fc.constantFrom(1, 2, 4, 8) as fc.Arbitrary<1 | 2 | 4 | 8>, v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    nop: fc.record({ op: fc.constant('nop' as const), fence: fc.boolean() }),
  };
  const drawn = (only ?? (Object.keys(kinds) as BatchOp['op'][])).map((k) => kinds[k]);
  return fc.oneof(...drawn).map((o) => o as BatchOp);
}

/** Turns fractions into a valid range of a region: offset and length both within it. */
function range(r: Region, a: number, n: number, other?: Region, b = 0) {
  const limit = other ? Math.min(r.length, other.length) : r.length;
  const length = Math.floor(n * limit);
  return { off: Math.floor(a * (r.length - length)), length, otherOff: other ? Math.floor(b * (other.length - length)) : 0 };
}

/** Adds `o` to `batch`, made valid for `regions`; false when core refuses it (overlapping ranges) or it does not fit. */
export function addBatchOp(batch: Batch, regions: readonly Region[], o: BatchOp): boolean {
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

/** What a run of a random batch left: each descriptor's value and every region's bytes. */
export interface BatchOutcome {
  readonly values: readonly number[];
  readonly bytes: readonly Uint8Array[];
}

/** How `got` differs from `expected` (the oracle's), or undefined when they agree. */
export function outcomeDifference(got: BatchOutcome, expected: BatchOutcome): string | undefined {
  for (let i = 0; i < expected.values.length || i < got.values.length; i++) {
    if (!Object.is(got.values[i], expected.values[i])) return `descriptor ${i}: value ${got.values[i]}, expected ${expected.values[i]}`;
  }
  for (let i = 0; i < expected.bytes.length; i++) {
    if (!Buffer.from(got.bytes[i]!).equals(Buffer.from(expected.bytes[i]!))) return `region ${i} differs`;
  }
  return undefined;
}
