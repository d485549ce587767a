/**
 * Regions by name across agents: a PeerDirectory says where, a RemoteTransport (the rdma backend's
 * `rdmaTransport(mover)`) makes tokens and turns them into regions. Imports are cached per
 * (agent, name); the directory's watch drops an entry when its key changes or goes, or its agent
 * goes, so the next import resolves again (and gets PEER_GONE or ACCESS_REVOKED). Between a
 * revocation and its watch event a cached region may still be handed out: the transport's own
 * revocation makes any use of it fail with ACCESS_REVOKED.
 */
import type { Region } from '../region.js';
import type { DirectoryEvent, PeerDirectory } from './directory.js';
import { checkName } from './names.js';

/** What a remote backend offers the exchange. */
export interface RemoteTransport {
  export(region: Region, access: 'read-only' | 'read-write'): string;
  import(token: string): Promise<Region>;
  revoke(token: string): void;
}

export class RegionExchange {
  readonly #imports = new Map<string, { readonly token: Promise<string>; readonly region: Promise<Region> }>();
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
    checkName('region', name);
    const token = this.transport.export(region, options.access ?? 'read-only');
    const old = this.#exports.get(name);
    this.#exports.set(name, token);
    await this.directory.putRegion(name, token);
    if (old !== undefined) this.transport.revoke(old);
    return token;
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
    const hit = this.#imports.get(key);
    if (hit) return hit.region;
    const token = this.directory.lookupRegion(agent, name);
    const entry = { token, region: token.then((t) => this.transport.import(t)) };
    this.#imports.set(key, entry);
    // A failed import is not cached.
    entry.region.catch(() => {
      if (this.#imports.get(key) === entry) this.#imports.delete(key);
    });
    return entry.region;
  }

  /** How many imports are cached. */
  get cached(): number {
    return this.#imports.size;
  }

  /** Stops watching and revokes every export it made (their keys go with the directory). */
  close(): void {
    this.#stop();
    for (const token of this.#exports.values()) this.transport.revoke(token);
    this.#exports.clear();
    this.#imports.clear();
  }

  #invalidate(e: DirectoryEvent): void {
    if (e.type === 'agent') return;
    if (e.type === 'agent-gone') {
      for (const key of this.#imports.keys()) if (key.startsWith(`${e.agent}/`)) this.#imports.delete(key);
      return;
    }
    const key = `${e.agent}/${e.name}`;
    const hit = this.#imports.get(key);
    if (!hit) return;
    if (e.type === 'region-gone') this.#imports.delete(key);
    else
      void hit.token.then(
        (t) => t !== e.token && this.#imports.get(key) === hit && this.#imports.delete(key),
        () => undefined,
      );
  }
}
