#!/usr/bin/env node
// The SDXI backend's three performance ratios, measured against the soft backend in one run
// (rounds interleaved so both see the same machine load; the median round is reported):
//   batched 64 B copies through the ring and the software function (descriptors/s, ≥ 3 M),
//   1 MiB copies (sdxi / soft, ≥ 0.9), added p50 latency of one 4 KiB copy (sdxi − soft, ≤ 5 µs).
//   node packages/backend-sdxi/bench/bench-sdxi.mjs [rounds]      (build first: pnpm build)
const { Mover } = await import('@datamover/core');
const { soft } = await import('@datamover/backend-soft');
const { sdxi } = await import('../dist/index.js');

const ROUNDS = Number(process.argv[2] ?? 9);
const BATCH = 4096;
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function contender(backend) {
  const m = await Mover.open({ backends: [backend], policy: 'explicit' });
  const small = [m.wrap(new SharedArrayBuffer(BATCH * 64)), m.wrap(new SharedArrayBuffer(BATCH * 64))];
  const big = [m.alloc(1 << 20), m.alloc(1 << 20)];
  const page = [m.wrap(new SharedArrayBuffer(4096)), m.wrap(new SharedArrayBuffer(4096))];
  const batch = () => {
    const b = m.batch();
    for (let k = 0, o = 0; k < BATCH; k++, o += 64) b.copy(small[1], small[0], { srcOffset: o, dstOffset: o, length: 64 });
    return b;
  };
  return {
    m,
    /** Descriptors per second over 20 pre-built batches of 4096 × 64 B. */
    async batched() {
      const bs = Array.from({ length: 20 }, batch);
      const t0 = performance.now();
      for (const b of bs) await b.submit();
      return (bs.length * BATCH) / ((performance.now() - t0) / 1000);
    },
    /** Bytes per second over 64 one-call 1 MiB copies. */
    async mib() {
      const t0 = performance.now();
      for (let i = 0; i < 64; i++) await m.copy(big[1], big[0]);
      return (64 << 20) / ((performance.now() - t0) / 1000);
    },
    /** p50 of 2000 one-call 4 KiB copies, in µs. */
    async latency() {
      const t = [];
      for (let i = 0; i < 2000; i++) {
        const t0 = performance.now();
        await m.copy(page[1], page[0]);
        t.push((performance.now() - t0) * 1000);
      }
      return median(t);
    },
  };
}

const c = { soft: await contender(soft({ engine: 'native' })), sdxi: await contender(sdxi()) };
for (const x of Object.values(c)) for (const f of ['batched', 'mib', 'latency']) await x[f](); // warm-up
const r = { soft: { batched: [], mib: [], latency: [] }, sdxi: { batched: [], mib: [], latency: [] } };
for (let round = 0; round < ROUNDS; round++) {
  for (const f of ['batched', 'mib', 'latency']) for (const name of ['soft', 'sdxi']) r[name][f].push(await c[name][f]());
}
const m = (name, f) => median(r[name][f]);
const ratios = {
  batched64: { sdxi: m('sdxi', 'batched') / 1e6, soft: m('soft', 'batched') / 1e6 },
  mib: median(r.sdxi.mib.map((v, i) => v / r.soft.mib[i])),
  addedLatencyUs: median(r.sdxi.latency.map((v, i) => v - r.soft.latency[i])),
};
console.log(`batched 64 B copies: sdxi ${ratios.batched64.sdxi.toFixed(2)} M desc/s (soft ${ratios.batched64.soft.toFixed(2)} M/s) — target ≥ 3 M/s`);
console.log(`1 MiB copies: sdxi ${(m('sdxi', 'mib') / 1e9).toFixed(2)} GB/s, soft ${(m('soft', 'mib') / 1e9).toFixed(2)} GB/s, ratio ${ratios.mib.toFixed(2)} — target ≥ 0.9`);
console.log(`4 KiB single copy p50: sdxi ${m('sdxi', 'latency').toFixed(2)} µs, soft ${m('soft', 'latency').toFixed(2)} µs, added ${ratios.addedLatencyUs.toFixed(2)} µs — target ≤ 5 µs`);
for (const x of Object.values(c)) await x.m.close();
