/**
 * Transfer plans over soft (host, file) and cxl (host, dax): file↔dax has no direct backend, so it
 * is planned as two hops through the Mover's staging pool. Content, route choice and explain(),
 * refusals, pipelining over more chunks than buffers, cancellation mid-pipeline, a fault in a hop,
 * integrity checks, and stats.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { soft } from '@datamover/backend-soft';
import { faultInjecting, noise } from '@datamover/conformance';
import { Mover, type DatamoverError, type Region } from '@datamover/core';
import { cxl } from '../src/index.js';
import { openDax } from '../src/dax.js';

const dir = mkdtempSync(join(tmpdir(), 'dm-plans-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let serial = 0;
function file(bytes: Uint8Array): string {
  const p = join(dir, `f${serial++}.bin`);
  writeFileSync(p, bytes);
  return p;
}
const STAGE = { bytes: 64 << 10, count: 2 };
const movers: Mover[] = [];
afterEach(async () => {
  for (const m of movers.splice(0)) await m.close();
});
async function open(backends = [soft(), cxl()], staging = STAGE): Promise<Mover> {
  const m = await Mover.open({ backends, staging });
  movers.push(m);
  return m;
}
async function daxOf(m: Mover, bytes: Uint8Array): Promise<{ region: Region; path: string }> {
  const path = file(bytes);
  return { region: await openDax(m, path), path };
}

describe('plan()', () => {
  it('routes file→dax through host staging in two hops and explains why', async () => {
    const m = await open();
    const src = await m.openFile(file(noise(1000, 1)));
    const { region: dst } = await daxOf(m, new Uint8Array(1000));
    const p = m.plan(dst, src);
    expect(p.hops.map((h) => [h.backend, h.src.kind, h.dst.kind, h.bytes, h.stagesThroughHost])).toEqual([
      ['soft', 'file', 'host', 1000, true],
      ['cxl', 'host', 'dax', 1000, true],
    ]);
    expect(p.hostCopies).toBe(1);
    expect(p.stagedBytes).toBe(1000);
    const text = p.explain();
    expect(text).toContain('hop 1: soft: file');
    expect(text).toContain('hop 2: cxl: host (staging) → dax');
    expect(text).toMatch(/rejected:\n {2}file→dax direct: soft copies no file→dax .*; cxl copies no file→dax/);
  });

  it('takes the direct route where one backend joins both ends, and says what it rejected', async () => {
    const m = await open();
    const src = m.alloc(4096);
    const { region: dst } = await daxOf(m, new Uint8Array(4096));
    const p = m.plan(dst, src);
    expect(p.hops.map((h) => h.backend)).toEqual(['cxl']);
    expect(p.hostCopies).toBe(0);
    expect(p.stagedBytes).toBe(0);
    const { region: dax2 } = await daxOf(m, new Uint8Array(4096));
    expect(m.plan(dax2, dst).explain()).toContain('dax→host→dax (staged): 2 hops and a host copy where 1 direct hop does');
  });

  it('refuses an unreachable pair with UNREACHABLE carrying the explanation, naming a backend that did not open', async () => {
    const m = await open([soft(), { ...cxl(), name: 'cxl-missing', probe: async () => ({ available: false, reason: 'no dax here' }) }]);
    const { region: fake } = { region: m.registerMemory({ kind: 'dax', release: () => undefined } as never, { kind: 'dax', name: 'fake', cpuAccessible: true, persistent: false, alignment: 1 }, 64, true) };
    const src = m.alloc(64);
    let err: DatamoverError | undefined;
    try {
      m.plan(fake, src);
    } catch (e) {
      err = e as DatamoverError;
    }
    expect(err?.code).toBe('UNREACHABLE');
    expect(String(err?.detail?.explain)).toContain('cxl-missing: not open (no dax here)');
    expect(err?.message).toContain('host→dax direct: soft copies no host→dax');
  });

  it('refuses a length mismatch and a released region before anything moves', async () => {
    const m = await open();
    const src = await m.openFile(file(noise(100, 2)));
    const { region: dst, path } = await daxOf(m, new Uint8Array(200));
    await expect(m.transfer(dst, src)).rejects.toMatchObject({ code: 'LENGTH_MISMATCH' });
    await src.release();
    await expect(m.transfer(dst, src, { length: 100 })).rejects.toMatchObject({ code: 'REGION_RELEASED' });
    expect(readFileSync(path)).toEqual(Buffer.alloc(200));
    expect(m.stats().plans.run).toBe(0);
  });

  it('refuses bad options: unknown keys, an unknown integrity, a bad staging pool', async () => {
    const m = await open();
    const a = m.alloc(64);
    const b = m.alloc(64);
    expect(() => m.plan(b, a, { integrity: 'md5' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => m.plan(b, a, { signal: new AbortController().signal } as never)).toThrow(/plan\(\): unknown option 'signal'/);
    await expect(m.transfer(b, a, { timeout: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(m.transfer(b, a, { ofset: 1 } as never)).rejects.toThrow(/transfer\(\): unknown option 'ofset'/);
    await expect(Mover.open({ backends: [soft()], staging: { bytes: 1000 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(Mover.open({ backends: [soft()], staging: { count: 0 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(m.stats().plans.run).toBe(0);
  });

  it('plans a one-hop route in a few microseconds', async () => {
    const m = await open();
    const a = m.alloc(4096);
    const b = m.alloc(4096);
    for (let i = 0; i < 10_000; i++) m.plan(b, a);
    const n = 100_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) m.plan(b, a);
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    console.log(`plan() of a one-hop route: ${us.toFixed(3)} µs`);
    expect(us).toBeLessThan(20); // the 2 µs target is the bench's; a shared CI machine gets slack
  });
});

describe('transfer()', () => {
  it.each([
    ['smaller than a buffer', 1000],
    ['more chunks than buffers', 5 * (64 << 10) + 123],
  ])('moves file→dax and dax→file, %s, with the bytes intact', async (_, n) => {
    const m = await open();
    const data = noise(n, 3);
    const src = await m.openFile(file(data));
    const { region: dax, path } = await daxOf(m, new Uint8Array(n));
    const r = await m.transfer(dax, src);
    expect(r.ok).toBe(true);
    expect(r.chunks).toBe(Math.ceil(n / STAGE.bytes));
    expect(r.bytesMoved).toBe(n);
    expect(new Uint8Array(readFileSync(path))).toEqual(data);
    const back = file(new Uint8Array(n));
    const out = await m.openFile(back, { mode: 'rw' });
    await m.transfer(out, dax);
    expect(new Uint8Array(readFileSync(back))).toEqual(data);
    const s = m.stats().plans;
    expect(s).toMatchObject({ run: 2, hops: 4, hostCopies: 2, stagedBytes: 2 * n });
    expect(Object.keys(s.hopMs).sort()).toEqual(['cxl dax→host', 'cxl host→dax', 'soft file→host', 'soft host→file']);
  });

  it('honours offsets and length on both ends', async () => {
    const m = await open();
    const data = noise(3 * STAGE.bytes, 4);
    const src = await m.openFile(file(data));
    const { region: dax, path } = await daxOf(m, new Uint8Array(3 * STAGE.bytes));
    const len = STAGE.bytes + 777;
    await m.transfer(dax, src, { srcOffset: 100, dstOffset: 5000, length: len });
    const got = new Uint8Array(readFileSync(path));
    expect(got.subarray(5000, 5000 + len)).toEqual(data.subarray(100, 100 + len));
    expect(got.subarray(0, 5000).every((x) => x === 0)).toBe(true);
    expect(got.subarray(5000 + len).every((x) => x === 0)).toBe(true);
  });

  it('a one-hop transfer is the plain copy', async () => {
    const m = await open();
    const a = m.wrap(noise(4096, 5));
    const b = m.alloc(4096);
    const r = await m.transfer(b, a);
    expect([r.chunks, r.hops, r.bytesMoved]).toEqual([1, 1, 4096]);
    expect(b.bytes()).toEqual(a.bytes());
    expect(m.stats().plans).toMatchObject({ run: 1, hops: 1, hostCopies: 0, stagedBytes: 0 });
    expect(m.stats().plans.hopMs).toEqual({}); // a direct transfer is one copy, not timed
  });

  it('a failing one-hop transfer rejects with the hop and its own error, and a report of nothing moved', async () => {
    const m = await open([soft(), faultInjecting(cxl(), { rate: 1, kinds: ['error-before'] })]);
    const { region: dax } = await daxOf(m, new Uint8Array(4096));
    const e = (await m.transfer(dax, m.wrap(noise(4096, 7))).catch((x: unknown) => x)) as DatamoverError;
    expect(e.code).toBe('IO_ERROR');
    expect(e.message).toMatch(/^transfer chunk 0, hop 1 \(cxl host→dax\)/);
    expect(e.detail).toMatchObject({ backend: 'cxl', chunk: 0, hop: 1 });
    expect([e.transfer!.status(0, 0), e.transfer!.bytesMoved, e.transfer!.ok]).toEqual(['failed', 0, false]);
    expect(e.transfer!.error(0, 0)).toBe(e);
  });

  it('cancels mid-pipeline: the report says which chunks landed, and the pool is quiescent', async () => {
    const m = await open([soft(), cxl()], { bytes: 64 << 10, count: 2 });
    const n = 64 * (64 << 10);
    const src = await m.openFile(file(noise(n, 6)));
    const { region: dax } = await daxOf(m, new Uint8Array(n));
    const ac = new AbortController();
    const p = m.transfer(dax, src, { signal: ac.signal });
    // Abort once the first chunk has landed (its last hop has a time in the stats).
    const poll = (): void => void (m.stats().plans.hopMs['cxl host→dax'] !== undefined ? ac.abort() : setImmediate(poll));
    poll();
    const e = (await p.catch((x: unknown) => x)) as DatamoverError;
    expect(e.code).toBe('ABORTED');
    const r = e.transfer!;
    expect(r.chunks).toBe(64);
    let landed = 0;
    for (let c = 0; c < r.chunks; c++) {
      if (r.status(c, 1) === 'done') {
        landed++;
        expect(r.status(c, 0)).toBe('done'); // nothing lands without its upstream hop
      }
    }
    expect(landed).toBeGreaterThan(0);
    expect(landed).toBeLessThan(64);
    expect(r.bytesMoved).toBe(landed * (64 << 10));
    // The pool is free again: the next transfer runs whole.
    await expect(m.transfer(dax, src)).resolves.toMatchObject({ ok: true });
  });

  it('a deadline already past cancels before a byte moves', async () => {
    const m = await open();
    const src = await m.openFile(file(noise(1000, 7)));
    const { region: dax, path } = await daxOf(m, new Uint8Array(1000));
    await expect(m.transfer(dax, src, { deadline: Date.now() - 1 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(readFileSync(path)).toEqual(Buffer.alloc(1000));
  });

  it('a one-hop transfer cancelled before it runs: ABORTED / DEADLINE_EXCEEDED, the hop not-run, nothing moved', async () => {
    const m = await open();
    const a = m.wrap(noise(4096, 3));
    const { region: dax, path } = await daxOf(m, new Uint8Array(4096));
    const ac = new AbortController();
    ac.abort();
    for (const [options, code] of [[{ signal: ac.signal }, 'ABORTED'], [{ deadline: Date.now() - 1 }, 'DEADLINE_EXCEEDED']] as const) {
      const e = (await m.transfer(dax, a, options).catch((x: unknown) => x)) as DatamoverError;
      expect(e.code).toBe(code);
      expect(e.message).toMatch(/at chunk 0, hop 1$/);
      expect([e.transfer!.status(0, 0), e.transfer!.bytesMoved]).toEqual(['not-run', 0]);
    }
    expect(readFileSync(path)).toEqual(Buffer.alloc(4096));
  });

  it('a failing hop rejects with that hop, its backend and its own error; nothing after it counts as moved', async () => {
    const broken = faultInjecting(cxl(), { rate: 1, kinds: ['error-before'] });
    const m = await open([soft(), broken]);
    const n = 4 * STAGE.bytes;
    const src = await m.openFile(file(noise(n, 8)));
    const { region: dax } = await daxOf(m, new Uint8Array(n));
    const e = (await m.transfer(dax, src).catch((x: unknown) => x)) as DatamoverError;
    expect(e.code).toBe('IO_ERROR');
    expect(e.message).toMatch(/^transfer chunk 0, hop 2 \(cxl host→dax\)/);
    expect(e.detail).toMatchObject({ backend: 'cxl', chunk: 0, hop: 2 });
    const r = e.transfer!;
    expect(r.status(0, 0)).toBe('done');
    expect(r.status(0, 1)).toBe('failed');
    expect(r.bytesMoved).toBe(0);
    for (let c = 1; c < r.chunks; c++) {
      expect(['failed', 'not-run']).toContain(r.status(c, 1)); // a chunk already in flight may fail too; none lands
      if (r.status(c, 1) === 'failed') expect(r.error(c, 1)?.detail).toMatchObject({ chunk: c, hop: 2 }); // its own error
      if (c >= STAGE.count) expect(r.status(c, 0)).toBe('not-run'); // no new chunk starts after the failure
    }
  });
});

describe("integrity: 'crc32c'", () => {
  it('checks each chunk where it lands (on the dax engine) and passes intact data', async () => {
    const m = await open();
    const n = 3 * STAGE.bytes + 5;
    const data = noise(n, 9);
    const src = await m.openFile(file(data));
    const { region: dax, path } = await daxOf(m, new Uint8Array(n));
    const p = m.plan(dax, src, { integrity: 'crc32c' });
    expect(p.integrity).toBe('engine');
    expect(p.explain()).toContain('checked by the destination backend');
    await expect(m.transfer(dax, src, { integrity: 'crc32c' })).resolves.toMatchObject({ ok: true });
    expect(new Uint8Array(readFileSync(path))).toEqual(data);
  });

  it('catches a hop that reports bytes it never wrote (INTEGRITY_MISMATCH), which a plain transfer accepts', async () => {
    const lying = () => faultInjecting(cxl(), { rate: 0, bugs: ['report-unrun-as-done'], bugRate: 1 });
    const n = 2 * STAGE.bytes;
    const data = noise(n, 10);
    const plain = await open([soft(), lying()]);
    const { region: d1 } = await daxOf(plain, new Uint8Array(n));
    await expect(plain.transfer(d1, await plain.openFile(file(data)))).resolves.toMatchObject({ ok: true });
    const m = await open([soft(), lying()]);
    const { region: d2 } = await daxOf(m, new Uint8Array(n));
    const e = (await m.transfer(d2, await m.openFile(file(data)), { integrity: 'crc32c' }).catch((x: unknown) => x)) as DatamoverError;
    expect(e.code).toBe('INTEGRITY_MISMATCH');
    expect(e.detail).toMatchObject({ chunk: 0, hop: 2 });
    expect(e.transfer!.bytesMoved).toBe(0);
  });

  it('reads the destination back where no backend checksums its kind', async () => {
    // cxl with its crc32c on dax taken out of its capabilities: nothing checksums dax memory then
    const noCrc = { ...cxl(), capabilities: () => ({ ...cxl().capabilities(), operations: cxl().capabilities().operations.filter((o) => o.op !== 'crc32c') }) };
    const m = await open([soft(), noCrc]);
    const n = STAGE.bytes + 9;
    const data = noise(n, 11);
    const src = await m.openFile(file(data));
    const { region: dax, path } = await daxOf(m, new Uint8Array(n));
    expect(m.plan(dax, src, { integrity: 'crc32c' }).integrity).toBe('read-back');
    await expect(m.transfer(dax, src, { integrity: 'crc32c' })).resolves.toMatchObject({ ok: true });
    expect(new Uint8Array(readFileSync(path))).toEqual(data);
    // A direct hop (host→dax) checked by read-back is chunked through the pool too.
    const host = m.wrap(noise(n, 12));
    const { region: dax2, path: path2 } = await daxOf(m, new Uint8Array(n));
    const direct = m.plan(dax2, host, { integrity: 'crc32c' });
    expect([direct.hops.length, direct.integrity, direct.chunks]).toEqual([1, 'read-back', 2]);
    await expect(m.transfer(dax2, host, { integrity: 'crc32c' })).resolves.toMatchObject({ ok: true, bytesMoved: n });
    expect(new Uint8Array(readFileSync(path2))).toEqual(host.bytes());
  });
});
