/**
 * The register file and structure layouts: TypeScript constants against NOTES' literal offsets,
 * and against the addon's own constants (native/spec.h), so producer and function agree.
 */
import { describe, expect, it } from 'vitest';
import { DEVICE_BASE, loadNative, registers as R, structures as S } from '../src/index.js';

const native = loadNative();
if ('error' in native) throw new Error(native.error);
const layout = native.addon.layout();

describe('BAR0 register file (NOTES §7)', () => {
  it('sits at the SDXI 1.0 offsets', () => {
    expect(R.REG).toEqual({
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
    });
  });

  it('matches the function addon', () => {
    for (const [name, offset] of Object.entries(R.REG)) expect(layout[name], name).toBe(offset);
    expect(layout['bar0Bytes']).toBe(R.BAR0_BYTES);
    expect(BigInt(layout['deviceBase']!)).toBe(DEVICE_BASE);
  });

  it('has the fields and state encodings of Tables 9-2 … 9-13 and §6.2', () => {
    expect(R.CTL0).toEqual({ fn_gsr: [1, 0], fn_pasid_vl: [2, 2], fn_err_intr_en: [4, 4], fn_pasid: [27, 8], fn_grp_id: [63, 32] });
    expect(R.CTL2).toEqual({ max_buffer: [3, 0], max_akey_sz: [15, 12], max_cxt: [31, 16], opb_000_avl: [63, 32] });
    expect(R.CAP0).toEqual({ sfunc: [15, 0], db_stride: [22, 20], max_ds_ring_sz: [28, 24] });
    expect(R.CAP1).toMatchObject({ max_buffer: [3, 0], rkey_cap: [4, 4], rm: [5, 5], mmio64: [6, 6], max_errlog_sz: [11, 8], max_akey_sz: [15, 12], max_cxt: [31, 16], opb_000_cap: [63, 32] });
    expect(R.VERSION).toEqual({ minor: [7, 0], major: [23, 16] });
    expect(R.ERR_STS).toEqual({ sts: [0, 0], ovf: [1, 1], err: [3, 3] });
    expect(R.ERR_CFG).toEqual({ en: [0, 0], sz: [5, 1], ptr: [63, 12] });
    expect(R.GSV).toEqual({ STOP: 0, INIT: 1, ACTIVE: 2, STOPG_SF: 3, STOPG_HD: 4, ERROR: 5 });
    expect(R.GSR).toEqual({ RESET: 0, STOP_SF: 1, STOP_HD: 2, ACTIVE: 3 });
    expect(R.doorbellStride(0)).toBe(4096);
    expect(R.maxRingEntries(6)).toBe(65536);
    expect(layout['maxRingEntries']).toBe(R.maxRingEntries(6));
    expect(layout['dbStride']).toBe(R.doorbellStride(0));
  });
});

describe('memory structures (NOTES §4–§6)', () => {
  it('sizes, the 512 × 128 context tables and the 1024-entry minimum ring (Table 3-1, §4.1)', () => {
    expect([S.L2_ENTRIES, S.L1_ENTRIES, S.akeyTableEntries(0), S.akeyTableEntries(8)]).toEqual([512, 128, 256, 65536]);
    expect(S.SIZE).toMatchObject({ table: 4096, l1Entry: 32, cxtCtl: 64, cxtSts: 16, akeyEntry: 16, cstBlk: 32, errEntry: 64, descriptor: 64, minRingEntries: 1024 });
    expect(layout['minRingEntries']).toBe(S.SIZE.minRingEntries);
  });

  it('CXT_L2_ENT, CXT_L1_ENT, CXT_CTL and CXT_STS fields (Tables 3-2 … 3-6)', () => {
    expect(S.L2_ENT).toEqual({ vl: [0, 0], lv01_ptr: [63, 12] });
    expect(S.L1_ENT).toEqual({ vl: [0, 0], ka: [1, 1], pv: [2, 2], cxt_ctl_ptr: [63, 6], akey_sz: [67, 64], akey_ptr: [127, 76], cxt_pasid: [147, 128], max_buffer: [151, 148], opb_000_enb: [191, 160] });
    expect(S.CXT_CTL).toEqual({ vl: [0, 0], qos: [3, 2], se: [4, 4], csa: [5, 5], ds_ring_ptr: [63, 6], ds_ring_sz: [95, 64], cxt_sts_ptr: [191, 132], write_index_ptr: [255, 195] });
    expect(S.CXT_STS).toEqual({ state: [3, 0], read_index: [127, 64] });
    expect(S.CXT_STATE).toEqual({ STOP_SW: 0, RUN: 1, STOPG_SW: 2, STOP_FN: 4, STOPG_FN: 6, ERR_FN: 15 });
  });

  it('AKEY_ENT (Table 3-7), CST_BLK (Table 6-4) and ERRLOG_HD_ENT (§6.3)', () => {
    expect(S.AKEY_ENT).toEqual({ vl: [0, 0], iv: [1, 1], pv: [2, 2], ste: [3, 3], intr_num: [14, 4], tgt_sfunc: [31, 16], pasid: [51, 32], pr: [61, 61], ph: [63, 62], stag: [79, 64], rkey: [111, 96] });
    expect(S.CST_BLK).toEqual({ signal: [63, 0], er: [95, 95] });
    expect(S.ERRLOG_ENT).toEqual({ vl: [0, 0], step: [13, 8], type: [26, 16], cv: [32, 32], div: [33, 33], bv: [34, 34], buf: [38, 36], sub_step: [43, 40], re: [46, 44], cxt_num: [63, 48], dsc_index: [127, 64], err_class: [367, 352] });
    expect(S.ERRLOG_TYPE).toBe(0x7f7);
    expect(S.STEP).toEqual({ INTERNAL: 1, CXT_L2: 2, CXT_L1: 3, CXT_CTL: 4, CXT_STS: 5, WRITE_INDEX: 6, DESCRIPTOR: 7, CST_BLK: 8, ATOMIC: 9, DATA_BUFFER: 10, AKEY: 11, RKEY: 12 });
    expect(S.SUB_STEP).toEqual({ OTHER: 0, TRANSLATION: 1, ACCESS: 2, VALIDATION: 3 });
    expect(S.REACTION).toEqual({ INFORMATIVE: 0, CONTEXT_STOPPED: 1, FUNCTION_STOPPED: 2 });
    expect(layout['cstVendorResult']).toBe(S.CST_VENDOR_RESULT);
    expect(layout['errVendor']).toBe(S.ERRLOG_VENDOR);
    expect(layout['vendorGroup']).toBe(0x700);
  });
});
