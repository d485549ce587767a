/**
 * RegionExchange over a real etcd: exports by name, cached imports that the watch invalidates,
 * revocation, a gone peer. The transport here is an in-process stand-in for rdma (which needs an
 * RDMA device: the lab runs that part): its tokens name host buffers of this process, and it
 * refuses revoked ones with ACCESS_REVOKED, as rdma does.
 */
import { DatamoverError, datamoverError, ErrorCode, Mover, RegionExchange, type Region, type RemoteTransport } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDirectory } from '../src/index.js';
import { EtcdServer } from '../src/etcd-server.js';
import { etcdMissing, until } from './helpers.js';

class LoopbackTransport implements RemoteTransport {
  readonly #live = new Map<string, Region>();
  #next = 0;
  imports = 0;
  export(region: Region): string {
    const token = `t${++this.#next}`;
    this.#live.set(token, region);
    return token;
  }
  async import(token: string): Promise<Region> {
    this.imports++;
    const r = this.#live.get(token);
    if (!r) throw datamoverError(ErrorCode.ACCESS_REVOKED, `stand-in: ${token} was revoked`);
    return r;
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

  it('imports by name, caches, drops the cache on revoke / re-export / peer gone', async () => {
    const prefix = `x${process.pid}`;
    const a = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix, agent: 'a' });
    const b = await EtcdDirectory.open({ endpoints: [etcd.endpoint], prefix, agent: 'b' });
    await a.publish({ host: '127.0.0.1', port: 1 });
    // One fabric: what a exports, b's imports reach.
    const t = new LoopbackTransport();
    const ea = new RegionExchange(a, t);
    const eb = new RegionExchange(b, t);

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
    expect(await eb.importRegion('a', 'kv')).toBe(src2);
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
});
