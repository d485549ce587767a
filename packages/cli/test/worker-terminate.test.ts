/**
 * worker.terminate() mid-copy: environment teardown frees the external buffers behind
 * mover.alloc() regions before any engine's cleanup hook runs, so each allocator's finalizer
 * must stop the engines that have the memory registered first. A child process per round runs a
 * worker copying between two 64 MiB regions and terminates it; a copy left running over freed
 * memory kills the child with SIGSEGV. Needs the built soft, sdxi, cxl and core packages.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('./fixtures/terminate-child.mjs', import.meta.url));
// The issue that found the crash asks for 50 rounds per engine; it hit 3 or 4 of 4 on the old code.
const ROUNDS = 50;

function round(engine: string, delayMs: number): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHILD, engine, String(delayMs)], { timeout: 20_000 }, (err, _stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr });
    });
  });
}

// cxl: its allocator's memory under the soft engine's copies.
describe.each(['soft', 'sdxi', 'cxl'])('worker.terminate() during a copy (%s)', (engine) => {
  it(`exits cleanly in each of ${ROUNDS} rounds`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      // Delays of 0–9 ms land the termination at different points of a 64 MiB copy.
      expect(await round(engine, i % 10), `round ${i}`).toEqual({ code: 0, signal: null, stderr: '' });
    }
  }, 300_000);
});
