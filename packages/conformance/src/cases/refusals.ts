/**
 * Refusal cases: every bad input the core refuses, through this backend, each rejected with its
 * code — as a single operation and when added to a batch — with nothing written (destination and
 * guard bands unchanged) and nothing published to the engine's ring. Plus the failures only an
 * engine can detect (a file that shrank under its region), reported per descriptor.
 */
import { execFileSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { CORE_SPACE_KINDS, ErrorCode, Mover, type Batch, type BatchResult, type Capabilities, type Operation, type Region, type SpaceKind } from '@datamover/core';
import { bytesEqual, deepEqual, equal, fail, ok, refused, resultOf } from '../check.js';
import { noise } from '../data.js';
import type { CaseContextApi, CaseDef } from '../types.js';
import { claimed, comboLabel, expectRegion, missingKind, requireKinds, watched, type Combo } from './common.js';

const SIZE = 256;

type Opts = Record<string, unknown>;

/** Runs the combination's operation as a single call. */
function invoke(m: Mover, c: Combo, a: Region | undefined, b: Region | undefined, opts: Opts): Promise<unknown> {
  const o = opts as never;
  switch (c.op) {
    case 'copy':
      return m.copy(b!, a!, o);
    case 'fill':
      return m.fill(b!, (opts.pattern as number | bigint | undefined) ?? 0x11, o);
    case 'compare':
      return m.compare(a!, b!, o);
    case 'crc32c':
      return m.crc32c(a!, o);
    case 'writeImm':
      return m.writeImmediate(b!, (opts.value as number | bigint | undefined) ?? 1, o);
    case 'nop':
      return m.nop(o);
  }
}

/** Adds the combination's operation to a batch (where validation happens, synchronously). */
function add(batch: Batch, c: Combo, a: Region | undefined, b: Region | undefined, opts: Opts): Batch {
  const o = opts as never;
  switch (c.op) {
    case 'copy':
      return batch.copy(b!, a!, o);
    case 'fill':
      return batch.fill(b!, (opts.pattern as number | bigint | undefined) ?? 0x11, o);
    case 'compare':
      return batch.compare(a!, b!, o);
    case 'crc32c':
      return batch.crc32c(a!, o);
    case 'writeImm':
      return batch.writeImmediate(b!, (opts.value as number | bigint | undefined) ?? 1, o);
    case 'nop':
      return batch.nop(o);
  }
}

const SIZE_KEYS: Record<Combo['op'], readonly string[]> = {
  copy: ['length', 'srcOffset', 'dstOffset'],
  fill: ['offset', 'length'],
  compare: ['length', 'aOffset', 'bOffset'],
  crc32c: ['offset', 'length'],
  writeImm: ['offset'],
  nop: [],
};

const OUT_OF_BOUNDS: Record<Combo['op'], readonly Opts[]> = {
  copy: [{ length: SIZE + 1 }, { srcOffset: 200, length: 57 }, { dstOffset: 200, length: 57 }, { srcOffset: SIZE + 1, length: 0 }, { dstOffset: SIZE + 1, length: 0 }],
  fill: [{ length: SIZE + 1 }, { offset: 200, length: 57 }, { offset: SIZE + 1 }, { offset: SIZE + 1, length: 0 }],
  compare: [{ length: SIZE + 1 }, { aOffset: 250, length: 7 }, { bOffset: 250, length: 7 }, { aOffset: SIZE + 1, length: 0 }],
  crc32c: [{ length: SIZE + 1 }, { offset: 250, length: 7 }, { offset: SIZE + 1 }, { offset: SIZE + 1, length: 0 }],
  writeImm: [{ offset: SIZE - 7 }, { offset: SIZE - 1, width: 2 }, { offset: SIZE, width: 1 }, { offset: SIZE - 3, width: 4 }],
  nop: [],
};

const BAD_VALUES: Partial<Record<Operation, readonly Opts[]>> = {
  fill: [{ pattern: 1.5 }, { pattern: -1 }, { pattern: 256 }, { pattern: 2n ** 64n, patternBytes: 8 }, { pattern: -1n, patternBytes: 8 }, { patternBytes: 4 }, { patternBytes: '8' }],
  writeImm: [{ width: 3 }, { width: 16 }, { value: 0x100, width: 1 }, { value: 0x10000, width: 2 }, { value: -1n }, { value: 2n ** 64n }, { value: 1.5 }, { value: '1' }],
  crc32c: [{ seed: -1 }, { seed: 2 ** 32 }, { seed: 1.5 }],
};

const BAD_SUBMIT: readonly Opts[] = [{ signal: {} }, { signal: 'abort' }, { timeout: -1 }, { timeout: Number.NaN }, { timeout: '5' }, { deadline: Number.NaN }, { deadline: 'soon' }];

export function refusalCases(caps: Capabilities, has: (k: SpaceKind) => boolean): CaseDef[] {
  const cases: CaseDef[] = [];
  for (const c of claimed(caps)) {
    if (c.op === 'nop') continue;
    const skip = missingKind(c, has);
    cases.push({ group: 'refusals', name: `${comboLabel(c)}: every bad input refused with its code, nothing written`, timeoutMs: 60_000, ...(skip ? { skip } : {}), run: (ctx) => comboRefusals(ctx, c) });
  }
  cases.push({ group: 'refusals', name: 'mover-level refusals: closed, unavailable, unsupported, detached, too many regions, bad files', timeoutMs: 60_000, run: (ctx) => moverRefusals(ctx) });
  const engineDetected = claimed(caps).filter((c) => (c.op === 'copy' || c.op === 'crc32c' || c.op === 'compare') && c.src === 'file');
  if (engineDetected.length === 0) {
    cases.push({ group: 'refusals', name: 'engine-detected failures: a file shrinking under its region', timeoutMs: 10_000, skip: 'the backend claims no operation reading a file region', run: async () => undefined });
  }
  for (const c of engineDetected) {
    const skip = missingKind(c, has);
    cases.push({ group: 'refusals', name: `${comboLabel(c)}: a file that shrank under its region fails with IO_ERROR and bytesDone`, timeoutMs: 30_000, ...(skip ? { skip } : {}), run: (ctx) => shrunkFile(ctx, c) });
  }
  return cases;
}

async function comboRefusals(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  const label = comboLabel(c);
  const A = c.src ? await watched(ctx, m, c.src, SIZE, { guard: 16, contents: noise(SIZE, 1) }) : undefined;
  const B = c.dst ? await watched(ctx, m, c.dst, SIZE, { guard: 16, contents: noise(SIZE, 2) }) : undefined;
  const a = A?.f.region;
  const b = B?.f.region;
  const published = ctx.published(m);
  let checks = 0;

  /** Expects `code` both from the single call and from adding to a batch. */
  const both = async (code: ErrorCode, opts: Opts, what: string, ra = a, rb = b) => {
    await refused(code, () => invoke(m, c, ra, rb, opts), `${label} ${what}`);
    await refused(code, () => add(m.batch(), c, ra, rb, opts), `${label} ${what} (added to a batch)`);
    checks += 2;
  };

  for (const key of SIZE_KEYS[c.op]) {
    for (const bad of [-1, Number.NaN, 1.5, Infinity, -Infinity, 2 ** 53, 8n]) await both(ErrorCode.INVALID_SIZE, { [key]: bad }, `${key}: ${String(bad)}`);
    for (const bad of ['8', {}, true]) await both(ErrorCode.INVALID_ARGUMENT, { [key]: bad }, `${key}: ${JSON.stringify(bad)}`);
  }
  for (const o of OUT_OF_BOUNDS[c.op]) await both(ErrorCode.OUT_OF_BOUNDS, o, `range ${JSON.stringify(o)}`);
  for (const o of BAD_VALUES[c.op] ?? []) await both(ErrorCode.INVALID_ARGUMENT, o, `value ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
  for (const o of BAD_SUBMIT) {
    await refused(ErrorCode.INVALID_ARGUMENT, () => invoke(m, c, a, b, o), `${label} submit option ${JSON.stringify(o)}`);
    await refused(ErrorCode.INVALID_ARGUMENT, () => add(m.batch(), c, a, b, {}).submit(o as never), `${label} batch.submit(${JSON.stringify(o)})`);
    checks += 2;
  }

  // Ranges through slices: the slice's own bounds apply.
  const endpoint = (a ?? b)!;
  await refused(ErrorCode.OUT_OF_BOUNDS, () => endpoint.slice(200, 57), `${label}: a slice past the region's end`);
  await refused(ErrorCode.INVALID_SIZE, () => endpoint.slice(-1, 2), `${label}: a slice at a negative offset`);
  {
    const sa = a?.slice(200, 56);
    const sb = b?.slice(200, 56);
    const o: Opts = c.op === 'writeImm' ? { offset: 50 } : { length: 57 };
    await both(ErrorCode.OUT_OF_BOUNDS, o, `through 56-byte slices, ${JSON.stringify(o)}`, sa, sb);
    await sa?.release();
    await sb?.release();
  }

  // Lengths that differ where they must match.
  if (c.op === 'copy' || c.op === 'compare') {
    const short = b!.slice(1);
    await both(ErrorCode.LENGTH_MISMATCH, {}, 'regions of 256 and 255 bytes without a length', a, short);
    await short.release();
  }

  // Overlap: only possible within one kind; through one region and through aliasing slices.
  if (c.op === 'copy' && c.src === c.dst) {
    await refused(ErrorCode.OVERLAPPING_RANGES, () => m.copy(b!, b!, { srcOffset: 0, dstOffset: 10, length: 20 }), `${label}: overlapping ranges of one region`);
    const s1 = b!.slice(50, 100);
    const s2 = b!.slice(100, 100);
    await refused(ErrorCode.OVERLAPPING_RANGES, () => m.copy(s2, s1), `${label}: two slices over the same bytes`);
    await refused(ErrorCode.OVERLAPPING_RANGES, () => m.batch().copy(s2, s1), `${label}: two slices over the same bytes (added to a batch)`);
    await s1.release();
    await s2.release();
    checks += 3;
  } else if (c.op === 'copy') ctx.skipCheck('OVERLAPPING_RANGES', `source and destination are different kinds (${label}); checked on same-kind copies`);

  // Read-only destinations.
  if (c.op === 'copy' || c.op === 'fill' || c.op === 'writeImm') {
    if (ctx.provider(c.dst!)?.readOnly === false) ctx.skipCheck('ACCESS_DENIED', `the '${c.dst}' region factory cannot create read-only regions`);
    else {
      const ro = await watched(ctx, m, c.dst!, SIZE, { readOnly: true, guard: 16, contents: noise(SIZE, 3) });
      await both(ErrorCode.ACCESS_DENIED, {}, 'a read-only destination', a, ro.f.region);
      await expectRegion(ro, `${label}: the read-only destination`);
    }
  }

  // Region state: moved, released, released between add and submit, busy, foreign.
  const other = await ctx.open();
  for (const side of ['src', 'dst'] as const) {
    const kind = c[side];
    if (!kind) continue;
    const pick = (r: Region): [Region | undefined, Region | undefined] => (side === 'src' ? [r, b] : [a, r]);
    const x = await ctx.fixture(m, kind, SIZE);
    const moved = x.region.move();
    await both(ErrorCode.USE_AFTER_MOVE, {}, `a moved ${side} handle`, ...pick(x.region));
    await refused(ErrorCode.USE_AFTER_MOVE, () => x.region.slice(0, 1), `${label}: slicing a moved handle`);
    await refused(ErrorCode.USE_AFTER_MOVE, () => x.region.release(), `${label}: releasing a moved handle`);
    await moved.release();
    await both(ErrorCode.REGION_RELEASED, {}, `a released ${side} region`, ...pick(moved));

    const y = await ctx.fixture(m, kind, SIZE);
    const batch = m.batch();
    add(batch, c, a, b, {}); // a valid descriptor first: it must not run either
    add(batch, c, ...pick(y.region), {});
    await y.region.release();
    await refused(ErrorCode.REGION_RELEASED, () => batch.submit(), `${label}: a ${side} region released between add() and submit()`);

    const p = await ctx.fixture(m, kind, SIZE);
    const s = p.region.slice(0, 10);
    await refused(ErrorCode.REGION_BUSY, () => p.region.release(), `${label}: releasing a ${side} region with a live slice`);
    await s.release();

    const f = await ctx.fixture(other, kind, SIZE);
    await both(ErrorCode.FOREIGN_REGION, {}, `a ${side} region of another Mover`, ...pick(f.region));
    checks += 5;
  }

  // Sizes one descriptor cannot carry.
  const limit = ctx.caps.maxDescriptorBytes;
  if (c.op === 'writeImm') ctx.skipCheck('SIZE_TOO_LARGE', 'write-immediate carries at most 8 bytes');
  else {
    const kinds = [...new Set([c.src, c.dst].filter((k): k is SpaceKind => k !== null))];
    const cheap = kinds.every((k) => (ctx.provider(k)?.maxCheapBytes ?? 256 * 2 ** 20) > limit);
    if (!cheap) ctx.skipCheck('SIZE_TOO_LARGE', `needs ${kinds.join(' and ')} regions larger than maxDescriptorBytes (${limit}); the ${kinds.filter((k) => (ctx.provider(k)?.maxCheapBytes ?? 0) <= limit).join('/')} factory cannot make one cheaply`);
    else {
      const ha = c.src ? (await ctx.fixture(m, c.src, limit + 1)).region : undefined;
      const hb = c.dst ? (await ctx.fixture(m, c.dst, limit + 1)).region : undefined;
      await both(ErrorCode.SIZE_TOO_LARGE, {}, `${limit + 1} bytes (maxDescriptorBytes + 1)`, ha, hb);
    }
  }

  // Nothing of all that reached the engine, and nothing was written.
  equal(ctx.published(m), published, `${label}: descriptors published to the engine by ${checks} refused calls`);
  if (A) await expectRegion(A, `${label}: source after refused calls`);
  if (B) await expectRegion(B, `${label}: destination after refused calls`);

  // Positive controls: the same regions work, and a batch cannot be submitted twice.
  const batch = add(m.batch(), c, a, b, {});
  const r = await batch.submit();
  equal(r.ok, true, `${label}: a valid descriptor on the same regions`);
  await refused(ErrorCode.INVALID_ARGUMENT, () => batch.submit(), `${label}: submitting a batch twice`);
  await refused(ErrorCode.INVALID_ARGUMENT, () => add(batch, c, a, b, {}), `${label}: adding to a submitted batch`);
  if (c.op === 'compare' || c.op === 'crc32c') {
    // Reading read-only regions is allowed.
    const roA = await ctx.fixture(m, c.src!, SIZE, { readOnly: true, contents: noise(SIZE, 4) });
    const roB = c.dst ? await ctx.fixture(m, c.dst, SIZE, { readOnly: true, contents: noise(SIZE, 4) }) : undefined;
    await invoke(m, c, roA.region, roB?.region, {});
  }
}

async function moverRefusals(ctx: CaseContextApi): Promise<void> {
  const m = await ctx.open();
  const combos = claimed(ctx.caps).filter((c) => !missingKind(c, (k) => ctx.hasKind(k)));
  const any = combos[0];
  if (!any) ctx.skip('the suite can create regions of none of the claimed kinds');
  const published = ctx.published(m);

  // A closed Mover refuses everything.
  const closed = await ctx.open();
  const regions = new Map<SpaceKind, Region>();
  for (const c of combos) for (const k of [c.src, c.dst]) if (k && !regions.has(k)) regions.set(k, (await ctx.fixture(closed, k, 64)).region);
  const pending = closed.batch();
  await closed.close();
  for (const c of combos) {
    await refused(ErrorCode.MOVER_CLOSED, () => invoke(closed, c, c.src ? regions.get(c.src) : undefined, c.dst ? regions.get(c.dst) : undefined, {}), `${comboLabel(c)} on a closed Mover`);
  }
  await refused(ErrorCode.MOVER_CLOSED, () => closed.batch(), 'batch() on a closed Mover');
  await refused(ErrorCode.MOVER_CLOSED, () => pending.submit(), 'submitting a batch made before close()');
  await refused(ErrorCode.MOVER_CLOSED, () => closed.wrap(new Uint8Array(8)), 'wrap() on a closed Mover');
  await refused(ErrorCode.MOVER_CLOSED, () => closed.alloc(8), 'alloc() on a closed Mover');
  await refused(ErrorCode.MOVER_CLOSED, () => closed.openFile(ctx.tempPath('closed.bin'), { mode: 'rw', create: true }), 'openFile() on a closed Mover');
  await closed.close(); // twice is fine

  // Backends that are not there.
  const ra = any.src ? (await ctx.fixture(m, any.src, 64)).region : undefined;
  const rb = any.dst ? (await ctx.fixture(m, any.dst, 64)).region : undefined;
  const e = await refused(ErrorCode.BACKEND_UNAVAILABLE, () => invoke(m, any, ra, rb, { backend: 'no-such-backend' }), `${comboLabel(any)} routed to a backend that is not open`);
  ok(/no-such-backend/.test(e.message), `BACKEND_UNAVAILABLE names the backend asked for: ${e.message}`);
  await refused(ErrorCode.BACKEND_UNAVAILABLE, () => Mover.open({ backends: [] }), 'Mover.open with no backend');
  const inner = ctx.backend();
  const down = { name: inner.name, version: inner.version, kind: inner.kind, capabilities: () => inner.capabilities(), open: inner.open.bind(inner), probe: async () => ({ available: false, reason: 'conformance: probe says no' }) };
  const e2 = await refused(ErrorCode.BACKEND_UNAVAILABLE, () => Mover.open({ backends: [down] }), 'Mover.open when the only backend is unavailable');
  ok(/probe says no/.test(e2.message), `BACKEND_UNAVAILABLE carries the probe's reason: ${e2.message}`);

  // Bad arguments to the Mover itself.
  await refused(ErrorCode.INVALID_ARGUMENT, () => Mover.open({ backends: [ctx.backend()], policy: 'fastest' as never }), 'an unknown routing policy');
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.wrap('bytes' as never), 'wrap() of a string');
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.wrap(42 as never), 'wrap() of a number');
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.alloc(16, { alignment: 3 }), 'alloc() with alignment 3');
  await refused(ErrorCode.INVALID_SIZE, () => m.alloc(-1), 'alloc(-1)');
  await refused(ErrorCode.INVALID_SIZE, () => m.alloc(1.5), 'alloc(1.5)');
  // Past the runtime's ArrayBuffer limit (4 GiB on Node 20) an engine allocator's buffer cannot be made.
  for (const gib of [5, 100]) await refused(ErrorCode.SIZE_TOO_LARGE, () => m.alloc(gib * 2 ** 30), `alloc(${gib} GiB)`);
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.openFile(''), 'openFile with an empty path');
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.openFile(ctx.tempPath('x.bin'), { mode: 'w' as never }), "openFile with mode 'w'");
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.openFile(ctx.tempPath('x.bin'), { create: true }), 'openFile create without rw');
  // A FIFO is not a file region, and opening one must not block the event loop (no writer is there).
  const fifo = ctx.tempPath('fifo');
  execFileSync('mkfifo', [fifo]);
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.openFile(fifo), 'openFile of a FIFO');
  const missing = await refused(ErrorCode.IO_ERROR, () => m.openFile(ctx.tempPath('missing.bin')), 'openFile of a missing file');
  equal(missing.detail?.errno, 2, 'IO_ERROR detail.errno for a missing file (ENOENT)');
  const small = ctx.tempPath('small.bin');
  writeFileSync(small, noise(10, 5));
  await refused(ErrorCode.OUT_OF_BOUNDS, () => m.openFile(small, { length: 11 }), 'a read-only file region past the end of the file');
  await refused(ErrorCode.OUT_OF_BOUNDS, () => m.openFile(small, { offset: 11 }), 'a file region starting past the end');

  // Combinations the backend does not claim are refused with UNSUPPORTED_OPERATION.
  const kinds = [...new Set<SpaceKind>([...CORE_SPACE_KINDS, ...ctx.caps.operations.flatMap((o) => [o.src, o.dst]).filter((k): k is SpaceKind => k !== null)])].filter((k) => ctx.hasKind(k));
  const unclaimed: Combo[] = [];
  for (const op of ['copy', 'compare'] as const) for (const s of kinds) for (const d of kinds) if (!ctx.claims(op, s, d)) unclaimed.push({ op, src: s, dst: d });
  for (const op of ['fill', 'writeImm'] as const) for (const d of kinds) if (!ctx.claims(op, null, d)) unclaimed.push({ op, src: null, dst: d });
  for (const s of kinds) if (!ctx.claims('crc32c', s, null)) unclaimed.push({ op: 'crc32c', src: s, dst: null });
  if (!ctx.claims('nop', null, null)) unclaimed.push({ op: 'nop', src: null, dst: null });
  if (unclaimed.length === 0) ctx.skipCheck('UNSUPPORTED_OPERATION', `the backend claims every combination over the kinds the suite can create (${kinds.join(', ')})`);
  for (const c of unclaimed) {
    const x = c.src ? (await ctx.fixture(m, c.src, 64)).region : undefined;
    const y = c.dst ? (await ctx.fixture(m, c.dst, 64)).region : undefined;
    await refused(ErrorCode.UNSUPPORTED_OPERATION, () => invoke(m, c, x, y, {}), `${comboLabel(c)}, which the backend does not claim`);
    await refused(ErrorCode.UNSUPPORTED_OPERATION, () => m.explain(c.op, c.src, c.dst), `explain(${comboLabel(c)})`);
  }
  for (const c of combos) equal(m.explain(c.op, c.src, c.dst).backend, m.backends[0], `explain(${comboLabel(c)}) names the backend`);

  // Detached buffers (host memory is a Mover-level concept: wrap always exists).
  const ab = new ArrayBuffer(64);
  structuredClone(ab, { transfer: [ab] });
  await refused(ErrorCode.DETACHED_BUFFER, () => m.wrap(ab), 'wrap() of a detached ArrayBuffer');
  const view = new Uint8Array(new ArrayBuffer(64));
  structuredClone(view.buffer, { transfer: [view.buffer] });
  await refused(ErrorCode.DETACHED_BUFFER, () => m.wrap(view), 'wrap() of a view on a detached ArrayBuffer');
  const kept = new ArrayBuffer(64);
  m.wrap(kept);
  structuredClone(kept, { transfer: [kept] });
  equal(kept.byteLength, 64, 'a registered ArrayBuffer cannot be detached (transfer copies it)');

  // A resizable ArrayBuffer could shrink under a move: refused, and so is any view on one.
  const resizable = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(64, { maxByteLength: 128 });
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.wrap(resizable), 'wrap() of a resizable ArrayBuffer');
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.wrap(new Uint8Array(resizable, 8, 16)), 'wrap() of a view on a resizable ArrayBuffer');
  await refused(ErrorCode.INVALID_ARGUMENT, () => m.wrap(new DataView(resizable)), 'wrap() of a length-tracking view on a resizable ArrayBuffer');
  equal(ctx.published(m), published, 'descriptors published by refused calls');

  // A growable SharedArrayBuffer only grows in place: its length at registration stays valid.
  const growable = new (SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer & { grow(n: number): void })(64, { maxByteLength: 4096 });
  const g = m.wrap(growable);
  growable.grow(4096);
  equal(g.length, 64, 'a growable SharedArrayBuffer registers its length at wrap()');
  if (ctx.claims('fill', null, 'host')) {
    await m.fill(g, 0x5a);
    const bytes = new Uint8Array(growable);
    ok(bytes.subarray(0, 64).every((x) => x === 0x5a) && bytes.subarray(64).every((x) => x === 0), 'a fill of the grown SharedArrayBuffer wrote its 64 registered bytes and nothing past them');
  }

  // Two SharedArrayBuffer objects over one memory (a SAB posted through a MessageChannel comes
  // back as a new object) alias: an overlapping copy between them is refused, by the Mover up
  // front or by the engine at run time, and writes nothing; an adjacent one runs.
  if (ctx.claims('copy', 'host', 'host')) {
    const sab = new SharedArrayBuffer(256);
    new Uint8Array(sab).set(noise(256, 77));
    const before = new Uint8Array(sab).slice();
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(sab);
    const twin = await new Promise<SharedArrayBuffer>((resolve) => port2.once('message', (v: SharedArrayBuffer) => resolve(v)));
    port1.close();
    ok(twin !== sab, 'the posted SharedArrayBuffer is another object');
    const a = m.wrap(sab);
    const b = m.wrap(twin);
    await refused(ErrorCode.OVERLAPPING_RANGES, () => m.copy(b, a, { srcOffset: 0, dstOffset: 32, length: 64 }), 'a copy between two SharedArrayBuffer objects over one memory, overlapping');
    bytesEqual(new Uint8Array(sab), before, 'memory after the refused overlapping copy');
    await m.copy(b, a, { srcOffset: 0, dstOffset: 64, length: 64 });
    bytesEqual(new Uint8Array(sab).subarray(64, 128), before.subarray(0, 64), 'an adjacent copy between the two objects');
  } else ctx.skipCheck('overlap between two SharedArrayBuffer objects over one memory', 'needs copy host→host');

  // The region table: refused past its size, and the backend holds what it declares.
  const many: Region[] = [];
  const mm = await ctx.open();
  const tooMany = await refused(
    ErrorCode.TOO_MANY_REGIONS,
    () => {
      for (;;) many.push(mm.wrap(new Uint8Array(1)));
    },
    'registering regions until the table is full',
  );
  ok(many.length >= 1, `TOO_MANY_REGIONS after ${many.length} regions: ${tooMany.message}`);
  const declared = Math.min(ctx.caps.maxRegions, many.length);
  if (ctx.claims('fill', null, 'host')) {
    const b = mm.batch();
    for (let i = 0; i < declared; i++) b.fill(many[i]!, i & 0xff);
    const r = await b.submit();
    deepEqual(r.counts, { done: declared, notRun: 0, failed: 0, pending: 0 }, `one batch naming ${declared} regions (the declared maxRegions)`);
    for (let i = 0; i < declared; i += 997) equal(many[i]!.bytes()[0], i & 0xff, `byte of region ${i}`);
  } else ctx.skipCheck('maxRegions honoured', 'needs fill on host regions');
  if (ctx.caps.maxRegions < many.length) ctx.note(`the Mover registered ${many.length} regions, more than the backend's declared maxRegions (${ctx.caps.maxRegions})`);
  await Promise.all(many.map((r) => r.release()));
  equal(mm.stats().regions, 0, 'regions left after releasing them all');
  mm.wrap(new Uint8Array(1)); // indexes are reused
}

async function shrunkFile(ctx: CaseContextApi, c: Combo): Promise<void> {
  requireKinds(ctx, c);
  const m = await ctx.open();
  const label = comboLabel(c);
  const path = ctx.tempPath('shrinks.bin');
  const data = noise(4096, 9);
  writeFileSync(path, data);
  const f = await m.openFile(path);
  truncateSync(path, 1000);
  const other = c.dst ? await ctx.fixture(m, c.dst, 4096, { contents: data }) : undefined;
  const single = () => (c.op === 'copy' ? m.copy(other!.region, f) : c.op === 'crc32c' ? m.crc32c(f) : m.compare(f, other!.region));
  const e = await refused(ErrorCode.IO_ERROR, single, `${label} from a file that shrank to 1000 of 4096 bytes`);
  const bytesDone = e.detail?.bytesDone;
  ok(bytesDone === undefined || bytesDone === 1000 || (typeof bytesDone === 'number' && bytesDone <= 1000), `${label}: detail.bytesDone ${String(bytesDone)} must not exceed the 1000 bytes the file still has`);
  if (bytesDone === undefined) ctx.note(`${label}: the IO_ERROR carries no detail.bytesDone (errno ${String(e.detail?.errno)})`);

  // In a batch: the failure is per descriptor, the other descriptor is done, the batch rejects.
  if (!ctx.claims('copy', 'host', 'host')) {
    ctx.skipCheck(`${label} in a batch`, 'needs copy host→host for the companion descriptor');
    return;
  }
  const okSrc = await ctx.fixture(m, 'host', 4096, { contents: noise(4096, 10) });
  const okDst = await watched(ctx, m, 'host', 4096);
  const batch = m.batch().copy(okDst.f.region, okSrc.region);
  if (c.op === 'copy') batch.copy(other!.region, f);
  else if (c.op === 'crc32c') batch.crc32c(f);
  else batch.compare(f, other!.region);
  let thrown: unknown;
  try {
    await batch.submit();
  } catch (x) {
    thrown = x;
  }
  if (thrown === undefined) fail(`${label}: a batch with a failing descriptor resolved as success`);
  const be = await refused(ErrorCode.BATCH_FAILED, () => Promise.reject(thrown), `${label} in a batch`);
  const result: BatchResult = resultOf(be, label);
  deepEqual([result.status(0), result.status(1)], ['done', 'failed'], `${label}: per-descriptor statuses`);
  equal(result.error(1)?.code, ErrorCode.IO_ERROR, `${label}: error of the failed descriptor`);
  equal((be.cause as { code?: string } | undefined)?.code, ErrorCode.IO_ERROR, `${label}: BATCH_FAILED's cause`);
  await expectRegion(okDst, `${label}: the companion descriptor's destination`, await okSrc.read());
}
