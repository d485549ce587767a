/**
 * Latency of one small asynchronous copy: 4 KiB, from mover.copy() to the settled Promise,
 * p50 and p99. The peer is one event-loop turn (await a setImmediate), the floor of any
 * completion that is delivered through the event loop.
 */
import { measurement } from '../lib/measure.js';

export async function smallCopyLatency(ctx) {
  const { mover, params } = ctx;
  const size = params.latencyBytes;
  const src = ctx.alloc(size);
  const dst = ctx.alloc(size);
  try {
    await mover.fill(src, 0x5a);
    ctx.log(`${size / 1024} KiB copy latency: ${params.latencySamples} samples (+${params.latencyWarmup} warm-up), alternating with the peer`);
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const dm = [];
    const peer = [];
    for (let i = -params.latencyWarmup; i < params.latencySamples; i++) {
      let t0 = process.hrtime.bigint();
      await mover.copy(dst, src);
      const a = Number(process.hrtime.bigint() - t0) / 1e3;
      t0 = process.hrtime.bigint();
      await turn();
      const b = Number(process.hrtime.bigint() - t0) / 1e3;
      if (i >= 0) {
        dm.push(a);
        peer.push(b);
      }
    }
    const common = { unit: 'µs', better: 'lower' };
    return [
      measurement({ ...common, id: 'latency.p50', title: `${size / 1024} KiB copy latency p50`, stat: 'median', samples: dm, peer: { name: 'setImmediate turn', samples: peer } }),
      measurement({ ...common, id: 'latency.p99', title: `${size / 1024} KiB copy latency p99`, stat: 'p99', samples: dm, peer: { name: 'setImmediate turn', samples: peer } }),
    ];
  } finally {
    await src.release();
    await dst.release();
  }
}
