import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLab, lab } from '@datamover/lab/testing';

// worker.terminate() on a worker whose Mover has rdma copies in flight (host→remote WRITEs and
// remote→host READs over Soft-RoCE loopback), round after round in one process
// (lab/worker-terminate.mjs): the process survives every round, and its memory does not grow
// with the rounds (each leaks 32 MiB of regions, pinned by their memory registrations, if the
// engines' teardown does not release them). Runs against dist/ and build/: `pnpm build` first.
const ROUNDS = 10;
const SIZE = 16 << 20;

interface Outcome {
  code: number | null;
  signal: string | null;
  stderr: string;
  rss: number[];
  delays: number[];
  seconds: number;
}

describeLab('worker.terminate() during rdma copies (Soft-RoCE)', () => {
  it(`the process survives each of ${ROUNDS} rounds and its memory does not grow`, async () => {
    const r = await lab(['--rdma', '--timeout', '400', '--', [
      'cd packages/backend-rdma && ulimit -l unlimited',
      `export RDMA_LAB_SECRET=${randomBytes(32).toString('hex')} ROUNDS=${ROUNDS}`,
      'node lab/worker-terminate.mjs',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    const m = /@@OUTCOME@@(.*)@@OUTCOME@@/.exec(r.stdout);
    expect(m, `no outcome\n${r.output}`).not.toBeNull();
    const o = JSON.parse(m![1]!) as Outcome;
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    console.log(`rdma worker-terminate: ${o.rss.length} rounds in ${o.seconds.toFixed(0)} s (guest ${r.seconds.toFixed(0)} s), delays ${o.delays.join(',')} ms, RSS MiB ${o.rss.map(mib).join(' ')}`);
    expect({ code: o.code, signal: o.signal, stderr: o.stderr }, r.output).toEqual({ code: 0, signal: null, stderr: '' });
    expect(o.rss.length).toBe(ROUNDS);
    // From the first round on (allocator arenas and the loaded addons in place): less than one
    // region's worth of growth over all the rounds, where a leak would add two regions per round.
    expect(o.rss[ROUNDS - 1]! - o.rss[0]!, `RSS MiB ${o.rss.map(mib).join(' ')}`).toBeLessThan(SIZE);
  }, 480_000);
});
