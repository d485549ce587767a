/**
 * Descriptor encodings, field by field, at the bit offsets shared/sdxi/NOTES.md gives (the ones
 * the Linux driver's KUnit tests decode with PACKED_FIELD(hi, lo)). The offsets are written out
 * here as literals — not taken from src/spec — so a wrong constant there cannot hide. Our
 * encoders return the final ring image, so `vl` is 1 where the driver's (pre-issue) encoders
 * leave it 0.
 */
import { describe, expect, it } from 'vitest';
import { DatamoverError } from '@datamover/core';
import { descriptors as D } from '../src/index.js';

/** Bits hi..lo of a little-endian descriptor, read independently of src/spec/bits.ts. */
function bits(d: Uint8Array, hi: number, lo: number): bigint {
  let v = 0n;
  for (let b = hi; b >= lo; b--) v = (v << 1n) | BigInt((d[b >> 3]! >> (b & 7)) & 1);
  return v;
}

/** Every bit of `d` outside the listed [hi, lo] fields is zero. */
function onlyFields(d: Uint8Array, fields: readonly (readonly [number, number])[]): boolean {
  for (let b = 0; b < 512; b++) {
    if (fields.some(([hi, lo]) => b <= hi && b >= lo)) continue;
    if (((d[b >> 3]! >> (b & 7)) & 1) !== 0) return false;
  }
  return true;
}

const GENERIC_FIELDS = [
  [0, 0],
  [1, 1],
  [2, 2],
  [3, 3],
  [4, 4],
  [5, 5],
  [15, 8],
  [26, 16],
  [448, 448],
  [511, 453],
] as const;

function generic(d: Uint8Array) {
  return {
    vl: bits(d, 0, 0),
    se: bits(d, 1, 1),
    fe: bits(d, 2, 2),
    ch: bits(d, 3, 3),
    csr: bits(d, 4, 4),
    rb: bits(d, 5, 5),
    subtype: bits(d, 15, 8),
    type: bits(d, 26, 16),
    np: bits(d, 448, 448),
    csbPtr: bits(d, 511, 453),
  };
}

describe('SDXI descriptor encodings', () => {
  it('every descriptor is 64 bytes', () => {
    for (const d of [D.nop(), D.copy({ bytes: 1, akey0: 0, akey1: 1, addr0: 0, addr1: 0 }), D.intr({ akey: 0 }), D.cxtStart({ first: 1, last: 1 }), D.cxtStop({ first: 1, last: 1 }), D.sync({ filter: 0, first: 1, last: 1 })])
      expect(d.byteLength).toBe(64);
  });

  it('DSC_DMAB_NOP (Table 6-6): type 0x001, subtype 0x01, body reserved', () => {
    const d = D.nop({ fence: true, csb: 0x1_0000_0040n });
    expect(generic(d)).toEqual({ vl: 1n, se: 0n, fe: 1n, ch: 0n, csr: 0n, rb: 0n, subtype: 0x01n, type: 0x001n, np: 0n, csbPtr: 0x1_0000_0040n >> 5n });
    expect(onlyFields(d, GENERIC_FIELDS)).toBe(true);
    expect(generic(D.nop())).toMatchObject({ np: 1n, csbPtr: 0n, fe: 0n });
  });

  it('DSC_DMAB_COPY (Table 6-8): size is bytes − 1 at 63:32, AKeys at 111:96 and 127:112, addresses at 191:128 and 255:192', () => {
    const d = D.copy({ bytes: 0x100, akey0: 1, akey1: 2, addr0: 0x1000, addr1: 0x2000 });
    expect(generic(d)).toEqual({ vl: 1n, se: 0n, fe: 0n, ch: 0n, csr: 0n, rb: 0n, subtype: 0x03n, type: 0x001n, np: 1n, csbPtr: 0n });
    expect(bits(d, 63, 32)).toBe(0xffn);
    expect(bits(d, 67, 64)).toBe(0n); // attr_src
    expect(bits(d, 71, 68)).toBe(0n); // attr_dst
    expect(bits(d, 111, 96)).toBe(1n);
    expect(bits(d, 127, 112)).toBe(2n);
    expect(bits(d, 191, 128)).toBe(0x1000n);
    expect(bits(d, 255, 192)).toBe(0x2000n);
    expect(onlyFields(d, [...GENERIC_FIELDS, [63, 32], [111, 96], [127, 112], [191, 128], [255, 192]])).toBe(true);
  });

  it('COPY sizes: 1 byte encodes 0, 4 KiB encodes 4095, 4 GiB encodes 0xffffffff; 0 and 4 GiB + 1 do not encode', () => {
    const size = (n: number) => bits(D.copy({ bytes: n, akey0: 0, akey1: 1, addr0: 0, addr1: 0 }), 63, 32);
    expect(size(1)).toBe(0n);
    expect(size(4096)).toBe(4095n);
    expect(size(4 * 2 ** 20)).toBe(4n * 2n ** 20n - 1n);
    expect(size(2 ** 32 - 1)).toBe(2n ** 32n - 2n);
    expect(size(2 ** 32)).toBe(2n ** 32n - 1n);
    expect(() => size(0)).toThrow(DatamoverError);
    expect(() => size(0)).toThrow(expect.objectContaining({ code: 'INVALID_SIZE' }));
    expect(() => size(2 ** 32 + 1)).toThrow(expect.objectContaining({ code: 'SIZE_TOO_LARGE' }));
  });

  it('COPY refuses source and destination overlapping under one AKey (SDXI 1.0 memory consistency model, as the driver encoder)', () => {
    const enc = (addr0: number, addr1: number, akey1 = 3) => () => D.copy({ bytes: 16, akey0: 3, akey1, addr0, addr1 });
    for (const [a0, a1] of [[0, 8], [8, 0], [0, 0], [100, 115]] as const) expect(enc(a0, a1), `${a0} / ${a1}`).toThrow(expect.objectContaining({ code: 'OVERLAPPING_RANGES' }));
    // Adjacent ranges, and the same offsets under two AKeys (two address spaces), encode.
    expect(bits(enc(0, 16)(), 255, 192)).toBe(16n);
    expect(bits(enc(16, 0)(), 191, 128)).toBe(16n);
    expect(bits(enc(0, 0, 4)(), 127, 112)).toBe(4n);
  });

  it('COPY with 64-bit addresses and a CST_BLK', () => {
    const d = D.copy({ bytes: 8, akey0: 0xfffe, akey1: 0xffff, addr0: 0xffff_ffff_ffff_fff0n, addr1: 2n ** 40n, csb: 0x123_4560n, fence: true });
    expect(bits(d, 111, 96)).toBe(0xfffen);
    expect(bits(d, 127, 112)).toBe(0xffffn);
    expect(bits(d, 191, 128)).toBe(0xffff_ffff_ffff_fff0n);
    expect(bits(d, 255, 192)).toBe(2n ** 40n);
    expect(generic(d)).toMatchObject({ fe: 1n, np: 0n, csbPtr: 0x123_4560n >> 5n });
    expect(() => D.nop({ csb: 0x10n })).toThrow(RangeError); // a CST_BLK is 32-byte aligned
  });

  it('DSC_INTR (Table 6-12): type 0x004, subtype 0x00, akey at 111:96 and nothing else', () => {
    const d = D.intr({ akey: 1234 });
    expect(generic(d)).toEqual({ vl: 1n, se: 0n, fe: 0n, ch: 0n, csr: 0n, rb: 0n, subtype: 0x00n, type: 0x004n, np: 1n, csbPtr: 0n });
    expect(bits(d, 111, 96)).toBe(1234n);
    expect(onlyFields(d, [...GENERIC_FIELDS, [111, 96]])).toBe(true);
  });

  it('DSC_CXT_START (Table 6-14): type 0x002, subtype 0x03 (0x08 "RS"), fence, range at 79:64 / 95:80, dv at 46 with db_value at 191:128', () => {
    const d = D.cxtStart({ first: 2, last: 2, fence: true });
    expect(generic(d)).toEqual({ vl: 1n, se: 0n, fe: 1n, ch: 0n, csr: 0n, rb: 0n, subtype: 0x03n, type: 0x002n, np: 1n, csbPtr: 0n });
    expect(bits(d, 46, 46)).toBe(0n); // dv
    expect(bits(d, 47, 47)).toBe(0n); // vf
    expect(bits(d, 63, 48)).toBe(0n); // vf_num
    expect(bits(d, 79, 64)).toBe(2n);
    expect(bits(d, 95, 80)).toBe(2n);
    expect(bits(d, 191, 128)).toBe(0n);
    expect(onlyFields(d, [...GENERIC_FIELDS, [79, 64], [95, 80]])).toBe(true);
    const withDb = D.cxtStart({ first: 1, last: 0xffff, dbValue: 0x1234_5678_9abcn, restart: true });
    expect(bits(withDb, 15, 8)).toBe(0x08n);
    expect(bits(withDb, 46, 46)).toBe(1n);
    expect(bits(withDb, 191, 128)).toBe(0x1234_5678_9abcn);
    expect(bits(withDb, 95, 80)).toBe(0xffffn);
  });

  it('DSC_CXT_STOP (Table 6-15): type 0x002, subtype 0x04, range; hs (assumed at bit 45) only when asked', () => {
    const d = D.cxtStop({ first: 1, last: 0xffff, fence: true });
    expect(generic(d)).toEqual({ vl: 1n, se: 0n, fe: 1n, ch: 0n, csr: 0n, rb: 0n, subtype: 0x04n, type: 0x002n, np: 1n, csbPtr: 0n });
    expect(bits(d, 47, 40)).toBe(0n); // vflags
    expect(bits(d, 63, 48)).toBe(0n);
    expect(bits(d, 79, 64)).toBe(1n);
    expect(bits(d, 95, 80)).toBe(0xffffn);
    expect(onlyFields(d, [...GENERIC_FIELDS, [79, 64], [95, 80]])).toBe(true);
    expect(bits(D.cxtStop({ first: 1, last: 1, hard: true }), 45, 45)).toBe(1n);
  });

  it('DSC_SYNC (Table 6-22): type 0x002, subtype 0x06, filter at 34:32, key range at 111:96 / 127:112', () => {
    const d = D.sync({ filter: D.SYNC_FILTER.STOP, first: 1, last: 0xffff });
    expect(generic(d)).toMatchObject({ ch: 0n, subtype: 0x06n, type: 0x002n });
    expect(bits(d, 34, 32)).toBe(1n);
    expect(bits(d, 47, 47)).toBe(0n);
    expect(bits(d, 79, 64)).toBe(1n);
    expect(bits(d, 95, 80)).toBe(0xffffn);
    const akeys = D.sync({ filter: D.SYNC_FILTER.AKEY, first: 3, last: 3, keyStart: 10, keyEnd: 20 });
    expect(bits(akeys, 34, 32)).toBe(2n);
    expect(bits(akeys, 111, 96)).toBe(10n);
    expect(bits(akeys, 127, 112)).toBe(20n);
    expect(onlyFields(akeys, [...GENERIC_FIELDS, [34, 32], [79, 64], [95, 80], [111, 96], [127, 112]])).toBe(true);
    expect(D.SYNC_FILTER).toEqual({ CXT: 0, STOP: 1, AKEY: 2, RKEY: 3, FN: 4 });
  });

  it('DSC_CXT_UPD (2022 driver): type 0x002, subtype 0x01, v2 / v1 / ct at bits 32 / 33 / 34, range', () => {
    const d = D.cxtUpdate({ first: 1, last: 1, l1: true });
    expect(generic(d)).toEqual({ vl: 1n, se: 0n, fe: 0n, ch: 0n, csr: 0n, rb: 0n, subtype: 0x01n, type: 0x002n, np: 1n, csbPtr: 0n });
    expect([bits(d, 32, 32), bits(d, 33, 33), bits(d, 34, 34)]).toEqual([0n, 1n, 0n]);
    expect(bits(d, 79, 64)).toBe(1n);
    expect(bits(d, 95, 80)).toBe(1n);
    expect(onlyFields(d, [...GENERIC_FIELDS, [33, 33], [79, 64], [95, 80]])).toBe(true);
    const all = D.cxtUpdate({ first: 2, last: 9, l2: true, l1: true, ctl: true });
    expect(bits(all, 39, 32)).toBe(0b111n);
  });

  it('DSC_DMAB_WRT_IMM (assumed layout): subtype 0x02, size − 1 at 63:32, akey at 111:96, address at 191:128, immediate at 255:192', () => {
    const d = D.writeImm({ bytes: 4, akey: 7, addr: 0x40, value: 0xdead_beefn });
    expect(generic(d)).toMatchObject({ subtype: 0x02n, type: 0x001n });
    expect(bits(d, 63, 32)).toBe(3n);
    expect(bits(d, 111, 96)).toBe(7n);
    expect(bits(d, 191, 128)).toBe(0x40n);
    expect(bits(d, 223, 192)).toBe(0xdead_beefn); // the 2022 driver's 32-bit immediate at bytes 24–27
    expect(onlyFields(d, [...GENERIC_FIELDS, [63, 32], [111, 96], [191, 128], [255, 192]])).toBe(true);
  });
});
