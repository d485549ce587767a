/**
 * How directory entries are written as text (etcd values, side-channel blobs), and the one parser
 * for them: whatever a directory reads from outside is checked here, so a malformed or hostile
 * entry is a typed error (INVALID_TOKEN), never a crash or an odd record.
 */
import { datamoverError, ErrorCode } from '../errors.js';
import type { AgentAddress, AgentRecord } from './directory.js';
import { checkName, checkPort, checkToken } from './names.js';

function malformed(what: string, why: string): Error {
  return datamoverError(ErrorCode.INVALID_TOKEN, `directory: malformed ${what}: ${why}`);
}

/** An address as checked JSON. */
export function encodeAddress(a: AgentAddress): string {
  return JSON.stringify(checkAddress(a, 'address'));
}

/** The address in `text`; INVALID_TOKEN when it is not one. */
export function decodeAddress(text: string): AgentAddress {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw malformed('agent entry', 'not JSON');
  }
  return checkAddress(v, 'agent entry');
}

/** A frozen copy of `v` holding only an address's fields. */
export function checkAddress(v: unknown, what: string): AgentAddress {
  const o = v as Partial<AgentAddress> | null;
  if (typeof o !== 'object' || o === null) throw malformed(what, 'not an object');
  if (typeof o.host !== 'string' || o.host.length > 255) throw malformed(what, 'host must be a string of at most 255 characters');
  const port = checkPort(o.port);
  if (o.meta === undefined) return Object.freeze({ host: o.host, port });
  if (typeof o.meta !== 'object' || o.meta === null || Object.values(o.meta).some((x) => typeof x !== 'string')) throw malformed(what, 'meta must map names to strings');
  return Object.freeze({ host: o.host, port, meta: Object.freeze({ ...o.meta }) });
}

/** One agent's record as a side-channel blob (base64url JSON). */
export function encodeBlob(r: AgentRecord): string {
  return Buffer.from(JSON.stringify({ v: 1, agent: r.agent, address: checkAddress(r, 'record'), regions: r.regions })).toString('base64url');
}

/** The record in a blob: INVALID_TOKEN when it is malformed, INVALID_ARGUMENT for a bad name. */
export function decodeBlob(blob: unknown): AgentRecord {
  if (typeof blob !== 'string') throw malformed('blob', `expected a string, got ${typeof blob}`);
  let v: { v?: unknown; agent?: unknown; address?: unknown; regions?: unknown };
  try {
    v = JSON.parse(Buffer.from(blob, 'base64url').toString('utf8')) as typeof v;
  } catch {
    throw malformed('blob', 'not base64url JSON');
  }
  if (typeof v !== 'object' || v === null || v.v !== 1) throw malformed('blob', 'not a version 1 directory blob');
  const agent = checkName('agent', v.agent);
  const address = checkAddress(v.address, 'blob');
  if (typeof v.regions !== 'object' || v.regions === null) throw malformed('blob', 'regions must be an object');
  const regions: Record<string, string> = {};
  for (const [name, token] of Object.entries(v.regions)) regions[checkName('region', name)] = checkToken(token);
  return Object.freeze({ ...address, agent, regions: Object.freeze(regions) });
}
