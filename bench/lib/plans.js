/**
 * The transfer-plan cells (docs/plans.md): a pipelined two-hop plan, file → host → dax (soft reads
 * the file into staging, cxl writes staging into a MAP_SHARED dax mapping), against each of its hops
 * measured alone on the same memory in the same run. The target: the plan reaches ≥ 0.9×
 * its slowest hop. Each cell records the host copies per byte moved (1 for this route).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPackage } from './packages.js';

/** Median GB/s of `samples` runs of `f` moving `bytes` (one warm-up first). */
async function gbps(f, bytes, samples) {
  await f();
  const t = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return bytes / (t[Math.floor(t.length / 2)] * 1e6);
}

/**
 * Measures the plan cells for `sizes`; returns { plans, skipped } where skipped says why none ran
 * (cxl not built or unavailable).
 */
export async function measurePlans(sizes, samples, log) {
  let core, soft, cxl;
  try {
    [core, soft, cxl] = await Promise.all([importPackage('core'), importPackage('backend-soft'), importPackage('backend-cxl')]);
  } catch (e) {
    return { plans: [], skipped: e.message };
  }
  const probe = await cxl.cxl().probe();
  if (!probe.available) return { plans: [], skipped: `cxl: ${probe.reason}` };
  const dir = mkdtempSync(join(tmpdir(), 'dm-bench-plans-'));
  const mover = await core.Mover.open({ backends: [soft.soft({ engine: 'native' }), cxl.cxl()] });
  const plans = [];
  try {
    for (const size of sizes) {
      const srcPath = join(dir, 'src.bin');
      const daxPath = join(dir, 'dax.bin');
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
      plans.push({ route: 'file→host→dax', size, hops, planGbps, slowestHopGbps: slowest, ratio: planGbps / slowest, hostCopiesPerByte: plan.stagedBytes / size, chunks: plan.chunks });
      log(`plan file→host→dax ${size} B: ${planGbps.toPrecision(3)} GB/s, slowest hop ${slowest.toPrecision(3)} GB/s (${(planGbps / slowest).toFixed(2)}×)`);
      await Promise.all([src.release(), dax.release(), host.release()]);
    }
  } finally {
    await mover.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { plans, skipped: null };
}
