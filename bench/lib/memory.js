/**
 * The memory every in-process contender works on: one source and one destination pool, shared by
 * the backends (registered with `mover.wrap`) and the JavaScript peers (plain views), so that
 * alignment, page faults and placement cannot favour either side. Operation k of a batch uses
 * bytes [k·size, (k+1)·size) of both pools — the same layout the C peer uses on its own pools.
 */

const MiB = 1024 * 1024;

/**
 * The source pattern, byte i = (i·131 + ⌊i / 4096⌋) mod 256: the same bytes bench/peers/memcpy.c
 * writes, so checksums can be compared across processes. It repeats every MiB.
 */
export function writePattern(view) {
  const first = Math.min(view.length, MiB);
  for (let i = 0; i < first; i++) view[i] = (i * 131 + (i >>> 12)) & 255;
  for (let have = first; have < view.length; have *= 2) view.copyWithin(have, 0, Math.min(have, view.length - have));
}

/**
 * Allocates a pair of pools of `bytes` each: page-aligned memory from the soft backend's native
 * allocator when its addon loads (the memory `mover.alloc` returns), else ordinary ArrayBuffers
 * (at least 16-byte aligned). Every page is written before anything is timed.
 */
export function allocPools(bytes, allocateAligned) {
  const alloc = () => (allocateAligned ? allocateAligned(bytes, 4096) : new ArrayBuffer(bytes));
  const src = new Uint8Array(alloc());
  const dst = new Uint8Array(alloc());
  writePattern(src);
  dst.fill(1);
  return { bytes, alignment: allocateAligned ? 4096 : 16, src, dst };
}

/** Shared-memory pools (for worker threads) with the same contents. */
export function allocSharedPools(bytes) {
  const src = new Uint8Array(new SharedArrayBuffer(bytes));
  const dst = new Uint8Array(new SharedArrayBuffer(bytes));
  writePattern(src);
  dst.fill(1);
  return { bytes, src, dst };
}

/** The byte ranges whose results are checked after a cell: the first and last operation, at most 1 MiB each. */
export function checkedRanges(cell) {
  const span = Math.min(cell.size, MiB);
  const ranges = [[0, span]];
  if (cell.batch > 1) ranges.push([(cell.batch - 1) * cell.size, span]);
  return ranges;
}

export const FILL_BYTE = 0xa5;
const POISON = { copy: 0x3c, fill: 0x00 };

/** Overwrites the checked destination ranges so that a contender that does nothing is caught. */
export function poison(pools, cell) {
  const p = POISON[cell.op];
  if (p === undefined) return;
  for (const [o, n] of checkedRanges(cell)) pools.dst.fill(p, o, o + n);
}

/** Checks the destination ranges after a contender ran: null when right, else what is wrong. */
export function verify(pools, cell) {
  for (const [o, n] of checkedRanges(cell)) {
    const d = pools.dst.subarray(o, o + n);
    if (cell.op === 'copy') {
      const s = pools.src.subarray(o, o + n);
      if (Buffer.compare(Buffer.from(d.buffer, d.byteOffset, n), Buffer.from(s.buffer, s.byteOffset, n)) !== 0) return `copy left wrong bytes in [${o}, ${o + n})`;
    } else if (cell.op === 'fill') {
      for (let i = 0; i < n; i++) if (d[i] !== FILL_BYTE) return `fill left byte ${d[i]} at ${o + i}`;
    }
  }
  return null;
}
