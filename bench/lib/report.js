/**
 * What a run produces: the targets judged, the JSON record (bench/schema/result.schema.json),
 * a markdown report with the tables, and the SVG charts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeLimit } from './backends.js';
import { latencyChart, ratioChart, throughputChart } from './charts.js';
import { fmt, formatBytes } from './format.js';
import { quantileTable, sig } from './stats.js';

const MiB = 1024 * 1024;

// ---------------------------------------------------------------- targets

/**
 * The issue's targets, judged on every backend marked `targets: true` (soft). A target whose
 * cell was not measured in this run (filtered out, or failed) has `pass: null`.
 */
export function judgeTargets(run, targetBackends) {
  const ok = run.results.filter((r) => !r.error);
  const find = (contender, op, size, batch) => ok.find((r) => r.contender === contender && r.op === op && r.size === size && r.batch === batch) ?? null;
  const largest = Math.max(...run.parameters.sizes);
  const limitNames = run.contenders.filter((c) => c.role === 'limit').map((c) => c.name);
  const out = [];
  for (const b of targetBackends) {
    const ratioTarget = (id, title, cell, peerName, threshold, note = '') => {
      const mine = find(b, ...cell);
      const peer = peerName ? find(peerName, ...cell) : null;
      const value = mine?.gbps.p50 ?? null;
      const peerValue = peer?.gbps.p50 ?? null;
      const ratio = value !== null && peerValue ? value / peerValue : null;
      out.push({ id, backend: b, title, cell: cellOf(cell), metric: 'GB/s, median', unit: 'GB/s', value, peer: peerName, peerValue, ratio, on: 'ratio', op: '>=', threshold, pass: threshold === null || ratio === null ? null : ratio >= threshold, note });
    };
    ratioTarget('copy-64MiB-vs-Buffer.copy', `${b}: 64 MiB copy vs Buffer.copy`, ['copy', 64 * MiB, 1], 'Buffer.copy', 1.25);
    ratioTarget('copy-largest-vs-C-memcpy', `${b}: ${formatBytes(largest)} copy vs C memcpy`, ['copy', largest, 1], 'C memcpy', 0.95, largest === 1024 * MiB ? '' : `the issue sets this at 1 GiB; this run's largest size is ${formatBytes(largest)}`);
    // The limit: the best non-temporal C peer at the largest size (informational, no threshold).
    const limits = limitNames.map((n) => find(n, 'copy', largest, 1)).filter(Boolean);
    const best = limits.sort((x, y) => y.gbps.p50 - x.gbps.p50)[0];
    ratioTarget('copy-largest-vs-limit', `${b}: ${formatBytes(largest)} copy vs the machine's limit`, ['copy', largest, 1], best?.contender ?? null, null, 'informational: the best non-temporal C copy');

    const lat = find(b, 'copy', 4096, 1);
    const v = lat ? lat.latencyUs.p50 : null;
    out.push({ id: 'latency-4KiB-p50', backend: b, title: `${b}: 4 KiB single copy, latency p50`, cell: cellOf(['copy', 4096, 1]), metric: 'submit → settled, p50', unit: 'µs', value: v, peer: null, peerValue: null, ratio: null, on: 'value', op: '<=', threshold: 10, pass: v === null ? null : v <= 10, note: lat ? `p99 ${fmt(lat.latencyUs.p99)} µs` : '' });

    const maxBatch = 4096;
    const d = find(b, 'copy', 64, maxBatch);
    const rate = d ? d.descriptorsPerSecond.p50 / 1e6 : null;
    const buildNote = d?.buildUs ? `batch construction adds ${fmt(d.buildUs.p50)} µs per ${maxBatch} (${fmt((maxBatch / d.buildUs.p50))} M/s)` : '';
    out.push({ id: 'descriptors-64B-batched', backend: b, title: `${b}: 64 B copies, ${maxBatch} per batch`, cell: cellOf(['copy', 64, maxBatch]), metric: 'descriptors/s, submit → settled, median', unit: 'M/s', value: rate, peer: null, peerValue: null, ratio: null, on: 'value', op: '>=', threshold: 5, pass: rate === null ? null : rate >= 5, note: buildNote });

    // "Blocks the event loop ... at any size": judged per size, on the p99 of the event-loop delay
    // pooled over every cell of that size (hundreds of ticks; a single large cell has a few dozen,
    // where p99 is one sample), and on the p99 time one call held the JS thread. Maxima are single
    // samples that the idle loop alone reaches on this VM: reported beside it, not judged.
    const mine = ok.filter((r) => r.contender === b && r.eventLoop?.p99Ms !== null && r.eventLoop?.p99Ms !== undefined);
    const sizes = (run.eventLoopBySize ?? []).filter((e) => e.contender === b && e.p99Ms !== null);
    const worstSize = [...sizes].sort((x, y) => y.p99Ms - x.p99Ms)[0];
    const worstCell = [...mine].sort((x, y) => y.eventLoop.p99Ms - x.eventLoop.p99Ms)[0];
    const worstMax = [...mine].sort((x, y) => y.eventLoop.maxMs - x.eventLoop.maxMs)[0];
    const idle = run.idleEventLoop ?? null;
    const hold = heldBy(mine);
    const js = run.contenders.find((c) => c.name === b)?.jsThread ?? null;
    out.push({
      id: 'event-loop-p99',
      backend: b,
      title: `${b}: event-loop delay while async work runs, worst size${worstSize ? ` (${formatBytes(worstSize.size)})` : ''}`,
      cell: null, // a size, not one cell: see the note
      metric: 'monitorEventLoopDelay p99 (1 ms resolution) over every cell of a size; and p99 of the time one call held the JS thread',
      unit: 'ms',
      value: worstSize?.p99Ms ?? null,
      peer: 'idle event loop p99',
      peerValue: idle?.p99Ms ?? null,
      ratio: null,
      on: 'value',
      op: '<',
      threshold: 5,
      pass: worstSize ? worstSize.p99Ms < 5 && hold.p99 < 5 : null,
      note: worstSize
        ? [
            `p99 by size: ${sizes.map((e) => `${formatBytes(e.size)} ${fmt(e.p99Ms)}`).join(', ')} ms`,
            `one call (build + submit) held the JS thread p99 ≤ ${fmt(hold.p99)} ms in every cell (longest single call ${fmt(hold.max)} ms)`,
            js ? `completion handling: longest ${fmt(js.completionLongestMs)} ms, ${fmt(js.completionMs)} ms for ${js.completions} descriptors in all` : null,
            `worst single cell p99 ${fmt(worstCell.eventLoop.p99Ms)} ms (${worstCell.op} ${formatBytes(worstCell.size)} × ${worstCell.batch}, ${worstCell.eventLoop.ticks} ticks)`,
            `largest single delay ${fmt(worstMax.eventLoop.maxMs)} ms (${worstMax.op} ${formatBytes(worstMax.size)} × ${worstMax.batch}); the idle loop alone reached ${fmt(idle?.maxMs ?? null)} ms`,
          ]
            .filter(Boolean)
            .join('; ')
        : '',
    });
  }
  return out;
}

const cellOf = ([op, size, batch]) => ({ op, size, batch });

/** How long one call (batch construction + synchronous submit) held the JS thread, ms: the worst cell's p99 and the longest single call. */
function heldBy(results) {
  const timed = results.filter((r) => r.callUs);
  const total = (r, q) => (r.callUs[q] + (r.buildUs?.[q] ?? 0)) / 1e3;
  return { p99: Math.max(0, ...timed.map((r) => total(r, 'p99'))), max: Math.max(0, ...timed.map((r) => total(r, 'max'))) };
}

// ---------------------------------------------------------------- markdown

function mdTable(headers, rows, right = []) {
  const align = headers.map((_, i) => (right.includes(i) ? '---:' : '---'));
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), line(align), ...rows.map(line)].join('\n');
}

function verdict(t) {
  if (t.threshold === null) return 'info';
  if (t.pass === null) return 'not measured';
  return t.pass ? '**PASS**' : '**MISS**';
}

export function targetsTable(targets) {
  return mdTable(
    ['target', 'measured', 'against', 'ratio', 'needed', 'verdict', 'note'],
    targets.map((t) => [
      t.title,
      t.value === null ? '—' : `${fmt(t.value)} ${t.unit}`,
      t.peer ? `${t.peer}${t.peerValue === null ? '' : ` ${fmt(t.peerValue)} ${t.unit}`}` : '—',
      t.ratio === null ? '—' : `${t.ratio.toFixed(2)}×`,
      t.threshold === null ? '—' : `${t.op === '<=' ? '≤' : t.op === '>=' ? '≥' : t.op} ${t.threshold}${t.on === 'ratio' ? '×' : ` ${t.unit}`}`,
      verdict(t),
      t.note,
    ]),
    [1, 3],
  );
}

/**
 * The transfer-plan cells (bench/lib/plans.js): each pipelined plan against its slowest hop alone
 * (target ≥ 0.9×), with host copies per byte, and the one-hop overhead (transfer() / copy(),
 * target ≤ 1.05×; plan() target ≤ 2 µs). Empty when the run measured none.
 */
export function plansSection(run) {
  if (!run.plans && !run.planOverhead) return [];
  const mark = (pass) => (pass ? '**PASS**' : '**MISS**');
  const out = ['', '## Transfer plans', ''];
  if (run.plans?.length) {
    out.push(`Pipelined plans against their slowest hop alone, same run (target ≥ 0.9×); the dax stand-in is ${run.plans[0].dax ?? 'a MAP_SHARED file'}.`, '');
    out.push(
      mdTable(
        ['route', 'size', 'hops alone (GB/s)', 'plan GB/s', 'slowest hop GB/s', 'ratio', 'verdict', 'host copies / byte', 'chunks'],
        run.plans.map((p) => [p.route, formatBytes(p.size), p.hops.map((h) => `${h.label} ${fmt(h.gbps)}`).join(', '), fmt(p.planGbps), fmt(p.slowestHopGbps), `${p.ratio.toFixed(2)}×`, mark(p.ratio >= 0.9), fmt(p.hostCopiesPerByte), p.chunks]),
        [1, 3, 4, 5, 7, 8],
      ),
    );
  } else {
    out.push(`No pipelined plan cell ran: ${run.plansSkipped ?? 'not measured'}.`);
  }
  if (run.planOverhead) {
    const o = run.planOverhead;
    out.push('', 'One-hop overhead on soft host→host: `transfer()` against `copy()` of the same regions, interleaved pair by pair, medians (target ≤ 1.05×).', '');
    out.push(
      mdTable(
        ['size', 'pairs', 'copy() µs', 'transfer() µs', 'ratio', 'verdict'],
        o.oneHop.map((c) => [formatBytes(c.size), c.pairs, fmt(c.copyUs), fmt(c.transferUs), `${c.ratio.toFixed(3)}×`, mark(c.ratio <= 1.05)]),
        [1, 2, 3, 4],
      ),
      '',
      `\`plan()\` of a one-hop route: ${fmt(o.planUs)} µs (target ≤ 2 µs): ${mark(o.planUs <= 2)}.`,
    );
  }
  return out;
}

/** One wide table per metric: rows are size × batch, columns are contenders. */
function metricTable(run, op, pick) {
  const names = run.contenders.filter((c) => c.available && c.ops.includes(op)).map((c) => c.name);
  const cells = run.cells.filter((c) => c.op === op);
  const byKey = new Map(run.results.map((r) => [`${r.contender}|${r.op}|${r.size}|${r.batch}`, r]));
  const notRun = new Map(run.cellsNotRun.map((n) => [`${n.contender}|${n.op}|${n.size}|${n.batch}`, n]));
  const rows = cells.map((c) => [
    formatBytes(c.size),
    c.batch,
    ...names.map((n) => {
      const k = `${n}|${op}|${c.size}|${c.batch}`;
      const r = byKey.get(k);
      if (r?.error) return 'error';
      if (r) return pick(r);
      return notRun.has(k) ? 'cap' : '—';
    }),
  ]);
  return mdTable(['size', 'batch', ...names], rows, names.map((_, i) => i + 2).concat([1]));
}

export const METRICS = [
  { title: 'Throughput, GB/s (median)', pick: (r) => fmt(r.gbps.p50) },
  { title: 'Latency submit → settled, µs per batch (p50 / p99)', pick: (r) => `${fmt(r.latencyUs.p50)} / ${fmt(r.latencyUs.p99)}` },
  { title: 'Descriptors per second, millions (median)', pick: (r) => fmt(r.descriptorsPerSecond.p50 / 1e6) },
  { title: 'CPU seconds per GB moved (process.cpuUsage, all threads; the C peer: its own process)', pick: (r) => fmt(r.cpuSecondsPerGB) },
  { title: 'JS thread held per call, µs (p50 / max): build + the synchronous part of submit for async contenders, the whole call for sync ones', pick: (r) => (r.callUs ? `${fmt(r.callUs.p50 + (r.buildUs?.p50 ?? 0))} / ${fmt(r.callUs.max + (r.buildUs?.max ?? 0))}` : 'n/a') },
  { title: 'Event-loop delay while it runs, ms (max / p99)', pick: (r) => (r.eventLoop.method === 'other-process' ? 'n/a' : r.eventLoop.maxMs === null ? 'no tick' : `${fmt(r.eventLoop.maxMs)} / ${fmt(r.eventLoop.p99Ms)}${r.eventLoop.method === 'synchronous' ? ' (sync)' : ''}`) },
];

export function machineLine(run) {
  const m = run.machine;
  const l3 = m.caches.find((c) => c.level === 3);
  return `${m.cpuModel}, ${m.cores} cores${m.hypervisor ? ' (VM)' : ''}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB${l3 ? `, L3 ${formatBytes(l3.bytes)}` : ''}, ${m.cpuFlags.filter((f) => f.startsWith('avx')).join('/')}, Linux ${m.kernel.split(' ')[0]}, Node ${run.versions.node}`;
}

export function loadLine(run) {
  const b = run.load.before;
  const a = run.load.after;
  const psi = (x) => (x.cpuPressureAvg10 === null ? '' : `, CPU pressure ${x.cpuPressureAvg10}%`);
  return `load average (1/5/15 min) ${b.loadavg.join(' / ')} before${psi(b)}; ${a.loadavg.join(' / ')} after${psi(a)}`;
}

export function renderMarkdown(run, charts) {
  const out = [];
  out.push(`# Datamover bench: ${run.parameters.mode} run, ${run.date}`);
  out.push('');
  out.push(`- command: \`${run.command}\` (${run.durationSeconds} s), revision ${run.revision ?? 'unknown'}`);
  out.push(`- machine: ${machineLine(run)}`);
  out.push(`- ${loadLine(run)}`);
  out.push(`- idle event loop (no work: ${run.idleEventLoop.durationMs / 2} ms at the start and at the end of the run): max ${fmt(run.idleEventLoop.maxMs)} ms, p99 ${fmt(run.idleEventLoop.p99Ms)} ms`);
  out.push('- GB/s = 10^9 bytes/s; every figure is a median over samples taken after warm-up unless it says p99; latency is per batch, submit → settled');
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(targetsTable(run.targets));
  out.push('');
  out.push('## Contenders');
  out.push('');
  out.push(
    mdTable(
      ['name', 'kind', 'operations', 'available', 'notes'],
      run.contenders.map((c) => [c.name, c.kind, c.ops.join(', '), c.available ? 'yes' : 'no', c.available ? [c.description, ...c.limits.map((l) => `**capped** (${describeLimit(l, formatBytes)}): ${l.reason}`)].join('; ') : `skipped: ${c.reason}`]),
    ),
  );
  out.push('');
  out.push(`Cells: ${run.parameters.ops.join(', ')} × sizes ${run.parameters.sizes.map(formatBytes).join(', ')} × batches ${run.parameters.batches.join(', ')}: every single operation, and batches that move at most ${formatBytes(run.parameters.maxBatchBytes)}. "cap" = not run for that contender (see its notes); "—" = not applicable.`);
  out.push(...plansSection(run));
  if (run.errors.length) {
    out.push('');
    out.push('## Errors');
    out.push('');
    for (const e of run.errors) out.push(`- ${e.contender ?? ''} ${e.op ?? ''} ${e.size ? formatBytes(e.size) : ''} ${e.batch ? `× ${e.batch}` : ''}: ${e.error.split('\n')[0]}`);
  }
  if (run.warnings.length) {
    out.push('');
    out.push('## Warnings');
    out.push('');
    for (const w of run.warnings) out.push(`- ${w}`);
  }
  for (const op of run.parameters.ops) {
    out.push('');
    out.push(`## ${op}`);
    for (const c of charts.filter((x) => x.op === op)) {
      out.push('');
      out.push(`![${c.alt}](${c.file})`);
    }
    for (const m of METRICS) {
      out.push('');
      out.push(`### ${m.title}`);
      out.push('');
      out.push(metricTable(run, op, m.pick));
    }
  }
  out.push('');
  return out.join('\n');
}

/** What `runBench` prints on stdout: the targets and the single-operation throughput per op. */
export function renderSummary(run) {
  const out = [`Datamover bench (${run.parameters.mode}), ${run.durationSeconds} s — ${machineLine(run)}`, loadLine(run), '', targetsTable(run.targets)];
  const skipped = run.contenders.filter((c) => !c.available);
  if (skipped.length) out.push('', ...skipped.map((c) => `skipped ${c.kind} ${c.name}: ${c.reason}`));
  for (const op of run.parameters.ops) {
    out.push('', `${op}: ${METRICS[0].title}`, '', metricTable(run, op, METRICS[0].pick));
  }
  out.push(...plansSection(run));
  if (run.warnings.length) out.push('', ...run.warnings.map((w) => `warning: ${w}`));
  if (run.errors.length) out.push('', ...run.errors.map((e) => `error: ${e.contender ?? ''} ${e.op ?? ''} ${e.size ? formatBytes(e.size) : ''}${e.batch ? ` × ${e.batch}` : ''}: ${e.error.split('\n')[0]}`));
  return out.join('\n');
}

// ---------------------------------------------------------------- README section

/**
 * The "latest results" section of bench/README.md, from a run written under the latest-<mode>
 * names (`node bench/update-readme.js` puts it between the README's markers).
 */
export function readmeSection(run, prefix) {
  const charts = renderCharts(run);
  const out = [];
  out.push(`Produced by \`${run.command}\` on ${run.date.slice(0, 16).replace('T', ' ')} UTC (${run.durationSeconds} s, revision ${run.revision ?? 'unknown'}).`);
  out.push('');
  out.push(`- machine: ${machineLine(run)}`);
  out.push(`- ${loadLine(run)}`);
  out.push(`- idle event loop (no work: ${run.idleEventLoop.durationMs / 2} ms at the start and at the end of the run): max ${fmt(run.idleEventLoop.maxMs)} ms, p99 ${fmt(run.idleEventLoop.p99Ms)} ms`);
  const skipped = run.contenders.filter((c) => !c.available);
  if (skipped.length) out.push(`- skipped: ${skipped.map((c) => `${c.name} (${c.reason})`).join('; ')}`);
  out.push('');
  out.push(targetsTable(run.targets));
  out.push('');
  out.push(`**copy — ${METRICS[0].title}**`);
  out.push('');
  out.push(metricTable(run, 'copy', METRICS[0].pick));
  out.push('');
  for (const c of charts) out.push(`![${c.alt}](results/${prefix}-${c.name})`, '');
  out.push(`Every table (latency p50/p99, descriptors/s, CPU per GB, event-loop delay, for copy, fill and crc32c): [results/${prefix}.md](results/${prefix}.md). Raw record: [results/${prefix}.json](results/${prefix}.json).`);
  return out.join('\n');
}

// ---------------------------------------------------------------- charts

/** The JS peer each operation's ratio chart divides soft by. */
const RATIO_PEERS = { copy: 'Buffer.copy', fill: 'Buffer.fill' };
const RATIO_BACKEND = 'soft';

export function renderCharts(run) {
  const sub = `${machineLine(run)} · ${run.parameters.mode} run ${run.date.slice(0, 16).replace('T', ' ')} · load ${run.load.before.loadavg[0]}`;
  const out = [];
  const ok = run.results.filter((r) => !r.error);
  for (const op of run.parameters.ops) {
    const names = run.contenders.filter((c) => c.available && c.ops.includes(op));
    const sizes = run.parameters.sizes;
    const batches = run.parameters.batches;
    // Single operations, and the largest batch run at each size (size × batch ≤ maxBatchBytes).
    const biggest = (s) => Math.max(...batches.filter((b) => b === 1 || s * b <= run.parameters.maxBatchBytes));
    const modes = [
      { title: 'one operation per call', batchOf: () => 1, tickLabel: formatBytes },
      { title: `batched: the largest batch per size (≤ ${Math.max(...batches)}, ≤ ${formatBytes(run.parameters.maxBatchBytes)})`, batchOf: biggest, tickLabel: (s) => `${formatBytes(s)}\n×${biggest(s)}` },
    ].filter((m, i) => i === 0 || batches.length > 1);
    const panels = modes.map((m) => {
      const lines = [];
      const limitPoints = [];
      for (const c of names) {
        const pts = sizes.map((s) => [s, ok.find((r) => r.contender === c.name && r.op === op && r.size === s && r.batch === m.batchOf(s))?.gbps.p50 ?? Number.NaN]);
        if (c.role === 'limit') {
          pts.forEach(([s, v], i) => {
            if (Number.isFinite(v)) limitPoints[i] = [s, Math.max(limitPoints[i]?.[1] ?? 0, v)];
          });
        } else lines.push({ name: c.name, kind: c.kind, points: pts });
      }
      if (limitPoints.some(Boolean)) {
        const limitNames = names.filter((c) => c.role === 'limit').map((c) => c.name.replace(/^C NT /, ''));
        lines.push({ name: `machine limit: C non-temporal\nstores (best of ${limitNames.join(', ')})`, role: 'limit', points: limitPoints.filter(Boolean) });
      }
      return { title: m.title, tickLabel: m.tickLabel, lines };
    });
    if (panels.some((p) => p.lines.some((l) => l.points.some((q) => Number.isFinite(q[1]))))) {
      out.push({ op, name: `throughput-${op}.svg`, alt: `${op} throughput vs size`, svg: throughputChart({ op, sizes, panels, subtitle: sub }) });
    }
    const peer = RATIO_PEERS[op];
    if (peer && names.some((c) => c.name === RATIO_BACKEND) && names.some((c) => c.name === peer)) {
      const gbps = (name, s, b) => ok.find((r) => r.contender === name && r.op === op && r.size === s && r.batch === b)?.gbps.p50 ?? Number.NaN;
      const lines = batches.map((b) => ({ batch: b, points: sizes.map((s) => [s, gbps(RATIO_BACKEND, s, b) / gbps(peer, s, b)]) })).filter((l) => l.points.some((q) => Number.isFinite(q[1])));
      if (lines.length > 0) out.push({ op, name: `ratio-${op}.svg`, alt: `${op}: ${RATIO_BACKEND} / ${peer} by size`, svg: ratioChart({ op, backend: RATIO_BACKEND, peer, sizes, lines, subtitle: sub }) });
    }
    const panelSizes = sizes.filter((s) => s <= 64 * 1024);
    const latencyPanels = panelSizes.map((size) => ({
      size,
      lines: names
        .map((c) => {
          const rs = batches.map((b) => ok.find((r) => r.contender === c.name && r.op === op && r.size === size && r.batch === b)).filter(Boolean);
          return { name: c.name, p50: rs.map((r) => [r.batch, r.latencyUs.p50]), p99: rs.map((r) => [r.batch, r.latencyUs.p99]) };
        })
        .filter((l) => l.p50.length > 0),
    }));
    if (batches.length > 1 && latencyPanels.some((p) => p.lines.length > 0)) {
      out.push({ op, name: `latency-${op}.svg`, alt: `${op} latency vs batch size`, svg: latencyChart({ op, panels: latencyPanels, batches, subtitle: sub }) });
    }
  }
  return out;
}

// ---------------------------------------------------------------- files

/** Keeps the JSON small and readable: long sample lists are kept as quantiles, numbers rounded. */
export function compact(run) {
  const round = (o) => JSON.parse(JSON.stringify(o, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? sig(v) : v)));
  const results = run.results.map((r) => {
    if (r.error) return r;
    const { latencyNs, ...rest } = r;
    const kind = r.harness === 'benchmark.js' ? 'cycle-mean' : 'per-batch';
    const samples = latencyNs.length <= 200 ? { unit: 'ns', kind, n: latencyNs.length, values: latencyNs.map((x) => sig(x, 6)) } : { unit: 'ns', kind, n: latencyNs.length, quantiles: quantileTable(latencyNs) };
    return { ...rest, samples };
  });
  return round({ ...run, results });
}

/**
 * Writes result.json, results.md and the charts into `dir`; with `latestPrefix` also copies them
 * to `<resultsDir>/<latestPrefix>.json|.md` and `<latestPrefix>-<chart>.svg`.
 */
export function writeRun(run, dir, latest) {
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(compact(run), null, 2)}\n`;
  const charts = renderCharts(run);
  const files = [];
  const write = (path, text) => {
    writeFileSync(path, text);
    files.push(path);
  };
  write(join(dir, 'result.json'), json);
  for (const c of charts) write(join(dir, c.name), c.svg);
  write(join(dir, 'results.md'), renderMarkdown(run, charts.map((c) => ({ ...c, file: c.name }))));
  if (latest) {
    const { dir: ldir, prefix } = latest;
    write(join(ldir, `${prefix}.json`), json);
    for (const c of charts) write(join(ldir, `${prefix}-${c.name}`), c.svg);
    write(join(ldir, `${prefix}.md`), renderMarkdown(run, charts.map((c) => ({ ...c, file: `${prefix}-${c.name}` }))));
  }
  return files;
}
