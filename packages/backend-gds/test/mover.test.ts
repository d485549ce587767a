/**
 * The Mover with gds where gds cannot run: it is skipped with its reason recorded, never stops
 * Mover.open(), and GPU-only operations say why they cannot run.
 */
import { BACKEND_STATUS_BASE, defaultBackends, ErrorCode, Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { describe, expect, it } from 'vitest';
import { GDS_CAPABILITIES, gds } from '../src/index.js';
import { loadNative } from '../src/native.js';
import { buildMock, fakeNvidiaFs, mockGds, withEnv } from './helpers.js';

const unavailable = gds({ libraries: { cufile: ['libcufile-absent-for-test.so.0'] } });
/** Where the addon is built, the loader names the missing library; elsewhere, the missing addon. */
const native = loadNative();
const why = 'addon' in native ? 'libcufile not found (dlopen: libcufile-absent-for-test.so.0' : 'native addon not built';

describe('gds where it cannot run', () => {
  it('Mover.open([gds(), soft()]) opens soft and records why gds is not open', async () => {
    const mover = await Mover.open({ backends: [unavailable, soft()] });
    try {
      expect(mover.backends).toEqual(['soft']);
      const [u] = mover.stats().unavailable;
      expect(u).toMatchObject({ name: 'gds', kind: 'hardware', available: false, reason: expect.stringContaining(why) });
      // Host and file work carries on through soft.
      const a = mover.wrap(new Uint8Array([1, 2, 3]));
      const b = mover.wrap(new Uint8Array(3));
      await mover.copy(b, a);
      expect([...b.bytes()]).toEqual([1, 2, 3]);
    } finally {
      await mover.close();
    }
  });

  it('Mover.open([gds()]) alone refuses with gds’s reason', async () => {
    await expect(Mover.open({ backends: [unavailable] })).rejects.toMatchObject({ code: ErrorCode.BACKEND_UNAVAILABLE, message: expect.stringContaining(`gds: ${why}`) });
  });

  it('importing the package registers gds as a default backend that never blocks Mover.open()', async () => {
    expect(defaultBackends().map((b) => b.name)).toEqual(expect.arrayContaining(['gds', 'soft']));
    const probe = await gds().probe();
    const mover = await Mover.open();
    try {
      if (!probe.available) {
        expect(mover.backends).not.toContain('gds');
        expect(mover.stats().unavailable.find((r) => r.name === 'gds')?.reason).toBe(probe.reason);
      }
      expect(mover.backends).toContain('soft');
    } finally {
      await mover.close();
    }
  });

  it('GPU regions cannot be made without an open gds, and the error says why', async () => {
    const mover = await Mover.open({ backends: [unavailable, soft()] });
    try {
      expect(() => mover.alloc(4096, { kind: 'gpu' })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION, message: expect.stringContaining(`no open backend can allocate gpu memory (open: soft; unavailable: gds: ${why}`) }));
      expect(() => mover.wrap(0x7000_0000n, { kind: 'gpu', size: 4096 })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
      expect(() => mover.explain('copy', 'file', 'gpu')).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
      // Core's own arguments are refused before any backend is asked; gds's (device, the pointer) need gds open (the mock tests).
      expect(() => mover.alloc(-1, { kind: 'gpu' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_SIZE }));
      expect(() => mover.alloc(4096, { kind: 'gpu', alignment: 3000 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
      expect(() => mover.alloc(4096, { kind: 7 as never })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
      expect(() => mover.wrap(0x7000_0000n, { kind: 'gpu', size: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
    } finally {
      await mover.close();
    }
  });

  it('claims only what the engine implements', () => {
    const claims = GDS_CAPABILITIES.operations.map((o) => `${o.op}:${o.src ?? '-'}:${o.dst ?? '-'}`);
    expect(claims.sort()).toEqual(['copy:file:gpu', 'copy:gpu:file', 'copy:gpu:gpu', 'copy:gpu:host', 'copy:host:gpu', 'fill:-:gpu', 'nop:-:-', 'writeImm:-:gpu'].sort());
    expect(BACKEND_STATUS_BASE).toBe(64);
  });
});

const mock = buildMock();
if ('skip' in mock) console.log(`[gds] Mover routing tests on the CPU mock skipped: ${mock.skip}`);

describe.skipIf('skip' in mock)('routing with gds open (CPU mock of cuFile/CUDA)', () => {
  const lib = 'path' in mock ? mock.path : '';
  const nvfs = 'path' in mock ? fakeNvidiaFs() : '';

  it('file → gpu → host is two descriptors on gds; host ↔ file stays on soft; explain() says so', async () => {
    const mover = await Mover.open({ backends: [mockGds(lib, nvfs), soft()] });
    try {
      expect(mover.backends).toEqual(['gds', 'soft']);
      expect(mover.explain('copy', 'file', 'gpu')).toEqual({ backend: 'gds', fallbacks: [] });
      expect(mover.explain('copy', 'gpu', 'host')).toEqual({ backend: 'gds', fallbacks: [] });
      expect(mover.explain('copy', 'file', 'host')).toEqual({ backend: 'soft', fallbacks: [{ from: 'gds', reason: 'gds does not support copy file→host' }] });
      expect(() => mover.explain('crc32c', 'gpu', null)).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
    } finally {
      await mover.close();
    }
  });

  it('a batch mixing soft and gds work registers each region only with the backends that claim its kind', async () => {
    const mover = await Mover.open({ backends: [mockGds(lib, nvfs), soft()] });
    try {
      const gpu = mover.alloc(8192, { kind: 'gpu' });
      const host = mover.wrap(new Uint8Array(8192).fill(7));
      const host2 = mover.wrap(new Uint8Array(8192));
      // host -> gpu (gds), host -> host (soft): soft must never be handed the gpu region.
      await mover.batch().copy(gpu, host).copy(host2, host).copy(host2, gpu, { fence: true }).submit();
      expect(host2.bytes().every((b) => b === 7)).toBe(true);
    } finally {
      await mover.close();
    }
  });

  it('cuFileDriverOpen failing makes gds unavailable with cuFile’s own code', async () => {
    // A library list of its own: a probe that once opened the driver keeps it open for the process.
    const fresh = gds({ libraries: { cufile: ['/nonexistent/libcufile-for-open-failure.so', lib], cudart: [lib], cuda: [lib] }, nvidiaFsPaths: [nvfs] });
    await withEnv({ MOCK_CUFILE_OPEN_FAIL: '5001' }, async () => {
      const r = await fresh.probe();
      expect(r).toMatchObject({ available: false, reason: 'cuFileDriverOpen failed: CU_FILE_DRIVER_NOT_INITIALIZED (5001): mock cufile error' });
    });
  });
});
