/**
 * The directory that needs nothing: agents of one process share a hub; agents of two processes
 * exchange one blob each (`blob()` on one side, `addBlob()` on the other, over whatever channel
 * they already have). No leases: a peer added from a blob stays until `forget()` or a newer blob.
 */
import { datamoverError, ErrorCode } from '../errors.js';
import type { AgentAddress, AgentRecord, DirectoryEvent, PeerDirectory } from './directory.js';
import { checkName, checkRegionNames, checkRegions, type RegionEntries } from './names.js';
import { checkAddress, decodeBlob, encodeBlob } from './records.js';

interface Entry {
  address: AgentAddress;
  readonly regions: Map<string, string>;
}

/** Agents that see each other: one per process by default (`DirectoryHub.shared`). */
export class DirectoryHub {
  static readonly shared = new DirectoryHub();
  readonly #agents = new Map<string, Entry>();
  readonly #listeners = new Set<(e: DirectoryEvent) => void>();

  /** @internal MemoryDirectory's view of one agent's entry. */
  entry(agent: string): Entry | undefined {
    return this.#agents.get(agent);
  }
  records(): AgentRecord[] {
    return [...this.#agents.keys()].map((a) => this.record(a) as AgentRecord);
  }
  record(agent: string): AgentRecord | undefined {
    const e = this.#agents.get(agent);
    return e && Object.freeze({ ...e.address, agent, regions: Object.freeze(Object.fromEntries(e.regions)) });
  }
  /** @internal Adds or updates an agent (MemoryDirectory's publish). */
  setAgent(agent: string, address: AgentAddress): Entry {
    const e = this.#agents.get(agent) ?? { address, regions: new Map<string, string>() };
    e.address = address;
    this.#agents.set(agent, e);
    this.emit({ type: 'agent', agent, address });
    return e;
  }
  deleteAgent(agent: string): void {
    const e = this.#agents.get(agent);
    if (!e) return;
    this.#agents.delete(agent);
    for (const name of e.regions.keys()) this.emit({ type: 'region-gone', agent, name });
    this.emit({ type: 'agent-gone', agent });
  }
  watch(listener: (e: DirectoryEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(e: DirectoryEvent): void {
    for (const l of [...this.#listeners]) l(e);
  }
}

export interface MemoryDirectoryOptions {
  /** This agent's name. */
  readonly agent: string;
  /** The hub it joins (default: the process-wide one). */
  readonly hub?: DirectoryHub;
}

export class MemoryDirectory implements PeerDirectory {
  readonly agent: string;
  readonly #hub: DirectoryHub;
  readonly #stops = new Set<() => void>();

  constructor(options: MemoryDirectoryOptions) {
    this.agent = checkName('agent', options?.agent);
    this.#hub = options.hub ?? DirectoryHub.shared;
  }

  async publish(address: AgentAddress): Promise<void> {
    this.#hub.setAgent(this.agent, checkAddress(address, 'address'));
  }
  async putRegion(name: string, token: string): Promise<void> {
    await this.putRegions([[name, token]]);
  }
  async putRegions(regions: RegionEntries): Promise<void> {
    const checked = checkRegions(regions);
    const e = this.#hub.entry(this.agent);
    if (!e) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: publish() agent ${this.agent} before its regions`);
    for (const [name, token] of checked) {
      e.regions.set(name, token);
      this.#hub.emit({ type: 'region', agent: this.agent, name, token });
    }
  }
  async deleteRegion(name: string): Promise<void> {
    checkName('region', name);
    if (this.#hub.entry(this.agent)?.regions.delete(name)) this.#hub.emit({ type: 'region-gone', agent: this.agent, name });
  }
  async lookup(agent: string): Promise<AgentRecord> {
    const r = this.#hub.record(checkName('agent', agent));
    if (!r) throw peerGone(agent);
    return r;
  }
  async lookupRegion(agent: string, name: string): Promise<string> {
    return regionOf(await this.lookup(agent), checkName('region', name));
  }
  async lookupRegions(agent: string, names: readonly string[]): Promise<string[]> {
    checkRegionNames(names);
    return regionsOf(await this.lookup(agent), names);
  }
  async list(): Promise<AgentRecord[]> {
    return this.#hub.records();
  }
  watch(listener: (event: DirectoryEvent) => void): () => void {
    const stop = this.#hub.watch(listener);
    this.#stops.add(stop);
    return () => {
      this.#stops.delete(stop);
      stop();
    };
  }
  async withdraw(): Promise<void> {
    this.#hub.deleteAgent(this.agent);
  }
  async close(): Promise<void> {
    await this.withdraw();
    for (const stop of this.#stops) stop();
    this.#stops.clear();
  }

  /** This agent's record as one string, for a peer process's addBlob(). */
  async blob(): Promise<string> {
    return encodeBlob(await this.lookup(this.agent));
  }
  /** Adds (or replaces) the peer in `blob`: INVALID_TOKEN when it is malformed. */
  addBlob(blob: string): AgentRecord {
    const r = decodeBlob(blob);
    if (r.agent === this.agent) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `directory: a blob of this agent (${r.agent}) cannot be added to it`);
    this.#hub.deleteAgent(r.agent);
    const { agent, regions, ...address } = r;
    const e = this.#hub.setAgent(agent, address);
    for (const [name, token] of Object.entries(regions)) {
      e.regions.set(name, token);
      this.#hub.emit({ type: 'region', agent, name, token });
    }
    return r;
  }
  /** Drops a peer added from a blob: its importers then get PEER_GONE. */
  forget(agent: string): void {
    this.#hub.deleteAgent(checkName('agent', agent));
  }
}

/** PEER_GONE for `agent`. */
export function peerGone(agent: string): Error {
  return datamoverError(ErrorCode.PEER_GONE, `directory: agent ${agent} is not published (gone, expired or never there)`);
}

/** `name`'s token in `r`: ACCESS_REVOKED when `r` has no such region. */
export function regionOf(r: AgentRecord, name: string): string {
  // Own keys only: a region named like an Object.prototype member is not found there.
  const token = Object.hasOwn(r.regions, name) ? r.regions[name] : undefined;
  if (token === undefined) throw datamoverError(ErrorCode.ACCESS_REVOKED, `directory: agent ${r.agent} exports no region ${name} (revoked or never exported)`);
  return token;
}

/** The tokens of `names` (checked by checkRegionNames) in `r`, in order: ACCESS_REVOKED for the first missing. */
export function regionsOf(r: AgentRecord, names: readonly string[]): string[] {
  return names.map((n) => regionOf(r, n));
}
