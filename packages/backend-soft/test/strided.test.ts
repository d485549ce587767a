/**
 * Strided descriptors on both soft engines: one descriptor moves `count` blocks between strided
 * layouts (copy, fill, compare, chained crc32c), every block checked before a byte moves.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatamoverError, type Mover } from '@datamover/core';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c } from '../src/index.js';
import { ENGINES, openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DatamoverError) return e.code;
    throw e;
  }
  return undefined;
}

/** Block i of `blockBytes` at offset + i × stride, laid end to end. */
function gather(view: Uint8Array, offset: number, count: number, blockBytes: number, stride: number): Uint8Array {
  const out = new Uint8Array(count * blockBytes);
  for (let i = 0; i < count; i++) out.set(view.subarray(offset + i * stride, offset + i * stride + blockBytes), i * blockBytes);
  return out;
}

for (const engine of ENGINES) {
  describe(`soft ${engine} engine: strided descriptors`, () => {
    let m: Mover;
    afterEach(async () => m?.close());

    it('copies count blocks between two strides in one descriptor; bytes between blocks untouched', async () => {
      m = await openSoft(engine);
      const srcBytes = pattern(64 * 1024, 3);
      const src = m.wrap(srcBytes);
      const dstBytes = pattern(64 * 1024, 9);
      const before = dstBytes.slice();
      const dst = m.wrap(dstBytes);
      const batch = m.batch().copyStrided(dst, src, { count: 7, blockBytes: 1000, srcOffset: 5, srcStride: 3000, dstOffset: 11, dstStride: 1024 });
      expect(batch.length).toBe(1);
      expect((await batch.submit()).ok).toBe(true);
      const want = before.slice();
      for (let i = 0; i < 7; i++) want.set(srcBytes.subarray(5 + i * 3000, 5 + i * 3000 + 1000), 11 + i * 1024);
      expect(Buffer.compare(dstBytes, want)).toBe(0);
    });

    it('fills blocks at a stride (an 8-byte pattern starts afresh per block); the last block may end at the region end', async () => {
      m = await openSoft(engine);
      const bytes = new Uint8Array(100);
      const dst = m.wrap(bytes);
      await m.batch().fillStrided(dst, 0x0807060504030201n, { count: 4, blockBytes: 10, stride: 30, patternBytes: 8 }).submit();
      const want = new Uint8Array(100);
      for (let i = 0; i < 4; i++) for (let k = 0; k < 10; k++) want[i * 30 + k] = (k % 8) + 1;
      expect([...bytes]).toEqual([...want]);
      expect(i30End(bytes)).toBe(100); // block 3 is [90, 100): exactly at the end
    });

    it('compare reports the first difference counted over the blocks end to end; crc32c is chained', async () => {
      m = await openSoft(engine);
      const a = pattern(8192, 4);
      const b = new Uint8Array(8192);
      for (let i = 0; i < 8; i++) b.set(a.subarray(i * 1024, i * 1024 + 512), i * 512); // b packs a's blocks
      const A = m.wrap(a);
      const B = m.wrap(b);
      const same = await m.batch().compareStrided(A, B, { count: 8, blockBytes: 512, aStride: 1024, bStride: 512 }).submit();
      expect(same.value(0)).toBe(-1);
      b[5 * 512 + 17] ^= 1;
      const diff = await m.batch().compareStrided(A, B, { count: 8, blockBytes: 512, aStride: 1024 }).submit();
      expect(diff.value(0)).toBe(5 * 512 + 17);
      b[5 * 512 + 17] ^= 1;
      const r = await m.batch().crc32cStrided(A, { count: 8, blockBytes: 512, stride: 1024, seed: 7 }).submit();
      expect(r.value(0)).toBe(crc32c(gather(a, 0, 8, 512, 1024), 7));
      expect(r.value(0)).toBe(await m.crc32c(B, { seed: 7, length: 4096 })); // the packed copy's checksum
    });

    it('moves blocks between host memory and a file', async () => {
      m = await openSoft(engine);
      const path = join(dir, `${engine}-strided.bin`);
      writeFileSync(path, new Uint8Array(64 * 1024));
      const f = await m.openFile(path, { mode: 'rw' });
      const host = pattern(32 * 1024, 5);
      const H = m.wrap(host);
      await m.batch().copyStrided(f, H, { count: 16, blockBytes: 2048, dstStride: 4096 }).submit();
      const back = new Uint8Array(32 * 1024);
      await m.batch().copyStrided(m.wrap(back), f, { count: 16, blockBytes: 2048, srcStride: 4096 }).submit();
      expect(Buffer.compare(back, host)).toBe(0);
      const crc = await m.batch().crc32cStrided(f, { count: 16, blockBytes: 2048, stride: 4096 }).submit();
      expect(crc.value(0)).toBe(crc32c(host));
    });

    it('zero count and zero blockBytes run as NOPs with the natural results', async () => {
      m = await openSoft(engine);
      const A = m.wrap(pattern(256));
      const r = await m.batch().crc32cStrided(A, { count: 0, blockBytes: 16, seed: 99 }).compareStrided(A, m.wrap(new Uint8Array(256)), { count: 4, blockBytes: 0 }).submit();
      expect(r.value(0)).toBe(99);
      expect(r.value(1)).toBe(-1);
    });

    it('refuses bad layouts before anything is queued or written', async () => {
      m = await openSoft(engine);
      const bytes = pattern(4096, 2);
      const keep = bytes.slice();
      const D = m.wrap(bytes);
      const S = m.wrap(pattern(4096, 6));
      const b = m.batch();
      expect(code(() => b.copyStrided(D, S, { count: 2, blockBytes: 100, dstStride: 99 }))).toBe('OVERLAPPING_RANGES');
      expect(code(() => b.fillStrided(D, 1, { count: 3, blockBytes: 100, stride: 0 }))).toBe('OVERLAPPING_RANGES');
      expect(code(() => b.copyStrided(D, S, { count: 5, blockBytes: 1024, dstStride: 1024, srcStride: 1025 }))).toBe('OUT_OF_BOUNDS');
      // stride × count is past 2^64: decided by division, never multiplied out
      expect(code(() => b.copyStrided(D, S, { count: 2 ** 20, blockBytes: 1, srcStride: Number.MAX_SAFE_INTEGER }))).toBe('OUT_OF_BOUNDS');
      expect(code(() => b.crc32cStrided(S, { count: 2 ** 32, blockBytes: 1 }))).toBe('SIZE_TOO_LARGE');
      expect(code(() => b.crc32cStrided(S, { count: 1.5, blockBytes: 1 }))).toBe('INVALID_SIZE');
      expect(code(() => b.copyStrided(D, D, { count: 2, blockBytes: 100, srcStride: 200, dstOffset: 150, dstStride: 200 }))).toBe('OVERLAPPING_RANGES');
      expect(code(() => b.copyStrided(D, S, undefined as never))).toBe('INVALID_ARGUMENT');
      expect(code(() => b.copyStrided(D, S, { count: 1, blockBytes: 1, stride: 4 } as never))).toBe('INVALID_ARGUMENT');
      expect(b.length).toBe(0);
      // the last block exactly at the region's end is accepted
      await b.copyStrided(D, S, { count: 4, blockBytes: 1024, dstStride: 1024, srcStride: 1024 }).submit();
      expect(Buffer.compare(bytes, keep)).not.toBe(0);
    });
  });
}

/** One past the last byte written by the fill test (non-zero). */
function i30End(bytes: Uint8Array): number {
  let end = 0;
  bytes.forEach((v, i) => {
    if (v !== 0) end = i + 1;
  });
  return end;
}
