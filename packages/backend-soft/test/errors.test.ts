import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mover, DatamoverError, ErrorCode, type Backend, type Region } from '@datamover/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { soft } from '../src/index.js';
import { ENGINES, openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();

/** Expects `f` to fail with `code`, synchronously or as a rejection. */
async function refused(code: ErrorCode, f: () => unknown): Promise<DatamoverError> {
  let error: unknown;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(DatamoverError);
  expect((error as DatamoverError).code).toBe(code);
  return error as DatamoverError;
}

/** A test double: soft with its declared capabilities cut down to host memory only, to reach UNSUPPORTED_OPERATION. */
function hostOnly(inner: Backend): Backend {
  const caps = inner.capabilities();
  return {
    ...inner,
    name: 'soft-host-only',
    probe: () => inner.probe(),
    open: (ring, onProgress) => inner.open(ring, onProgress),
    capabilities: () => ({ ...caps, operations: caps.operations.filter((o) => o.src !== 'file' && o.dst !== 'file') }),
  };
}

describe.each(ENGINES)('every invalid input is refused before a byte moves (%s engine)', (engine) => {
  let m: Mover;
  let dstBuf: Uint8Array;
  let dst: Region;
  let src: Region;
  beforeEach(async () => {
    m = await openSoft(engine);
    dstBuf = new Uint8Array(256).fill(0xee);
    dst = m.wrap(dstBuf);
    src = m.wrap(pattern(256));
  });
  afterEach(async () => {
    expect(dstBuf.every((b) => b === 0xee)).toBe(true); // nothing written by any refused call
    await m.close();
  });

  it('wrong types', async () => {
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.wrap('bytes' as never));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.copy(dst, src, { length: '10' as never }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.fill(dst, 1.5));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.fill(dst, 256));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.fill(dst, 1, { patternBytes: 4 as never }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.writeImmediate(dst, 1, { width: 3 as never }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.writeImmediate(dst, 0x10000, { width: 2 }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.writeImmediate(dst, -1n));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.crc32c(src, { seed: 2 ** 32 }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.copy(dst, src, { signal: {} as never }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.copy(dst, src, { timeout: -1 }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => m.alloc(16, { alignment: 3 }));
    await refused(ErrorCode.INVALID_ARGUMENT, () => Mover.open({ backends: [soft({ engine })], policy: 'fastest' as never }));
  });

  it('negative, NaN, fractional, infinite and unsafe sizes and offsets', async () => {
    for (const bad of [-1, Number.NaN, 1.5, Infinity, 2 ** 53]) {
      await refused(ErrorCode.INVALID_SIZE, () => m.copy(dst, src, { length: bad }));
      await refused(ErrorCode.INVALID_SIZE, () => m.copy(dst, src, { srcOffset: bad, length: 1 }));
      await refused(ErrorCode.INVALID_SIZE, () => m.fill(dst, 0, { offset: bad }));
      await refused(ErrorCode.INVALID_SIZE, () => m.alloc(bad));
      await refused(ErrorCode.INVALID_SIZE, () => src.slice(bad, 1));
    }
  });

  it('ranges past a region end, and sizes one descriptor cannot carry', async () => {
    await refused(ErrorCode.OUT_OF_BOUNDS, () => m.copy(dst, src, { length: 257 }));
    await refused(ErrorCode.OUT_OF_BOUNDS, () => m.copy(dst, src, { dstOffset: 200, length: 57 }));
    await refused(ErrorCode.OUT_OF_BOUNDS, () => m.copy(dst, src, { srcOffset: 300, length: 0 }));
    await refused(ErrorCode.OUT_OF_BOUNDS, () => m.writeImmediate(dst, 1, { offset: 250 }));
    await refused(ErrorCode.OUT_OF_BOUNDS, () => src.slice(200, 57));
    await refused(ErrorCode.LENGTH_MISMATCH, () => m.copy(m.wrap(new Uint8Array(10)), src));
    const big = await m.openFile(join(dir, `sparse-${engine}.bin`), { mode: 'rw', create: true, truncate: true, length: 2 ** 32 + 1 });
    await refused(ErrorCode.SIZE_TOO_LARGE, () => m.crc32c(big));
  });

  it('overlapping copies, also through two regions over one buffer', async () => {
    await refused(ErrorCode.OVERLAPPING_RANGES, () => m.copy(dst, dst, { srcOffset: 0, dstOffset: 10, length: 20 }));
    const alias = m.wrap(new Uint8Array(dstBuf.buffer, 100, 100));
    await refused(ErrorCode.OVERLAPPING_RANGES, () => m.copy(alias, dst, { srcOffset: 110, length: 20 }));
    await m.copy(alias, dst, { srcOffset: 0, dstOffset: 50, length: 0 }); // zero bytes never overlap
  });

  it('closed mover', async () => {
    const other = await openSoft(engine);
    const r = other.wrap(new Uint8Array(8));
    await other.close();
    await refused(ErrorCode.MOVER_CLOSED, () => other.copy(r, r));
    await refused(ErrorCode.MOVER_CLOSED, () => other.wrap(new Uint8Array(8)));
    await refused(ErrorCode.MOVER_CLOSED, () => other.batch());
  });

  it('released and moved regions', async () => {
    const r = m.wrap(pattern(256));
    const moved = r.move();
    await refused(ErrorCode.USE_AFTER_MOVE, () => m.copy(dst, r));
    await refused(ErrorCode.USE_AFTER_MOVE, () => r.slice(0, 1));
    await refused(ErrorCode.USE_AFTER_MOVE, () => r.release());
    await moved.release();
    await refused(ErrorCode.REGION_RELEASED, () => m.copy(dst, moved));
    // Released between add and submit: the batch is refused whole.
    const b = m.batch().copy(dst, src);
    const tmp = m.wrap(new Uint8Array(256));
    b.copy(tmp, src);
    await tmp.release();
    await refused(ErrorCode.REGION_RELEASED, () => b.submit());
  });

  it('detached ArrayBuffers', async () => {
    const ab = new ArrayBuffer(64);
    structuredClone(ab, { transfer: [ab] });
    await refused(ErrorCode.DETACHED_BUFFER, () => m.wrap(ab));
    const view = new Uint8Array(new ArrayBuffer(64));
    structuredClone(view.buffer, { transfer: [view.buffer] });
    await refused(ErrorCode.DETACHED_BUFFER, () => m.wrap(view));
    // A registered ArrayBuffer can no longer be detached: transferring it copies instead.
    const kept = new ArrayBuffer(64);
    m.wrap(kept);
    structuredClone(kept, { transfer: [kept] });
    expect(kept.byteLength).toBe(64);
  });

  it('a region from another mover', async () => {
    const other = await openSoft(engine);
    const foreign = other.wrap(new Uint8Array(256));
    await refused(ErrorCode.FOREIGN_REGION, () => m.copy(dst, foreign));
    await other.close();
  });

  it('writes to read-only regions', async () => {
    const ro = m.wrap(new Uint8Array(256), { readOnly: true });
    await refused(ErrorCode.ACCESS_DENIED, () => m.copy(ro, src));
    const path = join(dir, `ro-${engine}.bin`);
    writeFileSync(path, pattern(100));
    const f = await m.openFile(path);
    await refused(ErrorCode.ACCESS_DENIED, () => m.fill(f, 0));
  });

  it('unsupported operations and unavailable backends', async () => {
    const limited = await Mover.open({ backends: [hostOnly(soft({ engine }))] });
    const path = join(dir, `u-${engine}.bin`);
    writeFileSync(path, pattern(16));
    const f = await limited.openFile(path);
    await refused(ErrorCode.UNSUPPORTED_OPERATION, () => limited.crc32c(f));
    await refused(ErrorCode.BACKEND_UNAVAILABLE, () => limited.crc32c(limited.wrap(new Uint8Array(4)), { backend: 'rdma' }));
    await limited.close();
    await refused(ErrorCode.BACKEND_UNAVAILABLE, () => Mover.open({ backends: [] }));
  });

  it('files that cannot be opened, and reads past the end of a file that shrank', async () => {
    await refused(ErrorCode.IO_ERROR, () => m.openFile(join(dir, 'missing.bin')));
    await refused(ErrorCode.OUT_OF_BOUNDS, async () => {
      writeFileSync(join(dir, 'small.bin'), pattern(10));
      await m.openFile(join(dir, 'small.bin'), { length: 11 });
    });
    const path = join(dir, `shrink-${engine}.bin`);
    writeFileSync(path, pattern(256));
    const f = await m.openFile(path);
    truncateSync(path, 100);
    const e = await refused(ErrorCode.IO_ERROR, () => m.copy(dst, f));
    expect(e.detail).toMatchObject({ bytesDone: 100 });
    // In a batch, the failure is reported per descriptor and the batch rejects with BATCH_FAILED.
    const other = m.wrap(new Uint8Array(256));
    const be = await refused(ErrorCode.BATCH_FAILED, () => m.batch().copy(other, src).copy(dst, f).submit());
    const result = (be as DatamoverError & { result: import('@datamover/core').BatchResult }).result;
    expect([result.status(0), result.status(1)]).toEqual(['done', 'failed']);
    expect(result.error(1)?.code).toBe(ErrorCode.IO_ERROR);
    expect(other.bytes()).toEqual(pattern(256));
    // The engine reports the short read; the part it read is the destination's business, and
    // the descriptor is never reported as done. Restore the sentinel for the afterEach check.
    dstBuf.fill(0xee);
  });

  it('more regions than the region table holds', async () => {
    const regions: Region[] = [];
    const e = await refused(ErrorCode.TOO_MANY_REGIONS, () => {
      for (;;) regions.push(m.wrap(new Uint8Array(1)));
    });
    expect(e.message).toMatch(/65536/);
    await Promise.all(regions.map((r) => r.release()));
    m.wrap(new Uint8Array(1)); // indexes are reused after release
  });
});
