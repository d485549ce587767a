/**
 * Where an etcd directory keeps what (all under one prefix, which isolates tenants):
 *   <prefix>/agents/<agent>          the agent's address (JSON), on its lease
 *   <prefix>/regions/<agent>/<name>  one exported region's token, on the same lease
 * Names are checked by core (no '/'), so one agent's keys can never name another's.
 */
import type { DirectoryEvent } from '@datamover/core';
import { decodeAddress } from '@datamover/core';

export class KeySpace {
  readonly root: string;
  constructor(prefix: string) {
    this.root = `${prefix}/`;
  }
  agent(agent: string): string {
    return `${this.root}agents/${agent}`;
  }
  get agents(): string {
    return `${this.root}agents/`;
  }
  regions(agent: string): string {
    return `${this.root}regions/${agent}/`;
  }
  region(agent: string, name: string): string {
    return `${this.regions(agent)}${name}`;
  }

  /** The event a put (value given) or delete of `key` means; undefined for keys this layout does not make or values that do not parse. */
  event(key: string, value: string | undefined): DirectoryEvent | undefined {
    if (!key.startsWith(this.root)) return undefined;
    const [kind, agent, name, extra] = key.slice(this.root.length).split('/');
    if (kind === 'agents' && agent && name === undefined) {
      if (value === undefined) return { type: 'agent-gone', agent };
      try {
        return { type: 'agent', agent, address: decodeAddress(value) };
      } catch {
        return undefined;
      }
    }
    if (kind === 'regions' && agent && name && extra === undefined) {
      return value === undefined ? { type: 'region-gone', agent, name } : { type: 'region', agent, name, token: value };
    }
    return undefined;
  }
}
