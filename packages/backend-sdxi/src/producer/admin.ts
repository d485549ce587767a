/**
 * The admin context (context 0): administrative descriptors, each with its own CST_BLK and
 * followed by a fenced DSC_INTR, so its completion wakes JavaScript.
 */
import { datamoverError, ErrorCode } from '@datamover/core';
import { intr } from '../spec/descriptors.js';
import type { ContextMemory } from './context.js';
import type { ErrorEntry } from './error-log.js';
import { Producer } from './producer.js';

/** AKey of the admin context's interrupt entry. */
export const ADMIN_INTERRUPT_AKEY = 0;

interface Waiter {
  resolve(): void;
  /** Fails the command with why, and the error-log entry when there is one. */
  reject(why: string, entry?: ErrorEntry): void;
}

export class AdminQueue {
  readonly #cxt: ContextMemory;
  readonly #producer: Producer;
  readonly #u32: Uint32Array;
  readonly #waiters = new Map<number, Waiter>();
  readonly #errors: (index: number) => ErrorEntry | undefined;
  readonly #busy: (active: boolean) => void;
  #held = false;

  /**
   * `errors` finds the error-log entry of a failed admin descriptor; `busy` is told when commands
   * are outstanding (the process must stay alive for their interrupt).
   */
  constructor(cxt: ContextMemory, doorbell: (value: bigint) => void, errors: (index: number) => ErrorEntry | undefined, busy: (active: boolean) => void) {
    this.#cxt = cxt;
    this.#producer = new Producer(cxt, doorbell);
    this.#u32 = this.#producer.u32;
    this.#errors = errors;
    this.#busy = busy;
  }

  /** Commands submitted and not yet completed. */
  get outstanding(): number {
    return this.#waiters.size;
  }

  /**
   * Submits the descriptor `build(csb)` makes for its CST_BLK address; resolves when the
   * function has completed it, rejects with DEVICE_ERROR when `er` (detail.sdxiError: the
   * error-log entry).
   */
  submit(what: string, build: (csb: bigint) => Uint8Array): Promise<void> {
    const i = this.#producer.reserve(2);
    if (i < 0) return Promise.reject(datamoverError(ErrorCode.DEVICE_ERROR, `SDXI admin ring full: ${what} not submitted`));
    const cst = this.#cxt.cstOf(i);
    const w = (cst - this.#cxt.cstAddress + this.#cxt.cstOffset) / 4;
    this.#u32[w] = 1; // signal = 1, er = 0
    this.#u32[w + 1] = 0;
    this.#u32[w + 2] = 0;
    const command = build(BigInt(cst));
    const interrupt = intr({ akey: ADMIN_INTERRUPT_AKEY, fence: true });
    const words = [new Uint32Array(command.buffer), new Uint32Array(interrupt.buffer)];
    for (let k = 0; k < 2; k++) {
      const s = this.#producer.slotWord(i + k);
      for (let j = 1; j < 16; j++) this.#u32[s + j] = words[k]![j]!;
    }
    for (let k = 0; k < 2; k++) this.#producer.publish(i + k, words[k]![0]!);
    const done = new Promise<void>((resolve, reject) => {
      this.#waiters.set(i, {
        resolve,
        reject: (why, entry) => reject(datamoverError(ErrorCode.DEVICE_ERROR, `SDXI ${what} failed: ${why}`, { detail: { backend: 'sdxi', ...(entry ? { sdxiError: entry } : {}) } })),
      });
    });
    if (!this.#held) {
      this.#held = true;
      this.#busy(true);
    }
    this.#producer.ring(i + 2);
    return done;
  }

  /** Settles every command whose CST_BLK completed (called on the admin interrupt). */
  complete(): void {
    for (const [i, waiter] of this.#waiters) {
      const w = (this.#cxt.cstOf(i) - this.#cxt.cstAddress + this.#cxt.cstOffset) / 4;
      if (Atomics.load(this.#u32, w) !== 0 || this.#u32[w + 1] !== 0) continue;
      this.#waiters.delete(i);
      if ((this.#u32[w + 2]! & 0x8000_0000) === 0) waiter.resolve();
      else {
        const e = this.#errors(i);
        waiter.reject(e ? `error-log step ${e.step}, sub-step ${e.subStep}, detail ${e.vendorDetail}` : 'the function set the CST_BLK error bit', e);
      }
    }
    if (this.#waiters.size === 0) this.#idle();
  }

  /** Fails every outstanding command (the function stopped). */
  abandon(reason: string): void {
    for (const w of this.#waiters.values()) w.reject(reason);
    this.#waiters.clear();
    this.#idle();
  }

  /**
   * Ends this queue's hold once; complete() also runs on error interrupts with nothing
   * outstanding, and an unmatched busy(false) would drop a session's hold on the process.
   */
  #idle(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#busy(false);
  }
}
