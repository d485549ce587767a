#!/usr/bin/env node
/**
 * Peer-directory figures on a local etcd (started here on loopback, stopped by PID), reported,
 * never asserted:
 *   - a cached RegionExchange.importRegion (the target: ≤ 5 µs),
 *   - a first import: the etcd lookup (agent + region key), with an in-process transport standing
 *     in for rdma (the rdma connect adds its handshake: measured in the lab),
 *   - 1,000 regions published by one agent and resolved by another: one put each (concurrent), and
 *     batched (putRegions: transactions of up to 128 puts; lookupRegions: one read), the issue's
 *     "1,000 regions published and resolved by a peer in under 1 s".
 * Run: pnpm --filter @datamover/directory-etcd build && node packages/directory-etcd/bench/lookup.mjs
 */
import { performance } from 'node:perf_hooks';
import { Mover, RegionExchange } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { EtcdDirectory } from '../dist/index.js';
import { EtcdServer, etcdMissing } from '../dist/etcd-server.js';

const missing = etcdMissing();
if (missing) {
  console.log(`skipped: ${missing}`);
  process.exit(0);
}
const etcd = await EtcdServer.start();
const mover = await Mover.open({ backends: [soft()] });
const region = mover.alloc(4096);
const exported = new Map();
const transport = {
  export: (r) => (exported.set(`t${exported.size}`, r), `t${exported.size - 1}`),
  // An import is a registration of its own over the exported bytes, as an rdma import is.
  import: async (t) => mover.wrap(exported.get(t).bytes()),
  revoke: (t) => exported.delete(t),
};
const open = (agent) => EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix: 'bench', agent });
const a = await open('a');
const b = await open('b');
await a.publish({ host: '127.0.0.1', port: 1 });
const ea = new RegionExchange(a, transport);
const eb = new RegionExchange(b, transport);
const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];

// First imports: a fresh name each time, so every one goes to etcd.
const first = [];
for (let i = 0; i < 200; i++) {
  await ea.exportRegion(`first${i}`, region);
  const t0 = performance.now();
  await eb.importRegion('a', `first${i}`);
  first.push((performance.now() - t0) * 1000);
}

// Cached: the same name, many times.
await eb.importRegion('a', 'first0');
const rounds = 200_000;
let t0 = performance.now();
for (let i = 0; i < rounds; i++) await eb.importRegion('a', 'first0');
const cachedUs = ((performance.now() - t0) * 1000) / rounds;

// 1,000 regions: published by a, resolved by b (one range read, then one get per name).
t0 = performance.now();
await Promise.all(Array.from({ length: 1000 }, (_, i) => a.putRegion(`r${i}`, `tok${i}`)));
const publishMs = performance.now() - t0;
t0 = performance.now();
const all = await b.lookup('a');
const rangeMs = performance.now() - t0;
t0 = performance.now();
await Promise.all(Array.from({ length: 1000 }, (_, i) => b.lookupRegion('a', `r${i}`)));
const getsMs = performance.now() - t0;

// Batched: 1,000 other names in putRegions, resolved by one lookupRegions (best of 3 rounds, fresh names each).
const batched = [];
for (let round = 0; round < 3; round++) {
  const names = Array.from({ length: 1000 }, (_, i) => `b${round}-${i}`);
  t0 = performance.now();
  await a.putRegions(names.map((n, i) => [n, `tok${i}`]));
  const put = performance.now() - t0;
  const tokens = await b.lookupRegions('a', names);
  const total = performance.now() - t0;
  if (tokens.length !== 1000 || tokens[999] !== 'tok999') throw new Error('batched resolve returned the wrong tokens');
  batched.push({ put, resolve: total - put, total });
}
const best = batched.sort((x, y) => x.total - y.total)[0];

console.log(`cached importRegion: ${cachedUs.toFixed(3)} µs per call (${rounds} calls; target ≤ 5 µs)`);
console.log(`first import (etcd lookup + stand-in transport): median ${(median(first) / 1000).toFixed(2)} ms, p90 ${(first[Math.floor(first.length * 0.9)] / 1000).toFixed(2)} ms (${first.length} imports)`);
console.log(`1,000 regions: published in ${publishMs.toFixed(0)} ms; resolved in ${rangeMs.toFixed(1)} ms by one lookup (${Object.keys(all.regions).length} regions), ${getsMs.toFixed(0)} ms by 1,000 lookupRegion calls`);
console.log(`1,000 regions batched: putRegions ${best.put.toFixed(0)} ms + lookupRegions ${best.resolve.toFixed(1)} ms = ${best.total.toFixed(0)} ms published and resolved (best of 3: ${batched.map((x) => x.total.toFixed(0)).join(', ')} ms; target < 1 s)`);

ea.close();
eb.close();
await a.close();
await b.close();
await mover.close();
await etcd.dispose();
