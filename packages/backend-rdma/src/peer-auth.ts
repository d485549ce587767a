/**
 * Who may talk to whom on the rdma control channel. Peers prove themselves by challenge–response:
 * each side sends a random challenge, and each signs a transcript naming both node ids and both
 * challenges (and its role, so a proof cannot be reflected back), so a proof is bound to the
 * node id it claims and to this one handshake. `PeerAuth` is the seam: a shared secret here, keys
 * from a peer directory later. And which hosts a token may send import() to (`allowHosts`).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { datamoverError, ErrorCode } from '@datamover/core';

/** Proves and checks node identities on the control channel. */
export interface PeerAuth {
  /** This node's proof over `transcript`. */
  sign(nodeId: string, transcript: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Whether `proof` is `nodeId`'s proof over `transcript`. */
  verify(nodeId: string, transcript: Uint8Array, proof: Uint8Array): boolean | Promise<boolean>;
}

/** The `peerAuth` backend option: a PeerAuth, or a secret every node of the deployment shares. */
export type PeerAuthOption = PeerAuth | { readonly secret: string | Uint8Array };

/** Shared secrets shorter than this (bytes) are refused. */
const MIN_SECRET_BYTES = 16;

/**
 * A PeerAuth for nodes sharing one secret: proofs are HMAC-SHA-256 under it. Whoever holds the
 * secret can claim any node id; one who does not cannot claim any.
 */
export function sharedSecretAuth(secret: string | Uint8Array): PeerAuth {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (key.length < MIN_SECRET_BYTES) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `rdma: peerAuth.secret must be at least ${MIN_SECRET_BYTES} bytes`);
  const mac = (t: Uint8Array) => createHmac('sha256', key).update(t).digest();
  return {
    sign: (_nodeId, t) => mac(t),
    verify: (_nodeId, t, proof) => proof.length === 32 && timingSafeEqual(mac(t), proof),
  };
}

/** The `peerAuth` option as a PeerAuth (undefined: none); INVALID_ARGUMENT when it is neither form. */
export function peerAuthOf(option: unknown): PeerAuth | undefined {
  if (option === undefined) return undefined;
  const o = option as Partial<PeerAuth> & { secret?: unknown };
  if (typeof o?.sign === 'function' && typeof o.verify === 'function') return o as PeerAuth;
  if (typeof o?.secret === 'string' || o?.secret instanceof Uint8Array) return sharedSecretAuth(o.secret);
  throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'rdma: peerAuth must be { secret } or an object with sign() and verify()');
}

/** One handshake: both node ids (32 hex digits) and both challenges (64 hex digits). */
export interface Handshake {
  readonly client: string;
  readonly server: string;
  readonly clientChallenge: string;
  readonly serverChallenge: string;
}

/** What `role` signs in handshake `h`. */
export function transcript(role: 'client' | 'server', h: Handshake): Buffer {
  return Buffer.concat([Buffer.from(`datamover-rdma-auth/1 ${role}\n`), ...[h.client, h.server, h.clientChallenge, h.serverChallenge].map((x) => Buffer.from(x, 'hex'))]);
}

export const HEX32 = /^[0-9a-f]{32}$/;
export const CHALLENGE = /^[0-9a-f]{64}$/;

/** A fresh challenge (32 random bytes, hex). */
export function challenge(): string {
  return randomBytes(32).toString('hex');
}

/** Hosts given as IP addresses and CIDR subnets ('10.0.0.7', '10.0.0.0/24', 'fd00::/8'). */
export class HostList {
  readonly #list = new BlockList();
  constructor(readonly entries: readonly string[]) {
    if (!Array.isArray(entries)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'rdma: allowHosts must be an array of IP addresses or CIDR subnets');
    for (const e of entries) {
      const [address = '', bits, extra] = String(e).split('/');
      const family = isIP(address);
      const prefix = Number(bits);
      const max = family === 6 ? 128 : 32;
      if (family === 0 || extra !== undefined || (bits !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max && bits !== ''))) {
        throw datamoverError(ErrorCode.INVALID_ARGUMENT, `rdma: allowHosts entry ${JSON.stringify(e)} is not an IP address or CIDR subnet`);
      }
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.#list.addAddress(address, type);
      else this.#list.addSubnet(address, prefix, type);
    }
  }
  /** Whether `host` (an IP address; an IPv4-mapped IPv6 one matches its IPv4 entries) is listed. */
  has(host: string): boolean {
    const family = isIP(host);
    return family !== 0 && this.#list.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Loopback addresses: the default `allowHosts`, and where a node without peerAuth may listen. */
export const LOOPBACK = new HostList(['127.0.0.0/8', '::1']);
