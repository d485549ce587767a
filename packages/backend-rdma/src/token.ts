/**
 * Export tokens: what one node hands another so it can reach an exported region. A token is a
 * versioned binary record, base64url-encoded. It names the exporter (a random 128-bit node id and
 * the address:port it listens on), the remote virtual address, length, rkey and access of the
 * export's own memory registration, and the export id, and ends in a tag: HMAC-SHA-256 over every
 * other byte under the exporter's secret 32-byte key (created with its node, never sent), cut to
 * its first 16 bytes (128 bits: RFC 2104 advises keeping at least half of the hash). Anyone can parse a
 * token (decodeToken); only the exporter can check the tag (verifyToken), so a token's reader cannot
 * mint another or edit one. Export ids count up per node and are never reused while its key lives:
 * a token of a withdrawn export stays dead even when the same memory is exported again.
 *
 * Layout (big-endian, 83 bytes):
 *   0  magic "DMRT"        4  version u8 (2)     5  access u8 (1 read-only, 2 read-write)
 *   6  flags u16 (0)       8  node id (16)      24  address family u8 (4 or 6)
 *   25 address (16; IPv4 in the first 4 bytes)  41  port u16
 *   43 remote address u64 51  length u64        59  rkey u32      63  export id u32
 *   67 tag: the first 16 bytes of HMAC-SHA-256(key, bytes 0–66)
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { datamoverError } from '@datamover/core';
import { RdmaErrorCode } from './errors.js';

export type Access = 'read-only' | 'read-write';

export interface ExportToken {
  /** The exporter's node id, 32 hex digits. */
  readonly nodeId: string;
  /** Where the exporter listens (its control channel and rdma_cm port); '' / 0 when it does not. */
  readonly host: string;
  readonly port: number;
  /** The exported bytes' virtual address in the exporter (what RDMA work requests name). */
  readonly address: bigint;
  readonly length: number;
  readonly rkey: number;
  readonly access: Access;
  /** Counts up per exporter: never reused while the exporter's key lives. */
  readonly exportId: number;
}

export const TOKEN_MAGIC = 0x444d5254; // "DMRT"
export const TOKEN_VERSION = 2;
export const TOKEN_BYTES = 83;
const TAGGED = 67;
const HEX32 = /^[0-9a-f]{32}$/;

/** A new random token key (32 bytes): one per exporting node, kept in memory only. */
export function tokenKey(): Buffer {
  return randomBytes(32);
}

function invalid(message: string): Error {
  return datamoverError(RdmaErrorCode.INVALID_TOKEN, `invalid export token: ${message}`);
}

/** Encodes a token as a base64url string, tagged under `key` (the exporter's). */
export function encodeToken(t: ExportToken, key: Uint8Array): string {
  if (!HEX32.test(t.nodeId)) throw invalid('node id must be 32 hex digits');
  if (!Number.isSafeInteger(t.length) || t.length <= 0) throw invalid('length must be a positive safe integer');
  if (typeof t.address !== 'bigint' || t.address < 0n || t.address + BigInt(t.length) > 2n ** 64n) throw invalid('address range does not fit in 64 bits');
  if (!Number.isInteger(t.rkey) || t.rkey < 0 || t.rkey > 0xffff_ffff) throw invalid('rkey must be a u32');
  if (!Number.isInteger(t.exportId) || t.exportId < 0 || t.exportId > 0xffff_ffff) throw invalid('export id must be a u32');
  if (!Number.isInteger(t.port) || t.port < 0 || t.port > 0xffff) throw invalid('port must be a u16');
  if (t.access !== 'read-only' && t.access !== 'read-write') throw invalid(`access must be read-only or read-write`);
  const b = Buffer.alloc(TOKEN_BYTES);
  b.writeUInt32BE(TOKEN_MAGIC, 0);
  b.writeUInt8(TOKEN_VERSION, 4);
  b.writeUInt8(t.access === 'read-only' ? 1 : 2, 5);
  Buffer.from(t.nodeId, 'hex').copy(b, 8);
  if (t.host === '' || isIPv4(t.host)) {
    b.writeUInt8(4, 24);
    if (t.host !== '') t.host.split('.').forEach((p, i) => b.writeUInt8(Number(p), 25 + i));
  } else if (isIPv6(t.host)) {
    b.writeUInt8(6, 24);
    ipv6Bytes(t.host).copy(b, 25);
  } else throw invalid(`host must be an IP address, got ${JSON.stringify(t.host)}`);
  b.writeUInt16BE(t.port, 41);
  b.writeBigUInt64BE(t.address, 43);
  b.writeBigUInt64BE(BigInt(t.length), 51);
  b.writeUInt32BE(t.rkey, 59);
  b.writeUInt32BE(t.exportId, 63);
  tag(b, key).copy(b, TAGGED);
  return b.toString('base64url');
}

/**
 * Decodes and validates a token string; throws INVALID_TOKEN on anything malformed. It cannot
 * tell a forged token from a real one: only the exporter can (verifyToken).
 */
export function decodeToken(s: unknown): ExportToken {
  return fields(bytes(s));
}

/** Decodes a token and checks its tag under `key`: INVALID_TOKEN unless this key minted exactly these bytes. */
export function verifyToken(s: unknown, key: Uint8Array): ExportToken {
  const b = bytes(s);
  const t = fields(b);
  if (!timingSafeEqual(tag(b, key), b.subarray(TAGGED))) throw invalid('bad tag (not minted by this node, or edited)');
  return t;
}

function bytes(s: unknown): Buffer {
  if (typeof s !== 'string') throw invalid(`expected a string, got ${typeof s}`);
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw invalid('not base64url');
  const b = Buffer.from(s, 'base64url');
  if (b.length !== TOKEN_BYTES || b.toString('base64url') !== s) throw invalid(`expected ${TOKEN_BYTES} bytes, got ${b.length}`);
  if (b.readUInt32BE(0) !== TOKEN_MAGIC) throw invalid('bad magic');
  const version = b.readUInt8(4);
  if (version !== TOKEN_VERSION) throw invalid(`unsupported version ${version}`);
  return b;
}

function fields(b: Buffer): ExportToken {
  const accessByte = b.readUInt8(5);
  if (accessByte !== 1 && accessByte !== 2) throw invalid(`bad access ${accessByte}`);
  if (b.readUInt16BE(6) !== 0) throw invalid('reserved bits set');
  const family = b.readUInt8(24);
  let host: string;
  if (family === 4) {
    if (b.subarray(29, 41).some((x) => x !== 0)) throw invalid('IPv4 address with trailing bytes');
    host = [...b.subarray(25, 29)].join('.');
    if (host === '0.0.0.0') host = '';
  } else if (family === 6) host = ipv6String(b.subarray(25, 41));
  else throw invalid(`bad address family ${family}`);
  const address = b.readBigUInt64BE(43);
  const length64 = b.readBigUInt64BE(51);
  if (length64 === 0n || length64 > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('length out of range');
  if (address + length64 > 2n ** 64n) throw invalid('address range overflows');
  return Object.freeze({
    nodeId: b.subarray(8, 24).toString('hex'),
    host,
    port: b.readUInt16BE(41),
    address,
    length: Number(length64),
    rkey: b.readUInt32BE(59),
    access: accessByte === 1 ? 'read-only' : 'read-write',
    exportId: b.readUInt32BE(63),
  });
}

function tag(b: Buffer, key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(b.subarray(0, TAGGED)).digest().subarray(0, TOKEN_BYTES - TAGGED);
}

/** The 16 bytes of an IPv6 address (validated by isIPv6), including a dotted IPv4 tail (`::ffff:1.2.3.4`). */
function ipv6Bytes(host: string): Buffer {
  const [head, tail] = host.split('::') as [string, string | undefined];
  const parse = (s: string | undefined) =>
    s
      ? s.split(':').flatMap((x) => {
          if (!x.includes('.')) return [parseInt(x, 16)];
          const [a, b, c, d] = x.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        })
      : [];
  const h = parse(head);
  const t = parse(tail);
  const words = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** An IPv6 address as text; an IPv4-mapped one as `::ffff:a.b.c.d`, the form sockets report. */
function ipv6String(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b.readUInt16BE(10) === 0xffff) return `::ffff:${[...b.subarray(12, 16)].join('.')}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return words.join(':');
}
