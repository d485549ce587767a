/** The readable table on stdout and the JSON file under bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { quantile } from './stats.js';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

function fmt(x, unit) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (unit === 'µs' || unit === 'ms') return x < 10 ? x.toFixed(2) : x.toFixed(1);
  return x < 10 ? x.toFixed(2) : x.toFixed(1);
}

function targetText(m) {
  if (!m.target) return '';
  const what = m.target.on === 'ratio' ? '×' : ` ${m.unit}`;
  return `${m.target.op} ${m.target.value}${what}`;
}

function verdict(m) {
  if (!m.target) return '';
  if (m.pass === null) return 'n/a';
  return m.pass ? 'PASS' : 'MISS';
}

export function renderTable(run) {
  const headers = ['measurement', 'stat', 'datamover', 'peer', 'peer value', 'ratio', 'target', ''];
  const rows = run.results.map((m) => [
    m.title,
    m.stat,
    `${fmt(m.value, m.unit)} ${m.unit}`,
    m.peer ? m.peer.name : '—',
    m.peer ? `${fmt(m.peerValue, m.unit)} ${m.unit}` : '—',
    m.ratio === null ? '—' : `${m.ratio.toFixed(2)}×`,
    targetText(m),
    verdict(m),
  ]);
  const width = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => [...r[c]].length)));
  const right = new Set([2, 4, 5]);
  const line = (cells) =>
    cells
      .map((cell, c) => {
        const pad = ' '.repeat(width[c] - [...cell].length);
        return right.has(c) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  const notes = run.results.filter((m) => m.note).map((m) => `  ${m.title} — ${m.peer ? `vs ${m.peer.name}: ` : ''}${m.note}`);
  return [
    `Datamover bench (${run.parameters.mode}) — engine: ${run.engine.name}${run.engine.native ? `, NT stores ≥ ${(run.engine.native.ntThreshold / 1048576).toFixed(1)} MiB, crc32c ${run.engine.native.crc32c}` : ''}`,
    `${run.machine.cpuModel}, ${run.machine.cores} cores, ${(run.machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${run.machine.node}, Linux ${run.machine.kernel.split(' ')[0]}`,
    'ratio = datamover / peer (medians unless the stat says otherwise); GB/s = 10^9 bytes/s',
    '',
    line(headers),
    width.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    ...(notes.length ? ['', 'notes:', ...notes] : []),
    ...(run.warnings.length ? ['', ...run.warnings.map((w) => `warning: ${w}`)] : []),
  ].join('\n');
}

/** Keeps the file small: long sample lists (latency) are kept as quantiles. */
function compactSamples(s) {
  if (!s) return s;
  const round = (x) => Number(x.toPrecision(5));
  if (s.samples.length <= 1000) return { ...s, samples: s.samples.map(round) };
  const { samples, ...rest } = s;
  const q = {};
  for (const p of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999]) q[`p${p * 100}`] = round(quantile(samples, p));
  return { ...rest, samples: `${samples.length} samples, kept as quantiles`, quantiles: q };
}

export function writeResults(run) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = run.date.replace(/[:.]/g, '-');
  const file = `${RESULTS_DIR}${stamp}-${run.parameters.mode}-${run.engine.name}.json`;
  const out = { ...run, results: run.results.map((m) => ({ ...m, datamover: compactSamples(m.datamover), peer: compactSamples(m.peer) })) };
  const text = `${JSON.stringify(out, null, 2)}\n`;
  writeFileSync(file, text);
  // The latest run of each mode and engine is kept under a fixed name (and committed).
  writeFileSync(`${RESULTS_DIR}latest-${run.parameters.mode}-${run.engine.name}.json`, text);
  return file;
}
