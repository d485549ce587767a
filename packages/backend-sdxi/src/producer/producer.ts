/**
 * The producer side of one SDXI descriptor ring: the spec's sample "Enqueuing one or more
 * Descriptors" (NOTES §5.3), with a 64-bit compare-and-swap on Write_Index so that several
 * producers — worker threads over the same SharedArrayBuffer — can feed one context.
 */
import { datamoverError, ErrorCode } from '@datamover/core';

/** Where a context's ring lives (structured-cloneable: post it to a worker). */
export interface RingLayout {
  readonly arena: SharedArrayBuffer;
  readonly context: number;
  /** 64-byte slots (at least 1024). */
  readonly entries: number;
  /** Byte offsets in `arena` of slot 0, the Write_Index word and CXT_STS. */
  readonly ringOffset: number;
  readonly writeIndexOffset: number;
  readonly statusOffset: number;
}

const READ_INDEX = 8; // CXT_STS bytes 8–15

export class Producer {
  readonly layout: RingLayout;
  readonly entries: number;
  /** The arena as 32-bit words (slot i starts at `slotWord(i)`). */
  readonly u32: Uint32Array;
  readonly #u64: BigUint64Array;
  readonly #writeIndex: number;
  readonly #readIndex: number;
  readonly #slot0: number;
  readonly #doorbell: (value: bigint) => void;

  constructor(layout: RingLayout, doorbell: (value: bigint) => void) {
    this.layout = layout;
    this.entries = layout.entries;
    this.u32 = new Uint32Array(layout.arena);
    this.#u64 = new BigUint64Array(layout.arena);
    this.#writeIndex = layout.writeIndexOffset / 8;
    this.#readIndex = (layout.statusOffset + READ_INDEX) / 8;
    this.#slot0 = layout.ringOffset / 4;
    this.#doorbell = doorbell;
  }

  /** Read_Index (CXT_STS): descriptors the function has consumed. */
  readIndex(): number {
    return Number(Atomics.load(this.#u64, this.#readIndex));
  }

  /** Write_Index: descriptors claimed by producers. */
  writeIndex(): number {
    return Number(Atomics.load(this.#u64, this.#writeIndex));
  }

  /**
   * Steps 1–4: reads Read_Index, then Write_Index; claims `n` slots by a CAS on Write_Index
   * (retrying when another producer won). Returns the first claimed ring index, or -1 when the
   * ring lacks room for `n`.
   */
  reserve(n: number): number {
    const add = BigInt(n);
    const entries = BigInt(this.entries);
    for (;;) {
      const read = Atomics.load(this.#u64, this.#readIndex);
      const write = Atomics.load(this.#u64, this.#writeIndex);
      if (read > write) {
        throw datamoverError(ErrorCode.DEVICE_ERROR, `SDXI context ${this.layout.context}: Read_Index ${read} is past Write_Index ${write} (corrupt ring)`);
      }
      if (write + add - read > entries) return -1;
      if (Atomics.compareExchange(this.#u64, this.#writeIndex, write, write + add) === write) return Number(write);
    }
  }

  /** Word index (byte offset / 4) in the arena of the slot holding ring index `i`. */
  slotWord(i: number): number {
    return this.#slot0 + (i % this.entries) * 16;
  }

  /**
   * Step 7 for one slot: stores QW0's low word (opcode with vl) — the store that publishes the
   * descriptor. JavaScript has no 64-bit store without a BigInt, so QW0's upper half (bytes 4–7)
   * is written with QW1–QW7 before it; the function reads the slot only after seeing vl, and
   * Atomics.store orders every earlier store before it (the step-6 barrier).
   */
  publish(i: number, opcodeWord: number): void {
    Atomics.store(this.u32, this.slotWord(i), opcodeWord >>> 0);
  }

  /** Step 8: rings the context's doorbell with the new Write_Index. */
  ring(writeIndex: number): void {
    this.#doorbell(BigInt(writeIndex));
  }

  /**
   * The whole algorithm for `descriptors` (a multiple of 64 bytes, each a final ring image with
   * vl set): claim, write QW1–QW7 of every slot, then every QW0, then the doorbell. Returns the
   * first ring index, or -1 when the ring is full (nothing was written).
   */
  enqueue(descriptors: Uint8Array): number {
    const n = descriptors.byteLength / 64;
    if (!Number.isInteger(n) || n === 0) throw new RangeError('descriptors must be one or more 64-byte records');
    const first = this.reserve(n);
    if (first < 0) return -1;
    const words = new Uint32Array(descriptors.slice().buffer);
    for (let k = 0; k < n; k++) {
      const w = this.slotWord(first + k);
      for (let j = 1; j < 16; j++) this.u32[w + j] = words[k * 16 + j]!;
    }
    for (let k = 0; k < n; k++) this.publish(first + k, words[k * 16]!);
    this.ring(first + n);
    return first;
  }
}
