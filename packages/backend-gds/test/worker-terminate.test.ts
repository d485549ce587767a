/**
 * worker.terminate() mid-copy on the gds engine, on its CPU path (the cuFile/CUDA stand-in of
 * test/mock): a worker copies between a mover.alloc() region (cudaMallocHost) and an alloc({ kind: 'gpu' })
 * one. Teardown runs the pinned memory's finalizer (cudaFreeHost) before the engine's cleanup hook;
 * unless that finalizer first stops the engines holding the memory, the copy runs over freed
 * memory and the child dies with SIGSEGV (round 1 of 50 on the old code). soft, sdxi and cxl:
 * packages/cli/test/worker-terminate.test.ts.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { terminateRound } from '@datamover/conformance/terminate';
import { buildMock } from './helpers.js';

const ROUNDS = 50; // as issue 20 asks
const mock = buildMock();
const MODULE = createRequire(import.meta.url).resolve('@datamover/backend-gds'); // this package, built

describe('worker.terminate() during a host <-> gpu copy (gds, CPU stand-in)', () => {
  if ('skip' in mock) {
    console.log(`worker-terminate (gds) skipped: ${mock.skip}`);
    it.skip(`skipped: ${mock.skip}`, () => {});
    return;
  }
  const libraries = { cufile: [mock.path], cudart: [mock.path], cuda: [mock.path] };
  const spec = { backends: [[MODULE, 'gds', { libraries, nvidiaFsPaths: ['/nonexistent/nvidia-fs'] }]] as const, regions: ['host', 'gpu'] as const };
  it(`exits cleanly in each of ${ROUNDS} rounds`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      // Delays of 0–9 ms land the termination at different points of a 64 MiB copy.
      expect(await terminateRound(spec, i % 10), `round ${i}`).toEqual({ code: 0, signal: null, stderr: '' });
    }
  }, 300_000);
});
