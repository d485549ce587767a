/**
 * The "I'd just use workers" peer: N worker threads copying (or filling) slices of a
 * SharedArrayBuffer with TypedArray.set / fill, started once and coordinated with Atomics only —
 * the main thread bumps a generation counter and waits asynchronously (Atomics.waitAsync) until
 * every worker has counted itself done, so the event loop stays free as it does for a backend.
 */
import { Worker } from 'node:worker_threads';
import { allocSharedPools } from './memory.js';

// Control words (Int32): generation, done count, op (0 copy, 1 fill), size, batch, fill value, stop.
const GEN = 0;
const DONE = 1;
const OP = 2;
const SIZE = 3;
const BATCH = 4;
const VALUE = 5;
const STOP = 6;

export class WorkerPool {
  #ctl;
  #workers;

  constructor(pools, threads) {
    this.pools = pools;
    this.threads = threads;
    this.#ctl = new Int32Array(new SharedArrayBuffer(64));
    this.#workers = Array.from(
      { length: threads },
      (_, index) =>
        new Worker(new URL('./worker-thread.js', import.meta.url), {
          workerData: { control: this.#ctl.buffer, src: pools.src.buffer, dst: pools.dst.buffer, index, threads },
        }),
    );
    for (const w of this.#workers) w.unref();
  }

  /** Starts `threads` workers over fresh shared pools of `bytes` each. */
  static start(bytes, threads) {
    return new WorkerPool(allocSharedPools(bytes), threads);
  }

  /** One batch: `batch` operations of `size` bytes; resolves when every worker is done. */
  async run(op, size, batch, value = 0) {
    const c = this.#ctl;
    if (size * batch > 2 ** 31 - 1) throw new Error('worker peer: a batch must stay under 2 GiB');
    c[OP] = op === 'copy' ? 0 : 1;
    c[SIZE] = size;
    c[BATCH] = batch;
    c[VALUE] = value;
    Atomics.store(c, DONE, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    for (let done = Atomics.load(c, DONE); done < this.threads; done = Atomics.load(c, DONE)) {
      const w = Atomics.waitAsync(c, DONE, done);
      if (w.async) await w.value;
    }
  }

  async close() {
    Atomics.store(this.#ctl, STOP, 1);
    Atomics.add(this.#ctl, GEN, 1);
    Atomics.notify(this.#ctl, GEN);
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
