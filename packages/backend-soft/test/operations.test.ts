import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c, type Mover } from '@datamover/core';
import { ENGINES, openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();

describe.each(ENGINES)('operations on the %s engine', (engine) => {
  let m: Mover;
  beforeEach(async () => {
    m = await openSoft(engine);
  });
  afterEach(() => m.close());

  it('copies between host regions, touching nothing outside the destination range', async () => {
    const src = m.wrap(pattern(5000));
    const dstBuf = new Uint8Array(6000).fill(0xee);
    const dst = m.wrap(dstBuf);
    await m.copy(dst, src, { srcOffset: 7, dstOffset: 999, length: 4097 });
    expect(dstBuf.subarray(999, 999 + 4097)).toEqual(pattern(5000).subarray(7, 7 + 4097));
    expect(dstBuf.subarray(0, 999).every((b) => b === 0xee)).toBe(true);
    expect(dstBuf.subarray(999 + 4097).every((b) => b === 0xee)).toBe(true);
  });

  it('wraps every kind of host memory: ArrayBuffer, SharedArrayBuffer, typed arrays, Buffer, DataView', async () => {
    const sources = [
      pattern(64).buffer,
      (() => {
        const s = new SharedArrayBuffer(64);
        new Uint8Array(s).set(pattern(64));
        return s;
      })(),
      new Uint32Array(pattern(64).buffer),
      Buffer.from(pattern(64)),
      new DataView(pattern(80).buffer, 8, 64),
      new Float64Array(pattern(64).buffer),
    ];
    for (const s of sources) {
      const dst = m.alloc(64, { alignment: 8 });
      await m.copy(dst, m.wrap(s));
      const expected = s instanceof ArrayBuffer || s instanceof SharedArrayBuffer ? new Uint8Array(s) : new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
      expect(dst.bytes()).toEqual(expected);
    }
  });

  it('fills with a byte and with an 8-byte little-endian pattern', async () => {
    const buf = new Uint8Array(40);
    const r = m.wrap(buf);
    await m.fill(r, 0xab, { offset: 1, length: 5 });
    expect([...buf.subarray(0, 7)]).toEqual([0, 0xab, 0xab, 0xab, 0xab, 0xab, 0]);
    await m.fill(r, 0x0807060504030201n, { patternBytes: 8, offset: 10, length: 19 });
    expect([...buf.subarray(10, 29)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3]);
    expect(buf[29]).toBe(0);
  });

  it('compares: equal, or the first differing offset', async () => {
    const a = pattern(10_000);
    const b = a.slice();
    expect(await m.compare(m.wrap(a), m.wrap(b))).toEqual({ equal: true });
    b[7777] ^= 1;
    expect(await m.compare(m.wrap(a), m.wrap(b))).toEqual({ equal: false, offset: 7777 });
    expect(await m.compare(m.wrap(a), m.wrap(b), { length: 7777 })).toEqual({ equal: true });
  });

  it('computes CRC-32C, continuing from a seed', async () => {
    expect(await m.crc32c(m.wrap(new TextEncoder().encode('123456789')))).toBe(0xe3069283);
    expect(await m.crc32c(m.wrap(new Uint8Array(32)))).toBe(0x8a9136aa);
    const data = pattern(100_003);
    const r = m.wrap(data);
    const first = await m.crc32c(r, { length: 50_000 });
    expect(await m.crc32c(r, { offset: 50_000, seed: first })).toBe(crc32c(data));
  });

  it('writes 8/16/32/64-bit immediates little-endian', async () => {
    const buf = new Uint8Array(16);
    const r = m.wrap(buf);
    await m.writeImmediate(r, 0xa1, { width: 1, offset: 0 });
    await m.writeImmediate(r, 0xb2b1, { width: 2, offset: 1 });
    await m.writeImmediate(r, 0xc4c3c2c1, { width: 4, offset: 3 });
    await m.writeImmediate(r, 0xd8d7d6d5d4d3d2d1n, { offset: 7 });
    expect([...buf.subarray(0, 16)]).toEqual([0xa1, 0xb1, 0xb2, 0xc1, 0xc2, 0xc3, 0xc4, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0]);
  });

  it('runs zero-length operations as no-ops with the natural results', async () => {
    const r = m.wrap(pattern(8));
    await m.copy(m.wrap(new Uint8Array(8)), r, { length: 0 });
    expect(await m.crc32c(r, { length: 0, seed: 1234 })).toBe(1234);
    expect(await m.compare(r, r, { length: 0 })).toEqual({ equal: true });
    await m.nop({ fence: true });
  });

  it('honours fences: a fenced descriptor sees every earlier one', async () => {
    const buf = new Uint8Array(4096);
    const r = m.wrap(buf);
    const out = m.wrap(new Uint8Array(4));
    const b = m.batch();
    for (let i = 0; i < 64; i++) b.fill(r, i, { offset: i * 64, length: 64 });
    b.crc32c(r, { fence: true });
    b.copy(out, r, { srcOffset: 63 * 64, length: 4, fence: true });
    const res = await b.submit();
    const expected = new Uint8Array(4096);
    for (let i = 0; i < 64; i++) expected.fill(i, i * 64, i * 64 + 64);
    expect(res.value(64)).toBe(crc32c(expected));
    expect([...out.bytes()]).toEqual([63, 63, 63, 63]);
  });

  it('moves data host → file → host through real files, buffered and O_DIRECT', async () => {
    const data = pattern(3 * 4096 + 123, 7);
    for (const direct of ['never', 'require'] as const) {
      const path = join(dir, `roundtrip-${engine}-${direct}.bin`);
      const f = await m.openFile(path, { mode: 'rw', create: true, truncate: true, length: 4 * 4096, direct });
      const src = m.alloc(4 * 4096);
      src.bytes().set(data);
      await m.copy(f, src); // aligned: offset, length and memory all on 4 KiB (direct path when allowed)
      await m.copy(f, src, { srcOffset: 1, dstOffset: 3, length: 5000 }); // unaligned: buffered path
      const back = m.alloc(4 * 4096);
      await m.copy(back, f);
      const expected = new Uint8Array(4 * 4096);
      expected.set(data);
      expected.set(data.subarray(1, 5001), 3);
      expect(back.bytes()).toEqual(expected);
      expect(new Uint8Array(readFileSync(path))).toEqual(expected);
      expect(await m.crc32c(f)).toBe(crc32c(expected));
      await f.release();
    }
  });

  it('runs every operation on file regions, including file → file', async () => {
    const a = join(dir, `a-${engine}.bin`);
    const b = join(dir, `b-${engine}.bin`);
    writeFileSync(a, pattern(10_000, 3));
    const fa = await m.openFile(a, { offset: 100, length: 9000 });
    const fb = await m.openFile(b, { mode: 'rw', create: true, truncate: true, length: 9000 });
    await m.copy(fb, fa);
    expect(await m.compare(fa, fb)).toEqual({ equal: true });
    await m.fill(fb, 0x5a, { offset: 10, length: 3 });
    await m.writeImmediate(fb, 0x0102, { width: 2, offset: 8990 });
    const c = await m.compare(fa, fb);
    expect(c).toEqual({ equal: false, offset: 10 });
    const expected = pattern(10_000, 3).slice(100, 9100);
    expected.fill(0x5a, 10, 13);
    expected.set([2, 1], 8990);
    expect(new Uint8Array(readFileSync(b))).toEqual(expected);
    expect(await m.crc32c(fb)).toBe(crc32c(expected));
  });

  it('stats() count settled descriptors and the JS-thread time spent handing them back', async () => {
    const src = m.wrap(pattern(1 << 16));
    const dst = m.wrap(new Uint8Array(1 << 16));
    const b = m.batch();
    for (let i = 0; i < 100; i++) b.copy(dst, src, { srcOffset: i * 64, dstOffset: i * 64, length: 64 });
    expect((await b.submit()).ok).toBe(true);
    await m.copy(dst, src);
    expect(m.stats().backends).toHaveLength(1);
    const st = m.stats().backends[0]!;
    expect(st.done).toBe(101);
    expect(st.completionLongestMs).toBeGreaterThan(0);
    expect(st.completionMs).toBeGreaterThanOrEqual(st.completionLongestMs);
  });
});
