/**
 * The gds backend's native addon (build/Release/datamover_gds.node): its typed interface, loaded
 * through core's addonLoader. Loading the addon never loads CUDA: the addon dlopens libcufile /
 * libcudart / libcuda only when asked (probe(), allocation, an engine), so the package installs
 * and loads on any machine.
 */
import { addonLoader, type RingConsumerStats } from '@datamover/core';
import type { DriverProperties } from './cufile-params.js';

/** Library names to dlopen, in order (defaults in native/loader.h). */
export interface LibraryNames {
  readonly cufile?: readonly string[];
  readonly cudart?: readonly string[];
  readonly cuda?: readonly string[];
}

export interface NativeLibraryInfo {
  readonly loaded: boolean;
  readonly name?: string;
  readonly path?: string;
  /** Names that failed to load, with dlerror(). */
  readonly attempts: readonly { readonly name: string; readonly error: string }[];
  /** Required symbols the library does not export. */
  readonly missing: readonly string[];
  readonly missingOptional: readonly string[];
}

/** A library error as the addon reports it (names/texts from the library itself when loaded). */
export interface NativeLibraryError {
  readonly library: 'cufile' | 'cudart' | 'cuda';
  readonly code: number;
  readonly cuErr?: number;
  readonly nativeName?: string;
  readonly nativeText?: string;
}

export interface NativeProbe {
  readonly libraries: { readonly cufile: NativeLibraryInfo; readonly cudart: NativeLibraryInfo; readonly cuda: NativeLibraryInfo };
  readonly batchApi: boolean;
  readonly runtimeVersion?: number;
  readonly driverVersion?: number;
  readonly cudaDriverVersion?: number;
  readonly devices?: {
    readonly count: number;
    readonly error?: NativeLibraryError;
    readonly list: readonly { readonly id: number; readonly pciBusId?: string }[];
  };
  readonly cufile?: {
    readonly version?: number;
    readonly opened?: boolean;
    readonly error?: NativeLibraryError;
    readonly props?: DriverProperties;
    readonly propsError?: NativeLibraryError;
    readonly params?: { readonly ioBatchSize?: number; readonly allowCompatMode?: boolean; readonly forceCompatMode?: boolean; readonly usePciP2pDma?: boolean };
  };
}

/** Device memory held by the addon: allocated here (cudaMalloc) or imported from a framework. */
export interface NativeGpuBuffer {
  /** Out-of-band copies (a synchronous cudaMemcpy on the calling thread). */
  read(offset: number, length: number): Uint8Array;
  write(data: Uint8Array, offset: number): void;
  /** Drops this handle; an allocation is freed once no engine region holds it either. */
  release(): void;
  readonly size: number;
  readonly device: number;
  readonly owned: boolean;
  readonly released: boolean;
  readonly pointer: bigint;
}

/** One transfer from the engine's bounded log (the last 1024). */
export interface TransferRecord {
  readonly seq: number;
  readonly op: 'copy' | 'fill' | 'writeImm' | 'other';
  readonly src?: 'host' | 'file' | 'gpu';
  readonly dst?: 'host' | 'file' | 'gpu';
  /** direct | compat (cuFile), bounce (our staging), cuda (cudaMemcpy / memset). */
  readonly path: 'none' | 'direct' | 'compat' | 'bounce' | 'cuda';
  /** Why a file <-> GPU transfer left cuFile's aligned path ('none' when it did not). */
  readonly reason: string;
  /** Whether it went through cuFile's batch API. */
  readonly batched: boolean;
  /** Completion status (0 OK) and detail (errno / library code). */
  readonly status: number;
  readonly detail: number;
  readonly bytes: number;
  readonly micros: number;
}

export interface NativeEngineStats extends RingConsumerStats {
  readonly transfers: Readonly<Record<'direct' | 'compat' | 'bounce' | 'cuda', number>>;
  readonly bytes: Readonly<Record<'direct' | 'compat' | 'bounce' | 'cuda', number>>;
  readonly fallbacks: Readonly<Record<string, number>>;
  readonly batches: number;
  readonly batchEntries: number;
  readonly batchRetries: number;
  readonly unaligned: number;
  readonly failed: number;
  readonly chunks: number;
  readonly batch: boolean;
  readonly cufilePath: string;
}

export interface NativeEngine {
  registerHost(index: number, view: Uint8Array, writable: boolean, pin: boolean): { pinned: boolean };
  registerFile(index: number, fd: number, directFd: number, fileOffset: number, length: number, writable: boolean, useCufile: boolean): { cufile: boolean; reason?: string; error?: NativeLibraryError };
  registerGpu(index: number, buffer: object, writable: boolean, bufRegister: boolean): { bufRegistered: boolean; error?: NativeLibraryError };
  deregister(index: number): void;
  doorbell(): void;
  ref(): void;
  unref(): void;
  close(): void;
  stats(): NativeEngineStats;
  transfers(): TransferRecord[];
}

export interface NativeEngineOptions {
  readonly libraries?: LibraryNames | undefined;
  readonly cufilePath: 'direct' | 'compat';
  readonly unalignedViaCufile?: boolean;
  readonly batch?: boolean;
  readonly batchMin?: number;
  readonly batchMax?: number;
  readonly batchMaxEntryBytes?: number;
  readonly ioThreads?: number;
  readonly chunkBytes?: number;
  readonly bounceBytes?: number;
  readonly spinMicros?: number;
}

export interface NativeAddon {
  /** The address of the view's first byte (core's kit, memory_address.h): compared, never passed back. */
  memoryAddress(view: Uint8Array): number;
  GpuBuffer: abstract new () => NativeGpuBuffer;
  Engine: new (ring: Uint8Array, onProgress: () => void, options: NativeEngineOptions) => NativeEngine;
  probe(libraries?: LibraryNames, options?: { openDriver?: boolean }): NativeProbe;
  allocateGpu(libraries: LibraryNames | undefined, size: number, device: number, alignment: number): NativeGpuBuffer;
  importGpu(libraries: LibraryNames | undefined, pointer: bigint, size: number, device: number): NativeGpuBuffer;
  allocatePinned(libraries: LibraryNames | undefined, size: number, alignment: number): ArrayBuffer;
  errorText(libraries: LibraryNames | undefined, library: string, code: number): NativeLibraryError;
  abiLayout(): Record<string, Record<string, number>>;
  constants(): { paths: string[]; reasons: string[]; statuses: Record<'cufile' | 'cudart' | 'cuda', number>; alignment: number };
}

const loader = addonLoader<NativeAddon>({ name: 'gds', packageRoot: new URL('..', import.meta.url) });
/** Where the addon is built; DATAMOVER_GDS_ADDON selects another build (e.g. a sanitizer build). */
export const addonPath = loader.path;
/** The addon, or the reason it cannot be loaded. */
export const loadNative = loader.load;

/**
 * Library names from the environment (colon-separated lists, tried in order):
 * DATAMOVER_GDS_LIBCUFILE, DATAMOVER_GDS_LIBCUDART, DATAMOVER_GDS_LIBCUDA.
 */
export function librariesFromEnv(env: NodeJS.ProcessEnv = process.env): LibraryNames {
  const list = (v: string | undefined) => (v ? v.split(':').filter(Boolean) : undefined);
  const cufile = list(env.DATAMOVER_GDS_LIBCUFILE);
  const cudart = list(env.DATAMOVER_GDS_LIBCUDART);
  const cuda = list(env.DATAMOVER_GDS_LIBCUDA);
  return { ...(cufile ? { cufile } : {}), ...(cudart ? { cudart } : {}), ...(cuda ? { cuda } : {}) };
}
