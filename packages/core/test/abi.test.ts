import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as gen from '../src/descriptor/generated.js';
import { CSB_PTR_OFFSET, OPERATION_GROUPS, OPERATIONS, type FieldSpec } from '../src/descriptor/schema.js';
import { COMPLETION, RING_HEADER } from '../src/ring/layout.js';

const require = createRequire(import.meta.url);
const ref = require('ref-napi');
const StructType = require('ref-struct-di')(ref);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds the C struct of an operation from field types alone; ref-struct-di lays it out by C rules. */
function cLayout(fields: readonly FieldSpec[]) {
  const def: Record<string, unknown> = { opcode: ref.types.uint32 };
  let at = 4;
  let r = 0;
  for (const f of [...fields].sort((a, b) => a.offset - b.offset)) {
    // Reserved gaps are byte arrays, so they never add alignment padding of their own.
    for (; at < f.offset; at++) def[`reserved${r++}`] = ref.types.uint8;
    def[f.name] = ref.types[{ u8: 'uint8', u16: 'uint16', u32: 'uint32', u64: 'uint64' }[f.type]];
    at = f.offset + { u8: 1, u16: 2, u32: 4, u64: 8 }[f.type];
  }
  for (; at < CSB_PTR_OFFSET; at++) def[`reserved${r++}`] = ref.types.uint8;
  def.csb_ptr = ref.types.uint64;
  return StructType(def);
}

describe('descriptor schema', () => {
  it('generated encoders and C header are up to date with the schema', () => {
    expect(() => execFileSync(process.execPath, [join(root, 'scripts/gen-abi.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it.each(OPERATIONS.map((op) => [op.name, op] as const))('%s field offsets match an independent C layout (ref-struct-di)', (_name, op) => {
    const S = cLayout(op.fields);
    expect(S.size).toBe(64);
    expect(S.fields.csb_ptr.offset).toBe(CSB_PTR_OFFSET);
    for (const f of op.fields) expect({ field: f.name, offset: S.fields[f.name].offset }).toEqual({ field: f.name, offset: f.offset });
  });

  it('completion block layout matches an independent C layout', () => {
    const S = StructType({
      signal: ref.types.uint64,
      flags: ref.types.uint32,
      claim: ref.types.uint32,
      result: ref.types.uint64,
      status: ref.types.uint32,
      detail: ref.types.int32,
    });
    expect(S.size).toBe(COMPLETION.bytes);
    for (const k of ['signal', 'flags', 'claim', 'result', 'status', 'detail'] as const) expect(S.fields[k].offset).toBe(COMPLETION[k]);
  });

  it('uses the SDXI 1.0 opcodes and bit positions (shared/sdxi/NOTES.md §3.1–3.3)', () => {
    // DSC_DMAB_NOP: type 0x001, subtype 0x01; DSC_DMAB_COPY: type 0x001, subtype 0x03.
    expect(gen.OPCODE.nop).toBe((0x001 << 16) | (0x01 << 8));
    expect(gen.OPCODE.copy).toBe((0x001 << 16) | (0x03 << 8));
    expect(gen.FIELD_OFFSETS.copy).toEqual({ size: 4, attr: 8, akey0: 12, akey1: 14, addr0: 16, addr1: 24 });
    // Vendor operations stay out of the SDXI groups and the error-log type 0x7F7.
    for (const op of ['fill', 'compare', 'crc32c', 'writeImm'] as const) expect(gen.OPCODE[op] >>> 16).toBe(OPERATION_GROUPS.DMV);
    expect(OPERATION_GROUPS.DMV).not.toBe(0x7f7);
    // Producer and consumer indexes sit on separate cache lines.
    expect(Math.floor(RING_HEADER.writeIndex / 64)).not.toBe(Math.floor(RING_HEADER.readIndex / 64));
  });
});

describe('encode/decode round trips', () => {
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
  const u16 = fc.integer({ min: 0, max: 0xffff });
  const addr = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const csb = fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n * 32);

  /** Encodes into a slot pre-filled with garbage: every body word must be rewritten. */
  function slot(): Uint32Array {
    return new Uint32Array(32).fill(0xdeadbeef);
  }

  it('copy', () => {
    fc.assert(
      fc.property(u32, u16, u16, addr, addr, csb, fc.boolean(), (size, akey0, akey1, addr0, addr1, csbPtr, fence) => {
        const m = slot();
        gen.encodeCopyBody(m, 16, { size, attr: 0, akey0, akey1, addr0, addr1 }, csbPtr);
        m[16] = gen.OPCODE.copy | 1 | (fence ? 4 : 0);
        expect(gen.decodeDescriptor(m, 16)).toEqual({ op: 'copy', valid: true, fence, csbPtr, noPointer: false, size, attr: 0, akey0, akey1, addr0, addr1 });
        expect(m[0]).toBe(0xdeadbeef); // nothing written outside the slot
      }),
    );
  });

  it('fill, compare, crc32c, writeImm, nop', () => {
    fc.assert(
      fc.property(u32, u16, u16, addr, addr, u64, csb, (size, k0, k1, a0, a1, big, csbPtr) => {
        const cases: [gen.DecodedDescriptor['op'], (m: Uint32Array) => void, Record<string, unknown>][] = [
          ['fill', (m) => gen.encodeFillBody(m, 16, { size, patternBytes: 8, akey1: k1, addr1: a1, pattern: big }, csbPtr), { size, patternBytes: 8, akey1: k1, addr1: a1, pattern: big }],
          ['compare', (m) => gen.encodeCompareBody(m, 16, { size, akey0: k0, akey1: k1, addr0: a0, addr1: a1 }, csbPtr), { size, akey0: k0, akey1: k1, addr0: a0, addr1: a1 }],
          ['crc32c', (m) => gen.encodeCrc32cBody(m, 16, { size, akey0: k0, addr0: a0, seed: size }, csbPtr), { size, akey0: k0, addr0: a0, seed: size }],
          ['writeImm', (m) => gen.encodeWriteImmBody(m, 16, { width: 4, akey1: k1, addr1: a1, value: big }, csbPtr), { width: 4, akey1: k1, addr1: a1, value: big }],
          ['nop', (m) => gen.encodeNopBody(m, 16, csbPtr), {}],
        ];
        for (const [op, encode, fields] of cases) {
          const m = slot();
          encode(m);
          m[16] = gen.OPCODE[op as gen.OperationName] | 1;
          expect(gen.decodeDescriptor(m, 16)).toEqual({ op, valid: true, fence: false, csbPtr, noPointer: false, ...fields });
        }
      }),
    );
  });

  it('decodes an unknown group/subtype as unknown rather than guessing', () => {
    const m = new Uint32Array(16);
    m[0] = (0x003 << 16) | (0x0e << 8) | 1; // SDXI atomic CMPSWAP: not an operation Datamover emits
    expect(gen.decodeDescriptor(m, 0)).toMatchObject({ op: 'unknown', group: 3, subtype: 0x0e, valid: true });
  });
});
