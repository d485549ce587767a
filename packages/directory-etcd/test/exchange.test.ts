/**
 * RegionExchange over a real etcd: exports by name, cached imports that the watch invalidates,
 * revocation, a gone peer, batches, and imports released when they leave the cache. The transport
 * here is an in-process stand-in for rdma (which needs an RDMA device: the lab runs that part): its
 * tokens name host regions of this process, an import is a registration of its own over the same
 * bytes (as an rdma import is a registration of its own), and it refuses revoked tokens with
 * ACCESS_REVOKED, as rdma does.
 */
import { DatamoverError, datamoverError, DirectoryHub, ErrorCode, MemoryDirectory, Mover, RegionExchange, type Region, type RemoteTransport } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDirectory } from '../src/index.js';
import { EtcdServer } from '../src/etcd-server.js';
import { etcdMissing, until } from './helpers.js';

class LoopbackTransport implements RemoteTransport {
  readonly #live = new Map<string, Region>();
  #next = 0;
  imports = 0;
  constructor(readonly mover: Mover) {}
  export(region: Region): string {
    const token = `t${++this.#next}`;
    this.#live.set(token, region);
    return token;
  }
  async import(token: string): Promise<Region> {
    this.imports++;
    const r = this.#live.get(token);
    if (!r) throw datamoverError(ErrorCode.ACCESS_REVOKED, `stand-in: ${token} was revoked`);
    return this.mover.wrap(r.bytes());
  }
  revoke(token: string): void {
    this.#live.delete(token);
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: unknown) => (e instanceof DatamoverError ? e.code : String(e)),
  );
}

describe.skipIf(etcdMissing)('RegionExchange on EtcdDirectory', () => {
  let etcd: EtcdServer;
  let mover: Mover;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    mover = await Mover.open({ backends: [soft()] });
  });
  afterAll(async () => {
    await mover?.close();
    await etcd?.dispose();
  });

  // Agents a (published) and b under one prefix, and one fabric: what a exports, b's imports reach.
  async function agents(prefix: string) {
    const a = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix, agent: 'a' });
    const b = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix, agent: 'b' });
    await a.publish({ host: '127.0.0.1', port: 1 });
    const t = new LoopbackTransport(mover);
    return { a, b, t, ea: new RegionExchange(a, t), eb: new RegionExchange(b, t) };
  }

  it('imports by name, caches, drops the cache on revoke / re-export / peer gone', async () => {
    const { a, b, t, ea, eb } = await agents(`x${process.pid}`);

    const src = mover.alloc(64);
    await mover.fill(src, 0x5a);
    await ea.exportRegion('kv', src);
    const got = await eb.importRegion('a', 'kv');
    const dst = mover.alloc(64);
    await mover.copy(dst, got);
    expect(await mover.compare(dst, src)).toEqual({ equal: true });
    expect(await eb.importRegion('a', 'kv')).toBe(got);
    expect(t.imports).toBe(1);

    // Re-export under the same name: the watch drops the cached import; the old token is revoked.
    const src2 = mover.alloc(64);
    await ea.exportRegion('kv', src2);
    await until(() => eb.cached === 0, 5000, 'the watch to drop the cached import');
    // The dropped import is released (nothing was in flight): its registration is gone.
    await until(() => !got.live, 5000, 'the dropped import to be released');
    await mover.fill(src2, 0x33);
    await mover.copy(dst, await eb.importRegion('a', 'kv'));
    expect(await mover.compare(dst, src2)).toEqual({ equal: true });
    expect(await code(t.import('t1'))).toBe(ErrorCode.ACCESS_REVOKED);

    // Revoke: key gone, export revoked, cache dropped, later imports ACCESS_REVOKED.
    await ea.revoke('kv');
    expect(await code(t.import('t2'))).toBe(ErrorCode.ACCESS_REVOKED);
    await until(() => eb.cached === 0, 5000, 'the watch to drop the revoked import');
    expect(await code(eb.importRegion('a', 'kv'))).toBe(ErrorCode.ACCESS_REVOKED);
    expect(eb.cached).toBe(0); // failures are not cached

    // The peer goes: cached imports of it are dropped, and it is PEER_GONE.
    await ea.exportRegion('kv2', src);
    await eb.importRegion('a', 'kv2');
    expect(eb.cached).toBe(1);
    ea.close();
    await a.close();
    await until(() => eb.cached === 0, 5000, 'the watch to drop the gone peer');
    expect(await code(eb.importRegion('a', 'kv2'))).toBe(ErrorCode.PEER_GONE);
    expect(await code(eb.importRegion('a', '../kv2'))).toBe(ErrorCode.INVALID_ARGUMENT);
    eb.close();
    await b.close();
  });

  it('exports and imports a batch of 300 regions by name; a bad name refuses the batch', async () => {
    const { a, b, t, ea, eb } = await agents(`y${process.pid}`);
    const srcs = Array.from({ length: 300 }, () => mover.alloc(16));
    await Promise.all(srcs.map((r, i) => mover.fill(r, i & 0xff)));
    const names = srcs.map((_, i) => `r${i}`);
    const tokens = await ea.exportRegions(srcs.map((region, i) => ({ name: names[i] as string, region })));
    expect(new Set(tokens).size).toBe(300);
    const got = await eb.importRegions('a', names);
    expect(t.imports).toBe(300);
    expect(new Set(got).size).toBe(300);
    const dst = mover.alloc(16);
    for (const i of [0, 127, 128, 299]) {
      await mover.copy(dst, got[i] as Region);
      expect(await mover.compare(dst, srcs[i] as Region)).toEqual({ equal: true });
    }
    // Cached now: the same handles, no new imports.
    expect((await eb.importRegions('a', ['r5', 'r5', 'r299']))[2]).toBe(got[299]);
    expect(t.imports).toBe(300);

    // A bad name: nothing published, what was exported for the batch revoked again.
    const extra = mover.alloc(16);
    expect(await code(ea.exportRegions([{ name: 'ok', region: extra }, { name: 'a/b', region: extra }]))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await code(b.lookupRegion('a', 'ok'))).toBe(ErrorCode.ACCESS_REVOKED);
    expect(await code(t.import(`t${tokens.length + 1}`))).toBe(ErrorCode.ACCESS_REVOKED);
    expect(await code(eb.importRegions('a', ['r1', 'nope']))).toBe(ErrorCode.ACCESS_REVOKED);

    // The peer goes: every cached import is dropped and released.
    ea.close();
    await a.close();
    // (Region counts would also see this file's other regions being collected: liveness says it.)
    await until(() => eb.cached === 0 && got.every((r) => !r.live), 5000, 'the gone peer\'s imports to be released');
    eb.close();
    await b.close();
    await Promise.all([...srcs, dst, extra].map((r) => r.release()));
  });
});

describe('RegionExchange releases imports that leave its cache', () => {
  let mover: Mover;
  beforeAll(async () => {
    mover = await Mover.open({ backends: [soft()] });
  });
  afterAll(async () => {
    await mover?.close();
  });
  // MemoryDirectory tells watchers synchronously, so the drop happens at a known point.
  async function pair(): Promise<{ a: MemoryDirectory; ea: RegionExchange; eb: RegionExchange; t: LoopbackTransport }> {
    const hub = new DirectoryHub();
    const a = new MemoryDirectory({ agent: 'a', hub });
    await a.publish({ host: '127.0.0.1', port: 1 });
    const t = new LoopbackTransport(mover);
    return { a, ea: new RegionExchange(a, t), eb: new RegionExchange(new MemoryDirectory({ agent: 'b', hub }), t), t };
  }

  it('work in flight on a dropped import finishes; the import is released when it settles', async () => {
    const { ea, eb } = await pair();
    const n = 8 << 20;
    const src = mover.alloc(n);
    await mover.fill(src, 0x7e);
    await ea.exportRegion('big', src);
    const got = await eb.importRegion('a', 'big');
    const regions = mover.stats().regions;
    const dst = mover.alloc(n);
    const batch = mover.batch();
    for (let i = 0; i < 32; i++) batch.copy(dst, got);
    const done = batch.submit();
    await ea.revoke('big'); // region-gone: eb drops and retires its import
    await Promise.resolve();
    expect(eb.cached).toBe(0);
    expect(got.live).toBe(false);
    expect(mover.stats().regions).toBe(regions + 1); // + dst; the import's memory waits for the batch
    expect((await done).ok).toBe(true);
    expect(await mover.compare(dst, src)).toEqual({ equal: true });
    expect(mover.stats().regions).toBe(regions); // import freed, dst stays
    ea.close();
    eb.close();
    // Released here, not left to the collector, whose timing would move the next test's counts.
    await Promise.all([src, dst].map((r) => r.release()));
  });

  it('a slice of a dropped import stays usable until it is released; close() retires the rest', async () => {
    const { a, ea, eb } = await pair();
    const src = mover.alloc(64);
    await mover.fill(src, 0x11);
    await ea.exportRegions([
      { name: 'x', region: src },
      { name: 'y', region: src },
    ]);
    const [x, y] = (await eb.importRegions('a', ['x', 'y'])) as [Region, Region];
    const regions = mover.stats().regions;
    const slice = x.slice(0, 16);
    a.forget('a'); // the peer goes: agent-gone drops both imports
    await Promise.resolve();
    expect(eb.cached).toBe(0);
    expect(y.live).toBe(false);
    expect(x.live).toBe(true); // held by its slice
    const dst = mover.alloc(16);
    await mover.copy(dst, slice);
    expect(mover.stats().regions).toBe(regions); // y gone (-1), dst (+1)
    await slice.release();
    expect(x.live).toBe(false);
    expect(mover.stats().regions).toBe(regions - 1);

    // close(): cached imports are retired too.
    const { ea: ea2, eb: eb2 } = await pair();
    await ea2.exportRegion('z', src);
    const z = await eb2.importRegion('a', 'z');
    eb2.close();
    await Promise.resolve();
    expect(z.live).toBe(false);
    ea.close();
    eb.close();
    ea2.close();
    await Promise.all([src, dst].map((r) => r.release()));
  });
});
