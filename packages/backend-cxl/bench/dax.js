#!/usr/bin/env node
/**
 * host→dax and dax→host copies of 64 MiB through the cxl engine, against a C non-temporal memcpy
 * (bench/dax-peer.c, built here with the system's cc) over a mapping of the same device or file
 * range. Rounds alternate between the two so both see the same machine state; the figure is the
 * ratio of median bandwidths. Runs on the host (a temp file, MAP_SHARED) and in the lab
 * (`pnpm lab --dax -- node packages/backend-cxl/bench/dax.js` maps $LAB_DAX).
 *
 *   node bench/dax.js [--path P] [--offset N] [--size BYTES] [--rounds N] [--per-round N] [--spin MICROS] [--json FILE]
 *
 * Needs the built package (pnpm build) and addon.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Mover } from '@datamover/core';
import { cxl, daxFacts, loadNative, openDax } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const { values } = parseArgs({
  options: {
    path: { type: 'string' },
    offset: { type: 'string' },
    size: { type: 'string', default: String(64 * MiB) },
    rounds: { type: 'string', default: '10' },
    'per-round': { type: 'string', default: '3' },
    json: { type: 'string' },
    spin: { type: 'string' },
  },
});
const size = Number(values.size);
const rounds = Number(values.rounds);
const perRound = Number(values['per-round']);

function buildPeer() {
  const src = join(here, 'dax-peer.c');
  const exe = join(here, '..', 'build', 'bench', 'dax-peer');
  let fresh = false;
  try {
    fresh = statSync(exe).mtimeMs >= statSync(src).mtimeMs;
  } catch {
    // not built yet
  }
  if (!fresh) {
    mkdirSync(dirname(exe), { recursive: true });
    const r = spawnSync(process.env.CC || 'cc', ['-O2', '-o', exe, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building the C peer failed: ${r.stderr || r.error?.message}`);
  }
  return exe;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const gbps = (ns) => size / ns; // bytes per ns = GB/s
/** Median and best bandwidths of both contenders, and the engine's ratio to the peer by each. */
/** Median of per-sample ratios (each engine sample against the peer sample taken right after it): drifts in machine load cancel. */
const paired = (e, p) => median(e.map((t, i) => p[i] / t));
const summary = (e, p, x, b) => ({
  pairedRatio: paired(e, p),
  pairedCopyRatio: paired(x, p),
  engineGBps: gbps(median(e)),
  /** Per copy in batches of 4 (the wake-ups of submission and completion paid once per batch). */
  engineBatchedGBps: gbps(median(b)),
  batchedRatio: median(p) / median(b),
  /** The engine's copy alone (its execution time), without submission and completion. */
  engineCopyGBps: gbps(median(x)),
  peerGBps: gbps(median(p)),
  ratio: median(p) / median(e),
  bestEngineGBps: gbps(Math.min(...e)),
  bestPeerGBps: gbps(Math.min(...p)),
  bestRatio: Math.min(...p) / Math.min(...e),
});

const n = loadNative();
if ('error' in n) throw new Error(n.error);
const exe = buildPeer();

let path = values.path ?? process.env.LAB_DAX;
let tmp;
if (!path) {
  tmp = mkdtempSync(join(tmpdir(), 'dm-cxl-bench-'));
  path = join(tmp, 'dax.bin');
  writeFileSync(path, '');
  truncateSync(path, size + 4 * MiB);
}
// Past the first 2 MiB (the lab's namespace start), at an offset the mapping is aligned to.
const offset = Number(values.offset ?? 2 * MiB);

const mover = await Mover.open({ backends: [cxl(values.spin === undefined ? {} : { spinMicros: Number(values.spin) })] });
try {
  const dax = await openDax(mover, path, { offset, length: size });
  const host = mover.alloc(size);
  host.bytes().fill(0x5a);
  // Fault everything in (a page-cache file allocates its blocks on the first write).
  await mover.copy(dax, host);
  await mover.copy(host, dax);
  const engine = { up: [], down: [] };
  const inside = { up: [], down: [] };
  /** Per copy, of a batch of BATCH back-to-back copies (submission and completion paid once). */
  const batched = { up: [], down: [] };
  const BATCH = 4;
  const batchOf = (dst, src) => {
    const b = mover.batch();
    for (let k = 0; k < BATCH; k++) b.copy(dst, src);
    return b;
  };
  const peer = { up: [], down: [] };
  const child = spawn(exe, [path, String(offset), String(size)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error('the C peer exited');
    return r.value;
  };
  if ((await next()) !== 'ready') throw new Error('the C peer did not start');
  const peerRun = async (what) => {
    child.stdin.write(`${what}\n`);
    return Number(await next());
  };
  const execNs = () => mover.stats().backends[0].engine.execNs;
  /** End-to-end time of one copy (submit to settled Promise); its execution time inside the engine goes to `inside`. */
  const time = async (f, inside) => {
    const e = execNs();
    const t = process.hrtime.bigint();
    await f();
    const total = Number(process.hrtime.bigint() - t);
    inside.push(execNs() - e);
    return total;
  };
  // Alternate sample by sample: engine and peer see the same machine state (other jobs, caches).
  for (let i = 0; i < rounds * perRound; i++) {
    engine.up.push(await time(() => mover.copy(dax, host), inside.up));
    peer.up.push(await peerRun('up'));
    engine.down.push(await time(() => mover.copy(host, dax), inside.down));
    peer.down.push(await peerRun('down'));
    if (i % perRound === 0) {
      batched.up.push((await time(() => batchOf(dax, host).submit(), [])) / BATCH);
      batched.down.push((await time(() => batchOf(host, dax).submit(), [])) / BATCH);
    }
  }
  child.stdin.end('quit\n');
  const facts = daxFacts(dax);
  const result = {
    path,
    via: facts?.via,
    alignment: facts?.alignment,
    size,
    samples: rounds * perRound,
    engine: { ntThreshold: mover.stats().backends[0].engine.ntThreshold, flush: n.addon.info().flush },
    hostToDax: summary(engine.up, peer.up, inside.up, batched.up),
    daxToHost: summary(engine.down, peer.down, inside.down, batched.down),
  };
  const f = (x) => x.toFixed(2);
  console.log(`dax copies of ${size / MiB} MiB over ${path} (${result.via}, align ${result.alignment}), median of ${result.samples}; peer: C AVX2 non-temporal memcpy over the same range`);
  for (const [label, x] of [['host→dax', result.hostToDax], ['dax→host', result.daxToHost]]) {
    console.log(
      `  ${label}  paired ratio ${f(x.pairedRatio)} (copy alone ${f(x.pairedCopyRatio)}) | peer ${f(x.peerGBps)} GB/s; engine: one copy ${f(x.engineGBps)} GB/s (ratio ${f(x.ratio)}), in batches of 4 ${f(x.engineBatchedGBps)} (ratio ${f(x.batchedRatio)}), ` +
        `copy alone inside the engine ${f(x.engineCopyGBps)} (ratio ${f(x.engineCopyGBps / x.peerGBps)}); best single: engine ${f(x.bestEngineGBps)}, peer ${f(x.bestPeerGBps)}, ratio ${f(x.bestRatio)}`,
    );
  }
  console.log(`@@json${JSON.stringify(result)}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await mover.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
