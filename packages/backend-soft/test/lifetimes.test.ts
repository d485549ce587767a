import { ErrorCode, type CancelledError, type Mover } from '@datamover/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENGINES, openSoft, pattern } from './helpers.js';

describe.each(ENGINES)('move semantics and lifetimes (%s engine)', (engine) => {
  let m: Mover;
  beforeEach(async () => {
    m = await openSoft(engine);
  });
  afterEach(() => m.close());

  it('move() hands ownership over without copying; the old handle is dead', async () => {
    const buf = pattern(64);
    const a = m.wrap(buf);
    const b = a.move();
    expect(a.live).toBe(false);
    expect(b.bytes().buffer).toBe(buf.buffer); // same memory, no copy
    expect(() => a.bytes()).toThrow(expect.objectContaining({ code: ErrorCode.USE_AFTER_MOVE }));
    expect(m.stats().regions).toBe(1);
    await b.release();
    expect(m.stats().regions).toBe(0);
  });

  it('slices borrow: the parent cannot be released while a slice lives', async () => {
    const parent = m.wrap(pattern(100));
    const s = parent.slice(10, 20);
    const ss = s.slice(5);
    expect(ss.length).toBe(15);
    expect(ss.bytes()).toEqual(pattern(100).subarray(15, 30));
    await expect(parent.release()).rejects.toMatchObject({ code: ErrorCode.REGION_BUSY });
    await ss.release();
    const moved = s.move(); // a moved slice still borrows, once
    await expect(parent.release()).rejects.toMatchObject({ code: ErrorCode.REGION_BUSY });
    await moved.release();
    await parent.release();
    expect(m.stats().regions).toBe(0);
  });

  it('a slice dies with its released parent only after the parent is free of borrows', async () => {
    const parent = m.wrap(pattern(100));
    const s = parent.slice(0, 10);
    await s.release();
    await parent.release();
    expect(() => s.bytes()).toThrow(expect.objectContaining({ code: ErrorCode.REGION_RELEASED }));
  });

  it('releasing a region with work in flight is deferred until the work settles', async () => {
    const n = 8 << 20;
    const src = m.alloc(n);
    src.bytes().set(pattern(4096));
    const dst = m.alloc(n);
    const b = m.batch();
    for (let i = 0; i < 64; i++) b.copy(dst, src);
    const done = b.submit();
    const released = src.release(); // handle dies now; memory stays until the batch settles
    expect(src.live).toBe(false);
    await expect(m.copy(dst, src)).rejects.toMatchObject({ code: ErrorCode.REGION_RELEASED });
    expect(m.stats().regions).toBe(2);
    const r = await done;
    expect(r.ok).toBe(true);
    await released;
    expect(m.stats().regions).toBe(1);
    expect(dst.bytes().subarray(0, 4096)).toEqual(pattern(4096));
  });

  it('moveInto copies across spaces once and releases the source', async () => {
    const src = m.wrap(pattern(1000));
    const dst = m.alloc(1000, { alignment: 8 });
    const out = await m.moveInto(dst, src);
    expect(out).toBe(dst);
    expect(dst.bytes()).toEqual(pattern(1000));
    expect(src.live).toBe(false);
  });

  it('abort in the middle of a batch: each descriptor done whole or not run, buffers quiescent', async () => {
    const count = 20_000;
    const unit = 4096;
    const src = m.wrap(pattern(unit * 16));
    const dstBuf = new Uint8Array(unit * count).fill(0xee);
    const dst = m.wrap(dstBuf);
    const b = m.batch();
    for (let i = 0; i < count; i++) b.copy(dst, src, { srcOffset: (i % 16) * unit, dstOffset: i * unit, length: unit });
    const ac = new AbortController();
    const p = b.submit({ signal: ac.signal });
    setImmediate(() => ac.abort(new Error('enough')));
    const e = (await p.then(
      () => undefined,
      (err: unknown) => err,
    )) as CancelledError;
    expect(e?.code).toBe(ErrorCode.ABORTED);
    expect((e.cause as Error).message).toBe('enough');
    const result = e.result as import('@datamover/core').BatchResult;
    const { done, notRun, failed, pending } = result.counts;
    expect(failed + pending).toBe(0);
    expect(done + notRun).toBe(count);
    expect(notRun).toBeGreaterThan(0);
    const snapshot = Buffer.from(dstBuf.slice().buffer);
    const expected = pattern(unit * 16);
    const untouched = new Uint8Array(unit).fill(0xee);
    for (let i = 0; i < count; i++) {
      const got = Buffer.from(dstBuf.buffer, i * unit, unit);
      const want = result.status(i) === 'done' ? expected.subarray((i % 16) * unit, (i % 16 + 1) * unit) : untouched;
      if (!got.equals(want)) expect.fail(`descriptor ${i} (${result.status(i)}) left the destination inconsistent with its report`);
    }
    // Quiescent: nothing writes the destination after the Promise settled.
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.from(dstBuf.buffer).equals(snapshot)).toBe(true);
    // The mover carries on.
    await m.copy(dst, src, { length: unit });
  });

  it('deadlines cancel like aborts, with DEADLINE_EXCEEDED', async () => {
    const src = m.wrap(pattern(65536));
    const dst = m.wrap(new Uint8Array(65536));
    const b = m.batch();
    for (let i = 0; i < 50_000; i++) b.copy(dst, src);
    await expect(b.submit({ timeout: 1 })).rejects.toMatchObject({ code: ErrorCode.DEADLINE_EXCEEDED });
    await expect(m.copy(dst, src, { deadline: Date.now() - 1 })).rejects.toMatchObject({ code: ErrorCode.DEADLINE_EXCEEDED });
    const aborted = AbortSignal.abort();
    const e = await m.copy(dst, src, { signal: aborted }).catch((x: CancelledError) => x);
    expect(e).toMatchObject({ code: ErrorCode.ABORTED });
  });

  it('a 100,000-descriptor batch wraps a 1024-slot ring many times and loses nothing', async () => {
    const mm = await openSoft(engine, { ringEntries: 1024 });
    try {
      const n = 100_000;
      const src = mm.wrap(pattern(64 * 256));
      const dstBuf = new Uint8Array(64 * n);
      const dst = mm.wrap(dstBuf);
      const b = mm.batch();
      for (let i = 0; i < n; i++) b.copy(dst, src, { srcOffset: (i % 256) * 64, dstOffset: i * 64, length: 64 });
      const r = await b.submit();
      expect(r.counts).toEqual({ done: n, notRun: 0, failed: 0, pending: 0 });
      const p = pattern(64 * 256);
      for (let i = 0; i < n; i += 997) expect(dstBuf.subarray(i * 64, i * 64 + 64)).toEqual(p.subarray((i % 256) * 64, (i % 256) * 64 + 64));
      expect(mm.stats().backends[0]).toMatchObject({ submitted: n, done: n });
    } finally {
      await mm.close();
    }
  });

  it('close() lets in-flight work finish, then refuses new work; close({ abort }) cancels it', async () => {
    const src = m.wrap(pattern(4096));
    const dst = m.wrap(new Uint8Array(4096));
    const b = m.batch();
    for (let i = 0; i < 1000; i++) b.copy(dst, src);
    const p = b.submit();
    await m.close();
    expect((await p).ok).toBe(true);
    await expect(m.copy(dst, src)).rejects.toMatchObject({ code: ErrorCode.MOVER_CLOSED });

    const m2 = await openSoft(engine);
    const s2 = m2.wrap(pattern(4096));
    const d2 = m2.wrap(new Uint8Array(4096));
    const b2 = m2.batch();
    for (let i = 0; i < 50_000; i++) b2.copy(d2, s2);
    const p2 = b2.submit();
    await m2.close({ abort: true });
    await expect(p2).rejects.toMatchObject({ code: ErrorCode.ABORTED });
  });
});
