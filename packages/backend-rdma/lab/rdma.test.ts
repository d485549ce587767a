import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLab, lab } from '@datamover/lab/testing';

// The rdma backend on Soft-RoCE: lab/peer.mjs runs the whole scenario (import, READ/WRITE with
// content checks both ways, WRITE_WITH_IMM notifications, forbidden access, malformed and forged
// tokens, a wrong secret, no secret, a host outside allowHosts, a raw unauthenticated hello,
// revocation with and without notice, a replayed token after re-export, recovery, a peer SIGKILLed
// mid-transfer). Both sides authenticate with a secret made per run (RDMA_LAB_SECRET).
// Runs against packages/backend-rdma/dist and build/: `pnpm build` first (.ci/run does).
const CHECKS = [
  'import (connects, authenticates, token checked by exporter)',
  'RDMA READ 4 MiB (content check)',
  'RDMA READ of a sub-range reuses the registration',
  'RDMA WRITE 4 MiB + fenced WRITE_WITH_IMM',
  'server WRITE into our export landed (notification + content)',
  'WRITE to a read-only import is refused',
  'access past the export is refused',
  'malformed token',
  'garbage token',
  'forged token: minted under another key (refused by exporter)',
  'forged token: other rkey, resealed (refused by exporter)',
  'forged token: read-only made read-write (refused)',
  'forged token: longer length (refused)',
  'wrong secret: refused before any connection key',
  'no secret (unauthenticated hello): refused',
  'token host outside allowHosts: refused before connecting',
  'a raw hello with a bad response gets no connection key',
  'READ after revocation',
  'READ after revocation (notice received)',
  'replayed token after revocation and re-export',
  'the re-exported token reads (content check)',
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

const secret = `export RDMA_LAB_SECRET=${randomBytes(32).toString('hex')}`;

describeLab('rdma backend (Soft-RoCE)', () => {
  it('two processes in one guest: READ/WRITE/IMM both ways, security, revocation, peer killed', async () => {
    const r = await lab(['--rdma', '--timeout', '240', '--', [
      'cd packages/backend-rdma && ulimit -l unlimited', secret,
      'node lab/peer.mjs server & sleep 1',
      'node lab/peer.mjs client; c=$?',
      'echo "client exit $c"; exit $c',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    expectAll(r.stdout, r.output);
  });

  it('two guests (--peers 2): the same scenario across the emulated wire', async () => {
    const r = await lab(['--peers', '2', '--timeout', '300', '--', [
      'cd packages/backend-rdma && ulimit -l unlimited', secret,
      'if [ "$LAB_ROLE" = server ]; then node lab/peer.mjs server; exit 0; fi',
      'node lab/peer.mjs client "$LAB_PEER"',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    expectAll(r.stdout, r.output);
  });
});
