/** Parsing and printing of sizes, rates and durations; plain-text tables; a progress bar. */
import { CliError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * A byte count from the command line: `4096`, `64MiB`, `1.5GiB`, `64M`, `4k`, `1GB`, `0x1000`.
 * KiB/MiB/GiB/TiB and the one-letter k/M/G/T are binary (1024-based, as dd and fio read them);
 * kB/MB/GB/TB are decimal. The result must be a whole, non-negative, safe integer.
 */
export function parseSize(text: string, what: string): number {
  const t = text.trim();
  let n: number;
  if (/^0x[0-9a-f]+$/i.test(t)) n = Number.parseInt(t.slice(2), 16);
  else {
    const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i.exec(t);
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) {
      throw new CliError('INVALID_SIZE', `${what}: cannot read "${text}" as a size (examples: 4096, 4k, 64MiB, 1GiB, 1GB)`);
    }
    n = Number(m[1]) * unit;
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new CliError('INVALID_SIZE', `${what}: "${text}" is not a whole number of bytes`);
  return n;
}

/** `64.0 MiB`, `5.0 MiB`, `3 B`: binary units, one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** Decimal gigabytes per second (1 GB = 10^9 bytes), as memory bandwidth is usually quoted. */
export function gbps(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / seconds / 1e9 : Number.POSITIVE_INFINITY;
}

export function formatRate(bytes: number, seconds: number): string {
  const r = gbps(bytes, seconds);
  if (!Number.isFinite(r)) return '∞ GB/s';
  if (r >= 1) return `${r.toFixed(2)} GB/s`;
  return `${(r * 1000).toFixed(1)} MB/s`;
}

/** A count per second with an M/k suffix: `6.21 M/s`. */
export function formatPerSecond(count: number, seconds: number): string {
  if (seconds <= 0) return '∞ /s';
  const r = count / seconds;
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)} M/s`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)} k/s`;
  return `${r.toFixed(0)} /s`;
}

export function formatSeconds(s: number): string {
  if (s < 1e-3) return `${(s * 1e6).toFixed(1)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(2)} ms`;
  return `${s.toFixed(3)} s`;
}

/** Columns padded to their widest cell; `right` names columns aligned right (numbers). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const width = headers.map((h, c) => Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[c] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => {
        const pad = ' '.repeat(Math.max(0, width[c]! - displayWidth(cell)));
        return right.includes(c) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(headers), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(headers.map((_, c) => r[c] ?? '')))].join('\n');
}

function displayWidth(s: string): number {
  // Enough for the characters this CLI prints (µ, →, ×, ✓ are one column each).
  return [...s].length;
}

/**
 * A one-line progress bar redrawn in place on a TTY stream. On other streams it draws nothing
 * and `done()` prints one plain final line, so logs stay readable.
 */
export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #total: number;
  readonly #label: string;
  readonly #t0 = performance.now();
  #last = 0;

  constructor(stream: NodeJS.WriteStream, total: number, label: string) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
    this.#total = total;
    this.#label = label;
  }

  update(done: number): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (now - this.#last < 100 && done < this.#total) return;
    this.#last = now;
    const frac = this.#total > 0 ? done / this.#total : 1;
    const cols = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - 60));
    const filled = Math.round(frac * cols);
    const bar = '#'.repeat(filled) + '.'.repeat(cols - filled);
    const secs = (now - this.#t0) / 1000;
    this.#stream.write(`\r${this.#label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${formatBytes(done)} / ${formatBytes(this.#total)}  ${formatRate(done, secs)}\x1b[K`);
  }

  done(done: number): void {
    const secs = (performance.now() - this.#t0) / 1000;
    const text = `${this.#label}: ${formatBytes(done)} in ${formatSeconds(secs)} (${formatRate(done, secs)})`;
    this.#stream.write(this.#tty ? `\r${text}\x1b[K\n` : `${text}\n`);
  }
}
