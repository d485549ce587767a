/** Order statistics shared by the sampler and the reports. */

/** The q-quantile (0..1) of `values` by linear interpolation between closest ranks. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  return quantileSorted(s, q);
}

function quantileSorted(s, q) {
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);

/** The quantiles kept in the JSON when a sample list is too long to keep whole. */
export const KEPT_QUANTILES = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

/** p50, p99, min, max, mean and n of `values`. */
export function summarize(values) {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    p50: quantileSorted(s, 0.5),
    p99: quantileSorted(s, 0.99),
    min: s[0],
    max: s[s.length - 1],
    mean: sum / s.length,
  };
}

/** `{ p0: …, p1: …, p50: …, p99.9: …, p100: … }` of `values` (keys as in KEPT_QUANTILES × 100). */
export function quantileTable(values) {
  const s = Float64Array.from(values).sort();
  const out = {};
  for (const q of KEPT_QUANTILES) out[`p${Number((q * 100).toFixed(1))}`] = quantileSorted(s, q);
  return out;
}

/** Nanoseconds since `t0` (a process.hrtime.bigint() reading), as a number. */
export function sinceNs(t0) {
  return Number(process.hrtime.bigint() - t0);
}

/** Rounds to `digits` significant digits (keeps the JSON readable). */
export function sig(x, digits = 5) {
  return Number.isFinite(x) ? Number(x.toPrecision(digits)) : x;
}
