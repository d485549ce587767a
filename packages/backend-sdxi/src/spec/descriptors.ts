/**
 * SDXI descriptors (NOTES §3): the 64-byte generic layout and the encoders of every descriptor
 * the producer writes. Field positions are bit ranges within the descriptor, the offsets the
 * Linux driver's KUnit tests decode; test/descriptors.test.ts checks each encoder against them.
 * Encoders return the final ring image (valid bit set); the Producer writes QW0 last.
 */
import { datamoverError, ErrorCode } from '@datamover/core';
import { setField, type Field } from './bits.js';

export const DESCRIPTOR_BYTES = 64;

/** Operation groups (`type`, Table 6-1); DATAMOVER is core's vendor group for what SDXI lacks. */
export const GROUP = { DMAB: 0x001, ADMIN: 0x002, ATOMIC: 0x003, INTR: 0x004, DATAMOVER: 0x700 } as const;

/** Subtypes (Table 6-2). */
export const SUBTYPE = {
  NOP: 0x01,
  WRT_IMM: 0x02,
  COPY: 0x03,
  REP_COPY: 0x04,
  CXT_UPD: 0x01,
  CXT_START: 0x03,
  CXT_STOP: 0x04,
  SYNC: 0x06,
  CXT_START_RS: 0x08,
  INTR: 0x00,
} as const;

/** DSC_GENERIC (Table 6-3). csb_ptr holds the CST_BLK address >> 5 in bits 511:453. */
export const GENERIC = {
  vl: [0, 0],
  se: [1, 1],
  fe: [2, 2],
  ch: [3, 3],
  csr: [4, 4],
  rb: [5, 5],
  subtype: [15, 8],
  type: [26, 16],
  np: [448, 448],
  csb_ptr: [511, 453],
} as const satisfies Record<string, Field>;

/** DSC_DMAB_COPY (Table 6-8). `size` is the byte count minus one. */
export const COPY = {
  size: [63, 32],
  attr_src: [67, 64],
  attr_dst: [71, 68],
  akey0: [111, 96],
  akey1: [127, 112],
  addr0: [191, 128],
  addr1: [255, 192],
} as const satisfies Record<string, Field>;

/**
 * DSC_DMAB_WRT_IMM — ASSUMED layout (NOTES §3.3 marks it unverified): the 2022 driver's size−1 at
 * bytes 4–7, destination at 16–23 and immediate at 24–27; the AKey that pairs with bytes 16–23
 * in COPY (bytes 12–13); and the immediate widened to 64 bits (24–31) for 8-byte writes.
 */
export const WRT_IMM = { size: [63, 32], akey: [111, 96], addr: [191, 128], imm: [255, 192] } as const satisfies Record<string, Field>;

/** DSC_INTR (Table 6-12). */
export const INTR = { akey: [111, 96] } as const satisfies Record<string, Field>;

/**
 * Admin prefix and bodies (Tables 6-14, 6-15, 6-22). `hs` and DSC_CXT_UPD's `v2` / `v1` / `ct`
 * (L2 entry, L1 entry, CXT_CTL changed) are the 2022 driver's positions.
 */
export const ADMIN = {
  cflags: [39, 32],
  filter: [34, 32],
  v2: [32, 32],
  v1: [33, 33],
  ct: [34, 34],
  hs: [45, 45],
  dv: [46, 46],
  vf: [47, 47],
  vf_num: [63, 48],
  cxt_start: [79, 64],
  cxt_end: [95, 80],
  db_value: [191, 128],
  key_start: [111, 96],
  key_end: [127, 112],
} as const satisfies Record<string, Field>;

/** DSC_SYNC filters. */
export const SYNC_FILTER = { CXT: 0, STOP: 1, AKEY: 2, RKEY: 3, FN: 4 } as const;

/** Flags and completion pointer any descriptor may carry. */
export interface DescriptorHeader {
  /** fe: run only after every earlier descriptor of the context has completed. */
  fence?: boolean;
  /** Device address of a 32-byte-aligned CST_BLK; absent: np = 1 (no completion block). */
  csb?: bigint;
}

function generic(group: number, subtype: number, h: DescriptorHeader): Uint8Array {
  const d = new Uint8Array(DESCRIPTOR_BYTES);
  setField(d, GENERIC.vl, 1);
  if (h.fence) setField(d, GENERIC.fe, 1);
  setField(d, GENERIC.subtype, subtype);
  setField(d, GENERIC.type, group);
  if (h.csb === undefined) setField(d, GENERIC.np, 1);
  else {
    if ((h.csb & 31n) !== 0n) throw new RangeError('a CST_BLK must be 32-byte aligned');
    setField(d, GENERIC.csb_ptr, h.csb >> 5n);
  }
  return d;
}

/** DSC_DMAB_NOP (Table 6-6): no body; with `fence` and a CST_BLK it is a barrier. */
export function nop(h: DescriptorHeader = {}): Uint8Array {
  return generic(GROUP.DMAB, SUBTYPE.NOP, h);
}

/**
 * DSC_DMAB_COPY: `bytes` (1 … 2^32) from (akey0, addr0) to (akey1, addr1). Refused up front, as
 * the driver's encoder refuses it: a size outside 1 … 2^32, and source and destination that
 * overlap in one address space (the same AKey) — SDXI 1.0's memory consistency model forbids it.
 */
export function copy(f: DescriptorHeader & { bytes: number; akey0: number; akey1: number; addr0: bigint | number; addr1: bigint | number }): Uint8Array {
  if (!Number.isSafeInteger(f.bytes) || f.bytes < 1) throw datamoverError(ErrorCode.INVALID_SIZE, `a COPY moves 1 … 2^32 bytes, not ${f.bytes}`);
  if (f.bytes > 2 ** 32) throw datamoverError(ErrorCode.SIZE_TOO_LARGE, `a COPY moves at most 2^32 bytes, not ${f.bytes}`);
  const n = BigInt(f.bytes);
  const [a0, a1] = [BigInt(f.addr0), BigInt(f.addr1)];
  if (f.akey0 === f.akey1 && a0 < a1 + n && a1 < a0 + n) {
    throw datamoverError(ErrorCode.OVERLAPPING_RANGES, `COPY source [${a0}, +${n}) and destination [${a1}, +${n}) overlap under AKey ${f.akey0}`);
  }
  const d = generic(GROUP.DMAB, SUBTYPE.COPY, f);
  setField(d, COPY.size, f.bytes - 1);
  setField(d, COPY.akey0, f.akey0);
  setField(d, COPY.akey1, f.akey1);
  setField(d, COPY.addr0, f.addr0);
  setField(d, COPY.addr1, f.addr1);
  return d;
}

/** DSC_DMAB_WRT_IMM (assumed layout): the low `bytes` (1, 2, 4 or 8) of `value` at (akey, addr). */
export function writeImm(f: DescriptorHeader & { bytes: 1 | 2 | 4 | 8; akey: number; addr: bigint | number; value: bigint }): Uint8Array {
  const d = generic(GROUP.DMAB, SUBTYPE.WRT_IMM, f);
  setField(d, WRT_IMM.size, f.bytes - 1);
  setField(d, WRT_IMM.akey, f.akey);
  setField(d, WRT_IMM.addr, f.addr);
  setField(d, WRT_IMM.imm, BigInt.asUintN(64, f.value));
  return d;
}

/** DSC_INTR: raise the interrupt of AKey entry `akey` (iv = 1, intr_num). */
export function intr(f: DescriptorHeader & { akey: number }): Uint8Array {
  const d = generic(GROUP.INTR, SUBTYPE.INTR, f);
  setField(d, INTR.akey, f.akey);
  return d;
}

interface ContextRange {
  /** First and last context number, inclusive. */
  first: number;
  last: number;
}

function adminRange(d: Uint8Array, r: ContextRange): Uint8Array {
  setField(d, ADMIN.cxt_start, r.first);
  setField(d, ADMIN.cxt_end, r.last);
  return d;
}

/** DSC_CXT_START (Table 6-14); `dbValue` sets dv = 1; `restart` uses the "RS" subtype (0x08). */
export function cxtStart(f: DescriptorHeader & ContextRange & { dbValue?: bigint; restart?: boolean }): Uint8Array {
  const d = adminRange(generic(GROUP.ADMIN, f.restart ? SUBTYPE.CXT_START_RS : SUBTYPE.CXT_START, f), f);
  if (f.dbValue !== undefined) {
    setField(d, ADMIN.dv, 1);
    setField(d, ADMIN.db_value, f.dbValue);
  }
  return d;
}

/**
 * DSC_CXT_UPD (2022 driver layout): the function drops what it cached of the contexts' L2 entry
 * (`l2`), L1 entry (`l1`) or CXT_CTL (`ctl`). The driver sends it, then DSC_SYNC(CXT), after
 * publishing or withdrawing a context (SDXI 1.0 §4.3.1.1).
 */
export function cxtUpdate(f: DescriptorHeader & ContextRange & { l2?: boolean; l1?: boolean; ctl?: boolean }): Uint8Array {
  const d = adminRange(generic(GROUP.ADMIN, SUBTYPE.CXT_UPD, f), f);
  if (f.l2) setField(d, ADMIN.v2, 1);
  if (f.l1) setField(d, ADMIN.v1, 1);
  if (f.ctl) setField(d, ADMIN.ct, 1);
  return d;
}

/** DSC_CXT_STOP (Table 6-15); `hard` sets hs. */
export function cxtStop(f: DescriptorHeader & ContextRange & { hard?: boolean }): Uint8Array {
  const d = adminRange(generic(GROUP.ADMIN, SUBTYPE.CXT_STOP, f), f);
  if (f.hard) setField(d, ADMIN.hs, 1);
  return d;
}

/** DSC_SYNC (Table 6-22) with a filter; AKEY and RKEY filters also take a key range. */
export function sync(f: DescriptorHeader & ContextRange & { filter: number; keyStart?: number; keyEnd?: number }): Uint8Array {
  const d = adminRange(generic(GROUP.ADMIN, SUBTYPE.SYNC, f), f);
  setField(d, ADMIN.filter, f.filter);
  setField(d, ADMIN.key_start, f.keyStart ?? 0);
  setField(d, ADMIN.key_end, f.keyEnd ?? 0);
  return d;
}
