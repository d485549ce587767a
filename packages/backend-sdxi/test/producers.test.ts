/**
 * Several producers on worker threads enqueue into one context over the same SharedArrayBuffer
 * (compare-and-swap on Write_Index, NOTES §5.3 step 4): every descriptor executes exactly once —
 * its CST_BLK, armed with 1, ends at 0 (a second execution would wrap it to 2^64 − 1).
 */
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { rig, until } from './rig.js';

const WORKERS = 4;
const PER_WORKER = 5000;

it(`${WORKERS} worker-thread producers share one ring: ${WORKERS * PER_WORKER} descriptors, each run exactly once`, async () => {
  const r = await rig();
  const total = WORKERS * PER_WORKER;
  const dst = r.space(0, total * 8);
  const csts = r.fn.allocate(total * 32, 32);
  const signals = new BigUint64Array(csts.buffer, csts.offset, total * 4);
  for (let i = 0; i < total; i++) signals[i * 4] = 1n;
  const { arena, context, entries, ringOffset, writeIndexOffset, statusOffset } = r.cxt;
  const layout = { arena, context, entries, ringOffset, writeIndexOffset, statusOffset };
  const workers = Array.from({ length: WORKERS }, (_, worker) => new Worker(new URL('./fixtures/producer-worker.mjs', import.meta.url), { workerData: { layout, port: r.fn.doorbellPort(), worker, count: PER_WORKER, cstAddress: csts.address } }));
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
  await Promise.all(workers.map((w) => w.terminate()));
  await until(() => r.cxt.readIndex() === total, 'every descriptor', 20_000);
  expect(r.producer.writeIndex()).toBe(total);
  const values = new BigUint64Array(dst.view.buffer, dst.view.byteOffset, total);
  const wrong: string[] = [];
  for (let i = 0; i < total && wrong.length < 5; i++) {
    if (signals[i * 4] !== 0n) wrong.push(`descriptor ${i}: CST_BLK signal ${signals[i * 4]}`);
    if (values[i] !== BigInt(i + 1)) wrong.push(`descriptor ${i}: value ${values[i]}`);
  }
  expect(wrong).toEqual([]);
  expect(dst.guardsIntact()).toBe(true);
});
