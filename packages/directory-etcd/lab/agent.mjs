// One agent of the directory lab scenario: `node lab/agent.mjs server|client <etcd endpoint>`, one per
// guest (--peers 2). Each listens on rdma, publishes itself through etcd, exports a region filled
// with its own pattern, finds the other agent through the directory, imports its region and READs
// it (content check), and WRITEs into the other's sink (checked there): data both ways. Then the
// client publishes 'done'; the server sees it through its watch and SIGKILLs itself; the client
// must see PEER_GONE within the lease TTL. Prints "OK <check>" / "FAIL <check>: why".
import { Mover, RegionExchange } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { rdma, rdmaTransport } from '@datamover/backend-rdma';
import { EtcdDirectory } from '../dist/index.js';

const [role, endpoint] = process.argv.slice(2);
const self = process.env.LAB_SELF;
const peerHost = process.env.LAB_PEER;
const other = role === 'server' ? 'client' : 'server';
const TTL = 10; // guests under TCG are slow: a short lease would expire while they are starved of CPU
const SIZE = 1 << 20;
const t0 = Date.now();
let failures = 0;
const log = (s) => console.log(`[${role} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
const check = async (name, f) => {
  try {
    const d = await f();
    log(`OK ${name}${d ? ` (${d})` : ''}`);
  } catch (e) {
    failures++;
    log(`FAIL ${name}: ${e?.code ?? ''} ${e?.message ?? e}`);
  }
};
const until = async (f, ms) => {
  let last;
  for (const end = Date.now() + ms; ; ) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      if (Date.now() > end) throw e;
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms${last ? ` (last error: ${last.code ?? ''} ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const mover = await Mover.open({ backends: [rdma({ peerAuth: { secret: process.env.RDMA_LAB_SECRET }, allowHosts: [peerHost] }), soft()] });
const where = await rdma.listen(mover, { host: '0.0.0.0', port: 18700, advertise: self });
const directory = await until(() => EtcdDirectory.open({ endpoints: [endpoint], prefix: 'lab', agent: role, ttl: TTL, dialTimeout: 2000 }), 30_000);
await directory.publish({ host: where.host, port: where.port, meta: { nodeId: rdma.nodeId(mover) } });
const exchange = new RegionExchange(directory, rdmaTransport(mover));
const src = mover.alloc(SIZE, { alignment: 4096 });
await mover.fill(src, role === 'server' ? 0xa5 : 0x3c);
const sink = mover.alloc(SIZE, { alignment: 4096 });
await exchange.exportRegion('src', src);
await exchange.exportRegion('sink', sink, { access: 'read-write' });
log(`published at ${where.host}:${where.port}`);

await check(`found ${other} through etcd`, async () => {
  const r = await until(() => directory.lookup(other).then((r) => (r.regions.sink ? r : undefined)), 60_000);
  return `${r.host}:${r.port}, regions ${Object.keys(r.regions).join(',')}`;
});
const theirs = role === 'server' ? 0x3c : 0xa5;
await check(`READ ${other}'s region (content check)`, async () => {
  const remote = await exchange.importRegion(other, 'src');
  const local = mover.alloc(SIZE, { alignment: 4096 });
  const start = performance.now();
  await mover.copy(local, remote);
  const expected = mover.alloc(SIZE);
  await mover.fill(expected, theirs);
  const cmp = await mover.compare(local, expected);
  if (!cmp.equal) throw new Error(`differs at ${cmp.offset}`);
  return `${(performance.now() - start).toFixed(1)} ms`;
});
await check(`WRITE into ${other}'s sink`, async () => {
  await mover.copy(await exchange.importRegion(other, 'sink'), src);
});
await check(`${other} wrote into our sink (content check)`, async () => {
  const expected = mover.alloc(SIZE);
  await mover.fill(expected, theirs);
  await until(async () => ((await mover.compare(sink, expected)).equal ? true : undefined), 30_000);
});
await check('1,000 regions published and resolved', async () => {
  const start = Date.now();
  // One batch: 8 transactions of ≤ 128 puts (a thousand single puts at once overload etcd in a TCG guest).
  const names = Array.from({ length: 1000 }, (_, i) => `r${i}`);
  await directory.putRegions(names.map((n) => [n, 'AAAA']));
  const published = Date.now() - start;
  log(`published 1,000 in ${published} ms (lease renewals so far: ${directory.renewals})`);
  const tokens = await until(() => directory.lookupRegions(other, names), 60_000);
  return `published in ${published} ms, the other's ${tokens.length} resolved ${Date.now() - start} ms after starting (lease renewals: ${directory.renewals})`;
});

if (role === 'server') {
  await until(() => directory.lookupRegion('client', 'done').then(() => true), 120_000);
  log('client is done: SIGKILL');
  process.kill(process.pid, 'SIGKILL');
} else {
  await directory.putRegion('done', 'AAAA');
  await check(`server killed → PEER_GONE within the ${TTL} s TTL`, async () => {
    // The server kills itself once it reads 'done': wait until it has gone, then time the lease.
    const start = Date.now();
    const code = await until(() => exchange.importRegion('server', 'src').then(() => undefined, (e) => (e.code === 'PEER_GONE' ? e.code : undefined)), (TTL + 10) * 1000);
    const ms = Date.now() - start;
    if (ms > (TTL + 3) * 1000) throw new Error(`took ${ms} ms`);
    return `${code} after ${ms} ms`;
  });
  exchange.close();
  await directory.close();
  await mover.close();
  log(failures ? `${failures} failures` : 'all checks passed');
  process.exit(failures ? 1 : 0);
}
