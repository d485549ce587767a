/**
 * `datamover peers`: the agents and regions a peer directory on etcd holds under one prefix.
 * @datamover/directory-etcd is an optional peer of the CLI, imported here on demand.
 */
import { parseArgs } from 'node:util';
import type { AgentRecord } from '@datamover/core';
import { notInstalledReason } from './backends.js';
import { CliError } from './errors.js';
import { table } from './format.js';

export const PEERS_USAGE = 'datamover peers --endpoints URL[,URL…] [--prefix P] [--json]';

const PACKAGE = '@datamover/directory-etcd';

export async function peersCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { endpoints: { type: 'string' }, prefix: { type: 'string', default: 'datamover' }, json: { type: 'boolean', default: false } }, strict: true, allowPositionals: false });
  if (!values.endpoints) throw new CliError('INVALID_ARGUMENT', `peers needs --endpoints (e.g. http://127.0.0.1:2379); usage: ${PEERS_USAGE}`);
  let mod: typeof import('@datamover/directory-etcd');
  try {
    mod = await import(PACKAGE);
  } catch (e) {
    throw new CliError('INVALID_ARGUMENT', `peers: ${PACKAGE} is ${notInstalledReason(PACKAGE, e) ?? `unusable: ${(e as Error).message}`}`);
  }
  // A reader publishes nothing: its lease holds no key, and close() revokes it.
  const directory = await mod.EtcdDirectory.open({ endpoints: values.endpoints.split(','), prefix: values.prefix, agent: `datamover-cli-${process.pid}`, dialTimeout: 3000 });
  let agents: AgentRecord[];
  try {
    agents = await directory.list();
  } finally {
    await directory.close();
  }
  out.write(`${values.json ? JSON.stringify(agents, null, 2) : renderPeers(values.prefix, agents)}\n`);
  return 0;
}

export function renderPeers(prefix: string, agents: readonly AgentRecord[]): string {
  if (agents.length === 0) return `no agents under prefix ${prefix}`;
  const rows = agents.map((a) => [a.agent, `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`, Object.keys(a.regions).sort().join(', ') || '-', Object.entries(a.meta ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')]);
  return `${agents.length} agent(s) under prefix ${prefix}\n${table(['agent', 'address', 'regions', 'meta'], rows)}`;
}
