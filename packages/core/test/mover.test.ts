/** The Mover's own behaviour, over core's TypeScript engine (the oracle): regions, the default-backend registry, release, stats. */
import { afterEach, describe, expect, it } from 'vitest';
import { DatamoverError, defaultBackends, ErrorCode, Mover, registerDefaultBackend } from '../src/index.js';
import { codeOf } from './fixtures/code-of.js';
import { oracleBackend } from './fixtures/oracle-backend.js';

let mover: Mover | undefined;
afterEach(async () => {
  await mover?.close();
  mover = undefined;
});
const open = async (options: Parameters<typeof oracleBackend>[0] = {}) => (mover = await Mover.open({ backends: [oracleBackend(options)] }));


describe('Mover.open', () => {
  it('refuses bad options with typed errors', async () => {
    await expect(Mover.open({ backends: [] })).rejects.toMatchObject({ code: ErrorCode.BACKEND_UNAVAILABLE });
    await expect(Mover.open({ backends: [oracleBackend()], ringEntries: 3 })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(Mover.open({ backends: [oracleBackend()], policy: 'fastest' as never })).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(Mover.open({ backends: [oracleBackend()], bogus: 1 } as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  it('fails with every reason when no backend is available, and lists the unavailable ones otherwise', async () => {
    const down = oracleBackend({ name: 'down', probe: { available: false, reason: 'no device here' } });
    const err = await Mover.open({ backends: [down] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatamoverError);
    expect((err as DatamoverError).code).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect((err as DatamoverError).message).toContain('down: no device here');
    mover = await Mover.open({ backends: [down, oracleBackend()] });
    expect(mover.backends).toEqual(['oracle']);
    expect(mover.stats().unavailable.map((r) => [r.name, r.reason])).toEqual([['down', 'no device here']]);
  });

  it('reports a probe that throws as unavailable, with its message', async () => {
    const broken = { ...oracleBackend({ name: 'broken' }), probe: async () => Promise.reject(new Error('driver exploded')) };
    const reports = await Mover.probe([broken, oracleBackend()]);
    expect(reports[0]).toMatchObject({ name: 'broken', available: false, reason: 'probe failed: driver exploded' });
    expect(reports[1]).toMatchObject({ name: 'oracle', available: true });
  });

  it('lists a stand-in part as unavailable beside the open backend', async () => {
    mover = await Mover.open({ backends: [oracleBackend({ probe: { available: true, standIn: { part: 'native engine', reason: 'not built' } } })] });
    expect(mover.stats().unavailable).toMatchObject([{ name: 'oracle native engine', available: false, reason: 'not built' }]);
  });
});

describe('default backends (registry)', () => {
  it('opens the registered factories when no backend list is given', async () => {
    const before = defaultBackends().length;
    registerDefaultBackend('core-test-oracle', () => oracleBackend({ name: 'core-test-oracle' }));
    expect(defaultBackends().map((b) => b.name)).toContain('core-test-oracle');
    expect(defaultBackends().length).toBe(before + 1);
    // Registering the same name again replaces the factory instead of adding a second backend.
    registerDefaultBackend('core-test-oracle', () => oracleBackend({ name: 'core-test-oracle' }));
    expect(defaultBackends().length).toBe(before + 1);
    mover = await Mover.open();
    expect(mover.backends).toContain('core-test-oracle');
  });
});

describe('regions', () => {
  it('wraps host memory of every buffer kind and copies between them on the engine', async () => {
    const m = await open();
    const src = new Uint8Array(64).map((_, i) => i);
    const a = m.wrap(src);
    const b = m.wrap(new ArrayBuffer(64));
    const c = m.wrap(new DataView(new SharedArrayBuffer(64)));
    expect([a.kind, a.length, a.writable]).toEqual(['host', 64, true]);
    await m.copy(b, a);
    await m.copy(c, b);
    expect(c.bytes()).toEqual(src);
    expect(m.stats()).toMatchObject({ regions: 3, registeredBytes: 192 });
  });

  it('refuses what wrap() cannot register safely', async () => {
    const m = await open();
    expect(codeOf(() => m.wrap(42 as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m.wrap(new (ArrayBuffer as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(8, { maxByteLength: 16 })))).toBe(ErrorCode.INVALID_ARGUMENT);
    const gone = new ArrayBuffer(8);
    structuredClone(gone, { transfer: [gone] });
    expect(codeOf(() => m.wrap(gone))).toBe(ErrorCode.DETACHED_BUFFER);
    expect(codeOf(() => m.wrap(new Uint8Array(8), { readonly: true } as never))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('makes a wrapped ArrayBuffer untransferable, so postMessage cannot detach it under an engine', async () => {
    const m = await open();
    const buf = new ArrayBuffer(16);
    m.wrap(buf);
    // Node refuses the transfer (newer releases) or copies instead of transferring: either way the buffer stays attached.
    try {
      structuredClone(buf, { transfer: [buf] });
    } catch {
      /* refused */
    }
    expect(buf.byteLength).toBe(16);
  });

  it('allocates zeroed memory; without an engine allocator only up to 16-byte alignment', async () => {
    const m = await open();
    const r = m.alloc(100, { alignment: 16 });
    expect(r.bytes()).toEqual(new Uint8Array(100));
    expect(codeOf(() => m.alloc(100, { alignment: 4096 }))).toBe(ErrorCode.UNSUPPORTED_OPERATION);
    expect(codeOf(() => m.alloc(100, { alignment: 3 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m.alloc(-1))).toBe(ErrorCode.INVALID_SIZE);
    expect(codeOf(() => m.alloc('8' as never))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('slices share the registration, hold the parent busy and bound their own range', async () => {
    const m = await open();
    const r = m.wrap(new Uint8Array(32));
    const s = r.slice(8, 8);
    expect([s.isSlice, s.length]).toEqual([true, 8]);
    await m.fill(s, 0xab);
    expect([...r.bytes().subarray(6, 18)]).toEqual([0, 0, ...new Array(8).fill(0xab), 0, 0]);
    expect(codeOf(() => r.slice(30, 4))).toBe(ErrorCode.OUT_OF_BOUNDS);
    await expect(r.release()).rejects.toMatchObject({ code: ErrorCode.REGION_BUSY });
    await s.release();
    await r.release();
    expect(m.stats().regions).toBe(0);
  });

  it('move() hands the registration to a new handle and kills the old one', async () => {
    const m = await open();
    const r = m.wrap(new Uint8Array(8));
    const moved = r.move();
    expect(codeOf(() => r.bytes())).toBe(ErrorCode.USE_AFTER_MOVE);
    await expect(m.fill(r, 1)).rejects.toMatchObject({ code: ErrorCode.USE_AFTER_MOVE });
    await m.fill(moved, 7);
    expect(moved.bytes()).toEqual(new Uint8Array(8).fill(7));
    expect(m.stats().regions).toBe(1);
  });

  it('a released region is refused, and a region of another Mover is foreign', async () => {
    const m = await open();
    const other = await Mover.open({ backends: [oracleBackend()] });
    try {
      const mine = m.wrap(new Uint8Array(8));
      const theirs = other.wrap(new Uint8Array(8));
      await expect(m.copy(mine, theirs)).rejects.toMatchObject({ code: ErrorCode.FOREIGN_REGION });
      await mine.release();
      await expect(m.fill(mine, 1)).rejects.toMatchObject({ code: ErrorCode.REGION_RELEASED });
    } finally {
      await other.close();
    }
  });

  it('release() with work in flight frees the memory once that work settled', async () => {
    const m = await open();
    const a = m.wrap(new Uint8Array(1 << 20).fill(3));
    const b = m.wrap(new Uint8Array(1 << 20));
    const view = b.bytes();
    const copying = m.copy(b, a);
    const released = b.release();
    expect(b.live).toBe(false);
    expect(m.stats().regions).toBe(2); // the copy in flight still holds b's registration
    await copying;
    await released;
    expect(view[(1 << 20) - 1]).toBe(3);
    expect(m.stats().regions).toBe(1);
  });

  it('moveInto() copies across regions and releases the source', async () => {
    const m = await open();
    const src = m.wrap(new Uint8Array(16).fill(9));
    const dst = m.wrap(new Uint8Array(16));
    expect(await m.moveInto(dst, src)).toBe(dst);
    expect(dst.bytes()).toEqual(new Uint8Array(16).fill(9));
    expect(src.live).toBe(false);
  });

  it('registerMemory() refuses host memory and mismatched spaces, releasing what it was handed', async () => {
    const m = await open();
    let released = 0;
    const memory = { kind: 'dax', release: () => released++ } as never;
    expect(codeOf(() => m.registerMemory({ kind: 'host', release: () => released++ } as never, { kind: 'host' } as never, 8, true))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m.registerMemory(memory, { kind: 'gpu' } as never, 8, true))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => m.registerMemory(memory, { kind: 'dax' } as never, -1, true))).toBe(ErrorCode.INVALID_SIZE);
    expect(released).toBe(3);
  });
});

describe('stats and close', () => {
  it('counts batches and descriptors per backend', async () => {
    const m = await open();
    const r = m.wrap(new Uint8Array(64));
    await m.fill(r, 1);
    await m.batch().fill(r, 2).crc32c(r).nop().submit();
    const s = m.stats();
    expect(s.batches).toBe(2);
    expect(s.backends).toHaveLength(1);
    expect(s.backends[0]!.name).toBe('oracle');
    expect(s.fallbacks).toEqual([]);
    expect(s.registrationMs).toBeGreaterThanOrEqual(0);
  });

  it('close() lets work in flight finish, then refuses everything with MOVER_CLOSED', async () => {
    const m = await open();
    const a = m.wrap(new Uint8Array(1 << 16).fill(5));
    const b = m.wrap(new Uint8Array(1 << 16));
    const view = b.bytes();
    const copying = m.copy(b, a);
    await m.close();
    await copying;
    expect(view[100]).toBe(5);
    expect(codeOf(() => b.bytes())).toBe(ErrorCode.REGION_RELEASED); // close released every region
    expect(m.closed).toBe(true);
    expect(codeOf(() => m.wrap(new Uint8Array(1)))).toBe(ErrorCode.MOVER_CLOSED);
    expect(codeOf(() => m.batch())).toBe(ErrorCode.MOVER_CLOSED);
    await m.close(); // twice is fine
    mover = undefined;
  });

  it('close({ abort: true }) cancels queued work', async () => {
    const m = await open({ ringEntries: 4 });
    const a = m.wrap(new Uint8Array(1 << 20));
    const b = m.wrap(new Uint8Array(1 << 20));
    const batch = m.batch();
    for (let i = 0; i < 16; i++) batch.copy(b, a);
    const running = batch.submit();
    await m.close({ abort: true });
    // The oracle runs on the JS thread, so nothing ran before close() was called.
    await expect(running).rejects.toMatchObject({ code: ErrorCode.ABORTED });
    mover = undefined;
  });
});
