/** cuFile batch API limits and the batcher's rules (the engine applies the same). */
import { describe, expect, it } from 'vitest';
import { conflicts, DEFAULT_BATCH_ENTRIES, fitsBatchEntry, MAX_BATCH_ENTRIES, planBatches, resolveBatchLimits, type BatchCandidate } from '../src/batching.js';

describe('batch limits', () => {
  it('default to io_batchsize 128 and 1 MiB entries when cuFile reports nothing', () => {
    expect(DEFAULT_BATCH_ENTRIES).toBe(128);
    expect(resolveBatchLimits()).toEqual({ maxEntries: 128, minEntries: 2, maxEntryBytes: 1 << 20, source: 'default' });
  });

  it('prefer cuFileGetParameterSizeT, then CUfileDrvProps_t.max_batch_io_size; entry bytes from per_buffer_cache_size', () => {
    expect(resolveBatchLimits({ ioBatchSize: 256, maxBatchIoSize: 64, perBufferCacheKiB: 16384 })).toEqual({ maxEntries: 256, minEntries: 2, maxEntryBytes: 16 << 20, source: 'parameter' });
    expect(resolveBatchLimits({ maxBatchIoSize: 64 })).toMatchObject({ maxEntries: 64, source: 'properties' });
    expect(resolveBatchLimits({ ioBatchSize: 0, maxBatchIoSize: 0 })).toMatchObject({ maxEntries: 128, source: 'default' });
  });

  it('the user may lower the maximum but not raise it past cuFile’s; absurd values are capped', () => {
    expect(resolveBatchLimits({ ioBatchSize: 128, requestedMax: 16 })).toMatchObject({ maxEntries: 16, source: 'option' });
    expect(resolveBatchLimits({ ioBatchSize: 128, requestedMax: 1000 })).toMatchObject({ maxEntries: 128, source: 'parameter' });
    expect(resolveBatchLimits({ ioBatchSize: 1e9 }).maxEntries).toBe(MAX_BATCH_ENTRIES);
    expect(resolveBatchLimits({ ioBatchSize: 4, requestedMin: 10 }).minEntries).toBe(4);
  });

  it('an entry must be aligned and within the per-entry limit', () => {
    const l = resolveBatchLimits();
    expect(fitsBatchEntry(4096, l)).toBe(true);
    expect(fitsBatchEntry(1 << 20, l)).toBe(true);
    expect(fitsBatchEntry((1 << 20) + 4096, l)).toBe(false);
    expect(fitsBatchEntry(100, l)).toBe(false);
    expect(fitsBatchEntry(0, l)).toBe(false);
  });
});

const cand = (i: number, over: Partial<BatchCandidate> = {}): BatchCandidate => ({
  eligible: true,
  fence: false,
  length: 65536,
  file: '1:2',
  fileOffset: i * 65536,
  device: 0,
  gpuAddress: 0x10000000 + i * 65536,
  ...over,
});

describe('which descriptors share a batch', () => {
  const limits = resolveBatchLimits({ ioBatchSize: 4 });

  it('a run of independent eligible copies becomes batches of at most maxEntries', () => {
    const plan = planBatches([0, 1, 2, 3, 4, 5].map((i) => cand(i)), limits);
    expect(plan).toEqual([{ batch: [0, 1, 2, 3] }, { batch: [4, 5] }]);
  });

  it('fences, ineligible descriptors and oversized entries end a batch; lone ones run single', () => {
    const plan = planBatches([cand(0), cand(1), cand(2, { fence: true }), cand(3, { eligible: false }), cand(4), cand(5, { length: 2 << 20 }), cand(6)], limits);
    expect(plan).toEqual([{ batch: [0, 1] }, { single: 2 }, { single: 3 }, { single: 4 }, { single: 5 }, { single: 6 }]);
  });

  it('a fenced descriptor may start a batch', () => {
    expect(planBatches([cand(0, { fence: true }), cand(1)], limits)).toEqual([{ batch: [0, 1] }]);
  });

  it('overlapping bytes on either side, or another device, end a batch (entries may complete in any order)', () => {
    expect(conflicts(cand(1), [cand(0)])).toBe(false);
    expect(conflicts(cand(1, { gpuAddress: cand(0).gpuAddress + 4096 }), [cand(0)])).toBe(true);
    expect(conflicts(cand(1, { fileOffset: 4096 }), [cand(0)])).toBe(true);
    expect(conflicts(cand(1, { fileOffset: 4096, file: '1:3' }), [cand(0)])).toBe(false);
    expect(conflicts(cand(1, { device: 1 }), [cand(0)])).toBe(true);
    expect(planBatches([cand(0), cand(1, { fileOffset: 0 }), cand(2)], limits)).toEqual([{ single: 0 }, { batch: [1, 2] }]);
  });

  it('a minimum of one batches everything eligible', () => {
    expect(planBatches([cand(0), cand(1, { eligible: false })], resolveBatchLimits({ requestedMin: 1 }))).toEqual([{ batch: [0] }, { single: 1 }]);
  });
});
