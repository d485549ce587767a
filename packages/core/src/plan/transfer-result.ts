/** What a transfer did, per chunk and hop: the report a transfer resolves with, or its error carries. */
import type { DatamoverError } from '../errors.js';

/** done: the hop ran whole for that chunk · failed: it ran and failed · not-run: it never started (cancelled, or upstream failed). */
export type HopStatus = 'done' | 'failed' | 'not-run';
const STATUS: readonly HopStatus[] = ['not-run', 'done', 'failed'];

export class TransferResult {
  /** Per chunk and hop: 0 not-run, 1 done, 2 failed; allocated on the first record (a direct hop that ran whole needs none). */
  #status: Uint8Array | undefined;
  /** What every cell is while #status is not allocated. */
  readonly #all: 0 | 1;
  #errors: Map<number, DatamoverError> | undefined;

  /** @internal */
  constructor(
    /** Chunks the transfer was cut into (1 for a direct hop). */
    readonly chunks: number,
    /** Hops per chunk. */
    readonly hops: number,
    /** Bytes per chunk (the last may be shorter). */
    readonly chunkBytes: number,
    /** Bytes of the whole transfer. */
    readonly length: number,
    /** True for a transfer that ran whole: every hop of every chunk done. */
    done = false,
  ) {
    this.#all = done ? 1 : 0;
  }

  /** @internal */
  record(chunk: number, hop: number, ok: boolean, error?: DatamoverError): void {
    const status = (this.#status ??= new Uint8Array(this.chunks * this.hops).fill(this.#all));
    status[chunk * this.hops + hop] = ok ? 1 : 2;
    if (error) (this.#errors ??= new Map()).set(chunk * this.hops + hop, error);
  }

  #at(i: number): number {
    return this.#status ? this.#status[i]! : this.#all;
  }

  status(chunk: number, hop: number): HopStatus {
    return STATUS[this.#at(chunk * this.hops + hop)] ?? 'not-run';
  }
  error(chunk: number, hop: number): DatamoverError | undefined {
    return this.#errors?.get(chunk * this.hops + hop);
  }

  /** Bytes that landed in the destination: chunks whose last hop is done (nothing downstream of a failure counts). */
  get bytesMoved(): number {
    let n = 0;
    for (let c = 0; c < this.chunks; c++) if (this.#at(c * this.hops + this.hops - 1) === 1) n += Math.min(this.chunkBytes, this.length - c * this.chunkBytes);
    return n;
  }
  get ok(): boolean {
    return this.bytesMoved === this.length && this.#errors === undefined;
  }
}
