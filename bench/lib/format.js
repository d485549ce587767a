/** Number and size formatting shared by the tables and the charts. */

const UNITS = [
  [1024 ** 3, 'GiB'],
  [1024 ** 2, 'MiB'],
  [1024, 'KiB'],
];

/** 64 → "64 B", 4096 → "4 KiB", 1073741824 → "1 GiB". */
export function formatBytes(n) {
  for (const [u, name] of UNITS) if (n >= u && n % u === 0) return `${n / u} ${name}`;
  for (const [u, name] of UNITS) if (n >= u) return `${(n / u).toFixed(1)} ${name}`;
  return `${n} B`;
}

/** "64", "64B", "4KiB", "4K", "1 MiB", "1g" → bytes; NaN when it is not a size. */
export function parseBytes(s) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?\s*$/i.exec(String(s));
  if (!m) return Number.NaN;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()];
  const v = Number(m[1]) * mult;
  return Number.isInteger(v) ? v : Number.NaN;
}

/** Three significant digits, no exponent for everyday magnitudes; "—" for missing values. */
export function fmt(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 10 ** digits) return Math.round(x).toLocaleString('en-US');
  if (a < 1e-6) return x.toExponential(1);
  return String(Number(x.toPrecision(digits)));
}
