/**
 * The failure rule for an engine written in TypeScript (the native engines have it in core's
 * kit, ring_consumer.h): after a descriptor fails, the later descriptors of its work that are
 * fenced — all of them when the work stops on error — complete NOT_RUN (detail afterFailure)
 * without running. The work tag comes from the completion block the producer armed (WORK_TAG).
 */
import { OPCODE_BITS } from '../descriptor/schema.js';
import { COMPLETION, CompletionStatus, WORK_TAG } from './layout.js';

const TAG_LO = COMPLETION.result / 4;
const FENCE = 1 << OPCODE_BITS.fence;
const STOP_ON_ERROR = 1 << (WORK_TAG.stopOnError - 32);

export class FailureRule {
  /** The work whose descriptor failed last (0: none); works follow one another on a ring. */
  #failedWork = 0;

  /** Whether the descriptor with QW0 `word0`, whose completion block starts at `u32[cb]`, must not run. */
  heldBack(u32: Uint32Array, cb: number, word0: number): boolean {
    const work = u32[cb + TAG_LO]!;
    if (work === 0 || work !== this.#failedWork) return false;
    return (word0 & FENCE) !== 0 || this.stopsOnError(u32, cb);
  }

  /** Whether the work of the descriptor whose completion block starts at `u32[cb]` stops on error: each of its descriptors must then see the outcome of the one before it. */
  stopsOnError(u32: Uint32Array, cb: number): boolean {
    return (u32[cb + TAG_LO + 1]! & STOP_ON_ERROR) !== 0;
  }

  /** Notes the descriptor's outcome; call before its completion block (and so its tag) is overwritten. */
  settle(u32: Uint32Array, cb: number, status: number): void {
    if (status === CompletionStatus.OK || status === CompletionStatus.NOT_RUN) return;
    const work = u32[cb + TAG_LO]!;
    if (work !== 0) this.#failedWork = work;
  }
}
