/**
 * The cuFile batch API's limits, and which descriptors the engine gathers into one batch. Pure;
 * native/engine.cc (Engine::tryBatch) and native/executor.cc (eligible / hazard) apply the same
 * rules to the descriptors ready on the ring.
 *
 * Limits (sources in docs/gds.md):
 * - entries per batch: cuFileBatchIOSetUp takes `max_nr` "between 1 and properties.io_batch_size"
 *   (cuFile API Reference §5.5.1); `profile:io_batchsize` defaults to 128 (GDS Configuration
 *   Guide, cufile.json parameters). Read at run time from cuFileGetParameterSizeT(
 *   CUFILE_PARAM_PROPERTIES_IO_BATCHSIZE) (cuFile >= 1.14), else CUfileDrvProps_t.max_batch_io_size,
 *   else 128.
 * - bytes per entry: "for any batch I/O size bigger than the bounce buffer size
 *   (properties.per_buffer_cache_size_kb), cuFile uses compatible mode" (§4.7) — so larger entries
 *   are not batched (they go through cuFileRead/cuFileWrite, split across the I/O pool instead).
 *   Read from CUfileDrvProps_t.per_buffer_cache_size (KiB), else 1024 KiB.
 * - entries of one batch may complete in any order (§5.5.2): a batch never holds two entries
 *   touching the same bytes, and a fenced descriptor starts a new batch.
 */
import { GDS_ALIGNMENT } from './alignment.js';

/** profile:io_batchsize default (GDS Configuration Guide). */
export const DEFAULT_BATCH_ENTRIES = 128;
/** Fallback bytes per batch entry when cuFile does not report per_buffer_cache_size. */
export const DEFAULT_BATCH_ENTRY_BYTES = 1024 * 1024;
/** A batch of fewer entries than this runs as single transfers (a batch of one buys nothing). */
export const DEFAULT_BATCH_MIN = 2;
/** Sanity ceiling on whatever the library reports. */
export const MAX_BATCH_ENTRIES = 4096;

export interface BatchLimits {
  readonly maxEntries: number;
  readonly minEntries: number;
  readonly maxEntryBytes: number;
  /** Where maxEntries came from. */
  readonly source: 'parameter' | 'properties' | 'default' | 'option';
}

/** What the probe found (all optional: older cuFile reports less). */
export interface BatchInputs {
  /** cuFileGetParameterSizeT(CUFILE_PARAM_PROPERTIES_IO_BATCHSIZE). */
  readonly ioBatchSize?: number | undefined;
  /** CUfileDrvProps_t.max_batch_io_size. */
  readonly maxBatchIoSize?: number | undefined;
  /** CUfileDrvProps_t.per_buffer_cache_size (KiB). */
  readonly perBufferCacheKiB?: number | undefined;
  /** The user's gds({ batch: { maxEntries } }). */
  readonly requestedMax?: number | undefined;
  readonly requestedMin?: number | undefined;
}

const positive = (n: number | undefined): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;

export function resolveBatchLimits(inputs: BatchInputs = {}): BatchLimits {
  let maxEntries = DEFAULT_BATCH_ENTRIES;
  let source: BatchLimits['source'] = 'default';
  if (positive(inputs.ioBatchSize)) {
    maxEntries = inputs.ioBatchSize;
    source = 'parameter';
  } else if (positive(inputs.maxBatchIoSize)) {
    maxEntries = inputs.maxBatchIoSize;
    source = 'properties';
  }
  maxEntries = Math.min(maxEntries, MAX_BATCH_ENTRIES);
  if (positive(inputs.requestedMax) && inputs.requestedMax < maxEntries) {
    maxEntries = inputs.requestedMax;
    source = 'option';
  }
  const minEntries = Math.min(Math.max(positive(inputs.requestedMin) ? inputs.requestedMin : DEFAULT_BATCH_MIN, 1), maxEntries);
  const maxEntryBytes = positive(inputs.perBufferCacheKiB) ? inputs.perBufferCacheKiB * 1024 : DEFAULT_BATCH_ENTRY_BYTES;
  return { maxEntries, minEntries, maxEntryBytes, source };
}

/** One ready copy descriptor as the batcher sees it. */
export interface BatchCandidate {
  /** File <-> GPU copy through a cuFile handle, all of it aligned (alignment.ts says 'none'). */
  readonly eligible: boolean;
  readonly fence: boolean;
  readonly length: number;
  /** Identity of the file (dev:ino) and the absolute byte range in it. */
  readonly file: string;
  readonly fileOffset: number;
  readonly device: number;
  /** Absolute GPU address of the first byte (a bigint in the engine; any comparable number here). */
  readonly gpuAddress: number;
}

/** Whether `c` may join `group` (same device, no overlapping bytes on either side). */
export function conflicts(c: BatchCandidate, group: readonly BatchCandidate[]): boolean {
  const overlap = (x: number, n: number, y: number, m: number) => x < y + m && y < x + n;
  return group.some(
    (g) =>
      g.device !== c.device ||
      overlap(c.gpuAddress, c.length, g.gpuAddress, g.length) ||
      (g.file === c.file && overlap(c.fileOffset, c.length, g.fileOffset, g.length)),
  );
}

/**
 * How the engine splits a run of ready descriptors: each element is either a batch (indexes given
 * to one cuFileBatchIOSubmit) or a single descriptor. A batch starts at any descriptor, grows with
 * the following ones while they are eligible, unfenced, fit the entry limit, do not conflict and
 * the batch is not full; a batch smaller than `minEntries` runs as singles.
 */
export function planBatches(cands: readonly BatchCandidate[], limits: BatchLimits): ({ batch: number[] } | { single: number })[] {
  const out: ({ batch: number[] } | { single: number })[] = [];
  let i = 0;
  while (i < cands.length) {
    const group: number[] = [];
    for (let j = i; j < cands.length && group.length < limits.maxEntries; j++) {
      const c = cands[j]!;
      if (!c.eligible || c.length > limits.maxEntryBytes || (j !== i && c.fence)) break;
      if (conflicts(c, group.map((g) => cands[g]!))) break;
      group.push(j);
    }
    if (group.length >= limits.minEntries) {
      out.push({ batch: group });
      i += group.length;
    } else {
      out.push({ single: i });
      i += 1;
    }
  }
  return out;
}

/** Whether a length can be a batch entry at all (aligned, within the per-entry limit). */
export function fitsBatchEntry(length: number, limits: BatchLimits): boolean {
  return length > 0 && length % GDS_ALIGNMENT === 0 && length <= limits.maxEntryBytes;
}
