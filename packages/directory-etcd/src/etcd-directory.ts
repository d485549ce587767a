/**
 * A PeerDirectory on etcd. Every agent holds one lease, kept alive by the client; its agent key
 * and region keys are put on that lease, so when the agent dies they expire within the TTL and
 * lookups answer PEER_GONE. The directory remembers what it published: when the lease is lost
 * (etcd restarted without its data, or unreachable for longer than twice the TTL) it grants a
 * new one and puts everything again, retrying until etcd answers or the directory is closed.
 */
import { checkAddress, checkName, checkPrefix, checkRegionNames, checkRegions, checkToken, datamoverError, DatamoverError, encodeAddress, ErrorCode, peerGone, regionOf, regionsOf, decodeAddress } from '@datamover/core';
import type { AgentAddress, AgentRecord, DirectoryEvent, PeerDirectory, RegionEntries } from '@datamover/core';
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Lease, type Watcher } from 'etcd3';
import { KeySpace } from './keys.js';

export interface EtcdDirectoryOptions {
  /** etcd endpoints, e.g. ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'] (several: one cluster). */
  readonly endpoints: readonly string[] | string;
  /** Key prefix (tenant): agents see only agents under the same prefix. Default 'datamover'. */
  readonly prefix?: string;
  /** This agent's name. */
  readonly agent: string;
  /** Lease TTL in seconds (default 10): how long a dead agent stays listed at most. */
  readonly ttl?: number;
  /** How long a call waits for a connection, ms (default 5000). */
  readonly dialTimeout?: number;
  /** Delay between attempts to re-grant a lost lease, ms (default 500). */
  readonly retryMs?: number;
  /** Most operations in one etcd transaction: the server's --max-txn-ops (default 128). Batches are split to fit. */
  readonly maxTxnOps?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** An etcd failure as BACKEND_UNAVAILABLE (a DatamoverError passes through). */
function unavailable(what: string, e: unknown): DatamoverError {
  if (e instanceof DatamoverError) return e;
  return datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `directory-etcd: ${what} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e, detail: { backend: 'etcd' } });
}

export class EtcdDirectory implements PeerDirectory {
  readonly agent: string;
  readonly prefix: string;
  readonly ttl: number;
  readonly #keys: KeySpace;
  readonly #client: Etcd3;
  readonly #retryMs: number;
  readonly #maxTxnOps: number;
  readonly #listeners = new Set<(e: DirectoryEvent) => void>();
  #lease: Lease | undefined;
  #watcher: Watcher | undefined;
  #address: AgentAddress | undefined;
  readonly #regions = new Map<string, string>();
  #renewing: Promise<void> | undefined;
  #closed = false;
  /** How many times a lost lease was re-granted (and everything put again). */
  renewals = 0;

  private constructor(options: EtcdDirectoryOptions) {
    this.agent = checkName('agent', options.agent);
    this.prefix = checkPrefix(options.prefix ?? 'datamover');
    const ttl = options.ttl ?? 10;
    if (!Number.isInteger(ttl) || ttl < 1) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory-etcd: ttl must be a whole number of seconds ≥ 1, got ${ttl}`);
    this.ttl = ttl;
    const endpoints = typeof options.endpoints === 'string' ? [options.endpoints] : options.endpoints;
    if (!Array.isArray(endpoints) || endpoints.length === 0 || endpoints.some((e) => typeof e !== 'string' || !/^https?:\/\/[^/\s]+$/.test(e))) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory-etcd: endpoints must be one or more http(s)://host:port, got ${JSON.stringify(options.endpoints)}`);
    }
    this.#retryMs = options.retryMs ?? 500;
    const maxTxnOps = options.maxTxnOps ?? 128;
    if (!Number.isInteger(maxTxnOps) || maxTxnOps < 2) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory-etcd: maxTxnOps must be a whole number ≥ 2, got ${maxTxnOps}`);
    this.#maxTxnOps = maxTxnOps;
    this.#keys = new KeySpace(this.prefix);
    this.#client = new Etcd3({ hosts: [...endpoints], dialTimeout: options.dialTimeout ?? 5000 });
  }

  /** Connects, grants this agent's lease and starts watching the prefix. BACKEND_UNAVAILABLE when etcd does not answer. */
  static async open(options: EtcdDirectoryOptions): Promise<EtcdDirectory> {
    const d = new EtcdDirectory(options);
    try {
      d.#lease = await d.#grant();
      d.#watcher = await d.#client.watch().prefix(d.#keys.root).create();
    } catch (e) {
      d.#closed = true;
      d.#client.close();
      throw unavailable(`connecting to ${JSON.stringify(options.endpoints)}`, e);
    }
    d.#watcher.on('put', (kv) => d.#emit(kv.key.toString(), kv.value.toString()));
    d.#watcher.on('delete', (kv) => d.#emit(kv.key.toString(), undefined));
    // The watch manager reconnects by itself; an error is reported, not thrown.
    d.#watcher.on('error', () => undefined);
    return d;
  }

  async publish(address: AgentAddress): Promise<void> {
    const a = checkAddress(address, 'address');
    this.#address = a;
    await this.#put([[this.#keys.agent(this.agent), encodeAddress(a)]], 'publish');
  }

  async putRegion(name: string, token: string): Promise<void> {
    await this.putRegions([[name, token]]);
  }

  /**
   * One transaction of puts on the lease per maxTxnOps regions, sent together. Each transaction is
   * atomic; a batch that fails part-way (etcd lost) is reported failed and may be partly visible
   * until the agent puts it again or its lease ends. The regions are remembered first, so a
   * renewed lease puts them all.
   */
  async putRegions(regions: RegionEntries): Promise<void> {
    const checked = checkRegions(regions);
    if (!this.#address) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory-etcd: publish() agent ${this.agent} before its regions`);
    for (const [name, token] of checked) this.#regions.set(name, token);
    await this.#put(
      checked.map(([name, token]) => [this.#keys.region(this.agent, name), token]),
      'putRegions',
    );
  }

  async deleteRegion(name: string): Promise<void> {
    checkName('region', name);
    this.#regions.delete(name);
    await this.#call('deleteRegion', () => this.#client.delete().key(this.#keys.region(this.agent, name)).exec());
  }

  /** The agent key and its region keys read in one transaction: one consistent snapshot, one round trip. */
  async lookup(agent: string): Promise<AgentRecord> {
    checkName('agent', agent);
    const prefix = this.#keys.regions(agent);
    const [address, regions] = await this.#call('lookup', async () => {
      const ops = await Promise.all([this.#client.get(this.#keys.agent(agent)).op(), this.#client.getAll().prefix(prefix).op()]);
      const { responses } = await this.#client.kv.txn({ compare: [], success: ops, failure: [] });
      const kvs = (i: number): IKeyValue[] => responses[i]?.response_range.kvs ?? [];
      return [kvs(0)[0]?.value.toString() ?? null, Object.fromEntries(kvs(1).map((kv) => [kv.key.toString(), kv.value.toString()]))] as const;
    });
    if (address === null) throw peerGone(agent);
    return this.#record(agent, decodeAddress(address), regions, prefix);
  }

  /** One lookup (a single read of the agent's keys), however many names. */
  async lookupRegions(agent: string, names: readonly string[]): Promise<string[]> {
    checkName('agent', agent);
    checkRegionNames(names);
    return regionsOf(await this.lookup(agent), names).map(checkToken);
  }

  async lookupRegion(agent: string, name: string): Promise<string> {
    checkName('agent', agent);
    checkName('region', name);
    const [address, token] = await this.#call('lookupRegion', () => Promise.all([this.#client.get(this.#keys.agent(agent)).string(), this.#client.get(this.#keys.region(agent, name)).string()]));
    if (address === null) throw peerGone(agent);
    return checkToken(regionOf({ agent, host: '', port: 0, regions: token === null ? {} : { [name]: token } }, name));
  }

  /** Every agent under the prefix; entries that do not parse are left out. */
  async list(): Promise<AgentRecord[]> {
    const all = await this.#call('list', () => this.#client.getAll().prefix(this.#keys.root).strings());
    const out: AgentRecord[] = [];
    for (const [key, value] of Object.entries(all)) {
      const e = this.#keys.event(key, value);
      if (e?.type !== 'agent') continue;
      const regions = this.#keys.regions(e.agent);
      out.push(this.#record(e.agent, e.address, Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith(regions))), regions));
    }
    return out.sort((a, b) => (a.agent < b.agent ? -1 : 1));
  }

  watch(listener: (event: DirectoryEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async withdraw(): Promise<void> {
    this.#address = undefined;
    this.#regions.clear();
    await this.#call('withdraw', () => Promise.all([this.#client.delete().key(this.#keys.agent(this.agent)).exec(), this.#client.delete().prefix(this.#keys.regions(this.agent)).exec()]));
  }

  /** Revokes the lease (its keys go at once), stops watching and closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    try {
      await this.#watcher?.cancel();
      await this.#lease?.revoke();
    } catch {
      // etcd unreachable: the lease expires by itself within the TTL.
    } finally {
      this.#client.close();
    }
  }

  #record(agent: string, address: AgentAddress, kvs: Record<string, string>, regionPrefix: string): AgentRecord {
    const regions: Record<string, string> = {};
    for (const [k, v] of Object.entries(kvs)) regions[k.slice(regionPrefix.length)] = v;
    return Object.freeze({ ...address, agent, regions: Object.freeze(regions) });
  }

  #emit(key: string, value: string | undefined): void {
    const e = this.#keys.event(key, value);
    if (e) for (const l of [...this.#listeners]) l(e);
  }

  async #call<T>(what: string, f: () => Promise<T>): Promise<T> {
    if (this.#closed) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `directory-etcd: ${what} after close()`);
    try {
      return await f();
    } catch (e) {
      throw unavailable(what, e);
    }
  }

  /**
   * Puts `kvs` on the current lease; when the lease is being renewed, waits for it (the renewal puts
   * them too). A lease etcd no longer knows (expired while this process was starved of CPU,
   * revoked) starts the renewal at once, before the keep-alive notices, and the puts are retried once on the new lease.
   */
  async #put(kvs: readonly (readonly [string, string])[], what: string): Promise<void> {
    for (let retried = false; ; retried = true) {
      await this.#renewing;
      const lease = this.#lease as Lease;
      try {
        await this.#call(what, () => this.#putOn(lease, kvs));
        return;
      } catch (e) {
        if (retried || !((e as DatamoverError).cause instanceof EtcdLeaseInvalidError)) throw e;
        this.#lost(lease);
      }
    }
  }

  /** `kvs` on `lease`: one transaction per maxTxnOps keys (etcd refuses larger ones), all sent at once. */
  async #putOn(lease: Lease, kvs: readonly (readonly [string, string])[]): Promise<void> {
    const txns: Promise<unknown>[] = [];
    for (let i = 0; i < kvs.length; i += this.#maxTxnOps) {
      const chunk = kvs.slice(i, i + this.#maxTxnOps);
      txns.push(Promise.all(chunk.map(([k, v]) => lease.put(k).value(v).op())).then((success) => this.#client.kv.txn({ compare: [], success, failure: [] })));
    }
    await Promise.all(txns);
  }

  async #grant(): Promise<Lease> {
    const lease = this.#client.lease(this.ttl);
    await lease.grant();
    lease.on('lost', () => this.#lost(lease));
    return lease;
  }

  /** Starts renewing when `lease` is the current one and no renewal runs yet. */
  #lost(lease: Lease): void {
    if (!this.#closed && this.#lease === lease && !this.#renewing) this.#renewing = this.#renew().finally(() => (this.#renewing = undefined));
  }

  /** A new lease, and everything this agent published put on it again; retried until it works or close(). */
  async #renew(): Promise<void> {
    while (!this.#closed) {
      let lease: Lease | undefined;
      try {
        lease = await this.#grant();
        const puts: [string, string][] = [];
        if (this.#address) puts.push([this.#keys.agent(this.agent), encodeAddress(this.#address)]);
        for (const [name, token] of this.#regions) puts.push([this.#keys.region(this.agent, name), token]);
        await this.#putOn(lease, puts);
        this.#lease = lease;
        this.renewals++;
        return;
      } catch {
        lease?.revoke().catch(() => undefined);
        await sleep(this.#retryMs);
      }
    }
  }
}
