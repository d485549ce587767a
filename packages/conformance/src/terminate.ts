/**
 * TEST TOOL — `worker.terminate()` in the middle of copies. Environment teardown runs the
 * finalizers of external buffers (mover.alloc(), of every kind) before any engine's cleanup hook, so
 * each allocator must stop the engines holding its memory before freeing it; a copy left running
 * over freed memory kills the process with SIGSEGV. `terminateRound` runs one round in a child
 * process (terminate-child.ts): a worker opens a Mover on `spec.backends`, copies back and forth
 * between two 64 MiB regions, and is terminated `delayMs` after the first copy starts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type TerminateRegion = 'host' | 'gpu';

export interface TerminateSpec {
  /** Each backend: the resolved path of its module (resolve it from the calling package), the factory's export name, its options. */
  readonly backends: readonly (readonly [module: string, factory: string, options: unknown])[];
  /** The kinds of the two regions copied between, each from mover.alloc(size, { kind }). */
  readonly regions: readonly [TerminateRegion, TerminateRegion];
}

export interface TerminateOutcome {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

const CHILD = fileURLToPath(new URL('./terminate-child.js', import.meta.url));

/** One round; a clean teardown is `{ code: 0, signal: null, stderr: '' }`. */
export function terminateRound(spec: TerminateSpec, delayMs: number): Promise<TerminateOutcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHILD, JSON.stringify(spec), String(delayMs)], { timeout: 20_000 }, (err, _stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr });
    });
  });
}
