/**
 * The per-Mover staging pool: `count` host buffers of `bytes` each, allocated and registered once
 * (on the first transfer that stages) and reused by every later one. One staged transfer holds the
 * whole pool at a time; others wait their turn, so staging memory never grows with the load.
 */
import { datamoverError, ErrorCode } from '../errors.js';
import type { Region } from '../region.js';

export interface StagingOptions {
  /** Bytes per staging buffer: the chunk a multi-hop transfer pipelines (default 4 MiB). */
  bytes?: number;
  /** Buffers (default 3: triple buffering; at least 2 for hops to overlap). */
  count?: number;
}

export const DEFAULT_STAGING = { bytes: 4 << 20, count: 3 } as const;

export function checkStaging(o: StagingOptions | undefined): { bytes: number; count: number } {
  const bytes = o?.bytes ?? DEFAULT_STAGING.bytes;
  const count = o?.count ?? DEFAULT_STAGING.count;
  if (!Number.isSafeInteger(bytes) || bytes < 4096 || bytes % 4096 !== 0) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `staging.bytes must be a positive multiple of 4096, got ${String(bytes)}`);
  if (!Number.isSafeInteger(count) || count < 1 || count > 64) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `staging.count must be an integer in [1, 64], got ${String(count)}`);
  return { bytes, count };
}

export class StagingPool {
  #buffers: Region[] | undefined;
  #tail: Promise<void> = Promise.resolve();

  constructor(
    readonly bytes: number,
    readonly count: number,
    readonly alloc: (size: number) => Region,
  ) {}

  /** Whether the buffers were allocated (a staged transfer ran). */
  get allocated(): boolean {
    return this.#buffers !== undefined;
  }

  /** Waits for the pool, then hands its buffers to `use` until the Promise it returns settles. */
  async with<T>(use: (buffers: readonly Region[]) => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let free!: () => void;
    this.#tail = new Promise((resolve) => (free = resolve));
    await previous;
    try {
      if (!this.#buffers) {
        const all = this.alloc(this.bytes * this.count);
        this.#buffers = Array.from({ length: this.count }, (_, i) => all.slice(i * this.bytes, this.bytes));
      }
      return await use(this.#buffers);
    } finally {
      free();
    }
  }
}
