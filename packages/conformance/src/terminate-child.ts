// The child process of terminate.ts: argv[2] is a TerminateSpec as JSON, argv[3] the rounds'
// delays in ms (comma-separated), argv[4] the per-round timeout in ms. Prints "round K rss N"
// after each round; exits 0 unless a round crashes the process, fails or times out.
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Mover, type Backend, type Region } from '@datamover/core';
import type { TerminateRegion, TerminateSpec } from './terminate.js';

async function region(m: Mover, kind: TerminateRegion, size: number): Promise<Region> {
  if (kind === 'gpu' || kind === 'host') return m.alloc(size, { kind });
  const exports = (await import(pathToFileURL(kind.module).href)) as Record<string, (m: Mover, size: number, o: unknown) => Region | Promise<Region>>;
  return exports[kind.factory]!(m, size, kind.options);
}

// One round: resolves once the worker exited; a worker error fails the round.
function round(k: number, delayMs: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`round ${k}: the worker did not exit within ${timeoutMs} ms`)), timeoutMs);
    const w = new Worker(new URL(import.meta.url), { workerData: process.argv[2] });
    let error: unknown;
    w.once('message', () => setTimeout(() => void w.terminate(), delayMs));
    w.once('error', (e) => (error = e));
    w.once('exit', () => {
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
}

if (isMainThread) {
  const delays = (process.argv[3] ?? '5').split(',').map(Number);
  const timeoutMs = Number(process.argv[4] ?? 20_000);
  try {
    for (const [k, delay] of delays.entries()) {
      await round(k, delay, timeoutMs);
      (globalThis as { gc?: () => void }).gc?.();
      console.log(`round ${k} rss ${process.memoryUsage().rss}`);
    }
  } catch (e) {
    console.error(e);
    process.exit(2);
  }
} else {
  const spec = JSON.parse(workerData as string) as TerminateSpec;
  const backends: Backend[] = [];
  for (const [module, factory, options] of spec.backends) {
    const exports = (await import(pathToFileURL(module).href)) as Record<string, (o: unknown) => Backend>;
    backends.push(exports[factory]!(options));
  }
  const m = await Mover.open({ backends });
  const size = spec.size ?? 64 << 20;
  const a = await region(m, spec.regions[0], size);
  const b = await region(m, spec.regions[1], size);
  for (let i = 0; ; i++) {
    const p = i % 2 === 0 ? m.copy(b, a) : m.copy(a, b);
    if (i === 0) parentPort!.postMessage('copying');
    await p;
  }
}
