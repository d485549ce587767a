/**
 * Strided cases: each claimed strided operation (count blocks of one size per descriptor) by
 * content — blocks at two strides, the last block ending exactly at the region's end, the bytes
 * between blocks untouched — and its refusals (zero count runs as a NOP, a stride below the block
 * size is OVERLAPPING_RANGES, a last block past the end or a stride whose product with the count
 * passes 2⁶⁴ is OUT_OF_BOUNDS), each before anything is published. A backend that claims none of
 * them is checked to refuse them with UNSUPPORTED_OPERATION.
 */
import { ErrorCode, STRIDED_OPERATIONS, type Batch, type Capabilities, type Mover, type Region, type SpaceKind, type StridedOperation } from '@datamover/core';
import { equal, refused } from '../check.js';
import { crc32c, noise } from '../data.js';
import type { CaseContextApi, CaseDef } from '../types.js';
import { claimedStrided, comboLabel, expectRegion, missingKind, watched, type StridedCombo, type Watched } from './common.js';

// The layout every case uses: the source's last block ends at its region's end.
const COUNT = 5;
const BLOCK = 100;
const SRC = { offset: 7, stride: 300 };
const DST = { offset: 3, stride: 128 };
const SRC_SIZE = SRC.offset + (COUNT - 1) * SRC.stride + BLOCK;
const DST_SIZE = DST.offset + (COUNT - 1) * DST.stride + BLOCK + 20;

export function stridedCases(caps: Capabilities, has: (k: SpaceKind) => boolean): CaseDef[] {
  const combos = claimedStrided(caps);
  const cases: CaseDef[] = [];
  for (const c of combos) {
    const skip = missingKind(c, has);
    const base = { group: 'strided' as const, timeoutMs: 30_000, ...(skip ? { skip } : {}) };
    cases.push({ ...base, name: `${comboLabel(c)}: ${COUNT} blocks at two strides, the last at the region's end, gaps untouched`, run: (ctx) => content(ctx, c) });
    cases.push({ ...base, name: `${comboLabel(c)}: zero count, overlapping strides, past the end, 64-bit overflow: refused or a NOP, nothing written`, run: (ctx) => refusals(ctx, c) });
  }
  const missing = STRIDED_OPERATIONS.filter((op) => !combos.some((c) => c.op === op));
  if (missing.length > 0) {
    const kind = caps.operations.map((o) => o.src ?? o.dst).find((k) => k !== null) ?? 'host'; // a kind the backend takes
    cases.push({
      group: 'strided',
      name: `unclaimed strided operations (${missing.join(', ')}) refused UNSUPPORTED_OPERATION before anything is published`,
      timeoutMs: 30_000,
      ...(has(kind) ? {} : { skip: `no region factory for kind '${kind}'` }),
      run: (ctx) => unsupported(ctx, missing, kind),
    });
  }
  return cases;
}

/** Adds the combination's operation with the standard layout, `over` overriding fields. */
function add(batch: Batch, c: StridedCombo, a: Region | undefined, b: Region | undefined, over: Record<string, unknown> = {}): Batch {
  const blocks = { count: COUNT, blockBytes: BLOCK, ...over };
  switch (c.op) {
    case 'copyStrided':
      return batch.copyStrided(b!, a!, { srcOffset: SRC.offset, srcStride: SRC.stride, dstOffset: DST.offset, dstStride: DST.stride, ...blocks } as never);
    case 'compareStrided':
      return batch.compareStrided(a!, b!, { aOffset: SRC.offset, aStride: SRC.stride, bOffset: DST.offset, bStride: DST.stride, ...blocks } as never);
    case 'fillStrided':
      return batch.fillStrided(b!, 0x1122334455667788n, { offset: DST.offset, stride: DST.stride, patternBytes: 8, ...blocks } as never);
    case 'crc32cStrided':
      return batch.crc32cStrided(a!, { offset: SRC.offset, stride: SRC.stride, seed: 5, ...blocks } as never);
  }
}

/** The blocks of `bytes` at (offset, stride), laid end to end. */
function gather(bytes: Uint8Array, at: { offset: number; stride: number }): Uint8Array {
  const out = new Uint8Array(COUNT * BLOCK);
  for (let i = 0; i < COUNT; i++) out.set(bytes.subarray(at.offset + i * at.stride, at.offset + i * at.stride + BLOCK), i * BLOCK);
  return out;
}

/** `bytes` with the packed blocks of `packed` placed at (offset, stride). */
function scatter(bytes: Uint8Array, at: { offset: number; stride: number }, packed: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < COUNT; i++) out.set(packed.subarray(i * BLOCK, (i + 1) * BLOCK), at.offset + i * at.stride);
  return out;
}

async function fixtures(ctx: CaseContextApi, m: Mover, c: StridedCombo): Promise<{ A?: Watched; B?: Watched }> {
  const A = c.src ? await watched(ctx, m, c.src, SRC_SIZE, { guard: 16, contents: noise(SRC_SIZE, 21) }) : undefined;
  const B = c.dst ? await watched(ctx, m, c.dst, DST_SIZE, { guard: 16, contents: noise(DST_SIZE, 22) }) : undefined;
  return { ...(A ? { A } : {}), ...(B ? { B } : {}) };
}

async function content(ctx: CaseContextApi, c: StridedCombo): Promise<void> {
  const m = await ctx.open();
  const { A, B } = await fixtures(ctx, m, c);
  const label = comboLabel(c);
  const run = async () => (await add(m.batch(), c, A?.f.region, B?.f.region).submit()).value(0);
  switch (c.op) {
    case 'copyStrided':
      await run();
      await expectRegion(B!, `${label}: the destination`, scatter(B!.bytes, DST, gather(A!.bytes, SRC)));
      break;
    case 'fillStrided': {
      await run();
      const unit = new Uint8Array(8);
      new DataView(unit.buffer).setBigUint64(0, 0x1122334455667788n, true);
      const packed = new Uint8Array(COUNT * BLOCK).map((_, k) => unit[(k % BLOCK) & 7]!);
      await expectRegion(B!, `${label}: the destination`, scatter(B!.bytes, DST, packed));
      break;
    }
    case 'compareStrided': {
      const equalBytes = scatter(B!.bytes, DST, gather(A!.bytes, SRC));
      await B!.f.write(equalBytes);
      equal(await run(), -1, `${label}: equal blocks`);
      const diff = equalBytes.slice();
      diff[DST.offset + 3 * DST.stride + 42]! ^= 0x40;
      await B!.f.write(diff);
      equal(await run(), 3 * BLOCK + 42, `${label}: the first difference, counted over the blocks end to end`);
      break;
    }
    case 'crc32cStrided':
      equal(await run(), crc32c(gather(A!.bytes, SRC), 5), `${label}: the chained checksum`);
      break;
  }
  if (A) await expectRegion(A, `${label}: the source`);
}

async function refusals(ctx: CaseContextApi, c: StridedCombo): Promise<void> {
  const m = await ctx.open();
  const { A, B } = await fixtures(ctx, m, c);
  const a = A?.f.region;
  const b = B?.f.region;
  const label = comboLabel(c);
  const published = ctx.published(m);
  const stride = { copyStrided: 'srcStride', compareStrided: 'aStride', fillStrided: 'stride', crc32cStrided: 'stride' }[c.op];
  const cases: [ErrorCode, Record<string, unknown>, string][] = [
    [ErrorCode.OVERLAPPING_RANGES, { [stride]: BLOCK - 1 }, 'a stride below the block size'],
    [ErrorCode.OVERLAPPING_RANGES, { [stride]: 0 }, 'stride 0 with count > 1'],
    [ErrorCode.OUT_OF_BOUNDS, { count: COUNT + 1 }, 'one block past the end'],
    [ErrorCode.OUT_OF_BOUNDS, { [stride]: Number.MAX_SAFE_INTEGER, count: 2 ** 12 }, 'stride × count past 2⁶⁴'],
    [ErrorCode.OUT_OF_BOUNDS, { [stride]: 2 ** 52, count: 3 }, 'a stride past the region'],
    [ErrorCode.INVALID_SIZE, { count: -1 }, 'a negative count'],
    [ErrorCode.SIZE_TOO_LARGE, { count: 2 ** 32 }, 'a count past 32 bits'],
  ];
  for (const [code, over, what] of cases) await refused(code, () => add(m.batch(), c, a, b, over), `${label}: ${what}`);
  equal(ctx.published(m), published, `${label}: descriptors published by refused calls`);
  // Zero count and zero-byte blocks run as NOPs with the natural result.
  const zero = await add(m.batch(), c, a, b, { count: 0 }).submit();
  const natural = c.op === 'compareStrided' ? -1 : c.op === 'crc32cStrided' ? 5 : 0;
  equal(zero.value(0), natural, `${label}: count 0`);
  equal((await add(m.batch(), c, a, b, { blockBytes: 0 }).submit()).value(0), natural, `${label}: blockBytes 0`);
  if (A) await expectRegion(A, `${label}: the source`);
  if (B) await expectRegion(B, `${label}: the destination`);
}

async function unsupported(ctx: CaseContextApi, missing: readonly StridedOperation[], kind: SpaceKind): Promise<void> {
  const m = await ctx.open();
  const A = await watched(ctx, m, kind, SRC_SIZE, { contents: noise(SRC_SIZE, 23) });
  const B = await watched(ctx, m, kind, DST_SIZE, { contents: noise(DST_SIZE, 24) });
  const published = ctx.published(m);
  for (const op of missing) {
    const c = { op, src: kind, dst: kind } as StridedCombo;
    await refused(ErrorCode.UNSUPPORTED_OPERATION, () => add(m.batch(), c, A.f.region, B.f.region), `${op} on ${kind}`);
  }
  equal(ctx.published(m), published, 'descriptors published by refused calls');
  await expectRegion(B, 'the destination');
}
