// Shared by the guest scripts of the cxl lab tests (plain JavaScript: the guest runs node on the
// built packages, no TypeScript).
import { readFileSync } from 'node:fs';

/** Deterministic bytes: `marker` (UTF-8) first, then a pattern seeded by it. */
export function payload(marker, length) {
  const out = new Uint8Array(length);
  const m = new TextEncoder().encode(marker);
  out.set(m.subarray(0, length));
  let x = 0x811c9dc5;
  for (const b of m) x = Math.imul(x ^ b, 0x01000193) >>> 0;
  for (let i = m.length; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** numa_maps lines of VMAs with this policy and this many anonymous pages: { line, nodes }. */
export function vmas(policy, anonPages) {
  return readFileSync('/proc/self/numa_maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(` ${policy} `) && Number(/ anon=(\d+)/.exec(l)?.[1]) === anonPages)
    .map((line) => ({ line, nodes: Object.fromEntries([...line.matchAll(/ N(\d+)=(\d+)/g)].map((m) => [m[1], Number(m[2])])) }));
}

export function emit(value) {
  process.stdout.write(`@@json${JSON.stringify(value)}\n`);
}
