/**
 * Inline execution on sdxi (docs/performance.md): work its CPU path runs (execution path
 * "software": fill, compare, CRC-32C) takes the same decision as soft and cxl and runs on the JS
 * thread through the host engine; work for the function never does. Property: random host batches
 * under 'auto', 'always' and 'never' leave the bytes and results the TypeScript oracle does.
 */
import { crc32c, soft } from '@datamover/backend-soft';
import { addBatchOp, BATCH_REGION_SIZES as SIZES, batchOps, outcomeDifference, type BatchOp } from '@datamover/conformance/fuzz';
import { CONSERVATIVE_COSTS, Mover, type Backend, type InlineMode } from '@datamover/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sdxi } from '../src/index.js';

const hostRegion = fc.integer({ min: 0, max: SIZES.length - 1 });
/** The CPU path's operations and NOPs: batches of only these can run inline. */
const cpuOpArb = batchOps(hostRegion, ['fill', 'compare', 'crc32c', 'nop']);
const anyOpArb = batchOps(hostRegion);

/** Bytes 0, 1, 2, … offset by `seed`. */
function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);
}

async function run(backend: Backend, ops: BatchOp[], inline?: InlineMode): Promise<{ bytes: Uint8Array[]; values: number[]; planned: string | undefined; inline: number; offloaded: number }> {
  const m = await Mover.open({ backends: [backend], ...(inline ? { inline } : {}) });
  try {
    const bytes = SIZES.map((n, i) => pattern(n, i + 11));
    const regions = bytes.map((b) => m.wrap(b));
    const batch = m.batch();
    for (const o of ops) addBatchOp(batch, regions, o);
    const planned = batch.explain()[0]?.path;
    const result = await batch.submit();
    const s = m.stats().backends[0]!;
    return { bytes, values: Array.from({ length: batch.length }, (_, i) => result.value(i)), planned, inline: s.inlineBatches, offloaded: s.offloadedBatches };
  } finally {
    await m.close();
  }
}

describe('sdxi inline execution', () => {
  it("runs CPU-path work inline through the host engine, and the function's never", async () => {
    const m = await Mover.open({ backends: [sdxi({ executionPath: 'software' })], inline: 'always' });
    try {
      // Its completions come back on this thread, so its hand-off is not timed by spinning.
      expect(m.stats().backends[0]!.inlineModel).toMatchObject({ ...CONSERVATIVE_COSTS, source: 'conservative', calibrationMs: 0 });
      const bytes = pattern(4096, 3);
      const a = m.wrap(bytes);
      const batch = m.batch().fill(a, 7, { length: 100 }).crc32c(a);
      expect(batch.explain()[0]).toMatchObject({ backend: 'sdxi', path: 'inline', mode: 'always', descriptors: 2 });
      const result = await batch.submit();
      const expected = pattern(4096, 3).fill(7, 0, 100);
      expect(bytes).toEqual(expected);
      expect(result.value(1)).toBe(crc32c(expected));
      const copy = m.batch().fill(a, 1).copy(m.wrap(new Uint8Array(64)), a, { length: 64 });
      expect(copy.explain()[0]).toMatchObject({ path: 'engine', reason: 'the engine runs an operation of this work off the CPU (on its device)' });
      await copy.submit();
      expect(bytes.every((x) => x === 1)).toBe(true);
      const s = m.stats().backends[0]!;
      expect([s.inlineBatches, s.offloadedBatches]).toEqual([1, 1]);
    } finally {
      await m.close();
    }
  });

  it('keeps vendor operations on the function under execution path "auto"', async () => {
    const m = await Mover.open({ backends: [sdxi()], inline: 'always' });
    try {
      expect(m.batch().fill(m.wrap(new Uint8Array(64)), 1).explain()[0]).toMatchObject({ path: 'engine' });
    } finally {
      await m.close();
    }
  });

  it('agrees with the TypeScript oracle on random batches run inline, offloaded and as the policy decides', async () => {
    const paths = { always: 0, never: 0 };
    let batches = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(cpuOpArb, { minLength: 1, maxLength: 12 }), fc.array(anyOpArb, { minLength: 1, maxLength: 30 })), async (ops) => {
        const oracle = await run(soft({ engine: 'ts' }), ops);
        if (oracle.values.length === 0) return; // every operation was refused (overlap): no batch
        batches++;
        for (const mode of ['auto', 'always', 'never'] as const) {
          const got = await run(sdxi({ executionPath: 'software' }), ops, mode);
          expect(outcomeDifference(got, oracle)).toBeUndefined();
          // The path taken is the one explain() gave: an inline run never fell back.
          expect(got.inline).toBe(got.planned === 'inline' ? 1 : 0);
          if (mode === 'always') paths.always += got.inline;
          if (mode === 'never') paths.never += got.offloaded;
        }
      }),
      { numRuns: 40 },
    );
    // 'never' offloaded every batch; 'always' ran some inline (CPU-only batches well below the bound).
    expect(paths.never).toBe(batches);
    expect(paths.always).toBeGreaterThan(0);
  });
});
