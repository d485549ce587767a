#!/usr/bin/env node
// File → GPU throughput, measured in one run: the gds backend (cuFile; the path each transfer took
// is reported: direct or compat) against the classic bounce path (pread into page-locked host
// memory, then cudaMemcpy — soft's engine reads, gds's copies) and against gdsio when it is
// installed. Needs a GPU, libcufile and the CUDA driver; anywhere else it exits 1 with probe()'s
// reason. Targets (issue 9): for reads of 16 MiB and more, gds ≥ 1.0× the bounce path and ≥ 0.9×
// gdsio at the same I/O size.
//
//   node packages/backend-gds/bench/file-to-gpu.mjs [--dir DIR] [--file-size 1G] [--sizes 16M,64M,256M]
//        [--repeat 5] [--gdsio PATH] [--out FILE.json] [--strict]
//
// --dir should be on the NVMe filesystem GDS serves (default: the OS temp directory). --strict
// exits 3 when a target is missed. Library names: DATAMOVER_GDS_LIBCUFILE / _LIBCUDART / _LIBCUDA.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { gds } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    'file-size': { type: 'string', default: '1G' },
    sizes: { type: 'string', default: '16M,64M,256M' },
    repeat: { type: 'string', default: '5' },
    gdsio: { type: 'string' },
    out: { type: 'string' },
    strict: { type: 'boolean', default: false },
  },
});

function bytes(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}
const MiB = 1024 * 1024;
const sizes = args.sizes.split(',').map(bytes);
const fileSize = Math.max(bytes(args['file-size']), ...sizes);
const repeat = Math.max(1, Number(args.repeat));

const backend = gds();
const probe = await backend.probe();
if (!probe.available) {
  console.error(`file-to-gpu: the gds backend cannot run here: ${probe.reason}`);
  process.exit(1);
}
console.log(`gds: ${JSON.stringify(probe.details)}`);

// The data: random bytes, written once and synced (reads below are O_DIRECT on every path).
const path = join(args.dir, `dm-gds-bench-${process.pid}.bin`);
{
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * MiB);
  for (let done = 0; done < fileSize; done += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, fileSize - done));
  fsyncSync(fd);
  closeSync(fd);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
const mover = await Mover.open({ backends: [backend, soft()] });
try {
  const file = await mover.openFile(path, { direct: 'require' });
  const maxSize = Math.max(...sizes);
  const gpu = mover.alloc(maxSize, { kind: 'gpu' });
  const pinned = mover.alloc(maxSize); // page-locked (cudaMallocHost) while gds is open
  for (const size of sizes) {
    const count = Math.floor(fileSize / size);
    const pass = async (one) => {
      const t0 = performance.now();
      for (let i = 0; i < count; i++) await one(i * size);
      return (count * size) / ((performance.now() - t0) / 1000) / 1e9;
    };
    const direct = [];
    const bounce = [];
    for (let r = 0; r < repeat; r++) {
      direct.push(await pass((off) => mover.copy(gpu, file, { srcOffset: off, length: size })));
      bounce.push(
        await pass(async (off) => {
          await mover.copy(pinned, file, { srcOffset: off, length: size, backend: 'soft' });
          await mover.copy(gpu, pinned, { length: size });
        }),
      );
    }
    const t = backend.transfers().filter((x) => x.src === 'file' && x.dst === 'gpu').at(-1);
    results.push({ size, gdsGBps: median(direct), bounceGBps: median(bounce), path: t?.path, reason: t?.reason });
  }
  const s = mover.stats().backends.find((b) => b.name === 'gds');
  console.log(`gds engine: ${JSON.stringify(s?.engine)}`);
} finally {
  await mover.close();
}

// gdsio (GPUDirect Storage's own benchmark), same file, same I/O sizes, reads into GPU 0.
function findGdsio() {
  if (args.gdsio) return args.gdsio;
  try {
    return execFileSync('sh', ['-c', 'command -v gdsio'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    // not on PATH
  }
  const roots = ['/usr/local/cuda/gds/tools'];
  try {
    for (const d of readdirSync('/usr/local')) if (/^cuda-\d/.test(d)) roots.push(join('/usr/local', d, 'gds/tools'));
  } catch {
    // no /usr/local
  }
  return roots.map((r) => join(r, 'gdsio')).find((p) => existsSync(p));
}
const gdsio = findGdsio();
for (const r of results) {
  if (!gdsio) break;
  for (const workers of [1, 4]) {
    const run = spawnSync(gdsio, ['-f', path, '-d', '0', '-w', String(workers), '-s', String(fileSize), '-i', String(r.size), '-x', '0', '-I', '0'], { encoding: 'utf8', timeout: 300_000 });
    const m = /Throughput:\s*([\d.]+)\s*GiB\/sec/.exec(run.stdout ?? '');
    r[`gdsioW${workers}GBps`] = m ? (Number(m[1]) * 1024 ** 3) / 1e9 : undefined;
    if (!m) r[`gdsioW${workers}Error`] = (run.stderr || run.stdout || String(run.error ?? run.status)).trim().split('\n').slice(-2).join(' ');
  }
}
rmSync(path, { force: true });

// Verdicts against the issue's targets (16 MiB and more).
let missed = 0;
const rows = results.map((r) => {
  const vsBounce = r.gdsGBps / r.bounceGBps;
  const ref = r.gdsioW1GBps;
  const vsGdsio = ref ? r.gdsGBps / ref : undefined;
  const judged = r.size >= 16 * MiB;
  const ok = !judged || (vsBounce >= 1.0 && (vsGdsio === undefined || vsGdsio >= 0.9));
  if (!ok) missed++;
  return { ...r, vsBounce, vsGdsio, verdict: judged ? (ok ? 'meets' : 'MISSES') : 'not judged' };
});
const f = (x, d = 2) => (x === undefined ? '—' : x.toFixed(d));
console.log(`\nfile → gpu, ${fileSize / MiB} MiB file in ${args.dir}, median of ${repeat}; gdsio: ${gdsio ?? 'not found'}`);
console.log('| read size | gds GB/s | path | bounce GB/s | gds/bounce | gdsio -w1 GB/s | gdsio -w4 GB/s | gds/gdsio(-w1) | target |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.size / MiB} MiB | ${f(r.gdsGBps)} | ${r.path}${r.reason && r.reason !== 'none' ? ` (${r.reason})` : ''} | ${f(r.bounceGBps)} | ${f(r.vsBounce)}× | ${f(r.gdsioW1GBps)} | ${f(r.gdsioW4GBps)} | ${r.vsGdsio === undefined ? '—' : `${f(r.vsGdsio)}×`} | ${r.verdict} |`);
}
const report = { date: new Date().toISOString(), probe, fileSize, repeat, gdsio: gdsio ?? null, rows };
if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
if (args.strict && missed > 0) process.exit(3);
