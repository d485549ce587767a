/**
 * @packageDocumentation
 * The gds backend: moves data between files and GPU memory with NVIDIA cuFile (GPUDirect Storage),
 * so that the GPU is the first and last thing that touches the bytes; copies host <-> GPU and
 * GPU <-> GPU with CUDA. libcufile and the CUDA runtime are loaded at run time (dlopen): the
 * package installs and imports on any machine, and probe() says exactly what is missing.
 * Importing this package makes gds a default backend of `Mover.open()` (skipped, with its reason,
 * where it cannot run).
 */
import { datamoverError, ErrorCode, packageInfo, registerDefaultBackend, type Backend, type Capabilities, type EngineSession, type ProbeResult, type Ring } from '@datamover/core';
import { resolveBatchLimits } from './batching.js';
import { librariesFromEnv, loadNative, type LibraryNames, type NativeProbe, type TransferRecord } from './native.js';
import { DEFAULT_PIN_HOST_MIN_BYTES, type BufRegisterPolicy } from './policy.js';
import { cufileMode, detectNvidiaFs, summarizeProbe } from './probe.js';
import { GDS_BACKEND, GdsEngineSession } from './session.js';

export { gpuSpace, isGpuMemory } from './gpu-memory.js';
export type { GpuMemory } from './gpu-memory.js';
export { alignDown, alignmentReason, alignUp, choosePath, chunkPlan, GDS_ALIGNMENT, isAligned, PATH_REASONS, REASON_TEXT, TRANSFER_PATHS } from './alignment.js';
export type { FileGpuTransfer, PathPolicy, PathReason, TransferPath } from './alignment.js';
export { conflicts, DEFAULT_BATCH_ENTRIES, DEFAULT_BATCH_ENTRY_BYTES, DEFAULT_BATCH_MIN, fitsBatchEntry, planBatches, resolveBatchLimits } from './batching.js';
export type { BatchCandidate, BatchInputs, BatchLimits } from './batching.js';
export * as cufileParams from './cufile-params.js';
export type { DriverProperties, FileGpuCopy, IoEvent, IoParams, ReadWriteArgs } from './cufile-params.js';
export { allocateDeviceBuffer } from './device-buffer.js';
export type { DeviceBuffer } from './device-buffer.js';
export {
  CUDA_DRIVER_ERRORS,
  CUDA_RUNTIME_ERRORS,
  CUFILE_OP_ERRORS,
  describeCode,
  describeCompletion,
  errorCodeFor,
  fromIoReturn,
  fromNative,
  GDS_STATUS,
  libraryError,
  libraryErrorDetail,
} from './errors.js';
export type { ErrorTable, GdsLibrary, LibraryErrorDetail, NativeText } from './errors.js';
export { addonPath, librariesFromEnv, loadNative } from './native.js';
export type { LibraryNames, NativeAddon, NativeEngine, NativeEngineOptions, NativeEngineStats, NativeGpuBuffer, NativeLibraryError, NativeLibraryInfo, NativeProbe, TransferRecord } from './native.js';
export { bufRegisterDecision, DEFAULT_PIN_HOST_MIN_BYTES, pinHostDecision } from './policy.js';
export type { BufRegisterInput, BufRegisterPolicy } from './policy.js';
export { cufileMode, detectNvidiaFs, NVIDIA_FS_PATHS, summarizeProbe } from './probe.js';
export type { CufileMode, GdsProbeDetails, NvidiaFsInfo } from './probe.js';
export { conformanceKinds, gpuKind } from './conformance-kinds.js';
export type { GpuFixtureOptions } from './conformance-kinds.js';

export interface GdsOptions {
  /** Library names to dlopen, in order; default: DATAMOVER_GDS_LIB* from the environment, else the built-in lists. */
  libraries?: LibraryNames;
  /** Where to look for the nvidia-fs module (default /proc/driver/nvidia-fs, /sys/module/nvidia_fs). */
  nvidiaFsPaths?: readonly string[];
  /** cuFile's batch API for runs of file <-> GPU copies (default on); limits default to cuFile's. */
  batch?: boolean | { maxEntries?: number; minEntries?: number };
  /** Unaligned file <-> GPU transfers: through our pinned staging ('bounce', default) or cuFile. */
  unaligned?: 'bounce' | 'cufile';
  /** Threads that split one large cuFile transfer into parallel chunks (default 4), and the chunk size (default 8 MiB). */
  ioThreads?: number;
  chunkBytes?: number;
  /** Pinned host staging for the bounce path and 8-byte fills (default 8 MiB). */
  bounceBytes?: number;
  /** cuFileBufRegister for GPU regions (default 'auto': within max_device_pinned_mem_size). */
  bufRegister?: BufRegisterPolicy;
  /** Page-lock registered host regions of at least pinHostMinBytes (default 'auto', 1 MiB). */
  pinHost?: 'auto' | 'never';
  pinHostMinBytes?: number;
  /** Mover.alloc() returns page-locked memory (cudaMallocHost) while this backend is open (default true). */
  pinnedAlloc?: boolean;
  /** Ring slots (a power of two, default 1024). */
  ringEntries?: number;
  /** Microseconds the engine spins for new work before it sleeps. */
  spinMicros?: number;
}

/** The gds backend, plus what it alone can tell. */
export interface GdsBackend extends Backend {
  /** The transfers of the sessions this backend opened (each keeps its last 1024), oldest first. */
  transfers(): TransferRecord[];
}

const VERSION = packageInfo(new URL('..', import.meta.url)).version;

/** What the engine implements; nothing else is claimed. */
export const GDS_CAPABILITIES: Capabilities = Object.freeze({
  operations: Object.freeze([
    { op: 'nop', src: null, dst: null },
    { op: 'copy', src: 'file', dst: 'gpu' },
    { op: 'copy', src: 'gpu', dst: 'file' },
    { op: 'copy', src: 'host', dst: 'gpu' },
    { op: 'copy', src: 'gpu', dst: 'host' },
    { op: 'copy', src: 'gpu', dst: 'gpu' },
    { op: 'fill', src: null, dst: 'gpu' },
    { op: 'writeImm', src: null, dst: 'gpu' },
  ] as const),
  maxDescriptorBytes: 2 ** 32,
  maxRegions: 1 << 16,
});

const MAX_SESSIONS_KEPT = 16;

/** Creates the gds backend. */
export function gds(options: GdsOptions = {}): GdsBackend {
  const libraries = options.libraries ?? librariesFromEnv();
  const sessions: GdsEngineSession[] = [];
  let last: { result: ProbeResult; raw: NativeProbe | undefined } | undefined;

  const probe = async (): Promise<ProbeResult> => {
    const nvidiaFs = detectNvidiaFs(options.nvidiaFsPaths);
    const n = loadNative();
    if ('error' in n) {
      last = { result: summarizeProbe({ addon: n, nvidiaFs }), raw: undefined };
      return last.result;
    }
    const raw = n.addon.probe(libraries, { openDriver: true });
    last = { result: summarizeProbe({ addon: { probe: raw }, nvidiaFs }), raw };
    return last.result;
  };

  return {
    name: GDS_BACKEND,
    version: VERSION,
    kind: 'hardware',
    ringEntries: options.ringEntries ?? 1024,
    probe,
    capabilities: () => GDS_CAPABILITIES,
    async open(ring: Ring, onProgress: () => void): Promise<EngineSession> {
      const n = loadNative();
      if (!last) await probe();
      if ('error' in n || !last!.result.available || !last!.raw) {
        throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `gds: ${last!.result.reason ?? ('error' in n ? n.error : 'unavailable')}`, { detail: { backend: GDS_BACKEND } });
      }
      const raw = last!.raw;
      const props = raw.cufile?.props;
      const batchOpt = typeof options.batch === 'object' ? options.batch : {};
      const session = new GdsEngineSession(n.addon, ring, onProgress, {
        libraries,
        cufilePath: cufileMode(raw, detectNvidiaFs(options.nvidiaFsPaths)).mode,
        unaligned: options.unaligned ?? 'bounce',
        batch: options.batch !== false && raw.batchApi,
        batchLimits: resolveBatchLimits({
          ioBatchSize: raw.cufile?.params?.ioBatchSize,
          maxBatchIoSize: props?.maxBatchIoSize,
          perBufferCacheKiB: props?.perBufferCacheKiB,
          requestedMax: batchOpt.maxEntries,
          requestedMin: batchOpt.minEntries,
        }),
        ioThreads: options.ioThreads ?? 4,
        chunkBytes: options.chunkBytes ?? 8 * 1024 * 1024,
        bounceBytes: options.bounceBytes ?? 8 * 1024 * 1024,
        spinMicros: options.spinMicros,
        bufRegister: options.bufRegister ?? 'auto',
        pinnedBudget: props?.maxDevicePinnedMemKiB ? props.maxDevicePinnedMemKiB * 1024 : undefined,
        pinHost: options.pinHost ?? 'auto',
        pinHostMinBytes: options.pinHostMinBytes ?? DEFAULT_PIN_HOST_MIN_BYTES,
        pinnedAlloc: options.pinnedAlloc ?? true,
      });
      sessions.push(session);
      if (sessions.length > MAX_SESSIONS_KEPT) sessions.shift();
      return session;
    },
    transfers: () => sessions.flatMap((s) => s.transfers()),
  };
}

registerDefaultBackend(GDS_BACKEND, () => gds());
