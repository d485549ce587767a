import { etcdMissing as missing } from '../src/etcd-server.js';

/** Why the etcd tests skip (printed), or undefined when etcd runs here. */
export const etcdMissing = missing();
if (etcdMissing) console.warn(`skipping etcd tests: ${etcdMissing}`);

/** Polls `f` until it returns true (or throws when `ms` passes); returns the milliseconds it took. */
export async function until(f: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await f()) return Date.now() - start;
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
