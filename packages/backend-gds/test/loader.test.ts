/**
 * The run-time loader and probe(): on this machine (no libcufile, no GPU) they must say exactly
 * what is missing; with synthetic loader results, every "unavailable because …" path.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gds } from '../src/index.js';
import { loadNative, librariesFromEnv, type NativeLibraryInfo, type NativeProbe } from '../src/native.js';
import { cufileMode, detectNvidiaFs, summarizeProbe, type NvidiaFsInfo } from '../src/probe.js';

const native = loadNative();
const addon = 'addon' in native ? native.addon : undefined;
if (!addon) console.log(`[gds] loader tests against the real libraries skipped: ${'error' in native ? native.error : ''}`);

describe.skipIf(!addon)('the loader on this machine', () => {
  it('loads without any CUDA library and reports each missing library with dlopen’s own error', () => {
    const p = addon!.probe({ cufile: ['libcufile-absent-for-test.so.0'], cudart: ['libcudart-absent-for-test.so'], cuda: ['libcuda-absent-for-test.so.1'] });
    expect(p.libraries.cufile).toMatchObject({ loaded: false, attempts: [{ name: 'libcufile-absent-for-test.so.0', error: expect.stringContaining('cannot open shared object file') }] });
    expect(p.libraries.cudart.loaded).toBe(false);
    expect(p.libraries.cuda.loaded).toBe(false);
    expect(p.devices).toBeUndefined();
    const r = summarizeProbe({ addon: { probe: p }, nvidiaFs: { present: false, checked: ['/proc/driver/nvidia-fs'] } });
    expect(r.available).toBe(false);
    expect(r.reason).toContain('libcufile not found (dlopen: libcufile-absent-for-test.so.0: cannot open shared object file');
    expect(r.reason).toContain('CUDA runtime not found (dlopen: libcudart-absent-for-test.so: cannot open shared object file');
    expect(r.reason).toContain('no CUDA driver (dlopen: libcuda-absent-for-test.so.1: cannot open shared object file');
    expect(r.reason).toContain('nvidia-fs absent (/proc/driver/nvidia-fs not found): cuFile would run in compatibility mode');
  });

  it('names the exact symbols a library lacks (libc standing in for libcufile)', () => {
    const p = addon!.probe({ cufile: ['libc.so.6'] }, { openDriver: false });
    expect(p.libraries.cufile.loaded).toBe(true);
    expect(p.libraries.cufile.missing).toEqual([
      'cuFileDriverOpen',
      'cuFileDriverClose',
      'cuFileDriverGetProperties',
      'cuFileHandleRegister',
      'cuFileHandleDeregister',
      'cuFileBufRegister',
      'cuFileBufDeregister',
      'cuFileRead',
      'cuFileWrite',
    ]);
    expect(p.libraries.cufile.missingOptional).toContain('cuFileBatchIOSetUp');
    expect(p.batchApi).toBe(false);
    const r = summarizeProbe({ addon: { probe: p }, nvidiaFs: { present: true, path: '/x', checked: ['/x'] } });
    expect(r.reason).toMatch(/^libcufile at \S*libc\.so\.6 lacks cuFileDriverOpen, cuFileDriverClose, /);
  });

  it('with the default library names: says what this machine lacks, naming each library', async () => {
    const r = await gds().probe();
    if (r.available) {
      console.log('[gds] this machine has a working cuFile setup; the unavailable-path assertions do not apply');
      return;
    }
    console.log(`[gds] probe() here: ${r.reason}`);
    const p = addon!.probe(librariesFromEnv(), { openDriver: false });
    if (!p.libraries.cufile.loaded) expect(r.reason).toMatch(/libcufile not found \(dlopen: libcufile\.so\.0: /);
    if (!p.libraries.cudart.loaded) expect(r.reason).toMatch(/CUDA runtime not found \(dlopen: libcudart\.so\.\d/);
    if (!p.libraries.cuda.loaded) expect(r.reason).toMatch(/no CUDA driver \(dlopen: libcuda\.so\.1: /);
    if (p.libraries.cudart.loaded) {
      // A CUDA runtime without a driver or GPU answers cudaGetDeviceCount with its own error.
      expect(p.libraries.cudart.missing).toEqual([]);
      expect(p.devices?.count).toBe(0);
      expect(p.devices?.error).toMatchObject({ library: 'cudart', nativeName: expect.stringMatching(/^cudaError/) });
      expect(r.reason).toContain(`cudaGetDeviceCount: ${p.devices!.error!.nativeName} (${p.devices!.error!.code})`);
    }
  });

  it('errorText answers from the loaded runtime itself', () => {
    const p = addon!.probe(undefined, { openDriver: false });
    if (!p.libraries.cudart.loaded) return;
    expect(addon!.errorText(undefined, 'cudart', 2)).toMatchObject({ library: 'cudart', code: 2, nativeName: 'cudaErrorMemoryAllocation' });
  });
});

describe('library names from the environment', () => {
  it('are colon-separated lists per library', () => {
    expect(librariesFromEnv({})).toEqual({});
    expect(librariesFromEnv({ DATAMOVER_GDS_LIBCUFILE: '/opt/a/libcufile.so.0:libcufile.so', DATAMOVER_GDS_LIBCUDA: 'libcuda.so.1' })).toEqual({
      cufile: ['/opt/a/libcufile.so.0', 'libcufile.so'],
      cuda: ['libcuda.so.1'],
    });
  });
});

describe('nvidia-fs detection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dm-gds-nvfs-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the module where it shows itself, with its version', () => {
    const proc = join(dir, 'nvidia-fs');
    mkdirSync(proc);
    writeFileSync(join(proc, 'version'), '2.17\n');
    expect(detectNvidiaFs([join(dir, 'absent'), proc])).toEqual({ present: true, path: proc, version: '2.17', checked: [join(dir, 'absent'), proc] });
  });

  it('absent: every path looked at is listed', () => {
    expect(detectNvidiaFs([join(dir, 'a'), join(dir, 'b')])).toEqual({ present: false, checked: [join(dir, 'a'), join(dir, 'b')] });
  });
});

const lib = (over: Partial<NativeLibraryInfo> = {}): NativeLibraryInfo => ({ loaded: true, name: 'x.so', path: '/usr/lib/x.so', attempts: [], missing: [], missingOptional: [], ...over });
const healthy: NativeProbe = {
  libraries: { cufile: lib({ path: '/usr/lib/libcufile.so.0' }), cudart: lib({ path: '/usr/lib/libcudart.so.12' }), cuda: lib({ path: '/usr/lib/libcuda.so.1' }) },
  batchApi: true,
  runtimeVersion: 12080,
  cudaDriverVersion: 12080,
  devices: { count: 1, list: [{ id: 0 }] },
  cufile: { version: 1150, opened: true, params: { ioBatchSize: 128 }, props: { perBufferCacheKiB: 1024, maxBatchIoSize: 128 } as never },
};
const nvfs: NvidiaFsInfo = { present: true, path: '/proc/driver/nvidia-fs', version: '2.17', checked: ['/proc/driver/nvidia-fs'] };
const noNvfs: NvidiaFsInfo = { present: false, checked: ['/proc/driver/nvidia-fs', '/sys/module/nvidia_fs'] };

describe('probe(): every "unavailable because …"', () => {
  it('available with nvidia-fs: direct mode, batch limits from cuFile', () => {
    const r = summarizeProbe({ addon: { probe: healthy }, nvidiaFs: nvfs });
    expect(r.available).toBe(true);
    expect(r.reason).toBeUndefined();
    expect(r.details).toMatchObject({ engine: 'native', mode: 'direct', devices: 1, cufileVersion: 1150, batch: { api: true, maxEntries: 128, maxEntryBytes: 1 << 20 } });
  });

  it('available without nvidia-fs: compatibility mode, and says why', () => {
    const r = summarizeProbe({ addon: { probe: healthy }, nvidiaFs: noNvfs });
    expect(r.available).toBe(true);
    expect(r.details).toMatchObject({ mode: 'compat', modeReason: expect.stringContaining('nvidia-fs absent (/proc/driver/nvidia-fs, /sys/module/nvidia_fs not found): cuFile runs in compatibility mode') });
  });

  it('force_compat_mode wins over nvidia-fs; P2PDMA counts as direct', () => {
    expect(cufileMode({ ...healthy, cufile: { ...healthy.cufile, params: { forceCompatMode: true } } }, nvfs)).toMatchObject({ mode: 'compat', why: expect.stringContaining('force_compat_mode') });
    expect(cufileMode({ ...healthy, cufile: { ...healthy.cufile, params: { usePciP2pDma: true } } }, noNvfs)).toMatchObject({ mode: 'direct', why: expect.stringContaining('P2PDMA') });
  });

  it('the addon not built', () => {
    const r = summarizeProbe({ addon: { error: 'native addon not built (x is missing)' }, nvidiaFs: noNvfs });
    expect(r).toMatchObject({ available: false, reason: expect.stringMatching(/^native addon not built \(x is missing\); nvidia-fs absent/) });
  });

  it('no libcufile', () => {
    const p = { ...healthy, libraries: { ...healthy.libraries, cufile: lib({ loaded: false, attempts: [{ name: 'libcufile.so.0', error: 'libcufile.so.0: cannot open shared object file: No such file or directory' }] }) } };
    expect(summarizeProbe({ addon: { probe: p }, nvidiaFs: nvfs }).reason).toBe('libcufile not found (dlopen: libcufile.so.0: cannot open shared object file: No such file or directory)');
  });

  it('no CUDA runtime, or one missing a symbol', () => {
    const gone = { ...healthy, devices: undefined, libraries: { ...healthy.libraries, cudart: lib({ loaded: false, attempts: [{ name: 'libcudart.so.12', error: 'nope' }] }) } };
    expect(summarizeProbe({ addon: { probe: gone as NativeProbe }, nvidiaFs: nvfs }).reason).toBe('CUDA runtime not found (dlopen: nope)');
    const old = { ...healthy, libraries: { ...healthy.libraries, cudart: lib({ missing: ['cudaMemcpyAsync'] }) } };
    expect(summarizeProbe({ addon: { probe: old }, nvidiaFs: nvfs }).reason).toBe('CUDA runtime at /usr/lib/x.so lacks cudaMemcpyAsync');
  });

  it('no driver: libcuda absent and the runtime saying cudaErrorInsufficientDriver', () => {
    const p: NativeProbe = {
      ...healthy,
      libraries: { ...healthy.libraries, cuda: lib({ loaded: false, attempts: [{ name: 'libcuda.so.1', error: 'libcuda.so.1: cannot open shared object file' }] }) },
      devices: { count: 0, list: [], error: { library: 'cudart', code: 35, nativeName: 'cudaErrorInsufficientDriver', nativeText: 'CUDA driver version is insufficient for CUDA runtime version' } },
    };
    expect(summarizeProbe({ addon: { probe: p }, nvidiaFs: nvfs }).reason).toBe(
      'no CUDA driver (dlopen: libcuda.so.1: cannot open shared object file; cudaGetDeviceCount: cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version)',
    );
  });

  it('no GPU: cudaErrorNoDevice, or zero devices', () => {
    const err: NativeProbe = { ...healthy, devices: { count: 0, list: [], error: { library: 'cudart', code: 100 } } };
    expect(summarizeProbe({ addon: { probe: err }, nvidiaFs: nvfs }).reason).toBe('no GPU (cudaGetDeviceCount: cudaErrorNoDevice (100): no CUDA-capable device is detected)');
    const zero: NativeProbe = { ...healthy, devices: { count: 0, list: [] } };
    expect(summarizeProbe({ addon: { probe: zero }, nvidiaFs: nvfs }).reason).toBe('no GPU (cudaGetDeviceCount found 0 devices)');
  });

  it('cuFileDriverOpen failing, with cuFile’s code and text', () => {
    const p: NativeProbe = { ...healthy, cufile: { opened: false, error: { library: 'cufile', code: 5001 } } };
    expect(summarizeProbe({ addon: { probe: p }, nvidiaFs: nvfs }).reason).toBe('cuFileDriverOpen failed: CU_FILE_DRIVER_NOT_INITIALIZED (5001): the nvidia-fs driver is not loaded');
  });

  it('several problems at once are all named, nvidia-fs last', () => {
    const p: NativeProbe = {
      ...healthy,
      libraries: { ...healthy.libraries, cufile: lib({ loaded: false, attempts: [{ name: 'libcufile.so.0', error: 'E1' }] }) },
      devices: { count: 0, list: [], error: { library: 'cudart', code: 100 } },
    };
    expect(summarizeProbe({ addon: { probe: p }, nvidiaFs: noNvfs }).reason).toBe(
      'libcufile not found (dlopen: E1); no GPU (cudaGetDeviceCount: cudaErrorNoDevice (100): no CUDA-capable device is detected); nvidia-fs absent (/proc/driver/nvidia-fs, /sys/module/nvidia_fs not found): cuFile would run in compatibility mode',
    );
  });
});
