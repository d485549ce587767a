/**
 * Ordering cases: fenced descriptors see the effects of every earlier one (programs whose result
 * is only right when fences hold: copy chains, ping-pong, nested fills, checksums after stores);
 * concurrent batches on one Mover interleave without loss; several producers on worker threads —
 * feeding one Mover, or each with its own Mover over shared memory — lose nothing.
 */
import { Worker } from 'node:worker_threads';
import type { Capabilities, Mover, SpaceKind } from '@datamover/core';
import { bytesEqual, deepEqual, equal, fail, ok } from '../check.js';
import { crc32c, fillBytes, leBytes, noise } from '../data.js';
import type { CaseContextApi, CaseDef } from '../types.js';
import { checkItems, type WorkerJob, type WorkerMessage } from '../worker.js';
import { claimed, comboLabel, copyCombos, expectRegion, missingKind, overlay, requireKinds, watched, type Combo } from './common.js';

export function orderingCases(caps: Capabilities, has: (k: SpaceKind) => boolean): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const c of claimed(caps)) {
    if (c.op === 'nop') continue;
    const skip = missingKind(c, has);
    cases.push({ group: 'ordering', name: `${comboLabel(c)}: fenced descriptors see every earlier effect`, timeoutMs: 60_000, ...(skip ? { skip } : {}), run: (ctx) => fenceCase(ctx, c) });
  }
  const copies = copyCombos(caps, has);
  const noCopy = copies.length === 0 ? { skip: 'the backend claims no copy between kinds the suite can create' } : {};
  cases.push({ group: 'ordering', name: '16 concurrent batches on one Mover interleave without loss', timeoutMs: 60_000, ...noCopy, run: (ctx) => concurrentBatches(ctx, copies[0]!) });
  const hostCopy = caps.operations.some((o) => o.op === 'copy' && o.src === 'host' && o.dst === 'host');
  const noHost = hostCopy ? {} : { skip: 'needs copy host→host (producers share a SharedArrayBuffer)' };
  cases.push({ group: 'ordering', name: '4 worker-thread producers feeding one Mover: no loss', timeoutMs: 90_000, ...noHost, run: (ctx) => producers(ctx, 'produce') });
  cases.push({ group: 'ordering', name: '4 worker threads with a Mover each over shared memory: no loss', timeoutMs: 90_000, ...noHost, run: (ctx) => producers(ctx, 'own-mover') });
  return cases;
}

async function fenceCase(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  switch (c.op) {
    case 'copy':
      if (c.src === c.dst) {
        await copyChain(ctx, m, c.src!, 4099, 48);
        await copyChain(ctx, m, c.src!, 256 * 1024 + 1, 8);
      } else if (ctx.claims('copy', c.dst, c.src)) await pingPong(ctx, m, c);
      else if (ctx.claims('fill', null, c.src)) await fillThenCopy(ctx, m, c);
      else ctx.skip(`needs copy ${c.dst}→${c.src} or fill ${c.src} to build a fenced program`);
      return;
    case 'fill':
      return nestedFills(ctx, m, c.dst!);
    case 'writeImm':
      return storesThenRead(ctx, m, c.dst!);
    case 'crc32c':
      return checksumsAfterStores(ctx, m, c);
    case 'compare':
      return compareAfterStores(ctx, m, c);
    default:
      return;
  }
}

/** copy chunk k → chunk k+1, each fenced: only in order does chunk 0 reach the last chunk. */
async function copyChain(ctx: CaseContextApi, m: Mover, kind: SpaceKind, chunk: number, n: number): Promise<void> {
  const first = noise(chunk, chunk);
  const size = chunk * (n + 1);
  const r = await watched(ctx, m, kind, size, { guard: 16, contents: overlay(new Uint8Array(size), first, 0) });
  for (let round = 0; round < 3; round++) {
    await r.f.write(new Uint8Array(size - chunk), chunk);
    const b = m.batch();
    for (let k = 0; k < n; k++) b.copy(r.f.region, r.f.region, { srcOffset: k * chunk, dstOffset: (k + 1) * chunk, length: chunk, fence: true });
    const res = await b.submit();
    equal(res.counts.done, n, 'fenced chain descriptors done');
    const expected = new Uint8Array(size);
    for (let k = 0; k <= n; k++) expected.set(first, k * chunk);
    await expectRegion(r, `chain of ${n} fenced ${kind}→${kind} copies of ${chunk} B (round ${round})`, expected);
  }
}

/** A[k] → B[k] → A[k+1] → …, each fenced. */
async function pingPong(ctx: CaseContextApi, m: Mover, c: Combo): Promise<void> {
  const chunk = 8191;
  const n = 24;
  const first = noise(chunk, 77);
  const A = await watched(ctx, m, c.src!, chunk * (n + 1), { guard: 16, contents: overlay(new Uint8Array(chunk * (n + 1)), first, 0) });
  const B = await watched(ctx, m, c.dst!, chunk * n, { guard: 16 });
  const b = m.batch();
  for (let k = 0; k < n; k++) {
    b.copy(B.f.region, A.f.region, { srcOffset: k * chunk, dstOffset: k * chunk, length: chunk, fence: true });
    b.copy(A.f.region, B.f.region, { srcOffset: k * chunk, dstOffset: (k + 1) * chunk, length: chunk, fence: true });
  }
  equal((await b.submit()).counts.done, 2 * n, 'ping-pong descriptors done');
  const ea = new Uint8Array(chunk * (n + 1));
  const eb = new Uint8Array(chunk * n);
  for (let k = 0; k <= n; k++) ea.set(first, k * chunk);
  for (let k = 0; k < n; k++) eb.set(first, k * chunk);
  await expectRegion(A, `${comboLabel(c)} ping-pong: ${c.src} region`, ea);
  await expectRegion(B, `${comboLabel(c)} ping-pong: ${c.dst} region`, eb);
}

/** fill A with k, fenced copy A → B[k]: B[k] must hold k. */
async function fillThenCopy(ctx: CaseContextApi, m: Mover, c: Combo): Promise<void> {
  const chunk = 4097;
  const n = 32;
  const A = await watched(ctx, m, c.src!, chunk, { guard: 16 });
  const B = await watched(ctx, m, c.dst!, chunk * n, { guard: 16 });
  const b = m.batch();
  for (let k = 0; k < n; k++) {
    b.fill(A.f.region, k + 1, { fence: true });
    b.copy(B.f.region, A.f.region, { dstOffset: k * chunk, length: chunk, fence: true });
  }
  equal((await b.submit()).counts.done, 2 * n, 'fill-then-copy descriptors done');
  const eb = new Uint8Array(chunk * n);
  for (let k = 0; k < n; k++) eb.fill(k + 1, k * chunk, (k + 1) * chunk);
  await expectRegion(B, `${comboLabel(c)}: each fenced copy sees the fill before it`, eb);
}

/** Nested fills over one region: the last (innermost) wins where they overlap. */
async function nestedFills(ctx: CaseContextApi, m: Mover, kind: SpaceKind): Promise<void> {
  const size = 64 * 1024 + 5;
  const r = await watched(ctx, m, kind, size, { guard: 16, contents: noise(size, 5) });
  let expected = r.bytes;
  const b = m.batch();
  for (let k = 0; k < 40; k++) {
    const off = k * 700;
    const len = size - 2 * off;
    const wide = k % 2 === 1;
    const pattern = wide ? 0x1122334455667788n + BigInt(k) : BigInt((k * 37 + 1) & 0xff);
    b.fill(r.f.region, pattern, { offset: off, length: len, fence: k > 0, ...(wide ? { patternBytes: 8 as const } : {}) });
    expected = overlay(expected, fillBytes(len, pattern, wide ? 8 : 1), off);
  }
  equal((await b.submit()).counts.done, 40, 'nested fills done');
  await expectRegion(r, `40 nested fenced fills of ${kind}`, expected);
}

/** Fenced stores to the same bytes: the last one wins; a fenced fill after them wipes them. */
async function storesThenRead(ctx: CaseContextApi, m: Mover, kind: SpaceKind): Promise<void> {
  const size = 4096;
  const r = await watched(ctx, m, kind, size, { guard: 16, contents: noise(size, 6) });
  let expected = r.bytes;
  const b = m.batch();
  for (let k = 0; k < 200; k++) {
    const offset = (k % 10) * 400 + (k % 3);
    const value = BigInt(k) * 0x0101010101010101n;
    b.writeImmediate(r.f.region, value, { offset, fence: true });
    expected = overlay(expected, leBytes(value, 8), offset);
  }
  if (ctx.claims('fill', null, kind)) {
    b.fill(r.f.region, 0xab, { offset: 1000, length: 100, fence: true });
    expected = overlay(expected, new Uint8Array(100).fill(0xab), 1000);
  }
  equal((await b.submit()).ok, true, 'fenced stores done');
  await expectRegion(r, `200 fenced write-immediates to ${kind}`, expected);
}

/** Stores, each followed by a fenced checksum that must include it. */
async function checksumsAfterStores(ctx: CaseContextApi, m: Mover, c: Combo): Promise<void> {
  const kind = c.src!;
  const writer = ctx.claims('writeImm', null, kind) ? 'writeImm' : ctx.claims('fill', null, kind) ? 'fill' : undefined;
  if (!writer) ctx.skip(`needs writeImm or fill on ${kind} to change the bytes inside a batch`);
  const size = 16 * 1024 + 3;
  const r = await watched(ctx, m, kind, size, { contents: noise(size, 8) });
  let state: Uint8Array = r.bytes.slice();
  const b = m.batch();
  const want: number[] = [];
  for (let k = 0; k < 32; k++) {
    const offset = (k * 509) % (size - 8);
    if (writer === 'writeImm') {
      b.writeImmediate(r.f.region, BigInt(k + 1), { offset, width: 4, fence: true });
      state = overlay(state, leBytes(BigInt(k + 1), 4), offset);
    } else {
      b.fill(r.f.region, k + 1, { offset, length: 4, fence: true });
      state = overlay(state, new Uint8Array(4).fill(k + 1), offset);
    }
    b.crc32c(r.f.region, { fence: true });
    want.push(crc32c(state));
  }
  const res = await b.submit();
  for (let k = 0; k < 32; k++) equal(res.value(2 * k + 1), want[k], `fenced checksum after store ${k}`);
}

/** Stores at decreasing offsets, each followed by a fenced compare that must report it. */
async function compareAfterStores(ctx: CaseContextApi, m: Mover, c: Combo): Promise<void> {
  const bk = c.dst!;
  const writer = ctx.claims('writeImm', null, bk) ? 'writeImm' : ctx.claims('fill', null, bk) ? 'fill' : undefined;
  if (!writer) ctx.skip(`needs writeImm or fill on ${bk} to change the bytes inside a batch`);
  const size = 8192 + 1;
  const data = noise(size, 10);
  const A = await ctx.fixture(m, c.src!, size, { contents: data });
  const B = await ctx.fixture(m, bk, size, { contents: data });
  const b = m.batch();
  b.compare(A.region, B.region);
  const offsets: number[] = [];
  for (let k = 0; k < 24; k++) {
    const offset = size - 1 - k * 300;
    offsets.push(offset);
    if (writer === 'writeImm') b.writeImmediate(B.region, (data[offset]! ^ 0xff) & 0xff, { offset, width: 1, fence: true });
    else b.fill(B.region, (data[offset]! ^ 0xff) & 0xff, { offset, length: 1, fence: true });
    b.compare(A.region, B.region, { fence: true });
  }
  const res = await b.submit();
  equal(res.value(0), -1, 'compare before any store: equal');
  for (let k = 0; k < 24; k++) equal(res.value(2 + 2 * k), offsets[k], `fenced compare after store ${k} finds it`);
}

/** Many batches in flight at once on one Mover, each mixing copies, fills and checksums. */
async function concurrentBatches(ctx: CaseContextApi, c: Combo): Promise<void> {
  const m = await ctx.open();
  const rng = ctx.rng();
  const srcData = noise(1 << 20, 3);
  const src = await ctx.fixture(m, c.src!, srcData.length, { contents: srcData });
  const dstSize = 8 << 20;
  const dst = await watched(ctx, m, c.dst!, dstSize, { guard: 16 });
  const crcOk = ctx.claims('crc32c', c.src, null);
  let cursor = 0;
  let expected = dst.bytes.slice();
  const batches: Promise<void>[] = [];
  let total = 0;
  for (let k = 0; k < 16; k++) {
    const b = m.batch();
    const n = rng.int(1, 600);
    const checks: { i: number; want: number }[] = [];
    for (let i = 0; i < n; i++) {
      const len = rng.int(1, 8193);
      if (cursor + len > dstSize) break;
      const so = rng.int(0, srcData.length - len);
      if (crcOk && rng.next() < 0.1) {
        checks.push({ i: b.length, want: crc32c(srcData.subarray(so, so + len)) });
        b.crc32c(src.region, { offset: so, length: len });
      } else {
        b.copy(dst.f.region, src.region, { srcOffset: so, dstOffset: cursor, length: len });
        expected.set(srcData.subarray(so, so + len), cursor);
        cursor += len + rng.int(0, 2);
      }
    }
    total += b.length;
    const count = b.length;
    batches.push(
      b.submit().then((r) => {
        deepEqual(r.counts, { done: count, notRun: 0, failed: 0, pending: 0 }, `batch ${k} of ${count}`);
        for (const x of checks) equal(r.value(x.i), x.want, `batch ${k} checksum ${x.i}`);
      }),
    );
  }
  const settled = await Promise.allSettled(batches);
  const bad = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (bad) fail(`a concurrent batch failed: ${String(bad.reason)}`, bad.reason);
  await expectRegion(dst, `${comboLabel(c)}: destination of 16 concurrent batches`, expected);
  expected = new Uint8Array(0);
  ctx.note(`${total} descriptors in 16 concurrent batches`);
}

async function producers(ctx: CaseContextApi, mode: 'produce' | 'own-mover'): Promise<void> {
  if (mode === 'own-mover' && !ctx.workerSpec) ctx.skip('no worker factory: pass { worker: { module, export, args } } so worker threads can build the backend');
  const W = 4;
  const rounds = 24;
  const perRound = 200;
  const src = new SharedArrayBuffer(1 << 20);
  new Uint8Array(src).set(noise(1 << 20, 21));
  const area = 12 << 20;
  const dst = new SharedArrayBuffer(area * (W + 1));
  const m = await ctx.open();
  const s = m.wrap(src, { readOnly: true });
  const d = m.wrap(dst);
  const workerUrl = new URL('../worker.js', import.meta.url);
  const allItems: Int32Array[] = [];
  const problems: string[] = [];
  let batches = 0;
  const runs = Array.from({ length: W }, (_, p) => {
    const job: WorkerJob = { mode, producer: p, rounds, perRound, areaStart: p * area, areaEnd: (p + 1) * area, src, dst, seed: ctx.seed * 1000 + p, ...(ctx.workerSpec ? { spec: ctx.workerSpec } : {}) };
    return new Promise<void>((resolve, reject) => {
      const w = new Worker(workerUrl, { workerData: { conformanceJob: job } });
      const pending: Promise<void>[] = [];
      w.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'batch') {
          const b = m.batch();
          for (let k = 0; k < msg.items.length; k += 3) b.copy(d, s, { srcOffset: msg.items[k]!, dstOffset: msg.items[k + 1]!, length: msg.items[k + 2]! });
          const n = b.length;
          pending.push(
            b.submit().then(
              (r) => {
                if (r.counts.done !== n) problems.push(`producer ${p} round ${msg.round}: ${JSON.stringify(r.counts)}`);
                w.postMessage({ type: 'result', round: msg.round });
              },
              (e: unknown) => {
                problems.push(`producer ${p} round ${msg.round}: ${String(e)}`);
                w.postMessage({ type: 'result', round: msg.round });
              },
            ),
          );
        } else if (msg.type === 'done') {
          allItems.push(msg.items);
          batches += msg.batches;
          problems.push(...msg.mismatches.map((x) => `producer ${p} (checked in its thread): ${x}`));
          void Promise.all(pending).then(() => w.terminate()).then(() => resolve(), reject);
        } else {
          problems.push(`producer ${p}: ${msg.message}`);
          void w.terminate().then(() => resolve());
        }
      });
      w.on('error', reject);
    });
  });
  // The main thread is a producer too, into the last area.
  let mainItems = new Int32Array(0);
  const mainRun = (async () => {
    const { planRound } = await import('../worker.js');
    const rng = ctx.rng('main');
    let cursor = W * area;
    const mine: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const plan = planRound(rng, perRound, cursor, (W + 1) * area, 1 << 20);
      cursor = plan.cursor;
      mine.push(...plan.items);
      const b = m.batch();
      for (let k = 0; k < plan.items.length; k += 3) b.copy(d, s, { srcOffset: plan.items[k]!, dstOffset: plan.items[k + 1]!, length: plan.items[k + 2]! });
      const res = await b.submit();
      if (!res.ok) problems.push(`main round ${r}: ${JSON.stringify(res.counts)}`);
      batches++;
    }
    mainItems = Int32Array.from(mine);
  })();
  await Promise.all([...runs, mainRun]);
  if (problems.length) fail(`${problems.length} problem(s): ${problems.slice(0, 5).join('; ')}`);
  allItems.push(mainItems);
  // Check the whole destination: every request landed, and nothing else was written.
  const dstBytes = new Uint8Array(dst);
  const srcBytes = new Uint8Array(src);
  const expected = new Uint8Array(dst.byteLength);
  let requests = 0;
  for (const items of allItems) {
    const bad = checkItems(srcBytes, dstBytes, items);
    if (bad.length) fail(`checked on the main thread: ${bad.join('; ')}`);
    for (let k = 0; k < items.length; k += 3) expected.set(srcBytes.subarray(items[k]!, items[k]! + items[k + 2]!), items[k + 1]!);
    requests += items.length / 3;
  }
  bytesEqual(dstBytes, expected, 'the shared destination (requests landed, gaps untouched)');
  ok(requests >= W * rounds, `requests made: ${requests}`);
  ctx.note(`${W + 1} producers, ${batches} batches, ${requests} copies`);
}
