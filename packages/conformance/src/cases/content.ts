/**
 * Content cases: every claimed (operation × source kind × destination kind) at every size, with
 * whole-region, unaligned, page-crossing, page-aligned and slice offsets. Every result is checked
 * by content against the TS oracle (noise copied, patterns filled, CRC-32C, first difference),
 * and every byte outside the destination range — inside the region and in guard bands around it —
 * must be untouched; sources must be unchanged.
 */
import type { Mover, Region } from '@datamover/core';
import { deepEqual, equal } from '../check.js';
import { bytesLabel, crc32c, fillBytes, hash32, leBytes, MiB, noise } from '../data.js';
import type { CaseContextApi, CaseDef } from '../types.js';
import { claimed, comboLabel, expectRegion, missingKind, overlay, requireKinds, SIZES_DEFAULT, watched, type Combo } from './common.js';

interface Variant {
  readonly name: string;
  readonly srcOff: number;
  readonly dstOff: number;
  /** Bytes of region after the range. */
  readonly slack: number;
  readonly guard: number;
  readonly aligned?: boolean;
  readonly slice?: boolean;
}

function variantsFor(size: number): Variant[] {
  const whole: Variant = { name: 'whole regions (first and last byte)', srcOff: 0, dstOff: 0, slack: 0, guard: 64 };
  if (size >= 64 * MiB) return [whole];
  return [
    whole,
    { name: 'unaligned offsets', srcOff: 3, dstOff: 5, slack: 13, guard: 16 },
    { name: 'page-crossing offsets', srcOff: 4093, dstOff: 4094, slack: 4099, guard: 16 },
    { name: 'page-aligned memory and offsets', srcOff: 4096, dstOff: 4096, slack: 4096, guard: 0, aligned: true },
    { name: 'through slices', srcOff: 17, dstOff: 4099, slack: 9, guard: 16, slice: true },
  ];
}

export function contentCases(caps: import('@datamover/core').Capabilities, has: (k: import('@datamover/core').SpaceKind) => boolean, sizes: readonly number[] = SIZES_DEFAULT): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const c of claimed(caps)) {
    const label = comboLabel(c);
    const skip = missingKind(c, has);
    const base = { group: 'content' as const, ...(skip ? { skip } : {}) };
    if (c.op === 'nop') {
      cases.push({ ...base, name: 'nop: plain, fenced, and in batches', timeoutMs: 30_000, run: (ctx) => nopCase(ctx) });
      continue;
    }
    if (c.op === 'writeImm') {
      cases.push({ ...base, name: `${label}: widths 1/2/4/8 at the first, last, odd and page-crossing bytes`, timeoutMs: 30_000, run: (ctx) => writeImmCase(ctx, c) });
      continue;
    }
    for (const size of sizes) {
      cases.push({
        ...base,
        name: `${label}: ${bytesLabel(size)}`,
        timeoutMs: size >= 64 * MiB ? 180_000 : 60_000,
        run: async (ctx) => {
          if (ctx.trim?.maxSize !== undefined && size > ctx.trim.maxSize) ctx.skip(`trimmed for this target: ${ctx.trim.reason}`);
          requireKinds(ctx, c);
          const m = await ctx.open();
          for (const v of variantsFor(size)) await runVariant(ctx, m, c, size, v);
          if (size >= 64 * MiB) ctx.note('64 MiB runs with whole regions only (offset variants run at every smaller size)');
        },
      });
    }
    cases.push({ ...base, name: `${label}: zero-length ranges at the start, middle and end`, timeoutMs: 30_000, run: (ctx) => zeroLengthCase(ctx, c) });
  }
  return cases;
}

async function runVariant(ctx: CaseContextApi, m: Mover, c: Combo, n: number, v: Variant): Promise<void> {
  const what = `${comboLabel(c)} ${bytesLabel(n)}, ${v.name}`;
  const seed = (hash32(what) ^ ctx.seed) >>> 0;
  const opts = { guard: v.guard, ...(v.aligned ? { aligned: true } : {}) };
  const whole = v.srcOff === 0 && v.dstOff === 0 && v.slack === 0;
  const slices: Region[] = [];
  const sub = (r: Region, off: number): Region => {
    const s = r.slice(off, n);
    slices.push(s);
    return s;
  };
  switch (c.op) {
    case 'copy': {
      const srcData = noise(v.srcOff + n + v.slack, seed);
      const src = await watched(ctx, m, c.src!, srcData.length, { ...opts, contents: srcData });
      const dst = await watched(ctx, m, c.dst!, v.dstOff + n + v.slack, { ...opts, contents: noise(v.dstOff + n + v.slack, seed + 1) });
      if (v.slice) await m.copy(sub(dst.f.region, v.dstOff), sub(src.f.region, v.srcOff));
      else if (whole) await m.copy(dst.f.region, src.f.region);
      else await m.copy(dst.f.region, src.f.region, { srcOffset: v.srcOff, dstOffset: v.dstOff, length: n });
      await expectRegion(dst, `${what}: destination`, overlay(dst.bytes, srcData.subarray(v.srcOff, v.srcOff + n), v.dstOff));
      await expectRegion(src, `${what}: source must be unchanged`);
      break;
    }
    case 'fill': {
      const dst = await watched(ctx, m, c.dst!, v.dstOff + n + v.slack, { ...opts, contents: noise(v.dstOff + n + v.slack, seed) });
      const target = v.slice ? sub(dst.f.region, v.dstOff) : dst.f.region;
      const range = v.slice || whole ? {} : { offset: v.dstOff, length: n };
      const byte = (seed & 0xff) | 1;
      await m.fill(target, byte, range);
      let expected = overlay(dst.bytes, fillBytes(n, BigInt(byte), 1), v.dstOff);
      await expectRegion(dst, `${what}: 1-byte pattern 0x${byte.toString(16)}`, expected);
      const wide = 0x0102030405060708n ^ BigInt(seed >>> 0);
      await m.fill(target, wide, { ...range, patternBytes: 8 });
      expected = overlay(expected, fillBytes(n, wide, 8), v.dstOff);
      await expectRegion(dst, `${what}: 8-byte pattern`, expected);
      break;
    }
    case 'compare': {
      const aData = noise(v.srcOff + n + v.slack, seed);
      const bData = noise(v.dstOff + n + v.slack, seed + 1);
      bData.set(aData.subarray(v.srcOff, v.srcOff + n), v.dstOff);
      const a = await watched(ctx, m, c.src!, aData.length, { ...opts, contents: aData });
      const b = await watched(ctx, m, c.dst!, bData.length, { ...opts, contents: bData });
      const ra = v.slice ? sub(a.f.region, v.srcOff) : a.f.region;
      const rb = v.slice ? sub(b.f.region, v.dstOff) : b.f.region;
      const range = v.slice || whole ? {} : { aOffset: v.srcOff, bOffset: v.dstOff, length: n };
      deepEqual(await m.compare(ra, rb, range), { equal: true }, `${what}: equal ranges`);
      const rng = ctx.rng(what);
      for (const p of new Set([rng.int(0, n), n - 1, 0])) {
        const at = v.dstOff + p;
        await b.f.write(Uint8Array.of(bData[at]! ^ 0x5a), at);
        deepEqual(await m.compare(ra, rb, range), { equal: false, offset: p }, `${what}: ranges differing at byte ${p}`);
        await b.f.write(Uint8Array.of(bData[at]!), at);
      }
      await expectRegion(a, `${what}: first operand must be unchanged`);
      await expectRegion(b, `${what}: second operand must be unchanged`);
      break;
    }
    case 'crc32c': {
      const data = noise(v.srcOff + n + v.slack, seed);
      const src = await watched(ctx, m, c.src!, data.length, { ...opts, contents: data });
      const target = v.slice ? sub(src.f.region, v.srcOff) : src.f.region;
      const off = v.slice ? 0 : v.srcOff;
      const range = v.slice || whole ? {} : { offset: off, length: n };
      const want = crc32c(data.subarray(v.srcOff, v.srcOff + n));
      equal(await m.crc32c(target, range), want, `${what}: checksum`);
      const k = Math.floor(n / 3);
      if (k > 0) {
        const first = await m.crc32c(target, { offset: off, length: k });
        equal(first, crc32c(data.subarray(v.srcOff, v.srcOff + k)), `${what}: checksum of the first ${k} bytes`);
        equal(await m.crc32c(target, { offset: off + k, length: n - k, seed: first }), want, `${what}: checksum continued from a seed`);
      }
      await expectRegion(src, `${what}: source must be unchanged`);
      break;
    }
    default:
      break;
  }
  for (const s of slices) await s.release();
}

async function writeImmCase(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  const size = 8192 + 16;
  const dst = await watched(ctx, m, c.dst!, size, { guard: 16, contents: noise(size, ctx.seed) });
  let expected = dst.bytes;
  const rng = ctx.rng();
  for (const width of [1, 2, 4, 8] as const) {
    for (const offset of [0, size - width, 4093, 4095, 4097]) {
      for (const value of [rng.bigint(width), (1n << BigInt(width * 8)) - 1n]) {
        await m.writeImmediate(dst.f.region, value, { width, offset });
        expected = overlay(expected, leBytes(value, width), offset);
      }
    }
  }
  // The default width is 8.
  await m.writeImmediate(dst.f.region, 0x0807060504030201n, { offset: 100 });
  expected = overlay(expected, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), 100);
  await expectRegion(dst, `${comboLabel(c)}: destination after 41 immediates`, expected);
  // In one batch, with fences so overlapping stores land in order.
  const b = m.batch();
  for (let i = 0; i < 64; i++) b.writeImmediate(dst.f.region, BigInt(i), { width: 1, offset: 5000, fence: true });
  const r = await b.submit();
  equal(r.counts.done, 64, 'fenced immediates done');
  expected = overlay(expected, Uint8Array.of(63), 5000);
  await expectRegion(dst, `${comboLabel(c)}: the last of 64 fenced immediates to one byte wins`, expected);
}

async function nopCase(ctx: CaseContextApi): Promise<void> {
  const m = await ctx.open();
  await m.nop();
  await m.nop({ fence: true });
  const b = m.batch();
  for (let i = 0; i < 1000; i++) b.nop({ fence: i % 7 === 0 });
  const r = await b.submit();
  deepEqual(r.counts, { done: 1000, notRun: 0, failed: 0, pending: 0 }, 'a batch of 1000 nops');
  for (let i = 0; i < 1000; i++) if (r.value(i) !== 0) equal(r.value(i), 0, `value of nop ${i}`);
  equal(m.stats().backends[0]!.done >= 1002, true, 'stats count every nop as done');
}

async function zeroLengthCase(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  const size = 4096 + 7;
  const a = await watched(ctx, m, (c.src ?? c.dst)!, size, { guard: 16, contents: noise(size, 11) });
  const b = c.src && c.dst ? await watched(ctx, m, c.dst, size, { guard: 16, contents: noise(size, 12) }) : a;
  const rng = ctx.rng();
  for (const off of [0, 2049, size]) {
    const seed = rng.u32();
    switch (c.op) {
      case 'copy':
        await m.copy(b.f.region, a.f.region, { srcOffset: off, dstOffset: size - off, length: 0 });
        break;
      case 'fill':
        await m.fill(a.f.region, 0xff, { offset: off, length: 0 });
        break;
      case 'compare':
        deepEqual(await m.compare(a.f.region, b.f.region, { aOffset: off, bOffset: size - off, length: 0 }), { equal: true }, `zero-length compare at ${off}`);
        break;
      case 'crc32c':
        equal(await m.crc32c(a.f.region, { offset: off, length: 0, seed }), seed, `zero-length crc32c at ${off} returns its seed`);
        break;
      default:
        break;
    }
    // Whole zero-length regions too, through slices.
    if (c.op === 'copy') await m.copy(b.f.region.slice(off, 0), a.f.region.slice(size - off, 0));
  }
  const batch = m.batch();
  if (c.op === 'copy') batch.copy(b.f.region, a.f.region, { length: 0 }).copy(b.f.region, a.f.region, { srcOffset: size, dstOffset: 0, length: 0 });
  if (c.op === 'fill') batch.fill(a.f.region, 1, { length: 0 }).fill(a.f.region, 1, { offset: size });
  if (c.op === 'crc32c') batch.crc32c(a.f.region, { length: 0, seed: 77 }).crc32c(a.f.region, { offset: size });
  if (c.op === 'compare') batch.compare(a.f.region, b.f.region, { length: 0 });
  const r = await batch.submit();
  equal(r.ok, true, 'a batch of zero-length descriptors succeeds');
  if (c.op === 'crc32c') equal(r.value(0), 77, 'zero-length crc32c in a batch returns its seed');
  if (c.op === 'compare') equal(r.value(0), -1, 'zero-length compare in a batch reports equal (-1)');
  await expectRegion(a, `${comboLabel(c)}: zero-length operations leave ${c.dst && !c.src ? 'the destination' : 'the source'} untouched`);
  if (b !== a) await expectRegion(b, `${comboLabel(c)}: zero-length operations leave the destination untouched`);
}
