/**
 * Transfer plans (`mover.transfer()`) over the target and its companion backends: for every pair
 * of kinds they copy between and the suite can create, the bytes land intact across more chunks
 * than the staging pool has buffers (with and without `integrity: 'crc32c'`), guard bands
 * untouched, the plan's counts consistent; a pipeline cancelled mid-way leaves the destination
 * exactly as its report says and quiescent; a fault injected in the target's hop of a staged plan
 * rejects with that hop, and nothing from it on counts as moved.
 */
import type { Backend, Capabilities, DatamoverError, Mover, Plan, Region, SpaceKind, TransferResult } from '@datamover/core';
import { bytesEqual, equal, fail, isDatamoverError, ok, settle, sleep } from '../check.js';
import { noise } from '../data.js';
import { faultInjecting } from '../faults.js';
import type { CaseContextApi, CaseDef, Fixture } from '../types.js';
import { expectRegion, watched } from './common.js';

/** A small pool, so modest transfers still run many chunks. */
const STAGING = { bytes: 16 << 10, count: 2 };
const SIZE = 5 * STAGING.bytes + 77;

export function planCases(caps: Capabilities, companions: readonly Backend[], has: (k: SpaceKind) => boolean): CaseDef[] {
  const kinds = new Set<SpaceKind>();
  for (const c of [caps, ...companions.map((b) => b.capabilities())]) for (const o of c.operations) if (o.op === 'copy') for (const k of [o.src, o.dst]) if (k) kinds.add(k);
  const usable = [...kinds].filter(has);
  const cases: CaseDef[] = [];
  for (const a of usable) {
    for (const b of usable) {
      cases.push({ group: 'plans', name: `transfer ${a}→${b}: bytes intact across chunks, with and without integrity`, timeoutMs: 60_000, run: (ctx) => content(ctx, a, b) });
    }
  }
  const none = usable.length === 0 ? { skip: 'the suite can create regions of none of the kinds' } : {};
  cases.push({ group: 'plans', name: 'a staged pipeline cancelled mid-way: the destination matches the report, quiescent', timeoutMs: 60_000, ...none, run: (ctx) => cancelMidPipeline(ctx, usable) });
  cases.push({ group: 'plans', name: "a fault injected in the target's hop of a staged plan: that hop rejects, nothing after it counts", timeoutMs: 60_000, ...none, run: (ctx) => faultInHop(ctx, usable) });
  return cases;
}

function open(ctx: CaseContextApi, backend?: Backend): Promise<Mover> {
  return ctx.open({ companions: ctx.companions(), staging: STAGING, ...(backend ? { backend } : {}) });
}

/** The plan, or a skip saying why there is none. */
function planOrSkip(ctx: CaseContextApi, m: Mover, dst: Region, src: Region): Plan {
  try {
    return m.plan(dst, src);
  } catch (e) {
    if (isDatamoverError(e) && e.code === 'UNREACHABLE') ctx.skip(`unreachable with these backends: ${String(e.detail?.explain).split('\n').slice(1).join('; ')}`);
    throw e;
  }
}

async function content(ctx: CaseContextApi, a: SpaceKind, b: SpaceKind): Promise<void> {
  const m = await open(ctx);
  const data = noise(SIZE, 0x91a5);
  const src = await ctx.fixture(m, a, SIZE, { contents: data });
  const dst = await watched(ctx, m, b, SIZE, { contents: noise(SIZE, 0x5e7), guard: 64 });
  const plan = planOrSkip(ctx, m, dst.f.region, src.region);
  // One host copy per staging step, and one per hop whose engine bounces through host itself.
  const bounced = plan.hops.filter((h) => h.hostBounce !== undefined);
  ok(bounced.every((h) => h.stagesThroughHost && plan.explain().includes(h.hostBounce!)), `a hop that bounces through host says so:\n${plan.explain()}`);
  equal(plan.hostCopies, plan.hops.length - 1 + bounced.length, 'hostCopies of a plan');
  equal(plan.stagedBytes, plan.hostCopies * SIZE, 'stagedBytes of a plan');
  ok(plan.explain().includes(`hop ${plan.hops.length}: ${plan.hops.at(-1)!.backend}`), `explain() names every hop:\n${plan.explain()}`);
  const r = await m.transfer(dst.f.region, src.region);
  ok(r.ok && r.bytesMoved === SIZE, `transfer report: ${r.bytesMoved} of ${SIZE} bytes moved`);
  await expectRegion(dst, `${a}→${b} destination`, data);
  await dst.f.write(dst.bytes);
  // Where no open backend can checksum the ends, integrity is refused, typed, before a byte moves.
  const checked = await settle(m.transfer(dst.f.region, src.region, { integrity: 'crc32c' }));
  const refused = !checked.ok && isDatamoverError(checked.error) && checked.error.code === 'UNSUPPORTED_OPERATION';
  if (refused) await expectRegion(dst, `${a}→${b} destination after a refused integrity transfer`, dst.bytes);
  else {
    ok(checked.ok && checked.value.ok, `transfer with integrity: ${checked.ok ? 'not ok' : String(checked.error)}`);
    await expectRegion(dst, `${a}→${b} destination (integrity: crc32c)`, data);
  }
  const runs = refused ? 1 : 2;
  const s = m.stats().plans;
  equal(s.run, runs, 'stats().plans.run');
  equal(s.hostCopies, runs * plan.hostCopies, 'stats().plans.hostCopies');
}

/** The first pair of kinds whose route stages through host, with its fixtures; skips when none does. */
async function stagedPair(ctx: CaseContextApi, m: Mover, kinds: readonly SpaceKind[], size: number, accept: (p: Plan) => boolean = () => true): Promise<{ src: Fixture; dst: Fixture; plan: Plan; data: Uint8Array }> {
  const data = noise(size, 0x77);
  for (const a of kinds) {
    for (const b of kinds) {
      const src = await ctx.fixture(m, a, size, { contents: data });
      const dst = await ctx.fixture(m, b, size, { contents: new Uint8Array(size) });
      let plan: Plan | undefined;
      try {
        plan = m.plan(dst.region, src.region);
      } catch (e) {
        if (!isDatamoverError(e) || e.code !== 'UNREACHABLE') throw e;
      }
      if (plan && plan.hops.length > 1 && accept(plan)) return { src, dst, plan, data };
      await src.dispose();
      await dst.dispose();
    }
  }
  return ctx.skip('no pair of these kinds needs a staged route with these backends (give the target companions)');
}

/** Checks every chunk of `dst` against the report: landed chunks hold the source, the rest are untouched (zero). */
async function expectReport(dst: Fixture, data: Uint8Array, r: TransferResult, what: string): Promise<void> {
  const got = await dst.read();
  for (let c = 0; c < r.chunks; c++) {
    const from = c * r.chunkBytes;
    const to = Math.min(from + r.chunkBytes, data.length);
    const landed = r.status(c, r.hops - 1) === 'done';
    if (landed && r.status(c, 0) !== 'done') fail(`${what}: chunk ${c} landed without its first hop`);
    if (landed || r.status(c, r.hops - 1) === 'not-run') bytesEqual(got.subarray(from, to), landed ? data.subarray(from, to) : new Uint8Array(to - from), `${what}: chunk ${c} (${r.status(c, r.hops - 1)})`);
  }
}

async function cancelMidPipeline(ctx: CaseContextApi, kinds: readonly SpaceKind[]): Promise<void> {
  const m = await open(ctx);
  const size = 64 * STAGING.bytes;
  const { src, dst, data } = await stagedPair(ctx, m, kinds, size);
  const ac = new AbortController();
  const p = settle(m.transfer(dst.region, src.region, { signal: ac.signal }));
  await sleep(1);
  ac.abort();
  const out = await p;
  if (out.ok) {
    ctx.note('the transfer finished before the abort took effect');
    bytesEqual(await dst.read(), data, 'destination of a transfer that finished');
    return;
  }
  const e = out.error as DatamoverError;
  equal(e.code, 'ABORTED', 'error code of an aborted transfer');
  const r = e.transfer ?? fail('an aborted transfer carries its report in error.transfer');
  await expectReport(dst, data, r, 'aborted transfer');
  const snapshot = await dst.read();
  await sleep(20);
  bytesEqual(await dst.read(), snapshot, 'destination after the aborted transfer settled (quiescent)');
}

async function faultInHop(ctx: CaseContextApi, kinds: readonly SpaceKind[]): Promise<void> {
  const target = ctx.backend().name;
  const faulty = faultInjecting(ctx.backend(), { rate: 1, kinds: ['error-before'] });
  const m = await open(ctx, faulty);
  const size = 8 * STAGING.bytes;
  const { src, dst, plan, data } = await stagedPair(ctx, m, kinds, size, (p) => p.hops.some((h) => h.backend === target));
  const hop = plan.hops.findIndex((h) => h.backend === target);
  const out = await settle(m.transfer(dst.region, src.region));
  if (out.ok) fail(`a transfer whose hop ${hop + 1} (${target}) fails every descriptor resolved`);
  const e = out.error as DatamoverError;
  equal(e.code, 'IO_ERROR', 'code of the failed hop (the injected EIO)');
  equal(e.detail?.['hop'], hop + 1, 'detail.hop of the failure');
  equal(e.detail?.['backend'], target, 'detail.backend of the failure');
  const r = e.transfer ?? fail('a failed transfer carries its report in error.transfer');
  equal(r.bytesMoved, 0, 'bytes reported moved when a hop fails every time');
  for (let c = 0; c < r.chunks; c++) ok(r.status(c, hop) !== 'done', `chunk ${c} hop ${hop + 1} reported done`);
  await expectReport(dst, data, r, 'transfer with a failing hop');
}
