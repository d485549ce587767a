/**
 * The sdxi backend through the Mover: the execution-path policy (what is offered, where each
 * operation runs, the recorded fallbacks and their reasons in probe() and stats), fences across
 * the function and the CPU path, and a fault only the function can detect — reported for its
 * descriptor while the rest of the batch runs on after the context restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c, soft } from '@datamover/backend-soft';
import { defaultBackends, Mover, type Backend } from '@datamover/core';
import { sdxi, SoftwareSdxiFunction, type ExecutionPath, type SdxiFunction } from '../src/index.js';
import { aliasingFunction } from './aliasing-function.js';

const movers: Mover[] = [];
afterEach(async () => {
  for (const m of movers.splice(0)) await m.close();
});
async function open(...backends: Backend[]): Promise<Mover> {
  const m = await Mover.open({ backends });
  movers.push(m);
  return m;
}

const ops = (path: ExecutionPath) => new Set(sdxi({ executionPath: path }).capabilities().operations.map((o) => o.op));

describe('execution-path policy', () => {
  it('offers SDXI operations always, fill/compare/crc32c only off the "hardware" path, on host memory only', () => {
    expect(ops('hardware')).toEqual(new Set(['nop', 'copy', 'writeImm']));
    expect(ops('auto')).toEqual(new Set(['nop', 'copy', 'writeImm', 'fill', 'compare', 'crc32c', 'copyStrided', 'fillStrided', 'compareStrided', 'crc32cStrided']));
    expect(ops('software')).toEqual(ops('auto'));
    for (const o of sdxi().capabilities().operations) expect([o.src, o.dst].every((k) => k === null || k === 'host')).toBe(true);
    expect(() => sdxi({ executionPath: 'fast' as ExecutionPath })).toThrow(/executionPath/);
  });

  it('says in probe() which operations fall back and how; stats give each reason', async () => {
    const p = await sdxi().probe();
    expect(p).toMatchObject({ available: true, details: { engine: 'sdxi', spec: 'SDXI 1.0', function: 'software', executionPath: 'auto' } });
    expect(p.details!['fallbacks']).toBe('fill, compare, crc32c → Datamover vendor descriptor (group 0x700), run by the function (no SDXI 1.0 descriptor); copyStrided, fillStrided, compareStrided, crc32cStrided → host engine on the CPU (no SDXI 1.0 descriptor)');
    expect((await sdxi({ executionPath: 'hardware' }).probe()).details!['fallbacks']).toBe('fill, compare, crc32c, copyStrided, fillStrided, compareStrided, crc32cStrided → not offered (no SDXI 1.0 descriptor)');
    expect((await sdxi({ executionPath: 'software' }).probe()).details!['fallbacks']).toBe('fill, compare, crc32c, copyStrided, fillStrided, compareStrided, crc32cStrided → host engine on the CPU (no SDXI 1.0 descriptor)');
  });

  it('strided descriptors run on the CPU path (the function translates one range per operand)', async () => {
    const m = await open(sdxi());
    const src = new Uint8Array(8192).map((_, i) => i * 7);
    const dst = new Uint8Array(4096);
    await m.batch().copyStrided(m.wrap(dst), m.wrap(src), { count: 4, blockBytes: 1024, srcStride: 2048 }).submit();
    for (let i = 0; i < 4; i++) expect(Buffer.compare(dst.subarray(i * 1024, (i + 1) * 1024), src.subarray(i * 2048, i * 2048 + 1024))).toBe(0);
    const r = await m.batch().crc32cStrided(m.wrap(src), { count: 4, blockBytes: 1024, stride: 2048 }).submit();
    expect(r.value(0)).toBe(crc32c(dst));
    await m.close();
  });

  it('"auto": vendor operations run as Datamover vendor descriptors in the function; stats count them with the reason', async () => {
    const m = await open(sdxi());
    const a = m.wrap(new Uint8Array(4096).map((_, i) => i * 3));
    const b = m.wrap(new Uint8Array(4096));
    await m.fill(b, 0x5a, { length: 100 });
    expect(await m.crc32c(a)).toBe(crc32c(a.bytes()));
    expect(await m.compare(a, a, { bOffset: 0 })).toEqual({ equal: true });
    const e = m.stats().backends[0]!.engine;
    expect(e).toMatchObject({ engine: 'sdxi', executionPath: 'auto', 'fallbacks.fill': 1, 'fallbacks.crc32c': 1, 'fallbacks.compare': 1 });
    expect(e['fallback.fill']).toMatch(/vendor descriptor/);
    expect(e['path.copy']).toBe('DSC_DMAB_COPY');
    expect(b.bytes().subarray(0, 100).every((v) => v === 0x5a)).toBe(true);
  });

  it('"software": vendor operations run on the CPU host engine, fences order them against the function\'s work', async () => {
    const m = await open(sdxi({ executionPath: 'software' }));
    const a = m.wrap(new SharedArrayBuffer(1 << 16));
    const b = m.wrap(new SharedArrayBuffer(1 << 16));
    const batch = m.batch();
    batch.fill(a, 0x11, { length: 4096 }); // CPU
    batch.copy(b, a, { length: 4096, fence: true }); // function, after the fill
    batch.crc32c(b, { length: 4096, fence: true }); // CPU, after the copy
    batch.writeImmediate(b, 0xffn, { offset: 8192, width: 1 }); // function
    const r = await batch.submit();
    expect(r.ok).toBe(true);
    expect(r.value(2)).toBe(crc32c(new Uint8Array(4096).fill(0x11)));
    expect(b.bytes()[8192]).toBe(0xff);
    const e = m.stats().backends[0]!.engine;
    expect(e).toMatchObject({ executionPath: 'software', 'fallbacks.fill': 1, 'fallbacks.crc32c': 1 });
    expect(e['fallback.fill']).toMatch(/"software".*CPU/);
  });

  it('"auto" with a function that lacks the vendor group: the CPU path, and the reason says so', async () => {
    const plain = (): SdxiFunction => {
      const fn = new SoftwareSdxiFunction();
      return {
        kind: 'software',
        description: 'a software function without the Datamover vendor group',
        mmio: fn.mmio,
        vendorGroups: [],
        doorbell: (c, v) => fn.doorbell(c, v),
        allocate: (bytes, alignment) => fn.allocate(bytes, alignment),
        bindAddressSpace: (memory, writable) => fn.bindAddressSpace(memory, writable),
        unbindAddressSpace: (pasid) => fn.unbindAddressSpace(pasid),
        onInterrupt: (handler) => fn.onInterrupt(handler),
        hold: (active) => fn.hold(active),
        close: () => fn.close(),
      };
    };
    const m = await open(sdxi({ createFunction: plain }));
    const a = m.wrap(new Uint8Array(64));
    await m.fill(a, 3);
    expect(a.bytes().every((v) => v === 3)).toBe(true);
    expect(m.stats().backends[0]!.engine['fallback.fill']).toMatch(/no Datamover vendor group.*CPU/);
  });

  it('"hardware" next to soft: the Mover sends fill to soft and records why', async () => {
    const m = await open(sdxi({ executionPath: 'hardware' }), soft());
    const a = m.wrap(new Uint8Array(64));
    const b = m.wrap(new Uint8Array(64));
    await m.fill(a, 9);
    await m.copy(b, a);
    expect(b.bytes().every((v) => v === 9)).toBe(true);
    expect(m.explain('copy', 'host', 'host').backend).toBe('sdxi');
    expect(m.stats().fallbacks).toEqual([expect.objectContaining({ op: 'fill', from: 'sdxi', to: 'soft', reason: 'sdxi does not support fill host', count: 1 })]);
  });
});

describe('through the Mover', () => {
  it('is a default backend once imported', () => {
    expect(defaultBackends().map((b) => b.name)).toContain('sdxi');
  });

  it('write-immediates of every width land little-endian (DSC_DMAB_WRT_IMM)', async () => {
    const m = await open(sdxi());
    const r = m.wrap(new Uint8Array(32));
    for (const width of [1, 2, 4, 8] as const) await m.writeImmediate(r, BigInt.asUintN(width * 8, 0x0807_0605_0403_0201n), { offset: width * 2, width });
    expect([...r.bytes().subarray(0, 24)]).toEqual([0, 0, 1, 0, 1, 2, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a fault only the function sees (two regions aliasing inside it) fails its descriptor; the context restarts and the batch runs on', async () => {
    const memory = new SharedArrayBuffer(4096);
    const other = new SharedArrayBuffer(4096);
    const m = await open(sdxi({ createFunction: aliasingFunction(other, memory) }));
    const a = m.wrap(memory);
    const alias = m.wrap(other); // bound as `memory` inside the function (a test double)
    const out = m.wrap(new Uint8Array(4096));
    new Uint8Array(memory).fill(7, 0, 64);
    const batch = m.batch();
    batch.copy(out, a, { length: 64 });
    batch.copy(alias, a, { srcOffset: 0, dstOffset: 32, length: 64 });
    batch.copy(out, a, { srcOffset: 0, dstOffset: 100, length: 64 });
    const err = await batch.submit().catch((e: unknown) => e as { code: string; result: { status(i: number): string; error(i: number): { code: string } | undefined } });
    expect(err).toMatchObject({ code: 'BATCH_FAILED' });
    const result = (err as { result: { status(i: number): string; error(i: number): { code: string } | undefined } }).result;
    expect([result.status(0), result.status(1), result.status(2)]).toEqual(['done', 'failed', 'done']);
    expect(result.error(1)?.code).toBe('OVERLAPPING_RANGES');
    expect(out.bytes()[163]).toBe(7);
    expect(m.stats().backends[0]!.engine).toMatchObject({ faults: 1, contextRestarts: 1 });
    await m.copy(out, a, { length: 64 }); // and the Mover carries on
  });

  it('allocates page-aligned host memory for Mover.alloc', async () => {
    const m = await open(sdxi());
    const r = m.alloc(8192, { alignment: 4096 });
    r.bytes().fill(1);
    const c = m.alloc(8192);
    await m.copy(c, r);
    expect(c.bytes().every((v) => v === 1)).toBe(true);
  });
});
