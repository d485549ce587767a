/**
 * Sustained load: 1,000,000 descriptors (10,000,000 with `long`) through one Mover as batches of
 * 4096 64-byte copies, four batches in flight. Every batch's destination is checked by content,
 * every descriptor is counted done, and the Mover's own counters agree at the end.
 */
import type { Capabilities, SpaceKind } from '@datamover/core';
import { bytesEqual, deepEqual, equal } from '../check.js';
import { noise } from '../data.js';
import type { CaseContextApi, CaseDef, Fixture } from '../types.js';
import { comboLabel, copyCombos, type Combo } from './common.js';

const PER = 4096;
const UNIT = 64;
const SLOTS = 4;

export function loadCases(caps: Capabilities, has: (k: SpaceKind) => boolean, long = false): CaseDef[] {
  const c = copyCombos(caps, has)[0];
  return [
    {
      group: 'load',
      name: `sustained load: ${long ? '10,000,000' : '1,000,000'} descriptors through one Mover${c ? ` (copy ${c.src}→${c.dst}, ${PER} × ${UNIT} B per batch)` : ''}`,
      timeoutMs: 600_000,
      ...(c ? {} : { skip: 'the backend claims no copy between kinds the suite can create' }),
      run: (ctx) => sustained(ctx, c!),
    },
  ];
}

async function sustained(ctx: CaseContextApi, c: Combo): Promise<void> {
  const total = ctx.long ? 10_000_000 : (ctx.trim?.loadDescriptors ?? 1_000_000);
  if (!ctx.long && total < 1_000_000) ctx.note(`trimmed to ${total.toLocaleString('en')} descriptors: ${ctx.trim!.reason}`);
  const m = await ctx.open();
  const srcData = noise(2 * PER * UNIT, 51);
  const src = await ctx.fixture(m, c.src!, srcData.length, { contents: srcData });
  const slots: { dst: Fixture; pending?: Promise<void> }[] = [];
  for (let s = 0; s < SLOTS; s++) slots.push({ dst: await ctx.fixture(m, c.dst!, PER * UNIT) });
  let done = 0;
  let batches = 0;
  const t0 = performance.now();
  const expectedFor = (b: number, n: number) => {
    const out = new Uint8Array(PER * UNIT);
    for (let i = 0; i < n; i++) {
      const so = ((i + b) % (2 * PER)) * UNIT;
      out.set(srcData.subarray(so, so + UNIT), i * UNIT);
    }
    return out;
  };
  try {
  for (let sent = 0, b = 0; sent < total; b++) {
    const slot = slots[b % SLOTS]!;
    if (slot.pending) await slot.pending;
    const n = Math.min(PER, total - sent);
    const batch = m.batch();
    for (let i = 0; i < n; i++) batch.copy(slot.dst.region, src.region, { srcOffset: ((i + b) % (2 * PER)) * UNIT, dstOffset: i * UNIT, length: UNIT });
    sent += n;
    batches++;
    const before = n < PER ? await slot.dst.read() : undefined;
    slot.pending = batch.submit().then(async (r) => {
      deepEqual(r.counts, { done: n, notRun: 0, failed: 0, pending: 0 }, `batch ${b}`);
      done += r.counts.done;
      const got = await slot.dst.read();
      const want = expectedFor(b, n);
      if (before) want.set(before.subarray(n * UNIT), n * UNIT);
      if (!Buffer.from(got).equals(Buffer.from(want))) bytesEqual(got, want, `${comboLabel(c)}: destination of batch ${b}`);
    });
  }
  await Promise.all(slots.map((s) => s.pending));
  } finally {
    await Promise.allSettled(slots.map((s) => s.pending));
  }
  const ms = performance.now() - t0;
  equal(done, total, 'descriptors reported done');
  const st = m.stats().backends[0]!;
  deepEqual({ submitted: st.submitted, done: st.done, failed: st.failed, notRun: st.notRun }, { submitted: total, done: total, failed: 0, notRun: 0 }, "the Mover's counters");
  ctx.note(`${total.toLocaleString('en')} descriptors in ${batches} batches in ${(ms / 1000).toFixed(1)} s (${Math.round(total / (ms / 1000)).toLocaleString('en')} descriptors/s, content checked per batch)`);
}
