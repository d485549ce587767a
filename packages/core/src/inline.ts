/**
 * The execution-path policy (docs/performance.md): whether a batch's work on one engine session
 * runs inline, synchronously on the JS thread inside submit() through the engine's own executor
 * (EngineSession.runInline), or is handed to the engine's thread through the ring. The decision
 * is a cost model whose constants are measured when the session opens.
 */
import { datamoverError, ErrorCode } from './errors.js';

/** 'auto': inline when the work costs less than the hand-off; 'always': inline whenever within the bound; 'never': always the engine. */
export type InlineMode = 'auto' | 'always' | 'never';

const MODES: readonly InlineMode[] = ['auto', 'always', 'never'];

/** An inline run never holds the JS thread longer than this (by the estimate): larger work always goes to the engine. */
export const INLINE_BOUND_NS = 500_000;

/** The costs the decision weighs, in nanoseconds. */
export interface InlineCosts {
  /** An offloaded descriptor's round trip to the engine thread and back (doorbell, wake-up, completion), measured on a NOP. */
  readonly handoffNs: number;
  /** One descriptor settled inline, apart from its bytes (claim, checks, completion block, result handling), measured on NOPs. */
  readonly perDescriptorNs: number;
  /** One byte moved by a CPU copy on this thread. */
  readonly perByteNs: number;
}

/** A session's costs and where they came from (packages/core/src/calibration.ts). */
export interface InlineModel extends InlineCosts {
  /**
   * 'measured' on the engine; 'conservative' when that measurement ran past its deadline
   * (CONSERVATIVE_COSTS); given by the 'option' or the 'environment' (DATAMOVER_INLINE_MODEL).
   */
  readonly source: 'measured' | 'conservative' | 'option' | 'environment';
  /** Reused from this process's earlier open of the backend instead of measured again. */
  readonly cached: boolean;
  /** Time measuring held the JS thread at this open, ms (0 when given or cached). */
  readonly calibrationMs: number;
}

/** Which path a batch's work on one session takes, and why. */
export interface PathDecision {
  readonly path: 'inline' | 'engine';
  readonly mode: InlineMode;
  readonly reason: string;
  readonly descriptors: number;
  /** Bytes the descriptors move or read (0 for NOPs and write-immediates). */
  readonly bytes: number;
  /** The model's estimate of the inline run, ns (0 when the model does not apply). */
  readonly estimateNs: number;
  /** The estimate must not exceed this to run inline: the hand-off (auto) or the bound (always). */
  readonly thresholdNs: number;
  /** Where the model the decision used came from; undefined when the engine has no inline path. */
  readonly modelSource: InlineModel['source'] | undefined;
}

/** What the decision sees of the work and its session. */
export interface WorkShape {
  readonly descriptors: number;
  readonly bytes: number;
  /** Every region the work names is host memory (file I/O and device memory never run inline). */
  readonly hostOnly: boolean;
  /** The engine can run every operation of the work inline (EngineSession.runsInline). */
  readonly inlineOps: boolean;
  /** Earlier work is queued or in flight on the session's ring. */
  readonly ringBusy: boolean;
  readonly ringEntries: number;
}

export function checkInlineMode(value: unknown, where: string): InlineMode | undefined {
  if (value === undefined) return undefined;
  if (!MODES.includes(value as InlineMode)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${where} must be 'auto', 'always' or 'never'`);
  return value as InlineMode;
}

/** The mode a Mover uses without an `inline` option: DATAMOVER_INLINE, else 'auto'. */
export function defaultInlineMode(): InlineMode {
  const env = process.env.DATAMOVER_INLINE;
  return checkInlineMode(env === '' ? undefined : env, 'DATAMOVER_INLINE') ?? 'auto';
}

/** The path for `work` under `mode`; `model` undefined when the engine has no inline path. */
export function decidePath(mode: InlineMode, model: InlineModel | undefined, work: WorkShape): PathDecision {
  const base = { mode, descriptors: work.descriptors, bytes: work.bytes, modelSource: model?.source };
  const engine = (reason: string, estimateNs = 0, thresholdNs = 0): PathDecision => ({ path: 'engine', reason, estimateNs, thresholdNs, ...base });
  if (mode === 'never') return engine("inline: 'never'");
  if (!model) return engine('the engine has no inline path');
  if (!work.hostOnly) return engine('a region is not host memory: file I/O and device memory never run on the JS thread');
  if (!work.inlineOps) return engine('the engine runs an operation of this work off the CPU (on its device)');
  if (work.descriptors > work.ringEntries) return engine('more descriptors than ring slots');
  const estimateNs = work.descriptors * model.perDescriptorNs + work.bytes * model.perByteNs;
  if (estimateNs > INLINE_BOUND_NS) return engine(`estimate above the ${INLINE_BOUND_NS / 1e6} ms bound on the JS thread`, estimateNs, INLINE_BOUND_NS);
  const thresholdNs = mode === 'auto' ? Math.min(model.handoffNs, INLINE_BOUND_NS) : INLINE_BOUND_NS;
  if (estimateNs > thresholdNs) return engine('the work costs more than the hand-off to the engine', estimateNs, thresholdNs);
  if (work.ringBusy) return engine('earlier work is in flight on this ring (it runs first, on the engine)', estimateNs, thresholdNs);
  return { path: 'inline', reason: mode === 'auto' ? 'the hand-off to the engine costs more than the work' : "inline: 'always', within the bound", estimateNs, thresholdNs, ...base };
}

let copyNsPerByte: number | undefined;

/** ns per byte of a 1 MiB CPU copy on this thread (measured once per process: the memory system's, not a session's). */
export function measuredCopyNsPerByte(): number {
  if (copyNsPerByte !== undefined) return copyNsPerByte;
  const n = 1 << 20;
  const buf = new Uint8Array(2 * n);
  let best = Infinity;
  for (let k = 0; k < 5; k++) {
    const t0 = performance.now();
    buf.copyWithin(k % 2 === 0 ? 0 : n, k % 2 === 0 ? n : 0, (k % 2 === 0 ? n : 0) + n);
    best = Math.min(best, performance.now() - t0);
  }
  // A floor of 0.01 ns/B (100 GB/s) guards against a zero reading from a coarse clock.
  copyNsPerByte = Math.max((best * 1e6) / n, 0.01);
  return copyNsPerByte;
}
