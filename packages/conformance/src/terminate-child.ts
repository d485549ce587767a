// The child process of terminate.ts: argv[2] is a TerminateSpec as JSON, argv[3] the delay in ms.
// Exits 0 unless the teardown crashes the process.
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Mover, type Backend, type Region } from '@datamover/core';
import type { TerminateSpec } from './terminate.js';

if (isMainThread) {
  const w = new Worker(new URL(import.meta.url), { workerData: process.argv[2] });
  w.once('message', () => setTimeout(() => void w.terminate(), Number(process.argv[3] ?? 5)));
  w.once('error', (e) => {
    console.error(e);
    process.exitCode = 1;
  });
} else {
  const spec = JSON.parse(workerData as string) as TerminateSpec;
  const backends: Backend[] = [];
  for (const [module, factory, options] of spec.backends) {
    const exports = (await import(pathToFileURL(module).href)) as Record<string, (o: unknown) => Backend>;
    backends.push(exports[factory]!(options));
  }
  const m = await Mover.open({ backends });
  const [a, b] = spec.regions.map((kind): Region => m.alloc(64 << 20, { kind }));
  for (let i = 0; ; i++) {
    const p = i % 2 === 0 ? m.copy(b!, a!) : m.copy(a!, b!);
    if (i === 0) parentPort!.postMessage('copying');
    await p;
  }
}
