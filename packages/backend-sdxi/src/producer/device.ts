/**
 * The driver side of one SDXI function: the activation sequence (NOTES §6.2), the context
 * tables, the admin context, the error log, and interrupt dispatch. Client contexts are created
 * here and started and stopped through the admin context.
 */
import { datamoverError, ErrorCode } from '@datamover/core';
import type { SdxiFunction } from '../function.js';
import { field64, pack64, publish, setField } from '../spec/bits.js';
import { cxtStart, cxtStop, sync, SYNC_FILTER } from '../spec/descriptors.js';
import { CAP0, CAP1, CTL0, CTL2, GSR, GSV, REG, STS0, VERSION, doorbellStride, maxRingEntries } from '../spec/registers.js';
import { CXT_STATE, L1_ENT, L1_ENTRIES, L2_ENT, L2_ENTRIES, SIZE } from '../spec/structures.js';
import { ADMIN_INTERRUPT_AKEY, AdminQueue } from './admin.js';
import { ContextMemory, type ContextOptions } from './context.js';
import { ErrorLog, type ErrorEntry } from './error-log.js';

/** Interrupt vectors: 0 for the error log, then one per context (context n uses n + 1). */
export const ERROR_VECTOR = 0;
export function contextVector(context: number): number {
  return context + 1;
}

/** What the function reported about itself at activation. */
export interface FunctionInfo {
  readonly version: string;
  readonly sfunc: number;
  readonly maxContext: number;
  readonly doorbellStride: number;
  readonly maxRingEntries: number;
  readonly maxAkeySizeCode: number;
  /** CAP1.opb_000_cap: bit n = operation group n [?]. */
  readonly operationGroups: number;
}

export interface DeviceOptions {
  /** Error-log entries (a multiple of 64; default 64, the spec minimum). */
  errorLogEntries?: number;
  /** Milliseconds to wait for each state change (default 1000, as the driver). */
  timeoutMs?: number;
}

export class SdxiDevice {
  readonly fn: SdxiFunction;
  readonly info: FunctionInfo;
  readonly admin: AdminQueue;
  readonly adminContext: ContextMemory;
  readonly #l2: BigUint64Array;
  /** L1 tables by L2 index, as 64-bit words. */
  readonly #l1 = new Map<number, BigUint64Array>();
  readonly #errorLog: ErrorLog;
  /** Entries drained but not yet taken, by context. */
  readonly #errors = new Map<number, ErrorEntry[]>();
  readonly #vectors = new Map<number, () => void>();
  readonly #contextErrors = new Map<number, () => void>();
  #holds = 0;
  #closed = false;

  private constructor(fn: SdxiFunction, options: DeviceOptions) {
    this.fn = fn;
    const mmio = fn.mmio;
    // 2. VERSION and capabilities.
    const version = mmio.read64(REG.VERSION);
    const cap0 = mmio.read64(REG.CAP0);
    const cap1 = mmio.read64(REG.CAP1);
    const n = (v: bigint, f: readonly [number, number]) => Number(field64(v, f));
    this.info = {
      version: `${n(version, VERSION.major)}.${n(version, VERSION.minor)}`,
      sfunc: n(cap0, CAP0.sfunc),
      maxContext: n(cap1, CAP1.max_cxt),
      doorbellStride: doorbellStride(n(cap0, CAP0.db_stride)),
      maxRingEntries: maxRingEntries(n(cap0, CAP0.max_ds_ring_sz)),
      maxAkeySizeCode: n(cap1, CAP1.max_akey_sz),
      operationGroups: n(cap1, CAP1.opb_000_cap),
    };
    if (n(version, VERSION.major) !== 1) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `SDXI function reports version ${this.info.version}; this producer speaks 1.x`);
    // 3. CTL2 from CAP1, as the driver does.
    mmio.write64(
      REG.CTL2,
      pack64([
        [CTL2.max_buffer, field64(cap1, CAP1.max_buffer)],
        [CTL2.max_akey_sz, field64(cap1, CAP1.max_akey_sz)],
        [CTL2.max_cxt, field64(cap1, CAP1.max_cxt)],
        [CTL2.opb_000_avl, field64(cap1, CAP1.opb_000_cap)],
      ]),
    );
    // 4. A zeroed L2 table.
    const l2 = fn.allocate(SIZE.table, 4096);
    this.#l2 = new BigUint64Array(l2.buffer, l2.offset, L2_ENTRIES);
    mmio.write64(REG.CXT_L2, l2.address);
    // 6. The admin context, RUN before activation (§4.5).
    this.adminContext = this.createContext(0, {});
    this.adminContext.setAkey(ADMIN_INTERRUPT_AKEY, { vector: contextVector(0) });
    this.adminContext.setState(CXT_STATE.RUN);
    this.admin = new AdminQueue(
      this.adminContext,
      (v) => fn.doorbell(0, v),
      (i) => this.takeErrors(0).find((e) => e.index === i),
      (busy) => this.hold(busy),
    );
    // 8. The error log.
    this.#errorLog = new ErrorLog(fn, options.errorLogEntries ?? 64);
    fn.onInterrupt((vector) => this.#interrupt(vector));
    this.#vectors.set(contextVector(0), () => this.admin.complete());
  }

  /**
   * Activates `fn` ("Activation of the SDXI Function by Software", NOTES §6.2): stop and reset,
   * read the capabilities, program CTL2, the context tables, the admin context and the error
   * log, request ACTIVE and wait for it, then jump-start the admin context through its doorbell.
   */
  static async activate(fn: SdxiFunction, options: DeviceOptions = {}): Promise<SdxiDevice> {
    const timeoutMs = options.timeoutMs ?? 1000;
    // 1. CTL0 = 0 and the state must be STOP (a function left in ERROR is reset first).
    fn.mmio.write64(REG.CTL0, 0n);
    await waitForState(fn, [GSV.STOP], timeoutMs);
    const device = new SdxiDevice(fn, options);
    // 9. GSR = ACTIVE, with function-error interrupts.
    fn.mmio.write64(REG.CTL0, pack64([[CTL0.fn_gsr, GSR.ACTIVE], [CTL0.fn_err_intr_en, 1]]));
    const state = await waitForState(fn, [GSV.ACTIVE, GSV.ERROR], timeoutMs);
    if (state !== GSV.ACTIVE) {
      const why = device.takeErrors(0)[0];
      throw datamoverError(ErrorCode.DEVICE_ERROR, `the SDXI function did not activate (state ${state}${why ? `, error-log step ${why.step}` : ''})`);
    }
    // 10. Jump-start the admin context.
    fn.doorbell(0, 0n);
    return device;
  }

  /**
   * Allocates context `id`'s memory and publishes its CXT_CTL and L1 entry (ka = 1, pv = 0,
   * opb_000_enb = every group the function offers; vl last). The context is stopped (CXT_STS
   * zeroed) until start().
   */
  createContext(id: number, options: ContextOptions): ContextMemory {
    if (!Number.isInteger(id) || id < 0 || id > this.info.maxContext) throw new RangeError(`context ${id} is outside 0 … ${this.info.maxContext}`);
    const akeySizeCode = options.akeySizeCode ?? 0;
    if (akeySizeCode > this.info.maxAkeySizeCode) throw new RangeError(`AKey size code ${akeySizeCode} exceeds the function's ${this.info.maxAkeySizeCode}`);
    if ((options.entries ?? SIZE.minRingEntries) > this.info.maxRingEntries) throw new RangeError(`the function's rings hold at most ${this.info.maxRingEntries} entries`);
    const cxt = new ContextMemory(this.fn, id, options);
    // Context number: L2 index above, L1 index below (§4.1).
    const l1 = this.#l1Table(Math.floor(id / L1_ENTRIES));
    const image = new Uint8Array(SIZE.l1Entry);
    setField(image, L1_ENT.vl, 1);
    setField(image, L1_ENT.ka, 1);
    setField(image, L1_ENT.cxt_ctl_ptr, cxt.ctlAddress >> 6n);
    setField(image, L1_ENT.akey_sz, akeySizeCode);
    setField(image, L1_ENT.akey_ptr, cxt.akeyAddress >> 12n);
    setField(image, L1_ENT.max_buffer, 11); // as the driver writes it ("4GB")
    setField(image, L1_ENT.opb_000_enb, this.info.operationGroups);
    publish(l1, (id % L1_ENTRIES) * (SIZE.l1Entry / 8), image);
    return cxt;
  }

  /** The L1 table for L2 index `i`, allocated and linked (L2 entry vl last) on first use. */
  #l1Table(i: number): BigUint64Array {
    let t = this.#l1.get(i);
    if (!t) {
      const b = this.fn.allocate(SIZE.table, 4096);
      t = new BigUint64Array(b.buffer, b.offset, SIZE.table / 8);
      this.#l1.set(i, t);
      Atomics.store(this.#l2, i, pack64([[L2_ENT.vl, 1], [L2_ENT.lv01_ptr, b.address >> 12n]]));
    }
    return t;
  }

  /** DSC_CXT_START (fe) for the context; resolves once the function has started it. */
  start(cxt: ContextMemory): Promise<void> {
    return this.admin.submit(`CXT_START of context ${cxt.context}`, (csb) => cxtStart({ first: cxt.context, last: cxt.context, fence: true, csb }));
  }

  /** DSC_CXT_STOP (fe) then DSC_SYNC(STOP) carrying the CST_BLK, as the driver stops a context. */
  async stop(cxt: ContextMemory): Promise<void> {
    const stopped = this.admin.submit(`CXT_STOP of context ${cxt.context}`, (csb) => cxtStop({ first: cxt.context, last: cxt.context, fence: true, csb }));
    const synced = this.admin.submit(`SYNC(STOP) of context ${cxt.context}`, (csb) => sync({ filter: SYNC_FILTER.STOP, first: cxt.context, last: cxt.context, fence: true, csb }));
    await Promise.all([stopped, synced]);
  }

  /** DSC_SYNC(AKEY) over AKeys first … last of the context: after it, no cached copy of them is used. */
  syncAkeys(cxt: ContextMemory, first: number, last: number): Promise<void> {
    return this.admin.submit(`SYNC(AKEY) of context ${cxt.context}`, (csb) => sync({ filter: SYNC_FILTER.AKEY, first: cxt.context, last: cxt.context, keyStart: first, keyEnd: last, csb }));
  }

  /** Calls `handler` (on the JS thread) when the function raises `vector`. */
  onVector(vector: number, handler: () => void): void {
    this.#vectors.set(vector, handler);
  }

  /**
   * Calls `handler` on every error-log interrupt, whether or not entries about context `id` are
   * still undrained (a poller may have taken them already): the handler reads CXT_STS to see
   * whether the fault stopped its context, and takes its entries with takeErrors.
   */
  onContextError(id: number, handler: () => void): void {
    this.#contextErrors.set(id, handler);
  }

  /** Drains the error log, then returns (and forgets) the entries about context `id`. */
  takeErrors(id: number): ErrorEntry[] {
    this.#drain();
    const list = this.#errors.get(id) ?? [];
    this.#errors.delete(id);
    return list;
  }

  /** Entries lost because the error log was full. */
  get errorLogOverflows(): number {
    return this.#errorLog.overflows;
  }

  /** The function's global state (STS0.fn_gsv). */
  state(): number {
    return Number(field64(this.fn.mmio.read64(REG.STS0), STS0.fn_gsv));
  }

  /** Keeps the process alive while anything awaits an interrupt (counted). */
  hold(active: boolean): void {
    const before = this.#holds;
    this.#holds = Math.max(0, this.#holds + (active ? 1 : -1));
    if ((before === 0) !== (this.#holds === 0)) this.fn.hold(this.#holds > 0);
  }

  /** Soft-stops the function (every context stops) and releases it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.fn.mmio.write64(REG.CTL0, pack64([[CTL0.fn_gsr, GSR.STOP_SF]]));
    this.admin.abandon('the SDXI function was closed');
    this.fn.close();
  }

  #drain(): void {
    for (const e of this.#errorLog.drain()) {
      const id = e.context ?? 0;
      const list = this.#errors.get(id);
      if (list) list.push(e);
      else this.#errors.set(id, [e]);
    }
  }

  #interrupt(vector: number): void {
    if (vector === ERROR_VECTOR) {
      this.#drain();
      for (const handler of [...this.#contextErrors.values()]) handler();
      // An admin command that failed completes (er) right after its entry is logged.
      this.admin.complete();
      return;
    }
    this.#vectors.get(vector)?.();
  }
}

/** Polls STS0.fn_gsv until it is one of `states`; throws after `timeoutMs`. */
async function waitForState(fn: SdxiFunction, states: readonly number[], timeoutMs: number): Promise<number> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const s = Number(field64(fn.mmio.read64(REG.STS0), STS0.fn_gsv));
    if (states.includes(s)) return s;
    if (performance.now() > until) throw datamoverError(ErrorCode.DEVICE_ERROR, `the SDXI function stayed in state ${s} (waited ${timeoutMs} ms for ${states.join(' or ')})`);
    await new Promise((r) => setImmediate(r));
  }
}
