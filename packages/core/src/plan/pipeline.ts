/**
 * Runs a plan: chunk by chunk, each hop one batch on the hop's backend, staged hops through the
 * pool's buffers. Chunk i uses buffer i mod count, so with two or more buffers hop k+1 of chunk i
 * runs while hop k of chunk i+1 does. A failure or a cancellation stops new chunks; the run settles
 * only once every batch it started has (the buffers are quiescent then).
 */
import type { Batch, SubmitOptions } from '../batch.js';
import { datamoverError, ErrorCode, type DatamoverError } from '../errors.js';
import type { Region } from '../region.js';
import type { Plan } from './plan.js';
import type { RouteHop } from './route.js';
import { TransferResult } from './transfer-result.js';

export interface RunContext {
  /** A batch of room for `descriptors`. */
  batch(descriptors: number): Batch;
  /** A hop ran (whole or not) for `ms` milliseconds. */
  recordHop(plan: Plan, hop: number, ms: number): void;
}

type Cancel = Pick<SubmitOptions, 'signal' | 'deadline'>;

export async function runPlan(plan: Plan, buffers: readonly Region[], cancel: Cancel, ctx: RunContext): Promise<TransferResult> {
  const n = plan.route.hops.length;
  const result = new TransferResult(plan.chunks, n, plan.chunkBytes, plan.length);
  let stop: DatamoverError | undefined;
  const busy: Promise<void>[] = [];

  const runChunk = async (c: number): Promise<void> => {
    const offset = c * plan.chunkBytes;
    const length = Math.min(plan.chunkBytes, plan.length - offset);
    const stage = buffers[c % Math.max(1, buffers.length)];
    let sourceCrc = 0;
    for (let h = 0; h < n && !stop; h++) {
      const hop = plan.route.hops[h]!;
      const first = h === 0;
      const last = h === n - 1;
      const src = first ? plan.srcRegion : stage!;
      const dst = last ? plan.dstRegion : stage!;
      const check = plan.integrity !== 'none';
      const b = ctx.batch(1 + (first && check ? 1 : 0) + (last ? CHECK_DESCRIPTORS[plan.integrity] : 0));
      if (first && check) b.crc32c(src, { offset: plan.srcEnd.offset + offset, length });
      const at = b.length;
      // Routed by policy, which gives each hop's kinds the backend the route chose.
      b.copy(dst, src, { srcOffset: first ? plan.srcEnd.offset + offset : 0, dstOffset: last ? plan.dstEnd.offset + offset : 0, length });
      const dstOffset = plan.dstEnd.offset + offset;
      if (last && plan.integrity === 'engine') b.crc32c(dst, { offset: dstOffset, length, fence: true });
      if (last && plan.integrity === 'read-back') b.copy(stage!, dst, { srcOffset: dstOffset, length, fence: true }).crc32c(stage!, { length, fence: true });
      const t0 = performance.now();
      try {
        const r = await b.submit(cancel);
        if (first && check) sourceCrc = r.value(0);
        if (last && check && r.value(b.length - 1) !== sourceCrc) {
          throw datamoverError(ErrorCode.INTEGRITY_MISMATCH, `transfer chunk ${c} (bytes ${offset}..${offset + length}) landed with crc32c 0x${r.value(b.length - 1).toString(16)}, the source read 0x${sourceCrc.toString(16)}`, {
            detail: { chunk: c, hop: h + 1, backend: hop.backend, expected: sourceCrc, actual: r.value(b.length - 1) },
          });
        }
        result.record(c, h, true);
      } catch (e) {
        const err = failed(result, e, c, h, hop, at);
        stop ??= err; // the first failure is what the transfer rejects with; each hop keeps its own
      } finally {
        ctx.recordHop(plan, h, performance.now() - t0);
      }
    }
  };

  for (let c = 0; c < plan.chunks && !stop; c++) {
    const slot = buffers.length === 0 ? 0 : c % buffers.length;
    if (busy[slot]) await busy[slot]; // the buffer's previous chunk is through every hop
    if (stop) break;
    busy[slot] = runChunk(c);
  }
  await Promise.all(busy);
  if (stop) {
    stop.transfer = result;
    throw stop;
  }
  return result;
}

/**
 * Runs a one-hop transfer: `batch` holds its one copy (the ends checked by the planner). No
 * staging, no chunking, no per-chunk bookkeeping, no clock reads (two cost more than 5% of a small
 * copy on a VM's clock): the copy's own path, and the report made only when the copy fails.
 */
export async function runDirect(batch: Batch, hop: RouteHop, length: number, cancel: Cancel): Promise<TransferResult> {
  try {
    await batch.submit(cancel);
  } catch (e) {
    const result = new TransferResult(1, 1, length, length);
    const err = failed(result, e, 0, 0, hop, 0);
    err.transfer = result;
    throw err;
  }
  return new TransferResult(1, 1, length, length, true);
}

/** Descriptors the landing check adds to the last hop's batch. */
const CHECK_DESCRIPTORS = { none: 0, engine: 1, 'read-back': 2 } as const;

/** Records hop `h` of chunk `c` as failed with `e` (a cancellation leaves it not-run) and returns the error the transfer reports. */
function failed(result: TransferResult, e: unknown, c: number, h: number, hop: RouteHop, copyIndex: number): DatamoverError {
  const err = hopError(e as DatamoverError, c, h, hop.backend, `${hop.src}→${hop.dst}`, copyIndex);
  if (!isCancel(err)) result.record(c, h, false, err);
  return err;
}

function isCancel(e: DatamoverError): boolean {
  return e.code === ErrorCode.ABORTED || e.code === ErrorCode.DEADLINE_EXCEEDED;
}

/** A hop's failure as the transfer reports it: the descriptor's own error, naming the chunk, hop and backend. */
function hopError(e: DatamoverError, chunk: number, hop: number, backend: string, kinds: string, copyIndex: number): DatamoverError {
  if (isCancel(e)) {
    return datamoverError(e.code, `transfer ${e.code === ErrorCode.ABORTED ? 'aborted' : 'deadline exceeded'} at chunk ${chunk}, hop ${hop + 1}`, { cause: e });
  }
  if (e.code === ErrorCode.INTEGRITY_MISMATCH) return e;
  const inner = (e.code === ErrorCode.BATCH_FAILED && (e.result?.error(copyIndex) ?? (e.cause as DatamoverError | undefined))) || e;
  return datamoverError(inner.code ?? ErrorCode.DEVICE_ERROR, `transfer chunk ${chunk}, hop ${hop + 1} (${backend} ${kinds}): ${inner.message}`, { cause: inner, detail: { ...inner.detail, backend, chunk, hop: hop + 1 } });
}
