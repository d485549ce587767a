import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, TOKEN_BYTES, type ExportToken } from '../src/token.js';
import { nonceEqual } from '../src/token.js';

const base: ExportToken = {
  nodeId: '00112233445566778899aabbccddeeff',
  host: '10.0.0.1',
  port: 18515,
  address: 0x7f12_3456_7000n,
  length: 1 << 20,
  rkey: 0x1234_5678,
  access: 'read-write',
  exportId: 0xdead_beef,
  nonce: 'ffeeddccbbaa99887766554433221100',
};

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
    const s = encodeToken(base);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(s, 'base64url').length).toBe(TOKEN_BYTES);
    expect(s.length).toBeLessThanOrEqual(124);
    expect(decodeToken(s)).toEqual(base);
  });

  it('round-trips read-only, IPv6, no listener, and extreme values', () => {
    for (const t of [
      { ...base, access: 'read-only' as const },
      { ...base, host: 'fe80:0:0:0:1:2:3:4' },
      { ...base, host: '', port: 0 },
      { ...base, address: 2n ** 64n - 1n, length: 1, rkey: 0xffff_ffff, exportId: 0 },
      { ...base, address: 0n, length: Number.MAX_SAFE_INTEGER },
    ]) expect(decodeToken(encodeToken(t))).toEqual(t);
  });

  it('keeps an IPv4-mapped or IPv4-embedded IPv6 host intact', () => {
    const host = (h: string) => decodeToken(encodeToken({ ...base, host: h })).host;
    expect(host('::ffff:1.2.3.4')).toBe('::ffff:1.2.3.4');
    expect(host('::ffff:0102:0304')).toBe('::ffff:1.2.3.4');
    expect(host('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0:0:0:c000:221');
    expect(host('::1')).toBe('0:0:0:0:0:0:0:1');
  });

  it('refuses malformed input with INVALID_TOKEN', () => {
    const s = encodeToken(base);
    expectInvalid(() => decodeToken(42), /string/);
    expectInvalid(() => decodeToken(''), /base64url/);
    expectInvalid(() => decodeToken('not a token!'), /base64url/);
    expectInvalid(() => decodeToken(s.slice(0, -4)), /bytes/);
    expectInvalid(() => decodeToken(`${s}AAAA`), /bytes/);
    expectInvalid(() => decodeToken(randomBytes(TOKEN_BYTES).toString('base64url')));
  });

  it('detects every single-byte edit (forged rkey, address, length, access, export id, nonce)', () => {
    const raw = Buffer.from(encodeToken(base), 'base64url');
    for (let i = 0; i < TOKEN_BYTES; i++) {
      const b = Buffer.from(raw);
      b[i] = b[i]! ^ 0x01;
      expectInvalid(() => decodeToken(b.toString('base64url')));
    }
  });

  it('refuses a bad version, bad access, bad family and overflowing ranges even with a valid checksum', async () => {
    const { createHash } = await import('node:crypto');
    const reseal = (edit: (b: Buffer) => void) => {
      const b = Buffer.from(encodeToken(base), 'base64url');
      edit(b);
      createHash('sha256').update(b.subarray(0, 88)).digest().subarray(0, 4).copy(b, 88);
      return b.toString('base64url');
    };
    expectInvalid(() => decodeToken(reseal((b) => b.writeUInt8(2, 4))), /version/);
    expectInvalid(() => decodeToken(reseal((b) => b.writeUInt8(3, 5))), /access/);
    expectInvalid(() => decodeToken(reseal((b) => b.writeUInt8(5, 24))), /family/);
    expectInvalid(() => decodeToken(reseal((b) => b.writeBigUInt64BE(0n, 51))), /length/);
    expectInvalid(() => decodeToken(reseal((b) => b.writeBigUInt64BE(2n ** 64n - 1n, 43))), /overflow/);
    expectInvalid(() => decodeToken(reseal((b) => b.writeUInt16BE(1, 6))), /reserved/);
    expectInvalid(() => decodeToken(reseal((b) => b.writeUInt32BE(0x41414141, 0))), /magic/);
  });

  it('refuses to encode impossible fields', () => {
    expectInvalid(() => encodeToken({ ...base, nodeId: 'xyz' }));
    expectInvalid(() => encodeToken({ ...base, length: 0 }));
    expectInvalid(() => encodeToken({ ...base, rkey: -1 }));
    expectInvalid(() => encodeToken({ ...base, host: 'example.com' }));
    expectInvalid(() => encodeToken({ ...base, access: 'write' as never }));
  });

  it('compares nonces in constant time and rejects garbage', () => {
    expect(nonceEqual(base.nonce, base.nonce)).toBe(true);
    expect(nonceEqual(base.nonce, base.nodeId)).toBe(false);
    expect(nonceEqual(base.nonce, 'short')).toBe(false);
  });
});
