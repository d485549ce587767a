/**
 * The software SDXI function: a native thread (native/function.cc) that behaves as NOTES
 * describes, over shared memory this class allocates — BAR0 and BAR2 as SharedArrayBuffers, and
 * one device-memory arena for every SDXI structure. A register or doorbell store is followed by
 * a wake-up, the stand-in for an MMIO write reaching a device.
 */
import { datamoverError, ErrorCode, threadCallback, type HostMemory } from '@datamover/core';
import type { DmaBuffer, Mmio, SdxiFunction } from './function.js';
import { loadNative, native, type NativeAddon, type NativeFunction } from './native.js';
import { GROUP } from './spec/descriptors.js';
import { BAR0_BYTES, REG } from './spec/registers.js';

/** Device address of the arena's first byte (native/memory.h): 0 and small values never translate. */
export const DEVICE_BASE = 1n << 40n;
/** Doorbell stride (CAP0.db_stride = 0) and the highest context number (CAP1.max_cxt). */
const DB_STRIDE = 4096;
const MAX_CXT = 255;
/** Words of the signals buffer (native/addon.cc). */
const WAKE = 0;
const SLEEPING = 1;
/** PASIDs 0 … 65534; 65535 is the function's own address space (native/spec.h kFunctionSpace). */
const MAX_PASIDS = 0xffff;

/** Registers software writes; ERR_STS is write-1-to-clear; the rest are the function's. */
const WRITABLE = new Set<number>([REG.CTL0, REG.CTL2, REG.CXT_L2, REG.RKEY, REG.ERR_CTL, REG.ERR_CFG, REG.ERR_WRT, REG.ERR_RD]);

export interface SoftwareFunctionOptions {
  /** Bytes of device memory for SDXI structures (default 8 MiB). */
  arenaBytes?: number;
  /** Microseconds the function thread spins for work before it sleeps (default 50). */
  spinMicros?: number;
}

/** What another thread needs to ring this function's doorbells (structured-cloneable). */
export interface DoorbellPort {
  readonly bar2: SharedArrayBuffer;
  readonly signals: SharedArrayBuffer;
  readonly stride: number;
}

/** A doorbell ringer for `context`, usable on any thread (it loads the addon for the wake-up). */
export function softwareDoorbell(port: DoorbellPort, context: number): (value: bigint) => void {
  const addon = addonOrThrow();
  const bar2 = new BigUint64Array(port.bar2);
  const signals = new Int32Array(port.signals);
  const word = (context * port.stride) / 8;
  return (value) => {
    Atomics.store(bar2, word, value);
    wake(addon, signals);
  };
}

function wake(addon: NativeAddon, signals: Int32Array): void {
  Atomics.add(signals, WAKE, 1);
  if (Atomics.load(signals, SLEEPING) !== 0) addon.wake(signals);
}

function addonOrThrow(): NativeAddon {
  const n = loadNative();
  if ('error' in n) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, n.error);
  return n.addon;
}

export class SoftwareSdxiFunction implements SdxiFunction {
  static readonly description = 'software SDXI function (a native thread running the soft executor)';
  /** Datamover's vendor group, run with the soft engine's executor. */
  static readonly vendorGroups: readonly number[] = [GROUP.DATAMOVER];
  readonly kind = 'software';
  readonly description = SoftwareSdxiFunction.description;
  readonly vendorGroups = SoftwareSdxiFunction.vendorGroups;
  readonly mmio: Mmio;
  readonly arena: SharedArrayBuffer;
  readonly #bar2 = new SharedArrayBuffer((MAX_CXT + 1) * DB_STRIDE);
  readonly #doorbells = new BigUint64Array(this.#bar2);
  readonly #signals = new SharedArrayBuffer(64);
  readonly #signalWords = new Int32Array(this.#signals);
  readonly #addon: NativeAddon;
  readonly #native: NativeFunction;
  readonly #freePasids: number[] = [];
  #nextPasid = 0;
  #nextByte = 0;
  #handler: ((vector: number) => void) | undefined;
  #closed = false;

  constructor(options: SoftwareFunctionOptions = {}) {
    this.#addon = addonOrThrow();
    this.arena = new SharedArrayBuffer(options.arenaBytes ?? 8 << 20);
    const bar0 = new SharedArrayBuffer(BAR0_BYTES);
    const regs = new BigUint64Array(bar0);
    const signals = this.#signalWords;
    const addon = this.#addon;
    const check = (offset: number) => {
      if (!Number.isInteger(offset) || offset < 0 || offset >= BAR0_BYTES || offset % 8 !== 0) throw new RangeError(`BAR0 offset ${offset} is not a 64-bit register`);
      return offset / 8;
    };
    this.mmio = {
      read64: (offset) => Atomics.load(regs, check(offset)),
      write64: (offset, value) => {
        const i = check(offset);
        if (offset === REG.ERR_STS) Atomics.and(regs, i, ~BigInt.asUintN(64, value) & 0xffff_ffff_ffff_ffffn);
        else if (WRITABLE.has(offset)) Atomics.store(regs, i, BigInt.asUintN(64, value));
        else return; // read-only or reserved: the write is dropped, as a device would
        wake(addon, signals);
      },
    };
    const onInterrupt = threadCallback((vector: number) => this.#handler?.(vector), () => this.#closed);
    this.#native = native(() => new addon.SoftwareFunction(new Uint8Array(bar0), new Uint8Array(this.arena), signals, onInterrupt, options.spinMicros === undefined ? {} : { spinMicros: options.spinMicros }));
  }

  doorbell(context: number, value: bigint): void {
    if (!Number.isInteger(context) || context < 0 || context > MAX_CXT) throw new RangeError(`no doorbell for context ${context}`);
    Atomics.store(this.#doorbells, (context * DB_STRIDE) / 8, value);
    wake(this.#addon, this.#signalWords);
  }

  /** BAR2 and the wake-up word, for producers on other threads (see softwareDoorbell). */
  doorbellPort(): DoorbellPort {
    return { bar2: this.#bar2, signals: this.#signals, stride: DB_STRIDE };
  }

  allocate(bytes: number, alignment: number): DmaBuffer {
    const offset = Math.ceil(this.#nextByte / alignment) * alignment;
    if (offset + bytes > this.arena.byteLength) {
      throw datamoverError(ErrorCode.OUT_OF_MEMORY, `the SDXI function's ${this.arena.byteLength}-byte device memory is full (options.arenaBytes)`);
    }
    this.#nextByte = offset + bytes;
    return { address: DEVICE_BASE + BigInt(offset), buffer: this.arena, offset, length: bytes };
  }

  bindAddressSpace(memory: HostMemory, writable: boolean): number {
    const pasid = this.#freePasids.pop() ?? (this.#nextPasid < MAX_PASIDS ? this.#nextPasid++ : -1);
    if (pasid < 0) throw datamoverError(ErrorCode.TOO_MANY_REGIONS, `the SDXI function binds at most ${MAX_PASIDS} address spaces`);
    try {
      native(() => this.#native.bind(pasid, memory.view, writable));
    } catch (e) {
      this.#freePasids.push(pasid);
      throw e;
    }
    return pasid;
  }

  unbindAddressSpace(pasid: number): void {
    native(() => this.#native.unbind(pasid));
    this.#freePasids.push(pasid);
  }

  onInterrupt(handler: (vector: number) => void): void {
    this.#handler = handler;
  }

  hold(active: boolean): void {
    if (active) this.#native.ref();
    else this.#native.unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}
