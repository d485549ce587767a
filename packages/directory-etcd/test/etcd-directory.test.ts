import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { DatamoverError, ErrorCode, type DirectoryEvent } from '@datamover/core';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDirectory } from '../src/index.js';
import { EtcdServer } from '../src/etcd-server.js';
import { etcdMissing, until } from './helpers.js';

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(DatamoverError);
    return (e as DatamoverError).code;
  }
  return 'no error';
}

describe.skipIf(etcdMissing)('EtcdDirectory on a real etcd', () => {
  let etcd: EtcdServer;
  let raw: Etcd3;
  let n = 0;
  const prefix = () => `t${process.pid}-${++n}`;
  const open = (o: { prefix: string; agent: string; ttl?: number }) => EtcdDirectory.open({ endpoints: [etcd.endpoint], retryMs: 100, ...o });

  beforeAll(async () => {
    etcd = await EtcdServer.start();
    raw = new Etcd3({ hosts: etcd.endpoint });
  });
  afterAll(async () => {
    raw?.close();
    await etcd?.dispose();
  });

  it('publishes an agent and its regions; a peer looks them up; withdraw makes the agent PEER_GONE', async () => {
    const p = prefix();
    const a = await open({ prefix: p, agent: 'a' });
    const b = await open({ prefix: p, agent: 'b' });
    await a.publish({ host: '10.0.0.1', port: 4791, meta: { nodeId: 'ab'.repeat(16) } });
    await a.putRegion('kv0', 'tok0');
    await a.putRegion('kv1', 'tok1');
    expect(await b.lookup('a')).toEqual({ agent: 'a', host: '10.0.0.1', port: 4791, meta: { nodeId: 'ab'.repeat(16) }, regions: { kv0: 'tok0', kv1: 'tok1' } });
    expect(await b.lookupRegion('a', 'kv1')).toBe('tok1');
    expect(await code(b.lookupRegion('a', 'nope'))).toBe(ErrorCode.ACCESS_REVOKED);
    await a.deleteRegion('kv0');
    expect(await code(b.lookupRegion('a', 'kv0'))).toBe(ErrorCode.ACCESS_REVOKED);
    expect((await b.list()).map((r) => r.agent)).toEqual(['a']);
    await a.withdraw();
    expect(await code(b.lookup('a'))).toBe(ErrorCode.PEER_GONE);
    expect(await code(b.lookupRegion('a', 'kv1'))).toBe(ErrorCode.PEER_GONE);
    await a.close();
    await b.close();
  });

  it('a killed agent process disappears within its lease TTL: PEER_GONE', async () => {
    const p = prefix();
    const ttl = 2;
    const child = spawn(process.execPath, [fileURLToPath(new URL('fixtures/agent.mjs', import.meta.url)), etcd.endpoint, p, 'victim', String(ttl)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    const b = await open({ prefix: p, agent: 'b' });
    expect(await b.lookupRegion('victim', 'kv')).toBe('AAAA');
    const gone: DirectoryEvent[] = [];
    b.watch((e) => gone.push(e));
    const killed = Date.now();
    process.kill(child.pid!, 'SIGKILL');
    await until(async () => (await code(b.lookup('victim'))) === ErrorCode.PEER_GONE, (ttl + 2) * 1000, 'the lease to expire');
    const ms = Date.now() - killed;
    console.log(`killed agent gone after ${ms} ms (ttl ${ttl} s)`);
    // etcd expires a lease at its TTL, checked about every 500 ms.
    expect(ms).toBeLessThanOrEqual(ttl * 1000 + 1500);
    await until(() => gone.some((e) => e.type === 'agent-gone' && e.agent === 'victim'), 2000, 'the watch event');
    expect(gone).toContainEqual({ type: 'region-gone', agent: 'victim', name: 'kv' });
    await b.close();
  });

  it('watches report agents and regions coming and going', async () => {
    const p = prefix();
    const a = await open({ prefix: p, agent: 'a' });
    const b = await open({ prefix: p, agent: 'b' });
    const seen: DirectoryEvent[] = [];
    const stop = b.watch((e) => seen.push(e));
    await a.publish({ host: '127.0.0.1', port: 1 });
    await a.putRegion('r', 'tok');
    await a.putRegion('r', 'tok2');
    await a.deleteRegion('r');
    await until(() => seen.length >= 4, 5000, 'four events');
    expect(seen).toEqual([
      { type: 'agent', agent: 'a', address: { host: '127.0.0.1', port: 1 } },
      { type: 'region', agent: 'a', name: 'r', token: 'tok' },
      { type: 'region', agent: 'a', name: 'r', token: 'tok2' },
      { type: 'region-gone', agent: 'a', name: 'r' },
    ]);
    stop();
    await a.close(); // revokes the lease: its keys go at once
    expect(await code(b.lookup('a'))).toBe(ErrorCode.PEER_GONE);
    expect(seen).toHaveLength(4);
    await b.close();
  });

  it('prefixes isolate tenants: an agent under one prefix never sees another prefix', async () => {
    const p = prefix();
    const a = await open({ prefix: `${p}/a`, agent: 'x' });
    const ab = await open({ prefix: `${p}/ab`, agent: 'y' });
    const seen: DirectoryEvent[] = [];
    ab.watch((e) => seen.push(e));
    await a.publish({ host: '127.0.0.1', port: 2 });
    await a.putRegion('secret', 'tok');
    await ab.publish({ host: '127.0.0.1', port: 3 });
    await until(() => seen.length >= 1, 5000, 'own event');
    expect(await code(ab.lookup('x'))).toBe(ErrorCode.PEER_GONE);
    expect((await ab.list()).map((r) => r.agent)).toEqual(['y']);
    expect((await a.list()).map((r) => r.agent)).toEqual(['x']);
    expect(seen.every((e) => e.agent === 'y')).toBe(true);
    await a.close();
    await ab.close();
  });

  it('putRegions: 300 regions in transactions of at most 128 puts, seen by a peer; a bad entry refuses the batch; lease expiry removes them all', async () => {
    const p = prefix();
    const ttl = 2;
    const count = async (agent: string) => Number(await raw.getAll().prefix(`${p}/regions/${agent}/`).count());
    const child = spawn(process.execPath, [fileURLToPath(new URL('fixtures/agent.mjs', import.meta.url)), etcd.endpoint, p, 'victim', String(ttl), '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    const b = await open({ prefix: p, agent: 'b' });
    const names = Array.from({ length: 300 }, (_, i) => `b${i}`);
    expect(await b.lookupRegions('victim', names)).toEqual(names.map((_, i) => `tok${i}`));
    expect(Object.keys((await b.lookup('victim')).regions)).toHaveLength(301);
    expect(await count('victim')).toBe(301);
    expect(await code(b.lookupRegions('victim', ['b1', 'none']))).toBe(ErrorCode.ACCESS_REVOKED);
    expect(await code(b.lookupRegions('victim', ['b1', '../x']))).toBe(ErrorCode.INVALID_ARGUMENT);

    // One bad entry anywhere refuses the batch before anything is written.
    const c = await open({ prefix: p, agent: 'c' });
    await c.publish({ host: '127.0.0.1', port: 2 });
    const good = Array.from({ length: 200 }, (_, i) => [`g${i}`, `tok${i}`] as const);
    expect(await code(c.putRegions([...good, ['bad/name', 'tok']]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(c.putRegions([...good.slice(0, 150), ['g999', 'not a token!'], ...good.slice(150)]))).toBe(ErrorCode.INVALID_TOKEN);
    expect(await code(c.putRegions([...good, ['g3', 'again']]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(c.putRegions('g0' as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await count('c')).toBe(0);
    await c.close();
    // A smaller server limit: batches are cut to it.
    const d = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix: p, agent: 'd', maxTxnOps: 2 });
    await d.publish({ host: '127.0.0.1', port: 3 });
    await d.putRegions(good.slice(0, 5));
    expect(await count('d')).toBe(5);
    await d.close();
    // …and a limit above the server's is refused by etcd: why batches are cut.
    const e = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix: p, agent: 'e', maxTxnOps: 1000 });
    await e.publish({ host: '127.0.0.1', port: 4 });
    expect(await code(e.putRegions(names.map((n) => [n, 'tok'])))).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect(await count('e')).toBe(0);
    await e.close();

    // The agent dies: its lease takes every region with it.
    process.kill(child.pid!, 'SIGKILL');
    const ms = await until(async () => (await count('victim')) === 0, (ttl + 2) * 1000, 'the lease to take the batch');
    console.log(`killed agent's 301 regions gone after ${ms} ms (ttl ${ttl} s)`);
    expect(await code(b.lookupRegions('victim', names))).toBe(ErrorCode.PEER_GONE);
    await b.close();
  });

  it('bad names, endpoints and malformed entries are typed errors', async () => {
    const p = prefix();
    expect(await code(open({ prefix: p, agent: '../x' }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(open({ prefix: 'a//b', agent: 'x' }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(open({ prefix: p, agent: 'x', ttl: 0 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(EtcdDirectory.open({ endpoints: ['127.0.0.1:2379'], agent: 'x' }))).toBe(ErrorCode.INVALID_ARGUMENT);
    const b = await open({ prefix: p, agent: 'b' });
    expect(await code(b.lookup('a/b'))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(b.lookupRegion('a', ''))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(b.putRegion('r', 'tok'))).toBe(ErrorCode.INVALID_ARGUMENT); // before publish()
    await b.publish({ host: '127.0.0.1', port: 9 });
    expect(await code(b.putRegion('r', 'not a token!'))).toBe(ErrorCode.INVALID_TOKEN);
    expect(await code(b.publish({ host: '127.0.0.1', port: 70000 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    // What another writer of the prefix may leave there.
    await raw.put(`${p}/agents/evil`).value('{not json');
    await raw.put(`${p}/agents/odd`).value(JSON.stringify({ host: 1, port: 2 }));
    await raw.put(`${p}/agents/ok`).value(JSON.stringify({ host: '127.0.0.1', port: 2 }));
    await raw.put(`${p}/regions/ok/bad`).value('sp ace');
    expect(await code(b.lookup('evil'))).toBe(ErrorCode.INVALID_TOKEN);
    expect(await code(b.lookup('odd'))).toBe(ErrorCode.INVALID_TOKEN);
    expect(await code(b.lookupRegion('ok', 'bad'))).toBe(ErrorCode.INVALID_TOKEN);
    expect((await b.list()).map((r) => r.agent)).toEqual(['b', 'ok']);
    await b.close();
    expect(await code(b.lookup('ok'))).toBe(ErrorCode.BACKEND_UNAVAILABLE);
  });

  it('accepts several endpoints, and opening against no live etcd is BACKEND_UNAVAILABLE', async () => {
    const p = prefix();
    const dead = 'http://127.0.0.1:9';
    const a = await EtcdDirectory.open({ endpoints: [dead, etcd.endpoint], prefix: p, agent: 'a' });
    for (let i = 0; i < 4; i++) await a.publish({ host: '127.0.0.1', port: i });
    expect((await a.lookup('a')).port).toBe(3);
    await a.close();
    expect(await code(EtcdDirectory.open({ endpoints: [dead], prefix: p, agent: 'a', dialTimeout: 500 }))).toBe(ErrorCode.BACKEND_UNAVAILABLE);
  });

  it('a put on a lease etcd no longer knows renews the lease and puts everything again', async () => {
    const p = prefix();
    const a = await open({ prefix: p, agent: 'a', ttl: 30 });
    await a.publish({ host: '127.0.0.1', port: 6 });
    await a.putRegion('r0', 'tok0');
    const kv = (await raw.get(`${p}/agents/a`).exec()).kvs[0]!;
    // What a starved process finds: its lease expired (here: revoked behind its back) before the keep-alive noticed.
    await raw.leaseClient.leaseRevoke({ ID: kv.lease });
    await a.putRegion('r1', 'tok1');
    expect(a.renewals).toBe(1);
    const b = await open({ prefix: p, agent: 'b' });
    expect(await b.lookup('a')).toMatchObject({ port: 6, regions: { r0: 'tok0', r1: 'tok1' } });
    await a.close();
    await b.close();
  });

  for (const wipe of [false, true]) {
    it(`keeps its registrations across an etcd restart ${wipe ? 'that lost its data' : 'with its data'}`, async () => {
      const p = prefix();
      const a = await open({ prefix: p, agent: 'a', ttl: 2 });
      await a.publish({ host: '127.0.0.1', port: 5 });
      await a.putRegion('r0', 'tok0');
      await etcd.restart({ wipe });
      const b = await open({ prefix: p, agent: 'b' });
      const ms = await until(async () => (await b.lookupRegion('a', 'r0').catch(() => '')) === 'tok0', 20_000, 'a registration to come back');
      console.log(`after an etcd restart (${wipe ? 'wiped' : 'kept data'}): registrations visible after ${ms} ms, renewals ${a.renewals}`);
      if (wipe) expect(a.renewals).toBeGreaterThanOrEqual(1);
      // Still alive on its lease (kept alive, not just re-put once), and still publishing.
      await new Promise((r) => setTimeout(r, 3000));
      await until(async () => (await a.putRegion('r1', 'tok1').then(() => true, () => false)), 10_000, 'a put after the restart');
      expect(await b.lookup('a')).toMatchObject({ regions: { r0: 'tok0', r1: 'tok1' } });
      await a.close();
      await b.close();
    });
  }
});
