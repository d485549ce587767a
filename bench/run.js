#!/usr/bin/env node
/**
 * Datamover benchmark entry point (bench/README.md).
 *
 *   node bench/run.js [--quick] [--ops copy,fill,crc32c] [--sizes 64,4KiB,…] [--batches 1,16,…]
 *                     [--backends soft,soft-ts|none] [--peers Buffer.copy,…|none] [--only term,…]
 *                     [--engine native|ts|auto] [--ring slots] [--out dir]
 *   pnpm bench [--quick]            (builds first)
 *   datamover bench [--quick]       (the CLI imports parseBenchArgs and runBench from here)
 *
 * Sweeps operation × size × batch for every backend and peer, prints the targets and the
 * throughput tables, and writes result.json (bench/schema/result.schema.json), results.md and
 * SVG charts under bench/results/.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BACKENDS, backendRunner, limitReason, openBackend } from './lib/backends.js';
import { buildCPeer, CPeer } from './lib/cpeer.js';
import { formatBytes, parseBytes } from './lib/format.js';
import { gitRevision, loadSnapshot, machineInfo } from './lib/machine.js';
import { allocPools } from './lib/memory.js';
import { importPackage, packageVersion } from './lib/packages.js';
import { PEERS } from './lib/peers.js';
import { measurePlans } from './lib/plans.js';
import { judgeTargets, renderSummary, writeRun } from './lib/report.js';
import { benchmarkJs, foldEventLoop, measureCell } from './lib/sampler.js';
import { WorkerPool } from './lib/workers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const OPS = ['copy', 'fill', 'crc32c'];
export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/**
 * The two modes. Sample counts adapt to the time a sample takes: each contender gets at least
 * `minSamples` samples and keeps sampling until `budgetMs` of timed work (or `maxSamples`).
 */
export const MODES = {
  full: {
    mode: 'full',
    sizes: [64, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 2 * MiB, 64 * MiB, 1 * GiB],
    batches: [1, 16, 256, 4096],
    maxBatchBytes: 1 * GiB,
    warmup: 2,
    minSamples: 7,
    maxSamples: 5000,
    budgetMs: 300,
    interleaveBytes: 32 * MiB,
    benchmarkJsBelowNs: 50_000,
    benchmarkJs: { minSamples: 20, maxTime: 0.5, minTime: 0.05 },
    idleMs: 1000,
    settleMs: 300,
  },
  quick: {
    mode: 'quick',
    sizes: [64, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 2 * MiB, 64 * MiB, 256 * MiB],
    batches: [1, 16, 256, 4096],
    maxBatchBytes: 64 * MiB,
    warmup: 1,
    minSamples: 3,
    maxSamples: 400,
    budgetMs: 20,
    interleaveBytes: 32 * MiB,
    benchmarkJsBelowNs: 50_000,
    benchmarkJs: { minSamples: 5, maxTime: 0.02, minTime: 0.005 },
    idleMs: 200,
    settleMs: 100,
  },
};

function invalid(message) {
  const e = new Error(message);
  e.code = 'INVALID_ARGUMENT';
  return e;
}

const list = (s) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

export const BENCH_USAGE = `usage: node bench/run.js [options]      (or: pnpm bench [options]; datamover bench [options])
  --quick                  fewer samples, largest size 256 MiB, batches up to 64 MiB (under a minute)
  --ops <op,…>             ${OPS.join(', ')} (default all)
  --sizes <size,…>         e.g. 64,4KiB,1MiB (default: the mode's sweep)
  --batches <n,…>          e.g. 1,16 (default 1,16,256,4096)
  --backends <name,…>      ${BACKENDS.map((b) => b.name).join(', ')}, or none (default all)
  --peers <name,…>         ${PEERS.map((p) => p.name).join(', ')}, or none (default all)
  --only <term,…>          shorthand: each term an operation, a backend or peer name, or a size
  --engine native|ts|auto  the soft backend's engine only: native = soft, ts = soft-ts, auto = both
  --ring <slots>           ring size of every backend session (default: the backend's own)
  --out <dir>              write result.json, results.md and charts there (default bench/results/runs/<date>-<mode>/, and latest-<mode>.* for unfiltered runs)`;

/** Parses the command line into runBench options; throws INVALID_ARGUMENT errors. */
export function parseBenchArgs(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean', default: false },
      ops: { type: 'string' },
      sizes: { type: 'string' },
      batches: { type: 'string' },
      backends: { type: 'string' },
      peers: { type: 'string' },
      only: { type: 'string' },
      engine: { type: 'string' },
      ring: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const o = { quick: values.quick, help: values.help };
  const backendNames = BACKENDS.map((b) => b.name);
  const peerNames = PEERS.map((p) => p.name);
  const pick = (flag, given, known) => {
    if (given === undefined) return undefined;
    if (given.length === 1 && given[0] === 'none') return [];
    for (const g of given) if (!known.includes(g)) throw invalid(`--${flag}: unknown "${g}"; known: ${known.join(', ')}`);
    return given;
  };
  o.ops = pick('ops', list(values.ops), OPS);
  o.backends = pick('backends', list(values.backends), backendNames);
  o.peers = pick('peers', list(values.peers), peerNames);
  if (values.sizes !== undefined) {
    o.sizes = list(values.sizes).map((s) => {
      const n = parseBytes(s);
      if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 30) throw invalid(`--sizes: "${s}" is not a size between 1 B and 1 GiB`);
      return n;
    });
  }
  if (values.batches !== undefined) {
    o.batches = list(values.batches).map((s) => {
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n < 1 || n > 65536) throw invalid(`--batches: "${s}" is not a batch size between 1 and 65536`);
      return n;
    });
  }
  if (values.engine !== undefined) {
    const map = { native: ['soft'], ts: ['soft-ts'], auto: ['soft', 'soft-ts'] };
    if (!map[values.engine]) throw invalid(`--engine must be native, ts or auto, got "${values.engine}"`);
    o.backends = [...new Set([...(o.backends ?? []), ...map[values.engine]])];
  }
  if (values.only !== undefined) {
    for (const term of list(values.only)) {
      if (OPS.includes(term)) (o.ops ??= []).push(term);
      else if (backendNames.includes(term)) (o.backends ??= []).push(term);
      else if (peerNames.includes(term)) (o.peers ??= []).push(term);
      else if (Number.isSafeInteger(parseBytes(term))) (o.sizes ??= []).push(parseBytes(term));
      else throw invalid(`--only: "${term}" is not an operation (${OPS.join(', ')}), a backend (${backendNames.join(', ')}), a peer (${peerNames.join(', ')}) or a size`);
    }
    // Naming only backends means no peers, and the other way round.
    if (o.backends && !o.peers) o.peers = [];
    if (o.peers && !o.backends) o.backends = [];
  }
  if (values.ring !== undefined) {
    const n = Number(values.ring);
    if (!Number.isSafeInteger(n) || n < 2 || (n & (n - 1)) !== 0) throw invalid(`--ring must be a power of two, got "${values.ring}"`);
    o.ringEntries = n;
  }
  if (values.out !== undefined) o.out = values.out;
  return o;
}

/**
 * Runs the suite and returns the run record (also written as JSON). `run.ok` is false when a
 * contender failed to run a cell or produced wrong results; a missed target is reported, not a failure.
 */
export async function runBench(options = {}, { out = process.stdout, log = (m) => process.stderr.write(`bench: ${m}\n`), command } = {}) {
  const t0 = performance.now();
  const date = new Date().toISOString();
  const mode = MODES[options.quick ? 'quick' : 'full'];
  const filtered = ['ops', 'sizes', 'batches', 'backends', 'peers'].some((k) => options[k] !== undefined);
  const ops = OPS.filter((o) => (options.ops ?? OPS).includes(o));
  const sizes = [...new Set(options.sizes ?? mode.sizes)].sort((a, b) => a - b);
  const batches = [...new Set(options.batches ?? mode.batches)].sort((a, b) => a - b);
  const maxBatchBytes = mode.maxBatchBytes;
  // "Where meaningful": a single operation always; a batch while it moves at most maxBatchBytes.
  const cells = [];
  for (const op of ops) for (const size of sizes) for (const batch of batches) if (batch === 1 || size * batch <= maxBatchBytes) cells.push({ op, size, batch });
  if (cells.length === 0) throw invalid('no cell to measure: every size × batch is over the per-batch limit');
  const poolBytes = Math.max(...cells.map((c) => c.size * c.batch));
  const threads = os.cpus().length;
  const parameters = { ...mode, ops, sizes, batches, maxBatchBytes, poolBytes, workerThreads: threads, ringEntries: options.ringEntries ?? null, filtered };

  const core = await importPackage('core');
  let softPkg = null;
  try {
    softPkg = await importPackage('backend-soft');
  } catch {
    // soft is then listed as skipped by its factory's error
  }
  const native = softPkg ? softPkg.loadNative() : { error: 'the soft package is not built' };
  const warnings = [];
  const errors = [];
  if (!benchmarkJs.Benchmark) warnings.push(`${benchmarkJs.error}; every contender is sampled by the hand-rolled sampler instead`);
  const loadBefore = loadSnapshot();
  if (loadBefore.loadavg[0] > threads * 0.5) warnings.push(`the machine was busy when the run started (1-min load ${loadBefore.loadavg[0]} on ${threads} cores): absolute figures are low and noisy; ratios within one cell are more reliable`);

  log(`${mode.mode} run: ${cells.length} cells (${ops.join(', ')}), pools 2 × ${formatBytes(poolBytes)}`);
  const pools = allocPools(poolBytes, 'addon' in native ? native.addon.allocateAligned : null);

  // Backends: probe and open each; unavailable ones are listed with the probe's reason.
  const contenders = [];
  const open = new Map();
  for (const entry of BACKENDS.filter((b) => (options.backends ?? BACKENDS.map((x) => x.name)).includes(b.name))) {
    const o = await openBackend(entry, core, pools, options.ringEntries, ops);
    const record = { name: entry.name, kind: 'backend', description: entry.description, role: null, available: o.available, reason: o.available ? null : o.reason, ops: o.ops ?? ops, limits: entry.limits ?? [], version: o.version ?? null, details: jsonSafe(o.probe?.details ?? null) };
    contenders.push(record);
    if (o.available) open.set(entry.name, { entry, open: o });
    log(`backend ${entry.name}: ${o.available ? 'available' : `skipped (${o.reason})`}`);
  }

  // Peers: the C peer is built and started only when one of its methods is wanted.
  const peerEntries = PEERS.filter((p) => (options.peers ?? PEERS.map((x) => x.name)).includes(p.name) && ops.some((op) => p.ops[op]));
  const env = { pools, buffers: { src: asBuffer(pools.src), dst: asBuffer(pools.dst) }, crc32c: softPkg?.crc32c ?? null, cpeer: null, cpeerReason: null, params: parameters };
  let cBuild = null;
  if (peerEntries.some((p) => p.name.startsWith('C '))) {
    cBuild = buildCPeer();
    if (cBuild.available) {
      try {
        env.cpeer = await CPeer.start(cBuild, poolBytes);
      } catch (e) {
        env.cpeerReason = `the C peer did not start: ${e.message}`;
      }
    } else env.cpeerReason = cBuild.reason;
  }
  let workers = null;
  env.workers = () => (workers ??= WorkerPool.start(poolBytes, threads));
  for (const p of peerEntries) {
    const a = p.available ? p.available(env) : true;
    contenders.push({ name: p.name, kind: 'peer', description: p.description, role: p.role ?? null, available: a === true, reason: a === true ? null : a, ops: ops.filter((op) => p.ops[op]), limits: p.limits ?? [], version: null, details: null });
    if (a !== true) log(`peer ${p.name}: skipped (${a})`);
  }

  // The idle event loop: what the delay histogram reads with no work at all, at the start and
  // again at the end of the run (the machine's own noise).
  const idle = createHistogram();
  const idleWait = async () => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    await sleep(mode.idleMs / 2);
    h.disable();
    foldEventLoop(idle, h);
  };
  await idleWait();

  // Settle each backend before anything is timed: a few hundred ms of small single copies,
  // untimed. Right after start-up the engine's thread and the JS thread sometimes share one vCPU
  // until the scheduler moves them apart, and small operations then take ~10× longer.
  for (const [name, { open: o }] of open) {
    const end = performance.now() + mode.settleMs;
    try {
      while (performance.now() < end) {
        await o.mover.copy(o.dst, o.src, { length: Math.min(4096, poolBytes) });
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (e) {
      warnings.push(`settling ${name} failed (${e.message}); its cells will say what fails`);
    }
  }

  const results = [];
  const cellsNotRun = [];
  /** `${contender}\0${size}` → the pooled event-loop histogram of every cell of that size. */
  const loopBySize = new Map();
  try {
    cells.forEach((c, i) => (c.index = i));
    for (const cell of cells) {
      const participants = [];
      for (const c of contenders) {
        if (!c.available || !c.ops.includes(cell.op)) continue;
        const reason = limitReason(c.limits, cell);
        if (reason) {
          cellsNotRun.push({ contender: c.name, op: cell.op, size: cell.size, batch: cell.batch, reason });
          continue;
        }
        const runner = c.kind === 'backend' ? backendRunner(open.get(c.name).open, cell) : PEERS.find((p) => p.name === c.name).ops[cell.op](env, cell);
        participants.push({ name: c.name, kind: c.kind, runner });
      }
      // Rotate the order from cell to cell so no contender always runs first.
      const k = cell.index % Math.max(1, participants.length);
      const ordered = [...participants.slice(k), ...participants.slice(0, k)];
      const c0 = performance.now();
      const rs = await measureCell(cell, ordered, parameters, env);
      const cellMs = performance.now() - c0;
      checkAgreement(cell, rs, env);
      for (const r of rs) {
        if (r.error) errors.push({ contender: r.contender, op: r.op, size: r.size, batch: r.batch, error: r.error });
        else if (r.problem) errors.push({ contender: r.contender, op: r.op, size: r.size, batch: r.batch, error: r.problem });
      }
      for (const r of rs) {
        if (!r.loopHistogram) continue;
        const k = `${r.contender}\0${r.size}`;
        if (!loopBySize.has(k)) loopBySize.set(k, { contender: r.contender, size: r.size, h: createHistogram() });
        loopBySize.get(k).h.add(r.loopHistogram);
      }
      results.push(...rs.map(({ problem, ...r }) => r));
      log(`${cell.op} ${formatBytes(cell.size)} × ${cell.batch} (${(cellMs / 1000).toFixed(1)} s): ${rs.map((r) => `${r.contender} ${r.error ? 'ERROR' : `${r.gbps.p50.toPrecision(3)} GB/s`}`).join(', ')}`);
    }
    await idleWait();
  } finally {
    for (const [name, { open: o }] of open) {
      const st = o.mover.stats().backends[0];
      const record = contenders.find((c) => c.name === name);
      if (st && record) record.jsThread = { completionMs: st.completionMs, completionLongestMs: st.completionLongestMs, completions: st.done + st.failed + st.notRun };
      await o.mover.close();
    }
    env.cpeer?.close();
    if (workers) await workers.close();
  }

  // The plan cells run only with the whole sweep (a filtered run names its cells).
  const planSizes = mode.sizes.filter((s) => s >= 64 * MiB).slice(0, mode.mode === 'quick' ? 1 : undefined);
  const planCells = filtered ? null : await measurePlans(planSizes, mode.minSamples, mode.mode === 'quick' ? 2000 : 20000, log);

  const run = {
    schema: 'datamover-bench/2',
    date,
    command: command ?? commandLine(),
    durationSeconds: 0,
    revision: gitRevision(fileURLToPath(new URL('.', import.meta.url))),
    machine: machineInfo(),
    load: { before: loadBefore, after: loadSnapshot() },
    versions: {
      node: process.version,
      v8: process.versions.v8,
      packages: { core: packageVersion('core'), 'backend-soft': packageVersion('backend-soft') },
      benchmarkJs: benchmarkJs.version ?? null,
      cCompiler: cBuild?.available ? cBuild.compiler : null,
      cFlags: cBuild?.available ? cBuild.flags : null,
    },
    parameters: { ...parameters, poolAlignment: pools.alignment },
    contenders,
    idleEventLoop: { durationMs: mode.idleMs, maxMs: idle.max / 1e6, p99Ms: idle.percentile(99) / 1e6, ticks: idle.count },
    eventLoopBySize: [...loopBySize.values()].map(({ contender, size, h }) => ({ contender, size, p99Ms: h.count ? h.percentile(99) / 1e6 : null, maxMs: h.count ? h.max / 1e6 : null, ticks: h.count })),
    cells: cells.map(({ op, size, batch }) => ({ op, size, batch })),
    results,
    cellsNotRun,
    targets: [],
    warnings,
    errors,
    ok: errors.length === 0,
    ...(planCells ? { plans: planCells.plans, plansSkipped: planCells.skipped, planOverhead: planCells.overhead } : {}),
  };
  if (env.cpeerReason) warnings.push(`C peer: ${env.cpeerReason}`);
  run.targets = judgeTargets(run, BACKENDS.filter((b) => b.targets && open.has(b.name)).map((b) => b.name));
  run.durationSeconds = Number(((performance.now() - t0) / 1000).toFixed(1));

  const stamp = date.replace(/[:.]/g, '-');
  const dir = options.out ?? join(RESULTS_DIR, 'runs', `${stamp}-${mode.mode}`);
  const latest = options.out === undefined && !filtered ? { dir: RESULTS_DIR, prefix: `latest-${mode.mode}` } : null;
  const files = writeRun(run, dir, latest);
  out.write(`${renderSummary(run)}\n\nwritten: ${files.filter((f) => f.endsWith('.json') || f.endsWith('.md')).join(', ')} (+ ${files.filter((f) => f.endsWith('.svg')).length} SVG charts)\n`);
  run.files = files;
  return run;
}

/** Probe details as plain JSON (bigints as strings, no functions or cycles). */
function jsonSafe(v) {
  if (v === null || v === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x)));
  } catch {
    return { unserializable: String(v) };
  }
}

function asBuffer(v) {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** crc32c results must agree across contenders (and with the JS oracle where it is cheap to compute). */
function checkAgreement(cell, rs, env) {
  if (cell.op !== 'crc32c') return;
  const ref = env.crc32c && cell.size <= 16 * MiB ? env.crc32c(env.pools.src.subarray(0, cell.size)) : null;
  const seen = rs.filter((r) => !r.error && r.check !== null);
  const expected = ref ?? seen[0]?.check;
  for (const r of seen) {
    if (r.check !== expected) {
      r.problem = `crc32c of the first operation is ${r.check}, expected ${expected}${ref === null ? ` (from ${seen[0].contender})` : ' (the JS oracle)'}`;
      r.verified = false;
    } else r.verified = true;
  }
}

function commandLine() {
  const args = process.argv.slice(2).join(' ');
  // `pnpm bench …` runs `pnpm build && node bench/run.js …`: say what the user typed.
  const viaPnpm = process.env.npm_lifecycle_event === 'bench';
  return `${viaPnpm ? 'pnpm bench' : 'node bench/run.js'}${args ? ` ${args}` : ''}`;
}

async function main(argv) {
  const options = parseBenchArgs(argv);
  if (options.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const run = await runBench(options);
  return run.ok ? 0 : 1;
}

const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (e) => {
      process.stderr.write(`bench: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
      process.exitCode = 1;
    },
  );
}
