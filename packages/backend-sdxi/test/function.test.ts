/**
 * The software SDXI function driven through the producer and the register file, as a driver
 * would: activation and the GSV/GSR state machine, the operations, ring wrap, out-of-order
 * doorbells, the valid-bit stop below Write_Index, context stop and restart, and an error-log
 * entry (step, sub-step, reaction, buffer, CST_BLK er, context state) for each injected fault.
 */
import { describe, expect, it } from 'vitest';
import { abi } from '@datamover/core';
import { bits, contextVector, descriptors as D, DEVICE_BASE, registers as R, SdxiDevice, structures as S, type ErrorEntry } from '../src/index.js';
import { CONTEXT, INTR_AKEY, never, rig, until, type Rig } from './rig.js';

const { CompletionStatus: ST } = abi;
const gsv = (r: Rig) => Number(bits.field64(r.fn.mmio.read64(R.REG.STS0), R.STS0.fn_gsv));

function concat(...ds: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(ds.length * 64);
  ds.forEach((d, k) => out.set(d, k * 64));
  return out;
}

/** Writes `d` into claimed slot `i` (QW1–QW7 and QW0's upper half) and returns its opcode word. */
function fill(r: Rig, i: number, d: Uint8Array): number {
  const words = new Uint32Array(d.slice().buffer);
  const w = r.producer.slotWord(i);
  for (let j = 1; j < 16; j++) r.producer.u32[w + j] = words[j]!;
  return words[0]!;
}

async function enqueueAll(r: Rig, batch: Uint8Array): Promise<number> {
  for (;;) {
    const i = r.producer.enqueue(batch);
    if (i >= 0) return i;
    await new Promise((res) => setImmediate(res));
  }
}

describe('activation and the GSV/GSR state machine (§6.2)', () => {
  it('activates: ACTIVE, CTL2 from CAP1, version 1.0, the L2 table, the admin context RUN, the error log on', async () => {
    const r = await rig();
    const m = r.fn.mmio;
    expect(gsv(r)).toBe(R.GSV.ACTIVE);
    const cap1 = m.read64(R.REG.CAP1);
    const ctl2 = m.read64(R.REG.CTL2);
    for (const f of ['max_buffer', 'max_akey_sz', 'max_cxt'] as const) expect(bits.field64(ctl2, R.CTL2[f])).toBe(bits.field64(cap1, R.CAP1[f]));
    expect(bits.field64(ctl2, R.CTL2.opb_000_avl)).toBe(bits.field64(cap1, R.CAP1.opb_000_cap));
    expect(r.device.info).toMatchObject({ version: '1.0', maxContext: 255, doorbellStride: 4096, maxRingEntries: 65536 });
    expect(bits.field64(m.read64(R.REG.CTL0), R.CTL0.fn_gsr)).toBe(BigInt(R.GSR.ACTIVE));
    expect(m.read64(R.REG.CXT_L2)).not.toBe(0n);
    expect(bits.field64(m.read64(R.REG.ERR_CFG), R.ERR_CFG.en)).toBe(1n);
    expect(bits.field64(m.read64(R.REG.ERR_CFG), R.ERR_CFG.sz)).toBe(1n);
    expect(r.device.adminContext.state()).toBe(S.CXT_STATE.RUN);
    expect(r.cxt.state()).toBe(S.CXT_STATE.RUN);
    // Read-only registers ignore writes.
    const cap0 = m.read64(R.REG.CAP0);
    m.write64(R.REG.CAP0, 0n);
    m.write64(R.REG.STS0, 0n);
    expect(m.read64(R.REG.CAP0)).toBe(cap0);
    expect(gsv(r)).toBe(R.GSV.ACTIVE);
  });

  it('soft stop → STOP with every context STOP_FN; RESET in STOP is ignored; re-activation; a bad L2 pointer → ERROR until RESET', async () => {
    const r = await rig();
    const m = r.fn.mmio;
    m.write64(R.REG.CTL0, BigInt(R.GSR.STOP_SF));
    await until(() => gsv(r) === R.GSV.STOP, 'STOP');
    expect(r.cxt.state()).toBe(S.CXT_STATE.STOP_FN);
    expect(r.device.adminContext.state()).toBe(S.CXT_STATE.STOP_FN);
    m.write64(R.REG.CTL0, BigInt(R.GSR.RESET));
    expect(await never(() => gsv(r) !== R.GSV.STOP)).toBe(true);

    // Re-activate: software sets the admin context to RUN again, then GSR = ACTIVE.
    r.device.adminContext.setState(S.CXT_STATE.RUN);
    m.write64(R.REG.CTL0, BigInt(R.GSR.ACTIVE));
    await until(() => gsv(r) === R.GSV.ACTIVE, 'ACTIVE');
    await r.device.start(r.cxt);
    const cst = r.cst();
    r.producer.enqueue(D.nop({ csb: cst.address }));
    await until(() => cst.signal() === 0n, 'the NOP');

    m.write64(R.REG.CTL0, BigInt(R.GSR.STOP_HD));
    await until(() => gsv(r) === R.GSV.STOP, 'STOP after a hard stop');
    m.write64(R.REG.CXT_L2, 0x40n); // no device memory there
    r.device.adminContext.setState(S.CXT_STATE.RUN);
    m.write64(R.REG.CTL0, BigInt(R.GSR.ACTIVE));
    await until(() => gsv(r) === R.GSV.ERROR, 'ERROR');
    expect(r.device.takeErrors(0)).toEqual([expect.objectContaining({ step: S.STEP.CXT_L2, subStep: S.SUB_STEP.TRANSLATION, reaction: S.REACTION.FUNCTION_STOPPED })]);
    m.write64(R.REG.CTL0, BigInt(R.GSR.ACTIVE));
    expect(await never(() => gsv(r) !== R.GSV.ERROR)).toBe(true);
    m.write64(R.REG.CTL0, BigInt(R.GSR.RESET));
    await until(() => gsv(r) === R.GSV.STOP, 'STOP after RESET');
    // A function in any state can be activated again from scratch.
    await SdxiDevice.activate(r.fn);
    expect(gsv(r)).toBe(R.GSV.ACTIVE);
  });
});

describe('descriptor processing', () => {
  it('runs NOP, COPY, WRT_IMM and INTR: CST_BLK signal 1 → 0, Read_Index advances, consumed slots lose vl, the fenced INTR wakes JS after the copy', async () => {
    const r = await rig();
    const src = r.space(0, 4096, { fill: (i) => (i * 7) & 0xff });
    const dst = r.space(1, 4096);
    const csts = [r.cst(), r.cst(), r.cst()];
    let seenAtInterrupt: boolean | undefined;
    r.device.onVector(contextVector(CONTEXT), () => (seenAtInterrupt = csts.every((c) => c.signal() === 0n) && dst.view[4000] === src.view[4000]));
    const first = r.producer.enqueue(
      concat(
        D.nop({ csb: csts[0]!.address }),
        D.copy({ bytes: 4096, akey0: 0, akey1: 1, addr0: 0, addr1: 0, csb: csts[1]!.address }),
        D.writeImm({ bytes: 8, akey: 1, addr: 8, value: 0x0102_0304_0506_0708n, csb: csts[2]!.address, fence: true }),
        D.intr({ akey: INTR_AKEY, fence: true }),
      ),
    );
    await until(() => seenAtInterrupt !== undefined, 'the interrupt');
    expect(seenAtInterrupt).toBe(true);
    expect(csts.map((c) => [c.signal(), c.error()])).toEqual([[0n, false], [0n, false], [0n, false]]);
    const want = src.view.slice();
    want.set([8, 7, 6, 5, 4, 3, 2, 1], 8);
    expect(Buffer.from(dst.view).equals(Buffer.from(want))).toBe(true);
    expect(r.cxt.readIndex()).toBe(first + 4);
    for (let i = first; i < first + 4; i++) expect(r.producer.u32[r.producer.slotWord(i)]! & 1).toBe(0);
    expect(src.guardsIntact() && dst.guardsIntact()).toBe(true);
  });

  it('runs Datamover vendor operations with the soft executor, results in the CST_BLK', async () => {
    const r = await rig();
    r.space(0, 100, { fill: (i) => i });
    const b = r.space(1, 100, { fill: (i) => (i === 60 ? 0 : i) });
    const compare = r.cst();
    const fillCst = r.cst();
    // Vendor layouts are core's: build them with core's encoders.
    const u32 = new Uint32Array(32);
    abi.encodeCompareBody(u32, 0, { size: 99, akey0: 0, akey1: 1, addr0: 0, addr1: 0 }, 0);
    u32[0] = abi.OPCODE.compare | 1;
    abi.encodeFillBody(u32, 16, { size: 9, patternBytes: 1, akey1: 1, addr1: 90, pattern: 0xabn }, 0);
    u32[16] = abi.OPCODE.fill | 1;
    const d = new Uint8Array(u32.buffer);
    new DataView(d.buffer).setBigUint64(56, compare.address, true);
    new DataView(d.buffer).setBigUint64(120, fillCst.address, true);
    r.producer.enqueue(d);
    await until(() => fillCst.signal() === 0n, 'the vendor descriptors');
    expect([compare.error(), compare.result()]).toEqual([false, 60n]);
    expect([...b.view.subarray(88, 100)]).toEqual([88, 89, ...new Array(10).fill(0xab)]);
  });

  it('wraps the ring more than three times, executing each descriptor exactly once, in order', async () => {
    const r = await rig();
    const n = 3 * 1024 + 100;
    const dst = r.space(0, n * 8);
    const csts = r.fn.allocate(n * 32, 32);
    const signals = new BigUint64Array(csts.buffer, csts.offset, n * 4);
    for (let i = 0; i < n; i++) signals[i * 4] = 1n;
    for (let i = 0; i < n; i += 200) {
      const batch: Uint8Array[] = [];
      for (let k = i; k < Math.min(n, i + 200); k++) batch.push(D.writeImm({ bytes: 8, akey: 0, addr: k * 8, value: BigInt(k + 1), csb: csts.address + BigInt(k * 32) }));
      await enqueueAll(r, concat(...batch));
    }
    await until(() => r.cxt.readIndex() === n, 'every descriptor');
    const values = new BigUint64Array(dst.view.buffer, dst.view.byteOffset, n);
    for (let i = 0; i < n; i++) if (values[i] !== BigInt(i + 1) || signals[i * 4] !== 0n) throw new Error(`descriptor ${i}: value ${values[i]}, signal ${signals[i * 4]}`);
    expect(r.producer.writeIndex()).toBe(n);
    expect(dst.guardsIntact()).toBe(true);
  });

  it('handles out-of-order doorbells: the later producer publishes and rings first, the earlier one rings an older value last', async () => {
    const r = await rig();
    const dst = r.space(0, 64);
    const a = r.producer.reserve(4);
    const b = r.producer.reserve(4);
    const put = (first: number) => {
      const words = [0, 1, 2, 3].map((k) => fill(r, first + k, D.writeImm({ bytes: 8, akey: 0, addr: (first + k) * 8, value: BigInt(first + k + 1) })));
      words.forEach((w, k) => r.producer.publish(first + k, w));
    };
    put(b);
    r.producer.ring(b + 4);
    // B's slots are valid but A's, below them, are not: nothing runs.
    expect(await never(() => r.cxt.readIndex() !== a)).toBe(true);
    put(a);
    r.producer.ring(a + 4); // an older, smaller Write_Index than the doorbell before
    await until(() => r.cxt.readIndex() === b + 4, 'all eight');
    expect([...new BigUint64Array(dst.view.buffer, dst.view.byteOffset, 8)]).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
  });

  it('stops at the first slot below Write_Index whose valid bit is clear, and resumes once it is published', async () => {
    const r = await rig();
    const dst = r.space(0, 64);
    const first = r.producer.reserve(3);
    const csts = [r.cst(), r.cst(), r.cst()];
    const words = csts.map((c, k) => fill(r, first + k, D.writeImm({ bytes: 1, akey: 0, addr: k, value: BigInt(k + 1), csb: c.address })));
    r.producer.publish(first, words[0]!);
    r.producer.publish(first + 2, words[2]!);
    r.producer.ring(first + 3);
    await until(() => r.cxt.readIndex() === first + 1, 'the first slot');
    expect(await never(() => csts[2]!.signal() === 0n)).toBe(true);
    expect(r.cxt.readIndex()).toBe(first + 1);
    r.producer.publish(first + 1, words[1]!);
    r.producer.ring(first + 3);
    await until(() => r.cxt.readIndex() === first + 3, 'the rest');
    expect([...dst.view.subarray(0, 3)]).toEqual([1, 2, 3]);
  });

  it('stops a context (CXT_STOP + SYNC(STOP)) and restarts it (CXT_START) where it left off', async () => {
    const r = await rig();
    const dst = r.space(0, 8);
    const one = r.cst();
    r.producer.enqueue(D.writeImm({ bytes: 1, akey: 0, addr: 0, value: 1n, csb: one.address }));
    await until(() => one.signal() === 0n, 'the first write');
    await r.device.stop(r.cxt);
    expect(r.cxt.state()).toBe(S.CXT_STATE.STOP_SW);
    const two = r.cst();
    const at = r.producer.enqueue(D.writeImm({ bytes: 1, akey: 0, addr: 1, value: 2n, csb: two.address }));
    expect(await never(() => two.signal() === 0n)).toBe(true);
    expect(r.cxt.readIndex()).toBe(at);
    await r.device.start(r.cxt);
    expect(r.cxt.state()).toBe(S.CXT_STATE.RUN);
    await until(() => two.signal() === 0n, 'the write after the restart');
    expect([...dst.view.subarray(0, 2)]).toEqual([1, 2]);
  });

  it('runs contexts in different L1 tables side by side (context 200: L2 entry 1)', async () => {
    const r = await rig();
    const far = r.device.createContext(200, {});
    await r.device.start(far);
    const { Producer } = await import('../src/index.js');
    const p = new Producer(far, (v) => r.fn.doorbell(200, v));
    const mine = r.space(0, 8);
    const pasid = r.fn.bindAddressSpace({ kind: 'host', view: mine.view.subarray(4) }, true);
    far.setAkey(3, { pasid });
    const c1 = r.cst();
    const c2 = r.cst();
    p.enqueue(D.writeImm({ bytes: 1, akey: 3, addr: 0, value: 0x22n, csb: c2.address }));
    r.producer.enqueue(D.writeImm({ bytes: 1, akey: 0, addr: 0, value: 0x11n, csb: c1.address }));
    await until(() => c1.signal() === 0n && c2.signal() === 0n, 'both contexts');
    expect([mine.view[0], mine.view[4]]).toEqual([0x11, 0x22]);
    expect(far.state()).toBe(S.CXT_STATE.RUN);
  });
});

interface FaultCase {
  name: string;
  /** The faulty descriptor, given a CST_BLK address and the rig (to set up AKeys). */
  build(csb: bigint, r: Rig): Uint8Array;
  step: number;
  subStep: number;
  buffer?: number;
  status: number;
  /** The fault is in the CST_BLK pointer itself: no CST_BLK to check. */
  noCst?: boolean;
}

function set(d: Uint8Array, hi: number, lo: number, v: number | bigint): Uint8Array {
  bits.setField(d, [hi, lo], v);
  return d;
}
const copy = (csb: bigint, o: Partial<{ akey0: number; akey1: number; addr0: bigint | number; addr1: bigint | number; bytes: number }> = {}) =>
  D.copy({ bytes: o.bytes ?? 16, akey0: o.akey0 ?? 0, akey1: o.akey1 ?? 1, addr0: o.addr0 ?? 0, addr1: o.addr1 ?? 0, csb });

const FAULTS: FaultCase[] = [
  { name: 'an unknown DMAB subtype (0x07)', build: (csb) => set(D.nop({ csb }), 15, 8, 0x07), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'an unknown operation group (0x005)', build: (csb) => set(D.nop({ csb }), 26, 16, 0x005), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'a group the context does not enable (Atomic, 0x003)', build: (csb) => set(D.nop({ csb }), 26, 16, 0x003), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'reserved opcode bit 6', build: (csb) => set(D.nop({ csb }), 6, 6, 1), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'reserved opcode bit 31', build: (csb) => set(D.nop({ csb }), 31, 31, 1), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'chaining (ch), not implemented', build: (csb) => set(D.nop({ csb }), 3, 3, 1), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'a reserved NOP body byte', build: (csb) => set(D.nop({ csb }), 47, 40, 0x5a), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'a reserved COPY byte (byte 40)', build: (csb) => set(copy(csb), 327, 320, 1), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'an admin descriptor on a client context', build: (csb) => D.cxtStart({ first: 1, last: 1, csb }), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'a 3-byte WRT_IMM', build: (csb) => set(D.writeImm({ bytes: 4, akey: 1, addr: 0, value: 1n, csb }), 63, 32, 2), step: 7, subStep: 3, status: ST.BAD_DESCRIPTOR },
  { name: 'an AKey past the AKey table (source)', build: (csb) => copy(csb, { akey0: 300 }), step: 11, subStep: 1, buffer: 0, status: ST.BAD_AKEY },
  { name: 'an AKey entry that is not valid (destination)', build: (csb) => copy(csb, { akey1: 5 }), step: 11, subStep: 3, buffer: 1, status: ST.BAD_AKEY },
  {
    name: 'an AKey with a reserved bit set',
    build: (csb, r) => {
      r.cxt.setAkey(7, { pasid: 0 });
      const flags = new Uint16Array(r.cxt.arena, Number(r.cxt.akeyAddress - DEVICE_BASE) + 7 * 16, 1);
      flags[0] = flags[0]! | 0x8000;
      return copy(csb, { akey1: 7 });
    },
    step: 11,
    subStep: 3,
    buffer: 1,
    status: ST.BAD_AKEY,
  },
  {
    name: 'an AKey naming an address space that is not bound',
    build: (csb, r) => {
      r.cxt.setAkey(6, { pasid: 4000 });
      return copy(csb, { akey1: 6 });
    },
    step: 10,
    subStep: 1,
    buffer: 1,
    status: ST.BAD_AKEY,
  },
  {
    // vl only (pv = 0) and the context's L1 pv = 0: the function's own address space, reached
    // by device address, as the driver's transfer AKey reaches its DMA-mapped buffers.
    name: 'no PASID: a source address below device memory',
    build: (csb, r) => {
      r.cxt.setAkey(8, {});
      return copy(csb, { akey0: 8, addr0: 0x100 });
    },
    step: 10,
    subStep: 1,
    buffer: 0,
    status: ST.OUT_OF_BOUNDS,
  },
  {
    name: 'no PASID: a destination running past the end of device memory',
    build: (csb, r) => {
      r.cxt.setAkey(8, {});
      return copy(csb, { akey1: 8, addr1: DEVICE_BASE + BigInt(r.fn.arena.byteLength - 8) });
    },
    step: 10,
    subStep: 1,
    buffer: 1,
    status: ST.OUT_OF_BOUNDS,
  },
  {
    name: "pv = 1 naming PASID 0xffff, the function's own slot, which no PASID reaches",
    build: (csb, r) => {
      r.cxt.setAkey(8, { pasid: 0xffff });
      return copy(csb, { akey1: 8 });
    },
    step: 10,
    subStep: 1,
    buffer: 1,
    status: ST.BAD_AKEY,
  },
  { name: 'a source range running past its address space', build: (csb) => copy(csb, { addr0: 4000, bytes: 200 }), step: 10, subStep: 1, buffer: 0, status: ST.OUT_OF_BOUNDS },
  { name: 'a destination address far outside (2^63)', build: (csb) => copy(csb, { addr1: 2n ** 63n }), step: 10, subStep: 1, buffer: 1, status: ST.OUT_OF_BOUNDS },
  { name: 'a write to a read-only address space', build: (csb) => copy(csb, { akey0: 1, akey1: 2 }), step: 10, subStep: 2, buffer: 1, status: ST.ACCESS_DENIED },
  // The encoder refuses an overlap up front, so the overlap is written into addr1 afterwards.
  { name: 'overlapping source and destination', build: (csb) => set(copy(csb, { akey0: 1, akey1: 1, addr0: 0, addr1: 64 }), 255, 192, 8), step: 10, subStep: 3, status: ST.OVERLAP },
  { name: 'DSC_INTR through an AKey without iv', build: (csb) => D.intr({ akey: 0, csb }), step: 11, subStep: 3, status: ST.BAD_AKEY },
  { name: 'a CST_BLK pointer outside device memory', build: () => copy(0x40n), step: 8, subStep: 1, status: ST.BAD_DESCRIPTOR, noCst: true },
  { name: 'reserved csb_ptr bits', build: (csb) => set(copy(csb), 449, 449, 1), step: 8, subStep: 3, status: ST.BAD_DESCRIPTOR, noCst: true },
];

describe('faults: an error-log entry, the CST_BLK error bit, CXTV_ERR_FN — and a restart', () => {
  for (const f of FAULTS) {
    it(f.name, async () => {
      const r = await rig();
      const a = r.space(0, 4096, { fill: (i) => i & 0xff });
      const b = r.space(1, 4096);
      const ro = r.space(2, 4096, { writable: false });
      const cst = r.cst();
      const index = r.producer.enqueue(f.build(cst.address, r));
      await until(() => r.cxt.readIndex() === index + 1 && r.cxt.state() === S.CXT_STATE.ERR_FN, 'the fault');
      if (!f.noCst) expect([cst.signal(), cst.error()]).toEqual([0n, true]);
      const entries = r.device.takeErrors(CONTEXT);
      expect(entries).toEqual([
        {
          step: f.step,
          subStep: f.subStep,
          reaction: S.REACTION.CONTEXT_STOPPED,
          context: CONTEXT,
          index,
          ...(f.buffer === undefined ? {} : { buffer: f.buffer }),
          errClass: 0,
          vendorStatus: f.status,
          vendorDetail: 0,
        } satisfies ErrorEntry,
      ]);
      expect(a.guardsIntact() && b.guardsIntact() && ro.guardsIntact()).toBe(true);
      expect(ro.view.every((v) => v === 0)).toBe(true);
      // Nothing after the fault runs until the context is restarted; then everything does.
      const next = r.cst();
      r.producer.enqueue(D.nop({ csb: next.address }));
      expect(await never(() => next.signal() === 0n)).toBe(true);
      await r.device.start(r.cxt);
      await until(() => next.signal() === 0n, 'a NOP after the restart');
      expect(next.error()).toBe(false);
    });
  }

  it('a Write_Index more than a ring ahead of Read_Index (step 6)', async () => {
    const r = await rig();
    const wi = new BigUint64Array(r.cxt.arena, r.cxt.writeIndexOffset, 1);
    Atomics.store(wi, 0, BigInt(r.cxt.readIndex() + r.cxt.entries + 1));
    r.producer.ring(0);
    await until(() => r.cxt.state() === S.CXT_STATE.ERR_FN, 'the fault');
    expect(r.device.takeErrors(CONTEXT)).toEqual([expect.objectContaining({ step: S.STEP.WRITE_INDEX, subStep: S.SUB_STEP.VALIDATION, reaction: S.REACTION.CONTEXT_STOPPED, context: CONTEXT })]);
  });

  it('an admin CXT_START naming a context without an L1 entry: informative, the admin context carries on', async () => {
    const r = await rig();
    const start5 = r.device.admin.submit('CXT_START of context 5', (csb) => D.cxtStart({ first: 5, last: 5, fence: true, csb }));
    // The entry names the admin descriptor (context 0); the detail word holds the target.
    await expect(start5).rejects.toMatchObject({
      code: 'DEVICE_ERROR',
      detail: { sdxiError: expect.objectContaining({ step: S.STEP.CXT_L1, subStep: S.SUB_STEP.VALIDATION, reaction: S.REACTION.INFORMATIVE, context: 0, vendorDetail: 5 }) },
    });
    await r.device.stop(r.cxt);
    await r.device.start(r.cxt);
    expect(r.device.adminContext.state()).toBe(S.CXT_STATE.RUN);
  });

  it('a malformed admin descriptor stops the admin context; re-activation recovers the function', async () => {
    const r = await rig();
    const failed = r.device.admin.submit('an unknown admin subtype', (csb) => set(D.sync({ filter: 0, first: 1, last: 1, csb }), 15, 8, 0x07));
    await expect(failed).rejects.toMatchObject({ code: 'DEVICE_ERROR' });
    expect(r.device.adminContext.state()).toBe(S.CXT_STATE.ERR_FN);
    const device = await SdxiDevice.activate(r.fn);
    const cxt = device.createContext(CONTEXT, {});
    await device.start(cxt);
    expect(cxt.state()).toBe(S.CXT_STATE.RUN);
  });

  it('a full error log sets ERR_STS.ovf and loses entries, never writes past the log', async () => {
    const r = await rig();
    r.fn.mmio.write64(R.REG.ERR_CTL, 0n); // no error interrupts: nothing drains the log meanwhile
    for (let k = 0; k < 70; k++) {
      const index = r.producer.enqueue(set(D.nop(), 15, 8, 0x07));
      await until(() => r.cxt.readIndex() === index + 1 && r.cxt.state() === S.CXT_STATE.ERR_FN, `fault ${k}`);
      // Restart without draining the log.
      await r.device.admin.submit('CXT_START', (csb) => D.cxtStart({ first: CONTEXT, last: CONTEXT, fence: true, csb }));
    }
    expect(bits.field64(r.fn.mmio.read64(R.REG.ERR_STS), R.ERR_STS.ovf)).toBe(1n);
    expect(r.device.takeErrors(CONTEXT)).toHaveLength(64);
    expect(r.device.errorLogOverflows).toBe(1);
  });
});
