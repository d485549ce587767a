/**
 * The transfer-plan cells (docs/plans.md): a pipelined two-hop plan, file → host → dax (soft reads
 * the file into staging, cxl writes staging into a MAP_SHARED dax mapping), against each of its hops
 * measured alone on the same memory in the same run. The target: the plan reaches ≥ 0.9×
 * its slowest hop. Each cell records the host copies per byte moved (1 for this route). The dax
 * stand-in is a MAP_SHARED file on /dev/shm where there is one, so disk writeback does not swamp
 * the ratio. Also the one-hop overhead: `transfer()` against `copy()` of the same regions,
 * interleaved pair by pair (target ≤ 1.05×), and `plan()` of that route (target ≤ 2 µs).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPackage } from './packages.js';
import { median } from './stats.js';

/** Median GB/s of `samples` runs of `f` moving `bytes` (one warm-up first). */
async function gbps(f, bytes, samples) {
  await f();
  const t = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return bytes / (median(t) * 1e6);
}

const ONE_HOP_SIZES = [64, 4096, 1 << 20];

/**
 * One-hop overhead on soft (host → host): per size, `pairs` pairs of one `copy()` then one
 * `transfer()` of the same regions, each timed alone, medians of each; and the mean time of a
 * `plan()` of the route over many calls.
 */
async function measureOneHop(core, soft, pairs) {
  const mover = await core.Mover.open({ backends: [soft.soft({ engine: 'native' })] });
  try {
    const oneHop = [];
    for (const size of ONE_HOP_SIZES) {
      const a = mover.alloc(size);
      const b = mover.alloc(size);
      const n = size >= 1 << 20 ? Math.max(50, pairs >> 4) : pairs;
      const copyMs = new Float64Array(n);
      const transferMs = new Float64Array(n);
      for (let i = 0; i < Math.min(n, 1000); i++) {
        await mover.copy(b, a);
        await mover.transfer(b, a);
      }
      for (let i = 0; i < n; i++) {
        let t0 = performance.now();
        await mover.copy(b, a);
        copyMs[i] = performance.now() - t0;
        t0 = performance.now();
        await mover.transfer(b, a);
        transferMs[i] = performance.now() - t0;
      }
      const copyUs = median(copyMs) * 1e3;
      const transferUs = median(transferMs) * 1e3;
      oneHop.push({ size, pairs: n, copyUs, transferUs, ratio: transferUs / copyUs });
      await Promise.all([a.release(), b.release()]);
    }
    const a = mover.alloc(4096);
    const b = mover.alloc(4096);
    const calls = 100_000;
    for (let i = 0; i < 10_000; i++) mover.plan(b, a);
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) mover.plan(b, a);
    const planUs = ((performance.now() - t0) * 1e3) / calls;
    return { oneHop, planUs };
  } finally {
    await mover.close();
  }
}

/**
 * Measures the plan cells for `sizes` and the one-hop overhead (`pairs` pairs per size); returns
 * { plans, overhead, skipped } where skipped says why no plan cell ran (cxl not built or unavailable).
 */
export async function measurePlans(sizes, samples, pairs, log) {
  let core, soft, cxl;
  try {
    [core, soft] = await Promise.all([importPackage('core'), importPackage('backend-soft')]);
  } catch (e) {
    return { plans: [], overhead: null, skipped: e.message };
  }
  const overhead = await measureOneHop(core, soft, pairs);
  for (const c of overhead.oneHop) log(`plan one-hop ${c.size} B: transfer ${c.transferUs.toFixed(2)} µs, copy ${c.copyUs.toFixed(2)} µs (${c.ratio.toFixed(3)}×)`);
  log(`plan() of a one-hop route: ${overhead.planUs.toFixed(3)} µs`);
  try {
    cxl = await importPackage('backend-cxl');
  } catch (e) {
    return { plans: [], overhead, skipped: e.message };
  }
  const probe = await cxl.cxl().probe();
  if (!probe.available) return { plans: [], overhead, skipped: `cxl: ${probe.reason}` };
  const dir = mkdtempSync(join(tmpdir(), 'dm-bench-plans-'));
  // The dax stand-in in memory (tmpfs) where there is one: no disk writeback in the host→dax hop.
  const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/dm-bench-plans-') : null;
  const daxOn = shm ? 'a MAP_SHARED file on /dev/shm (tmpfs)' : `a MAP_SHARED file in ${tmpdir()} (no /dev/shm here)`;
  const mover = await core.Mover.open({ backends: [soft.soft({ engine: 'native' }), cxl.cxl()] });
  const plans = [];
  try {
    for (const size of sizes) {
      const srcPath = join(dir, 'src.bin');
      const daxPath = join(shm ?? dir, 'dax.bin');
      writeFileSync(srcPath, Buffer.alloc(size, 0x5a));
      writeFileSync(daxPath, Buffer.alloc(size));
      const src = await mover.openFile(srcPath);
      const dax = await cxl.openDax(mover, daxPath);
      const host = mover.alloc(size);
      const plan = mover.plan(dax, src);
      const hops = [
        { label: plan.hops[0].backend + ' file→host', gbps: await gbps(() => mover.copy(host, src), size, samples) },
        { label: plan.hops[1].backend + ' host→dax', gbps: await gbps(() => mover.copy(dax, host), size, samples) },
      ];
      const planGbps = await gbps(() => mover.transfer(dax, src), size, samples);
      const slowest = Math.min(...hops.map((h) => h.gbps));
      plans.push({ route: 'file→host→dax', size, hops, planGbps, slowestHopGbps: slowest, ratio: planGbps / slowest, hostCopiesPerByte: plan.stagedBytes / size, chunks: plan.chunks, dax: daxOn });
      log(`plan file→host→dax ${size} B: ${planGbps.toPrecision(3)} GB/s, slowest hop ${slowest.toPrecision(3)} GB/s (${(planGbps / slowest).toFixed(2)}×)`);
      await Promise.all([src.release(), dax.release(), host.release()]);
    }
  } finally {
    await mover.close();
    rmSync(dir, { recursive: true, force: true });
    if (shm) rmSync(shm, { recursive: true, force: true });
  }
  return { plans, overhead, skipped: null };
}
