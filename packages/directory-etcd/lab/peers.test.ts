import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { describeLab, lab } from '@datamover/lab/testing';

// Two guests on Soft-RoCE find each other through etcd (lab/agent.mjs): READ and WRITE both ways
// through regions looked up by name, 1,000 regions each, then the server agent is SIGKILLed and the
// client must see PEER_GONE within the lease TTL. etcd runs in the server guest on 10.0.0.1: the
// --peers 2 guests have no network to the host. Needs `pnpm build` first (.ci/run does).
// Regex fragments: each guest prints them ("OK <other> wrote…" names the other guest).
const CHECKS = ['found', 'READ', 'WRITE into', '\\w+ wrote into our sink', '1,000 regions published and resolved'];

describeLab('directory-etcd across two guests (Soft-RoCE)', () => {
  it('agents find each other through etcd, move data both ways, and a killed one is PEER_GONE within the TTL', async () => {
    const r = await lab(['--peers', '2', '--timeout', '300', '--', [
      'cd packages/directory-etcd && ulimit -l unlimited',
      `export RDMA_LAB_SECRET=${randomBytes(32).toString('hex')}`,
      'if [ "$LAB_ROLE" = server ]; then',
      '  d=$(mktemp -d); etcd --name lab --data-dir "$d" --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls http://10.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster lab=http://127.0.0.1:2380 --log-level error & e=$!',
      '  node lab/agent.mjs server http://10.0.0.1:2379; sleep 20; kill $e; exit 0',
      'fi',
      'node lab/agent.mjs client http://10.0.0.1:2379',
    ].join('\n')]);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout, r.output).not.toMatch(/ FAIL /);
    for (const role of ['server', 'client']) for (const c of CHECKS) expect(r.stdout, `${role}: ${c}\n${r.output}`).toMatch(new RegExp(`\\[${role} [^\\]]*\\] OK ${c}`));
    expect(r.stdout, r.output).toMatch(/OK server killed → PEER_GONE within the 10 s TTL \(PEER_GONE after \d+ ms\)/);
    console.log(r.stdout.split('\n').filter((l) => / OK /.test(l)).join('\n'));
  });
});
