/**
 * The gds engine end to end on a CPU stand-in for libcufile / libcudart / libcuda
 * (test/mock/mock-cuda.cc): the ring, the region table, the cuFile parameter mapping, the batch
 * API, the bounce path, short reads, error mapping and the per-transfer path record all run for
 * real here; only the libraries underneath are the mock. What the mock cannot show — NVIDIA's
 * libraries' own behaviour, GPUDirect DMA, throughput — is what test/gpu.test.ts covers on a GPU.
 */
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, Mover, TransferError, type Region } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allocateDeviceBuffer, type GdsBackend, type GdsOptions } from '../src/index.js';
import { buildMock, fakeNvidiaFs, mockGds, mockOptions, pattern, tempDir, withEnv } from './helpers.js';

const mock = buildMock();
if ('skip' in mock) console.log(`[gds] engine tests on the CPU mock skipped: ${mock.skip}`);
const lib = 'path' in mock ? mock.path : '';

const MiB = 1024 * 1024;

describe.skipIf('skip' in mock)('gds engine on the CPU mock', () => {
  // Only where the suite runs: hooks of a skipped describe never run, so nothing would clean up.
  const dir = 'path' in mock ? tempDir() : '';
  const nvfs = 'path' in mock ? fakeNvidiaFs() : '';
  let backend: GdsBackend;
  let mover: Mover;
  let serial = 0;

  /** `nvidiaFs` null: no nvidia-fs (compatibility mode). */
  const open = async (extra: GdsOptions = {}, nvidiaFs: string | null = nvfs) => {
    backend = mockGds(lib, nvidiaFs ?? undefined, extra);
    mover = await Mover.open({ backends: [backend, soft()] });
    return mover;
  };
  const file = (data: Uint8Array) => {
    const path = join(dir, `f${serial++}.bin`);
    writeFileSync(path, data);
    return path;
  };
  const gpuWith = async (data: Uint8Array): Promise<Region> => {
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, mover.wrap(data));
    return g;
  };
  const readGpu = async (g: Region, length = g.length): Promise<Uint8Array> => {
    const h = mover.wrap(new Uint8Array(length));
    await mover.copy(h, g, { length });
    return h.bytes();
  };
  const last = () => backend.transfers().at(-1)!;

  beforeEach(async () => {
    await open();
  });
  afterEach(async () => {
    await mover.close();
  });

  it('file → gpu → host round trip through cuFileRead, content checked, path recorded per transfer', async () => {
    const data = pattern(4 * MiB, 3);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, f);
    expect(last()).toMatchObject({ op: 'copy', src: 'file', dst: 'gpu', path: 'direct', reason: 'none', batched: false, status: 0, bytes: 4 * MiB });
    const host = mover.alloc(data.length);
    await mover.copy(host, g);
    expect(last()).toMatchObject({ src: 'gpu', dst: 'host', path: 'cuda' });
    expect(Buffer.compare(host.bytes(), data)).toBe(0);
    const s = mover.stats().backends.find((b) => b.name === 'gds')!.engine;
    expect(s).toMatchObject({ cufilePath: 'direct', 'transfers.direct': 1, 'transfers.cuda': 1, cufileHandles: 1, bufRegistered: 1 });
  });

  it('gpu → file through cuFileWrite', async () => {
    const data = pattern(2 * MiB, 5);
    const g = await gpuWith(data);
    const path = join(dir, 'out.bin');
    const out = await mover.openFile(path, { mode: 'rw', create: true, truncate: true, length: data.length });
    await mover.copy(out, g);
    expect(last()).toMatchObject({ src: 'gpu', dst: 'file', path: 'direct' });
    expect(Buffer.compare(readFileSync(path), data)).toBe(0);
  });

  it('without nvidia-fs the same transfers are recorded as compatibility mode', async () => {
    await mover.close();
    await open({}, null);
    const data = pattern(64 * 1024, 9);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, await mover.openFile(file(data)));
    expect(last()).toMatchObject({ path: 'compat', reason: 'none' });
    expect(mover.stats().backends[0]!.engine).toMatchObject({ cufilePath: 'compat', 'transfers.compat': 1 });
    expect(await readGpu(g)).toEqual(data);
  });

  it('large transfers are split across the I/O pool and still land whole', async () => {
    await mover.close();
    await open({ chunkBytes: 1 * MiB, ioThreads: 3 });
    const data = pattern(8 * MiB + 4096, 11);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, await mover.openFile(file(data)));
    expect(mover.stats().backends[0]!.engine['chunks']).toBe(9);
    expect(Buffer.compare(await readGpu(g), data)).toBe(0);
  });

  it('runs of file ↔ gpu copies go to the cuFile batch API, completions matched by cookie', async () => {
    const n = 40;
    const data = pattern(n * 65536, 13);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    const b = mover.batch();
    // Reversed order: entry i reads chunk n-1-i, so a cookie mix-up would misplace data.
    for (let i = 0; i < n; i++) b.copy(g, f, { srcOffset: (n - 1 - i) * 65536, dstOffset: (n - 1 - i) * 65536, length: 65536 });
    await b.submit();
    const s = mover.stats().backends[0]!.engine;
    expect(s['batches']).toBeGreaterThanOrEqual(1);
    expect(s['batchEntries']).toBeGreaterThanOrEqual(2);
    expect(backend.transfers().filter((t) => t.batched).length).toBe(s['batchEntries']);
    // The ring consumer counts batched descriptors one by one, as ordinary ones.
    expect(s['executed']).toBe(n);
    expect(s['execNs']).toBeGreaterThan(0);
    expect(Buffer.compare(await readGpu(g), data)).toBe(0);
  });

  it('a batch never holds two entries touching the same bytes; a fence splits batches', async () => {
    const data = pattern(4 * 65536, 17);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(65536, { kind: 'gpu' });
    const out = mover.alloc(65536, { kind: 'gpu' });
    // Four reads into the same GPU range: ring order decides, so the last must win.
    const b = mover.batch();
    for (let i = 0; i < 4; i++) b.copy(g, f, { srcOffset: i * 65536, length: 65536 });
    b.copy(out, g, { fence: true });
    await b.submit();
    expect(backend.transfers().filter((t) => t.batched)).toEqual([]);
    expect(Buffer.compare(await readGpu(out), data.subarray(3 * 65536))).toBe(0);
  });

  it('a batch entry that fails in the batch is finished with cuFileRead and recorded as such', async () => {
    const data = pattern(8 * 65536, 19);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await withEnv({ MOCK_CUFILE_BATCH_FAIL: '1' }, async () => {
      const b = mover.batch();
      for (let i = 0; i < 8; i++) b.copy(g, f, { srcOffset: i * 65536, dstOffset: i * 65536, length: 65536 });
      await b.submit();
    });
    expect(mover.stats().backends[0]!.engine['batchRetries']).toBeGreaterThanOrEqual(1);
    expect(backend.transfers().some((t) => t.reason === 'batch-entry-failed' && !t.batched && t.status === 0)).toBe(true);
    expect(Buffer.compare(await readGpu(g), data)).toBe(0);
  });

  it('the batch API can be turned off', async () => {
    await mover.close();
    await open({ batch: false });
    const data = pattern(8 * 65536, 23);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    const b = mover.batch();
    for (let i = 0; i < 8; i++) b.copy(g, f, { srcOffset: i * 65536, dstOffset: i * 65536, length: 65536 });
    await b.submit();
    expect(mover.stats().backends[0]!.engine).toMatchObject({ batch: 'off', batches: 0, 'transfers.direct': 8 });
  });

  it('unaligned offsets and lengths are handled through pinned staging, and say which rule they broke', async () => {
    const data = pattern(300_000, 29);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, f, { srcOffset: 1, dstOffset: 4096, length: 100_000 });
    expect(last()).toMatchObject({ path: 'bounce', reason: 'unaligned-file-offset' });
    await mover.copy(g, f, { srcOffset: 4096, dstOffset: 0, length: 5000 });
    expect(last()).toMatchObject({ path: 'bounce', reason: 'unaligned-length' });
    await mover.copy(g, f, { srcOffset: 8192, dstOffset: 100, length: 8192 });
    expect(last()).toMatchObject({ path: 'bounce', reason: 'unaligned-gpu-address' });
    const got = await readGpu(g);
    expect(Buffer.compare(got.subarray(100, 100 + 8192), data.subarray(8192, 16384))).toBe(0);
    expect(mover.stats().backends[0]!.engine).toMatchObject({ 'fallback.unaligned-file-offset': 1, 'fallback.unaligned-length': 1, 'fallback.unaligned-gpu-address': 1, unaligned: 3 });
  });

  it('unaligned transfers may be handed to cuFile instead (unaligned: "cufile")', async () => {
    await mover.close();
    await open({ unaligned: 'cufile' });
    const data = pattern(100_000, 31);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, await mover.openFile(file(data)));
    expect(last()).toMatchObject({ path: 'direct', reason: 'unaligned-length' });
    expect(await readGpu(g)).toEqual(data);
  });

  it('files opened without O_DIRECT never reach cuFile: the bounce path, with the reason', async () => {
    const data = pattern(64 * 1024, 37);
    const f = await mover.openFile(file(data), { direct: 'never' });
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, f);
    expect(last()).toMatchObject({ path: 'bounce', reason: 'no-odirect-descriptor' });
    expect(await readGpu(g)).toEqual(data);
    const s = mover.stats().backends[0]!.engine;
    expect(s['cufileRefused']).toBe(1);
    expect(String(s['lastCufileRefusal'])).toContain('no-odirect-descriptor');
  });

  it('cuFileHandleRegister refusing a file: the bounce path, with cuFile’s error in the stats', async () => {
    const data = pattern(64 * 1024, 41);
    const path = file(data);
    await withEnv({ MOCK_CUFILE_HANDLE_FAIL: '5008' }, async () => {
      const f = await mover.openFile(path);
      const g = mover.alloc(data.length, { kind: 'gpu' });
      await mover.copy(g, f);
      expect(last()).toMatchObject({ path: 'bounce', reason: 'cufile-handle-refused' });
      expect(await readGpu(g)).toEqual(data);
    });
    expect(String(mover.stats().backends[0]!.engine['lastCufileRefusal'])).toContain('CU_FILE_IO_NOT_SUPPORTED (5008)');
  });

  it('short reads are not success: a file shrinking under its region fails with IO_ERROR and bytesDone', async () => {
    const data = pattern(256 * 1024, 43);
    const path = file(data);
    const f = await mover.openFile(path);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    truncateSync(path, 100 * 1024); // behind the Mover's back
    const err = await mover.copy(g, f).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransferError);
    expect(err).toMatchObject({ code: ErrorCode.IO_ERROR, detail: { backend: 'gds', bytesDone: 100 * 1024 } });
    expect(last()).toMatchObject({ status: 6 });
  });

  it('short counts from cuFile are continued, not reported as success or failure', async () => {
    const data = pattern(256 * 1024, 47);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await withEnv({ MOCK_CUFILE_IO_SHORT: '12288' }, async () => {
      await mover.copy(g, f);
    });
    expect(last()).toMatchObject({ path: 'direct', status: 0, bytes: 256 * 1024 });
    expect(Buffer.compare(await readGpu(g), data)).toBe(0);
  });

  it('cuFile errors become typed errors with cuFile’s code, name and the library’s text', async () => {
    const data = pattern(64 * 1024, 53);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await withEnv({ MOCK_CUFILE_IO_FAIL: '5044' }, async () => {
      await expect(mover.copy(g, f)).rejects.toMatchObject({
        code: ErrorCode.IO_ERROR,
        message: expect.stringContaining('cufile error CU_FILE_IO_ERROR (5044): mock cufile io error'),
        detail: { backend: 'gds', status: 64, library: 'cufile', code: 5044, name: 'CU_FILE_IO_ERROR', text: 'mock cufile io error' },
      });
    });
    await withEnv({ MOCK_CUFILE_IO_FAIL: '1' }, async () => {
      await expect(mover.copy(g, f)).rejects.toMatchObject({ code: ErrorCode.IO_ERROR, detail: { errno: 5 } });
    });
    await withEnv({ MOCK_CUFILE_IO_FAIL: '5012' }, async () => {
      await expect(mover.copy(g, f)).rejects.toMatchObject({ code: ErrorCode.DEVICE_ERROR, detail: { library: 'cufile', name: 'CU_FILE_CUDA_POINTER_INVALID' } });
    });
    // The Mover carries on afterwards.
    await mover.copy(g, f);
    expect(await readGpu(g)).toEqual(data);
  });

  it('one failing descriptor fails only itself in a batch (BATCH_FAILED, cause = its cuFile error)', async () => {
    const data = pattern(64 * 1024, 59);
    const f = await mover.openFile(file(data));
    const g = mover.alloc(data.length, { kind: 'gpu' });
    const h = mover.wrap(new Uint8Array(8));
    await withEnv({ MOCK_CUFILE_IO_FAIL: '5044' }, async () => {
      const err = await mover.batch().copy(g, f).writeImmediate(h, 7n).submit().then(
        () => undefined,
        (e: { code: string; cause: unknown; result: { status(i: number): string } }) => e,
      );
      expect(err).toMatchObject({ code: ErrorCode.BATCH_FAILED, cause: { code: ErrorCode.IO_ERROR, detail: { code: 5044 } } });
      expect(err!.result.status(0)).toBe('failed');
      expect(err!.result.status(1)).toBe('done');
    });
  });

  it('cudaMalloc failing is OUT_OF_MEMORY with the runtime’s name and text', async () => {
    await withEnv({ MOCK_CUDA_MALLOC_FAIL: '1' }, () => {
      expect(() => mover.alloc(4096, { kind: 'gpu' })).toThrow(
        expect.objectContaining({ code: ErrorCode.OUT_OF_MEMORY, detail: expect.objectContaining({ library: 'cudart', code: 2, name: 'cudaErrorMemoryAllocation', text: 'out of memory (mock)' }) }),
      );
    });
  });

  it('devices that do not exist are refused by the runtime', () => {
    expect(() => mover.alloc(4096, { kind: 'gpu', device: 3 })).toThrow(expect.objectContaining({ code: ErrorCode.DEVICE_ERROR, detail: expect.objectContaining({ library: 'cudart', code: 101 }) }));
  });

  it("gds's own memory options are checked by its provider, unknown ones refused by core", () => {
    expect(() => mover.alloc(4096, { kind: 'gpu', device: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining('CUDA device ordinal') }));
    expect(() => mover.alloc(4096, { kind: 'gpu', devcie: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining("unknown option 'devcie'") }));
    expect(() => mover.wrap(5, { kind: 'gpu', size: 4096 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining('64-bit bigint') }));
    expect(() => mover.wrap(0x1000n, { kind: 'gpu', size: 4096, alignment: 4096 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => mover.wrap(0x1000n, { kind: 'gpu', size: 1.5 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_SIZE }));
  });

  it('host ↔ gpu, gpu ↔ gpu, fills and write-immediates', async () => {
    const data = pattern(1 * MiB, 61);
    const a = await gpuWith(data);
    const b = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(b, a);
    expect(last()).toMatchObject({ src: 'gpu', dst: 'gpu', path: 'cuda' });
    expect(Buffer.compare(await readGpu(b), data)).toBe(0);
    await mover.fill(b, 0xab, { offset: 10, length: 100 });
    await mover.fill(b, 0x0807060504030201n, { patternBytes: 8, offset: 200, length: 20 });
    await mover.writeImmediate(b, 0xdeadbeefn, { offset: 301, width: 4 });
    const got = await readGpu(b, 400);
    expect(got.subarray(10, 110).every((x) => x === 0xab)).toBe(true);
    expect([...got.subarray(200, 220)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4]);
    expect([...got.subarray(301, 305)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(got[9]).toBe(data[9]);
    expect(got[110]).toBe(data[110]);
  });

  it('overlapping gpu ranges are refused: by the Mover within one region, by the engine across imports', async () => {
    const g = mover.alloc(8192, { kind: 'gpu' });
    await expect(mover.copy(g, g, { srcOffset: 0, dstOffset: 100, length: 1000 })).rejects.toMatchObject({ code: ErrorCode.OVERLAPPING_RANGES });
    const buf = allocateDeviceBuffer(8192, mockOptions(lib, nvfs));
    try {
      const x = mover.wrap(buf.pointer, { kind: 'gpu', size: 8192 });
      const y = mover.wrap(buf.pointer + 100n, { kind: 'gpu', size: 4096 });
      await expect(mover.copy(y, x, { length: 1000 })).rejects.toMatchObject({ code: ErrorCode.OVERLAPPING_RANGES, detail: { backend: 'gds' } });
      await x.release();
      await y.release();
    } finally {
      buf.free();
    }
  });

  it('wrapping a framework’s pointer: validated against the driver, then usable; bad ones refused', async () => {
    const buf = allocateDeviceBuffer(1 * MiB, mockOptions(lib, nvfs));
    try {
      buf.write(pattern(4096, 67), 4096);
      const r = mover.wrap(buf.pointer + 4096n, { kind: 'gpu', size: 4096 });
      expect(r.kind).toBe('gpu');
      expect(r.space).toMatchObject({ kind: 'gpu', name: 'cuda:0', deviceId: 0, alignment: 4096, cpuAccessible: false });
      expect(await readGpu(r)).toEqual(pattern(4096, 67));
      await r.release();
      expect(() => mover.wrap(buf.pointer + BigInt(MiB / 2), { kind: 'gpu', size: MiB })).toThrow(expect.objectContaining({ code: ErrorCode.OUT_OF_BOUNDS }));
      expect(() => mover.wrap(buf.pointer, { kind: 'gpu', size: 4096, device: 1 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining('belongs to device 0, not 1') }));
      // Not CUDA memory at all: the driver says so (CUDA_ERROR_INVALID_VALUE from cuPointerGetAttribute).
      expect(() => mover.wrap(0x1000n, { kind: 'gpu', size: 4096 })).toThrow(expect.objectContaining({ code: ErrorCode.DEVICE_ERROR, detail: expect.objectContaining({ library: 'cuda', code: 1 }) }));
      // Read-only wraps refuse writes.
      const ro = mover.wrap(buf.pointer, { kind: 'gpu', size: 4096, readOnly: true });
      await expect(mover.fill(ro, 1)).rejects.toMatchObject({ code: ErrorCode.ACCESS_DENIED });
    } finally {
      buf.free();
    }
  });

  it('a wrapped import of our own allocation keeps it alive after the owner frees it', async () => {
    const buf = allocateDeviceBuffer(65536, mockOptions(lib, nvfs));
    buf.write(pattern(65536, 71));
    const r = mover.wrap(buf.pointer, { kind: 'gpu', size: 65536 });
    buf.free();
    expect(await readGpu(r)).toEqual(pattern(65536, 71));
  });

  it('region release frees device memory; released and moved handles are refused', async () => {
    const g = mover.alloc(4096, { kind: 'gpu' });
    const moved = g.move();
    expect(() => mover.batch().fill(g, 1)).toThrow(expect.objectContaining({ code: ErrorCode.USE_AFTER_MOVE }));
    await mover.fill(moved, 2);
    await moved.release();
    expect(() => mover.batch().fill(moved, 1)).toThrow(expect.objectContaining({ code: ErrorCode.REGION_RELEASED }));
    expect(() => moved.bytes()).toThrow();
    const g2 = mover.alloc(4096, { kind: 'gpu' });
    expect(() => g2.bytes()).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
  });

  it('cuFileBufRegister: within the pinned budget by default; failures and "never" recorded, I/O still right', async () => {
    await withEnv({ MOCK_CUFILE_BUFREG_FAIL: '5011' }, async () => {
      const data = pattern(64 * 1024, 73);
      const g = mover.alloc(data.length, { kind: 'gpu' });
      await mover.copy(g, await mover.openFile(file(data)));
      expect(await readGpu(g)).toEqual(data);
    });
    const s = mover.stats().backends[0]!.engine;
    expect(s['bufRegisterFailed']).toBe(1);
    expect(String(s['lastBufRegisterProblem'])).toContain('CU_FILE_CUDA_DRIVER_ERROR (5011)');
    await mover.close();
    await open({ bufRegister: 'never' });
    const data = pattern(64 * 1024, 79);
    const g = mover.alloc(data.length, { kind: 'gpu' });
    await mover.copy(g, await mover.openFile(file(data)));
    expect(await readGpu(g)).toEqual(data);
    expect(mover.stats().backends[0]!.engine).toMatchObject({ bufRegistered: 0, bufRegisterSkipped: 1 });
  });

  it('Mover.alloc gives page-locked memory from cudaMallocHost while gds is open', async () => {
    const h = mover.alloc(10_000, { alignment: 8192 });
    expect(h.bytes().byteLength).toBe(10_000);
    expect(h.bytes().every((b) => b === 0)).toBe(true);
  });

  it('many small descriptors through a small ring', async () => {
    await mover.close();
    await open({ ringEntries: 16 });
    const g = mover.alloc(4096 * 64, { kind: 'gpu' });
    const src = pattern(4096 * 64, 83);
    const h = mover.wrap(src);
    const b = mover.batch();
    for (let i = 0; i < 64; i++) b.copy(g, h, { srcOffset: i * 4096, dstOffset: i * 4096, length: 4096 });
    await b.submit();
    expect(Buffer.compare(await readGpu(g), src)).toBe(0);
  });
});
