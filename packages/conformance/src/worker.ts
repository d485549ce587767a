/**
 * Worker-thread side of the multi-producer cases (internal to the suite).
 *
 * - `produce`: the worker is a producer feeding the main thread's one Mover: it sends batches of
 *   copy requests (source offset, destination offset, length) into its own area of a shared
 *   destination and checks the bytes there once the main thread reports them done.
 * - `own-mover`: the worker opens its own Mover on the backend (built from the target's worker
 *   factory spec), wraps the same SharedArrayBuffers, runs its batches and checks its area.
 *
 * Either way it posts back every request it made, so the main thread can check the whole
 * destination afterwards.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { Mover, type Backend } from '@datamover/core';
import { Rng } from './data.js';

export interface WorkerJob {
  readonly mode: 'produce' | 'own-mover';
  readonly producer: number;
  readonly rounds: number;
  readonly perRound: number;
  readonly areaStart: number;
  readonly areaEnd: number;
  readonly src: SharedArrayBuffer;
  readonly dst: SharedArrayBuffer;
  readonly seed: number;
  readonly spec?: { module: string; export: string; args?: readonly unknown[] };
}

export type WorkerMessage =
  | { type: 'batch'; round: number; items: Int32Array }
  | { type: 'done'; items: Int32Array; checked: number; mismatches: string[]; batches: number }
  | { type: 'error'; message: string };

/** Requests of one round: triplets (srcOffset, dstOffset, length), packed from `cursor` on. */
export function planRound(rng: Rng, count: number, cursor: number, areaEnd: number, srcLength: number): { items: Int32Array; cursor: number } {
  const items: number[] = [];
  for (let k = 0; k < count; k++) {
    const len = rng.int(1, 4097);
    if (cursor + len > areaEnd) break;
    items.push(rng.int(0, srcLength - len), cursor, len);
    cursor += len + rng.int(0, 3); // sometimes a gap that must stay untouched
  }
  return { items: Int32Array.from(items), cursor };
}

/** Checks that every request of `items` landed; returns messages for the first mismatches. */
export function checkItems(src: Uint8Array, dst: Uint8Array, items: Int32Array, limit = 5): string[] {
  const out: string[] = [];
  for (let k = 0; k < items.length; k += 3) {
    const s = items[k]!;
    const d = items[k + 1]!;
    const n = items[k + 2]!;
    if (!Buffer.from(dst.buffer, dst.byteOffset + d, n).equals(Buffer.from(src.buffer, src.byteOffset + s, n))) {
      out.push(`request (src ${s}, dst ${d}, ${n} B) did not land`);
      if (out.length >= limit) break;
    }
  }
  return out;
}

async function loadBackend(spec: NonNullable<WorkerJob['spec']>): Promise<Backend> {
  const specifier = isAbsolute(spec.module) ? pathToFileURL(spec.module).href : spec.module;
  const mod = (await import(specifier)) as Record<string, unknown>;
  const factory = mod[spec.export];
  if (typeof factory !== 'function') throw new Error(`${spec.module} has no exported function ${spec.export}`);
  return (factory as (...a: unknown[]) => Backend)(...(spec.args ?? []));
}

async function main(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  const rng = new Rng(job.seed);
  const src = new Uint8Array(job.src);
  const dst = new Uint8Array(job.dst);
  const all: number[] = [];
  let cursor = job.areaStart;
  let batches = 0;
  if (job.mode === 'produce') {
    const replies = new Map<number, () => void>();
    port.on('message', (m: { type: 'result'; round: number }) => replies.get(m.round)?.());
    const waits: Promise<void>[] = [];
    for (let r = 0; r < job.rounds; r++) {
      const plan = planRound(rng, job.perRound, cursor, job.areaEnd, src.length);
      cursor = plan.cursor;
      all.push(...plan.items);
      waits.push(new Promise<void>((resolve) => replies.set(r, resolve)));
      port.postMessage({ type: 'batch', round: r, items: plan.items } satisfies WorkerMessage);
      batches++;
      if (rng.next() < 0.5) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(waits);
  } else {
    const m = await Mover.open({ backends: [await loadBackend(job.spec!)] });
    try {
      const s = m.wrap(job.src, { readOnly: true });
      const d = m.wrap(job.dst);
      let inFlight: Promise<unknown>[] = [];
      for (let r = 0; r < job.rounds; r++) {
        const plan = planRound(rng, job.perRound, cursor, job.areaEnd, src.length);
        cursor = plan.cursor;
        all.push(...plan.items);
        const b = m.batch();
        for (let k = 0; k < plan.items.length; k += 3) b.copy(d, s, { srcOffset: plan.items[k]!, dstOffset: plan.items[k + 1]!, length: plan.items[k + 2]! });
        inFlight.push(
          b.submit().then((res) => {
            if (!res.ok) throw new Error(`round ${r}: ${JSON.stringify(res.counts)}`);
          }),
        );
        batches++;
        if (inFlight.length >= 3) {
          await Promise.all(inFlight);
          inFlight = [];
        }
      }
      await Promise.all(inFlight);
    } finally {
      await m.close();
    }
  }
  const items = Int32Array.from(all);
  port.postMessage({ type: 'done', items, checked: items.length / 3, mismatches: checkItems(src, dst, items), batches } satisfies WorkerMessage);
}

if (parentPort && workerData && (workerData as { conformanceJob?: WorkerJob }).conformanceJob) {
  main((workerData as { conformanceJob: WorkerJob }).conformanceJob).catch((e: unknown) => {
    parentPort!.postMessage({ type: 'error', message: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) } satisfies WorkerMessage);
  });
}
