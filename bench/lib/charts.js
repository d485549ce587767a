/**
 * SVG charts written as text (no chart dependency): throughput vs size per contender with the
 * machine's limit as a dashed line, and latency (p50, p99) vs batch size. Log scales throughout,
 * since the values span several decades.
 */
import { formatBytes } from './format.js';

/** Fixed colours per contender (Okabe–Ito palette first, so the lines stay distinguishable for colour-blind readers). */
const COLORS = {
  soft: '#0072B2',
  'soft-ts': '#56B4E9',
  'Buffer.copy': '#E69F00',
  'Buffer.fill': '#E69F00',
  'TypedArray.set': '#D55E00',
  workers: '#009E73',
  'JS crc32c': '#CC79A7',
  sdxi: '#CC0066',
  gds: '#6A3D9A',
  rdma: '#8B4513',
  cxl: '#66A61E',
  'C memcpy': '#555555',
  'C memset': '#555555',
  'C crc32c': '#555555',
  'C NT AVX2': '#A0A0A0',
  'C NT AVX-512': '#2F2F2F',
  'C NT AVX2 mt': '#7F7F7F',
  limit: '#000000',
};
const SPARE = ['#B8860B', '#4682B4', '#C71585', '#2E8B57', '#A0522D', '#8E44AD'];

export function colorOf(name, index = 0) {
  return COLORS[name] ?? SPARE[index % SPARE.length];
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x) => Number(x.toFixed(1));

/** Tick labels for a log axis: decades, with 1-2-5 steps when the range is short. */
function logTicks(lo, hi) {
  const out = [];
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const steps = b - a <= 3 ? [1, 2, 5] : [1];
  for (let e = a; e <= b; e++) for (const s of steps) {
    const v = s * 10 ** e;
    if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
  }
  return out;
}

function fmtTick(v) {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  if (v >= 1) return String(v);
  return String(Number(v.toPrecision(1)));
}

/**
 * One panel: log x, log y, lines with markers.
 * @param {object} o  { x, y, w, h, title, xTicks: [{ v, label }], xLabel, yLabel, yRange: [lo, hi], series }
 */
function panel(o) {
  const { x, y, w, h } = o;
  const [xlo, xhi] = [Math.min(...o.xTicks.map((t) => t.v)), Math.max(...o.xTicks.map((t) => t.v))];
  const [ylo, yhi] = o.yRange;
  const px = (v) => x + ((Math.log(v) - Math.log(xlo)) / (Math.log(xhi) - Math.log(xlo) || 1)) * w;
  const py = (v) => y + h - ((Math.log(v) - Math.log(ylo)) / (Math.log(yhi) - Math.log(ylo) || 1)) * h;
  const parts = [];
  parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="#ffffff" stroke="#999999"/>`);
  for (const t of logTicks(ylo, yhi)) {
    const yy = num(py(t));
    parts.push(`<line x1="${x}" y1="${yy}" x2="${x + w}" y2="${yy}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${x - 6}" y="${yy + 4}" text-anchor="end" class="tick">${fmtTick(t)}</text>`);
  }
  // Tick labels may have two lines ("64 KiB\n×4096"); a label too close to the previous one on
  // its row drops below it, so neighbours never overprint.
  let lastX = -Infinity;
  let row = 0;
  const maxLines = o.tickLines ?? Math.max(...o.xTicks.map((t) => String(t.label).split('\n').length));
  for (const t of o.xTicks) {
    const xx = num(px(t.v));
    const lines = String(t.label).split('\n');
    row = xx - lastX < 58 ? 1 - row : 0;
    lastX = xx;
    parts.push(`<line x1="${xx}" y1="${y}" x2="${xx}" y2="${y + h}" stroke="#e4e4e4"/>`);
    lines.forEach((line, i) => {
      parts.push(`<text x="${xx}" y="${y + h + 16 + (row * lines.length + i) * 13}" text-anchor="middle" class="tick">${esc(line)}</text>`);
    });
  }
  if (o.title) parts.push(`<text x="${x + w / 2}" y="${y - 8}" text-anchor="middle" class="panel">${esc(o.title)}</text>`);
  if (o.xLabel) parts.push(`<text x="${x + w / 2}" y="${y + h + 40 + (maxLines * 2 - 1) * 13}" text-anchor="middle" class="axis">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text transform="translate(${x - 48} ${y + h / 2}) rotate(-90)" text-anchor="middle" class="axis">${esc(o.yLabel)}</text>`);
  for (const s of o.series) {
    const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && b > 0).map(([a, b]) => [num(px(a)), num(py(Math.min(Math.max(b, ylo), yhi)))]);
    if (pts.length === 0) continue;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const op = s.opacity ? ` stroke-opacity="${s.opacity}"` : '';
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${dash}${op} points="${pts.map((p) => p.join(',')).join(' ')}"/>`);
    if (s.marker !== false) for (const [a, b] of pts) parts.push(`<circle cx="${a}" cy="${b}" r="${s.markerSize ?? 3}" fill="${s.color}"${op ? ` fill-opacity="${s.opacity}"` : ''}/>`);
  }
  return parts.join('\n');
}

/** Legend entries; a label with "\n" continues on a second, smaller line. */
function legend(x, y, items) {
  const parts = [];
  let yy = y;
  for (const it of items) {
    const dash = it.dash ? ` stroke-dasharray="${it.dash}"` : '';
    if (it.width !== 0) parts.push(`<line x1="${x}" y1="${yy}" x2="${x + 28}" y2="${yy}" stroke="${it.color}" stroke-width="${it.width ?? 2.5}"${dash}/>`);
    if (it.marker !== false) parts.push(`<circle cx="${x + 14}" cy="${yy}" r="3" fill="${it.color}"/>`);
    const [first, ...rest] = String(it.label).split('\n');
    parts.push(`<text x="${x + 36}" y="${yy + 4}" class="legend">${esc(first)}</text>`);
    for (const line of rest) {
      yy += 15;
      parts.push(`<text x="${x + 36}" y="${yy + 4}" class="tick">${esc(line)}</text>`);
    }
    yy += 21;
  }
  return parts.join('\n');
}

function svg(width, height, title, subtitle, body) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
.title { font-size: 17px; font-weight: bold; fill: #222222; }
.subtitle { font-size: 12px; fill: #555555; }
.panel { font-size: 13px; font-weight: bold; fill: #333333; }
.axis { font-size: 12px; fill: #333333; }
.tick { font-size: 11px; fill: #555555; }
.legend { font-size: 12px; fill: #222222; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="20" y="26" class="title">${esc(title)}</text>
<text x="20" y="45" class="subtitle">${esc(subtitle)}</text>
${body}
</svg>
`;
}

function yRangeOf(values) {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  if (v.length === 0) return [0.1, 10];
  const lo = 10 ** Math.floor(Math.log10(Math.min(...v)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...v)));
  return [lo, hi === lo ? lo * 10 : hi];
}

/**
 * Throughput (median GB/s) vs operation size, one line per contender, the best non-temporal C
 * peer as a dashed "limit" line. One panel per batching mode (single operations; the largest
 * batch that fits each size).
 * @param {{ op: string, sizes: number[], panels: { title: string, tickLabel?: (size: number) => string, lines: { name: string, kind?: string, role?: string, points: [number, number][] }[] }[], subtitle: string }} o
 */
export function throughputChart(o) {
  const pw = 430;
  const gap = 80;
  const plotTop = 80;
  const ph = 400;
  const names = [];
  for (const p of o.panels) for (const l of p.lines) if (!names.some((n) => n.name === l.name)) names.push(l);
  const style = (l, i) => ({
    color: l.role === 'limit' ? COLORS.limit : colorOf(l.name, i),
    dash: l.role === 'limit' ? '7 5' : null,
    width: l.role === 'limit' ? 2 : l.kind === 'backend' ? 3 : 2,
  });
  const styles = new Map(names.map((l, i) => [l.name, style(l, i)]));
  const yRange = yRangeOf(o.panels.flatMap((p) => p.lines.flatMap((l) => l.points.map((q) => q[1]))));
  const tickLines = Math.max(...o.panels.map((p) => Math.max(...o.sizes.map((s) => String((p.tickLabel ?? formatBytes)(s)).split('\n').length))));
  const parts = [];
  o.panels.forEach((p, i) => {
    parts.push(
      panel({
        x: 80 + i * (pw + gap),
        y: plotTop,
        w: pw,
        h: ph,
        title: p.title,
        xTicks: o.sizes.map((s) => ({ v: s, label: (p.tickLabel ?? formatBytes)(s) })),
        xLabel: 'operation size (log scale)',
        yLabel: i === 0 ? 'GB/s, median (log scale)' : '',
        yRange,
        tickLines,
        series: p.lines.map((l) => ({ ...styles.get(l.name), points: l.points })),
      }),
    );
  });
  const legendX = 80 + o.panels.length * (pw + gap) - gap + 30;
  parts.push(legend(legendX, plotTop + 10, names.map((l) => ({ label: l.name, ...styles.get(l.name) }))));
  return svg(legendX + 250, plotTop + ph + 100, `${o.op}: throughput vs operation size`, o.subtitle, parts.join('\n'));
}

/**
 * Latency (submit → settled, p50 solid, p99 dashed) vs batch size, one panel per operation size.
 * @param {{ op: string, panels: { size: number, lines: { name: string, p50: [number, number][], p99: [number, number][] }[] }[], batches: number[], subtitle: string }} o
 */
export function latencyChart(o) {
  const n = o.panels.length;
  const pw = 270;
  const gap = 75;
  const plotTop = 80;
  const ph = 340;
  const legendX = 80 + n * (pw + gap) - gap + 30;
  const names = [...new Set(o.panels.flatMap((p) => p.lines.map((l) => l.name)))];
  const width = legendX + 200;
  const height = plotTop + ph + 80;
  const all = o.panels.flatMap((p) => p.lines.flatMap((l) => [...l.p50, ...l.p99].map((q) => q[1])));
  const yRange = yRangeOf(all);
  const parts = [];
  o.panels.forEach((p, i) => {
    const series = [];
    for (const l of p.lines) {
      const color = colorOf(l.name, names.indexOf(l.name));
      series.push({ color, points: l.p99, dash: '5 4', width: 1.5, opacity: 0.75, markerSize: 2 });
      series.push({ color, points: l.p50, width: 2.5 });
    }
    parts.push(
      panel({
        x: 80 + i * (pw + gap),
        y: plotTop,
        w: pw,
        h: ph,
        title: `${formatBytes(p.size)} per operation`,
        xTicks: o.batches.map((b) => ({ v: b, label: String(b) })),
        xLabel: 'operations per batch',
        yLabel: i === 0 ? 'µs per batch, submit → settled' : '',
        yRange,
        series,
      }),
    );
  });
  const items = names.map((name, i) => ({ label: name, color: colorOf(name, i) }));
  items.push({ label: '', color: '#ffffff', marker: false, width: 0 });
  items.push({ label: 'p50 (solid)', color: '#333333', marker: false });
  items.push({ label: 'p99 (dashed)', color: '#333333', dash: '5 4', width: 1.5, marker: false });
  parts.push(legend(legendX, plotTop + 10, items));
  return svg(width, height, `${o.op}: latency vs batch size`, o.subtitle, parts.join('\n'));
}

/**
 * A backend's throughput over its JS peer's (soft / Buffer.copy) vs operation size, one line per
 * batch size, with the 1.0× line where the two cross: below it the peer is faster.
 * @param {{ op: string, backend: string, peer: string, sizes: number[], lines: { batch: number, points: [number, number][] }[], subtitle: string }} o
 */
export function ratioChart(o) {
  const pw = 560;
  const plotTop = 80;
  const ph = 380;
  const values = o.lines.flatMap((l) => l.points.map((q) => q[1]));
  const [lo, hi] = yRangeOf([...values, 1]);
  const styles = o.lines.map((l, i) => ({ color: SPARE[i % SPARE.length], width: l.batch === 1 ? 3 : 2 }));
  const series = o.lines.map((l, i) => ({ ...styles[i], points: l.points }));
  series.push({ color: COLORS.limit, dash: '7 5', width: 1.5, marker: false, points: [[o.sizes[0], 1], [o.sizes[o.sizes.length - 1], 1]] });
  const parts = [
    panel({
      x: 80,
      y: plotTop,
      w: pw,
      h: ph,
      title: `${o.backend} ÷ ${o.peer}, median GB/s`,
      xTicks: o.sizes.map((s) => ({ v: s, label: formatBytes(s) })),
      xLabel: 'operation size (log scale)',
      yLabel: `throughput ratio (log scale)`,
      yRange: [lo, hi],
      series,
    }),
  ];
  const items = o.lines.map((l, i) => ({ label: `× ${l.batch} per batch`, ...styles[i] }));
  items.push({ label: `1.0×: ${o.backend} as fast as ${o.peer}`, color: COLORS.limit, dash: '7 5', width: 1.5, marker: false });
  parts.push(legend(80 + pw + 30, plotTop + 10, items));
  return svg(80 + pw + 330, plotTop + ph + 100, `${o.op}: ${o.backend} / ${o.peer} by size (the crossover)`, o.subtitle, parts.join('\n'));
}
