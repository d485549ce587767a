/**
 * Property-based: the native engine must do exactly what the TypeScript oracle does, on random
 * batches over host and file regions — same bytes in every region, same result per descriptor —
 * and so on host-only batches under every execution path (inline on the JS thread or on the
 * engine's thread: docs/performance.md).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addBatchOp, BATCH_REGION_SIZES as SIZES, batchOps, outcomeDifference, type BatchOp } from '@datamover/conformance/fuzz';
import type { InlineMode, Mover } from '@datamover/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();
const opArb = batchOps(fc.integer({ min: 0, max: SIZES.length })); // the last index is the file region
const hostOpArb = batchOps(fc.integer({ min: 0, max: SIZES.length - 1 }));

interface Outcome {
  bytes: Uint8Array[];
  values: number[];
  /** Batches the native engine ran inline / on its thread. */
  inline: number;
  offloaded: number;
}

async function run(engine: 'ts' | 'native', ops: BatchOp[], tag: string, inline?: InlineMode): Promise<Outcome> {
  const m: Mover = await openSoft(engine, inline ? { inline } : {});
  try {
    const buffers = SIZES.map((n, i) => pattern(n, i + 11));
    const path = join(dir, `${tag}-${engine}.bin`);
    writeFileSync(path, pattern(70_000, 99));
    const regions = [...buffers.map((b) => m.wrap(b)), await m.openFile(path, { mode: 'rw' })];
    const batch = m.batch();
    for (const o of ops) addBatchOp(batch, regions, o);
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
        expect(outcomeDifference(native, oracle)).toBeUndefined();
      }),
      { numRuns: 150 },
    );
  });

  it('on random host batches run inline, offloaded and as the policy decides', async () => {
    let round = 0;
    let batches = 0;
    const paths = { always: 0, never: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(hostOpArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const tag = `h${round++}`;
        const oracle = await run('ts', ops, tag);
        if (oracle.values.length === 0) return; // every operation was refused (overlap): no batch
        batches++;
        for (const mode of ['auto', 'always', 'never'] as const) {
          const native = await run('native', ops, tag, mode);
          expect(outcomeDifference(native, oracle)).toBeUndefined();
          if (mode === 'never') expect(native.inline).toBe(0);
          if (mode !== 'auto') paths[mode] += mode === 'always' ? native.inline : native.offloaded;
        }
      }),
      { numRuns: 60 },
    );
    // Every batch here is far below the bound: 'always' ran each inline, 'never' none.
    expect(paths).toEqual({ always: batches, never: batches });
  });
});
