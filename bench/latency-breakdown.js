/**
 * Where a 4 KiB single copy's latency goes, submit to settled Promise, on the soft native engine:
 *   node bench/latency-breakdown.js [--iterations 20000] [--size 4096]
 * Each line is the median of `iterations` awaited operations measured back to back. The parts are
 * differences of those medians: the batch build and the Promise are measured alone; mover.copy() is
 * the one-shot call with default options (the path the cost model picks); 'inline' runs
 * the copy on the JS thread (no hand-off); 'engine' hands it to the engine's thread (doorbell,
 * wake-up or spin, completion seen by polling or by the progress call). A shared machine makes
 * absolute figures noisy: the load average is printed with them.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { importPackage } from './lib/packages.js';

const { values } = parseArgs({ options: { iterations: { type: 'string' }, size: { type: 'string' } } });
const iterations = Number(values.iterations ?? 20_000);
const size = Number(values.size ?? 4096);
const { Mover } = await importPackage('core');
const { soft } = await importPackage('backend-soft');

/** Median ns of `f` over `iterations` awaited calls (after a warm-up tenth). */
async function median(f) {
  const ns = new Float64Array(iterations);
  for (let i = 0; i < iterations / 10; i++) await f();
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return ns.sort()[iterations >> 1];
}

const m = await Mover.open({ backends: [soft({ engine: 'native' })] });
const src = m.alloc(size);
const dst = m.alloc(size);

const promise = await median(() => Promise.resolve());
const oneShot = await median(() => m.copy(dst, src));
const build = await median(() => void m.batch().copy(dst, src, { length: size }));
const inline = await median(() => m.batch().copy(dst, src, { length: size }).submit({ inline: 'always' }));
const offloaded = await median(() => m.batch().copy(dst, src, { length: size }).submit({ inline: 'never' }));
const model = m.stats().backends[0].inlineModel;
await m.close();

const us = (ns) => (ns / 1000).toFixed(2).padStart(8) + ' µs';
console.log(`${size} B single copy, median of ${iterations}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`end to end, mover.copy() (default)  ${us(oneShot)}   (path: the cost model's)`);
console.log(`end to end, inline (JS thread)      ${us(inline)}`);
console.log(`end to end, engine thread           ${us(offloaded)}`);
console.log(`  batch build (copy descriptor)     ${us(build)}`);
console.log(`  an awaited resolved Promise       ${us(promise)}`);
console.log(`  submit + execution + completion   ${us(inline - build - promise)}   (inline − build − Promise)`);
console.log(`  hand-off (doorbell, wake, notify) ${us(offloaded - inline)}   (engine − inline)`);
console.log(`model at open: hand-off ${us(model.handoffNs)}, per descriptor ${us(model.perDescriptorNs)}, ${(1 / model.perByteNs).toFixed(1)} GB/s`);
