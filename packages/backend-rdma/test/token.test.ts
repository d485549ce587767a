import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, TOKEN_BYTES, tokenKey, verifyToken, type ExportToken } from '../src/token.js';

const base: ExportToken = {
  nodeId: '00112233445566778899aabbccddeeff',
  host: '10.0.0.1',
  port: 18515,
  address: 0x7f12_3456_7000n,
  length: 1 << 20,
  rkey: 0x1234_5678,
  access: 'read-write',
  exportId: 0xdead_beef,
};
const key = tokenKey();

function expectInvalid(f: () => unknown, match?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect((e as { code?: string }).code).toBe('INVALID_TOKEN');
    if (match) expect((e as Error).message).toMatch(match);
    return;
  }
  throw new Error('expected INVALID_TOKEN');
}

describe('export tokens', () => {
  it('round-trips every field, compactly', () => {
    const s = encodeToken(base, key);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(s, 'base64url').length).toBe(TOKEN_BYTES);
    expect(s.length).toBe(111);
    expect(decodeToken(s)).toEqual(base);
    expect(verifyToken(s, key)).toEqual(base);
  });

  it('round-trips read-only, IPv6, no listener, and extreme values', () => {
    for (const t of [
      { ...base, access: 'read-only' as const },
      { ...base, host: 'fe80:0:0:0:1:2:3:4' },
      { ...base, host: '', port: 0 },
      { ...base, address: 2n ** 64n - 1n, length: 1, rkey: 0xffff_ffff, exportId: 0 },
      { ...base, address: 0n, length: Number.MAX_SAFE_INTEGER },
    ]) expect(verifyToken(encodeToken(t, key), key)).toEqual(t);
  });

  it('keeps an IPv4-mapped or IPv4-embedded IPv6 host intact', () => {
    const host = (h: string) => decodeToken(encodeToken({ ...base, host: h }, key)).host;
    expect(host('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4');
    expect(host('::ffff:0102:0304')).toBe('::ffff:1.2.3.4');
    expect(host('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0:0:0:c000:221');
    expect(host('::1')).toBe('0:0:0:0:0:0:0:1');
  });

  it('refuses malformed input with INVALID_TOKEN', () => {
    const s = encodeToken(base, key);
    expectInvalid(() => decodeToken(42), /string/);
    expectInvalid(() => decodeToken(''), /base64url/);
    expectInvalid(() => decodeToken('not a token!'), /base64url/);
    expectInvalid(() => decodeToken(s.slice(0, -4)), /bytes/);
    expectInvalid(() => decodeToken(`${s}AAAA`), /bytes/);
    expectInvalid(() => decodeToken(randomBytes(TOKEN_BYTES).toString('base64url')));
  });

  it('verifies only under the key that minted it: every single-byte edit is refused', () => {
    const raw = Buffer.from(encodeToken(base, key), 'base64url');
    for (let i = 0; i < TOKEN_BYTES; i++) {
      const b = Buffer.from(raw);
      b[i] = b[i]! ^ 0x01;
      expectInvalid(() => verifyToken(b.toString('base64url'), key));
    }
    expectInvalid(() => verifyToken(raw.toString('base64url'), tokenKey()), /bad tag/);
  });

  it('cannot be resealed by a reader of the token: an edited field with a recomputed hash or another key\'s HMAC fails', () => {
    // What the v1 token allowed: edit a field (here the host, rkey, length, access), recompute the
    // unkeyed check. A reader knows every byte of the token but not the exporter's key.
    const raw = Buffer.from(encodeToken(base, key), 'base64url');
    const edits: ((b: Buffer) => void)[] = [
      (b) => b.writeUInt32BE(0x0a000063, 25), // host 10.0.0.99
      (b) => b.writeUInt32BE(0x1234_5679, 59), // rkey
      (b) => b.writeBigUInt64BE(BigInt(base.length * 2), 51), // length
      (b) => b.writeUInt8(2, 5), // read-write
    ];
    for (const edit of edits) {
      const b = Buffer.from(raw);
      edit(b);
      createHash('sha256').update(b.subarray(0, 67)).digest().subarray(0, 16).copy(b, 67);
      expect(() => decodeToken(b.toString('base64url'))).not.toThrow(); // parses: only the exporter can tell
      expectInvalid(() => verifyToken(b.toString('base64url'), key), /bad tag/);
      createHmac('sha256', randomBytes(32)).update(b.subarray(0, 67)).digest().subarray(0, 16).copy(b, 67);
      expectInvalid(() => verifyToken(b.toString('base64url'), key), /bad tag/);
    }
  });

  it('refuses a bad version, bad access, bad family and overflowing ranges even with a valid tag', () => {
    const reseal = (edit: (b: Buffer) => void) => {
      const b = Buffer.from(encodeToken(base, key), 'base64url');
      edit(b);
      createHmac('sha256', key).update(b.subarray(0, 67)).digest().subarray(0, 16).copy(b, 67);
      return b.toString('base64url');
    };
    expect(verifyToken(reseal(() => {}), key)).toEqual(base); // the resealing itself is right
    expectInvalid(() => verifyToken(reseal((b) => b.writeUInt8(1, 4)), key), /version/);
    expectInvalid(() => verifyToken(reseal((b) => b.writeUInt8(3, 5)), key), /access/);
    expectInvalid(() => verifyToken(reseal((b) => b.writeUInt8(5, 24)), key), /family/);
    expectInvalid(() => verifyToken(reseal((b) => b.writeBigUInt64BE(0n, 51)), key), /length/);
    expectInvalid(() => verifyToken(reseal((b) => b.writeBigUInt64BE(2n ** 64n - 1n, 43)), key), /overflow/);
    expectInvalid(() => verifyToken(reseal((b) => b.writeUInt16BE(1, 6)), key), /reserved/);
    expectInvalid(() => verifyToken(reseal((b) => b.writeUInt32BE(0x41414141, 0)), key), /magic/);
  });

  it('refuses to encode impossible fields', () => {
    expectInvalid(() => encodeToken({ ...base, nodeId: 'xyz' }, key));
    expectInvalid(() => encodeToken({ ...base, length: 0 }, key));
    expectInvalid(() => encodeToken({ ...base, rkey: -1 }, key));
    expectInvalid(() => encodeToken({ ...base, host: 'example.com' }, key));
    expectInvalid(() => encodeToken({ ...base, access: 'write' as never }, key));
  });
});
