import { expect, it } from 'vitest';
import { describeLab, lab } from '@datamover/lab/testing';

// The rdma backend on Soft-RoCE: lab/peer.mjs runs the whole scenario (import, READ/WRITE with
// content checks both ways, WRITE_WITH_IMM notifications, forbidden access, malformed and forged
// tokens, revocation with and without notice, recovery, a peer SIGKILLed mid-transfer).
// Runs against packages/backend-rdma/dist and build/: `pnpm build` first (.ci/run does).
const CHECKS = [
  'import (connects, nonce checked by exporter)',
  'RDMA READ 4 MiB (content check)',
  'RDMA READ of a sub-range reuses the registration',
  'RDMA WRITE 4 MiB + fenced WRITE_WITH_IMM',
  'server WRITE into our export landed (notification + content)',
  'WRITE to a read-only import is refused',
  'access past the export is refused',
  'malformed token',
  'garbage token',
  'forged token: wrong nonce (refused by exporter)',
  'forged token: other rkey (refused by exporter)',
  'forged token: read-only made read-write (refused)',
  'forged token: longer length (refused)',
  'READ after revocation',
  'READ after revocation (notice received)',
  'WRITE after a silent revocation (refused by the NIC)',
  'connection recovers: WRITE to the other export after revocation',
  'peer killed mid-transfer → REMOTE_DISCONNECT',
  'work after the peer died fails fast',
];
const SERVER_CHECKS = ['WRITE_WITH_IMM notification received', 'client WRITE landed (content check)', 'server WRITE into client export + WRITE_WITH_IMM'];

function expectAll(stdout: string, output: string, prefix = ''): void {
  expect(stdout, output).not.toMatch(/ FAIL /);
  for (const c of CHECKS) expect(stdout, `missing client check "${c}"\n${output}`).toContain(`${prefix}[client`);
  for (const c of CHECKS) expect(stdout.includes(`OK ${c}`), `missing client check "${c}"\n${output}`).toBe(true);
  for (const c of SERVER_CHECKS) expect(stdout.includes(`OK ${c}`), `missing server check "${c}"\n${output}`).toBe(true);
}

describeLab('rdma backend (Soft-RoCE)', () => {
  it('two processes in one guest: READ/WRITE/IMM both ways, security, revocation, peer killed', async () => {
    const r = await lab(['--rdma', '--timeout', '240', '--', [
      'cd packages/backend-rdma && ulimit -l unlimited',
      'node lab/peer.mjs server & sleep 1',
      'node lab/peer.mjs client; c=$?',
      'echo "client exit $c"; exit $c',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    expectAll(r.stdout, r.output);
  });

  it('two guests (--peers 2): the same scenario across the emulated wire', async () => {
    const r = await lab(['--peers', '2', '--timeout', '300', '--', [
      'cd packages/backend-rdma && ulimit -l unlimited',
      'if [ "$LAB_ROLE" = server ]; then node lab/peer.mjs server; exit 0; fi',
      'node lab/peer.mjs client "$LAB_PEER"',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    expectAll(r.stdout, r.output);
  });
});
