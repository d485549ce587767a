/**
 * The execution-path policy, as Intel DML has it: which path each operation takes. SDXI 1.0 has
 * copy, nop and write-immediate; fill, compare and CRC-32C it lacks, and the policy decides:
 *
 * - `hardware`: SDXI descriptors only; the others are not offered (the Mover routes them to
 *   another backend or refuses them, and records why).
 * - `software`: the others run on the CPU, on core's host engine (the engine soft runs).
 * - `auto` (default): the others go to the function as Datamover vendor descriptors when it
 *   implements that vendor group (the software function does, with the kit executor's code);
 *   otherwise they run on the CPU. Either way the fallback and its reason are recorded.
 */
import type { Operation } from '@datamover/core';
import { GROUP } from './spec/descriptors.js';

export type ExecutionPath = 'hardware' | 'software' | 'auto';
export const EXECUTION_PATHS: readonly ExecutionPath[] = ['hardware', 'software', 'auto'];

/** Where an operation's descriptors go: the function's ring, the CPU, or nowhere (not offered). */
export type Route = 'function' | 'cpu' | 'unsupported';

export interface OperationPlan {
  readonly route: Route;
  /** What runs it, in words. */
  readonly how: string;
  /** Why it does not run as an SDXI 1.0 descriptor (present for every fallback). */
  readonly fallback?: string;
}

const NATIVE: Partial<Record<Operation, string>> = {
  nop: 'DSC_DMAB_NOP',
  copy: 'DSC_DMAB_COPY',
  writeImm: 'DSC_DMAB_WRT_IMM (layout assumed: docs/sdxi.md)',
};

/** The route of every operation under `path` for a function offering `vendorGroups`. */
export function planOperations(path: ExecutionPath, vendorGroups: readonly number[]): Record<Operation, OperationPlan> {
  const vendor = vendorGroups.includes(GROUP.DATAMOVER);
  const lacking = (op: Operation): OperationPlan => {
    const missing = `SDXI 1.0 has no ${op} descriptor`;
    if (path === 'hardware') return { route: 'unsupported', how: 'not offered', fallback: `${missing}; execution path "hardware" does not offer it` };
    if (path === 'auto' && vendor) {
      return { route: 'function', how: 'Datamover vendor descriptor (group 0x700), run by the function', fallback: `${missing}; sent as a Datamover vendor descriptor, which this function runs in software (the kit executor)` };
    }
    const why = path === 'software' ? 'execution path "software"' : 'the function has no Datamover vendor group';
    return { route: 'cpu', how: 'host engine on the CPU', fallback: `${missing}; ${why}: runs on the CPU (host engine)` };
  };
  const plan = (op: Operation): OperationPlan => (NATIVE[op] ? { route: 'function', how: NATIVE[op] } : lacking(op));
  // The function translates one range per operand; strided descriptors name count blocks, so they
  // run on the CPU (the host engine's kit executor) whatever the function offers.
  const strided = (op: Operation): OperationPlan => {
    const missing = `SDXI 1.0 has no ${op} descriptor`;
    if (path === 'hardware') return { route: 'unsupported', how: 'not offered', fallback: `${missing}; execution path "hardware" does not offer it` };
    return { route: 'cpu', how: 'host engine on the CPU', fallback: `${missing}; the function does not run strided vendor descriptors: runs on the CPU (host engine)` };
  };
  return {
    copy: plan('copy'),
    fill: plan('fill'),
    compare: plan('compare'),
    crc32c: plan('crc32c'),
    writeImm: plan('writeImm'),
    nop: plan('nop'),
    copyStrided: strided('copyStrided'),
    fillStrided: strided('fillStrided'),
    compareStrided: strided('compareStrided'),
    crc32cStrided: strided('crc32cStrided'),
  };
}
