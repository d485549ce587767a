/**
 * Cancellation cases: aborts at random points and deadlines. Each descriptor must be reported
 * not-run or done (never failed, never pending); the destination must match the report byte for
 * byte (done: written whole; not-run: untouched); values of done reads must be right; and the
 * buffers must be quiescent once the Promise settles — nothing changes afterwards, even when
 * later work rings the engine's doorbell again.
 */
import type { BatchResult, Capabilities, Mover, SpaceKind } from '@datamover/core';
import { ErrorCode } from '@datamover/core';
import { bytesEqual, deepEqual, equal, fail, isDatamoverError, ok, resultOf, settle, sleep } from '../check.js';
import { crc32c, noise } from '../data.js';
import type { CaseContextApi, CaseDef, Fixture } from '../types.js';
import { claimed, comboLabel, missingKind, requireKinds, type Combo } from './common.js';

export function cancellationCases(caps: Capabilities, has: (k: SpaceKind) => boolean): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const c of claimed(caps)) {
    if (c.op === 'nop') continue;
    const skip = missingKind(c, has);
    const s = skip ? { skip } : {};
    cases.push({ group: 'cancellation', name: `${comboLabel(c)}: aborts at random points`, timeoutMs: 90_000, ...s, run: (ctx) => randomAborts(ctx, c) });
    cases.push({ group: 'cancellation', name: `${comboLabel(c)}: deadlines and timeouts expiring mid-batch`, timeoutMs: 60_000, ...s, run: (ctx) => deadlines(ctx, c) });
  }
  const first = claimed(caps).find((c) => c.op !== 'nop' && !missingKind(c, has));
  cases.push({
    group: 'cancellation',
    name: 'deadlines already past, timeout 0 and pre-aborted signals: nothing queued, every descriptor not-run',
    timeoutMs: 30_000,
    ...(first ? {} : { skip: 'the suite can create regions of none of the claimed kinds' }),
    run: (ctx) => alreadyCancelled(ctx, first!),
  });
  return cases;
}

const UNIT = 1024;
const SRC_CHUNKS = 16;

/** One long batch over fixed fixtures, and how to check any outcome of it. */
interface Workload {
  readonly n: number;
  build(m: Mover): import('@datamover/core').Batch;
  /** Resets what the batch writes to its sentinel. */
  reset(): Promise<void>;
  /** Checks the destination (and read values) against the per-descriptor report. */
  check(result: BatchResult, what: string): Promise<void>;
  /** Reads everything the batch may write, for the quiescence check. */
  snapshot(): Promise<Uint8Array>;
}

async function workload(ctx: CaseContextApi, m: Mover, c: Combo, n: number): Promise<Workload> {
  const srcData = noise(UNIT * SRC_CHUNKS, 31);
  const sentinel = (len: number) => noise(len, 0xdead);
  const unitOf = c.op === 'writeImm' ? 8 : UNIT;
  let src: Fixture | undefined;
  let dst: Fixture | undefined;
  if (c.src) src = await ctx.fixture(m, c.src, srcData.length, { contents: srcData });
  if (c.dst) dst = await ctx.fixture(m, c.dst, unitOf * n, { contents: sentinel(unitOf * n) });
  // compare: B holds the source chunks, every third one with a difference at a known offset.
  if (c.op === 'compare') {
    const b = new Uint8Array(UNIT * n);
    for (let i = 0; i < n; i++) {
      b.set(srcData.subarray((i % SRC_CHUNKS) * UNIT, (i % SRC_CHUNKS + 1) * UNIT), i * UNIT);
      if (i % 3 === 0) b[i * UNIT + (i % UNIT)] = b[i * UNIT + (i % UNIT)]! ^ 0xff;
    }
    await dst!.write(b);
  }
  const expectedWrite = (i: number): Uint8Array => {
    if (c.op === 'copy') return srcData.subarray((i % SRC_CHUNKS) * UNIT, (i % SRC_CHUNKS + 1) * UNIT);
    if (c.op === 'fill') return new Uint8Array(UNIT).fill((i % 251) + 1);
    const v = new Uint8Array(8);
    new DataView(v.buffer).setBigUint64(0, BigInt(i + 1), true);
    return v;
  };
  const expectedValue = (i: number): number => {
    if (c.op === 'crc32c') return crc32c(srcData.subarray((i % SRC_CHUNKS) * UNIT, (i % SRC_CHUNKS + 1) * UNIT));
    if (c.op === 'compare') return i % 3 === 0 ? i % UNIT : -1;
    return 0;
  };
  const writes = c.op === 'copy' || c.op === 'fill' || c.op === 'writeImm';
  return {
    n,
    build(mm) {
      const b = mm.batch();
      for (let i = 0; i < n; i++) {
        const so = (i % SRC_CHUNKS) * UNIT;
        if (c.op === 'copy') b.copy(dst!.region, src!.region, { srcOffset: so, dstOffset: i * UNIT, length: UNIT });
        else if (c.op === 'fill') b.fill(dst!.region, (i % 251) + 1, { offset: i * UNIT, length: UNIT });
        else if (c.op === 'writeImm') b.writeImmediate(dst!.region, BigInt(i + 1), { offset: i * 8 });
        else if (c.op === 'crc32c') b.crc32c(src!.region, { offset: so, length: UNIT });
        else b.compare(src!.region, dst!.region, { aOffset: so, bOffset: i * UNIT, length: UNIT });
      }
      return b;
    },
    async reset() {
      if (writes) await dst!.write(sentinel(unitOf * n));
    },
    async check(result, what) {
      const status = (i: number) => result.status(i);
      if (writes) {
        const got = await dst!.read();
        const untouched = sentinel(unitOf * n);
        for (let i = 0; i < n; i++) {
          const s = status(i);
          if (s !== 'done' && s !== 'not-run') fail(`${what}: descriptor ${i} reported ${s}; a cancelled descriptor is done or not-run`);
          const want = s === 'done' ? expectedWrite(i) : untouched.subarray(i * unitOf, (i + 1) * unitOf);
          const at = got.subarray(i * unitOf, (i + 1) * unitOf);
          if (!Buffer.from(at).equals(Buffer.from(want))) bytesEqual(at, want, `${what}: descriptor ${i} (reported ${s}) — the destination must match the report`);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const s = result.status(i);
          if (s !== 'done' && s !== 'not-run') fail(`${what}: descriptor ${i} reported ${s}`);
          if (s === 'done' && result.value(i) !== expectedValue(i)) equal(result.value(i), expectedValue(i), `${what}: value of done descriptor ${i}`);
        }
      }
    },
    async snapshot() {
      return dst ? dst.read() : new Uint8Array(0);
    },
  };
}

function ringEntries(ctx: CaseContextApi): number {
  return ctx.backend().ringEntries ?? 4096;
}

/** Waits, then pokes the engine with other work, then checks nothing changed since `before`. */
async function expectQuiescent(m: Mover, w: Workload, before: Uint8Array, what: string): Promise<void> {
  await sleep(20);
  await m.nop().catch(() => undefined);
  await sleep(5);
  bytesEqual(await w.snapshot(), before, `${what}: the destination changed after the Promise settled (not quiescent)`);
}

type Point = 'sync' | 'microtask' | 'immediate' | 'timeout' | 'late';

async function randomAborts(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  const n = Math.min(3 * ringEntries(ctx), 16_384);
  const w = await workload(ctx, m, c, n);
  const rng = ctx.rng();
  const points: Point[] = ['sync', 'microtask', 'immediate', 'timeout', 'timeout', 'timeout', 'late', rng.pick(['sync', 'immediate', 'timeout'] as const)];
  let cancelledTrials = 0;
  let doneTotal = 0;
  let notRunTotal = 0;
  for (let t = 0; t < points.length; t++) {
    const point = points[t]!;
    await w.reset();
    const what = `${comboLabel(c)} trial ${t} (abort at ${point})`;
    const ac = new AbortController();
    const reason = new Error(`conformance abort ${t}`);
    const p = w.build(m).submit({ signal: ac.signal });
    const abort = () => ac.abort(reason);
    if (point === 'sync') abort();
    else if (point === 'microtask') queueMicrotask(abort);
    else if (point === 'immediate') setImmediate(abort);
    else if (point === 'timeout') setTimeout(abort, rng.next() * 4);
    const out = await settle(p);
    if (point === 'late') abort();
    if (out.ok) {
      equal(out.value.ok, true, `${what}: a resolved batch reports every descriptor done`);
      await w.check(out.value, what);
    } else {
      const e = out.error;
      ok(isDatamoverError(e) && e.code === ErrorCode.ABORTED, `${what}: expected ABORTED, got ${String(e)}`);
      equal((e as Error).cause, reason, `${what}: the cause is the signal's reason`);
      const r = resultOf(e, what);
      const counts = r.counts;
      equal(counts.failed + counts.pending, 0, `${what}: failed + pending descriptors`);
      equal(counts.done + counts.notRun, n, `${what}: done + not-run descriptors`);
      doneTotal += counts.done;
      notRunTotal += counts.notRun;
      if (counts.notRun > 0) cancelledTrials++;
      await w.check(r, what);
    }
    await expectQuiescent(m, w, await w.snapshot(), what);
  }
  ok(cancelledTrials > 0, `no trial cancelled anything (a ${n}-descriptor batch aborted synchronously must leave queued descriptors not run)`);
  ctx.note(`${points.length} trials: ${cancelledTrials} cancelled work; ${doneTotal} descriptors done and ${notRunTotal} not run in cancelled trials`);
  // The Mover carries on.
  await w.reset();
  const after = await w.build(m).submit();
  equal(after.ok, true, `${comboLabel(c)}: a full batch after the aborts`);
  await w.check(after, `${comboLabel(c)} after the aborts`);
}

async function alreadyCancelled(ctx: CaseContextApi, c: Combo): Promise<void> {
  const m = await ctx.open();
  const n = 1000;
  const w = await workload(ctx, m, c, n);
  const label = comboLabel(c);

  // Already past: nothing is queued, nothing runs.
  for (const [what, opts] of [
    ['a deadline in the past', { deadline: Date.now() - 1 }],
    ['timeout 0', { timeout: 0 }],
  ] as const) {
    const published = ctx.published(m);
    const before = await w.snapshot();
    const out = await settle(w.build(m).submit(opts));
    ok(!out.ok && isDatamoverError(out.error) && out.error.code === ErrorCode.DEADLINE_EXCEEDED, `${label} ${what}: expected DEADLINE_EXCEEDED`);
    const r = resultOf((out as { error: unknown }).error, `${label} ${what}`);
    deepEqual(r.counts, { done: 0, notRun: n, failed: 0, pending: 0 }, `${label} ${what}: per-descriptor report`);
    equal(ctx.published(m), published, `${label} ${what}: descriptors published to the engine`);
    await expectQuiescent(m, w, before, `${label} ${what}`);
  }

  // An aborted signal before submission.
  {
    const published = ctx.published(m);
    const before = await w.snapshot();
    const reason = new Error('aborted before submit');
    const out = await settle(w.build(m).submit({ signal: AbortSignal.abort(reason) }));
    ok(!out.ok && isDatamoverError(out.error) && out.error.code === ErrorCode.ABORTED, `${label}: a pre-aborted signal rejects with ABORTED`);
    equal((out as { error: Error }).error.cause, reason, `${label}: the cause is the signal's reason`);
    equal(resultOf((out as { error: unknown }).error, label).counts.notRun, n, `${label} pre-aborted: descriptors not run`);
    equal(ctx.published(m), published, `${label} pre-aborted: descriptors published`);
    await expectQuiescent(m, w, before, `${label} pre-aborted`);
  }
}

async function deadlines(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  const n = Math.min(3 * ringEntries(ctx), 16_384);
  const w = await workload(ctx, m, c, n);
  const label = comboLabel(c);
  // One full run first, so registration costs do not eat into the deadlines below.
  equal((await w.build(m).submit()).ok, true, `${label}: a full batch without a deadline`);

  // Short timeouts and deadlines while the batch runs.
  const rng = ctx.rng();
  let expired = 0;
  for (let t = 0; t < 6; t++) {
    await w.reset();
    // Deadlines are whole milliseconds (Date.now()); at least 2 ms keeps them in the future at submission.
    const ms = t % 2 === 0 ? 0.5 + rng.next() * 4 : 2 + rng.next() * 8;
    const batch = w.build(m); // built first: the deadline runs from submission
    const opts = t % 2 === 0 ? { timeout: ms } : { deadline: Date.now() + ms };
    const what = `${label} ${t % 2 === 0 ? 'timeout' : 'deadline'} of ${ms.toFixed(1)} ms`;
    const out = await settle(batch.submit(opts));
    if (out.ok) await w.check(out.value, what);
    else {
      ok(isDatamoverError(out.error) && out.error.code === ErrorCode.DEADLINE_EXCEEDED, `${what}: expected DEADLINE_EXCEEDED, got ${String(out.error)}`);
      const r = resultOf(out.error, what);
      if (r.counts.pending === n) fail(`${what}: the deadline passed before the Mover queued anything (a stall of ${ms.toFixed(1)} ms on this machine), and all ${n} descriptors were left 'pending' instead of 'not-run' — see the case 'deadlines already past'`);
      equal(r.counts.failed + r.counts.pending, 0, `${what}: failed + pending`);
      expired++;
      await w.check(r, what);
    }
    await expectQuiescent(m, w, await w.snapshot(), what);
  }
  ctx.note(`${expired} of 6 short deadlines expired mid-batch`);

  // A generous deadline changes nothing.
  await w.reset();
  const r = await w.build(m).submit({ timeout: 60_000, deadline: Date.now() + 60_000 });
  equal(r.ok, true, `${label}: a batch well within its deadline`);
  await w.check(r, `${label} within its deadline`);
}
