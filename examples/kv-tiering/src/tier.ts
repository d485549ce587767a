/**
 * A tier: one registered region cut into fixed-size block slots, with a free list.
 */
import { datamoverError, ErrorCode, type Region } from '@datamover/core';

export type TierName = 'host' | 'dax' | 'file';

export class Tier {
  /** Free slots, ascending: taking the lowest keeps a batch's destination slots contiguous. */
  #free: number[];

  constructor(
    readonly name: TierName,
    readonly region: Region,
    readonly slots: number,
  ) {
    this.#free = Array.from({ length: slots }, (_, i) => i);
  }

  get freeSlots(): number {
    return this.#free.length;
  }

  /** The `count` lowest free slots. */
  take(count: number): number[] {
    if (count > this.#free.length) {
      throw datamoverError(ErrorCode.OUT_OF_MEMORY, `the ${this.name} tier has ${this.#free.length} free block slots, ${count} needed`);
    }
    return this.#free.splice(0, count);
  }

  give(slots: readonly number[]): void {
    this.#free.push(...slots);
    this.#free.sort((a, b) => a - b);
  }
}
