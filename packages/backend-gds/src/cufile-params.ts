/**
 * How a descriptor becomes cuFile call parameters, and the C layouts of the cuFile structs the
 * engine fills. Pure; native/executor.cc builds the same values (Executor::cufileIo for
 * cuFileRead/cuFileWrite, Executor::runBatch for CUfileIOParams_t), and test/abi.test.ts checks
 * these layouts against the addon's offsetof() and an independent C-layout engine.
 *
 * Layouts (x86-64 / AArch64 LP64; cuFile API Reference §4.1.1):
 *   CUfileIOParams_t { CUfileBatchMode_t mode; union { struct { void *devPtr_base;
 *     off_t file_offset; off_t devPtr_offset; size_t size; } batch; } u; CUfileHandle_t fh;
 *     CUfileOpcode_t opcode; void *cookie; }
 *   CUfileIOEvents_t { void *cookie; CUfileStatus_t status; size_t ret; }
 *   CUfileDescr_t { CUfileFileHandleType type; union { int fd; void *handle; } handle;
 *     const CUfileFSOps_t *fs_ops; }
 *   CUfileError_t { CUfileOpError err; CUresult cu_err; }
 */

export const IO_PARAMS_LAYOUT = { size: 64, mode: 0, devPtrBase: 8, fileOffset: 16, devPtrOffset: 24, length: 32, fh: 40, opcode: 48, cookie: 56 } as const;
export const IO_EVENTS_LAYOUT = { size: 24, cookie: 0, status: 8, ret: 16 } as const;
export const DESCR_LAYOUT = { size: 24, type: 0, fd: 8, fsOps: 16 } as const;
export const ERROR_LAYOUT = { size: 8, err: 0, cuErr: 4 } as const;
export const DRV_PROPS_LAYOUT = {
  size: 56,
  majorVersion: 0,
  minorVersion: 4,
  pollThreshSize: 8,
  maxDirectIoSize: 16,
  dstatusflags: 24,
  dcontrolflags: 28,
  fflags: 32,
  maxDeviceCacheSize: 36,
  perBufferCacheSize: 40,
  maxDevicePinnedMemSize: 44,
  maxBatchIoSize: 48,
  maxBatchIoTimeoutMsecs: 52,
} as const;

/** CUfileOpcode_t, CUfileBatchMode_t, CUfileFileHandleType, CUFILEStatus_enum. */
export const CUFILE_READ = 0;
export const CUFILE_WRITE = 1;
export const CUFILE_BATCH = 1;
export const CU_FILE_HANDLE_TYPE_OPAQUE_FD = 1;
export const CUFILE_STATUS = { WAITING: 0x01, PENDING: 0x02, INVALID: 0x04, CANCELED: 0x08, COMPLETE: 0x10, TIMEOUT: 0x20, FAILED: 0x40 } as const;

/** A file <-> GPU copy as the engine sees it after the region table lookup. */
export interface FileGpuCopy {
  /** 'read': file -> GPU (cuFileRead); 'write': GPU -> file (cuFileWrite). */
  readonly direction: 'read' | 'write';
  /** The file region's offset in the file, and the descriptor's offset inside the region. */
  readonly regionFileOffset: number;
  readonly fileAddr: number;
  /** The GPU region's device address (of its byte 0) and the descriptor's offset inside it. */
  readonly gpuBase: bigint;
  readonly gpuAddr: number;
  readonly length: number;
  /** Whether the GPU region was registered with cuFileBufRegister (at gpuBase, for its whole length). */
  readonly bufRegistered: boolean;
}

/** Arguments of cuFileRead(fh, bufPtr_base, size, file_offset, bufPtr_offset) / cuFileWrite. */
export interface ReadWriteArgs {
  readonly fn: 'cuFileRead' | 'cuFileWrite';
  readonly bufPtrBase: bigint;
  readonly size: number;
  readonly fileOffset: number;
  readonly bufPtrOffset: number;
}

/**
 * A registered buffer is named by the base it was registered with plus an offset ("bufPtr_base
 * must remain set to the base address used in the cuFileBufRegister call", §5.2.3); an
 * unregistered one by its own address with offset 0 ("bufPtr_offset ... should be used only with
 * registered buffers").
 */
export function readWriteArgs(c: FileGpuCopy): ReadWriteArgs {
  return {
    fn: c.direction === 'read' ? 'cuFileRead' : 'cuFileWrite',
    bufPtrBase: c.bufRegistered ? c.gpuBase : c.gpuBase + BigInt(c.gpuAddr),
    size: c.length,
    fileOffset: c.regionFileOffset + c.fileAddr,
    bufPtrOffset: c.bufRegistered ? c.gpuAddr : 0,
  };
}

/** One CUfileIOParams_t (batch entry). */
export interface IoParams {
  readonly mode: number;
  readonly devPtrBase: bigint;
  readonly fileOffset: bigint;
  readonly devPtrOffset: bigint;
  readonly length: bigint;
  readonly fh: bigint;
  readonly opcode: number;
  readonly cookie: bigint;
}

/** The batch entry for a copy; `cookie` is the entry's index in its batch (how completions are matched). */
export function ioParamsFor(c: FileGpuCopy, fh: bigint, cookie: number): IoParams {
  const a = readWriteArgs(c);
  return {
    mode: CUFILE_BATCH,
    devPtrBase: a.bufPtrBase,
    fileOffset: BigInt(a.fileOffset),
    devPtrOffset: BigInt(a.bufPtrOffset),
    length: BigInt(a.size),
    fh,
    opcode: c.direction === 'read' ? CUFILE_READ : CUFILE_WRITE,
    cookie: BigInt(cookie),
  };
}

/** Writes a CUfileIOParams_t at `at` (little-endian, LP64). */
export function encodeIoParams(p: IoParams, view: DataView, at = 0): void {
  const L = IO_PARAMS_LAYOUT;
  for (let i = 0; i < L.size; i++) view.setUint8(at + i, 0);
  view.setInt32(at + L.mode, p.mode, true);
  view.setBigUint64(at + L.devPtrBase, p.devPtrBase, true);
  view.setBigInt64(at + L.fileOffset, p.fileOffset, true);
  view.setBigInt64(at + L.devPtrOffset, p.devPtrOffset, true);
  view.setBigUint64(at + L.length, p.length, true);
  view.setBigUint64(at + L.fh, p.fh, true);
  view.setInt32(at + L.opcode, p.opcode, true);
  view.setBigUint64(at + L.cookie, p.cookie, true);
}

export function decodeIoParams(view: DataView, at = 0): IoParams {
  const L = IO_PARAMS_LAYOUT;
  return {
    mode: view.getInt32(at + L.mode, true),
    devPtrBase: view.getBigUint64(at + L.devPtrBase, true),
    fileOffset: view.getBigInt64(at + L.fileOffset, true),
    devPtrOffset: view.getBigInt64(at + L.devPtrOffset, true),
    length: view.getBigUint64(at + L.length, true),
    fh: view.getBigUint64(at + L.fh, true),
    opcode: view.getInt32(at + L.opcode, true),
    cookie: view.getBigUint64(at + L.cookie, true),
  };
}

/** One CUfileIOEvents_t, and what it means for the entry. */
export interface IoEvent {
  readonly cookie: bigint;
  readonly status: number;
  /** Bytes done, or a negative error (size_t read as signed). */
  readonly ret: bigint;
}

export function decodeIoEvent(view: DataView, at = 0): IoEvent {
  const L = IO_EVENTS_LAYOUT;
  return { cookie: view.getBigUint64(at + L.cookie, true), status: view.getInt32(at + L.status, true), ret: view.getBigInt64(at + L.ret, true) };
}

/**
 * What the engine does with a batch completion: done (all bytes), or finish outside the batch
 * from `bytesDone` (a short or failed entry is retried with cuFileRead/cuFileWrite, which either
 * completes it or reports the real error or the end of file).
 */
export function eventOutcome(e: IoEvent, length: number): { done: true } | { done: false; bytesDone: number } {
  if (e.status === CUFILE_STATUS.COMPLETE && e.ret >= 0n && e.ret === BigInt(length)) return { done: true };
  const partial = e.status === CUFILE_STATUS.COMPLETE && e.ret > 0n ? Number(e.ret) : 0;
  return { done: false, bytesDone: partial };
}

/** CUfileDrvProps_t as the probe reports it (sizes in KiB, as cuFile reports them). */
export interface DriverProperties {
  readonly nvfsMajorVersion: number;
  readonly nvfsMinorVersion: number;
  readonly pollThreshKiB: number;
  readonly maxDirectIoKiB: number;
  readonly dstatusflags: number;
  readonly dcontrolflags: number;
  readonly fflags: number;
  readonly maxDeviceCacheKiB: number;
  readonly perBufferCacheKiB: number;
  readonly maxDevicePinnedMemKiB: number;
  readonly maxBatchIoSize: number;
  readonly maxBatchIoTimeoutMs: number;
}

export function decodeDriverProperties(view: DataView, at = 0): DriverProperties {
  const L = DRV_PROPS_LAYOUT;
  const u32 = (o: number) => view.getUint32(at + o, true);
  const u64 = (o: number) => Number(view.getBigUint64(at + o, true));
  return {
    nvfsMajorVersion: u32(L.majorVersion),
    nvfsMinorVersion: u32(L.minorVersion),
    pollThreshKiB: u64(L.pollThreshSize),
    maxDirectIoKiB: u64(L.maxDirectIoSize),
    dstatusflags: u32(L.dstatusflags),
    dcontrolflags: u32(L.dcontrolflags),
    fflags: u32(L.fflags),
    maxDeviceCacheKiB: u32(L.maxDeviceCacheSize),
    perBufferCacheKiB: u32(L.perBufferCacheSize),
    maxDevicePinnedMemKiB: u32(L.maxDevicePinnedMemSize),
    maxBatchIoSize: u32(L.maxBatchIoSize),
    maxBatchIoTimeoutMs: u32(L.maxBatchIoTimeoutMsecs),
  };
}

/** dcontrolflags / fflags bits (enum CUfileDriverControlFlags, enum CUfileFeatureFlags). */
export const CONTROL_FLAGS = { USE_POLL_MODE: 0, ALLOW_COMPAT_MODE: 1 } as const;
export const FEATURE_FLAGS = { DYN_ROUTING_SUPPORTED: 0, BATCH_IO_SUPPORTED: 1, STREAMS_SUPPORTED: 2, PARALLEL_IO_SUPPORTED: 3, P2P_SUPPORTED: 4 } as const;
export function hasFlag(flags: number, bit: number): boolean {
  return ((flags >>> bit) & 1) === 1;
}
