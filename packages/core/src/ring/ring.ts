/**
 * The descriptor ring in a SharedArrayBuffer, producer side. Every backend's engine consumes
 * the same memory (layout.ts); this class is the one producer implementation they share.
 *
 * Protocol (SDXI producer order, shared/sdxi/NOTES.md §5.3): arm the slot's completion block,
 * write QW1–7, store QW0 (opcode | valid) atomically, advance Write_Index, ring the doorbell.
 * A slot is reused only after the producer has read its completion and zeroed its QW0, so a
 * consumer never mistakes a stale valid bit from an earlier lap for a new descriptor.
 */
import { datamoverError, ErrorCode } from '../errors.js';
import { CLAIM, COMPLETION, RING_HEADER, RING_MAGIC, ringBytes, WORK_TAG } from './layout.js';

export class Ring {
  readonly sab: SharedArrayBuffer;
  readonly entries: number;
  readonly u32: Uint32Array;
  readonly #u64: BigUint64Array;
  readonly #mask: number;
  readonly #slotWord0: number;
  readonly #cbWord0: number;
  /** Producer's Write_Index (mirrored into shared memory by commit()). */
  writeIndex = 0;
  /** Descriptors whose completions the producer has consumed; slots below it are free. */
  retired = 0;

  constructor(entries: number) {
    if (!Number.isInteger(entries) || entries < 2 || entries > 1 << 20 || (entries & (entries - 1)) !== 0) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `ring entries must be a power of two in [2, 2^20], got ${String(entries)}`);
    }
    this.entries = entries;
    this.#mask = entries - 1;
    this.sab = new SharedArrayBuffer(ringBytes(entries));
    this.u32 = new Uint32Array(this.sab);
    this.#u64 = new BigUint64Array(this.sab, 0, RING_HEADER.bytes / 8);
    const slots = RING_HEADER.bytes;
    const completions = slots + entries * 64;
    this.u32[RING_HEADER.entries / 4] = entries;
    this.u32[RING_HEADER.slots / 4] = slots;
    this.u32[RING_HEADER.completions / 4] = completions;
    this.u32[RING_HEADER.magic / 4] = RING_MAGIC;
    this.#slotWord0 = slots / 4;
    this.#cbWord0 = completions / 4;
  }

  /** Slots the producer may fill now. */
  get free(): number {
    return this.entries - (this.writeIndex - this.retired);
  }

  /** Word index (byte offset / 4) of the slot holding ring index `i`. */
  slotWord(i: number): number {
    return this.#slotWord0 + (i & this.#mask) * 16;
  }

  /** Word index of the completion block for ring index `i`. */
  completionWord(i: number): number {
    return this.#cbWord0 + (i & this.#mask) * (COMPLETION.bytes / 4);
  }

  /** Byte offset of the completion block for ring index `i`: the descriptor's csb_ptr. */
  completionOffset(i: number): number {
    return this.completionWord(i) * 4;
  }

  /**
   * Arms the completion block of ring index `i`: signal = 1, unclaimed, `result` = the work tag
   * (WORK_TAG: `work` 1 … 2^32 − 1, or 0 for none; `stopOnError`). The engine writes every other
   * field when it finishes, so they need no clearing here.
   */
  arm(i: number, work = 0, stopOnError = false): void {
    const w = this.completionWord(i);
    this.u32[w] = 1;
    this.u32[w + 1] = 0;
    this.u32[w + COMPLETION.claim / 4] = CLAIM.pending;
    this.u32[w + COMPLETION.result / 4] = work;
    this.u32[w + COMPLETION.result / 4 + 1] = stopOnError ? 1 << (WORK_TAG.stopOnError - 32) : 0;
  }

  /** Publishes slot `i`: stores QW0's low word (opcode | valid) after the body is written. */
  publish(i: number, opcodeWord: number): void {
    Atomics.store(this.u32, this.slotWord(i), opcodeWord >>> 0);
  }

  /** Makes every published slot below `writeIndex` visible to the engine (SDXI Write_Index). */
  commit(): void {
    const w = BigInt(this.writeIndex);
    Atomics.store(this.#u64, RING_HEADER.writeIndex / 8, w);
    Atomics.store(this.#u64, RING_HEADER.doorbell / 8, w);
  }

  /** The engine's Read_Index: descriptors finished in order. */
  readIndex(): number {
    return Number(Atomics.load(this.#u64, RING_HEADER.readIndex / 8));
  }

  /** Clears the engine's "notification queued" flag; call before reading readIndex(). */
  clearNotify(): void {
    Atomics.store(this.u32, RING_HEADER.notifyPending / 4, 0);
  }

  /** Cancels ring index `i` if the engine has not claimed it yet; true when cancelled. */
  cancel(i: number): boolean {
    const w = this.completionWord(i) + COMPLETION.claim / 4;
    return Atomics.compareExchange(this.u32, w, CLAIM.pending, CLAIM.cancelled) === CLAIM.pending;
  }

  /**
   * Returns slot `i` to the producer: zeroes QW0 so its stale valid bit cannot be re-read. A plain
   * store suffices: the engine reads the slot again only after a later commit() publishes it.
   */
  retire(i: number): void {
    this.u32[this.slotWord(i)] = 0;
    this.retired = i + 1;
  }
}
