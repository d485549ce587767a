/**
 * Test data and oracles that depend on no backend: deterministic noise, a CRC-32C written here
 * (slicing-by-8, checked against the standard check value), fill patterns and byte diffs.
 */

/** A small seeded PRNG (xorshift32); every random choice of the suite comes from one. */
export class Rng {
  #x: number;
  constructor(seed: number) {
    this.#x = seed >>> 0 || 0x9e3779b9;
  }
  /** A uniformly distributed 32-bit unsigned integer. */
  u32(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }
  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 0x1_0000_0000;
  }
  /** An integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)]!;
  }
  /** A random unsigned bigint of `bytes` bytes. */
  bigint(bytes: number): bigint {
    let v = 0n;
    for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(this.u32() & 0xff);
    return v;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** Stable 32-bit hash of a string (FNV-1a), for per-case seeds. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * `n` bytes of deterministic noise. Every 4-byte word differs from its neighbours, so a copy
 * that lands a few bytes off, or a block copied twice, never matches by accident.
 */
export function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = Math.floor(n / 4);
  const u32 = new Uint32Array(out.buffer, 0, words);
  let x = (seed ^ 0x5bd1e995) >>> 0 || 1;
  for (let i = 0; i < words; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    u32[i] = x >>> 0;
  }
  for (let i = words * 4; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// ---- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8 ----

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t0[i] = c >>> 0;
  }
  const tables = [t0];
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1]!;
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) t[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    tables.push(t);
  }
  return tables;
})();

/** CRC-32C of `data`, continuing from `seed` (a previous checksum; 0 for a fresh one). */
export function crc32c(data: Uint8Array, seed = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = ~seed >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

if (crc32c(new TextEncoder().encode('123456789')) !== 0xe3069283) throw new Error('conformance: the CRC-32C oracle is broken');

/** What a fill of `n` bytes with a 1- or 8-byte little-endian pattern writes. */
export function fillBytes(n: number, pattern: bigint, patternBytes: 1 | 8): Uint8Array {
  const unit = new Uint8Array(8);
  new DataView(unit.buffer).setBigUint64(0, pattern, true);
  const out = new Uint8Array(n);
  if (patternBytes === 1) out.fill(unit[0]!);
  else for (let k = 0; k < n; k++) out[k] = unit[k & 7]!;
  return out;
}

/** Little-endian bytes of `value` in `width` bytes. */
export function leBytes(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  let v = value;
  for (let i = 0; i < width; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Index of the first differing byte, or -1 when equal (lengths must match to be equal). */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (a.length === b.length && ba.equals(bb)) return -1;
  // Binary search on equal prefixes using the native comparison, then a short scan.
  let lo = 0;
  let hi = n;
  while (hi - lo > 64) {
    const mid = (lo + hi) >>> 1;
    if (ba.subarray(lo, mid).equals(bb.subarray(lo, mid))) lo = mid;
    else hi = mid;
  }
  for (let i = lo; i < hi; i++) if (a[i] !== b[i]) return i;
  return n;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Human-readable byte count: 4097 → "4097 B", 1 MiB + 3 → "1 MiB + 3". */
export function bytesLabel(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n > MiB) return `${Math.floor(n / MiB)} MiB + ${n % MiB}`;
  return `${n} B`;
}
