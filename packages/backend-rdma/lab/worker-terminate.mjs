// worker.terminate() with rdma copies in flight, run in the lab guest (worker-terminate.test.ts):
// conformance's terminateRounds runs ROUNDS rounds in one child process, each a worker whose Mover
// (rdma + soft) copies 16 MiB back and forth between a soft alloc() region and a remote region
// (terminate-remote.mjs), terminated at a different point of the copies. Prints the outcome as
// JSON between @@OUTCOME@@ markers. RDMA_LAB_SECRET: the peerAuth secret both Movers share.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { terminateRounds } from '@datamover/conformance/terminate';

const require = createRequire(import.meta.url);
const rounds = Number(process.env.ROUNDS ?? 10);
const roundTimeoutMs = 120_000; // TCG: a worker's start, two Movers and a connection take seconds
const options = { peerAuth: { secret: process.env.RDMA_LAB_SECRET } };
const spec = {
  backends: [
    [require.resolve('@datamover/backend-rdma'), 'rdma', options],
    [require.resolve('@datamover/backend-soft'), 'soft', {}],
  ],
  regions: ['host', { module: fileURLToPath(new URL('./terminate-remote.mjs', import.meta.url)), factory: 'remote', options }],
  size: 16 << 20,
};
// 0 ms to 0.8 s after the first copy (host→remote, an RDMA WRITE) starts; a 16 MiB copy takes
// about a second on Soft-RoCE under TCG, so later rounds land in the READs back as well.
const DELAYS = [0, 5, 20, 50, 100, 200, 400, 800];
const delays = Array.from({ length: rounds }, (_, k) => DELAYS[k % DELAYS.length]);
const t0 = Date.now();
const outcome = await terminateRounds(spec, delays, roundTimeoutMs);
console.log(`@@OUTCOME@@${JSON.stringify({ ...outcome, delays, seconds: (Date.now() - t0) / 1000 })}@@OUTCOME@@`);
