/**
 * On a machine with a GPU, libcufile and the CUDA driver: the real thing. Device allocation,
 * file ↔ GPU round trips through cuFile with content checks, the batch API, the path each transfer
 * took (direct with nvidia-fs, compat without), host ↔ GPU and GPU ↔ GPU copies, and wrapping a
 * framework's device pointer. Everywhere else every test here is skipped, and the probe's reason is
 * printed. (The conformance suite's GPU target is in conformance.test.ts; throughput is measured
 * by bench/file-to-gpu.mjs, never by tests.)
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, Mover, type Region } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateDeviceBuffer, gds, type GdsBackend } from '../src/index.js';
import { pattern, tempDir } from './helpers.js';

const probe = await gds().probe();
const gpu = probe.available;
if (!gpu) console.log(`[gds] GPU tests skipped: ${probe.reason}`);
else console.log(`[gds] GPU tests on: ${JSON.stringify(probe.details)}`);

const MiB = 1024 * 1024;

describe.skipIf(!gpu)('gds on a GPU', () => {
  const dir = gpu ? tempDir() : '';
  let backend: GdsBackend;
  let mover: Mover;
  const mode = (probe.details as { mode?: 'direct' | 'compat' } | undefined)?.mode;

  beforeAll(async () => {
    backend = gds();
    mover = await Mover.open({ backends: [backend, soft()] });
  });
  afterAll(async () => {
    await mover?.close();
  });

  const readBack = async (g: Region, length = g.length) => {
    const h = mover.alloc(length);
    await mover.copy(h, g, { length });
    return h.bytes();
  };

  it('allocates device memory at the asked alignment, on device 0', () => {
    for (const alignment of [256, 4096, 65536, 2 * MiB]) {
      const b = allocateDeviceBuffer(MiB, { alignment });
      try {
        expect(b.pointer % BigInt(alignment)).toBe(0n);
      } finally {
        b.free();
      }
    }
    const r = mover.alloc(3 * MiB + 5, { kind: 'gpu', device: 0 });
    expect(r.space).toMatchObject({ kind: 'gpu', name: 'cuda:0', deviceId: 0 });
  });

  it.each([4 * MiB, 64 * MiB])('file → gpu → file round trip of %i bytes through cuFile, content checked', async (size) => {
    const data = pattern(size, size);
    const src = join(dir, `in-${size}.bin`);
    writeFileSync(src, data);
    const g = mover.alloc(size, { kind: 'gpu' });
    await mover.copy(g, await mover.openFile(src));
    const t = backend.transfers().at(-1)!;
    expect(t).toMatchObject({ src: 'file', dst: 'gpu', path: mode, reason: 'none', status: 0 });
    expect(Buffer.compare(await readBack(g), data)).toBe(0);
    const dst = join(dir, `out-${size}.bin`);
    await mover.copy(await mover.openFile(dst, { mode: 'rw', create: true, truncate: true, length: size }), g);
    expect(backend.transfers().at(-1)).toMatchObject({ src: 'gpu', dst: 'file', path: mode });
    expect(Buffer.compare(readFileSync(dst), data)).toBe(0);
  });

  it('unaligned file ↔ gpu transfers are right, through the bounce path', async () => {
    const data = pattern(3 * MiB + 123, 7);
    const src = join(dir, 'odd.bin');
    writeFileSync(src, data);
    const f = await mover.openFile(src);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, f, { srcOffset: 17, dstOffset: 1000, length: 2 * MiB });
    expect(backend.transfers().at(-1)).toMatchObject({ path: 'bounce', reason: 'unaligned-file-offset' });
    const got = await readBack(g);
    expect(Buffer.compare(got.subarray(1000, 1000 + 2 * MiB), data.subarray(17, 17 + 2 * MiB))).toBe(0);
  });

  it('many file → gpu copies use the cuFile batch API and land right', async () => {
    const n = 256;
    const data = pattern(n * 65536, 11);
    const src = join(dir, 'batch.bin');
    writeFileSync(src, data);
    const f = await mover.openFile(src);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    const before = Number(mover.stats().backends.find((b) => b.name === 'gds')!.engine['batches'] ?? 0);
    const b = mover.batch();
    for (let i = n - 1; i >= 0; i--) b.copy(g, f, { srcOffset: i * 65536, dstOffset: i * 65536, length: 65536 });
    await b.submit();
    const s = mover.stats().backends.find((x) => x.name === 'gds')!.engine;
    console.log(`[gds] batch stats: ${JSON.stringify(s)}`);
    expect(Number(s['batches'])).toBeGreaterThan(before);
    expect(Buffer.compare(await readBack(g), data)).toBe(0);
  });

  it('file → gpu → host as two descriptors in one batch (the fence orders them)', async () => {
    const data = pattern(8 * MiB, 13);
    const src = join(dir, 'route.bin');
    writeFileSync(src, data);
    const f = await mover.openFile(src);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    const h = mover.alloc(data.length);
    await mover.batch().copy(g, f).copy(h, g, { fence: true }).submit();
    expect(Buffer.compare(h.bytes(), data)).toBe(0);
    expect(mover.explain('copy', 'file', 'gpu').backend).toBe('gds');
    expect(mover.explain('copy', 'gpu', 'host').backend).toBe('gds');
  });

  it('host ↔ gpu, gpu ↔ gpu, fill and write-immediate', async () => {
    const data = pattern(MiB, 17);
    const a = mover.alloc(MiB, { kind: 'gpu' });
    await mover.copy(a, mover.wrap(data));
    const b = mover.alloc(MiB, { kind: 'gpu' });
    await mover.copy(b, a);
    await mover.fill(b, 0x0807060504030201n, { patternBytes: 8, offset: 8, length: 16 });
    await mover.writeImmediate(b, 0xabn, { offset: 3, width: 1 });
    const got = await readBack(b, 64);
    expect(got[3]).toBe(0xab);
    expect([...got.subarray(8, 24)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(got[30]).toBe(data[30]);
  });

  it('wraps a framework’s device pointer after validating it, and refuses a non-CUDA address', async () => {
    const framework = allocateDeviceBuffer(2 * MiB);
    try {
      framework.write(pattern(4096, 19), 8192);
      const r = mover.wrap(framework.pointer + 8192n, { kind: 'gpu', size: 4096 });
      expect(await readBack(r)).toEqual(pattern(4096, 19));
      await r.release();
      expect(() => mover.wrap(0x1000n, { kind: 'gpu', size: 4096 })).toThrow(expect.objectContaining({ code: ErrorCode.DEVICE_ERROR }));
      expect(() => mover.wrap(framework.pointer + BigInt(MiB), { kind: 'gpu', size: 2 * MiB })).toThrow(expect.objectContaining({ code: ErrorCode.OUT_OF_BOUNDS }));
    } finally {
      framework.free();
    }
  });

  it('records the path of every transfer and counts them', () => {
    const s = mover.stats().backends.find((b) => b.name === 'gds')!.engine;
    expect(s['cufilePath']).toBe(mode);
    expect(Number(s[`transfers.${mode}`])).toBeGreaterThan(0);
    for (const t of backend.transfers()) expect(['direct', 'compat', 'bounce', 'cuda']).toContain(t.path);
  });
});
