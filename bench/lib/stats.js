/** Sampling and order statistics shared by every bench case. */

/** The q-quantile (0..1) of `values` by linear interpolation between closest ranks. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);

/** Summary of a sample: median, p99, min, max, count. */
export function summarize(values) {
  return {
    n: values.length,
    median: median(values),
    p99: quantile(values, 0.99),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Seconds elapsed since `t0` (a process.hrtime.bigint() reading). */
export function since(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Times `fn` (sync or async) `samples` times after `warmup` untimed runs. Returns the durations
 * in seconds. `fn` receives the sample index (negative during warm-up).
 */
export async function sample(fn, { warmup, samples }) {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const out = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(since(t0));
  }
  return out;
}

/**
 * Times two contenders alternately (A B, B A, A B, …) so that drift on a noisy machine — other
 * tenants, frequency changes — falls on both alike. Returns `{ a, b }`, durations in seconds.
 */
export async function samplePair(fa, fb, { warmup, samples }) {
  for (let i = 0; i < warmup; i++) {
    await fa(-1 - i);
    await fb(-1 - i);
  }
  const a = [];
  const b = [];
  const time = async (f, i, into) => {
    const t0 = process.hrtime.bigint();
    await f(i);
    into.push(since(t0));
  };
  for (let i = 0; i < samples; i++) {
    if (i % 2 === 0) {
      await time(fa, i, a);
      await time(fb, i, b);
    } else {
      await time(fb, i, b);
      await time(fa, i, a);
    }
  }
  return { a, b };
}

/** Decimal GB/s of moving `bytes` in each of `seconds`. */
export const toGBps = (bytes, seconds) => seconds.map((s) => bytes / s / 1e9);
