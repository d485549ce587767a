/**
 * Feeds batches into one engine session's ring and hands completions back. One Submitter per
 * session: it fills free slots from a FIFO of work, commits Write_Index and rings the doorbell
 * once per fill, and on each progress notification consumes finished slots in ring order.
 */
import { constants as osConstants } from 'node:os';
import { BACKEND_STATUS_BASE, type EngineSession } from './backend.js';
import { StatusCode, type BatchResult } from './batch-result.js';
import type { Batch } from './batch.js';
import { OPCODE } from './descriptor/generated.js';
import { OPCODE_BITS } from './descriptor/schema.js';
import { datamoverError, engineError, ErrorCode, type DatamoverError } from './errors.js';
import { inlineModel } from './calibration.js';
import { decidePath, INLINE_BOUND_NS, type InlineCosts, type InlineMode, type InlineModel, type PathDecision } from './inline.js';
import { COMPLETION, CompletionStatus, NOT_RUN_DETAIL } from './ring/layout.js';
import type { Ring } from './ring/ring.js';

const WORDS = 16;
const VALID = 1 << OPCODE_BITS.valid;
const KIND_MASK = 0x07ff_ff00;
const CB_STATUS = COMPLETION.status / 4;
const CB_DETAIL = COMPLETION.detail / 4;
const CB_RESULT = COMPLETION.result / 4;
/** Submissions at most this large to an idle engine are polled for (see #poll). */
const POLL_MAX_DESCRIPTORS = 16;
/** ...and at most this many bytes: a larger move cannot finish within the poll. */
const POLL_MAX_BYTES = 256 * 1024;
const POLL_MS = 0.02;
/** Polled completions settle through microtasks; after this many in a row, let the event loop run. */
const POLL_STREAK = 32;

/** The part of a batch one session runs. */
export class Work {
  next = 0;
  outstanding = 0;
  cancelled = false;
  /** Why the engine refused this work (a failed doorbell), if it did. */
  error: DatamoverError | undefined;
  #settled: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  /** The work tag its descriptors carry (WORK_TAG), given by the Submitter that runs it. */
  tag = 0;

  constructor(
    readonly batch: Batch,
    readonly result: BatchResult,
    /** Descriptor indexes this session runs, in order; null for all of the batch. */
    readonly idx: Int32Array | null,
    /** After a failure, hold back every later descriptor, not only fenced ones. */
    readonly stopOnError: boolean,
    /** The session's Submitter that runs it. */
    readonly sub: Submitter,
  ) {}
  get count(): number {
    return this.idx ? this.idx.length : this.batch.length;
  }
  descriptor(k: number): number {
    return this.idx ? this.idx[k]! : k;
  }
  /** Every descriptor published and settled (or reported not-run). */
  get finished(): boolean {
    return this.outstanding === 0 && this.next === this.count;
  }
  /** Resolves once finished; made only when asked for (work run inline never needs it). */
  get settled(): Promise<void> {
    if (this.#settled) return this.#settled;
    this.#settled = this.finished ? Promise.resolve() : new Promise((r) => (this.#resolve = r));
    return this.#settled;
  }
  /** @internal */
  maybeSettle(): void {
    if (this.#resolve && this.finished) this.#resolve();
  }
}

/** Bytes descriptor word `s` moves or reads: its size field (bytes − 1) + 1, or 0 for nop and writeImm. */
function descriptorBytes(words: Uint32Array, s: number): number {
  const op = words[s]! & KIND_MASK;
  return op === OPCODE.nop || op === OPCODE.writeImm ? 0 : words[s + 1]! + 1;
}

/** Owner of a slot whose descriptor was cancelled and already reported not-run. */
const SKIPPED = Symbol('skipped');

export interface SubmitterStats {
  submitted: number;
  done: number;
  failed: number;
  notRun: number;
  /** Time the JS thread spent handing completions back (all progress calls), ms. */
  completionMs: number;
  /** The longest single progress call, ms: how long completion handling held the event loop at once. */
  completionLongestMs: number;
  /** Works (a batch's part on this session) run inline on the JS thread, and handed to the engine. */
  inlineBatches: number;
  offloadedBatches: number;
  /** The inline cost model, measured at open or given (undefined when the engine has no inline path). */
  inlineModel: InlineModel | undefined;
}

export class Submitter {
  readonly #queue: Work[] = [];
  readonly #owner: (Work | typeof SKIPPED | undefined)[];
  readonly #pos: Int32Array;
  #inFlight = 0;
  #pollStreak = 0;
  /** The last work tag given out: works on one ring are numbered 1 … 2^32 − 1, then round again. */
  #lastTag = 0;
  readonly stats: SubmitterStats;

  constructor(
    readonly ring: Ring,
    readonly session: EngineSession,
    readonly backend: string,
    /** The path policy of works enqueued without a mode of their own. */
    readonly inlineMode: InlineMode = 'auto',
    /** The inline costs given by option or environment, instead of measuring them. */
    costs?: { costs: InlineCosts; source: 'option' | 'environment' },
  ) {
    this.#owner = new Array<Work | typeof SKIPPED | undefined>(ring.entries);
    this.#pos = new Int32Array(ring.entries);
    this.stats = { submitted: 0, done: 0, failed: 0, notRun: 0, completionMs: 0, completionLongestMs: 0, inlineBatches: 0, offloadedBatches: 0, inlineModel: undefined };
    if (session.runInline) {
      this.stats.inlineModel = inlineModel(ring, session, backend, costs);
      // NOPs a measurement cut short left with the engine: retired when it reports them done.
      for (let i = ring.retired; i < ring.writeIndex; i++) this.#owner[i & (ring.entries - 1)] = SKIPPED;
      this.#inFlight = ring.writeIndex - ring.retired;
      if (this.#inFlight > 0) session.hold(true);
    }
  }

  /** Descriptors published and not yet consumed, plus those still queued. */
  get busy(): boolean {
    return this.#inFlight > 0 || this.#queue.length > 0;
  }

  enqueue(work: Work, mode: InlineMode = this.inlineMode): void {
    if (work.count === 0) {
      work.maybeSettle();
      return;
    }
    this.#lastTag = this.#lastTag === 0xffff_ffff ? 1 : this.#lastTag + 1;
    work.tag = this.#lastTag;
    const inline = this.decide(work, mode).path === 'inline';
    this.#queue.push(work);
    this.#pump(inline);
  }

  /** The path `work` would take now under `mode`, and why. */
  decide(work: Pick<Work, 'batch' | 'count' | 'descriptor'>, mode: InlineMode = this.inlineMode): PathDecision {
    const model = this.stats.inlineModel;
    const words = work.batch.words;
    let bytes = 0;
    // Summed only while it could matter: past the bound the work goes to the engine anyway.
    const limit = model ? Math.ceil(INLINE_BOUND_NS / model.perByteNs) : 0;
    const session = this.session;
    let inlineOps = true;
    for (let k = 0; k < work.count && bytes <= limit && inlineOps; k++) {
      const s = work.descriptor(k) * WORDS;
      bytes += descriptorBytes(words, s);
      if (session.runsInline && !session.runsInline(words[s]! & KIND_MASK)) inlineOps = false;
    }
    let hostOnly = true;
    for (const reg of work.batch.regs) if (reg.memory.kind !== 'host') hostOnly = false;
    return decidePath(mode, model, { descriptors: work.count, bytes, hostOnly, inlineOps, ringBusy: this.busy, ringEntries: this.ring.entries });
  }

  /** Called when the engine reports progress. */
  progress(): void {
    const t0 = performance.now();
    this.#progress();
    const ms = performance.now() - t0;
    this.stats.completionMs += ms;
    if (ms > this.stats.completionLongestMs) this.stats.completionLongestMs = ms;
  }

  #progress(): void {
    const ring = this.ring;
    ring.clearNotify();
    const read = ring.readIndex();
    const u32 = ring.u32;
    const mask = ring.entries - 1;
    for (let i = ring.retired; i < read; i++) {
      const work = this.#owner[i & mask]!;
      this.#owner[i & mask] = undefined;
      if (work === SKIPPED) {
        ring.retire(i);
        this.#inFlight--;
        continue;
      }
      const d = this.#pos[i & mask]!;
      const cb = ring.completionWord(i);
      const status = u32[cb + CB_STATUS]!;
      if (status === CompletionStatus.OK) {
        const op = work.batch.words[d * WORDS]! & KIND_MASK;
        let value = 0;
        if (op === OPCODE.crc32c || op === OPCODE.crc32cStrided) value = u32[cb + CB_RESULT]!;
        else if (op === OPCODE.compare || op === OPCODE.compareStrided) value = u32[cb + CB_RESULT + 1] === 0xffff_ffff ? -1 : u32[cb + CB_RESULT]! + u32[cb + CB_RESULT + 1]! * 0x1_0000_0000;
        else if (op === OPCODE.nop) value = work.batch.presets?.get(d) ?? 0;
        work.result.done(d, value);
        this.stats.done++;
      } else if (status === CompletionStatus.NOT_RUN) {
        work.result.record(d, u32[cb + CB_DETAIL] === NOT_RUN_DETAIL.afterFailure ? StatusCode.heldBack : StatusCode.notRun, 0);
        this.stats.notRun++;
      } else {
        work.result.record(d, StatusCode.failed, 0, this.#error(status, u32[cb + CB_DETAIL]! | 0, u32[cb + CB_RESULT]! + u32[cb + CB_RESULT + 1]! * 0x1_0000_0000, d));
        this.stats.failed++;
      }
      ring.retire(i);
      this.#inFlight--;
      work.outstanding--;
      work.maybeSettle();
    }
    this.#pump();
    if (this.#inFlight === 0 && read > 0) this.session.hold(false);
  }

  /**
   * Cancels what of `work` has not run: queued descriptors are reported not-run at once;
   * published ones are claimed away from the engine unless it already took them.
   */
  cancel(work: Work): void {
    if (work.cancelled) return;
    work.cancelled = true;
    for (; work.next < work.count; work.next++) {
      work.result.record(work.descriptor(work.next), StatusCode.notRun, 0);
      this.stats.notRun++;
    }
    const q = this.#queue.indexOf(work);
    if (q >= 0) this.#queue.splice(q, 1);
    // A published descriptor whose claim we win is settled as not-run at once: the engine will
    // skip it. Only those the engine already claimed are awaited.
    const mask = this.ring.entries - 1;
    for (let i = this.ring.retired; i < this.ring.writeIndex; i++) {
      if (this.#owner[i & mask] !== work || !this.ring.cancel(i)) continue;
      this.#owner[i & mask] = SKIPPED;
      work.result.record(this.#pos[i & mask]!, StatusCode.notRun, 0);
      this.stats.notRun++;
      work.outstanding--;
    }
    work.maybeSettle();
  }

  /** With `inline` (the queue held only that work, the ring idle) the engine runs it now on this thread. */
  #pump(inline = false): void {
    const ring = this.ring;
    if (this.#queue.length === 0 || ring.free === 0) return;
    const u32 = ring.u32;
    const mask = ring.entries - 1;
    const wasIdle = this.#inFlight === 0;
    let published = 0;
    let bytes = 0;
    while (this.#queue.length > 0 && ring.free > 0) {
      const work = this.#queue[0]!;
      const src = work.batch.words;
      const n = Math.min(ring.free, work.count - work.next);
      for (let k = 0; k < n; k++) {
        const d = work.descriptor(work.next++);
        const i = ring.writeIndex++;
        const w = ring.slotWord(i);
        const s = d * WORDS;
        ring.arm(i, work.tag, work.stopOnError);
        for (let j = 1; j < 14; j++) u32[w + j] = src[s + j]!;
        bytes += src[s + 1]!; // size − 1 where the operation has a size (0 for nop and writeImm)
        u32[w + 14] = ring.completionOffset(i);
        u32[w + 15] = 0;
        this.#owner[i & mask] = work;
        this.#pos[i & mask] = d;
        ring.publish(i, src[s]! | VALID);
      }
      work.outstanding += n;
      published += n;
      if (work.next === work.count) this.#queue.shift();
    }
    this.#inFlight += published;
    this.stats.submitted += published;
    if (inline && this.#runInline(published)) return;
    ring.commit();
    this.stats.offloadedBatches++;
    if (wasIdle) this.session.hold(true);
    try {
      this.session.doorbell();
    } catch (e) {
      this.#refused(engineError(this.backend, 'doorbell', e), published);
    }
    if (wasIdle && published <= POLL_MAX_DESCRIPTORS && bytes <= POLL_MAX_BYTES && this.session.concurrent) this.#poll();
  }

  /**
   * Runs the `published` slots just written on this thread, then commits Write_Index over them
   * (the engine's thread saw none of them) and settles them. False when the engine's thread held
   * the ring: the caller commits and rings the doorbell as for any offloaded work.
   */
  #runInline(published: number): boolean {
    let settled: number;
    try {
      settled = this.session.runInline!(published);
    } catch (e) {
      this.ring.commit();
      this.#refused(engineError(this.backend, 'runInline', e), published);
      return true;
    }
    if (settled !== published) return false;
    this.ring.commit();
    this.stats.inlineBatches++;
    this.progress();
    return true;
  }

  /**
   * The engine refused the submission: cancel the work this fill published (the last
   * `published` slots) and everything queued, so those batches settle as failed now and nothing
   * runs after they settled.
   */
  #refused(error: DatamoverError, published: number): void {
    const ring = this.ring;
    const mask = ring.entries - 1;
    const works = new Set<Work>(this.#queue);
    for (let i = ring.writeIndex - published; i < ring.writeIndex; i++) {
      const w = this.#owner[i & mask];
      if (w && w !== SKIPPED) works.add(w);
    }
    for (const w of works) {
      w.error ??= error;
      this.cancel(w);
    }
  }

  /**
   * Low-latency path: a few descriptors handed to an idle concurrent engine usually finish in
   * well under a microsecond, while waking this thread through the event loop costs ~10 µs.
   * Spin on Read_Index briefly; past the budget, fall back to the engine's notification.
   */
  #poll(): void {
    // A loop of awaited small operations would otherwise never yield to the event loop.
    if (this.#pollStreak++ === 0) setImmediate(() => (this.#pollStreak = 0));
    if (this.#pollStreak > POLL_STREAK) return;
    const ring = this.ring;
    const target = ring.writeIndex;
    const until = performance.now() + POLL_MS;
    let read = ring.readIndex();
    while (read < target && performance.now() < until) read = ring.readIndex();
    if (read > ring.retired) queueMicrotask(() => this.progress());
  }

  #error(status: number, detail: number, result: number, d: number): DatamoverError {
    const where = `descriptor ${d} on backend ${this.backend}`;
    const info = { backend: this.backend, status };
    if (status >= BACKEND_STATUS_BASE) {
      const own = this.session.describeError?.(status, detail, result);
      if (own) return datamoverError(own.code, `${where}: ${own.message}`, { detail: { ...info, ...own.detail } });
    }
    switch (status) {
      case CompletionStatus.OUT_OF_BOUNDS:
        return datamoverError(ErrorCode.OUT_OF_BOUNDS, `${where}: range outside its registered region`, { detail: info });
      case CompletionStatus.OVERLAP:
        return datamoverError(ErrorCode.OVERLAPPING_RANGES, `${where}: source and destination overlap`, { detail: info });
      case CompletionStatus.NOT_PERSISTENT:
        return datamoverError(ErrorCode.NOT_PERSISTENT, `${where}: the destination is not persistent memory; a durable write cannot be honoured`, { detail: info });
      case CompletionStatus.ACCESS_DENIED:
        return datamoverError(ErrorCode.ACCESS_DENIED, `${where}: destination is read-only`, { detail: info });
      case CompletionStatus.UNSUPPORTED:
        return datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `${where}: the engine cannot run this operation on these regions`, { detail: info });
      case CompletionStatus.IO_ERROR:
        return datamoverError(ErrorCode.IO_ERROR, `${where}: I/O failed: ${errnoName(detail)}`, { detail: { ...info, errno: detail } });
      case CompletionStatus.SHORT_IO:
        return datamoverError(ErrorCode.IO_ERROR, `${where}: end of file after ${result} bytes`, { detail: { ...info, bytesDone: result } });
      default:
        return datamoverError(ErrorCode.DEVICE_ERROR, `${where}: engine rejected the descriptor (status ${status})`, { detail: info });
    }
  }
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === errno) return `${name} (${errno})`;
  return `errno ${errno}`;
}
