/**
 * Lifetime cases: releasing and moving regions while descriptors that name them are in flight,
 * closing a Mover with work in flight (waiting, and aborting), garbage-collector pressure while
 * engines read and write JS-owned memory, 10,000 register/deregister cycles per kind with
 * bounded RSS and file descriptors (no leak), the slice tree per kind, and the collection of
 * dropped region handles and of a Mover dropped unclosed.
 */
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ErrorCode, Mover, type Capabilities, type Region, type SpaceKind } from '@datamover/core';
import { bytesEqual, equal, fail, isDatamoverError, ok, refused, resultOf, settle, sleep, within } from '../check.js';
import { crc32c, MiB, noise } from '../data.js';
import type { CaseContextApi, CaseDef } from '../types.js';
import { claimed, comboLabel, copyCombos, missingKind, type Combo } from './common.js';

export function lifetimeCases(caps: Capabilities, has: (k: SpaceKind) => boolean): CaseDef[] {
  const cases: CaseDef[] = [];
  const copies = copyCombos(caps, has);
  for (const c of copies) {
    cases.push({ group: 'lifetimes', name: `${comboLabel(c)}: release while in flight is deferred until the work settles`, timeoutMs: 60_000, run: (ctx) => releaseInFlight(ctx, c) });
    cases.push({ group: 'lifetimes', name: `${comboLabel(c)}: move() while in flight hands over ownership, the work carries on`, timeoutMs: 60_000, run: (ctx) => moveInFlight(ctx, c) });
  }
  const first = copies[0];
  const noCopy = 'the backend claims no copy between kinds the suite can create';
  cases.push({ group: 'lifetimes', name: 'close() with work in flight waits for it; close({ abort }) cancels it consistently', timeoutMs: 60_000, ...(first ? {} : { skip: noCopy }), run: (ctx) => closeInFlight(ctx, first!) });
  const hostCopy = caps.operations.some((o) => o.op === 'copy' && o.src === 'host' && o.dst === 'host');
  cases.push({ group: 'lifetimes', name: 'GC pressure during transfers: JS-owned memory stays alive while engines use it', timeoutMs: 90_000, ...(hostCopy ? {} : { skip: 'needs copy host→host' }), run: (ctx) => gcPressure(ctx) });
  const kinds = [...new Set(claimed(caps).flatMap((c) => [c.src, c.dst]).filter((k): k is SpaceKind => k !== null))];
  for (const k of kinds) {
    const skip = missingKind({ op: 'nop', src: k, dst: null }, has);
    cases.push({ group: 'lifetimes', name: `${k}: 10,000 register/deregister cycles, bounded RSS and file descriptors`, timeoutMs: 180_000, ...(skip ? { skip } : {}), run: (ctx) => cycles(ctx, k) });
    cases.push({ group: 'lifetimes', name: `${k}: slices form a tree: release refused while a slice of any depth lives, move() hands the slices over`, timeoutMs: 30_000, ...(skip ? { skip } : {}), run: (ctx) => sliceTree(ctx, k) });
  }
  const claims: Claims = (op, src, dst) => caps.operations.some((o) => o.op === op && o.src === src && o.dst === dst);
  const oneByte = 'needs fill, crc32c or writeImm on';
  cases.push({ group: 'lifetimes', name: 'dropped region handles are collected: registrations released, after the work naming them settled', timeoutMs: 60_000, ...(touchOp(claims, 'host') ? {} : { skip: `${oneByte} host` }), run: (ctx) => droppedHandles(ctx, hostCopy) });
  const touchable = kinds.find((k) => touchOp(claims, k) && !missingKind({ op: 'nop', src: k, dst: null }, has));
  cases.push({ group: 'lifetimes', name: 'a Mover dropped unclosed is collected and its engines closed', timeoutMs: 60_000, ...(touchable ? {} : { skip: `${oneByte} a kind the suite can create` }), run: (ctx) => droppedMover(ctx, touchable!) });
  return cases;
}

/** A batch of `count` copies of `size` bytes src → dst, long enough to still be in flight after submit() returns. */
function longBatch(m: Mover, dst: Region, src: Region, size: number, count: number) {
  const b = m.batch();
  for (let i = 0; i < count; i++) b.copy(dst, src, { length: size });
  return b;
}

async function releaseInFlight(ctx: CaseContextApi, c: Combo): Promise<void> {
  const m = await ctx.open();
  const size = 1 * MiB;
  const data = noise(size, 41);
  const src = await ctx.fixture(m, c.src!, size, { contents: data });
  const dst = await ctx.fixture(m, c.dst!, size);
  const regions = m.stats().regions;
  const done = longBatch(m, dst.region, src.region, size, 48).submit();
  const releasedSrc = src.region.release();
  const releasedDst = dst.region.release();
  equal(src.region.live, false, 'a released handle is dead at once');
  await refused(ErrorCode.REGION_RELEASED, () => m.copy(dst.region, src.region), `${comboLabel(c)}: using regions released while in flight`);
  // (The batch cannot have settled yet: completions are only consumed on a later turn.)
  equal(m.stats().regions, regions, 'registrations held while work naming them is in flight');
  const r = await done;
  equal(r.ok, true, 'the in-flight batch completes');
  await within(Promise.all([releasedSrc, releasedDst]), 5000, 'release() of regions once their work settled');
  equal(m.stats().regions, regions - 2, 'registrations freed after the work settled');
  bytesEqual(await dst.read(), data, `${comboLabel(c)}: destination of the batch whose regions were released mid-flight`);
}

async function moveInFlight(ctx: CaseContextApi, c: Combo): Promise<void> {
  const m = await ctx.open();
  const size = 1 * MiB;
  const data = noise(size, 43);
  const src = await ctx.fixture(m, c.src!, size, { contents: data });
  const dst = await ctx.fixture(m, c.dst!, size);
  const done = longBatch(m, dst.region, src.region, size, 48).submit();
  const s2 = src.region.move();
  const d2 = dst.region.move();
  await refused(ErrorCode.USE_AFTER_MOVE, () => m.copy(dst.region, s2), `${comboLabel(c)}: the moved-from destination handle`);
  await refused(ErrorCode.USE_AFTER_MOVE, () => m.copy(d2, src.region), `${comboLabel(c)}: the moved-from source handle`);
  // The new handles are usable at once, even while the old batch is in flight.
  const meanwhile = m.copy(d2, s2, { length: 4096 });
  equal((await done).ok, true, 'the batch submitted before the move completes');
  await meanwhile;
  bytesEqual(await dst.read(), data, `${comboLabel(c)}: destination after moves mid-flight`);
  const s3 = s2.move();
  await s3.release();
  await d2.release();
  equal(s3.live || d2.live, false, 'released moved handles are dead');
}

async function closeInFlight(ctx: CaseContextApi, c: Combo): Promise<void> {
  const size = 256 * 1024;
  const data = noise(size, 47);
  {
    const m = await ctx.open();
    const src = await ctx.fixture(m, c.src!, size, { contents: data });
    const dst = await ctx.fixture(m, c.dst!, size);
    const p = longBatch(m, dst.region, src.region, size, 200).submit();
    await m.close();
    const r = await settle(p);
    ok(r.ok && r.value.ok, `${comboLabel(c)}: close() lets in-flight work finish (${r.ok ? 'resolved' : String(r.error)})`);
    bytesEqual(await dst.read(), data, `${comboLabel(c)}: destination after close()`);
    await refused(ErrorCode.MOVER_CLOSED, () => m.copy(dst.region, src.region), 'work after close()');
    equal(m.stats().regions, 0, 'registrations after close()');
  }
  {
    const m = await ctx.open();
    const unit = 4096;
    const n = 3 * (ctx.backend().ringEntries ?? 4096);
    const src = await ctx.fixture(m, c.src!, unit * 16, { contents: noise(unit * 16, 48) });
    const sentinel = noise(unit * n, 49);
    const dst = await ctx.fixture(m, c.dst!, unit * n, { contents: sentinel });
    const b = m.batch();
    for (let i = 0; i < n; i++) b.copy(dst.region, src.region, { srcOffset: (i % 16) * unit, dstOffset: i * unit, length: unit });
    const p = b.submit();
    await m.close({ abort: true });
    const out = await settle(p);
    if (out.ok) ctx.note('close({ abort }) came after the batch had finished');
    else {
      ok(isDatamoverError(out.error) && out.error.code === ErrorCode.ABORTED, `close({ abort }) rejects in-flight work with ABORTED, got ${String(out.error)}`);
      const r = resultOf(out.error, 'close({ abort })');
      equal(r.counts.failed + r.counts.pending, 0, 'close({ abort }): failed + pending');
      const got = await dst.read();
      const srcData = noise(unit * 16, 48);
      for (let i = 0; i < n; i++) {
        const want = r.status(i) === 'done' ? srcData.subarray((i % 16) * unit, (i % 16 + 1) * unit) : sentinel.subarray(i * unit, (i + 1) * unit);
        const at = got.subarray(i * unit, (i + 1) * unit);
        if (!Buffer.from(at).equals(Buffer.from(want))) bytesEqual(at, want, `close({ abort }): descriptor ${i} (${r.status(i)})`);
      }
      await sleep(20);
      bytesEqual(await dst.read(), got, 'close({ abort }): destination quiescent after the Promise settled');
      ctx.note(`close({ abort }): ${r.counts.done} done, ${r.counts.notRun} not run`);
    }
    equal(m.stats().regions, 0, 'registrations after close({ abort })');
  }
}

export function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function gcPressure(ctx: CaseContextApi): Promise<void> {
  const gc = gcFunction();
  const m = await ctx.open();
  const rounds = 24;
  const per = 32;
  const chunk = 64 * 1024;
  const dstView = new Uint8Array(new SharedArrayBuffer(rounds * per * chunk));
  const dst = m.wrap(dstView);
  const want: number[] = [];
  const inFlight: Promise<unknown>[] = [];
  for (let r = 0; r < rounds; r++) {
    const b = m.batch();
    const transient: Region[] = [];
    for (let i = 0; i < per; i++) {
      const data = noise(chunk, r * per + i);
      want.push(crc32c(data));
      let region: Region;
      switch ((r + i) % 3) {
        case 0:
          region = m.wrap(data); // the region holds the only reference to this ArrayBuffer
          break;
        case 1: {
          const big = new Uint8Array(chunk * 2);
          big.set(data, 17);
          region = m.wrap(big.subarray(17, 17 + chunk)); // a view of an otherwise unreachable buffer
          break;
        }
        default:
          region = m.alloc(chunk, { alignment: 16 }); // engine- or V8-allocated memory
          region.bytes().set(data);
      }
      transient.push(region);
      b.copy(dst, region, { dstOffset: (r * per + i) * chunk, length: chunk });
    }
    inFlight.push(b.submit());
    // Drop every JS reference but the region handles, release them mid-flight, and collect.
    for (const region of transient) void region.release();
    transient.length = 0;
    let garbage: unknown[] = [];
    for (let k = 0; k < 200; k++) garbage.push(new ArrayBuffer(64 * 1024));
    garbage = [];
    gc();
    if (r % 4 === 0) await sleep(0);
  }
  for (let k = 0; k < 3; k++) {
    gc();
    await sleep(1);
  }
  const results = await Promise.allSettled(inFlight);
  const bad = results.find((x) => x.status === 'rejected') as PromiseRejectedResult | undefined;
  if (bad) fail(`a batch under GC pressure failed: ${String(bad.reason)}`, bad.reason);
  for (let k = 0; k < want.length; k++) {
    const got = crc32c(dstView.subarray(k * chunk, (k + 1) * chunk));
    if (got !== want[k]) fail(`copy ${k} under GC pressure: destination checksum ${got.toString(16)}, expected ${want[k]!.toString(16)}`);
  }
  equal(m.stats().regions, 1, 'registrations left (the destination only)');
  ctx.note(`${want.length} copies from memory reachable only through regions released mid-flight, gc() between batches`);
}

/** Page-aligned memory from the engine's allocator where it has one, else plain host memory. */
function allocAny(m: Mover, size: number): Region {
  try {
    return m.alloc(size);
  } catch (e) {
    if (isDatamoverError(e) && e.code === ErrorCode.UNSUPPORTED_OPERATION) return m.alloc(size, { alignment: 16 });
    throw e;
  }
}

function fdCount(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

async function cycles(ctx: CaseContextApi, kind: SpaceKind): Promise<void> {
  const provider = ctx.provider(kind)!;
  const gc = gcFunction();
  const m = await ctx.open();
  const total = ctx.trim?.cycles ?? 10_000;
  if (total < 10_000) ctx.note(`trimmed to ${total} cycles: ${ctx.trim!.reason}`);
  const warm = Math.min(1000, Math.floor(total / 10));
  const size = 64 * 1024;
  const touch = toucher(ctx, kind);
  const baseRegions = m.stats().regions;
  const cycle = async (i: number) => {
    let region: Region;
    let dispose: (() => Promise<void>) | undefined;
    if (kind === 'host' && i % 2 === 1) region = allocAny(m, size);
    else {
      const f = await provider.create(m, size, {});
      region = f.region;
      dispose = () => f.dispose();
    }
    await touch(m, region, i);
    await region.release();
    await dispose?.();
  };
  const measure = async () => {
    await collect(gc);
    return { rss: process.memoryUsage().rss, fds: fdCount() };
  };
  const t0 = performance.now();
  for (let i = 0; i < warm; i++) await cycle(i);
  const before = await measure();
  for (let i = warm; i < total; i++) await cycle(i);
  const after = await measure();
  const ms = performance.now() - t0;
  equal(m.stats().regions, baseRegions, `${kind}: registrations left after ${total} cycles`);
  equal(m.stats().registeredBytes, 0, `${kind}: registered bytes left`);
  const grew = after.rss - before.rss;
  const leakIfAll = (total - warm) * size;
  const bound = Math.max(48 * MiB, Math.floor(leakIfAll / 8));
  ctx.note(`${kind}: ${total} cycles in ${Math.round(ms)} ms; RSS ${(before.rss / MiB).toFixed(1)} → ${(after.rss / MiB).toFixed(1)} MiB (bound +${(bound / MiB).toFixed(0)} MiB; leaking every region would add ${(leakIfAll / MiB).toFixed(0)} MiB); fds ${before.fds ?? '?'} → ${after.fds ?? '?'}`);
  // .ci/sanitized sets DATAMOVER_SANITIZE=1: ASan's quarantine (256 MiB) keeps freed memory resident.
  if (process.env.DATAMOVER_SANITIZE === '1') ctx.skipCheck('RSS bounded', 'AddressSanitizer keeps freed memory in its quarantine');
  else ok(grew < bound, `${kind}: RSS grew by ${(grew / MiB).toFixed(1)} MiB over ${total - warm} cycles (bound ${(bound / MiB).toFixed(0)} MiB)`);
  if (before.fds !== undefined && after.fds !== undefined) ok(after.fds - before.fds <= 2, `${kind}: open file descriptors grew from ${before.fds} to ${after.fds}`);
  else ctx.skipCheck('file descriptors bounded', '/proc/self/fd is not readable here');
}

type Touch = (m: Mover, r: Region, v: number) => Promise<unknown>;
type Claims = (op: Combo['op'], src: SpaceKind | null, dst: SpaceKind | null) => boolean;

/**
 * A one-byte operation the backend claims on `kind`, which registers the region with the engine,
 * as a function of (Mover, region, a value); undefined when it claims none.
 */
function touchOp(claims: Claims, kind: SpaceKind): Touch | undefined {
  if (claims('fill', null, kind)) return (m, r, v) => m.fill(r, v & 0xff, { length: 1 });
  if (claims('crc32c', kind, null)) return (m, r) => m.crc32c(r, { length: 1 });
  if (claims('writeImm', null, kind)) return (m, r, v) => m.writeImmediate(r, v & 0xff, { width: 1 });
  return undefined;
}

function toucher(ctx: CaseContextApi, kind: SpaceKind): Touch {
  return touchOp((op, src, dst) => ctx.claims(op, src, dst), kind) ?? ctx.skip(`needs fill, crc32c or writeImm on ${kind} so the region is registered with the engine`);
}

/** Checks a handle is usable: by a one-byte operation where the backend claims one on `kind`, else by `live` (noted once). */
function user(ctx: CaseContextApi, m: Mover, kind: SpaceKind): (r: Region, v: number, what: string) => Promise<void> {
  const touch = touchOp((op, src, dst) => ctx.claims(op, src, dst), kind);
  if (!touch) ctx.skipCheck(`${kind}: running work on the slices`, `needs fill, crc32c or writeImm on ${kind}; checked through region.live instead`);
  return async (r, v, what) => {
    if (touch) await touch(m, r, v);
    else ok(r.live, `${what} is live`);
  };
}

/** Collects, then lets the event loop run the finalizers; `until` ends it early, else three rounds. */
async function collect(gc: () => void, until?: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  for (let k = 0; until ? !until() && performance.now() < end : k < 3; k++) {
    gc();
    await sleep(5);
  }
}

async function refusedBusy(f: () => unknown, slices: number, what: string): Promise<void> {
  const e = await refused(ErrorCode.REGION_BUSY, f, what);
  equal(e.detail?.['slices'], slices, `${what}: live slices named in the error's detail`);
}

async function sliceTree(ctx: CaseContextApi, kind: SpaceKind): Promise<void> {
  const m = await ctx.open();
  const use = user(ctx, m, kind);
  const base = m.stats().regions;
  const root = (await ctx.fixture(m, kind, 64 * 1024)).region;
  const s = root.slice(4096, 8192);
  const ss = s.slice(0, 4096);
  await refusedBusy(() => s.release(), 1, `${kind}: releasing a slice that has a live slice`);
  await refusedBusy(() => root.release(), 1, `${kind}: releasing a region whose slice has a live slice`);
  await use(ss, 1, `${kind}: a slice of a slice`);
  const s2 = s.move();
  await refusedBusy(() => s2.release(), 1, `${kind}: releasing a moved slice whose own slice lives`);
  await refused(ErrorCode.USE_AFTER_MOVE, () => s.release(), `${kind}: releasing the moved-from slice handle`);
  await use(ss, 2, `${kind}: a slice whose parent was moved (not released)`);
  await ss.release();
  await refused(ErrorCode.REGION_RELEASED, () => ss.slice(0, 1), `${kind}: slicing a released slice`);
  await s2.release();
  const r2 = root.move();
  const t = r2.slice(0, 4096);
  const u = r2.slice(4096, 4096);
  await refusedBusy(() => r2.release(), 2, `${kind}: releasing a moved region with two live slices`);
  await use(t, 4, `${kind}: a slice of a moved region`);
  await t.release();
  await u.release();
  await r2.release();
  equal(m.stats().regions, base, `${kind}: registrations after the tree was released leaf first`);
}

/** Wraps `n` buffers of `size` bytes, runs `touch` on each and drops the handles (returning, so no frame keeps one). */
async function dropWraps(m: Mover, n: number, size: number, touch: Touch): Promise<void> {
  for (let i = 0; i < n; i++) await touch(m, m.wrap(new Uint8Array(size)), i);
}

/** Submits `n` copies dst ← a wrap of `data` whose handle nothing but the batch keeps. */
function copiesFromDropped(m: Mover, dst: Region, data: Uint8Array, n: number): Promise<unknown> {
  const b = m.batch();
  const src = m.wrap(data);
  for (let i = 0; i < n; i++) b.copy(dst, src);
  return b.submit();
}

async function droppedHandles(ctx: CaseContextApi, hostCopy: boolean): Promise<void> {
  const touch = toucher(ctx, 'host');
  const gc = gcFunction();
  const m = await ctx.open();
  await collect(gc);
  const base = m.stats();
  const n = 200;
  await dropWraps(m, n, 64 * 1024, touch);
  await collect(gc, () => m.stats().regions === base.regions);
  const after = m.stats();
  equal(after.regions, base.regions, 'registrations after dropping 200 wraps and collecting');
  equal(after.registeredBytes, base.registeredBytes, 'registered bytes after collecting');
  equal(after.collected.regions - base.collected.regions, n, 'stats().collected.regions counts the dropped wraps');
  if (!hostCopy) {
    ctx.skipCheck('a dropped handle with work in flight', 'needs copy host→host');
    return;
  }
  const size = 8 * MiB;
  const data = noise(size, 53);
  const view = new Uint8Array(size);
  const dst = m.wrap(view);
  const done = settle(copiesFromDropped(m, dst, data, 16));
  let settled = false;
  void done.then(() => (settled = true));
  let during = Infinity;
  do {
    gc();
    if (!settled) during = Math.min(during, m.stats().regions); // the first time, before any await: always in flight
    await sleep(1);
  } while (!settled);
  const r = await done;
  ok(r.ok, `copies from a handle dropped in flight complete (${r.ok ? '' : String(r.error)})`);
  bytesEqual(view, data, 'destination of copies whose source handle was dropped in flight');
  equal(during, base.regions + 2, 'registrations while copies from a dropped handle were in flight (fewest seen)');
  await collect(gc, () => m.stats().regions === base.regions + 1);
  equal(m.stats().regions, base.regions + 1, 'the dropped source is released once its copy settled');
}

/** Opens a Mover the case does not keep, runs `touch` on a region of `kind`, and drops it. */
async function openAndDrop(ctx: CaseContextApi, kind: SpaceKind, touch: Touch): Promise<WeakRef<Mover>> {
  const m = await Mover.open({ backends: [ctx.backend()] });
  await touch(m, (await ctx.fixture(m, kind, 4096)).region, 1);
  return new WeakRef(m);
}

async function droppedMover(ctx: CaseContextApi, kind: SpaceKind): Promise<void> {
  const touch = toucher(ctx, kind);
  const gc = gcFunction();
  const keeper = await ctx.open();
  const before = keeper.stats().collected.movers;
  const ref = await openAndDrop(ctx, kind, touch);
  // (Not deref() in the loop: it keeps the target alive until the current job ends, across gc().)
  await collect(gc, () => keeper.stats().collected.movers > before, 10_000);
  ok(ref.deref() === undefined, 'a Mover nothing references is collected (its engines and regions do not keep it)');
  ok(keeper.stats().collected.movers > before, `stats().collected.movers counts the Mover collected unclosed (${before} → ${keeper.stats().collected.movers})`);
}
