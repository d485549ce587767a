/**
 * The function's error log, software side (NOTES §6.3): initialisation and "Error Log Processing
 * by Software", and the decoding of ERRLOG_HD_ENT entries.
 */
import { getField, pack64 } from '../spec/bits.js';
import { ERR_CFG, ERR_CTL, REG } from '../spec/registers.js';
import { ERRLOG_ENT, ERRLOG_TYPE, ERRLOG_VENDOR, SIZE } from '../spec/structures.js';
import type { DmaBuffer, SdxiFunction } from '../function.js';

/** One decoded error-log entry. */
export interface ErrorEntry {
  /** Processing step that failed (STEP) and how (SUB_STEP). */
  readonly step: number;
  readonly subStep: number;
  /** REACTION: what the fault stopped. */
  readonly reaction: number;
  /** Context whose descriptor (or structure) failed, when `cv`. */
  readonly context?: number;
  /** Ring index of the failing descriptor, when `div`. */
  readonly index?: number;
  /** Which buffer of the descriptor (0 = addr0, 1 = addr1), when `bv`. */
  readonly buffer?: number;
  readonly errClass: number;
  /** Vendor words: this project's function stores the Datamover completion status and errno. */
  readonly vendorStatus: number;
  readonly vendorDetail: number;
}

const ERR_STS_ALL = 0b1011n; // sts, ovf, err

export class ErrorLog {
  readonly #fn: SdxiFunction;
  readonly #buffer: DmaBuffer;
  readonly #bytes: Uint8Array;
  readonly entries: number;
  /** Entries lost because the log was full (ERR_STS.ovf seen). */
  overflows = 0;

  /** "Error Log Initialization" steps 1–6, with interrupts on vector 0. */
  constructor(fn: SdxiFunction, entries: number) {
    if (!Number.isInteger(entries) || entries < 64 || entries % 64 !== 0 || entries > 31 * 64) throw new RangeError('the error log holds a multiple of 64 entries, 64 … 1984');
    this.#fn = fn;
    this.entries = entries;
    fn.mmio.write64(REG.ERR_CFG, 0n);
    fn.mmio.write64(REG.ERR_STS, ERR_STS_ALL);
    this.#buffer = fn.allocate(entries * SIZE.errEntry, 4096);
    this.#bytes = new Uint8Array(this.#buffer.buffer, this.#buffer.offset, this.#buffer.length);
    fn.mmio.write64(REG.ERR_CTL, pack64([[ERR_CTL.intr_en, 1]]));
    fn.mmio.write64(REG.ERR_WRT, 0n);
    fn.mmio.write64(REG.ERR_RD, 0n);
    // sz counts 64-entry units, as the driver writes it [?].
    fn.mmio.write64(REG.ERR_CFG, pack64([[ERR_CFG.en, 1], [ERR_CFG.sz, entries / 64], [ERR_CFG.ptr, this.#buffer.address >> 12n]]));
  }

  /** "Error Log Processing by Software" steps 1–5: the entries logged since the last call. */
  drain(): ErrorEntry[] {
    const mmio = this.#fn.mmio;
    const sts = mmio.read64(REG.ERR_STS);
    if (sts === 0n) return [];
    const rd = mmio.read64(REG.ERR_RD);
    mmio.write64(REG.ERR_STS, sts);
    if ((sts & 2n) !== 0n) this.overflows++;
    const wrt = mmio.read64(REG.ERR_WRT);
    const out: ErrorEntry[] = [];
    for (let i = rd; i < wrt; i++) out.push(decodeErrorEntry(this.#bytes, Number(i % BigInt(this.entries)) * SIZE.errEntry));
    mmio.write64(REG.ERR_RD, wrt);
    return out;
  }
}

/** Decodes the ERRLOG_HD_ENT at byte `at`; throws when it is not one (vl clear or another type). */
export function decodeErrorEntry(bytes: Uint8Array, at: number): ErrorEntry {
  const f = (field: readonly [number, number]) => Number(getField(bytes, field, at));
  if (f(ERRLOG_ENT.vl) !== 1 || f(ERRLOG_ENT.type) !== ERRLOG_TYPE) throw new Error(`no error-log entry at byte ${at}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at);
  return {
    step: f(ERRLOG_ENT.step),
    subStep: f(ERRLOG_ENT.sub_step),
    reaction: f(ERRLOG_ENT.re),
    ...(f(ERRLOG_ENT.cv) ? { context: f(ERRLOG_ENT.cxt_num) } : {}),
    ...(f(ERRLOG_ENT.div) ? { index: f(ERRLOG_ENT.dsc_index) } : {}),
    ...(f(ERRLOG_ENT.bv) ? { buffer: f(ERRLOG_ENT.buf) } : {}),
    errClass: f(ERRLOG_ENT.err_class),
    vendorStatus: view.getUint32(ERRLOG_VENDOR, true),
    vendorDetail: view.getInt32(ERRLOG_VENDOR + 4, true),
  };
}
