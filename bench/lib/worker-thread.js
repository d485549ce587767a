/**
 * One thread of the worker_threads peer (bench/lib/workers.js). It waits on a generation counter
 * in shared memory, runs its share of the job on the shared pools with TypedArray.set / fill,
 * counts itself done and notifies. No messages are posted on the hot path: only Atomics.
 */
import { workerData } from 'node:worker_threads';

const { control, src, dst, index, threads } = workerData;
const ctl = new Int32Array(control);
const s = new Uint8Array(src);
const d = new Uint8Array(dst);
// control words: see workers.js
const GEN = 0;
const DONE = 1;
const OP = 2;
const SIZE = 3;
const BATCH = 4;
const VALUE = 5;
const STOP = 6;

let seen = 0;
for (;;) {
  Atomics.wait(ctl, GEN, seen);
  seen = Atomics.load(ctl, GEN);
  if (Atomics.load(ctl, STOP) !== 0) break;
  const op = ctl[OP];
  const size = ctl[SIZE];
  const batch = ctl[BATCH];
  const value = ctl[VALUE];
  const one = (o, n) => {
    if (op === 0) d.set(s.subarray(o, o + n), o);
    else d.fill(value, o, o + n);
  };
  if (batch >= threads) {
    // Whole operations: thread i takes operations [i·batch/threads, (i+1)·batch/threads).
    const first = Math.floor((index * batch) / threads);
    const end = Math.floor(((index + 1) * batch) / threads);
    for (let k = first; k < end; k++) one(k * size, size);
  } else {
    // Fewer operations than threads: each operation is split into 64-byte-aligned slices.
    const slice = Math.ceil(size / threads / 64) * 64;
    const lo = Math.min(size, index * slice);
    const hi = Math.min(size, lo + slice);
    for (let k = 0; k < batch; k++) if (hi > lo) one(k * size + lo, hi - lo);
  }
  Atomics.add(ctl, DONE, 1);
  Atomics.notify(ctl, DONE);
}
