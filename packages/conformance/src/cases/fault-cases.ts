/**
 * Fault cases: the backend wrapped in the fault-injecting decorator (a test tool). The Mover must
 * never report success for failed or partial work, must surface each fault with the right code,
 * detail and cause, must lose nothing under delays and reordering, and must leak nothing
 * (registrations, engine sessions, in-flight descriptors, timers, file descriptors).
 */
import { readdirSync } from 'node:fs';
import { ErrorCode, type BatchResult, type Capabilities, type DatamoverError, type Mover, type SpaceKind } from '@datamover/core';
import { bytesEqual, causeChainHas, deepEqual, equal, fail, isDatamoverError, ok, refused, resultOf, settle, sleep, within } from '../check.js';
import { crc32c, fillBytes, leBytes, noise } from '../data.js';
import { faultInjecting, type FaultInjectingBackend, type FaultKind, type FaultOptions, type FaultRecord } from '../faults.js';
import type { CaseContextApi, CaseDef, Fixture } from '../types.js';
import { claimed, comboLabel, copyCombos, expectRegion, missingKind, requireKinds, watched, type Combo } from './common.js';

const UNIT = 256;
const DEVICE_STATUS = 0x3e;
const EIO = 5;

export function faultCases(caps: Capabilities, has: (k: SpaceKind) => boolean): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const c of claimed(caps)) {
    if (c.op === 'nop') continue;
    const skip = missingKind(c, has);
    cases.push({ group: 'faults', name: `${comboLabel(c)}: completion errors, device errors and partial completions are reported per descriptor, never as success`, timeoutMs: 60_000, ...(skip ? { skip } : {}), run: (ctx) => descriptorFaults(ctx, c) });
  }
  const copies = copyCombos(caps, has);
  const first = copies[0];
  const noCopy = first ? {} : { skip: 'the backend claims no copy between kinds the suite can create' };
  cases.push({ group: 'faults', name: 'single operations reject with the fault itself: its code, detail and backend', timeoutMs: 30_000, ...noCopy, run: (ctx) => singleOps(ctx, first!) });
  cases.push({ group: 'faults', name: 'submit failures at registration: rejected with DEVICE_ERROR and its cause, nothing queued or pinned, a retry works', timeoutMs: 30_000, ...noCopy, run: (ctx) => registerFailures(ctx, first!) });
  cases.push({ group: 'faults', name: 'submit failures at the doorbell: nothing runs after the Promise settles', timeoutMs: 30_000, ...noCopy, run: (ctx) => doorbellFailures(ctx, first!) });
  cases.push({ group: 'faults', name: 'delays and reordering: nothing lost, fences hold', timeoutMs: 60_000, ...noCopy, run: (ctx) => delaysAndReordering(ctx, first!) });
  cases.push({ group: 'faults', name: 'aborts under delays with a narrow engine window: consistent reports, quiescent buffers', timeoutMs: 60_000, ...noCopy, run: (ctx) => abortsUnderDelays(ctx, first!) });
  cases.push({ group: 'faults', name: 'an engine dropping descriptors (not-run without a cancel) is never reported as success', timeoutMs: 30_000, ...noCopy, run: (ctx) => droppedDescriptors(ctx, first!) });
  cases.push({ group: 'faults', name: 'a long faulty run leaks nothing: registrations, sessions, in-flight descriptors, timers, fds', timeoutMs: 90_000, ...noCopy, run: (ctx) => longFaultyRun(ctx, copies) });
  return cases;
}

async function faulty(ctx: CaseContextApi, options: FaultOptions): Promise<{ m: Mover; fb: FaultInjectingBackend }> {
  const fb = faultInjecting(ctx.backend(), { seed: ctx.seed, deviceStatus: DEVICE_STATUS, errno: EIO, ...options });
  const m = await ctx.open({ backend: fb });
  return { m, fb };
}

/** Checks the decorator left nothing behind once its Mover closed. */
async function expectNoLeaks(m: Mover, fb: FaultInjectingBackend, what: string): Promise<void> {
  await within(m.close(), 20_000, `${what}: Mover.close()`);
  equal(fb.faults.inFlight, 0, `${what}: descriptors still inside the engine after close`);
  equal(fb.faults.openSessions, 0, `${what}: engine sessions left open`);
  equal(fb.faults.timers, 0, `${what}: notification timers pending after close`);
  equal(m.stats().regions, 0, `${what}: registrations after close`);
}

/** A batch of `n` independent descriptors of one combination, with everything needed to predict any outcome. */
interface Program {
  readonly n: number;
  submit(m: Mover): Promise<BatchResult>;
  /** Checks one descriptor against what was injected into it (undefined: nothing). */
  check(result: BatchResult, i: number, fault: FaultRecord | undefined, what: string, got: Uint8Array | undefined): void;
  read(): Promise<Uint8Array | undefined>;
  reset(): Promise<void>;
  readonly writes: boolean;
}

async function program(ctx: CaseContextApi, m: Mover, c: Combo, n: number): Promise<Program> {
  const srcData = noise(UNIT * 8, 61);
  const sentinel = noise(UNIT * n, 62);
  const src: Fixture | undefined = c.src ? await ctx.fixture(m, c.src, srcData.length, { contents: srcData }) : undefined;
  let dst: Fixture | undefined;
  if (c.op === 'compare') {
    const b = new Uint8Array(UNIT * n);
    for (let i = 0; i < n; i++) {
      b.set(srcData.subarray((i % 8) * UNIT, (i % 8 + 1) * UNIT), i * UNIT);
      if (i % 2 === 0) b[i * UNIT + (i % UNIT)] = b[i * UNIT + (i % UNIT)]! ^ 0xff;
    }
    dst = await ctx.fixture(m, c.dst!, b.length, { contents: b });
  } else if (c.dst) dst = await ctx.fixture(m, c.dst, UNIT * n, { contents: sentinel });
  const writes = c.op === 'copy' || c.op === 'fill' || c.op === 'writeImm';
  const written = (i: number): Uint8Array => {
    if (c.op === 'copy') return srcData.subarray((i % 8) * UNIT, (i % 8 + 1) * UNIT);
    if (c.op === 'fill') return fillBytes(UNIT, BigInt((i % 250) + 1), 1);
    return leBytes(BigInt(i) * 0x0102030405n + 1n, 8);
  };
  const width = c.op === 'writeImm' ? 8 : UNIT;
  const value = (i: number): number => {
    if (c.op === 'crc32c') return crc32c(srcData.subarray((i % 8) * UNIT, (i % 8 + 1) * UNIT));
    if (c.op === 'compare') return i % 2 === 0 ? i % UNIT : -1;
    return 0;
  };
  return {
    n,
    writes,
    submit(mm) {
      const b = mm.batch();
      for (let i = 0; i < n; i++) {
        const so = (i % 8) * UNIT;
        if (c.op === 'copy') b.copy(dst!.region, src!.region, { srcOffset: so, dstOffset: i * UNIT, length: UNIT });
        else if (c.op === 'fill') b.fill(dst!.region, (i % 250) + 1, { offset: i * UNIT, length: UNIT });
        else if (c.op === 'writeImm') b.writeImmediate(dst!.region, BigInt(i) * 0x0102030405n + 1n, { offset: i * UNIT });
        else if (c.op === 'crc32c') b.crc32c(src!.region, { offset: so, length: UNIT });
        else b.compare(src!.region, dst!.region, { aOffset: so, bOffset: i * UNIT, length: UNIT });
      }
      return b.submit();
    },
    async read() {
      return writes ? dst!.read() : undefined;
    },
    async reset() {
      if (writes) await dst!.write(sentinel);
    },
    check(result, i, fault, what, got) {
      const status = result.status(i);
      const at = got?.subarray(i * UNIT, i * UNIT + width);
      const untouched = sentinel.subarray(i * UNIT, i * UNIT + width);
      const kind = fault?.kind;
      if (!kind) {
        if (status !== 'done') fail(`${what}: descriptor ${i} had no fault injected but reported ${status} (${result.error(i)?.message ?? ''})`);
        if (at) bytesEqual(at, written(i), `${what}: descriptor ${i} (done)`);
        else if (result.value(i) !== value(i)) equal(result.value(i), value(i), `${what}: value of descriptor ${i}`);
        return;
      }
      if (status === 'done') fail(`${what}: descriptor ${i} got an injected '${kind}' fault but the Mover reported it done`);
      if (kind === 'not-run') {
        equal(status, 'not-run', `${what}: status of dropped descriptor ${i}`);
        if (at) bytesEqual(at, untouched, `${what}: destination of dropped descriptor ${i}`);
        return;
      }
      equal(status, 'failed', `${what}: status of descriptor ${i} ('${kind}' injected)`);
      const e = result.error(i);
      if (!e) fail(`${what}: failed descriptor ${i} carries no error`);
      const code = kind === 'device' ? ErrorCode.DEVICE_ERROR : ErrorCode.IO_ERROR;
      equal(e.code, code, `${what}: code of descriptor ${i} ('${kind}' injected)`);
      equal(e.detail?.backend, ctx.backend().name, `${what}: detail.backend of descriptor ${i}`);
      if (kind === 'device') equal(e.detail?.status, DEVICE_STATUS, `${what}: detail.status of descriptor ${i}`);
      if (kind === 'error-before' || kind === 'error-after') equal(e.detail?.errno, EIO, `${what}: detail.errno of descriptor ${i}`);
      if (kind === 'partial') equal(e.detail?.bytesDone, fault!.bytesDone, `${what}: detail.bytesDone of descriptor ${i}`);
      if (at && (kind === 'error-before' || kind === 'device')) bytesEqual(at, untouched, `${what}: destination of descriptor ${i}, which never ran`);
      if (at && kind === 'partial') {
        const half = fault!.bytesDone!;
        bytesEqual(at.subarray(0, half), written(i).subarray(0, half), `${what}: the part of descriptor ${i} that ran`);
        bytesEqual(at.subarray(half), untouched.subarray(half), `${what}: the part of descriptor ${i} that did not run`);
      }
    },
  };
}

/** The descriptor faults of one submission, by descriptor index (ring index minus `base`). */
function faultsOf(fb: FaultInjectingBackend, from: number, base: number, n: number): Map<number, FaultRecord> {
  const out = new Map<number, FaultRecord>();
  for (const r of fb.faults.log.slice(from)) {
    if (r.ringIndex === undefined || r.ringIndex < base || r.ringIndex >= base + n) continue;
    if (r.kind === 'error-before' || r.kind === 'device' || r.kind === 'not-run' || ((r.kind === 'error-after' || r.kind === 'partial') && r.applied)) out.set(r.ringIndex - base, r);
  }
  return out;
}

/** Submits a program under faults and checks every descriptor against the fault log. */
async function checkedRun(ctx: CaseContextApi, m: Mover, fb: FaultInjectingBackend, p: Program, what: string): Promise<{ faults: number; kinds: Set<FaultKind> }> {
  await p.reset();
  const from = fb.faults.log.length;
  const base = ctx.published(m);
  const out = await settle(p.submit(m));
  const faults = faultsOf(fb, from, base, p.n);
  let result: BatchResult;
  if (out.ok) {
    if (faults.size > 0) fail(`${what}: the batch resolved as success although ${faults.size} descriptor(s) got injected faults (${[...new Set([...faults.values()].map((f) => f.kind))].join(', ')})`);
    result = out.value;
  } else {
    const e = out.error as DatamoverError;
    // A registration fault refuses the submission before anything is queued: the caller's business.
    if (isDatamoverError(e) && e.result === undefined && causeChainHas(e, (x) => x instanceof Error && x.name === 'InjectedFault')) throw e;
    ok(faults.size > 0, `${what}: the batch rejected (${String(e)}) although no descriptor fault was injected`);
    result = resultOf(e, what);
    const failed = [...faults.values()].filter((f) => f.kind !== 'not-run').length;
    if (failed > 0) {
      equal(e.code, ErrorCode.BATCH_FAILED, `${what}: rejection code with ${failed} failed descriptor(s)`);
      equal((e.cause as DatamoverError | undefined)?.code, result.firstError()?.code, `${what}: BATCH_FAILED's cause is the first failure`);
      ok(e.cause === result.firstError(), `${what}: BATCH_FAILED's cause is the first failed descriptor's error`);
    }
    deepEqual(result.counts, { done: p.n - faults.size, notRun: faults.size - failed, failed, pending: 0 }, `${what}: counts`);
  }
  const got = await p.read();
  for (let i = 0; i < p.n; i++) p.check(result, i, faults.get(i), what, got);
  return { faults: faults.size, kinds: new Set([...faults.values()].map((f) => f.kind)) };
}

async function descriptorFaults(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const { m, fb } = await faulty(ctx, { rate: 0, kinds: ['error-before', 'error-after', 'device', 'partial', 'delay', 'reorder'], window: 64 });
  const p = await program(ctx, m, c, 300);
  const seen = new Set<FaultKind>();
  let injected = 0;
  for (const rate of [0, 0.02, 0.1, 0.3, 1]) {
    fb.faults.set({ rate });
    const r = await checkedRun(ctx, m, fb, p, `${comboLabel(c)} at fault rate ${rate}`);
    injected += r.faults;
    for (const k of r.kinds) seen.add(k);
  }
  ok(injected > 0, 'faults were injected');
  const expectedKinds = c.op === 'writeImm' ? ['error-before', 'error-after', 'device'] : ['error-before', 'error-after', 'device', 'partial'];
  for (const k of expectedKinds) ok(seen.has(k as FaultKind), `a '${k}' fault was injected and checked`);
  ctx.note(`${injected} descriptor faults injected and checked (${[...seen].join(', ')}); ${fb.faults.counts().delay} delays, ${fb.faults.counts().reorder} reorderings`);
  await expectNoLeaks(m, fb, comboLabel(c));
}

async function singleOps(ctx: CaseContextApi, c: Combo): Promise<void> {
  const size = 4096;
  for (const kind of ['error-before', 'error-after', 'device', 'partial'] as const) {
    const { m, fb } = await faulty(ctx, { rate: 1, kinds: [kind] });
    const src = await ctx.fixture(m, c.src!, size, { contents: noise(size, 71) });
    const dst = await watched(ctx, m, c.dst!, size, { contents: noise(size, 72) });
    const code = kind === 'device' ? ErrorCode.DEVICE_ERROR : ErrorCode.IO_ERROR;
    const e = await refused(code, () => m.copy(dst.f.region, src.region), `a single copy with '${kind}' injected`);
    ok(!(e.code as string).includes('BATCH'), 'a single operation rejects with the fault, not BATCH_FAILED');
    equal(e.detail?.backend, fb.name, `'${kind}': detail.backend`);
    if (kind === 'device') equal(e.detail?.status, DEVICE_STATUS, `'${kind}': detail.status`);
    if (kind === 'partial') equal(e.detail?.bytesDone, size / 2, `'${kind}': detail.bytesDone`);
    if (kind === 'error-before' || kind === 'error-after') {
      equal(e.detail?.errno, EIO, `'${kind}': detail.errno`);
      ok(/EIO/.test(e.message), `'${kind}': the message names the errno (${e.message})`);
    }
    if (kind === 'error-before' || kind === 'device') await expectRegion(dst, `'${kind}': destination of a descriptor that never ran`);
    if (ctx.claims('crc32c', c.src, null)) await refused(code, () => m.crc32c(src.region), `a single crc32c with '${kind}' injected`);
    await expectNoLeaks(m, fb, `single operations with '${kind}'`);
  }
}

async function registerFailures(ctx: CaseContextApi, c: Combo): Promise<void> {
  const { m, fb } = await faulty(ctx, { rate: 1, kinds: ['register'] });
  const data = noise(8192, 81);
  const src = await ctx.fixture(m, c.src!, 8192, { contents: data });
  const dst = await watched(ctx, m, c.dst!, 8192, { contents: noise(8192, 82) });
  const published = ctx.published(m);
  const regions = m.stats().regions;
  for (let k = 0; k < 3; k++) {
    const e = await refused(ErrorCode.DEVICE_ERROR, () => m.batch().copy(dst.f.region, src.region).copy(dst.f.region, src.region, { length: 10 }).submit(), `submit with registration failing (${k})`);
    ok(causeChainHas(e, (x) => x instanceof Error && x.name === 'InjectedFault'), `the rejection's cause chain holds the injected fault (${String(e.cause)})`);
    equal(e.detail?.backend, fb.name, 'detail.backend of the registration failure');
  }
  await refused(ErrorCode.DEVICE_ERROR, () => m.copy(dst.f.region, src.region), 'a single copy with registration failing');
  equal(ctx.published(m), published, 'descriptors published after registration failures');
  equal(fb.faults.forwarded, 0, 'descriptors that reached the engine');
  await expectRegion(dst, 'destination after registration failures');
  // Nothing stays pinned: a spare region releases at once, and the same regions work once registration does.
  const spare = await ctx.fixture(m, c.src!, 64);
  await refused(ErrorCode.DEVICE_ERROR, () => m.copy(dst.f.region, spare.region, { length: 64 }), 'registration failing for a spare region');
  await within(spare.region.release(), 1000, 'releasing a region whose registration failed');
  equal(m.stats().regions, regions, 'registrations after releasing the spare region');
  fb.faults.set({ rate: 0 });
  await m.copy(dst.f.region, src.region);
  await expectRegion(dst, 'destination after the retry', data);
  equal(fb.faults.counts().register, 5, 'registration faults injected');
  await expectNoLeaks(m, fb, 'registration failures');
}

async function doorbellFailures(ctx: CaseContextApi, c: Combo): Promise<void> {
  const { m, fb } = await faulty(ctx, { rate: 0, kinds: ['doorbell'] });
  const size = 64 * 1024;
  const data = noise(size, 91);
  const src = await ctx.fixture(m, c.src!, size, { contents: data });
  const dst = await watched(ctx, m, c.dst!, size, { contents: noise(size, 92) });
  const other = await ctx.fixture(m, c.dst!, 64);
  fb.faults.set({ rate: 1 });
  const out = await settle(m.batch().copy(dst.f.region, src.region).submit());
  fb.faults.set({ rate: 0 });
  equal(fb.faults.counts().doorbell, 1, 'doorbell faults injected');
  let report: BatchResult | undefined;
  if (out.ok) report = out.value;
  else {
    const e = out.error;
    ok(isDatamoverError(e), `a doorbell failure rejects with a DatamoverError, got ${String(e)}`);
    ok(causeChainHas(e, (x) => x instanceof Error && x.name === 'InjectedFault') || (e as DatamoverError).code === ErrorCode.BATCH_FAILED, `the rejection carries the injected fault (${String(e)})`);
    report = (e as DatamoverError).result;
  }
  const settled = await dst.f.read();
  // Later work rings the doorbell again: whatever the settled Promise reported must still hold.
  await m.fill(other.region, 1).catch(() => undefined); // a Mover may also refuse further work on a failed session
  await sleep(20);
  const later = await dst.f.read();
  const wasDone = report?.status(0) === 'done';
  bytesEqual(settled, wasDone ? data : dst.bytes, `destination when the Promise settled (${out.ok ? 'resolved' : `rejected: ${String(out.error)}`}; descriptor reported ${report?.status(0) ?? 'nothing'})`);
  bytesEqual(later, settled, 'destination after later work rang the doorbell: the batch that settled must not run afterwards');
  await expectNoLeaks(m, fb, 'doorbell failures');
}

async function delaysAndReordering(ctx: CaseContextApi, c: Combo): Promise<void> {
  const { m, fb } = await faulty(ctx, { rate: 0.5, kinds: ['delay', 'reorder'], window: 128, maxDelayMs: 3 });
  const rng = ctx.rng();
  const srcData = noise(1 << 20, 93);
  const src = await ctx.fixture(m, c.src!, srcData.length, { contents: srcData });
  const dst = await watched(ctx, m, c.dst!, 4 << 20, {});
  const expected = dst.bytes.slice();
  const batches: Promise<BatchResult>[] = [];
  let cursor = 0;
  for (let k = 0; k < 6; k++) {
    const b = m.batch();
    for (let i = 0; i < 800; i++) {
      const len = rng.int(1, 1024);
      const so = rng.int(0, srcData.length - len);
      b.copy(dst.f.region, src.region, { srcOffset: so, dstOffset: cursor, length: len });
      expected.set(srcData.subarray(so, so + len), cursor);
      cursor += len;
    }
    batches.push(b.submit());
  }
  for (const r of await Promise.all(batches)) equal(r.ok, true, 'a batch under delays and reordering');
  await expectRegion(dst, 'destination of 4,800 copies under delays and reordering', expected);
  // A fenced chain: only right if fences hold under reordering.
  const chunk = 1000;
  const n = 64;
  const chainData = noise(chunk, 94);
  const chain = await watched(ctx, m, c.dst!, chunk * (n + 1), { contents: new Uint8Array(chunk * (n + 1)) });
  const seedSrc = await ctx.fixture(m, c.src!, chunk, { contents: chainData });
  const b = m.batch().copy(chain.f.region, seedSrc.region, { length: chunk });
  const sameKind = ctx.claims('copy', c.dst, c.dst);
  if (sameKind) for (let k = 0; k < n; k++) b.copy(chain.f.region, chain.f.region, { srcOffset: k * chunk, dstOffset: (k + 1) * chunk, length: chunk, fence: true });
  else ctx.skipCheck('fenced chain under reordering', `needs copy ${c.dst}→${c.dst}`);
  equal((await b.submit()).ok, true, 'fenced chain under reordering');
  if (sameKind) {
    const want = new Uint8Array(chunk * (n + 1));
    for (let k = 0; k <= n; k++) want.set(chainData, k * chunk);
    await expectRegion(chain, 'fenced chain under reordering', want);
  }
  const counts = fb.faults.counts();
  ok(counts.delay > 0 && counts.reorder > 0, `delays (${counts.delay}) and reorderings (${counts.reorder}) were injected`);
  ctx.note(`${counts.delay} delayed notifications, ${counts.reorder} shuffled runs`);
  await expectNoLeaks(m, fb, 'delays and reordering');
}

async function abortsUnderDelays(ctx: CaseContextApi, c: Combo): Promise<void> {
  const { m, fb } = await faulty(ctx, { rate: 0.3, kinds: ['delay', 'reorder'], window: 32, maxDelayMs: 2 });
  const unit = 512;
  const n = 4000;
  const srcData = noise(unit * 8, 95);
  const sentinel = noise(unit * n, 96);
  const src = await ctx.fixture(m, c.src!, srcData.length, { contents: srcData });
  const dst = await ctx.fixture(m, c.dst!, unit * n, { contents: sentinel });
  const rng = ctx.rng();
  let notRun = 0;
  for (let t = 0; t < 6; t++) {
    await dst.write(sentinel);
    const b = m.batch();
    for (let i = 0; i < n; i++) b.copy(dst.region, src.region, { srcOffset: (i % 8) * unit, dstOffset: i * unit, length: unit });
    const ac = new AbortController();
    const p = b.submit({ signal: ac.signal });
    setTimeout(() => ac.abort(), rng.next() * 6);
    const out = await settle(p);
    const result = out.ok ? out.value : resultOf(out.error, `trial ${t}`);
    if (!out.ok) ok(isDatamoverError(out.error) && out.error.code === ErrorCode.ABORTED, `trial ${t}: ABORTED expected, got ${String(out.error)}`);
    equal(result.counts.failed + result.counts.pending, 0, `trial ${t}: failed + pending`);
    notRun += result.counts.notRun;
    const got = await dst.read();
    for (let i = 0; i < n; i++) {
      const want = result.status(i) === 'done' ? srcData.subarray((i % 8) * unit, (i % 8 + 1) * unit) : sentinel.subarray(i * unit, (i + 1) * unit);
      const at = got.subarray(i * unit, (i + 1) * unit);
      if (!Buffer.from(at).equals(Buffer.from(want))) bytesEqual(at, want, `trial ${t}: descriptor ${i} (${result.status(i)})`);
    }
    await sleep(10);
    await m.nop().catch(() => undefined);
    bytesEqual(await dst.read(), got, `trial ${t}: destination quiescent after the Promise settled`);
  }
  ok(notRun > 0, 'some descriptors were cancelled');
  ctx.note(`${notRun} descriptors cancelled over 6 trials`);
  await expectNoLeaks(m, fb, 'aborts under delays');
}

async function droppedDescriptors(ctx: CaseContextApi, c: Combo): Promise<void> {
  const { m, fb } = await faulty(ctx, { rate: 0.1, kinds: ['not-run'] });
  const p = await program(ctx, m, c, 400);
  const codes = new Set<string>();
  for (let t = 0; t < 3; t++) {
    const from = fb.faults.log.length;
    const base = ctx.published(m);
    const out = await settle(p.submit(m));
    const dropped = faultsOf(fb, from, base, p.n);
    if (dropped.size === 0) continue;
    if (out.ok) fail(`a batch resolved as success although the engine dropped ${dropped.size} of its descriptors`);
    const e = out.error as DatamoverError;
    codes.add(e.code);
    const result = resultOf(e, 'dropped descriptors');
    const got = await p.read();
    for (let i = 0; i < p.n; i++) p.check(result, i, dropped.get(i), `trial ${t}`, got);
    await p.reset();
  }
  ok(fb.faults.counts()['not-run'] > 0, 'descriptors were dropped');
  ctx.note(`rejection code(s) for dropped descriptors: ${[...codes].join(', ')} (nobody aborted these batches)`);
  await expectNoLeaks(m, fb, 'dropped descriptors');
}

function fdCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

async function longFaultyRun(ctx: CaseContextApi, copies: Combo[]): Promise<void> {
  const fds = fdCount();
  const { m, fb } = await faulty(ctx, { rate: 0.05 });
  const programs: Program[] = [];
  for (const c of claimed(ctx.caps)) {
    if (c.op === 'nop' || missingKind(c, (k) => ctx.hasKind(k))) continue;
    programs.push(await program(ctx, m, c, 200));
  }
  let faults = 0;
  let registerFaults = 0;
  for (let k = 0; k < 40; k++) {
    const p = programs[k % programs.length]!;
    try {
      faults += (await checkedRun(ctx, m, fb, p, `faulty run ${k}`)).faults;
    } catch (e) {
      // A registration fault refuses the whole submission before anything is queued.
      if (isDatamoverError(e) && e.code === ErrorCode.DEVICE_ERROR && causeChainHas(e, (x) => x instanceof Error && x.name === 'InjectedFault')) registerFaults++;
      else throw e;
    }
  }
  const st = m.stats().backends[0]!;
  equal(st.submitted, st.done + st.failed + st.notRun, "the Mover's counters: every submitted descriptor accounted for");
  ok(faults > 0, 'faults were injected');
  ctx.note(`${faults} descriptor faults and ${registerFaults} registration faults over 40 batches cycling through ${programs.length} claimed combinations (first copy: ${comboLabel(copies[0]!)}); injected ${JSON.stringify(fb.faults.counts())}`);
  await expectNoLeaks(m, fb, 'a long faulty run');
  // Release every fixture now, so their files close, then compare file descriptors.
  if (fds !== undefined) {
    await sleep(5);
    const after = fdCount()!;
    ok(after - fds <= programs.length * 2 + 2, `file descriptors: ${fds} before, ${after} after close`);
  }
}
