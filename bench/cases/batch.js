/**
 * Many small descriptors: 100,000 copies of 64 bytes in one batch. Construction (batch.copy
 * calls) and submission (batch.submit() to the settled Promise) are timed separately; the peer
 * is the same copies done inline in JavaScript with Uint8Array.prototype.set.
 */
import { randomFillSync } from 'node:crypto';
import { measurement } from '../lib/measure.js';
import { since } from '../lib/stats.js';

export async function smallCopies(ctx) {
  const { mover, params } = ctx;
  const count = params.batchCount;
  const unit = params.batchUnitBytes;
  const src = ctx.alloc(count * unit);
  const dst = ctx.alloc(count * unit);
  try {
    randomFillSync(src.bytes());
    const s = src.bytes();
    const d = dst.bytes();
    const build = [];
    const submit = [];
    const js = [];
    ctx.log(`batch of ${count} × ${unit} B copies: ${params.batchSamples} samples (+${params.warmup} warm-up)`);
    for (let i = -params.warmup; i < params.batchSamples; i++) {
      d.fill(0);
      let t0 = process.hrtime.bigint();
      const batch = mover.batch();
      for (let k = 0; k < count; k++) batch.copy(dst, src, { srcOffset: k * unit, dstOffset: k * unit, length: unit });
      const tBuild = since(t0);
      t0 = process.hrtime.bigint();
      const result = await batch.submit();
      const tSubmit = since(t0);
      if (!result.ok) throw new Error(`batch finished with ${JSON.stringify(result.counts)}`);
      if (i === -params.warmup && Buffer.compare(s, d) !== 0) throw new Error('batched copies produced wrong bytes');
      // The peer: the same copies inline.
      t0 = process.hrtime.bigint();
      for (let k = 0; k < count; k++) {
        const o = k * unit;
        d.set(s.subarray(o, o + unit), o);
      }
      const tJs = since(t0);
      if (i >= 0) {
        build.push(tBuild);
        submit.push(tSubmit);
        js.push(tJs);
      }
    }
    const perSec = (ts) => ts.map((t) => count / t / 1e6);
    const applies = ctx.engine === 'native';
    return [
      measurement({
        id: 'batch.submit',
        title: `${count / 1000}k × ${unit} B copies, submit→settled`,
        unit: 'M desc/s',
        better: 'higher',
        samples: perSec(submit),
        peer: { name: 'JS Uint8Array.set loop', samples: perSec(js) },
        target: { on: 'value', op: '>=', value: 5 },
        targetApplies: applies,
        note: `ring ${params.ringEntries} slots`,
      }),
      measurement({
        id: 'batch.build',
        title: `${count / 1000}k × ${unit} B copies, batch construction`,
        unit: 'M desc/s',
        better: 'higher',
        samples: perSec(build),
        peer: { name: 'JS Uint8Array.set loop', samples: perSec(js) },
      }),
      measurement({
        id: 'batch.endToEnd',
        title: `${count / 1000}k × ${unit} B copies, build+submit`,
        unit: 'M desc/s',
        better: 'higher',
        samples: build.map((b, i) => count / (b + submit[i]) / 1e6),
        peer: { name: 'JS Uint8Array.set loop', samples: perSec(js) },
      }),
    ];
  } finally {
    await src.release();
    await dst.release();
  }
}
