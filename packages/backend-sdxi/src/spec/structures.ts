/**
 * SDXI in-memory structures other than descriptors (NOTES §4–§6): the context tables, CXT_CTL,
 * CXT_STS, AKey entries, the CST_BLK and error-log entries. Field positions are bit ranges within
 * each structure, as in NOTES.
 */
import type { Field } from './bits.js';

/** Sizes and alignments (Table 3-1). */
export const SIZE = {
  table: 4096,
  l2Entry: 8,
  l1Entry: 32,
  cxtCtl: 64,
  cxtSts: 16,
  writeIndex: 8,
  akeyEntry: 16,
  cstBlk: 32,
  errEntry: 64,
  descriptor: 64,
  /** A descriptor ring holds at least 1024 entries (64 KiB). */
  minRingEntries: 1024,
} as const;

/** Context numbers: bits 15:7 pick the L2 entry, bits 6:0 the L1 entry (§4.1). */
export const L2_ENTRIES = 512;
export const L1_ENTRIES = 128;

/** CXT_L2_ENT (Table 3-2). */
export const L2_ENT = { vl: [0, 0], lv01_ptr: [63, 12] } as const satisfies Record<string, Field>;

/** CXT_L1_ENT (Table 3-3). */
export const L1_ENT = {
  vl: [0, 0],
  ka: [1, 1],
  pv: [2, 2],
  cxt_ctl_ptr: [63, 6],
  akey_sz: [67, 64],
  akey_ptr: [127, 76],
  cxt_pasid: [147, 128],
  max_buffer: [151, 148],
  opb_000_enb: [191, 160],
} as const satisfies Record<string, Field>;

/** AKey table entries for an L1 `akey_sz` code: 4 KiB << n of 16-byte entries [I]. */
export function akeyTableEntries(code: number): number {
  return 256 << code;
}

/** CXT_CTL (Table 3-4). */
export const CXT_CTL = {
  vl: [0, 0],
  qos: [3, 2],
  se: [4, 4],
  csa: [5, 5],
  ds_ring_ptr: [63, 6],
  ds_ring_sz: [95, 64],
  cxt_sts_ptr: [191, 132],
  write_index_ptr: [255, 195],
} as const satisfies Record<string, Field>;

/** CXT_STS (Table 3-5). */
export const CXT_STS = { state: [3, 0], read_index: [127, 64] } as const satisfies Record<string, Field>;
/** Context states (Table 3-6). */
export const CXT_STATE = { STOP_SW: 0x0, RUN: 0x1, STOPG_SW: 0x2, STOP_FN: 0x4, STOPG_FN: 0x6, ERR_FN: 0xf } as const;

/** AKEY_ENT (Table 3-7). */
export const AKEY_ENT = {
  vl: [0, 0],
  iv: [1, 1],
  pv: [2, 2],
  ste: [3, 3],
  intr_num: [14, 4],
  tgt_sfunc: [31, 16],
  pasid: [51, 32],
  pr: [61, 61],
  ph: [63, 62],
  stag: [79, 64],
  rkey: [111, 96],
} as const satisfies Record<string, Field>;

/** CST_BLK (Table 6-4): the producer arms `signal` with 1, the function decrements it [I]. */
export const CST_BLK = { signal: [63, 0], er: [95, 95] } as const satisfies Record<string, Field>;
/** Byte offset, in a CST_BLK's reserved bytes, of a Datamover vendor operation's result. */
export const CST_VENDOR_RESULT = 16;

/** ERRLOG_HD_ENT (§6.3). */
export const ERRLOG_ENT = {
  vl: [0, 0],
  step: [13, 8],
  type: [26, 16],
  cv: [32, 32],
  div: [33, 33],
  bv: [34, 34],
  buf: [38, 36],
  sub_step: [43, 40],
  re: [46, 44],
  cxt_num: [63, 48],
  dsc_index: [127, 64],
  err_class: [367, 352],
} as const satisfies Record<string, Field>;
/** Error-log entries carry this `type`. */
export const ERRLOG_TYPE = 0x7f7;
/** Byte offset of the vendor words; this project's function stores the Datamover status and errno there. */
export const ERRLOG_VENDOR = 48;

/** Processing steps of an error-log entry. */
export const STEP = {
  INTERNAL: 1,
  CXT_L2: 2,
  CXT_L1: 3,
  CXT_CTL: 4,
  CXT_STS: 5,
  WRITE_INDEX: 6,
  DESCRIPTOR: 7,
  CST_BLK: 8,
  ATOMIC: 9,
  DATA_BUFFER: 10,
  AKEY: 11,
  RKEY: 12,
} as const;
export const SUB_STEP = { OTHER: 0, TRANSLATION: 1, ACCESS: 2, VALIDATION: 3 } as const;
/** `re`: what the fault stopped. */
export const REACTION = { INFORMATIVE: 0, CONTEXT_STOPPED: 1, FUNCTION_STOPPED: 2 } as const;
