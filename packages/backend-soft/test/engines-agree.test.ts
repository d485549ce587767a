/**
 * Property-based: the native engine must do exactly what the TypeScript oracle does, on random
 * batches over host and file regions — same bytes in every region, same result per descriptor —
 * and so on host-only batches under every execution path (inline on the JS thread or on the
 * engine's thread: docs/performance.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatamoverError, type Batch, type InlineMode, type Mover, type Region } from '@datamover/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();
const SIZES = [1, 7, 64, 4095, 4096, 4097, 65_536 + 3];

type Op =
  | { op: 'copy'; dst: number; src: number; a: number; b: number; n: number; fence: boolean }
  | { op: 'fill'; dst: number; a: number; n: number; p: bigint; wide: boolean }
  | { op: 'compare'; x: number; y: number; a: number; b: number; n: number }
  | { op: 'crc32c'; src: number; a: number; n: number; seed: number }
  | { op: 'writeImm'; dst: number; a: number; width: 1 | 2 | 4 | 8; v: bigint }
  | { op: 'nop'; fence: boolean };

const region = fc.integer({ min: 0, max: SIZES.length }); // the last index is the file region
const hostRegion = fc.integer({ min: 0, max: SIZES.length - 1 });
const frac = fc.double({ min: 0, max: 1, noNaN: true });
const opsOver = (region: fc.Arbitrary<number>): fc.Arbitrary<Op> => fc.oneof(
  fc.record({ op: fc.constant('copy' as const), dst: region, src: region, a: frac, b: frac, n: frac, fence: fc.boolean() }).map((o) => o as unknown as Op),
  fc.record({ op: fc.constant('fill' as const), dst: region, a: frac, n: frac, p: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), wide: fc.boolean() }).map((o) => o as unknown as Op),
  fc.record({ op: fc.constant('compare' as const), x: region, y: region, a: frac, b: frac, n: frac }).map((o) => o as unknown as Op),
  fc.record({ op: fc.constant('crc32c' as const), src: region, a: frac, n: frac, seed: fc.integer({ min: 0, max: 0xffff_ffff }) }).map((o) => o as unknown as Op),
  fc.record({ op: fc.constant('writeImm' as const), dst: region, a: frac, width: fc.constantFrom(1, 2, 4, 8) as fc.Arbitrary<1 | 2 | 4 | 8>, v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }).map((o) => o as unknown as Op),
  fc.record({ op: fc.constant('nop' as const), fence: fc.boolean() }).map((o) => o as unknown as Op),
);
const opArb = opsOver(region);
const hostOpArb = opsOver(hostRegion);

/** Turns fractions into a valid range of a region: offset and length both within it. */
function range(r: Region, a: number, n: number, other?: Region, b = 0) {
  const limit = other ? Math.min(r.length, other.length) : r.length;
  const length = Math.floor(n * limit);
  return { off: Math.floor(a * (r.length - length)), length, otherOff: other ? Math.floor(b * (other.length - length)) : 0 };
}

function add(batch: Batch, regions: Region[], o: Op): boolean {
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

interface Outcome {
  bytes: Uint8Array[];
  values: number[];
  /** Batches the native engine ran inline / on its thread. */
  inline: number;
  offloaded: number;
}

async function run(engine: 'ts' | 'native', ops: Op[], tag: string, inline?: InlineMode): Promise<Outcome> {
  const m: Mover = await openSoft(engine, inline ? { inline } : {});
  try {
    const buffers = SIZES.map((n, i) => pattern(n, i + 11));
    const path = join(dir, `${tag}-${engine}.bin`);
    writeFileSync(path, pattern(70_000, 99));
    const regions = [...buffers.map((b) => m.wrap(b)), await m.openFile(path, { mode: 'rw' })];
    const batch = m.batch();
    for (const o of ops) add(batch, regions, o);
    const result = await batch.submit();
    const values = Array.from({ length: batch.length }, (_, i) => result.value(i));
    const s = m.stats().backends[0]!;
    return { bytes: [...buffers, new Uint8Array(readFileSync(path))], values, inline: s.inlineBatches, offloaded: s.offloadedBatches };
  } finally {
    await m.close();
  }
}

describe('native engine agrees with the TypeScript oracle', () => {
  it('on random batches over host and file regions', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const tag = `r${round++}`;
        const oracle = await run('ts', ops, tag);
        const native = await run('native', ops, tag);
        expectSame(native, oracle);
      }),
      { numRuns: 150 },
    );
  });

  it('on random host batches run inline, offloaded and as the policy decides', async () => {
    let round = 0;
    const paths = { always: 0, never: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(hostOpArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const tag = `h${round++}`;
        const oracle = await run('ts', ops, tag);
        for (const mode of ['auto', 'always', 'never'] as const) {
          const native = await run('native', ops, tag, mode);
          expectSame(native, oracle);
          if (mode === 'never') expect(native.inline).toBe(0);
          if (mode !== 'auto') paths[mode] += mode === 'always' ? native.inline : native.offloaded;
        }
      }),
      { numRuns: 60 },
    );
    // Every batch here is far below the bound: 'always' ran each inline, 'never' none.
    expect(paths).toEqual({ always: round, never: round });
  });
});

function expectSame(native: Outcome, oracle: Outcome): void {
  expect(native.values).toEqual(oracle.values);
  for (let i = 0; i < oracle.bytes.length; i++) {
    expect(Buffer.from(native.bytes[i]!).equals(Buffer.from(oracle.bytes[i]!)), `region ${i} differs`).toBe(true);
  }
}
