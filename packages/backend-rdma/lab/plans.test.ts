import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLab, lab } from '@datamover/lab/testing';

// Transfer plans across two guests (docs/plans.md): packages/cli/lab/plans-peer.mjs moves file →
// remote and remote → file (soft + rdma) and dax → remote (cxl over a MAP_SHARED file + rdma), each
// a two-hop plan staged through host memory, with content checks (the last also with integrity).
// Runs against the built packages: `pnpm build` first (.ci/run does).
const CHECKS = [
  'file → remote (soft file→host, rdma host→remote; content check)',
  'remote → file (rdma remote→host, soft host→file; content check)',
  "dax → remote (cxl dax→host, rdma host→remote; integrity: 'crc32c', content check)",
  'stats',
];
const secret = `export RDMA_LAB_SECRET=${randomBytes(32).toString('hex')}`;

describeLab('transfer plans across guests (rdma + soft + cxl)', () => {
  it('two guests (--peers 2): file → remote, remote → file, dax → remote, with content checks', async () => {
    const r = await lab(['--peers', '2', '--timeout', '300', '--', [
      'cd packages/cli && ulimit -l unlimited', secret,
      'if [ "$LAB_ROLE" = server ]; then node lab/plans-peer.mjs server; exit 0; fi',
      'node lab/plans-peer.mjs client "$LAB_PEER"',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout, r.output).not.toMatch(/ FAIL /);
    for (const c of CHECKS) expect(r.stdout.includes(`OK ${c}`), `missing check "${c}"\n${r.output}`).toBe(true);
  });
});
