/**
 * Export tokens: what one node hands another so it can reach an exported region. A token is a
 * versioned binary record, base64url-encoded. It names the exporter (a random 128-bit node id and
 * the address:port it listens on), the remote virtual address, length, rkey and access of the
 * export's own memory registration, the export id, and a per-export random nonce. The importer
 * presents export id + nonce to the exporter on the control channel; the exporter refuses any
 * import whose nonce does not match a live export (forged, stale or revoked tokens).
 *
 * Layout (big-endian, 92 bytes):
 *   0  magic "DMRT"        4  version u8 (1)     5  access u8 (1 read-only, 2 read-write)
 *   6  flags u16 (0)       8  node id (16)      24  address family u8 (4 or 6)
 *   25 address (16; IPv4 in the first 4 bytes)  41  port u16
 *   43 remote address u64 51  length u64        59  rkey u32      63  export id u32
 *   67 nonce (16)          83  reserved (5, zero) 88 check: first 4 bytes of SHA-256 of bytes 0–87
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { datamoverError, ErrorCode } from '@datamover/core';

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
  readonly exportId: number;
  /** 16 random bytes, 32 hex digits: the exporter checks it when the token is imported. */
  readonly nonce: string;
}

export const TOKEN_MAGIC = 0x444d5254; // "DMRT"
export const TOKEN_VERSION = 1;
export const TOKEN_BYTES = 92;
const CHECKED = 88;
const HEX32 = /^[0-9a-f]{32}$/;

function invalid(message: string): Error {
  return datamoverError(ErrorCode.INVALID_TOKEN, `invalid export token: ${message}`);
}

/** Encodes a token as a base64url string. */
export function encodeToken(t: ExportToken): string {
  if (!HEX32.test(t.nodeId)) throw invalid('node id must be 32 hex digits');
  if (!HEX32.test(t.nonce)) throw invalid('nonce must be 32 hex digits');
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
  Buffer.from(t.nonce, 'hex').copy(b, 67);
  check(b).copy(b, CHECKED);
  return b.toString('base64url');
}

/** Decodes and validates a token string; throws INVALID_TOKEN on anything malformed. */
export function decodeToken(s: unknown): ExportToken {
  if (typeof s !== 'string') throw invalid(`expected a string, got ${typeof s}`);
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw invalid('not base64url');
  const b = Buffer.from(s, 'base64url');
  if (b.length !== TOKEN_BYTES || b.toString('base64url') !== s) throw invalid(`expected ${TOKEN_BYTES} bytes, got ${b.length}`);
  if (b.readUInt32BE(0) !== TOKEN_MAGIC) throw invalid('bad magic');
  const version = b.readUInt8(4);
  if (version !== TOKEN_VERSION) throw invalid(`unsupported version ${version}`);
  if (!timingSafeEqual(check(b), b.subarray(CHECKED))) throw invalid('checksum mismatch (corrupted or edited)');
  const accessByte = b.readUInt8(5);
  if (accessByte !== 1 && accessByte !== 2) throw invalid(`bad access ${accessByte}`);
  if (b.readUInt16BE(6) !== 0 || b.subarray(83, 88).some((x) => x !== 0)) throw invalid('reserved bits set');
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
    nonce: b.subarray(67, 83).toString('hex'),
  });
}

/** Constant-time comparison of two 32-hex-digit nonces. */
export function nonceEqual(a: string, b: string): boolean {
  if (!HEX32.test(a) || !HEX32.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

function check(b: Buffer): Buffer {
  return createHash('sha256').update(b.subarray(0, CHECKED)).digest().subarray(0, 4);
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
