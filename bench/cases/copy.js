/**
 * Host → host copy throughput: a 64 MiB copy against Buffer.copy (same memory, sampled
 * alternately), and a large copy (1 GiB, --quick 256 MiB) against Buffer.copy, C memcpy and a
 * non-temporal AVX2 copy (the machine's limit) from bench/peers/memcpy.c.
 */
import { bufferOf } from '../lib/library.js';
import { measurement } from '../lib/measure.js';
import { runMemcpyPeer } from '../lib/peers.js';
import { samplePair, toGBps } from '../lib/stats.js';

const MiB = 1024 * 1024;

export async function copyMedium(ctx) {
  const { mover, params } = ctx;
  const size = params.copyMediumBytes;
  const src = ctx.alloc(size);
  const dst = ctx.alloc(size);
  try {
    await mover.fill(src, 0x0123_4567_89ab_cdefn, { patternBytes: 8 });
    const a = bufferOf(src);
    const b = bufferOf(dst);
    ctx.log(`copy ${size / MiB} MiB: ${params.copyMediumSamples} samples each, Datamover and Buffer.copy alternately`);
    const t = await samplePair(
      () => mover.copy(dst, src),
      () => {
        a.copy(b);
      },
      { warmup: params.warmup, samples: params.copyMediumSamples },
    );
    const check = await mover.compare(src, dst);
    if (!check.equal) throw new Error(`64 MiB copy produced wrong bytes at ${check.offset}`);
    return [
      measurement({
        id: 'copy.64MiB.vsBufferCopy',
        title: `copy ${size / MiB} MiB host→host`,
        unit: 'GB/s',
        better: 'higher',
        samples: toGBps(size, t.a),
        peer: { name: 'Buffer.copy', samples: toGBps(size, t.b) },
        target: { on: 'ratio', op: '>=', value: 1.25 },
        targetApplies: ctx.engine === 'native',
        note: 'same aligned memory for both',
      }),
    ];
  } finally {
    await src.release();
    await dst.release();
  }
}

export async function copyLarge(ctx) {
  const { mover, params, big } = ctx;
  const size = big.size;
  const label = size >= 1024 * MiB ? `${size / (1024 * MiB)} GiB` : `${size / MiB} MiB`;
  ctx.log(`copy ${label}: ${params.copyLargeSamples} samples each, Datamover and Buffer.copy alternately`);
  const a = bufferOf(big.src);
  const b = bufferOf(big.dst);
  // The C peer runs in a separate process, so it cannot alternate sample by sample: half of its
  // iterations run just before Datamover's samples and half just after, so that drift during the
  // case falls on both sides alike.
  const cIterations = [Math.ceil(params.copyLargeSamples / 2), Math.floor(params.copyLargeSamples / 2)];
  const cRuns = [];
  const runC = (iterations) => {
    if (!ctx.cPeer.available || iterations === 0) return;
    ctx.log(`C memcpy peer: ${label}, ${iterations} iterations`);
    cRuns.push(runMemcpyPeer(ctx.cPeer, size, iterations));
  };
  runC(cIterations[0]);
  const t = await samplePair(
    () => mover.copy(big.dst, big.src),
    () => {
      a.copy(b);
    },
    { warmup: 1, samples: params.copyLargeSamples },
  );
  const check = await mover.compare(big.src, big.dst);
  if (!check.equal) throw new Error(`${label} copy produced wrong bytes at ${check.offset}`);
  runC(cIterations[1]);
  const dm = toGBps(size, t.a);
  const out = [];
  const c =
    cRuns.length === 0
      ? null
      : {
          memcpy: { samples_gbps: cRuns.flatMap((r) => r.memcpy.samples_gbps) },
          nt_avx2: cRuns.every((r) => r.nt_avx2) ? { samples_gbps: cRuns.flatMap((r) => r.nt_avx2.samples_gbps) } : null,
        };
  const applies = ctx.engine === 'native';
  out.push(
    measurement({
      id: 'copy.large.vsMemcpy',
      title: `copy ${label} host→host`,
      unit: 'GB/s',
      better: 'higher',
      samples: dm,
      peer: c ? { name: 'C memcpy', samples: c.memcpy.samples_gbps } : null,
      target: { on: 'ratio', op: '>=', value: 0.95 },
      targetApplies: applies && c !== null,
      note: c ? '' : ctx.cPeer.reason,
    }),
  );
  if (c?.nt_avx2) {
    out.push(
      measurement({
        id: 'copy.large.vsNonTemporal',
        title: `copy ${label} host→host`,
        unit: 'GB/s',
        better: 'higher',
        samples: dm,
        peer: { name: 'C NT AVX2 (limit)', samples: c.nt_avx2.samples_gbps },
        note: "the machine's copy limit: non-temporal stores",
      }),
    );
  }
  out.push(
    measurement({
      id: 'copy.large.vsBufferCopy',
      title: `copy ${label} host→host`,
      unit: 'GB/s',
      better: 'higher',
      samples: dm,
      peer: { name: 'Buffer.copy', samples: toGBps(size, t.b) },
    }),
  );
  return out;
}
