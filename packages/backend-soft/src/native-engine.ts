/** An engine session backed by the native worker thread (the soft backend's fast path). */
import { datamoverError, ErrorCode, threadCallback, type EngineSession, type RegionInfo, type Ring } from '@datamover/core';
import { native, type NativeAddon, type NativeEngine } from './native.js';

export interface NativeEngineOptions {
  /** Microseconds the worker spins for new work before it sleeps (latency vs. idle CPU). */
  spinMicros?: number;
  /** Copies and fills at least this large use non-temporal stores (default: from the cache size). */
  ntThreshold?: number;
}

export class NativeEngineSession implements EngineSession {
  /** The worker runs beside the JS thread, so the producer may poll Read_Index. */
  readonly concurrent = true;
  readonly #engine: NativeEngine;
  readonly #addon: NativeAddon;
  readonly #ntThreshold: number;
  #held = false;
  #closed = false;

  constructor(addon: NativeAddon, ring: Ring, onProgress: () => void, options: NativeEngineOptions) {
    this.#addon = addon;
    this.#ntThreshold = options.ntThreshold ?? addon.Engine.info().ntThreshold;
    const progress = threadCallback(onProgress, () => this.#closed);
    this.#engine = native(() => new addon.Engine(new Uint8Array(ring.sab), progress, options));
  }

  register(region: RegionInfo): void {
    const m = region.memory;
    if (m.kind === 'host') native(() => this.#engine.registerHost(region.index, m.view, region.writable));
    else if (m.kind === 'file') native(() => this.#engine.registerFile(region.index, m.fd, m.directFd, m.fileOffset, region.length, region.writable));
    else throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the soft engine cannot address ${m.kind} memory`);
  }
  deregister(index: number): void {
    native(() => this.#engine.deregister(index));
  }
  doorbell(): void {
    native(() => this.#engine.doorbell());
  }
  hold(active: boolean): void {
    if (active === this.#held) return;
    this.#held = active;
    if (active) this.#engine.ref();
    else this.#engine.unref();
  }
  memoryAddress(view: Uint8Array): number {
    return native(() => this.#addon.memoryAddress(view));
  }
  allocateHost(size: number, alignment: number): Uint8Array {
    return new Uint8Array(native(() => this.#addon.allocateAligned(size, alignment)));
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
