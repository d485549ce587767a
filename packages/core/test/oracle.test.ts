/** The TypeScript oracle (core/src/oracle): every operation through the Mover, checked against plain JavaScript on the same bytes. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c, ErrorCode, Mover, Ring, TsEngine } from '../src/index.js';
import { oracleBackend } from './fixtures/oracle-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'dm-core-oracle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

let m: Mover;
beforeEach(async () => {
  m = await Mover.open({ backends: [oracleBackend()] });
});
afterEach(async () => {
  await m.close();
});

describe('crc32c', () => {
  it('matches the Castagnoli check value and continues from a seed', () => {
    const data = new TextEncoder().encode('123456789');
    expect(crc32c(data)).toBe(0xe3069283);
    expect(crc32c(data.subarray(4), crc32c(data.subarray(0, 4)))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });
});

describe('TsEngine through the Mover', () => {
  it('copy, fill (1- and 8-byte), writeImmediate and crc32c on host memory', async () => {
    const src = bytes(3000, 1);
    const a = m.wrap(src.slice());
    const b = m.wrap(new Uint8Array(3000));
    await m.copy(b, a, { srcOffset: 100, dstOffset: 7, length: 2000 });
    const want = new Uint8Array(3000);
    want.set(src.subarray(100, 2100), 7);
    expect(b.bytes()).toEqual(want);
    await m.fill(b, 0x0102030405060708n, { patternBytes: 8, offset: 3, length: 13 });
    const pat = [8, 7, 6, 5, 4, 3, 2, 1];
    for (let k = 0; k < 13; k++) want[3 + k] = pat[k & 7]!;
    expect(b.bytes()).toEqual(want);
    await m.writeImmediate(b, 0xa1b2, { width: 2, offset: 2998 });
    want[2998] = 0xb2;
    want[2999] = 0xa1;
    expect(b.bytes()).toEqual(want);
    expect(await m.crc32c(b, { offset: 5, length: 1000, seed: 9 })).toBe(crc32c(want.subarray(5, 1005), 9));
  });

  it('the strided operations touch exactly their blocks', async () => {
    const src = bytes(256, 2);
    const a = m.wrap(src.slice());
    const b = m.wrap(new Uint8Array(256));
    await m.batch().copyStrided(b, a, { count: 4, blockBytes: 5, srcOffset: 1, srcStride: 10, dstOffset: 2, dstStride: 40 }).submit();
    const want = new Uint8Array(256);
    for (let i = 0; i < 4; i++) want.set(src.subarray(1 + i * 10, 6 + i * 10), 2 + i * 40);
    expect(b.bytes()).toEqual(want);
    await m.batch().fillStrided(b, 0xee, { count: 3, blockBytes: 2, offset: 200, stride: 3 }).submit();
    for (const o of [200, 201, 203, 204, 206, 207]) want[o] = 0xee;
    expect(b.bytes()).toEqual(want);
    const r = await m.batch().crc32cStrided(a, { count: 2, blockBytes: 4, offset: 0, stride: 100 }).compareStrided(a, b, { count: 1, blockBytes: 5, aOffset: 1, bOffset: 2 }).submit();
    expect(r.value(0)).toBe(crc32c(src.subarray(100, 104), crc32c(src.subarray(0, 4))));
    expect(r.value(1)).toBe(-1);
  });

  it('reads and writes file regions at their file offsets', async () => {
    const path = join(dir, 'f.bin');
    const content = bytes(8192, 3);
    writeFileSync(path, content);
    const f = await m.openFile(path, { offset: 4096, length: 4096, mode: 'rw' });
    const h = m.wrap(new Uint8Array(4096));
    await m.copy(h, f);
    expect(h.bytes()).toEqual(content.subarray(4096));
    await m.fill(f, 0x5a, { offset: 10, length: 6 });
    const after = readFileSync(path);
    expect([...after.subarray(4096 + 8, 4096 + 18)]).toEqual([content[4104], content[4105], 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, content[4112], content[4113]]);
    expect(after.subarray(0, 4096)).toEqual(Buffer.from(content.subarray(0, 4096)));
    expect(await m.crc32c(f)).toBe(crc32c(new Uint8Array(after.subarray(4096))));
  });

  it('runs more descriptors than the ring has slots, in slices between event-loop turns', async () => {
    const small = await Mover.open({ backends: [oracleBackend({ ringEntries: 4 })] });
    try {
      const r = small.wrap(new Uint8Array(64));
      const batch = small.batch();
      for (let i = 0; i < 64; i++) batch.writeImmediate(r, i, { width: 1, offset: i });
      const result = await batch.submit();
      expect(result.counts.done).toBe(64);
      expect([...r.bytes()]).toEqual([...new Array(64).keys()]);
    } finally {
      await small.close();
    }
  });

  it('refuses to register memory it cannot address, with a typed error', () => {
    const engine = new TsEngine(new Ring(4), () => undefined);
    const gpu = { kind: 'gpu', device: 0, backend: 'nobody', buffer: {}, release: () => undefined } as const;
    expect(() => engine.register({ index: 0, memory: gpu, length: 8, writable: true })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
    engine.close();
  });
});
