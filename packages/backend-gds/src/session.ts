/** An engine session of the gds backend: the native consumer thread plus its region table. */
import { datamoverError, ErrorCode, isFileMemory, isHostMemory, nativeCaller, threadCallback, type CopyEnd, type EngineErrorInfo, type EngineSession, type MemoryProvider, type RegionInfo, type Ring } from '@datamover/core';
import { choosePath, REASON_TEXT } from './alignment.js';
import type { BatchLimits } from './batching.js';
import { describeCompletion, gdsErrorMap, libraryErrorDetail, type NativeText } from './errors.js';
import { isGpuMemory, type GpuMemory } from './gpu-memory.js';
import { gpuMemoryProvider } from './gpu-provider.js';
import type { LibraryNames, NativeAddon, NativeEngine, NativeGpuBuffer, NativeLibraryError, TransferRecord } from './native.js';
import { bufRegisterDecision, pinHostDecision, type BufRegisterPolicy } from './policy.js';

export interface GdsSessionConfig {
  readonly libraries: LibraryNames | undefined;
  readonly cufilePath: 'direct' | 'compat';
  readonly unaligned: 'bounce' | 'cufile';
  readonly batch: boolean;
  readonly batchLimits: BatchLimits;
  readonly ioThreads: number;
  readonly chunkBytes: number;
  readonly bounceBytes: number;
  readonly spinMicros?: number | undefined;
  readonly bufRegister: BufRegisterPolicy;
  /** max_device_pinned_mem_size in bytes, when cuFile reported it. */
  readonly pinnedBudget?: number | undefined;
  readonly pinHost: 'auto' | 'never';
  readonly pinHostMinBytes: number;
  /** Mover.alloc() through cudaMallocHost (page-locked host memory). */
  readonly pinnedAlloc: boolean;
}

/** Why cuFile's own I/O passes through host memory without GDS. */
const COMPAT_BOUNCE = 'gds: cuFile in compat mode, bounces through host';

/** The backend name GpuMemory of this package carries. */
export const GDS_BACKEND = 'gds';

export class GdsEngineSession implements EngineSession {
  /** Host addresses, so the Mover judges overlap by address up front. */
  readonly memoryAddress: (view: Uint8Array) => number;
  /** The engine runs on its own thread: the producer may poll Read_Index. */
  readonly concurrent = true;
  readonly #addon: NativeAddon;
  readonly #engine: NativeEngine;
  readonly #config: GdsSessionConfig;
  readonly #native: NativeText;
  readonly #caller: <R>(f: () => R, what: string) => R;
  readonly #gpuBytes = new Map<number, number>();
  #bufRegisteredBytes = 0;
  #held = false;
  #closed = false;
  readonly #counters = { cufileHandles: 0, cufileRefused: 0, bufRegistered: 0, bufRegisterSkipped: 0, bufRegisterFailed: 0, hostPinned: 0 };
  #lastCufileRefusal: string | undefined;
  #lastBufRegisterProblem: string | undefined;
  readonly allocateHost: ((size: number, alignment: number) => Uint8Array) | undefined;

  constructor(addon: NativeAddon, ring: Ring, onProgress: () => void, config: GdsSessionConfig) {
    this.#addon = addon;
    this.memoryAddress = addon.memoryAddress;
    this.#config = config;
    this.#native = (library, code) => {
      try {
        const t = addon.errorText(config.libraries, library, code);
        return { ...(t.nativeName ? { name: t.nativeName } : {}), ...(t.nativeText ? { text: t.nativeText } : {}) };
      } catch {
        return undefined;
      }
    };
    this.#caller = nativeCaller(gdsErrorMap(this.#native));
    const progress = threadCallback(onProgress, () => this.#closed);
    const limits = config.batchLimits;
    this.#engine = this.#call('open the gds engine', () =>
      new addon.Engine(new Uint8Array(ring.sab), progress, {
        libraries: config.libraries,
        cufilePath: config.cufilePath,
        unalignedViaCufile: config.unaligned === 'cufile',
        batch: config.batch,
        batchMin: limits.minEntries,
        batchMax: limits.maxEntries,
        batchMaxEntryBytes: limits.maxEntryBytes,
        ioThreads: config.ioThreads,
        chunkBytes: config.chunkBytes,
        bounceBytes: config.bounceBytes,
        ...(config.spinMicros === undefined ? {} : { spinMicros: config.spinMicros }),
      }),
    );
    this.allocateHost = config.pinnedAlloc ? (size, alignment) => new Uint8Array(this.#call('cudaMallocHost', () => addon.allocatePinned(config.libraries, size, alignment))) : undefined;
  }

  register(region: RegionInfo): void {
    const m = region.memory;
    if (isHostMemory(m)) {
      const pin = pinHostDecision(this.#config.pinHost, m.view.byteLength, this.#config.pinHostMinBytes);
      const r = this.#call('register host memory', () => this.#engine.registerHost(region.index, m.view, region.writable, pin));
      if (r.pinned) this.#counters.hostPinned++;
      return;
    }
    if (isFileMemory(m)) {
      const r = this.#call('register a file', () => this.#engine.registerFile(region.index, m.fd, m.directFd, m.fileOffset, region.length, region.writable, true));
      if (r.cufile) this.#counters.cufileHandles++;
      else {
        this.#counters.cufileRefused++;
        this.#lastCufileRefusal = `${m.path}: ${r.reason ?? 'no cuFile handle'}${r.error ? ` (cuFileHandleRegister: ${this.#errorText(r.error)})` : ''}`;
      }
      return;
    }
    if (isGpuMemory(m)) {
      if (m.backend !== GDS_BACKEND) {
        throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `a gpu region of backend ${m.backend} cannot be used by the gds engine`);
      }
      const decision = bufRegisterDecision({ policy: this.#config.bufRegister, length: region.length, registeredBytes: this.#bufRegisteredBytes, pinnedBudget: this.#config.pinnedBudget });
      const r = this.#call('register GPU memory', () => this.#engine.registerGpu(region.index, m.buffer, region.writable, decision.register));
      if (r.bufRegistered) {
        this.#counters.bufRegistered++;
        this.#bufRegisteredBytes += region.length;
        this.#gpuBytes.set(region.index, region.length);
      } else if (decision.register) {
        this.#counters.bufRegisterFailed++;
        this.#lastBufRegisterProblem = r.error ? `cuFileBufRegister: ${this.#errorText(r.error)}` : 'cuFileBufRegister failed';
      } else {
        this.#counters.bufRegisterSkipped++;
        this.#lastBufRegisterProblem = decision.why;
      }
      return;
    }
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the gds engine cannot register ${m.kind} memory`);
  }

  deregister(index: number): void {
    this.#call('deregister', () => this.#engine.deregister(index));
    const bytes = this.#gpuBytes.get(index);
    if (bytes !== undefined) {
      this.#bufRegisteredBytes -= bytes;
      this.#gpuBytes.delete(index);
    }
  }

  doorbell(): void {
    this.#call('doorbell', () => this.#engine.doorbell());
  }

  /**
   * file↔gpu copies pass through host memory without GDS: cuFile in compatibility mode does POSIX
   * I/O into its own host buffers, and the engine's bounce path (a file region without an O_DIRECT
   * descriptor, an unaligned file offset or length) preads/pwrites through pinned host staging.
   * Judged by the engine's own path rule (choosePath), the GPU address taken as aligned (it is
   * opaque here; alloc(size, { kind: 'gpu' }) aligns it).
   */
  hostBounce(src: CopyEnd, dst: CopyEnd, length?: number): string | undefined {
    const file = src.kind === 'file' && dst.kind === 'gpu' ? src : dst.kind === 'file' && src.kind === 'gpu' ? dst : undefined;
    if (!file) return undefined;
    const m = file.memory;
    if (m === undefined || !isFileMemory(m) || length === undefined) return this.#config.cufilePath === 'compat' ? COMPAT_BOUNCE : undefined;
    const direct = m.directFd >= 0;
    const t = { fileOffset: m.fileOffset + (file.offset ?? 0), length, gpuAddressMod: 0, cufileHandle: direct, directDescriptor: direct };
    const { path, reason } = choosePath(t, { cufile: this.#config.cufilePath, unaligned: this.#config.unaligned });
    if (path === 'direct') return undefined;
    return path === 'compat' ? COMPAT_BOUNCE : `gds: ${REASON_TEXT[reason]}, bounces through host staging`;
  }

  hold(active: boolean): void {
    if (active === this.#held) return;
    this.#held = active;
    if (active) this.#engine.ref();
    else this.#engine.unref();
  }

  /** Device memory: `mover.alloc(size, { kind: 'gpu' })` and `mover.wrap(pointer, { kind: 'gpu', size })` (gpu-provider.ts). */
  readonly memoryProviders: readonly MemoryProvider[] = [
    gpuMemoryProvider({
      allocate: (size, device, alignment) => gpuMemory(this.#call(`cudaMalloc on device ${device}`, () => this.#addon.allocateGpu(this.#config.libraries, size, device, alignment))),
      import: (pointer, size, device) => gpuMemory(this.#call(`import device memory at 0x${pointer.toString(16)} on device ${device}`, () => this.#addon.importGpu(this.#config.libraries, pointer, size, device))),
    }),
  ];

  describeError(status: number, detail: number, result: number): EngineErrorInfo | undefined {
    return describeCompletion(status, detail, result, this.#native);
  }

  stats(): Record<string, number | string> {
    const s = this.#engine.stats();
    const out: Record<string, number | string> = { engine: 'native', cufilePath: s.cufilePath, batch: s.batch ? 'on' : 'off' };
    for (const [k, v] of Object.entries(s.transfers)) out[`transfers.${k}`] = v;
    for (const [k, v] of Object.entries(s.bytes)) out[`bytes.${k}`] = v;
    for (const [k, v] of Object.entries(s.fallbacks)) if (v > 0) out[`fallback.${k}`] = v;
    Object.assign(out, { batches: s.batches, batchEntries: s.batchEntries, batchRetries: s.batchRetries, unaligned: s.unaligned, failed: s.failed, chunks: s.chunks });
    Object.assign(out, { executed: s.executed, execNs: s.execNs, sleeps: s.sleeps, wakeMoves: s.wakeMoves });
    Object.assign(out, this.#counters, { bufRegisteredBytes: this.#bufRegisteredBytes });
    if (this.#lastCufileRefusal) out.lastCufileRefusal = this.#lastCufileRefusal;
    if (this.#lastBufRegisterProblem) out.lastBufRegisterProblem = this.#lastBufRegisterProblem;
    return out;
  }

  /** The engine's last 1024 transfers, oldest first. */
  transfers(): TransferRecord[] {
    return this.#engine.transfers();
  }

  close(): void {
    this.#closed = true;
    this.#engine.close();
  }

  #errorText(e: NativeLibraryError): string {
    const d = libraryErrorDetail(e.library, e.code, { ...(e.cuErr ? { cuErr: e.cuErr } : {}), native: this.#native });
    return `${d.name} (${d.code}): ${d.text}`;
  }

  #call<T>(what: string, f: () => T): T {
    return this.#caller(f, what);
  }
}

function gpuMemory(buffer: NativeGpuBuffer): GpuMemory {
  return {
    kind: 'gpu',
    device: buffer.device,
    backend: GDS_BACKEND,
    buffer,
    identity: { object: buffer, offset: 0 },
    release: () => buffer.release(),
  };
}
