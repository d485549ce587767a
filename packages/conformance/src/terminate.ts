/**
 * TEST TOOL — `worker.terminate()` in the middle of copies. Environment teardown runs the
 * finalizers of external buffers (mover.alloc(), of every kind) before any engine's cleanup hook, so
 * each allocator must stop the engines holding its memory before freeing it; a copy left running
 * over freed memory kills the process with SIGSEGV. A child process (terminate-child.ts) runs
 * rounds: in each, a worker opens a Mover on `spec.backends`, copies back and forth between two
 * regions, and is terminated `delayMs` after the first copy starts; the child reports its RSS
 * after each round, so memory a terminated worker leaves behind shows as growth over rounds.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A region kind the public API cannot make by itself (a remote region needs a peer): the module's
 * export `factory` is called in the worker as `factory(mover, size, options)` and returns a Region
 * (or a Promise of one) of at least `size` bytes.
 */
export interface TerminateRegionFactory {
  /** The resolved path of the module. */
  readonly module: string;
  readonly factory: string;
  readonly options?: unknown;
}

/** A kind mover.alloc(size, { kind }) makes ('host', 'gpu'), or a factory's region. */
export type TerminateRegion = 'host' | 'gpu' | TerminateRegionFactory;

export interface TerminateSpec {
  /** Each backend: the resolved path of its module (resolve it from the calling package), the factory's export name, its options. */
  readonly backends: readonly (readonly [module: string, factory: string, options: unknown])[];
  /** The two regions copied between: kinds from mover.alloc(size, { kind }), or factories. */
  readonly regions: readonly [TerminateRegion, TerminateRegion];
  /** Bytes per region and copy (default 64 MiB). */
  readonly size?: number;
}

export interface TerminateOutcome {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

export interface TerminateRoundsOutcome extends TerminateOutcome {
  /** The child's RSS in bytes after each round that completed (worker exited, then a full GC). */
  readonly rss: readonly number[];
}

const CHILD = fileURLToPath(new URL('./terminate-child.js', import.meta.url));

/** One round; a clean teardown is `{ code: 0, signal: null, stderr: '' }`. */
export async function terminateRound(spec: TerminateSpec, delayMs: number): Promise<TerminateOutcome> {
  const { code, signal, stderr } = await terminateRounds(spec, [delayMs]);
  return { code, signal, stderr };
}

/**
 * One round per delay in one child process (each a fresh worker, terminated `delays[k]` ms after
 * its first copy started); a round whose worker has not exited `roundTimeoutMs` after it began
 * ends the child with code 2. Clean: code 0, no signal, empty stderr, one `rss` entry per delay.
 */
export function terminateRounds(spec: TerminateSpec, delays: readonly number[], roundTimeoutMs = 20_000): Promise<TerminateRoundsOutcome> {
  const args = ['--expose-gc', CHILD, JSON.stringify(spec), delays.join(','), String(roundTimeoutMs)];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: delays.length * roundTimeoutMs + 10_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      const rss = [...stdout.matchAll(/^round \d+ rss (\d+)$/gm)].map((m) => Number(m[1]));
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr, rss });
    });
  });
}
