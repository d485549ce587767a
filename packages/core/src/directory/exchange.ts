/**
 * Regions by name across agents: a PeerDirectory says where, a RemoteTransport (the rdma backend's
 * `rdmaTransport(mover)`) makes tokens and turns them into regions. Imports are cached per
 * (agent, name); the directory's watch drops an entry when its key changes or goes, or its agent
 * goes, so the next import resolves again (and gets PEER_GONE or ACCESS_REVOKED). Between a
 * revocation and its watch event a cached region may still be handed out: the transport's own
 * revocation makes any use of it fail with ACCESS_REVOKED. An import that leaves the cache
 * (invalidated, or close()) is retired: released once its slices are gone and its work in flight
 * has settled, which also ends the transport's bookkeeping of it (rdma: the peer's import entry).
 * Imported regions therefore belong to the exchange: use them, slice them, do not release them.
 */
import { datamoverError, ErrorCode } from '../errors.js';
import type { Region } from '../region.js';
import type { DirectoryEvent, PeerDirectory } from './directory.js';
import { checkName, checkRegionNames, checkRegions } from './names.js';

/** What a remote backend offers the exchange. */
export interface RemoteTransport {
  export(region: Region, access: 'read-only' | 'read-write'): string;
  import(token: string): Promise<Region>;
  revoke(token: string): void;
}

/** One region to export in a batch. */
export interface ExportEntry {
  readonly name: string;
  readonly region: Region;
  readonly access?: 'read-only' | 'read-write';
}

interface Import {
  readonly token: Promise<string>;
  readonly region: Promise<Region>;
  /** The region once imported: a handle its user moved or released away is imported again. */
  value?: Region;
}

export class RegionExchange {
  readonly #imports = new Map<string, Import>();
  readonly #exports = new Map<string, string>();
  readonly #stop: () => void;

  constructor(
    readonly directory: PeerDirectory,
    readonly transport: RemoteTransport,
  ) {
    this.#stop = directory.watch((e) => this.#invalidate(e));
  }

  /** Exports `region` and publishes its token under `name` (replacing, and revoking, an earlier one). */
  async exportRegion(name: string, region: Region, options: { access?: 'read-only' | 'read-write' } = {}): Promise<string> {
    const [token] = await this.exportRegions([{ name, region, ...options }]);
    return token as string;
  }

  /**
   * Exports every region and publishes them in one directory batch (`putRegions`); returns the
   * tokens in order. A bad name or region refuses the whole batch before anything is published
   * (what was exported for it is revoked again). Earlier exports under the same names are revoked.
   */
  async exportRegions(entries: readonly ExportEntry[]): Promise<string[]> {
    const tokens: string[] = [];
    let batch;
    try {
      if (!Array.isArray(entries)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `exchange: exportRegions takes an array of { name, region, access }, got ${typeof entries}`);
      for (const e of entries as unknown[]) {
        if (typeof e !== 'object' || e === null) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'exchange: each export is { name, region, access }');
        const { region, access } = e as ExportEntry;
        tokens.push(this.transport.export(region, access ?? 'read-only'));
      }
      batch = checkRegions(entries.map((e, i) => [e.name, tokens[i]]));
    } catch (e) {
      for (const t of tokens) this.transport.revoke(t);
      throw e;
    }
    const old = batch.flatMap(([name]) => this.#exports.get(name) ?? []);
    for (const [name, token] of batch) this.#exports.set(name, token);
    await this.directory.putRegions(batch);
    for (const t of old) this.transport.revoke(t);
    return tokens;
  }

  /** Deletes `name`'s key, then revokes the export, so later imports and in-flight use fail with ACCESS_REVOKED. */
  async revoke(name: string): Promise<void> {
    checkName('region', name);
    const token = this.#exports.get(name);
    this.#exports.delete(name);
    await this.directory.deleteRegion(name);
    if (token !== undefined) this.transport.revoke(token);
  }

  /** `agent`'s region `name`: cached, or looked up and imported (PEER_GONE, ACCESS_REVOKED, INVALID_TOKEN). */
  importRegion(agent: string, name: string): Promise<Region> {
    let key: string;
    try {
      key = `${checkName('agent', agent)}/${checkName('region', name)}`;
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#cached(key) ?? this.#resolve(agent, [name], this.directory.lookupRegion(agent, name).then((t) => [t]))[0] as Promise<Region>;
  }

  /**
   * Several of `agent`'s regions, in order: the cached ones as they are, the others resolved by one
   * directory read (`lookupRegions`) and imported together. Fails as importRegion does, for the
   * first name that fails.
   */
  async importRegions(agent: string, names: readonly string[]): Promise<Region[]> {
    checkName('agent', agent);
    checkRegionNames(names);
    const out = names.map((n) => this.#cached(`${agent}/${n}`));
    const missing = [...new Set(names.filter((_, i) => out[i] === undefined))];
    if (missing.length > 0) {
      const imported = this.#resolve(agent, missing, this.directory.lookupRegions(agent, missing));
      const byName = new Map(missing.map((n, i) => [n, imported[i]]));
      for (let i = 0; i < names.length; i++) out[i] ??= byName.get(names[i] as string);
    }
    return Promise.all(out as Promise<Region>[]);
  }

  /** How many imports are cached. */
  get cached(): number {
    return this.#imports.size;
  }

  /** Stops watching, revokes every export it made (their keys go with the directory) and retires every import. */
  close(): void {
    this.#stop();
    for (const token of this.#exports.values()) this.transport.revoke(token);
    this.#exports.clear();
    for (const key of [...this.#imports.keys()]) this.#drop(key);
  }

  /** `key`'s cached import, unless its handle was released or moved away by its user. */
  #cached(key: string): Promise<Region> | undefined {
    const hit = this.#imports.get(key);
    return hit && (hit.value === undefined || hit.value.live) ? hit.region : undefined;
  }

  /** Caches an import of each of `names` (whose tokens `tokens` resolves to, in order), replacing what a stale entry held. */
  #resolve(agent: string, names: readonly string[], tokens: Promise<string[]>): Promise<Region>[] {
    return names.map((name, i) => {
      const key = `${agent}/${name}`;
      this.#drop(key);
      const token = tokens.then((t) => t[i] as string);
      const entry: Import = { token, region: token.then((t) => this.transport.import(t)) };
      this.#imports.set(key, entry);
      entry.region.then(
        (r) => (entry.value = r),
        // A failed import is not cached.
        () => this.#imports.get(key) === entry && this.#imports.delete(key),
      );
      return entry.region;
    });
  }

  /** Removes `key`'s import from the cache and retires its region (once imported). */
  #drop(key: string): void {
    const hit = this.#imports.get(key);
    if (!hit) return;
    this.#imports.delete(key);
    hit.region.then(
      (r) => r.retire(),
      () => undefined,
    );
  }

  #invalidate(e: DirectoryEvent): void {
    if (e.type === 'agent') return;
    if (e.type === 'agent-gone') {
      for (const key of [...this.#imports.keys()]) if (key.startsWith(`${e.agent}/`)) this.#drop(key);
      return;
    }
    const key = `${e.agent}/${e.name}`;
    const hit = this.#imports.get(key);
    if (!hit) return;
    if (e.type === 'region-gone') this.#drop(key);
    else
      void hit.token.then(
        (t) => t !== e.token && this.#imports.get(key) === hit && this.#drop(key),
        () => undefined,
      );
  }
}
