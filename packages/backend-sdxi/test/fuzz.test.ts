/**
 * 1,000,000 random 64-byte records fed to the software function through a client ring: it must
 * never crash, never touch memory outside the address spaces bound to it (guard bands around
 * them stay intact; under AddressSanitizer any stray access to native or V8 heap memory aborts),
 * and still run valid descriptors afterwards. A quarter of the records are raw random bytes; the
 * rest are well-formed descriptors of every kind with random small fields (AKeys, addresses,
 * sizes, CST_BLKs), half of them with one bit flipped, so every validation path is reached and
 * some records run — not only the first check failing.
 *
 * Under AddressSanitizer + UBSan (CI runs it so; see docs/sdxi.md):
 *   .ci/sanitized packages/backend-sdxi/test/fuzz.test.ts
 */
import { expect, it } from 'vitest';
import { abi } from '@datamover/core';
import { descriptors as D, Producer, registers as R, structures as S } from '../src/index.js';
import { CONTEXT, INTR_AKEY, rig, until } from './rig.js';

const RECORDS = 1_000_000;
/** Contexts fed side by side: one admin CXT_START over all of them restarts every one a fault stopped. */
const CONTEXTS = 32;
const BATCH = 32;
const CSTS = 4096;

it(`${RECORDS.toLocaleString('en')} random 64-byte records never crash the function nor reach outside its memory`, async () => {
  const r = await rig();
  const { fn, device } = r;
  fn.mmio.write64(R.REG.ERR_CTL, 0n); // the log is drained here, not from interrupts
  // Address spaces: a whole SharedArrayBuffer (AddressSanitizer redzones right at its ends), a
  // guarded window, and a guarded read-only window; AKey 3 names a PASID never bound.
  const whole = new Uint8Array(new SharedArrayBuffer(4096));
  const wholePasid = fn.bindAddressSpace({ kind: 'host', view: whole }, true);
  const guarded = r.space(1, 8192);
  const readOnly = r.space(2, 4096, { writable: false, fill: (i) => i & 0xff });
  const lanes = Array.from({ length: CONTEXTS }, (_, k) => {
    const cxt = k === 0 ? r.cxt : device.createContext(CONTEXT + k, {});
    cxt.setAkey(0, { pasid: wholePasid });
    cxt.setAkey(1, { pasid: guarded.pasid });
    cxt.setAkey(2, { pasid: readOnly.pasid });
    cxt.setAkey(3, { pasid: 60_000 });
    // The interrupt AKey also names an unbound PASID: with pv = 0 its data accesses would reach
    // the function's own address space, device memory, whose rings this test needs intact.
    cxt.setAkey(INTR_AKEY, { vector: 1000 + k, pasid: 60_000 });
    const producer = k === 0 ? r.producer : new Producer(cxt, (v) => fn.doorbell(cxt.context, v));
    return { cxt, producer, status: new Uint32Array(cxt.arena, cxt.statusOffset, 4), target: 0 };
  });
  const last = CONTEXT + CONTEXTS - 1;
  const csts = fn.allocate(CSTS * 32, 32);
  const admin = new Producer(device.adminContext, (v) => fn.doorbell(0, v));
  const adminCst = fn.allocate(32, 32);
  const adminSignal = new BigUint64Array(adminCst.buffer, adminCst.offset, 1);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  /** Waits without hogging a CPU the function thread may need (2 cores, shared). */
  const pause = () => Atomics.wait(nap, 0, 0, 0.02);

  let x = 0x9e3779b9;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const pick = <T>(a: readonly T[]): T => a[rnd() % a.length]!;
  const small = () => pick([0, 0, 1, 1, 2, 3, INTR_AKEY, rnd() & 0xff]);

  /** CXT_START over every lane: starts the ones a fault stopped, leaves the running ones be. */
  const restart = () => {
    adminSignal[0] = 1n;
    if (admin.enqueue(D.cxtStart({ first: CONTEXT, last, fence: true, csb: adminCst.address })) < 0) throw new Error('admin ring full');
    const end = performance.now() + 5000;
    while (Atomics.load(adminSignal, 0) !== 0n) {
      if (performance.now() > end) throw new Error('the admin context stopped answering');
      pause();
    }
  };

  const address = () => (rnd() % 16 === 0 ? rnd() * 0x1000 : rnd() & 0x1fff);
  const size = () => (rnd() % 16 === 0 ? rnd() : rnd() & 0x1fff);
  const encoded = (d: Uint8Array) => (u32: Uint32Array, w: number) => {
    u32.set(new Uint32Array(d.buffer), w);
    return u32[w]!;
  };
  const vendor = (opcode: number, encode: (u32: Uint32Array, w: number) => void) => (u32: Uint32Array, w: number) => {
    encode(u32, w);
    return opcode;
  };
  /** Well-formed descriptors of every kind the function runs, with random small fields. */
  const templates: (() => (u32: Uint32Array, w: number) => number)[] = [
    () => encoded(D.nop({ fence: (rnd() & 1) === 1 })),
    () => {
      // The encoder refuses overlap under one AKey; the function must fault on it all the same,
      // so the destination AKey (bytes 14–15) is written after encoding.
      const d = D.copy({ bytes: 1 + size(), akey0: small(), akey1: 0xffff, addr0: address(), addr1: address() });
      new DataView(d.buffer).setUint16(14, small(), true);
      return encoded(d);
    },
    () => encoded(D.writeImm({ bytes: pick([1, 2, 4, 8] as const), akey: small(), addr: address(), value: BigInt(rnd()) })),
    () => encoded(D.intr({ akey: small() })),
    () => encoded(D.cxtStart({ first: CONTEXT, last: CONTEXT })),
    () => vendor(abi.OPCODE.fill, (u, w) => abi.encodeFillBody(u, w, { size: size(), patternBytes: pick([1, 8, 3]), akey1: small(), addr1: address(), pattern: BigInt(rnd()) }, 0)),
    () => vendor(abi.OPCODE.compare, (u, w) => abi.encodeCompareBody(u, w, { size: size(), akey0: small(), akey1: small(), addr0: address(), addr1: address() }, 0)),
    () => vendor(abi.OPCODE.crc32c, (u, w) => abi.encodeCrc32cBody(u, w, { size: size(), akey0: small(), addr0: address(), seed: rnd() }, 0)),
    () => vendor(abi.OPCODE.writeImm, (u, w) => abi.encodeWriteImmBody(u, w, { width: pick([1, 2, 4, 8, 3]), akey1: small(), addr1: address(), value: BigInt(rnd()) }, 0)),
  ];

  /**
   * One record: a quarter raw random bytes; the rest well-formed descriptors with random small
   * fields, half of them with one bit flipped.
   */
  const record = (u32: Uint32Array, w: number, k: number) => {
    let op: number;
    const kind = rnd() % 4;
    if (kind === 0) {
      for (let j = 0; j < 16; j++) u32[w + j] = rnd();
      op = u32[w]!;
    } else {
      op = pick(templates)()(u32, w);
      if (kind === 1) {
        const bit = 1 + (rnd() % 447);
        if (bit < 32) op ^= 1 << bit;
        else u32[w + (bit >> 5)]! ^= 1 << (bit & 31);
      }
    }
    const csb = rnd() % 10;
    if (csb < 5) {
      const a = csts.address + BigInt((k % CSTS) * 32);
      u32[w + 14] = Number(a & 0xffff_ffffn);
      u32[w + 15] = Number(a >> 32n);
    } else if (csb < 8) {
      u32[w + 14] = 1;
      u32[w + 15] = 0;
    } else if (kind !== 0) {
      u32[w + 14] = rnd();
      u32[w + 15] = rnd();
    }
    return op | 1; // valid
  };

  restart(); // starts the lanes
  let fed = 0;
  let faults = 0;
  let rounds = 0;
  while (fed < RECORDS || lanes.some((l) => Atomics.load(l.status, 2) !== l.target)) {
    // Each lane whose last batch was consumed gets a new one.
    for (const l of lanes) {
      if (fed >= RECORDS || Atomics.load(l.status, 2) !== l.target) continue;
      const n = Math.min(BATCH, RECORDS - fed);
      const first = l.producer.reserve(n);
      if (first < 0) throw new Error('ring full: the function stopped consuming');
      const words: number[] = [];
      for (let k = 0; k < n; k++) words.push(record(l.producer.u32, l.producer.slotWord(first + k), fed + k));
      for (let k = 0; k < n; k++) l.producer.publish(first + k, words[k]!);
      l.producer.ring(first + n);
      l.target = first + n;
      fed += n;
    }
    // Until every lane has consumed its batch or been stopped by a fault; then one restart.
    const end = performance.now() + 5000;
    for (;;) {
      let busy = false;
      let stopped = 0;
      for (const l of lanes) {
        if ((Atomics.load(l.status, 0) & 0xf) === S.CXT_STATE.ERR_FN) stopped++;
        else if (Atomics.load(l.status, 2) !== l.target) busy = true;
      }
      if (!busy) {
        if (stopped > 0) {
          faults += stopped;
          restart();
        }
        break;
      }
      if (performance.now() > end) throw new Error('a context stopped consuming');
      pause();
    }
    if (++rounds % 512 === 0) {
      for (const l of lanes) device.takeErrors(l.cxt.context); // exercise the log's wrap and drain
      await new Promise((res) => setImmediate(res)); // let queued interrupts reach JS
    }
  }

  // The figures packages/conformance/results/ring-fuzz.md reports for sdxi (a hang or a crash
  // never gets here: the loop above throws on a context that stops consuming).
  const figures = { engine: 'sdxi (software function, SDXI ring format)', records: fed, faults, guardsIntact: guarded.guardsIntact() && readOnly.guardsIntact(), rounds };
  console.log(`[ring-fuzz] ${JSON.stringify(figures)}`);
  expect(faults).toBeGreaterThan(RECORDS / 4);
  expect(Number(R.GSV.ACTIVE)).toBe(Number(fn.mmio.read64(R.REG.STS0) & 7n));
  expect(guarded.guardsIntact() && readOnly.guardsIntact()).toBe(true);
  expect(readOnly.view.every((v, i) => v === (i & 0xff))).toBe(true);
  // Still alive: a valid NOP and COPY run and complete cleanly.
  const cxt = r.cxt;
  if (cxt.state() === S.CXT_STATE.ERR_FN) restart();
  const sig = new BigUint64Array(csts.buffer, csts.offset, 8);
  const flags = new Uint32Array(csts.buffer, csts.offset, 16);
  sig[0] = 1n;
  sig[4] = 1n;
  flags[2] = 0;
  flags[10] = 0;
  r.producer.enqueue(new Uint8Array([...D.nop({ csb: csts.address }), ...D.copy({ bytes: 4096, akey0: 2, akey1: 0, addr0: 0, addr1: 0, csb: csts.address + 32n })]));
  await until(() => sig[4] === 0n, 'the COPY after the fuzz');
  expect([sig[0], flags[2]! >>> 31, flags[10]! >>> 31]).toEqual([0n, 0, 0]);
  expect(Buffer.from(whole).equals(Buffer.from(readOnly.view))).toBe(true);
}, 600_000);
