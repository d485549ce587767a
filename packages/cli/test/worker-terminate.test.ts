/**
 * worker.terminate() mid-copy (conformance's terminateRound): environment teardown frees the
 * external buffers behind mover.alloc() regions before any engine's cleanup hook runs, so each
 * allocator's finalizer must stop the engines that have the memory registered first; a copy left
 * running over freed memory kills the child with SIGSEGV. Here in the CLI's tests because the
 * CLI's workspace package depends on every backend. gds has its own
 * (packages/backend-gds/test/worker-terminate.test.ts: it needs gds's CPU stand-in).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { terminateRound, type TerminateSpec } from '@datamover/conformance/terminate';

const require = createRequire(import.meta.url);
const soft = [require.resolve('@datamover/backend-soft'), 'soft', { engine: 'native' }] as const;
// The issue that found the crash asks for 50 rounds per engine; it hit 3 or 4 of 4 on the old code.
const ROUNDS = 50;

const SPECS: Record<string, TerminateSpec> = {
  soft: { backends: [soft], regions: ['host', 'host'] },
  sdxi: { backends: [[require.resolve('@datamover/backend-sdxi'), 'sdxi', {}]], regions: ['host', 'host'] },
  // cxl: its allocator's memory under the soft engine's copies.
  cxl: { backends: [[require.resolve('@datamover/backend-cxl'), 'cxl', {}], soft], regions: ['host', 'host'] },
};

describe.each(Object.keys(SPECS))('worker.terminate() during a copy (%s)', (engine) => {
  it(`exits cleanly in each of ${ROUNDS} rounds`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      // Delays of 0–9 ms land the termination at different points of a 64 MiB copy.
      expect(await terminateRound(SPECS[engine]!, i % 10), `round ${i}`).toEqual({ code: 0, signal: null, stderr: '' });
    }
  }, 300_000);
});
