/**
 * Grouping block moves into strided runs: one descriptor per run instead of one per block.
 */

/** One block to move: from slot `src` of one tier to slot `dst` of another. */
export interface SlotMove {
  readonly src: number;
  readonly dst: number;
}

/** `count` blocks from slot src + i × srcStep to slot dst + i × dstStep (steps in slots, ≥ 1). */
export interface Run {
  readonly src: number;
  readonly dst: number;
  readonly count: number;
  readonly srcStep: number;
  readonly dstStep: number;
}

/**
 * Cuts `moves` (sorted by source slot) into maximal runs whose source and destination slots each
 * advance by a constant step.
 */
export function toRuns(moves: readonly SlotMove[]): Run[] {
  const runs: Run[] = [];
  let i = 0;
  while (i < moves.length) {
    const first = moves[i]!;
    const next = moves[i + 1];
    const srcStep = next ? next.src - first.src : 1;
    const dstStep = next ? next.dst - first.dst : 1;
    const joins = next !== undefined && srcStep >= 1 && dstStep >= 1;
    let count = 1;
    if (joins) {
      count = 2;
      while (i + count < moves.length && moves[i + count]!.src - moves[i + count - 1]!.src === srcStep && moves[i + count]!.dst - moves[i + count - 1]!.dst === dstStep) count++;
    }
    runs.push({ src: first.src, dst: first.dst, count, srcStep: joins ? srcStep : 1, dstStep: joins ? dstStep : 1 });
    i += count;
  }
  return runs;
}
