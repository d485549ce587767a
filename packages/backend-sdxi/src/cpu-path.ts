/**
 * The CPU execution path: descriptors the policy keeps off the function run on core's host
 * engine (the engine soft runs, exported by this backend's own addon as CpuEngine), through a
 * private ring this class produces into (as the Mover's Submitter does); their completions are
 * copied back into the Mover's ring.
 */
import { abi, HostEngineSession, Ring, type EngineSession } from '@datamover/core';
import type { NativeAddon } from './native.js';

const { COMPLETION } = abi;
const VALID = 1 << abi.OPCODE_BITS.valid;
/** Completion words copied back: result (2), status, detail, flags. */
const CB_RESULT = COMPLETION.result / 4;
const CB_STATUS = COMPLETION.status / 4;
const CB_DETAIL = COMPLETION.detail / 4;
const CB_FLAGS = COMPLETION.flags / 4;
const CB_SIGNAL = COMPLETION.signal / 4;

export class CpuPath {
  readonly #outer: Ring;
  readonly #ring: Ring;
  readonly #origin: Float64Array;
  readonly #onDone: (outerIndex: number) => void;
  #engine: EngineSession | undefined;
  #outstanding = 0;
  #published = 0;

  private constructor(
    outer: Ring,
    readonly failures: abi.FailureRule,
    onDone: (outerIndex: number) => void,
  ) {
    this.#outer = outer;
    this.#ring = new Ring(outer.entries);
    this.#origin = new Float64Array(outer.entries);
    this.#onDone = onDone;
  }

  /**
   * Opens the host engine; `onDone(i)` is told when the Mover's ring index `i` has completed, and
   * `failures` (the session's failure rule) sees each outcome first.
   */
  static open(addon: NativeAddon, outer: Ring, failures: abi.FailureRule, onDone: (outerIndex: number) => void): CpuPath {
    const path = new CpuPath(outer, failures, onDone);
    const host = { Engine: addon.CpuEngine, allocateAligned: addon.allocateAligned, memoryAddress: addon.memoryAddress };
    path.#engine = new HostEngineSession(host, path.#ring, () => path.#progress(), {}, 'sdxi');
    return path;
  }

  get engine(): EngineSession {
    return this.#engine!;
  }

  /** Descriptors handed over and not yet completed. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Hands the Mover's (claimed) ring index `i` to the engine; flush() publishes. */
  submit(i: number): void {
    const ring = this.#ring;
    const ou = this.#outer.u32;
    const iu = ring.u32;
    const j = ring.writeIndex++;
    const src = this.#outer.slotWord(i);
    const dst = ring.slotWord(j);
    ring.arm(j);
    for (let k = 1; k < 14; k++) iu[dst + k] = ou[src + k]!;
    iu[dst + 14] = ring.completionOffset(j);
    iu[dst + 15] = 0;
    this.#origin[j & (ring.entries - 1)] = i;
    ring.publish(j, ou[src]! | VALID);
    this.#outstanding++;
  }

  /** Commits what submit() queued and rings the engine. */
  flush(): void {
    if (this.#ring.writeIndex === this.#published) return;
    this.#published = this.#ring.writeIndex;
    this.#ring.commit();
    this.engine.hold(true);
    this.engine.doorbell();
  }

  /**
   * Runs what submit() queued now, on this thread (the host engine's runInline), and copies the
   * completions back; false when the engine's thread still held its ring: flushed to it instead.
   */
  runInline(): boolean {
    const n = this.#ring.writeIndex - this.#published;
    if (n === 0) return true;
    if (this.engine.runInline!(n) !== n) {
      this.flush();
      return false;
    }
    this.#published = this.#ring.writeIndex;
    this.#ring.commit();
    this.#progress();
    return true;
  }

  #progress(): void {
    const ring = this.#ring;
    ring.clearNotify();
    const read = ring.readIndex();
    const iu = ring.u32;
    const ou = this.#outer.u32;
    for (let j = ring.retired; j < read; j++) {
      const i = this.#origin[j & (ring.entries - 1)]!;
      const from = ring.completionWord(j);
      const to = this.#outer.completionWord(i);
      this.failures.settle(ou, to, iu[from + CB_STATUS]!);
      ou[to + CB_RESULT] = iu[from + CB_RESULT]!;
      ou[to + CB_RESULT + 1] = iu[from + CB_RESULT + 1]!;
      ou[to + CB_STATUS] = iu[from + CB_STATUS]!;
      ou[to + CB_DETAIL] = iu[from + CB_DETAIL]!;
      ou[to + CB_FLAGS] = iu[from + CB_FLAGS]!;
      Atomics.store(ou, to + CB_SIGNAL, 0);
      ring.retire(j);
      this.#outstanding--;
      this.#onDone(i);
    }
    if (this.#outstanding === 0) this.engine.hold(false);
  }

  close(): void {
    this.#engine?.close();
  }
}
