/** Per-descriptor outcome of a submitted batch. */
import { datamoverError, ErrorCode, type DatamoverError } from './errors.js';

/** What happened to one descriptor: run whole, never run, or failed. */
export type DescriptorStatus = 'pending' | 'done' | 'not-run' | 'failed';

/** Why a descriptor did not run: the work was cancelled (abort, deadline, close), or an earlier descriptor failed. */
export type NotRunReason = 'cancelled' | 'after-failure';

const STATUS: readonly DescriptorStatus[] = ['pending', 'done', 'not-run', 'failed', 'not-run'];
/** @internal heldBack: not run because an earlier descriptor failed (docs/engine-abi.md, "After a failure"). */
export const StatusCode = { pending: 0, done: 1, notRun: 2, failed: 3, heldBack: 4 } as const;
/** @internal */
export type StatusCode = (typeof StatusCode)[keyof typeof StatusCode];

/**
 * Results of a batch, one per descriptor in the order they were added. Values: the checksum of
 * a crc32c; for a compare the first differing offset, or -1 when equal; 0 otherwise.
 */
export class BatchResult {
  readonly #status: Uint8Array;
  readonly #value: Float64Array;
  /** Made at the first failure: a batch that succeeds allocates none. */
  #errors: Map<number, DatamoverError> | undefined;
  #done = 0;
  #notRun = 0;
  #failed = 0;

  /** @internal */
  constructor(readonly length: number) {
    this.#status = new Uint8Array(length);
    this.#value = new Float64Array(length);
  }

  /** Records descriptor `i` as run whole (the hot path of every completion). @internal */
  done(i: number, value: number): void {
    this.#status[i] = StatusCode.done;
    this.#value[i] = value;
    this.#done++;
  }

  /** @internal */
  record(i: number, status: StatusCode, value: number, error?: DatamoverError): void {
    this.#status[i] = status;
    this.#value[i] = value;
    if (status === StatusCode.done) this.#done++;
    else if (status === StatusCode.notRun || status === StatusCode.heldBack) this.#notRun++;
    else if (status === StatusCode.failed) {
      this.#failed++;
      if (error) (this.#errors ??= new Map()).set(i, error);
    }
  }

  status(i: number): DescriptorStatus {
    return STATUS[this.#status[this.#index(i)]!]!;
  }
  value(i: number): number {
    return this.#value[this.#index(i)]!;
  }
  /** For a descriptor that did not run, why; undefined for any other. */
  notRunReason(i: number): NotRunReason | undefined {
    const s = this.#status[this.#index(i)];
    return s === StatusCode.heldBack ? 'after-failure' : s === StatusCode.notRun ? 'cancelled' : undefined;
  }
  error(i: number): DatamoverError | undefined {
    const k = this.#index(i);
    return this.#errors?.get(k);
  }
  /** True when every descriptor ran whole and none failed. */
  get ok(): boolean {
    return this.#done === this.length;
  }
  get counts(): { done: number; notRun: number; failed: number; pending: number } {
    return { done: this.#done, notRun: this.#notRun, failed: this.#failed, pending: this.length - this.#done - this.#notRun - this.#failed };
  }
  /** The first failure, if any. */
  firstError(): DatamoverError | undefined {
    if (this.#errors) for (const e of this.#errors.values()) return e;
    return undefined;
  }

  #index(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `descriptor index ${String(i)} outside [0, ${this.length})`);
    return i;
  }
}
