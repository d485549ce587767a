/**
 * What probe() says: turns what the addon found (libraries, symbols, devices, cuFile's driver) and
 * whether nvidia-fs is loaded into "available" or "unavailable because …", naming everything that
 * is missing. Pure apart from detectNvidiaFs (which reads /proc and /sys).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ProbeResult } from '@datamover/core';
import { resolveBatchLimits, type BatchLimits } from './batching.js';
import { describeCode } from './errors.js';
import type { NativeLibraryError, NativeLibraryInfo, NativeProbe } from './native.js';

/** Where the nvidia-fs kernel module shows itself (cuFile's direct path needs it, or PCIe P2PDMA). */
export const NVIDIA_FS_PATHS = ['/proc/driver/nvidia-fs', '/sys/module/nvidia_fs'] as const;

export interface NvidiaFsInfo {
  readonly present: boolean;
  /** The path that showed it. */
  readonly path?: string;
  /** The module's version, where it says. */
  readonly version?: string;
  /** Every path looked at. */
  readonly checked: readonly string[];
}

export function detectNvidiaFs(paths: readonly string[] = NVIDIA_FS_PATHS): NvidiaFsInfo {
  for (const p of paths) {
    if (!existsSync(p)) continue;
    let version: string | undefined;
    for (const v of [`${p}/version`]) {
      try {
        version = readFileSync(v, 'utf8').split('\n')[0]?.trim() || undefined;
        if (version) break;
      } catch {
        // no version file here
      }
    }
    return { present: true, path: p, ...(version ? { version } : {}), checked: [...paths] };
  }
  return { present: false, checked: [...paths] };
}

/** What cuFile I/O is, here: direct (GPUDirect DMA) or compatibility mode (POSIX I/O + copies). */
export interface CufileMode {
  readonly mode: 'direct' | 'compat';
  readonly why: string;
}

export function cufileMode(probe: NativeProbe, nvfs: NvidiaFsInfo): CufileMode {
  const params = probe.cufile?.params ?? {};
  if (params.forceCompatMode === true) return { mode: 'compat', why: 'force_compat_mode is set (cufile.json / CUFILE_ENV_PATH_JSON)' };
  if (nvfs.present) return { mode: 'direct', why: `nvidia-fs is loaded (${nvfs.path}${nvfs.version ? `, version ${nvfs.version}` : ''})` };
  if (params.usePciP2pDma === true) return { mode: 'direct', why: 'PCIe P2PDMA is enabled (use_pci_p2pdma) without nvidia-fs' };
  return { mode: 'compat', why: `nvidia-fs absent (${nvfs.checked.join(', ')} not found): cuFile runs in compatibility mode (POSIX I/O through host memory)` };
}

function dlopenFailures(lib: NativeLibraryInfo): string {
  return lib.attempts.map((a) => a.error).join('; ');
}

function libError(e: NativeLibraryError): string {
  const d = describeCode(e.library, e.code, () => ({ ...(e.nativeName ? { name: e.nativeName } : {}), ...(e.nativeText ? { text: e.nativeText } : {}) }));
  const inner = e.cuErr ? ` [${describeCode('cuda', e.cuErr).name} (${e.cuErr})]` : '';
  return `${d.name} (${e.code}): ${d.text}${inner}`;
}

/** Details of a gds probe (what `datamover info` shows). */
export type GdsProbeDetails = {
  readonly engine?: 'native';
  readonly mode?: 'direct' | 'compat';
  readonly modeReason?: string;
  readonly libcufile?: string;
  readonly libcudart?: string;
  readonly libcuda?: string;
  readonly cufileVersion?: number;
  readonly cudaRuntimeVersion?: number;
  readonly cudaDriverVersion?: number;
  readonly devices?: number;
  readonly nvidiaFs: string;
  readonly batch?: BatchLimits & { readonly api: boolean };
  readonly missingOptional?: readonly string[];
};

/**
 * The probe's answer. Unavailable when the addon, libcufile or the CUDA runtime cannot load, a
 * required symbol is missing, there is no CUDA driver or no GPU, or cuFileDriverOpen fails; the
 * reason names each problem. nvidia-fs being absent is not a problem (cuFile then runs in
 * compatibility mode, which the details and every transfer record say), but it is named too.
 */
export function summarizeProbe(input: { addon: { error: string } | { probe: NativeProbe }; nvidiaFs: NvidiaFsInfo }): ProbeResult & { details: GdsProbeDetails } {
  const nvfsText = input.nvidiaFs.present
    ? `loaded (${input.nvidiaFs.path}${input.nvidiaFs.version ? `, version ${input.nvidiaFs.version}` : ''})`
    : `absent (${input.nvidiaFs.checked.join(', ')} not found)`;
  const nvfsNote = input.nvidiaFs.present ? undefined : `nvidia-fs absent (${input.nvidiaFs.checked.join(', ')} not found): cuFile would run in compatibility mode`;
  if ('error' in input.addon) {
    return { available: false, reason: [input.addon.error, nvfsNote].filter(Boolean).join('; '), details: { nvidiaFs: nvfsText } };
  }
  const p = input.addon.probe;
  const problems: string[] = [];
  const { cufile, cudart, cuda } = p.libraries;

  if (!cufile.loaded) problems.push(`libcufile not found (dlopen: ${dlopenFailures(cufile)})`);
  else if (cufile.missing.length > 0) problems.push(`libcufile at ${cufile.path ?? cufile.name} lacks ${cufile.missing.join(', ')}`);

  if (!cudart.loaded) problems.push(`CUDA runtime not found (dlopen: ${dlopenFailures(cudart)})`);
  else if (cudart.missing.length > 0) problems.push(`CUDA runtime at ${cudart.path ?? cudart.name} lacks ${cudart.missing.join(', ')}`);

  const devErr = p.devices?.error;
  const driverMissing = !cuda.loaded || (devErr !== undefined && (devErr.code === 35 || devErr.code === 34));
  if (driverMissing) {
    const parts: string[] = [];
    if (!cuda.loaded) parts.push(`dlopen: ${dlopenFailures(cuda)}`);
    if (devErr) parts.push(`cudaGetDeviceCount: ${libError(devErr)}`);
    problems.push(`no CUDA driver (${parts.join('; ')})`);
  } else if (devErr !== undefined) {
    problems.push(devErr.code === 100 ? `no GPU (cudaGetDeviceCount: ${libError(devErr)})` : `CUDA unusable (cudaGetDeviceCount: ${libError(devErr)})`);
  } else if (p.devices !== undefined && p.devices.count === 0) {
    problems.push('no GPU (cudaGetDeviceCount found 0 devices)');
  }

  if (p.cufile?.opened === false && p.cufile.error) problems.push(`cuFileDriverOpen failed: ${libError(p.cufile.error)}`);

  const mode = cufileMode(p, input.nvidiaFs);
  const driverVersion = p.cudaDriverVersion ?? (p.driverVersion || undefined);
  const params = p.cufile?.params;
  const props = p.cufile?.props;
  const details: GdsProbeDetails = {
    ...(problems.length === 0 ? { engine: 'native' as const } : {}),
    ...(problems.length === 0 ? { mode: mode.mode, modeReason: mode.why } : {}),
    ...(cufile.loaded ? { libcufile: cufile.path ?? cufile.name ?? '' } : {}),
    ...(cudart.loaded ? { libcudart: cudart.path ?? cudart.name ?? '' } : {}),
    ...(cuda.loaded ? { libcuda: cuda.path ?? cuda.name ?? '' } : {}),
    ...(p.cufile?.version !== undefined ? { cufileVersion: p.cufile.version } : {}),
    ...(p.runtimeVersion !== undefined ? { cudaRuntimeVersion: p.runtimeVersion } : {}),
    ...(driverVersion !== undefined ? { cudaDriverVersion: driverVersion } : {}),
    ...(p.devices !== undefined ? { devices: p.devices.count } : {}),
    nvidiaFs: nvfsText,
    ...(problems.length === 0
      ? { batch: { api: p.batchApi, ...resolveBatchLimits({ ioBatchSize: params?.ioBatchSize, maxBatchIoSize: props?.maxBatchIoSize, perBufferCacheKiB: props?.perBufferCacheKiB }) } }
      : {}),
    ...(cufile.missingOptional.length > 0 ? { missingOptional: cufile.missingOptional } : {}),
  };
  if (problems.length > 0) {
    if (nvfsNote) problems.push(nvfsNote);
    return { available: false, reason: problems.join('; '), details };
  }
  return { available: true, details };
}
