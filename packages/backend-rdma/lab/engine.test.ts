import { randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { describeLab, lab, type LabResult } from '@datamover/lab/testing';

// The rdma engine's own limits on Soft-RoCE, in one guest (one boot for both scripts):
// - lab/send-windows.mjs: copies with more chunks per QP than sendDepth (they spun forever before
//   chunks were posted in windows), both directions and in a batch, with content checks.
// - lab/worker-terminate.mjs: worker.terminate() on a worker whose Mover has rdma copies in flight
//   (host→remote WRITEs and remote→host READs over Soft-RoCE loopback), round after round in one
//   process: the process survives every round, and its memory does not grow with the rounds (a
//   round leaks 32 MiB of regions, pinned by their memory registrations, if teardown keeps them).
// Runs against dist/ and build/: `pnpm build` first (.ci/run does).
const ROUNDS = 10;
const SIZE = 16 << 20; // worker-terminate.mjs's region size
const WINDOW_CHECKS = [
  'host→remote 1 MiB: 256 WRITEs through a send queue of 4 (content check)',
  'remote→host 1 MiB: 256 READs through a send queue of 4 (content check)',
  'a batch of 8 × 128 KiB WRITEs + a fenced write-immediate behind them (content check)',
];

interface Outcome {
  code: number | null;
  signal: string | null;
  stderr: string;
  rss: number[];
  delays: number[];
  seconds: number;
}

describeLab('rdma engine (Soft-RoCE): send windows, worker.terminate() mid-copy', () => {
  let r: LabResult;
  beforeAll(async () => {
    r = await lab(['--rdma', '--timeout', '420', '--', [
      'cd packages/backend-rdma && ulimit -l unlimited',
      `export RDMA_LAB_SECRET=${randomBytes(32).toString('hex')} ROUNDS=${ROUNDS}`,
      'node lab/send-windows.mjs; w=$?',
      'node lab/worker-terminate.mjs; t=$?',
      'echo "send-windows exit $w, worker-terminate exit $t"; [ $w = 0 ] && [ $t = 0 ]',
    ].join('\n')]);
  }, 480_000);

  it('copies with more chunks per QP than sendDepth settle, with the right content', () => {
    expect(r.stdout, r.output).not.toMatch(/ FAIL /);
    for (const c of WINDOW_CHECKS) expect(r.stdout.includes(`OK ${c}`), `missing check "${c}"\n${r.output}`).toBe(true);
  });

  it(`worker.terminate() mid-copy: the process survives each of ${ROUNDS} rounds and its memory does not grow`, () => {
    const m = /@@OUTCOME@@(.*)@@OUTCOME@@/.exec(r.stdout);
    expect(m, `no outcome\n${r.output}`).not.toBeNull();
    const o = JSON.parse(m![1]!) as Outcome;
    const mib = (n: number): string => (n / 2 ** 20).toFixed(1);
    console.log(`rdma worker-terminate: ${o.rss.length} rounds in ${o.seconds.toFixed(0)} s (guest ${r.seconds.toFixed(0)} s), delays ${o.delays.join(',')} ms, RSS MiB ${o.rss.map(mib).join(' ')}`);
    expect({ code: o.code, signal: o.signal, stderr: o.stderr }, r.output).toEqual({ code: 0, signal: null, stderr: '' });
    expect(o.rss.length).toBe(ROUNDS);
    // From the second round on (the first two leave the allocator's thread arenas in place, about
    // 20 MiB once): less than one region's worth of growth over the remaining rounds, where a
    // leak would add two regions per round.
    expect(o.rss[ROUNDS - 1]! - o.rss[1]!, `RSS MiB ${o.rss.map(mib).join(' ')}`).toBeLessThan(SIZE);
    expect(r.status, r.output).toBe(0);
  });
});
