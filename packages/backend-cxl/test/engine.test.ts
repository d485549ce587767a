/**
 * The cxl engine driven directly through core's ring (no Mover): what it checks itself, below the
 * Mover's own checks — the durable bit, mappings that alias, registration refusals, and a mapping
 * that outlives its JS handle while registered.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { abi, Ring } from '@datamover/core';
import { loadNative, type NativeAddon, type NativeEngine, type NativeMapping } from '../src/native.js';

const n = loadNative();
if (!('addon' in n)) throw new Error(n.error);
const addon: NativeAddon = n.addon;
const { CompletionStatus: S, COMPLETION, OPCODE, OPCODE_BITS } = abi;
const DURABLE = 1 << OPCODE_BITS.durable;

const dir = mkdtempSync(join(tmpdir(), 'dm-cxl-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(size: number, byte: number, where = dir): string {
  const p = join(where, `e${files++}.bin`);
  writeFileSync(p, Buffer.alloc(size, byte));
  return p;
}

/** A minimal producer on core's Ring. */
class Producer {
  readonly ring = new Ring(16);
  readonly engine: NativeEngine;
  #wake: (() => void) | undefined;
  constructor() {
    this.engine = new addon.Engine(new Uint8Array(this.ring.sab), () => this.#wake?.());
  }
  async exec(op: keyof typeof OPCODE, fields: Record<string, number | bigint>, extraBits = 0): Promise<{ status: number; result: bigint }> {
    const r = this.ring;
    const i = r.writeIndex++;
    const w = r.slotWord(i);
    r.arm(i);
    const encode = {
      copy: abi.encodeCopyBody,
      fill: abi.encodeFillBody,
      compare: abi.encodeCompareBody,
      crc32c: abi.encodeCrc32cBody,
      writeImm: abi.encodeWriteImmBody,
      nop: abi.encodeNopBody,
      copyStrided: abi.encodeCopyStridedBody,
      fillStrided: abi.encodeFillStridedBody,
      compareStrided: abi.encodeCompareStridedBody,
      crc32cStrided: abi.encodeCrc32cStridedBody,
    }[op] as (
      u32: Uint32Array,
      w: number,
      f: unknown,
      csb: number,
    ) => void;
    if (op === 'nop') (abi.encodeNopBody as (u32: Uint32Array, w: number, csb: number) => void)(r.u32, w, r.completionOffset(i));
    else encode(r.u32, w, fields, r.completionOffset(i));
    r.publish(i, (OPCODE[op] | extraBits | 1) >>> 0);
    r.commit();
    this.engine.doorbell();
    while (r.readIndex() <= i) await new Promise<void>((resolve) => ((this.#wake = resolve), setTimeout(resolve, 5)));
    const cb = r.completionWord(i);
    const result = BigInt(r.u32[cb + COMPLETION.result / 4]!) | (BigInt(r.u32[cb + COMPLETION.result / 4 + 1]!) << 32n);
    const status = r.u32[cb + COMPLETION.status / 4]!;
    r.retire(i);
    return { status, result };
  }
  close(): void {
    this.engine.close();
  }
}

const producers: Producer[] = [];
afterEach(() => {
  for (const p of producers.splice(0)) p.close();
});
function producer(): Producer {
  const p = new Producer();
  producers.push(p);
  return p;
}
function map(path: string, offset: number, length: number, writable = true, persistence: -1 | 0 | 1 = -1): NativeMapping {
  return new addon.Mapping(path, offset, length, writable, persistence);
}

describe('cxl engine (raw ring)', () => {
  it('durable: honoured on writes to persistent mappings, refused on volatile ones (nothing written), malformed on reads', async () => {
    const p = producer();
    const persistent = file(4096, 0);
    const volatile = file(4096, 0);
    p.engine.registerDax(1, map(persistent, 0, 4096), 0, 4096, true);
    p.engine.registerDax(2, map(volatile, 0, 4096, true, 0), 0, 4096, true);
    const fill = (akey1: number) => ({ size: 99, patternBytes: 1, akey1, addr1: 10, pattern: 0x61n });
    expect((await p.exec('fill', fill(1), DURABLE)).status).toBe(S.OK);
    expect(readFileSync(persistent)[50]).toBe(0x61);
    expect((await p.exec('fill', fill(2), DURABLE)).status).toBe(S.NOT_PERSISTENT);
    expect(readFileSync(volatile)[50]).toBe(0);
    expect((await p.exec('writeImm', { width: 8, akey1: 2, addr1: 0, value: 5n }, DURABLE)).status).toBe(S.NOT_PERSISTENT);
    expect((await p.exec('writeImm', { width: 8, akey1: 1, addr1: 0, value: 5n }, DURABLE)).status).toBe(S.OK);
    expect((await p.exec('compare', { size: 9, akey0: 1, akey1: 1, addr0: 0, addr1: 0 }, DURABLE)).status).toBe(S.BAD_DESCRIPTOR);
    expect((await p.exec('crc32c', { size: 9, akey0: 1, addr0: 0, seed: 0 }, DURABLE)).status).toBe(S.BAD_DESCRIPTOR);
    // Out of bounds wins over the durable check: nothing is said about memory outside the region.
    expect((await p.exec('fill', { ...fill(2), addr1: 4000 }, DURABLE)).status).toBe(S.OUT_OF_BOUNDS);
    // Other reserved bits stay reserved.
    for (const bit of [1, 3, 6, 31]) expect((await p.exec('fill', fill(1), (1 << bit) >>> 0)).status).toBe(S.BAD_DESCRIPTOR);
    // Every descriptor here was claimed and run (refusals included): the ring consumer's count.
    expect(p.engine.stats()).toMatchObject({ durableWrites: 2, executed: 11 });
  });

  it('durable strided copy and fill: every block written and made durable, the gaps untouched; refused on volatile mappings and on reads', async () => {
    const p = producer();
    const persistent = file(8192, 0);
    const volatile = file(8192, 0);
    const host = new Uint8Array(8192).map((_, i) => (i * 7 + 1) & 0xff || 1);
    p.engine.registerHost(0, host, false);
    p.engine.registerDax(1, map(persistent, 0, 8192), 0, 8192, true);
    p.engine.registerDax(2, map(volatile, 0, 8192, true, 0), 0, 8192, true);
    // 5 blocks of 300 bytes: packed at the source, every 1000 bytes at the destination (the last
    // one ends exactly at the region's end).
    const copy = (akey1: number) => ({ size: 299, count: 5, akey0: 0, akey1, addr0: 100, addr1: 3892, stride0: 300, stride1: 1000 });
    expect((await p.exec('copyStrided', copy(1), DURABLE)).status).toBe(S.OK);
    const bytes = readFileSync(persistent);
    for (let i = 0; i < 5; i++) expect(bytes.subarray(3892 + i * 1000, 4192 + i * 1000)).toEqual(Buffer.from(host.subarray(100 + i * 300, 400 + i * 300)));
    expect(bytes.subarray(4192, 4892).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(0, 3892).every((b) => b === 0)).toBe(true);
    const fill = (akey1: number) => ({ size: 99, count: 3, patternBytes: 1, akey1, addr1: 0, stride1: 1000, pattern: 0x5an });
    expect((await p.exec('fillStrided', fill(1), DURABLE)).status).toBe(S.OK);
    const filled = readFileSync(persistent);
    for (const at of [0, 1000, 2000]) expect(filled.subarray(at, at + 100).every((b) => b === 0x5a)).toBe(true);
    expect(filled[100]).toBe(0);
    // Volatile: refused before any block is written.
    expect((await p.exec('copyStrided', copy(2), DURABLE)).status).toBe(S.NOT_PERSISTENT);
    expect((await p.exec('fillStrided', fill(2), DURABLE)).status).toBe(S.NOT_PERSISTENT);
    expect(readFileSync(volatile).every((b) => b === 0)).toBe(true);
    // The executor's block checks still come first where the first block is out of range, and
    // hold for durable ones: a last block past the end writes nothing.
    expect((await p.exec('fillStrided', { ...fill(1), addr1: 8100 }, DURABLE)).status).toBe(S.OUT_OF_BOUNDS);
    expect((await p.exec('fillStrided', { ...fill(1), pattern: 0x11n, count: 10 }, DURABLE)).status).toBe(S.OUT_OF_BOUNDS);
    expect(readFileSync(persistent)[0]).toBe(0x5a);
    // Reads take no durable flag.
    expect((await p.exec('compareStrided', { size: 9, count: 2, akey0: 1, akey1: 1, addr0: 0, addr1: 100, stride0: 10, stride1: 10 }, DURABLE)).status).toBe(S.BAD_DESCRIPTOR);
    expect((await p.exec('crc32cStrided', { size: 9, count: 2, akey0: 1, addr0: 0, stride0: 10, seed: 0 }, DURABLE)).status).toBe(S.BAD_DESCRIPTOR);
    expect(p.engine.stats()).toMatchObject({ durableWrites: 2 });
  });

  it('two mappings of one file alias: an overlapping copy between them is OVERLAP, a disjoint one runs', async () => {
    const p = producer();
    const path = file(16384, 7);
    p.engine.registerDax(1, map(path, 0, 8192), 0, 8192, true);
    const m2 = map(path, 4096 + 100, 8192);
    p.engine.registerDax(2, m2, m2.describe().mapOffset, 8192, true); // file offset 4196
    const copy = (addr0: number, addr1: number, size: number) => p.exec('copy', { size: size - 1, attr: 0, akey0: 1, akey1: 2, addr0, addr1 });
    expect((await copy(4196, 0, 10)).status).toBe(S.OVERLAP); // the same bytes
    expect((await copy(4000, 0, 197)).status).toBe(S.OVERLAP); // [4000,4197) vs [4196,4393)
    expect((await copy(4000, 0, 196)).status).toBe(S.OK); // adjacent
    expect((await copy(0, 5000, 100)).status).toBe(S.OK); // [0,100) vs [9196,9296)
    // Strided copies are judged by their spans (first block's start to last block's end): source
    // blocks at 0, 1000, …, 4000 span file bytes [0,4100), below the destination's 4196; from 200
    // they span [200,4300) and overlap it.
    const strided = (count: number, addr1 = 0) => p.exec('copyStrided', { size: 99, count, akey0: 1, akey1: 2, addr0: 0, addr1, stride0: 1000, stride1: 100 });
    expect((await strided(5)).status).toBe(S.OK); // source span ends at 4100, below 4196
    expect((await strided(5, 5000)).status).toBe(S.OK);
    expect((await p.exec('copyStrided', { size: 99, count: 5, akey0: 1, akey1: 2, addr0: 200, addr1: 0, stride0: 1000, stride1: 100 })).status).toBe(S.OVERLAP); // [200,4300) vs [4196,4696)
    // A reserved bit makes the record malformed before any alias or persistence check, as on soft.
    const aliased = { size: 9, attr: 0, akey0: 1, akey1: 2, addr0: 4196, addr1: 0 };
    for (const bit of [1, 3, 6, 31]) expect((await p.exec('copy', aliased, (1 << bit) >>> 0)).status).toBe(S.BAD_DESCRIPTOR);
    const volatile = map(file(4096, 0), 0, 4096, true, 0);
    p.engine.registerDax(3, volatile, 0, 4096, true);
    expect((await p.exec('fill', { size: 9, patternBytes: 1, akey1: 3, addr1: 0, pattern: 1n }, (DURABLE | (1 << 3)) >>> 0)).status).toBe(S.BAD_DESCRIPTOR);
  });

  it('refuses registrations it cannot honour', () => {
    const p = producer();
    const path = file(8192, 0);
    const rw = map(path, 100, 1000);
    const ro = map(path, 0, 8192, false);
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'none';
    };
    expect(code(() => p.engine.registerDax(1, {} as NativeMapping, 0, 10, true))).toBe('INVALID_ARGUMENT');
    expect(code(() => p.engine.registerDax(1, rw, rw.describe().mapOffset, 3997, true))).toBe('OUT_OF_BOUNDS'); // past the 4096-byte mapping
    expect(code(() => p.engine.registerDax(1, ro, 0, 10, true))).toBe('ACCESS_DENIED');
    p.engine.registerDax(1, ro, 0, 10, false);
    expect(code(() => p.engine.registerDax(1, rw, 0, 10, true))).toBe('INVALID_ARGUMENT'); // index taken
    expect(code(() => p.engine.registerHost(1, new Uint8Array(4), true))).toBe('INVALID_ARGUMENT');
    const closed = map(path, 0, 10);
    closed.close();
    expect(code(() => p.engine.registerDax(2, closed, 0, 10, true))).toBe('INVALID_ARGUMENT');
    expect(code(() => map(path, 8000, 193))).toBe('OUT_OF_BOUNDS');
    expect(code(() => map(join(dir, 'nope'), 0, 1))).toBe('IO_ERROR');
  });

  it('a registered mapping stays mapped after its JS handle is closed, until deregistered', async () => {
    const p = producer();
    const path = file(4096, 0);
    const m = map(path, 0, 4096);
    p.engine.registerDax(3, m, 0, 4096, true);
    m.close();
    expect(m.describe().open).toBe(false);
    expect((await p.exec('fill', { size: 4095, patternBytes: 1, akey1: 3, addr1: 0, pattern: 0x7en })).status).toBe(S.OK);
    expect(readFileSync(path)[4095]).toBe(0x7e);
    p.engine.deregister(3);
    expect((await p.exec('fill', { size: 0, patternBytes: 1, akey1: 3, addr1: 0, pattern: 1n })).status).toBe(S.BAD_AKEY);
  });

  it('peek and poke go through a mapping, within its bounds only', () => {
    const path = file(8192, 0x10);
    const m = map(path, 4096 + 5, 10);
    const at = m.describe().mapOffset;
    expect(at).toBe(5);
    addon.poke(m, at, new Uint8Array([1, 2, 3]));
    expect([...addon.peek(m, at - 1, 5)]).toEqual([0x10, 1, 2, 3, 0x10]);
    expect(() => addon.peek(m, 4090, 7)).toThrow(/past the end/);
    const ro = map(path, 0, 10, false);
    expect(() => addon.poke(ro, 0, new Uint8Array(1))).toThrow(/read-only/);
  });
});
