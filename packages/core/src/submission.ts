/**
 * Submission: turns a batch into work on the engine sessions it is routed to — registering its
 * regions with them first, pinning the regions, splitting it into segments across engines, keeping
 * cancellation (signal, timeout, deadline) and the failure rule — and settles it into a
 * BatchResult or the error that carries one.
 */
import { StatusCode, type BatchResult } from './batch-result.js';
import type { Batch, BatchPath, SubmitOptions } from './batch.js';
import { OPCODE_BITS } from './descriptor/schema.js';
import { datamoverError, engineError, ErrorCode, type CancelledError, type DatamoverError } from './errors.js';
import { checkInlineMode } from './inline.js';
import { isHostMemory } from './memory.js';
import type { Router } from './router.js';
import type { Session } from './session.js';
import { Work } from './submitter.js';

const FENCE = 1 << OPCODE_BITS.fence;

type Cancel = (code: Cancelled['code'], reason: unknown) => void;

export class Submission {
  #registrationMs = 0;
  #batches = 0;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Cancel functions of the batches in flight. */
  readonly #active = new Set<Cancel>();

  constructor(
    readonly sessions: readonly Session[],
    readonly router: Router,
  ) {}

  /** Batches submitted. */
  get batches(): number {
    return this.#batches;
  }
  /** Time spent registering regions with engines, ms. */
  get registrationMs(): number {
    return this.#registrationMs;
  }

  /** Cancels every batch in flight (close({ abort: true })). */
  abortAll(reason: unknown): void {
    for (const stop of this.#active) stop('ABORTED', reason);
  }

  /** Settles once every batch in flight has. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Runs `batch`. A batch on one engine session whose work settled inside this call (it ran
   * inline) returns its BatchResult — or throws its error — at once, with no Promise made on the
   * way; anything still running returns a Promise.
   */
  submit(batch: Batch, options: SubmitOptions): BatchResult | Promise<BatchResult> {
    checkSubmitOptions(options);
    const { signal, timeout, deadline, stopOnError = false } = options;
    const inline = checkInlineMode(options.inline, 'inline');
    const result = batch.newResult();
    if (signal?.aborted) {
      for (let i = 0; i < batch.length; i++) result.record(i, StatusCode.notRun, 0);
      throw cancelled('ABORTED', 'aborted before submission', result, signal.reason);
    }
    // Every region must still be usable now; then pin them until the batch settles.
    for (const reg of batch.regs) {
      if (reg.releasing || reg.freed) throw datamoverError(ErrorCode.REGION_RELEASED, 'a region of this batch was released after the descriptor was added');
      if (isHostMemory(reg.memory) && reg.memory.view.byteLength !== reg.length) throw datamoverError(ErrorCode.DETACHED_BUFFER, 'the ArrayBuffer behind a region of this batch was detached');
    }
    for (const s of batch.sessions) this.#ensureRegistered(this.sessions[s]!, batch);
    for (const reg of batch.regs) reg.inFlight++;
    this.#batches++;
    this.router.countFallbacks(batch.sessions);

    const works: Work[] = [];
    const enqueue = (segment: readonly number[]): void => {
      for (const s of batch.sessions) {
        const idx = batch.sessions.size === 1 && segment === ALL ? null : Int32Array.from(indexesFor(batch, segment, s));
        const work = new Work(batch, result, idx, stopOnError, this.sessions[s]!.submitter);
        works.push(work);
        work.sub.enqueue(work, inline);
      }
    };
    const unpin = () => {
      for (const reg of batch.regs) reg.settle();
    };
    if (signal === undefined && timeout === undefined && deadline === undefined && batch.sessions.size === 1) {
      // Nothing can cancel this work but close({ abort: true }): when it ran inline it has
      // settled already, and neither a cancel hook nor a Promise is needed.
      try {
        enqueue(ALL);
      } catch (e) {
        unpin(); // as the async path's finally does
        throw e;
      }
      if (works[0]!.finished) {
        unpin();
        return verdict(batch, result, works, undefined);
      }
    }

    let cancel: Cancelled | undefined;
    const stop = (code: 'ABORTED' | 'DEADLINE_EXCEEDED', reason: unknown) => {
      if (cancel) return;
      cancel = { code, reason };
      for (const work of works) work.sub.cancel(work);
    };
    const onAbort = () => stop('ABORTED', signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const ms = Math.min(timeout ?? Infinity, deadline === undefined ? Infinity : deadline - Date.now());
    // A deadline already past cancels before anything is queued, as an aborted signal does.
    if (ms <= 0) stop('DEADLINE_EXCEEDED', undefined);
    const timer = Number.isFinite(ms) && ms > 0 ? setTimeout(() => stop('DEADLINE_EXCEEDED', undefined), ms) : undefined;
    this.#active.add(stop);

    const run = (async () => {
      try {
        if (works.length > 0) await works[0]!.settled; // the one-session work enqueued above
        else
          for (let segment of segments(batch, batch.sessions.size > 1, stopOnError)) {
            if (cancel) {
              for (const d of segment === ALL ? range(batch.length) : segment) result.record(d, StatusCode.notRun, 0);
              continue;
            }
            // The failure rule across engines (each engine keeps it on its own ring): after a failure
            // in an earlier segment, the fenced descriptor that begins this one is held back, and with
            // stopOnError all of it.
            if (result.counts.failed > 0) {
              const held = stopOnError ? segment : fenced(batch, segment[0]!) ? segment.slice(0, 1) : [];
              for (const d of held) result.record(d, StatusCode.heldBack, 0);
              segment = segment.slice(held.length);
              if (segment.length === 0) continue;
            }
            const first = works.length;
            enqueue(segment);
            await Promise.all(works.slice(first).map((w) => w.settled));
          }
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#active.delete(stop);
        unpin();
      }
      return verdict(batch, result, works, cancel);
    })();
    this.#inFlight.add(run);
    void run.then(
      () => this.#inFlight.delete(run),
      () => this.#inFlight.delete(run),
    );
    return run;
  }

  /** Batch.explain(): the path each session's part of `batch` would take now. */
  explain(batch: Batch, options: Pick<SubmitOptions, 'inline'>): BatchPath[] {
    const mode = checkInlineMode(options.inline, 'inline');
    return [...batch.sessions].map((s) => {
      const session = this.sessions[s]!;
      const idx = batch.sessions.size === 1 ? null : Int32Array.from(indexesFor(batch, ALL, s));
      return { backend: session.backend.name, ...session.submitter.decide({ batch, count: idx ? idx.length : batch.length, descriptor: (k) => (idx ? idx[k]! : k) }, mode) };
    });
  }

  #ensureRegistered(session: Session, batch: Batch): void {
    for (const reg of batch.regs) {
      // A backend learns only regions of kinds it claims (a gpu region means nothing to soft).
      if (session.registered.has(reg) || !session.kinds.has(reg.space.kind)) continue;
      if (session.registered.size >= session.caps.maxRegions) {
        throw datamoverError(ErrorCode.TOO_MANY_REGIONS, `backend ${session.backend.name} holds at most ${session.caps.maxRegions} regions at once`);
      }
      const t0 = performance.now();
      engineCall(session.backend.name, 'register', () => session.engine.register({ index: reg.index, memory: reg.memory, length: reg.length, writable: reg.writable }));
      this.#registrationMs += performance.now() - t0;
      session.registered.add(reg);
    }
  }
}

type Cancelled = { code: 'ABORTED' | 'DEADLINE_EXCEEDED'; reason: unknown };

/** A settled batch's outcome: its result when every descriptor ran whole; anything else throws the report. */
function verdict(batch: Batch, result: BatchResult, works: readonly Work[], cancel: Cancelled | undefined): BatchResult {
  if (result.ok) return result; // every descriptor ran whole (without making the counts object)
  const counts = result.counts;
  if (counts.failed > 0) {
    const first = result.firstError();
    throw withResult(datamoverError(ErrorCode.BATCH_FAILED, `${counts.failed} of ${batch.length} descriptors failed${first ? `; first: ${first.message}` : ''}`, { cause: first }), result);
  }
  if (!cancel) {
    // Nothing cancelled, yet work did not run (the engine refused a doorbell, or skipped
    // descriptors on its own): an engine fault, never a success.
    const e = works.find((w) => w.error)?.error ?? datamoverError(ErrorCode.DEVICE_ERROR, `backend skipped ${counts.notRun} descriptor(s) that nobody cancelled`);
    throw withResult(datamoverError(ErrorCode.BATCH_FAILED, `${counts.notRun} of ${batch.length} descriptors did not run: ${e.message}`, { cause: e }), result);
  }
  throw cancelled(cancel.code, `${cancel.code === 'ABORTED' ? 'aborted' : 'deadline exceeded'}: ${counts.done} of ${batch.length} descriptors ran, ${counts.notRun} did not`, result, cancel.reason);
}

/** Throws INVALID_ARGUMENT unless the cancellation and failure options have their types (a batch's submit, a transfer). */
export function checkSubmitOptions(options: SubmitOptions): void {
  const { signal, timeout, deadline, stopOnError } = options;
  if (stopOnError !== undefined && typeof stopOnError !== 'boolean') throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'stopOnError must be a boolean');
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'signal must be an AbortSignal');
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'timeout must be a non-negative number of milliseconds');
  if (deadline !== undefined && (typeof deadline !== 'number' || Number.isNaN(deadline))) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'deadline must be a time in milliseconds since the epoch');
}

/** Runs an engine call; anything it throws becomes a DatamoverError (DEVICE_ERROR if it is none). */
function engineCall<T>(backend: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw engineError(backend, what, e);
  }
}

function cancelled(code: 'ABORTED' | 'DEADLINE_EXCEEDED', message: string, result: BatchResult, cause: unknown): CancelledError {
  return withResult(datamoverError(code, message, cause === undefined ? undefined : { cause }), result) as CancelledError;
}

function withResult(e: DatamoverError, result: BatchResult): DatamoverError {
  e.result = result;
  return e;
}

/** Marker for "the whole batch in one segment". */
const ALL: readonly number[] = [];

/**
 * Splits a batch at fences when it spans several sessions: each engine honours fences on its
 * own ring, but ordering across engines needs the Mover to wait between segments. With
 * stopOnError also where the session changes, so no engine starts a descriptor before the
 * outcome of every earlier one is known.
 */
function* segments(batch: Batch, multi: boolean, stopOnError: boolean): Iterable<readonly number[]> {
  if (!multi) {
    yield ALL;
    return;
  }
  let seg: number[] = [];
  for (let d = 0; d < batch.length; d++) {
    const split = fenced(batch, d) || (stopOnError && d > 0 && batch.route[d] !== batch.route[d - 1]);
    if (split && seg.length > 0) {
      yield seg;
      seg = [];
    }
    seg.push(d);
  }
  if (seg.length > 0) yield seg;
}

function fenced(batch: Batch, d: number): boolean {
  return (batch.words[d * 16]! & FENCE) !== 0;
}

function* range(n: number): Iterable<number> {
  for (let i = 0; i < n; i++) yield i;
}

function* indexesFor(batch: Batch, segment: readonly number[], session: number): Iterable<number> {
  if (segment === ALL) {
    for (let d = 0; d < batch.length; d++) if (batch.route[d] === session) yield d;
  } else for (const d of segment) if (batch.route[d] === session) yield d;
}
