/**
 * The peer-directory contract: how agents find each other and the regions they export. An agent
 * publishes its address and its exported regions (name → token); a peer looks an agent or one of
 * its regions up, or watches for changes; an agent withdraws (or dies, and its entries expire).
 * Directories store tokens, never memory: a token is only a claim, checked by its exporter
 * (see docs/rdma.md), so a directory reader cannot reach memory with what it reads.
 */
import type { RegionEntries } from './names.js';

/** Where an agent can be reached, as it publishes it. */
export interface AgentAddress {
  readonly host: string;
  readonly port: number;
  /** Free-form strings (e.g. the rdma node id): published as given. */
  readonly meta?: Readonly<Record<string, string>>;
}

/** One agent as the directory holds it. */
export interface AgentRecord extends AgentAddress {
  readonly agent: string;
  /** Exported regions: name → token. */
  readonly regions: Readonly<Record<string, string>>;
}

/** What a watcher is told: an agent or a region appeared, changed or went away. */
export type DirectoryEvent =
  | { readonly type: 'agent'; readonly agent: string; readonly address: AgentAddress }
  | { readonly type: 'agent-gone'; readonly agent: string }
  | { readonly type: 'region'; readonly agent: string; readonly name: string; readonly token: string }
  | { readonly type: 'region-gone'; readonly agent: string; readonly name: string };

export interface PeerDirectory {
  /** This agent's name. */
  readonly agent: string;
  /** Publishes (or replaces) this agent's address. */
  publish(address: AgentAddress): Promise<void>;
  /** Publishes (or replaces) one exported region under `name`. */
  putRegion(name: string, token: string): Promise<void>;
  /**
   * Publishes (or replaces) many regions at once: every entry is checked first (INVALID_ARGUMENT,
   * INVALID_TOKEN), so a bad one refuses the whole batch before anything is written.
   */
  putRegions(regions: RegionEntries): Promise<void>;
  /** Withdraws one exported region (a no-op when it is not published). */
  deleteRegion(name: string): Promise<void>;
  /** An agent and its regions: PEER_GONE when it is not (or no longer) published. */
  lookup(agent: string): Promise<AgentRecord>;
  /** One region's token: PEER_GONE when its agent is gone, ACCESS_REVOKED when the agent has no region by that name. */
  lookupRegion(agent: string, name: string): Promise<string>;
  /** Tokens of several of `agent`'s regions, in the order asked, from one read: as lookupRegion, ACCESS_REVOKED naming the first missing one. */
  lookupRegions(agent: string, names: readonly string[]): Promise<string[]>;
  /** Every agent under this directory's prefix. */
  list(): Promise<AgentRecord[]>;
  /** Calls `listener` on every change after this call; returns the function that stops it. */
  watch(listener: (event: DirectoryEvent) => void): () => void;
  /** Removes this agent and all its regions. */
  withdraw(): Promise<void>;
  /** Withdraws and lets go of every resource (connections, timers). */
  close(): Promise<void>;
}
