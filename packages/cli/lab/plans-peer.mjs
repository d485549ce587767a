// One side of the transfer-plan lab scenario (docs/plans.md; run by packages/backend-rdma/lab/plans.test.ts;
// it lives here because the CLI is the package that depends on every backend it uses): `node plans-peer.mjs server|client
// <serverAddress>`, one per guest (--peers 2) or two processes in one guest (--rdma).
// server: exports a read-write host region, serves its token on the side service (port+1), and
//         exits when the client says it is done.
// client: imports it as a remote region and moves, each as a two-hop plan staged through host
//         memory, with content checks: file → remote and remote → file (soft + rdma), dax → remote
//         (cxl over a MAP_SHARED file + rdma), the last with integrity: 'crc32c' (read back).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { cxl, openDax } from '@datamover/backend-cxl';
import { rdma } from '@datamover/backend-rdma';
import { ask, pattern, peerArgs, peerKit, same, serve } from '../../backend-rdma/lab/kit.mjs';

const { role, serverHost, SECRET } = peerArgs();
const PORT = Number(process.env.RDMA_LAB_PORT ?? 18700);
const SIZE = (4 << 20) + 4099; // several staging chunks, a short last one (Soft-RoCE under TCG is slow: keep it small)
const { log, ok, check, failures } = peerKit(role);

const mover = await Mover.open({ backends: [rdma({ peerAuth: { secret: SECRET }, allowHosts: [serverHost], ackTimeout: 18 }), soft(), cxl()], staging: { bytes: 256 << 10, count: 3 } });
if (!mover.backends.includes('rdma')) {
  console.log(`rdma unavailable: ${JSON.stringify(mover.stats().unavailable)}`);
  process.exit(3);
}

if (role === 'server') {
  const where = await rdma.listen(mover, { host: '0.0.0.0', port: PORT, advertise: process.env.LAB_SELF ?? serverHost });
  const exported = mover.alloc(SIZE, { alignment: 4096 });
  const token = rdma.export(mover, exported, { access: 'read-write' });
  await new Promise((resolve) => serve(PORT + 1, async (m) => (m.t === 'token' ? { token } : m.t === 'done' ? (resolve(), {}) : {})));
  log(`served ${where.host}:${where.port}; client done`);
  await mover.close();
  process.exit(0);
}

const { token } = await ask(serverHost, PORT + 1, { t: 'token' });
const remote = await rdma.import(mover, token);
const dir = tmpdir();
const files = [];
const tempFile = (name, bytes) => {
  const p = join(dir, `dm-plans-lab-${process.pid}-${name}`);
  writeFileSync(p, bytes);
  files.push(p);
  return p;
};
/** The remote region's bytes, read back over one direct hop. */
const readRemote = async () => {
  const h = mover.alloc(SIZE);
  await mover.copy(h, remote);
  return h.bytes();
};
const staged = (plan, route) => {
  const got = plan.hops.map((h) => `${h.backend} ${h.src.kind}→${h.dst.kind}`).join(', ');
  if (plan.hops.length !== 2 || plan.hostCopies !== 1 || got !== route) throw new Error(`unexpected plan: ${got}\n${plan.explain()}`);
};

await check('file → remote (soft file→host, rdma host→remote; content check)', async () => {
  const data = pattern(0x21, SIZE);
  const src = await mover.openFile(tempFile('a.bin', data));
  staged(mover.plan(remote, src), 'soft file→host, rdma host→remote');
  const r = await mover.transfer(remote, src);
  if (!same(await readRemote(), data)) throw new Error('remote bytes differ from the file');
  return `${r.chunks} chunks`;
});
await check('remote → file (rdma remote→host, soft host→file; content check)', async () => {
  const path = tempFile('b.bin', new Uint8Array(SIZE));
  const dst = await mover.openFile(path, { mode: 'rw' });
  staged(mover.plan(dst, remote), 'rdma remote→host, soft host→file');
  await mover.transfer(dst, remote);
  if (!same(new Uint8Array(readFileSync(path)), pattern(0x21, SIZE))) throw new Error('file bytes differ from the remote region');
});
await check("dax → remote (cxl dax→host, rdma host→remote; integrity: 'crc32c', content check)", async () => {
  const data = pattern(0x43, SIZE);
  const dax = await openDax(mover, tempFile('c.dax', data));
  const plan = mover.plan(remote, dax, { integrity: 'crc32c' });
  staged(plan, 'cxl dax→host, rdma host→remote');
  await mover.transfer(remote, dax, { integrity: 'crc32c' });
  if (!same(await readRemote(), data)) throw new Error('remote bytes differ from the dax region');
  return `checked by ${plan.integrity}`;
});
const s = mover.stats().plans;
ok('stats', JSON.stringify({ run: s.run, hops: s.hops, hostCopies: s.hostCopies, stagedBytes: s.stagedBytes }));
await ask(serverHost, PORT + 1, { t: 'done' });
await mover.close();
for (const p of files) rmSync(p, { force: true });
log(`${failures()} failure(s)`);
process.exit(failures() ? 1 : 0);
