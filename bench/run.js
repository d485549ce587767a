#!/usr/bin/env node
/**
 * Datamover benchmark entry point.
 *
 *   node bench/run.js [--quick] [--engine native|ts|auto] [--only case,case] [--ring slots]
 *   pnpm bench [--quick]            (builds first)
 *   datamover bench [--quick]       (the CLI imports runBench from here)
 *
 * Every figure is a median over several samples taken after warm-up, set against a peer
 * measured in the same run. Prints a table and writes bench/results/<date>-<mode>-<engine>.json.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { copyLarge, copyMedium } from './cases/copy.js';
import { eventLoopDelay } from './cases/event-loop.js';
import { smallCopies } from './cases/batch.js';
import { smallCopyLatency } from './cases/latency.js';
import { allocHost, engineOf, loadLibrary } from './lib/library.js';
import { gitRevision, machineInfo } from './lib/machine.js';
import { buildMemcpyPeer } from './lib/peers.js';
import { renderTable, writeResults } from './lib/report.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Sizes and sample counts. --quick: fewer samples, 256 MiB instead of 1 GiB. */
export const PARAMETERS = {
  full: {
    mode: 'full',
    warmup: 2,
    ringEntries: 4096,
    copyMediumBytes: 64 * MiB,
    copyMediumSamples: 21,
    copyLargeBytes: 1 * GiB,
    copyLargeSamples: 7,
    eventLoopCopies: 5,
    batchCount: 100_000,
    batchUnitBytes: 64,
    batchSamples: 11,
    latencyBytes: 4096,
    latencySamples: 20_000,
    latencyWarmup: 2_000,
  },
  quick: {
    mode: 'quick',
    warmup: 1,
    ringEntries: 4096,
    copyMediumBytes: 64 * MiB,
    copyMediumSamples: 7,
    copyLargeBytes: 256 * MiB,
    copyLargeSamples: 3,
    eventLoopCopies: 3,
    batchCount: 100_000,
    batchUnitBytes: 64,
    batchSamples: 3,
    latencyBytes: 4096,
    latencySamples: 3_000,
    latencyWarmup: 300,
  },
};

/** The cases, in the order they run. `big`: uses the large regions allocated once per run. */
export const CASES = [
  { id: 'copy-medium', run: copyMedium },
  { id: 'copy-large', run: copyLarge, big: true },
  { id: 'event-loop', run: eventLoopDelay, big: true },
  { id: 'batch', run: smallCopies },
  { id: 'latency', run: smallCopyLatency },
];

/**
 * Runs the suite. Returns the run record (also written as JSON); `run.ok` is false when a case
 * failed to run (a missed target is reported, not a failure).
 */
export async function runBench({ quick = false, engine = 'auto', only, ringEntries, out = process.stdout, log = (m) => process.stderr.write(`bench: ${m}\n`) } = {}) {
  if (!['native', 'ts', 'auto'].includes(engine)) throw new Error(`engine must be native, ts or auto, got ${engine}`);
  const cases = only ? CASES.filter((c) => only.includes(c.id)) : CASES;
  if (only && cases.length !== only.length) throw new Error(`unknown case in --only; cases: ${CASES.map((c) => c.id).join(', ')}`);
  const params = { ...PARAMETERS[quick ? 'quick' : 'full'], ...(ringEntries ? { ringEntries } : {}) };
  const { core, soft } = await loadLibrary();
  const t0 = performance.now();
  const started = new Date().toISOString();
  const warnings = [];

  const cPeer = buildMemcpyPeer();
  if (!cPeer.available) warnings.push(cPeer.reason);

  const mover = await core.Mover.open({ backends: [soft.soft({ engine, ringEntries: params.ringEntries })] });
  const engineName = engineOf(mover);
  const n = soft.loadNative();
  const native = 'addon' in n ? n.addon.Engine.info() : null;
  if (engineName !== 'native') {
    warnings.push(`engine is ${engineName}${native ? '' : ` (native addon: ${n.error})`}; the targets are set for the native engine and are not judged`);
  }
  log(`engine ${engineName}, mode ${params.mode}`);

  const alignments = new Set();
  const ctx = {
    core,
    soft,
    mover,
    engine: engineName,
    params,
    cPeer,
    log,
    alloc(size) {
      const { region, alignment } = allocHost(mover, size);
      alignments.add(alignment);
      return region;
    },
    big: null,
  };

  const results = [];
  const errors = [];
  try {
    if (cases.some((c) => c.big)) {
      // The large regions, allocated once: filled (source) and copied into once (destination)
      // so that every page is faulted in before anything is timed.
      log(`allocating 2 × ${params.copyLargeBytes / MiB} MiB`);
      const src = ctx.alloc(params.copyLargeBytes);
      const dst = ctx.alloc(params.copyLargeBytes);
      await mover.fill(src, 0x0f1e_2d3c_4b5a_6978n, { patternBytes: 8 });
      await mover.copy(dst, src);
      ctx.big = { size: params.copyLargeBytes, src, dst };
    }
    for (const c of cases) {
      try {
        results.push(...(await c.run(ctx)));
      } catch (e) {
        errors.push({ case: c.id, error: e.stack ?? String(e) });
        warnings.push(`case ${c.id} failed: ${e.message}`);
      }
    }
  } finally {
    await mover.close();
  }

  const run = {
    schema: 1,
    date: started,
    revision: gitRevision(fileURLToPath(new URL('.', import.meta.url))),
    machine: machineInfo(),
    engine: { name: engineName, requested: engine, native, hostAlignment: [...alignments] },
    parameters: params,
    cPeer: cPeer.available ? { compiler: cPeer.compiler } : { skipped: cPeer.reason },
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    results,
    errors,
    warnings,
    ok: errors.length === 0,
  };
  out.write(`${renderTable(run)}\n`);
  const file = writeResults(run);
  out.write(`\nresults: ${file} (${run.seconds} s)\n`);
  return run;
}

async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      engine: { type: 'string', default: 'auto' },
      only: { type: 'string' },
      ring: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: node bench/run.js [--quick] [--engine native|ts|auto] [--only ${CASES.map((c) => c.id).join(',')}] [--ring <slots>]\n`);
    return 0;
  }
  const run = await runBench({ quick: values.quick, engine: values.engine, ...(values.only ? { only: values.only.split(',') } : {}), ...(values.ring ? { ringEntries: Number(values.ring) } : {}) });
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
