/**
 * Measures one cell (operation × size × batch) for every contender: a verified first run,
 * warm-up, then samples, and the metrics the issue asks for.
 *
 * Two harnesses:
 * - benchmark.js (2.1.4) for synchronous contenders whose one batch takes under
 *   `params.benchmarkJsBelowNs` (e.g. a 64 B Buffer.copy): it sizes cycles of many calls until
 *   the clock's resolution no longer matters and reports the mean per call of every cycle.
 * - the sampler below for everything else: asynchronous contenders (each sample is one
 *   submit → settled, so latency quantiles are per operation), large copies (a 1 GiB copy takes
 *   ~0.1 s; benchmark.js would run each for seconds), batch sweeps and the C peer.
 *
 * Cells whose batch moves at least `params.interleaveBytes` sample the contenders in rounds (one
 * sample each, in turn) so drift on a shared machine falls on all alike; smaller cells run each
 * contender's samples back to back (its working set stays in cache, as it would in real use).
 */
import { createRequire } from 'node:module';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { poison, verify } from './memory.js';
import { summarize, sinceNs } from './stats.js';

const require = createRequire(import.meta.url);
/** benchmark.js, or the reason it cannot be loaded (the bench then samples everything itself). */
export const benchmarkJs = (() => {
  try {
    return { Benchmark: require('benchmark'), version: require('benchmark/package.json').version };
  } catch (e) {
    return { error: `benchmark.js is not installed (${e.message}); run pnpm install` };
  }
})();

/**
 * Folds one monitorEventLoopDelay histogram into a RecordableHistogram (from
 * perf_hooks.createHistogram): its distribution is re-recorded at HDR precision, since Node
 * cannot add an event-loop histogram to another directly.
 */
export function foldEventLoop(into, eld) {
  for (let i = 0; i < eld.count; i++) into.record(Math.max(1, Math.round(eld.percentile(((i + 0.5) / eld.count) * 100))));
}

const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

class Measurer {
  constructor(participant, cell, params, env) {
    this.p = participant;
    this.r = participant.runner;
    this.cell = cell;
    this.params = params;
    this.env = env;
    this.lat = [];
    this.build = [];
    /** Async contenders: how long each call ran on the JS thread before returning its Promise. */
    this.call = [];
    this.wallNs = 0;
    this.cpuUs = 0;
    this.extCpuNs = 0;
    this.harness = 'sampler';
    // Event-loop delay: a fresh monitorEventLoopDelay per burst (a re-enabled one counts the
    // time it was disabled as one long delay), folded into one histogram for the cell.
    this.loop = this.r.style === 'async' ? createHistogram() : null;
    this.reps = 1;
    /** Batches run inside timed samples (samples × reps). */
    this.batchesTimed = 0;
    this.check = undefined;
    this.verified = null;
    this.problem = null;
    this.bjs = null;
  }

  get n() {
    return this.lat.length;
  }

  done() {
    const { minSamples, maxSamples } = this.params;
    const budgetNs = this.params.budgetMs * 1e6;
    return this.n >= maxSamples || (this.n >= minSamples && this.wallNs >= budgetNs);
  }

  /** One untimed run on poisoned memory, then the check of what it left. */
  async verifyRun() {
    const { r, cell } = this;
    const pools = r.memory === 'pools' ? this.env.pools : r.memory === 'shared' ? this.env.workers().pools : null;
    if (pools) poison(pools, cell);
    if (r.style === 'external') {
      const res = await r.runExternal(1, 1);
      this.check = res.check;
      this.verified = res.verified;
      if (!res.verified) this.problem = 'the C peer left wrong bytes';
      return;
    }
    const v = r.style === 'async' ? await r.run(r.build?.()) : r.run();
    if (v !== undefined) this.check = v;
    if (pools) {
      this.problem = verify(pools, cell);
      this.verified = this.problem === null;
    }
  }

  /** Untimed runs; returns the median time of one (ns), to choose the harness. */
  async warmup(n) {
    const { r } = this;
    const times = [];
    if (r.style === 'external') {
      // The C peer picks how many batches one sample times; later bursts keep that number.
      const res = await r.runExternal(Math.max(1, n), 0);
      this.reps = res.reps;
      return summarize(res.ns).p50;
    }
    for (let i = 0; i < Math.max(1, n); i++) {
      const job = r.build?.();
      const t0 = process.hrtime.bigint();
      if (r.style === 'async') await r.run(job);
      else r.run();
      times.push(sinceNs(t0));
    }
    return summarize(times).p50;
  }

  /** `k` timed samples. */
  async burst(k) {
    const { r, lat } = this;
    if (r.style === 'external') {
      const res = await r.runExternal(k, this.reps);
      for (const ns of res.ns) {
        lat.push(ns);
        this.wallNs += ns * res.reps;
      }
      this.batchesTimed += res.ns.length * res.reps;
      this.extCpuNs += res.cpu_ns;
      this.check = res.check;
      if (!res.verified) {
        this.verified = false;
        this.problem = 'the C peer left wrong bytes';
      }
      return;
    }
    const hist = this.loop ? monitorEventLoopDelay({ resolution: 1 }) : null;
    hist?.enable();
    const cpu0 = process.cpuUsage();
    const w0 = process.hrtime.bigint();
    if (r.style === 'async') {
      for (let i = 0; i < k; i++) {
        // One event-loop turn between samples (untimed): each operation starts from a fresh
        // macrotask, as a request handler's would. Without it, operations that settle through a
        // microtask (the engine's polled fast path) chain into one long task, and the delay
        // histogram would measure the length of this loop rather than what one call blocks.
        if (i > 0) await yieldTurn();
        let job;
        if (r.build) {
          const b0 = process.hrtime.bigint();
          job = r.build();
          this.build.push(sinceNs(b0));
        }
        const t0 = process.hrtime.bigint();
        const p = r.run(job);
        this.call.push(sinceNs(t0));
        const v = await p;
        lat.push(sinceNs(t0));
        if (v !== undefined) this.check = v;
      }
    } else {
      for (let i = 0; i < k; i++) {
        const t0 = process.hrtime.bigint();
        r.run();
        lat.push(sinceNs(t0));
      }
    }
    this.wallNs += sinceNs(w0);
    this.batchesTimed += k;
    const cpu = process.cpuUsage(cpu0);
    this.cpuUs += cpu.user + cpu.system;
    if (hist) {
      hist.disable();
      foldEventLoop(this.loop, hist);
    }
  }

  /** Samples until done, in bursts sized from the time per sample seen so far. */
  async sampleAll() {
    const { maxSamples } = this.params;
    const budgetNs = this.params.budgetMs * 1e6;
    await this.burst(1);
    while (!this.done()) {
      const per = this.wallNs / this.n;
      const need = Math.max(this.params.minSamples - this.n, Math.ceil((budgetNs - this.wallNs) / per), 1);
      await this.burst(Math.min(need, maxSamples - this.n));
    }
  }

  /** benchmark.js for a fast synchronous contender. */
  benchmark() {
    const { Benchmark } = benchmarkJs;
    const run = this.r.run;
    let check;
    const b = new Benchmark(`${this.p.name} ${this.cell.op}`, () => {
      check = run();
    }, { ...this.params.benchmarkJs, initCount: 1 });
    const cpu0 = process.cpuUsage();
    b.run();
    const cpu = process.cpuUsage(cpu0);
    if (b.error) throw b.error;
    if (check !== undefined) this.check = check;
    this.harness = 'benchmark.js';
    this.reps = b.count;
    for (const s of b.stats.sample) this.lat.push(s * 1e9);
    const elapsedUs = b.times.elapsed * 1e6;
    this.bjs = { hz: b.hz, rmePercent: b.stats.rme, cycles: b.cycles, callsPerCycle: b.count, elapsedSeconds: b.times.elapsed, cpuUtilization: (cpu.user + cpu.system) / elapsedUs };
    // Wall and CPU per call as benchmark.js saw them; CPU per GB is derived from its utilisation.
    this.wallNs = b.stats.mean * 1e9 * this.n;
    this.batchesTimed = this.n;
    this.cpuUs = this.bjs.cpuUtilization * this.wallNs / 1e3;
  }

  result() {
    const { cell, p } = this;
    const bytes = cell.size * cell.batch;
    const lat = summarize(this.lat);
    const gbps = (ns) => bytes / ns; // bytes per ns = GB/s
    const cpuSeconds = this.r.style === 'external' ? this.extCpuNs / 1e9 : this.cpuUs / 1e6;
    const movedGB = (bytes * this.batchesTimed) / 1e9;
    let eventLoop;
    if (this.r.style === 'external') eventLoop = { method: 'other-process', maxMs: null, p99Ms: null, ticks: 0 };
    else if (this.r.style === 'sync') eventLoop = { method: 'synchronous', maxMs: lat.max / 1e6, p99Ms: lat.p99 / 1e6, ticks: 0 };
    else {
      const h = this.loop;
      const ticked = h.count > 0;
      eventLoop = { method: 'histogram', maxMs: ticked ? h.max / 1e6 : null, p99Ms: ticked ? h.percentile(99) / 1e6 : null, ticks: h.count };
    }
    const res = {
      op: cell.op,
      size: cell.size,
      batch: cell.batch,
      bytes,
      contender: p.name,
      kind: p.kind,
      style: this.r.style,
      harness: this.harness,
      repsPerSample: this.reps,
      latencyNs: this.lat,
      latencyUs: scale(lat, 1e-3),
      gbps: { p50: gbps(lat.p50), p99: gbps(lat.p99) },
      descriptorsPerSecond: { p50: (cell.batch * 1e9) / lat.p50, p99: (cell.batch * 1e9) / lat.p99 },
      buildUs: this.build.length ? scale(summarize(this.build), 1e-3) : null,
      callUs: this.r.style === 'external' ? null : scale(summarize(this.r.style === 'sync' ? this.lat : this.call), 1e-3),
      cpuSecondsPerGB: movedGB > 0 ? cpuSeconds / movedGB : null,
      cpuUtilization: this.wallNs > 0 ? (cpuSeconds * 1e9) / this.wallNs : null,
      eventLoop,
      benchmarkJs: this.bjs,
      check: this.check ?? null,
      verified: this.verified,
      problem: this.problem,
    };
    // The raw histogram, for pooling per size (bench/run.js); not part of the JSON record.
    if (this.loop) Object.defineProperty(res, 'loopHistogram', { value: this.loop, enumerable: false });
    return res;
  }
}

function scale(s, f) {
  return { n: s.n, p50: s.p50 * f, p99: s.p99 * f, min: s.min * f, max: s.max * f, mean: s.mean * f };
}

/**
 * Measures `cell` for every participant `{ name, kind, runner }` and returns one result per
 * participant (a participant that throws gets `{ error }`).
 */
export async function measureCell(cell, participants, params, env) {
  const measurers = participants.map((p) => new Measurer(p, cell, params, env));
  const failed = new Map();
  const guard = async (m, f) => {
    if (failed.has(m)) return;
    try {
      await f();
    } catch (e) {
      failed.set(m, e);
    }
  };
  const interleave = cell.size * cell.batch >= params.interleaveBytes;
  if (interleave) {
    for (const m of measurers) await guard(m, () => m.verifyRun());
    for (const m of measurers) await guard(m, () => m.warmup(params.warmup));
    for (let round = 0; measurers.some((m) => !failed.has(m) && !m.done()); round++) {
      for (const m of measurers) if (!m.done()) await guard(m, () => m.burst(1));
    }
  } else {
    for (const m of measurers) {
      if (process.env.BENCH_DEBUG) process.stderr.write(`  ${m.p.name}\n`);
      await guard(m, async () => {
        await m.verifyRun();
        const perRun = await m.warmup(params.warmup);
        if (m.r.style === 'sync' && perRun < params.benchmarkJsBelowNs && benchmarkJs.Benchmark) m.benchmark();
        else await m.sampleAll();
      });
    }
  }
  return measurers.map((m) => (failed.has(m) ? { op: cell.op, size: cell.size, batch: cell.batch, contender: m.p.name, kind: m.p.kind, error: failed.get(m).stack ?? String(failed.get(m)) } : m.result()));
}
