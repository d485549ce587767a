/** An engine session of the cxl backend: the native consumer thread plus the mappings it can register. */
import { datamoverError, ErrorCode, isHostMemory, threadCallback, type EngineSession, type RegionInfo, type Ring } from '@datamover/core';
import { isDaxMemory } from './dax-memory.js';
import { BACKEND_NAME, native, type NativeAddon, type NativeEngine, type NativeMapping } from './native.js';

export interface CxlEngineOptions {
  /** Microseconds the worker spins for new work before it sleeps (latency vs. idle CPU). */
  spinMicros?: number;
  /** Copies and fills at least this large use non-temporal stores (default: from the cache size, as soft). */
  ntThreshold?: number;
}

export class CxlEngineSession implements EngineSession {
  /** Host addresses, so the Mover judges overlap by address up front. */
  readonly memoryAddress: (view: Uint8Array) => number;
  /** The worker runs beside the JS thread, so the producer may poll Read_Index. */
  readonly concurrent = true;
  readonly #engine: NativeEngine;
  readonly #addon: NativeAddon;
  #held = false;
  #closed = false;

  constructor(addon: NativeAddon, ring: Ring, onProgress: () => void, options: CxlEngineOptions) {
    this.#addon = addon;
    this.memoryAddress = addon.memoryAddress;
    const progress = threadCallback(onProgress, () => this.#closed);
    const { spinMicros, ntThreshold } = options;
    this.#engine = native(() => new addon.Engine(new Uint8Array(ring.sab), progress, { ...(spinMicros === undefined ? {} : { spinMicros }), ...(ntThreshold === undefined ? {} : { ntThreshold }) }));
  }

  register(region: RegionInfo): void {
    const m = region.memory;
    if (isHostMemory(m)) {
      native(() => this.#engine.registerHost(region.index, m.view, region.writable));
    } else if (isDaxMemory(m) && m.backend === BACKEND_NAME) {
      native(() => this.#engine.registerDax(region.index, m.mapping as NativeMapping, m.mapOffset, region.length, region.writable));
    } else {
      throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the cxl engine cannot register ${m.kind} memory${m.kind === 'dax' ? ` of backend ${m.backend}` : ''}`);
    }
  }
  deregister(index: number): void {
    native(() => this.#engine.deregister(index));
  }
  doorbell(): void {
    native(() => this.#engine.doorbell());
  }
  runInline(count: number): number {
    return native(() => this.#engine.runInline(count));
  }
  hold(active: boolean): void {
    if (active === this.#held || this.#closed) return;
    this.#held = active;
    if (active) this.#engine.ref();
    else this.#engine.unref();
  }
  allocateHost(size: number, alignment: number): Uint8Array {
    return new Uint8Array(native(() => this.#addon.allocate(size, alignment, -1)));
  }

  stats(): Record<string, number | string> {
    const s = this.#closed ? { ntThreshold: 0, durableWrites: 0, executed: 0, execNs: 0, sleeps: 0, wakeMoves: 0, inlined: 0, spinMicros: 0 } : this.#engine.stats();
    return { engine: 'native', flush: this.#addon.info().flush, ...s };
  }
  close(): void {
    this.#closed = true;
    this.#engine.close();
  }
}
