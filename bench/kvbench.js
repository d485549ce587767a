#!/usr/bin/env node
/**
 * kvbench: moving KV-cache blocks, as a paged KV cache does, three ways in one run on the same
 * memory — one descriptor per block, one strided descriptor per transfer, and a hand-written
 * `Buffer.copy` loop (for files, a `fs.writeSync` loop) — over host→host, host→dax (a MAP_SHARED
 * file through cxl) and host→file. Reports GB/s (median), descriptors per transfer and JS-thread
 * busy time per GB (event-loop utilisation: what the application's thread gives up).
 *
 * Block size of a model: one layer's K and V for one 16-token page at bf16,
 *   2 (K, V) × 16 tokens × kv_heads × head_dim × 2 bytes;
 * DeepSeek-V3 (MLA) caches one latent per token instead: 16 × (kv_lora_rank 512 + rope 64) × 2.
 * The source is a pool where the transfer's blocks lie every 2 blocks (other sequences' blocks in
 * between); the destination is packed.
 *
 * The demotion cell (path `demote`, issue 19's ratio): a working set of --demotion-bytes (default
 * 1 GiB) moved host → dax in 256 KiB blocks, per-block and strided, against the C peer's
 * non-temporal AVX2 copy (bench/peers/memcpy.c, the `C NT AVX2` peer of bench/run.js) writing the
 * same file through its own MAP_SHARED mapping, sample by sample in alternation. The file lies in
 * --demotion-dir (default /dev/shm, so no disk write-back is timed; the report names the
 * filesystem).
 *
 *   node bench/kvbench.js [--quick] [--paths host,dax,file,demote] [--batches 64,1024,4096]
 *                         [--demotion-bytes N] [--demotion-dir DIR]
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildCPeer, CPeer } from './lib/cpeer.js';
import { importPackage } from './lib/packages.js';
import { median } from './lib/stats.js';

const MODELS = [
  { name: 'Llama-3.1-8B', formula: '2×16×8 kv heads×128×2 B', bytes: 2 * 16 * 8 * 128 * 2 },
  { name: 'Llama-3.1-70B', formula: '2×16×8 kv heads×128×2 B', bytes: 2 * 16 * 8 * 128 * 2 },
  { name: 'Qwen3-30B-A3B', formula: '2×16×4 kv heads×128×2 B', bytes: 2 * 16 * 4 * 128 * 2 },
  { name: 'DeepSeek-V3 (MLA)', formula: '16×(512+64)×2 B', bytes: 16 * (512 + 64) * 2 },
  { name: 'target cell', formula: '16 KiB (issue 19)', bytes: 16 * 1024 },
];

const args = process.argv.slice(2);
const arg = (k, d) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1] : d;
};
const quick = args.includes('--quick');
const paths = arg('paths', 'host,dax,file,demote').split(',');
const DEMOTION_BYTES = Number(arg('demotion-bytes', String(1 << 30)));
const DEMOTION_BLOCK = 256 << 10;
const DEMOTION_DIR = arg('demotion-dir', existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const batches = arg('batches', '64,1024,4096').split(',').map(Number);
const SAMPLES = quick ? 5 : 15;
const MAX_BYTES = quick ? 64 << 20 : 256 << 20; // per transfer; larger cells are skipped

const core = await importPackage('core');
const { soft } = await importPackage('backend-soft');
const cxlPkg = await importPackage('backend-cxl').catch(() => null);
const dir = mkdtempSync(join(tmpdir(), 'kvbench-'));
const backends = [soft()];
if (cxlPkg && (paths.includes('dax') || paths.includes('demote'))) backends.push(cxlPkg.cxl());
const mover = await core.Mover.open({ backends });

/** Runs `f` SAMPLES times after one warm-up; returns median seconds and JS-thread busy seconds. */
async function measure(f) {
  await f();
  const wall = [];
  const busy = [];
  for (let i = 0; i < SAMPLES; i++) {
    const e0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    await f();
    wall.push((performance.now() - t0) / 1e3);
    busy.push(performance.eventLoopUtilization(e0).active / 1e3);
  }
  return { s: median(wall), busy: median(busy) };
}

async function destination(path, bytes) {
  if (path === 'host') {
    const view = new Uint8Array(new SharedArrayBuffer(bytes));
    return { region: mover.wrap(view), view };
  }
  const file = join(dir, `${path}-${bytes}.bin`);
  writeFileSync(file, new Uint8Array(0));
  const fd = openSync(file, 'r+');
  writeSync(fd, new Uint8Array(1), 0, 1, bytes - 1);
  if (path === 'dax') return { region: await cxlPkg.openDax(mover, file, { length: bytes }), fd };
  return { region: await mover.openFile(file, { mode: 'rw' }), fd };
}

/** What backs `dir`, by statfs magic (what the demotion cell's file is really written to). */
function filesystem(dir) {
  const names = { 0x01021994: 'tmpfs', 0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs' };
  const t = statfsSync(dir).type;
  return names[t] ?? `filesystem 0x${t.toString(16)}`;
}

/**
 * The demotion cell: DEMOTION_BYTES host → dax in DEMOTION_BLOCK blocks, per-block descriptors and
 * one strided descriptor, each sample paired with a C NT copy of the same bytes into the same
 * file. Returns its rows and the paired ratios (median over samples of contender / peer GB/s).
 */
async function demotion() {
  const build = buildCPeer();
  if (!build.available) return { skipped: build.reason };
  const total = DEMOTION_BYTES;
  const count = total / DEMOTION_BLOCK;
  const file = join(mkdtempSync(join(DEMOTION_DIR, 'kvbench-demote-')), 'dax.bin');
  const fd = openSync(file, 'w');
  writeSync(fd, new Uint8Array(1), 0, 1, total - 1);
  closeSync(fd);
  let peer;
  try {
    peer = await CPeer.start(build, total, file);
    if (!peer.supports('nt-avx2')) return { skipped: 'this CPU has no AVX2 for the C NT peer' };
    const srcView = new Uint8Array(new SharedArrayBuffer(total));
    for (let i = 0; i < total; i += 4096) srcView[i] = i >> 12; // faulted in, not all one byte
    const src = mover.wrap(srcView);
    const dst = await cxlPkg.openDax(mover, file, { length: total });
    const n = DEMOTION_BLOCK;
    const contenders = [
      ['per-block descriptors', count, () => {
        const b = mover.batch();
        for (let i = 0; i < count; i++) b.copy(dst, src, { srcOffset: i * n, dstOffset: i * n, length: n });
        return b.submit();
      }],
      ['strided descriptor', 1, () => mover.batch().copyStrided(dst, src, { count, blockBytes: n }).submit()],
    ];
    const secs = new Map(contenders.map(([name]) => [name, []]));
    const busy = new Map(contenders.map(([name]) => [name, []]));
    const peerSecs = [];
    const ratios = new Map(contenders.map(([name]) => [name, []]));
    for (let i = 0; i <= SAMPLES; i++) {
      for (const [name, , f] of contenders) {
        const e0 = performance.eventLoopUtilization();
        const t0 = performance.now();
        await f();
        const s = (performance.now() - t0) / 1e3;
        const p = (await peer.run('nt-avx2', total, 1, 1, 1)).ns[0] / 1e9; // right after: the pair
        if (i === 0) continue; // warm-up
        secs.get(name).push(s);
        busy.get(name).push(performance.eventLoopUtilization(e0).active / 1e3);
        peerSecs.push(p);
        ratios.get(name).push(p / s);
      }
    }
    await dst.release();
    await src.release();
    const cell = { path: 'demote', model: `${total / 2 ** 30} GiB working set`, formula: `256 KiB blocks, ${filesystem(DEMOTION_DIR)}`, block: n, count };
    const out = contenders.map(([name, descriptors]) => ({ ...cell, contender: name, descriptors, gbps: total / median(secs.get(name)) / 1e9, jsMsPerGB: (median(busy.get(name)) * 1e3) / (total / 1e9) }));
    out.push({ ...cell, contender: 'C NT AVX2 (same file)', descriptors: 0, gbps: total / median(peerSecs) / 1e9, jsMsPerGB: 0 });
    return { rows: out, ratios: Object.fromEntries([...ratios].map(([name, r]) => [name, median(r)])) };
  } finally {
    peer?.close();
    rmSync(join(file, '..'), { recursive: true, force: true });
  }
}

const rows = [];
let demoted = null;
for (const path of paths) {
  if (path === 'demote') {
    demoted = cxlPkg ? await demotion() : { skipped: '@datamover/backend-cxl not built' };
    if (demoted.rows) rows.push(...demoted.rows);
    else console.error(`demote: skipped (${demoted.skipped})`);
    continue;
  }
  if (path === 'dax' && !cxlPkg) {
    console.error('dax: @datamover/backend-cxl not built; skipped');
    continue;
  }
  for (const model of MODELS) {
    for (const count of batches) {
      const n = model.bytes;
      const total = n * count;
      if (total > MAX_BYTES) continue;
      const srcView = new Uint8Array(new SharedArrayBuffer(total * 2)).fill(7);
      const src = mover.wrap(srcView);
      const dst = await destination(path, total);
      const cell = { path, model: model.name, formula: model.formula, block: n, count };
      const perBlock = async () => {
        const b = mover.batch();
        for (let i = 0; i < count; i++) b.copy(dst.region, src, { srcOffset: 2 * i * n, dstOffset: i * n, length: n });
        await b.submit();
      };
      const strided = async () => mover.batch().copyStrided(dst.region, src, { count, blockBytes: n, srcStride: 2 * n }).submit();
      const srcBuf = Buffer.from(srcView.buffer);
      const loop =
        path === 'host'
          ? async () => {
              const d = Buffer.from(dst.view.buffer);
              for (let i = 0; i < count; i++) srcBuf.copy(d, i * n, 2 * i * n, 2 * i * n + n);
            }
          : path === 'file'
            ? async () => {
                for (let i = 0; i < count; i++) writeSync(dst.fd, srcBuf, 2 * i * n, n, i * n);
              }
            : null; // a dax region has no JS view
      for (const [name, f, descriptors] of [['per-block descriptors', perBlock, count], ['strided descriptor', strided, 1], [path === 'file' ? 'writeSync loop' : 'Buffer.copy loop', loop, 0]]) {
        if (!f) continue;
        const r = await measure(f);
        rows.push({ ...cell, contender: name, descriptors, gbps: total / r.s / 1e9, jsMsPerGB: (r.busy * 1e3) / (total / 1e9) });
      }
      await dst.region.release();
      if (dst.fd !== undefined) closeSync(dst.fd);
      await src.release();
    }
  }
}
await mover.close();
rmSync(dir, { recursive: true, force: true });

console.log(`# kvbench (${quick ? 'quick' : 'full'}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
console.log('| path | model (block formula) | block | blocks | contender | descriptors | GB/s | JS-thread ms/GB |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.path} | ${r.model} (${r.formula}) | ${r.block} | ${r.count} | ${r.contender} | ${r.descriptors} | ${r.gbps.toFixed(2)} | ${r.jsMsPerGB.toFixed(1)} |`);
}
const target = (path, contender) => rows.find((r) => r.path === path && r.block === 16384 && r.count === 4096 && r.contender === contender);
for (const path of paths) {
  const s = target(path, 'strided descriptor');
  const p = target(path, 'per-block descriptors');
  const l = target(path, path === 'file' ? 'writeSync loop' : 'Buffer.copy loop');
  if (!s) continue;
  const ratio = (x) => (x ? `${(s.gbps / x.gbps).toFixed(2)}×` : 'n/a');
  console.log(`\n${path}, 4096 × 16 KiB: strided / per-block ${ratio(p)} (target ≥ 1.2×), strided / loop ${ratio(l)} (target ≥ 1.0×)`);
}
if (demoted?.ratios) {
  const r = demoted.ratios;
  console.log(
    `\ndemotion host → dax, ${DEMOTION_BYTES / 2 ** 30} GiB in 256 KiB blocks (${filesystem(DEMOTION_DIR)}), paired with the C NT AVX2 copy into the same file: strided / C NT ${r['strided descriptor'].toFixed(2)}× (target ≥ 0.9×), per-block / C NT ${r['per-block descriptors'].toFixed(2)}×`,
  );
}
