import { describe, expect, it } from 'vitest';
import { RegistrationCache } from '../src/reg-cache.js';

function fake(opts: { maxIdle?: number; maxIdleBytes?: number } = {}) {
  const live = new Set<number>();
  let next = 1;
  const log: string[] = [];
  const cache = new RegistrationCache<{ id: number; start: number; end: number }>({
    register: (v) => {
      const mr = { id: next++, start: v.byteOffset, end: v.byteOffset + v.byteLength };
      live.add(mr.id);
      log.push(`reg ${mr.id} [${mr.start},${mr.end})`);
      return mr;
    },
    deregister: (mr) => {
      live.delete(mr.id);
      log.push(`dereg ${mr.id}`);
    },
    ...opts,
  });
  return { cache, live, log };
}

describe('registration cache', () => {
  it('reuses a registration for any sub-range of the same allocation', () => {
    const { cache, live } = fake();
    const buf = new ArrayBuffer(1 << 20);
    const whole = cache.acquire(new Uint8Array(buf));
    expect(whole.hit).toBe(false);
    const sub = cache.acquire(new Uint8Array(buf, 4096, 65536));
    expect(sub.hit).toBe(true);
    expect(sub.entry).toBe(whole.entry);
    expect(cache.stats).toMatchObject({ registrations: 1, hits: 1, bytesRegistered: 1 << 20, liveBytes: 1 << 20 });
    expect(live.size).toBe(1);
  });

  it('does not reuse across allocations or for ranges only partly covered', () => {
    const { cache } = fake();
    const a = new ArrayBuffer(8192);
    const b = new ArrayBuffer(8192);
    cache.acquire(new Uint8Array(a, 0, 4096));
    expect(cache.acquire(new Uint8Array(b, 0, 4096)).hit).toBe(false);
    expect(cache.acquire(new Uint8Array(a, 2048, 4096)).hit).toBe(false);
    expect(cache.stats.registrations).toBe(3);
  });

  it('keeps idle registrations for reuse and drops those a larger one covers', () => {
    const { cache, live, log } = fake();
    const buf = new SharedArrayBuffer(1 << 16);
    const small = cache.acquire(new Uint8Array(buf, 0, 4096));
    cache.release(small.entry);
    expect(live.size).toBe(1); // cached while idle
    expect(cache.acquire(new Uint8Array(buf, 0, 1024)).hit).toBe(true);
    const big = cache.acquire(new Uint8Array(buf, 0, 1 << 16));
    expect(big.hit).toBe(false);
    // the small one is still referenced by the 1024-byte acquisition, so it stays
    expect(live.size).toBe(2);
    cache.release(small.entry);
    const again = cache.acquire(new Uint8Array(buf, 8192, 100));
    expect(again.entry).toBe(big.entry);
    const idleSmall = cache.acquire(new Uint8Array(buf, 0, 10)); // smallest cover: the 4096 one
    expect(idleSmall.entry).toBe(small.entry);
    expect(log[0]).toBe('reg 1 [0,4096)');
  });

  it('drops idle registrations beyond the count and byte limits, least recently used first', () => {
    const { cache, live, log } = fake({ maxIdle: 2 });
    const bufs = [0, 1, 2, 3].map(() => new ArrayBuffer(4096));
    const entries = bufs.map((b) => cache.acquire(new Uint8Array(b)).entry);
    for (const e of entries) cache.release(e);
    expect(live.size).toBe(2);
    expect(log.filter((l) => l.startsWith('dereg'))).toEqual(['dereg 1', 'dereg 2']);
    const bytes = fake({ maxIdleBytes: 5000 });
    const x = bytes.cache.acquire(new Uint8Array(new ArrayBuffer(4096))).entry;
    const y = bytes.cache.acquire(new Uint8Array(new ArrayBuffer(4096))).entry;
    bytes.cache.release(x);
    bytes.cache.release(y);
    expect(bytes.live.size).toBe(1);
    expect(bytes.cache.stats.liveBytes).toBe(4096);
  });

  it('never deregisters a registration in use, and refuses an unbalanced release', () => {
    const { cache, live } = fake({ maxIdle: 0 });
    const buf = new ArrayBuffer(4096);
    const a = cache.acquire(new Uint8Array(buf));
    const b = cache.acquire(new Uint8Array(buf, 100, 100));
    cache.release(a.entry);
    expect(live.size).toBe(1); // still used through b
    cache.release(b.entry);
    expect(live.size).toBe(0);
    expect(() => cache.release(b.entry)).toThrow(/without acquire/);
  });

  it('measures registration time and clears everything', () => {
    const { cache, live } = fake();
    cache.acquire(new Uint8Array(new ArrayBuffer(100)));
    expect(cache.stats.registrationMs).toBeGreaterThanOrEqual(0);
    cache.clear();
    expect(live.size).toBe(0);
    expect(cache.size).toBe(0);
    expect(cache.stats.liveBytes).toBe(0);
  });
});
