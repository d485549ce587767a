/**
 * The KV-tiering example's store on the real soft and cxl backends (the dax tier a MAP_SHARED
 * file in a temp dir): eviction order, promotion in strided runs, prefix sharing with
 * copy-on-write, an integrity failure, bad input, and the example's whole run.
 */
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { cxl } from '@datamover/backend-cxl';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, KvStore, runExample, toRuns, type KvStoreConfig } from '../src/index.js';

const BB = 4096;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openStore(config: Partial<KvStoreConfig> = {}): Promise<{ store: KvStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-store-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const mover = await Mover.open({ backends: [soft(), cxl()] });
  cleanups.push(() => mover.close());
  const store = await KvStore.open(mover, { blockBytes: BB, hostBlocks: 4, daxBlocks: 8, fileBlocks: 32, evictBatch: 1, dir, ...config });
  return { store, dir };
}

/** A block whose every byte says which one it is. */
const pattern = (n: number) => new Uint8Array(BB).fill(n);

describe('toRuns', () => {
  it('joins evenly spaced slots into one run and starts a new run where the spacing changes', () => {
    const moves = [0, 2, 4, 6, 7, 9].map((src, i) => ({ src, dst: 10 + i }));
    expect(toRuns(moves)).toEqual([
      { src: 0, dst: 10, count: 4, srcStep: 2, dstStep: 1 },
      { src: 7, dst: 14, count: 2, srcStep: 2, dstStep: 1 },
    ]);
    expect(toRuns([])).toEqual([]);
  });
});

describe('KvStore', () => {
  it('evicts the least recently used block first, down one tier', async () => {
    const { store } = await openStore();
    for (let seq = 0; seq < 4; seq++) await store.write(seq, 0, 0, pattern(seq));
    await store.acquire(0); // 0 is now the most recently used; 1 the least
    await store.write(4, 0, 0, pattern(4));
    expect([0, 1, 2, 3, 4].map((s) => store.where(s, 0, 0))).toEqual(['host', 'dax', 'host', 'host', 'host']);
    await store.write(5, 0, 0, pattern(5));
    expect(store.where(2, 0, 0)).toBe('dax');
    expect(store.changes.map((c) => `${c.from}→${c.to} ${c.blocks}`)).toEqual(['host→dax 1', 'host→dax 1']);
    expect(await store.read(1, 0, 0)).toEqual(pattern(1));
  });

  it('promotes a sequence in strided runs: one descriptor for evenly spaced blocks', async () => {
    const { store } = await openStore({ hostBlocks: 8, daxBlocks: 16, evictBatch: 8 });
    // Interleaved writes: sequence 0 in the even host slots, sequence 1 in the odd ones.
    for (let layer = 0; layer < 4; layer++) {
      await store.write(0, layer, 0, pattern(layer));
      await store.write(1, layer, 0, pattern(10 + layer));
    }
    await store.write(2, 0, 0, pattern(20)); // host full: all 8 go down, contiguous, in one copy
    expect(store.changes).toHaveLength(1);
    expect(store.changes[0]).toMatchObject({ from: 'host', to: 'dax', blocks: 8, descriptors: 1, hostCopies: 0 });
    await store.acquire(0);
    expect(store.changes[1]).toMatchObject({ from: 'dax', to: 'host', blocks: 4, descriptors: 1, runs: [4], hostCopies: 0 });
    for (let layer = 0; layer < 4; layer++) {
      expect(store.where(0, layer, 0)).toBe('host');
      expect(store.where(1, layer, 0)).toBe('dax');
      expect(await store.read(0, layer, 0)).toEqual(pattern(layer));
    }
  });

  it('stages dax → file through host (the plan says 1 host copy) and promotes file → host directly', async () => {
    const { store } = await openStore({ hostBlocks: 2, daxBlocks: 2, evictBatch: 2 });
    for (let seq = 0; seq < 5; seq++) await store.write(seq, 0, 0, pattern(seq));
    expect(store.where(0, 0, 0)).toBe('file');
    expect(store.changes.find((c) => c.to === 'file')).toMatchObject({ from: 'dax', hostCopies: 1 });
    await store.acquire(0);
    expect(store.where(0, 0, 0)).toBe('host');
    expect(store.changes.at(-1)).toMatchObject({ from: 'file', to: 'host', hostCopies: 0 });
    for (let seq = 0; seq < 5; seq++) expect(await store.read(seq, 0, 0)).toEqual(pattern(seq));
  });

  it('stores shared prefix blocks once and copies a shared block when one sequence writes it', async () => {
    const { store } = await openStore({ hostBlocks: 8 });
    await store.write(0, 0, 0, pattern(1));
    await store.write(0, 0, 1, pattern(2));
    store.share(1, 0, 2);
    expect(store.blocks).toBe(2);
    expect([...store.addresses()]).toHaveLength(4);

    await store.write(1, 0, 1, new Uint8Array(16).fill(9), 100);
    expect(store.copiesOnWrite).toBe(1);
    expect(store.blocks).toBe(3);
    const diverged = pattern(2);
    diverged.fill(9, 100, 116);
    expect(await store.read(1, 0, 1)).toEqual(diverged);
    expect(await store.read(0, 0, 1)).toEqual(pattern(2));
    // The block no one else holds is written in place.
    await store.write(1, 0, 1, new Uint8Array(1), 0);
    expect(store.copiesOnWrite).toBe(1);

    store.release(0);
    expect(store.blocks).toBe(2); // block 0 stays: sequence 1 still holds it
    expect(await store.read(1, 0, 0)).toEqual(pattern(1));
  });

  it('refuses a block corrupted on the dax tier behind its back with INTEGRITY_MISMATCH', async () => {
    const { store, dir } = await openStore({ hostBlocks: 2, evictBatch: 2 });
    await store.write(0, 0, 0, pattern(1));
    await store.write(1, 0, 0, pattern(2));
    await store.write(2, 0, 0, pattern(3)); // 0 and 1 demoted to dax slots 0 and 1
    expect(store.where(0, 0, 0)).toBe('dax');
    const fd = openSync(join(dir, 'dax.bin'), 'r+');
    writeSync(fd, new Uint8Array([0xff]), 0, 1, 17); // one byte of dax slot 0, through the file
    closeSync(fd);
    await expect(store.acquire(0)).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
    expect(store.where(0, 0, 0)).toBe('dax'); // nothing was relocated
    await expect(store.read(0, 0, 0)).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
    expect(await store.read(1, 0, 0)).toEqual(pattern(2));
  });

  it('fails a demotion that carries a block corrupted at rest, and relocates nothing', async () => {
    const { store, dir } = await openStore({ hostBlocks: 2, daxBlocks: 2, evictBatch: 2 });
    for (let seq = 0; seq < 3; seq++) await store.write(seq, 0, 0, pattern(seq)); // 0 and 1 in dax
    const fd = openSync(join(dir, 'dax.bin'), 'r+');
    writeSync(fd, new Uint8Array([0xee]), 0, 1, BB + 5); // dax slot 1: block 1
    closeSync(fd);
    await store.write(3, 0, 0, pattern(3));
    // Host is full again: demoting 2 and 3 first pushes dax's 0 and 1 to the file tier.
    await expect(store.write(4, 0, 0, pattern(4))).rejects.toMatchObject({ code: 'INTEGRITY_MISMATCH' });
    expect([0, 1, 2, 3].map((s) => store.where(s, 0, 0))).toEqual(['dax', 'dax', 'host', 'host']);
    expect(store.where(4, 0, 0)).toBeUndefined();
    expect(store.occupancy()).toEqual({ host: 2, dax: 2, file: 0 });
  });

  it('refuses bad input with stable codes', async () => {
    const { store } = await openStore();
    await expect(store.write(0, 0, 0, new Uint8Array(8), BB - 4)).rejects.toMatchObject({ code: 'OUT_OF_BOUNDS' });
    await expect(store.write(0, -1, 0, new Uint8Array(8))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect([...store.addresses()]).toEqual([]); // nothing half-written
    expect(() => store.share(1, 7, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(store.read(9, 0, 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(openStore({ blockBytes: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('the example', () => {
  it('runs end to end with a small config: blocks move through every tier and all verify', async () => {
    const lines: string[] = [];
    const summary = await runExample({ ...DEFAULT_CONFIG, layers: 2, blockBytes: 4096, hostBlocks: 12, daxBlocks: 12, fileBlocks: 128, sequences: 3, rounds: 4, log: (l) => lines.push(l) });
    expect(summary.blocksVerified).toBeGreaterThan(summary.physicalBlocks); // prefix blocks are shared
    expect(summary.copiesOnWrite).toBeGreaterThanOrEqual(1);
    const pairs = new Set(summary.changes.map((c) => `${c.from}→${c.to}`));
    for (const p of ['host→dax', 'dax→file', 'file→host']) expect(pairs).toContain(p);
    const moved = summary.changes.reduce((n, c) => n + c.blocks, 0);
    const descriptors = summary.changes.filter((c) => c.from !== 'dax' || c.to !== 'file').reduce((n, c) => n + c.descriptors, 0);
    expect(descriptors).toBeLessThan(moved); // runs, not one descriptor per block
    expect(lines.some((l) => l.includes('chosen: fewest hops'))).toBe(true); // explain() of the staged route
    expect(lines.at(-1)).toMatch(/^verified \d+ blocks against the generator: all equal$/);
    expect(summary.gpu).not.toBe('');
  });
});
