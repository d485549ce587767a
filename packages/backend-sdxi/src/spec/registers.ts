/**
 * The SDXI function's BAR0 register file (NOTES §7, SDXI 1.0 Tables 9-2 … 9-13): 64-bit
 * registers at fixed offsets, and the GSV/GSR state encodings (§6.2). BAR2 holds one doorbell
 * per context, `db_stride` bytes apart (§5.2).
 */
import type { Field } from './bits.js';

/** Register offsets in BAR0. */
export const REG = {
  CTL0: 0x00000,
  CTL2: 0x00010,
  STS0: 0x00100,
  CAP0: 0x00200,
  CAP1: 0x00208,
  VERSION: 0x00210,
  CXT_L2: 0x10000,
  RKEY: 0x10100,
  ERR_CTL: 0x20000,
  ERR_STS: 0x20008,
  ERR_CFG: 0x20010,
  ERR_WRT: 0x20020,
  ERR_RD: 0x20028,
} as const;

/** Bytes of BAR0 the software function implements (past ERR_RD, rounded to a page). */
export const BAR0_BYTES = 0x21000;

/** Fields of each register, as bit ranges within it. */
export const CTL0 = { fn_gsr: [1, 0], fn_pasid_vl: [2, 2], fn_err_intr_en: [4, 4], fn_pasid: [27, 8], fn_grp_id: [63, 32] } as const satisfies Record<string, Field>;
export const CTL2 = { max_buffer: [3, 0], max_akey_sz: [15, 12], max_cxt: [31, 16], opb_000_avl: [63, 32] } as const satisfies Record<string, Field>;
export const STS0 = { fn_gsv: [2, 0] } as const satisfies Record<string, Field>;
export const CAP0 = { sfunc: [15, 0], db_stride: [22, 20], max_ds_ring_sz: [28, 24] } as const satisfies Record<string, Field>;
export const CAP1 = {
  max_buffer: [3, 0],
  rkey_cap: [4, 4],
  /** Named by the driver's mmio.h; meaning in no source seen. */
  rm: [5, 5],
  /** BAR0 takes 64-bit accesses only. */
  mmio64: [6, 6],
  max_errlog_sz: [11, 8],
  max_akey_sz: [15, 12],
  max_cxt: [31, 16],
  opb_000_cap: [63, 32],
} as const satisfies Record<string, Field>;
export const VERSION = { minor: [7, 0], major: [23, 16] } as const satisfies Record<string, Field>;
export const CXT_L2 = { ptr: [63, 12] } as const satisfies Record<string, Field>;
export const ERR_CTL = { intr_en: [0, 0] } as const satisfies Record<string, Field>;
export const ERR_STS = { sts: [0, 0], ovf: [1, 1], err: [3, 3] } as const satisfies Record<string, Field>;
export const ERR_CFG = { en: [0, 0], sz: [5, 1], ptr: [63, 12] } as const satisfies Record<string, Field>;

/** MMIO_STS0.fn_gsv: the function's global state. */
export const GSV = { STOP: 0, INIT: 1, ACTIVE: 2, STOPG_SF: 3, STOPG_HD: 4, ERROR: 5 } as const;
/** MMIO_CTL0.fn_gsr: the state software requests. */
export const GSR = { RESET: 0, STOP_SF: 1, STOP_HD: 2, ACTIVE: 3 } as const;

/** Doorbell stride in bytes for a CAP0.db_stride code (4 KiB << n). */
export function doorbellStride(code: number): number {
  return 4096 << code;
}
/** Largest ring (entries) for a CAP0.max_ds_ring_sz code (1024 << n). */
export function maxRingEntries(code: number): number {
  return 1024 << code;
}
