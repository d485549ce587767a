/**
 * The EngineSession of core's host engine (packages/core/native/host_engine.h): the native ring
 * consumer over host memory and files that the soft backend is, and that another backend (sdxi's
 * CPU path) exports from its own addon. The addon's types, and the session over them.
 */
import type { EngineSession, RegionInfo, RingConsumerStats } from './backend.js';
import { datamoverError, ErrorCode } from './errors.js';
import { isFileMemory, isHostMemory } from './memory.js';
import { nativeCaller, threadCallback } from './native-loader.js';
import type { Ring } from './ring/ring.js';

/** One host engine object (the JS class an addon exports with dm::defineHostEngine). */
export interface HostEngine {
  registerHost(index: number, view: Uint8Array, writable: boolean): void;
  registerFile(index: number, fd: number, directFd: number, fileOffset: number, length: number, writable: boolean): void;
  deregister(index: number): void;
  doorbell(): void;
  /** Runs the `count` slots written past Read_Index now on this thread (the engine's executor); how many it settled, or -1 when the consumer holds the ring. */
  runInline(count: number): number;
  ref(): void;
  unref(): void;
  close(): void;
  /** The ring consumer's counters (still readable after close()). */
  stats(): RingConsumerStats;
}

/** What the host engine knows of this CPU. */
export interface HostEngineInfo {
  ntThreshold: number;
  llcBytes: number;
  crc32c: 'sse4.2' | 'table';
  avx2: boolean;
  pageSize: number;
  /** Threads (the engine's own included) that share one striped copy or fill of 8 MiB or more. */
  copyThreads: number;
}

export interface HostEngineOptions {
  /** Microseconds the worker spins for new work before it sleeps (latency vs. idle CPU). */
  spinMicros?: number;
  /** Copies and fills at least this large use non-temporal stores (default: from the cache size). */
  ntThreshold?: number;
}

/** The host engine class and the kit functions an addon exports beside it. */
export interface HostEngineAddon {
  Engine: {
    new (ring: Uint8Array, onProgress: () => void, options?: HostEngineOptions): HostEngine;
    info(): HostEngineInfo;
    abiOffsets(): Record<string, Record<string, number>>;
  };
  /** Zeroed host memory at an aligned address, freed when the ArrayBuffer is collected. */
  allocateAligned(size: number, alignment: number): ArrayBuffer;
  /** The address of the view's first byte (memory_address.h): compared, never passed back. */
  memoryAddress(view: Uint8Array): number;
}

export class HostEngineSession implements EngineSession {
  /** The worker runs beside the JS thread, so the producer may poll Read_Index. */
  readonly concurrent = true;
  readonly #engine: HostEngine;
  readonly #addon: HostEngineAddon;
  readonly #ntThreshold: number;
  readonly #native: <T>(f: () => T) => T;
  #held = false;
  #closed = false;

  /** `backend` names the backend in errors (what the engine throws arrives as a DatamoverError with the caller's stack). */
  constructor(addon: HostEngineAddon, ring: Ring, onProgress: () => void, options: HostEngineOptions, backend: string) {
    this.#addon = addon;
    this.#native = nativeCaller({ backend, label: `${backend} host engine`, codes: { ENGINE_CLOSED: ErrorCode.MOVER_CLOSED } });
    this.#ntThreshold = options.ntThreshold ?? addon.Engine.info().ntThreshold;
    const progress = threadCallback(onProgress, () => this.#closed);
    this.#engine = this.#native(() => new addon.Engine(new Uint8Array(ring.sab), progress, options));
  }

  register(region: RegionInfo): void {
    const m = region.memory;
    if (isHostMemory(m)) this.#native(() => this.#engine.registerHost(region.index, m.view, region.writable));
    else if (isFileMemory(m)) this.#native(() => this.#engine.registerFile(region.index, m.fd, m.directFd, m.fileOffset, region.length, region.writable));
    else throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the host engine cannot address ${m.kind} memory`);
  }
  deregister(index: number): void {
    this.#native(() => this.#engine.deregister(index));
  }
  doorbell(): void {
    this.#native(() => this.#engine.doorbell());
  }
  runInline(count: number): number {
    return this.#native(() => this.#engine.runInline(count));
  }
  hold(active: boolean): void {
    if (active === this.#held) return;
    this.#held = active;
    if (active) this.#engine.ref();
    else this.#engine.unref();
  }
  memoryAddress(view: Uint8Array): number {
    return this.#native(() => this.#addon.memoryAddress(view));
  }
  allocateHost(size: number, alignment: number): Uint8Array {
    return new Uint8Array(this.#native(() => this.#addon.allocateAligned(size, alignment)));
  }
  stats(): Record<string, number | string> {
    const info = this.#addon.Engine.info();
    return { engine: 'native', ntThreshold: this.#ntThreshold, crc32c: info.crc32c, copyThreads: info.copyThreads, ...this.#engine.stats() };
  }
  close(): void {
    this.#closed = true;
    this.#engine.close();
  }
}
