/**
 * One context's memory as the driver lays it out in the function's device memory: CXT_CTL,
 * CXT_STS, the Write_Index word, the descriptor ring, one CST_BLK per ring slot, and the AKey
 * table — and the publishing of CXT_CTL and the AKey entries (every field first, then the word
 * holding `vl`, NOTES §4.3).
 */
import { publish, setField } from '../spec/bits.js';
import { akeyTableEntries, AKEY_ENT, CXT_CTL, SIZE } from '../spec/structures.js';
import type { DmaBuffer, SdxiFunction } from '../function.js';
import type { RingLayout } from './producer.js';

export interface ContextOptions {
  /** Ring slots (at least 1024; default 1024). */
  entries?: number;
  /** AKey table size code: 256 << n entries (default 0). */
  akeySizeCode?: number;
}

/** An AKey entry: an address space (pv = 1, pasid), an interrupt (iv = 1, intr_num), or both. */
export interface AkeyEntry {
  pasid?: number;
  vector?: number;
}

export class ContextMemory implements RingLayout {
  readonly arena: SharedArrayBuffer;
  readonly entries: number;
  readonly ringOffset: number;
  readonly writeIndexOffset: number;
  readonly statusOffset: number;
  /** Per-slot CST_BLKs: slot i's is at cstOffset + (i mod entries) × 32 (device address cstAddress + …). */
  readonly cstOffset: number;
  readonly cstAddress: number;
  readonly akeyEntries: number;
  readonly akeySizeCode: number;
  /** Device addresses the L1 entry points at. */
  readonly ctlAddress: bigint;
  readonly akeyAddress: bigint;
  readonly #u8: Uint8Array;
  readonly #u64: BigUint64Array;
  readonly #akeyOffset: number;

  constructor(
    fn: SdxiFunction,
    readonly context: number,
    options: ContextOptions = {},
  ) {
    this.entries = options.entries ?? SIZE.minRingEntries;
    if (!Number.isInteger(this.entries) || this.entries < SIZE.minRingEntries) throw new RangeError(`an SDXI ring holds at least ${SIZE.minRingEntries} entries`);
    this.akeySizeCode = options.akeySizeCode ?? 0;
    this.akeyEntries = akeyTableEntries(this.akeySizeCode);
    const ctl = fn.allocate(SIZE.cxtCtl, 64);
    const sts = fn.allocate(SIZE.cxtSts, 16);
    const wi = fn.allocate(SIZE.writeIndex, 8);
    const ring = fn.allocate(this.entries * SIZE.descriptor, 64);
    const cst = fn.allocate(this.entries * SIZE.cstBlk, 32);
    const akeys = fn.allocate(this.akeyEntries * SIZE.akeyEntry, 4096);
    this.arena = ring.buffer;
    this.ringOffset = ring.offset;
    this.writeIndexOffset = wi.offset;
    this.statusOffset = sts.offset;
    this.cstOffset = cst.offset;
    this.cstAddress = Number(cst.address);
    this.ctlAddress = ctl.address;
    this.akeyAddress = akeys.address;
    this.#akeyOffset = akeys.offset;
    this.#u8 = new Uint8Array(this.arena);
    this.#u64 = new BigUint64Array(this.arena);
    this.#publishCtl(ctl, ring, sts, wi);
  }

  /** CXT_CTL (Table 3-4) with se = csa = 1 as the driver sets them; QW0 (vl) last. */
  #publishCtl(ctl: DmaBuffer, ring: DmaBuffer, sts: DmaBuffer, wi: DmaBuffer): void {
    const image = new Uint8Array(SIZE.cxtCtl);
    setField(image, CXT_CTL.vl, 1);
    setField(image, CXT_CTL.se, 1);
    setField(image, CXT_CTL.csa, 1);
    setField(image, CXT_CTL.ds_ring_ptr, ring.address >> 6n);
    setField(image, CXT_CTL.ds_ring_sz, this.entries);
    setField(image, CXT_CTL.cxt_sts_ptr, sts.address >> 4n);
    setField(image, CXT_CTL.write_index_ptr, wi.address >> 3n);
    publish(this.#u64, ctl.offset / 8, image);
  }

  /** CXT_STS.state (Table 3-6). */
  state(): number {
    return Atomics.load(this.#u8, this.statusOffset) & 0xf;
  }

  /** Sets CXT_STS.state; software does this only for the admin context, before activation. */
  setState(state: number): void {
    Atomics.store(this.#u8, this.statusOffset, state);
  }

  /** Read_Index (CXT_STS bytes 8–15). */
  readIndex(): number {
    return Number(Atomics.load(this.#u64, (this.statusOffset + 8) / 8));
  }

  /** Device address of the CST_BLK of ring index `i`. */
  cstOf(i: number): number {
    return this.cstAddress + (i % this.entries) * SIZE.cstBlk;
  }

  /** Writes AKey entry `index` (Table 3-7): every other field, then the word holding vl. */
  setAkey(index: number, e: AkeyEntry): void {
    const image = new Uint8Array(SIZE.akeyEntry);
    setField(image, AKEY_ENT.vl, 1);
    if (e.vector !== undefined) {
      setField(image, AKEY_ENT.iv, 1);
      setField(image, AKEY_ENT.intr_num, e.vector);
    }
    if (e.pasid !== undefined) {
      setField(image, AKEY_ENT.pv, 1);
      setField(image, AKEY_ENT.pasid, e.pasid);
    }
    publish(this.#u64, this.#akeyWord(index), image);
  }

  /** Invalidates AKey entry `index` (vl first). */
  clearAkey(index: number): void {
    const w = this.#akeyWord(index);
    Atomics.store(this.#u64, w, 0n);
    this.#u64[w + 1] = 0n;
  }

  #akeyWord(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.akeyEntries) throw new RangeError(`AKey ${index} is outside the ${this.akeyEntries}-entry table`);
    return this.#akeyOffset / 8 + index * 2;
  }
}
