/**
 * The dax address space over MAP_SHARED file mappings (this host has no device-DAX; the lab tests
 * run the same on /dev/dax0.0): every operation between host and dax and dax and dax, unaligned
 * mapping offsets, bounds, read-only mappings, durable writes and their refusals, lifetimes.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, HOST_SPACE, Mover, type DatamoverError } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { crc32c } from '@datamover/backend-soft';
import { cxl, daxFacts, daxSpace, loadNative, mapDax, openDax } from '../src/index.js';

let dir = '';
let n = 0;
const movers: Mover[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dm-cxl-dax-'));
});
afterEach(async () => {
  for (const m of movers.splice(0)) await m.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` bytes filled with `byte`. */
function file(size: number, byte = 0, where = dir): string {
  const p = join(where, `f${n++}.bin`);
  writeFileSync(p, Buffer.alloc(size, byte));
  return p;
}

function pread(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

async function open(withSoft = true): Promise<Mover> {
  const m = await Mover.open({ backends: withSoft ? [soft(), cxl()] : [cxl()] });
  movers.push(m);
  return m;
}

function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

async function rejects(p: Promise<unknown>, code: string): Promise<DatamoverError> {
  const e = (await p.then(
    () => undefined,
    (x: unknown) => x,
  )) as DatamoverError | undefined;
  expect(e?.code, String(e)).toBe(code);
  return e!;
}

describe('dax regions over a MAP_SHARED file', () => {
  it('is available and routes dax work to cxl, host↔host work to soft', async () => {
    expect(loadNative()).toHaveProperty('addon');
    const m = await open();
    expect(m.backends).toEqual(['soft', 'cxl']);
  });

  it('copies host→dax, dax→host and dax→dax at unaligned offsets, touching nothing else', async () => {
    const m = await open();
    const size = 3 * 4096 + 123;
    const path = file(64 * 1024, 0xee);
    const a = await openDax(m, path, { offset: 1001, length: size });
    const b = await openDax(m, path, { offset: 40_000, length: size });
    expect(a.kind).toBe('dax');
    expect(a.space).toMatchObject({ kind: 'dax', name: path, cpuAccessible: true, persistent: true, alignment: 4096 });
    expect(daxFacts(a)).toMatchObject({ via: 'page-cache', mapOffset: 1001, persistence: 'msync', offset: 1001, length: size });
    const src = pattern(size, 1);
    const h = m.wrap(src);
    await m.copy(a, h);
    expect(pread(path, 1001, size)).toEqual(Buffer.from(src));
    expect(pread(path, 1000, 1)[0]).toBe(0xee);
    expect(pread(path, 1001 + size, 1)[0]).toBe(0xee);
    await m.copy(b, a, { srcOffset: 5, dstOffset: 9, length: size - 9 });
    expect(pread(path, 40_009, size - 9)).toEqual(Buffer.from(src.subarray(5, 5 + size - 9)));
    expect(pread(path, 40_000, 9)).toEqual(Buffer.alloc(9, 0xee));
    const back = new Uint8Array(size);
    await m.copy(m.wrap(back), a);
    expect(back).toEqual(src);
  });

  it('fills, compares, checksums and writes immediates on dax', async () => {
    const m = await open();
    const path = file(16384, 0x11);
    const d = await openDax(m, path, { offset: 100, length: 8192 });
    await m.fill(d, 0xab, { offset: 3, length: 5000 });
    await m.fill(d, 0x0102030405060708n, { offset: 6000, length: 1000, patternBytes: 8 });
    await m.writeImmediate(d, 0xdeadbeefn, { offset: 7999, width: 4 });
    const expected = Buffer.alloc(8192, 0x11);
    expected.fill(0xab, 3, 5003);
    for (let i = 0; i < 1000; i++) expected[6000 + i] = [8, 7, 6, 5, 4, 3, 2, 1][i % 8]!;
    expected.writeUInt32LE(0xdeadbeef, 7999);
    expect(pread(path, 100, 8192)).toEqual(expected);
    expect(await m.crc32c(d)).toBe(crc32c(expected));
    expect(await m.crc32c(d, { offset: 10, length: 100, seed: 7 })).toBe(crc32c(expected.subarray(10, 110), 7));
    const same = m.wrap(new Uint8Array(expected));
    expect(await m.compare(d, same)).toEqual({ equal: true });
    const other = new Uint8Array(expected);
    other[4321] = other[4321]! ^ 1;
    expect(await m.compare(m.wrap(other), d)).toEqual({ equal: false, offset: 4321 });
    const d2 = await openDax(m, path, { offset: 100, length: 8192, mode: 'r' });
    expect(await m.compare(d, d2)).toEqual({ equal: true });
  });

  it('never touches bytes outside the region: ranges past its end are refused, the file is unchanged', async () => {
    const m = await open(false);
    const path = file(3 * 4096, 0x5c);
    const d = await openDax(m, path, { offset: 4096 + 17, length: 100 });
    const h = m.wrap(new Uint8Array(200).fill(1));
    await rejects(m.copy(d, h, { length: 101 }), ErrorCode.OUT_OF_BOUNDS);
    await rejects(m.fill(d, 1, { offset: 99, length: 2 }), ErrorCode.OUT_OF_BOUNDS);
    await rejects(m.crc32c(d, { offset: 101, length: 0 }), ErrorCode.OUT_OF_BOUNDS);
    await rejects(m.writeImmediate(d, 1, { offset: 96, width: 8 }), ErrorCode.OUT_OF_BOUNDS);
    expect(readFileSync(path)).toEqual(Buffer.alloc(3 * 4096, 0x5c));
    await rejects(openDax(m, path, { offset: 3 * 4096 - 10, length: 11 }), ErrorCode.OUT_OF_BOUNDS);
    await rejects(openDax(m, path, { offset: 3 * 4096 + 1 }), ErrorCode.OUT_OF_BOUNDS);
    const s = d.slice(10, 10); // offset 10, length 10
    await rejects(m.fill(s, 2, { length: 11 }), ErrorCode.OUT_OF_BOUNDS);
    await m.fill(s, 2);
    expect(pread(path, 4096 + 17 + 9, 12)).toEqual(Buffer.from([0x5c, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0x5c]));
  });

  it('refuses overlapping copies, also between two mappings of the same file', async () => {
    const m = await open(false);
    const path = file(8192);
    const a = await openDax(m, path, { offset: 0, length: 8192 });
    const b = await openDax(m, path, { offset: 4000, length: 4000 });
    await rejects(m.copy(a, a, { srcOffset: 0, dstOffset: 100, length: 200 }), ErrorCode.OVERLAPPING_RANGES);
    await rejects(m.copy(b, a, { srcOffset: 4000, dstOffset: 50, length: 100 }), ErrorCode.OVERLAPPING_RANGES);
    await m.copy(b, a, { srcOffset: 0, dstOffset: 0, length: 4000 }); // [0,4000) → [4000,8000): adjacent, fine
  });

  it('maps read-only: writes are refused before any byte moves; reads work', async () => {
    const m = await open(false);
    const path = file(4096, 9);
    const r = await openDax(m, path, { mode: 'r' });
    expect(r.writable).toBe(false);
    await rejects(m.fill(r, 1), ErrorCode.ACCESS_DENIED);
    const out = new Uint8Array(4096);
    await m.copy(m.wrap(out), r);
    expect(out).toEqual(new Uint8Array(4096).fill(9));
  });

  it('opens what is there and refuses what is not', async () => {
    const m = await open(false);
    await rejects(openDax(m, join(dir, 'missing.bin')), ErrorCode.IO_ERROR);
    await rejects(openDax(m, dir), ErrorCode.IO_ERROR); // EISDIR
    await rejects(openDax(m, '/dev/null'), ErrorCode.INVALID_ARGUMENT);
    await rejects(openDax(m, file(10), { offset: -1 }), ErrorCode.INVALID_SIZE);
    const soft1 = await Mover.open({ backends: [soft()] });
    movers.push(soft1);
    await rejects(openDax(soft1, file(10)), ErrorCode.BACKEND_UNAVAILABLE);
    const empty = await openDax(m, file(4096), { offset: 4096 });
    expect(empty.length).toBe(0);
    expect(await m.crc32c(empty)).toBe(0);
  });

  it('durable writes to a persistent file complete after msync; each writing operation takes the flag', async () => {
    const m = await open();
    const path = file(1 << 20);
    const d = await openDax(m, path);
    const src = pattern(1 << 20, 3);
    await m.copy(d, m.wrap(src), { durable: true });
    await m.fill(d, 0x42, { offset: 10, length: 10, durable: true });
    await m.writeImmediate(d, 7, { offset: 100, width: 1, durable: true });
    const r = await m.batch().copy(d, m.wrap(src.slice(0, 64)), { length: 64, dstOffset: 4096, durable: true }).fill(d, 1, { offset: 0, length: 1, durable: true, fence: true }).submit();
    expect(r.ok).toBe(true);
    const stats = m.stats().backends.find((b) => b.name === 'cxl')!;
    expect(stats.engine['durableWrites']).toBe(5);
    const bytes = readFileSync(path);
    expect(bytes[0]).toBe(1);
    expect(bytes[15]).toBe(0x42);
    expect(bytes[100]).toBe(7);
  });

  it('durable strided copies and fills: each block lands and is made durable; refused like the contiguous writes', async () => {
    const m = await open();
    const path = file(1 << 20);
    const d = await openDax(m, path, { offset: 4096 });
    const src = m.wrap(pattern(64 << 10, 5));
    // 16 blocks of 4 KiB, packed in host memory, every 12 KiB in the dax file.
    const r = await m
      .batch()
      .copyStrided(d, src, { count: 16, blockBytes: 4096, dstStride: 12288, durable: true })
      .fillStrided(d, 0xee, { count: 16, blockBytes: 100, offset: 4096, stride: 12288, durable: true })
      .submit();
    expect(r.ok).toBe(true);
    expect(m.stats().backends.find((b) => b.name === 'cxl')!.engine['durableWrites']).toBe(2);
    const bytes = readFileSync(path);
    const want = pattern(64 << 10, 5);
    for (let i = 0; i < 16; i++) {
      const at = 4096 + i * 12288;
      expect(bytes.subarray(at, at + 4096).equals(want.subarray(i * 4096, (i + 1) * 4096))).toBe(true);
      expect(bytes.subarray(at + 4096, at + 4196).every((b) => b === 0xee)).toBe(true);
      expect(bytes[at + 4196]).toBe(0);
    }
    const h = m.wrap(new Uint8Array(64 << 10));
    expect(() => m.batch().copyStrided(h, d, { count: 4, blockBytes: 4096, durable: true })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_PERSISTENT }));
    expect(() => m.batch().fillStrided(h, 1, { count: 4, blockBytes: 4096, durable: true })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_PERSISTENT }));
    expect(() => m.batch().fillStrided(d, 1, { count: 4, blockBytes: 4096, durable: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    // Reads have no durable option: an unknown key.
    expect(() => m.batch().crc32cStrided(d, { count: 4, blockBytes: 4096, durable: true } as never)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    // A file region is persistent, but soft (which runs file work) cannot make writes durable.
    const f = await m.openFile(file(64 << 10), { mode: 'rw' });
    expect(() => m.batch().fillStrided(f, 1, { count: 4, blockBytes: 4096, durable: true })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
    expect((await m.batch().fillStrided(f, 1, { count: 4, blockBytes: 4096 }).submit()).ok).toBe(true); // the same without the flag runs
    const forced = await openDax(m, file(64 << 10), { persistent: false });
    expect(() => m.batch().copyStrided(forced, src, { count: 16, blockBytes: 4096, durable: true })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_PERSISTENT }));
  });

  it('refuses durable writes to volatile memory (host, tmpfs) with NOT_PERSISTENT, and where the backend cannot honour them', async () => {
    const m = await open();
    const h = m.wrap(new Uint8Array(64));
    const d = await openDax(m, file(64));
    await rejects(m.fill(h, 1, { durable: true }), ErrorCode.NOT_PERSISTENT);
    await rejects(m.copy(h, d, { durable: true }), ErrorCode.NOT_PERSISTENT);
    expect(() => m.batch().writeImmediate(h, 1, { durable: true })).toThrow(expect.objectContaining({ code: ErrorCode.NOT_PERSISTENT }));
    await rejects(m.fill(d, 1, { durable: 'yes' as unknown as boolean }), ErrorCode.INVALID_ARGUMENT);
    // A file region is persistent, but soft (which runs file work) cannot make writes durable.
    const fpath = file(64);
    const f = await m.openFile(fpath, { mode: 'rw' });
    await rejects(m.copy(f, d, { durable: true }), ErrorCode.UNSUPPORTED_OPERATION);
    if (existsSync('/dev/shm') && statfsSync('/dev/shm').type === 0x01021994) {
      const shm = file(4096, 0, '/dev/shm');
      try {
        const v = await openDax(m, shm);
        expect(daxFacts(v)).toMatchObject({ via: 'shmem', persistent: false, persistence: 'none' });
        expect(v.space.persistent).toBe(false);
        await rejects(m.fill(v, 1, { durable: true }), ErrorCode.NOT_PERSISTENT);
        await m.fill(v, 3); // plain writes are fine
        expect(readFileSync(shm)[4095]).toBe(3);
        await v.release();
      } finally {
        rmSync(shm, { force: true });
      }
    }
    const forced = await openDax(m, file(64), { persistent: false });
    expect(forced.space.persistent).toBe(false);
    await rejects(m.fill(forced, 1, { durable: true }), ErrorCode.NOT_PERSISTENT);
  });

  it('registerMemory() refuses host memory and a space of another kind, releasing what it was handed', async () => {
    const m = await open(false);
    const n = loadNative();
    if (!('addon' in n)) throw new Error(n.error);
    const { memory } = mapDax(n.addon, file(4096, 0x21), { offset: 0, length: 4096, writable: true, persistence: 0 });
    let released = 0;
    const counted = { ...memory, release: () => void released++ };
    expect(() => m.registerMemory(counted, HOST_SPACE, 4096, true)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => m.registerMemory({ kind: 'host', view: new Uint8Array(8) } as never, HOST_SPACE, 8, true)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => m.registerMemory(counted, daxSpace(memory.path, { persistent: false, alignment: memory.alignment }), -1, true)).toThrow(expect.objectContaining({ code: 'INVALID_SIZE' }));
    expect(released).toBe(2);
    memory.release();
  });

  it('the engine itself refuses a durable write to a mapping it knows to be volatile, writing nothing', async () => {
    // Core refuses first (the space says volatile); a DaxMemory that claims otherwise reaches the
    // engine, which checks the mapping it made and answers NOT_PERSISTENT per descriptor.
    const m = await open(false);
    const n = loadNative();
    if (!('addon' in n)) throw new Error(n.error);
    const path = file(4096, 0x33);
    const { memory } = mapDax(n.addon, path, { offset: 0, length: 4096, writable: true, persistence: 0 });
    const liar = m.registerMemory({ ...memory, persistent: true }, daxSpace(memory.path, { persistent: true, alignment: memory.alignment }), 4096, true);
    const r = await m.batch().fill(liar, 1, { durable: true }).fill(liar, 2, { offset: 1, length: 1 }).submit().catch((e: DatamoverError) => e.result!);
    expect(r.status(0)).toBe('failed');
    expect(r.error(0)?.code).toBe(ErrorCode.NOT_PERSISTENT);
    expect(r.status(1)).toBe('done');
    expect([...readFileSync(path).subarray(0, 3)]).toEqual([0x33, 2, 0x33]);
  });

  it('unmapping waits for in-flight work: a release during a copy defers until it settles', async () => {
    const m = await open();
    const size = 32 << 20;
    const path = file(size);
    const d = await openDax(m, path);
    const src = m.alloc(size);
    src.bytes().fill(0x77);
    const copy = m.copy(d, src);
    const released = d.release();
    expect(d.live).toBe(false);
    await copy;
    await released;
    expect(pread(path, size - 10, 10)).toEqual(Buffer.alloc(10, 0x77));
    await rejects(m.fill(d, 1), ErrorCode.REGION_RELEASED);
  });

  it('moves ownership without copying and keeps slices borrowing the mapping', async () => {
    const m = await open(false);
    const d = await openDax(m, file(8192, 1));
    const s = d.slice(4096, 100);
    await rejects(d.release(), ErrorCode.REGION_BUSY);
    const d2 = d.move();
    await rejects(m.fill(d, 1), ErrorCode.USE_AFTER_MOVE);
    await m.fill(s, 5);
    await s.release();
    await d2.release();
  });

  it('allocates page-aligned host memory for the dax engine when it is the only backend', async () => {
    const m = await open(false);
    const h = m.alloc(1 << 20, { alignment: 1 << 16 });
    expect(h.bytes().byteLength).toBe(1 << 20);
    const d = await openDax(m, file(1 << 20, 4));
    await m.copy(h, d);
    expect(h.bytes()[12345]).toBe(4);
  });
});
