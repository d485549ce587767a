/**
 * `datamover demo`: probes every known backend, then runs each operation on every available
 * one — fill, copy, compare, crc32c, write-immediate, a 64 MiB copy, a file round trip and a
 * batch of 10,000 small copies — checking every result. Exit 1 when any check fails.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Mover, type Backend } from '@datamover/core';
import { crc32c } from '@datamover/backend-soft';
import { allocHost, engineLabel, findBackends } from './backends.js';
import { hex } from './copy.js';
import { CliError } from './errors.js';
import { formatBytes, formatPerSecond, formatRate, formatSeconds, table } from './format.js';

export const DEMO_USAGE = 'datamover demo';

const MiB = 1024 * 1024;

interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

type StepFn = () => Promise<{ ok: boolean; detail: string }>;

export async function demoCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  parseArgs({ args: argv, options: {}, strict: true, allowPositionals: false });
  const found = await findBackends();
  const present = found.flatMap((f) => (f.backend ? [{ id: f.known.id, backend: f.backend }] : []));
  const reports = await Mover.probe(present.map((p) => p.backend));
  out.write('Backends\n');
  out.write(
    `${table(
      ['backend', 'available', 'why not / engine'],
      found.map((f) => {
        if (!f.backend) return [f.known.id, 'no', f.missing];
        const r = reports[present.findIndex((p) => p.backend === f.backend)]!;
        return [f.known.id, r.available ? 'yes' : 'no', r.available ? `${String(r.details?.['engine'] ?? '')} engine` : (r.reason ?? '')];
      }),
    )}\n`,
  );
  let failed = 0;
  let ran = 0;
  for (let i = 0; i < present.length; i++) {
    if (!reports[i]!.available) continue;
    const { id: label, backend } = present[i]!;
    // The demo moves host memory; a backend that runs only other kinds (dax, gpu, …) has its own tests.
    if (!backend.capabilities().operations.some((o) => o.op === 'copy' && o.src === 'host' && o.dst === 'host')) {
      out.write(`\n${label}\n  skipped: the demo moves host memory and ${label} does not run host → host copies\n`);
      continue;
    }
    ran++;
    const steps = await runDemo(backend);
    out.write(`\n${label}\n`);
    out.write(`${table(['step', 'result', 'detail'], steps.map((s) => [s.name, s.ok ? 'ok' : 'FAIL', s.detail]))}\n`);
    failed += steps.filter((s) => !s.ok).length;
  }
  if (ran === 0) throw new CliError('CHECK_FAILED', 'no backend is available here; see the reasons above');
  if (failed > 0) throw new CliError('CHECK_FAILED', `${failed} demo check(s) failed`);
  out.write(`\nall checks passed on ${ran} backend(s)\n`);
  return 0;
}

/** Runs every step on one backend; a step that throws is a failed step, and the others still run. */
export async function runDemo(backend: Backend): Promise<Step[]> {
  const mover = await Mover.open({ backends: [backend] });
  const steps: Step[] = [{ name: 'open', ok: true, detail: engineLabel(mover) }];
  const dir = mkdtempSync(join(tmpdir(), 'datamover-demo-'));
  const run = async (name: string, f: StepFn) => {
    try {
      const r = await f();
      steps.push({ name, ...r });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      steps.push({ name, ok: false, detail: `${typeof code === 'string' ? `${code}: ` : ''}${(e as Error).message}` });
    }
  };
  try {
    const size = 1 * MiB;
    const a = allocHost(mover, size);
    const b = allocHost(mover, size);

    await run('fill', async () => {
      await mover.fill(a, 0xa5);
      const bad = a.bytes().findIndex((x) => x !== 0xa5);
      return { ok: bad < 0, detail: bad < 0 ? `${formatBytes(size)} of 0xa5` : `byte ${bad} is not 0xa5` };
    });

    await run('copy', async () => {
      randomFillSync(a.bytes());
      await mover.copy(b, a);
      const same = Buffer.from(a.bytes()).equals(b.bytes());
      return { ok: same, detail: `${formatBytes(size)} host → host${same ? '' : ': contents differ'}` };
    });

    await run('compare', async () => {
      const equal = await mover.compare(a, b);
      const bb = b.bytes();
      bb[12345] = bb[12345]! ^ 0xff;
      const differ = await mover.compare(a, b);
      bb[12345] = bb[12345]! ^ 0xff;
      const ok = equal.equal && !differ.equal && differ.offset === 12345;
      return { ok, detail: `equal ranges: ${equal.equal ? 'equal' : 'differ'}; one flipped byte found at ${differ.equal ? 'none' : differ.offset} (expected 12345)` };
    });

    await run('crc32c', async () => {
      const vector = mover.wrap(new TextEncoder().encode('123456789'));
      const known = await mover.crc32c(vector);
      await vector.release();
      const got = await mover.crc32c(a);
      const want = crc32c(a.bytes());
      const ok = known === 0xe3069283 && got === want;
      return { ok, detail: `"123456789" → ${hex(known)} (expected 0xe3069283); ${formatBytes(size)} → ${hex(got)} (TS oracle ${hex(want)})` };
    });

    await run('write-immediate', async () => {
      const value = 0x0123_4567_89ab_cdefn;
      await mover.writeImmediate(b, value, { offset: 64 });
      const v = new DataView(b.bytes().buffer, b.bytes().byteOffset).getBigUint64(64, true);
      return { ok: v === value, detail: `8 bytes at offset 64 read back as 0x${v.toString(16).padStart(16, '0')}` };
    });

    await run('copy 64 MiB', async () => {
      const n = 64 * MiB;
      const big = allocHost(mover, n);
      const big2 = allocHost(mover, n);
      try {
        await mover.fill(big, 0x0102_0304_0506_0708n, { patternBytes: 8 });
        await mover.copy(big2, big); // warm-up: faults the destination's pages in
        await mover.fill(big2, 0);
        let best = Infinity;
        for (let k = 0; k < 3; k++) {
          const t0 = performance.now();
          await mover.copy(big2, big);
          best = Math.min(best, (performance.now() - t0) / 1000);
        }
        const eq = await mover.compare(big, big2);
        return { ok: eq.equal, detail: `host → host in ${formatSeconds(best)}: ${formatRate(n, best)} (best of 3)${eq.equal ? '' : `; differs at ${eq.offset}`}` };
      } finally {
        await big.release();
        await big2.release();
      }
    });

    // Host-only backends (sdxi) have no file steps: say so instead of failing them.
    const files = backend.capabilities().operations.some((o) => o.op === 'copy' && o.src === 'host' && o.dst === 'file');
    await run('file round trip', async () => {
      if (!files) return { ok: true, detail: `skipped: ${backend.name} runs no host → file copies` };
      const n = 8 * MiB;
      const path = join(dir, 'round-trip.bin');
      const file = await mover.openFile(path, { mode: 'rw', create: true, length: n, direct: 'auto' });
      const src = allocHost(mover, n);
      const back = allocHost(mover, n);
      try {
        randomFillSync(src.bytes());
        const t0 = performance.now();
        await mover.copy(file, src);
        await mover.copy(back, file);
        const secs = (performance.now() - t0) / 1000;
        const [c1, c2, c3] = await Promise.all([mover.crc32c(src), mover.crc32c(file), mover.crc32c(back)]);
        const ok = c1 === c2 && c2 === c3 && Buffer.from(src.bytes()).equals(back.bytes());
        const direct = file.space.alignment > 1 ? 'O_DIRECT available' : 'buffered (no O_DIRECT here)';
        return { ok, detail: `host → file → host, ${formatBytes(n)} each way in ${formatSeconds(secs)}, ${direct}; crc32c ${hex(c1)} / ${hex(c2)} / ${hex(c3)}` };
      } finally {
        await file.release();
        await src.release();
        await back.release();
      }
    });

    await run('batch 10,000 copies', async () => {
      const count = 10_000;
      const unit = 64;
      const s = allocHost(mover, count * unit);
      const d = allocHost(mover, count * unit);
      try {
        randomFillSync(s.bytes());
        const once = async () => {
          const t0 = performance.now();
          const batch = mover.batch();
          // Reverse order, so the result is only right if every descriptor hit its own offsets.
          for (let k = count - 1; k >= 0; k--) batch.copy(d, s, { srcOffset: k * unit, dstOffset: k * unit, length: unit });
          const t1 = performance.now();
          const result = await batch.submit();
          return { result, build: (t1 - t0) / 1000, run: (performance.now() - t1) / 1000 };
        };
        await once(); // warm-up: the first batch also pays for JIT compilation
        await mover.fill(d, 0);
        const { result, build, run: secs } = await once();
        const eq = await mover.compare(s, d);
        const ok = result.ok && result.counts.done === count && eq.equal;
        return {
          ok,
          detail: `${count} × ${unit} B: built in ${formatSeconds(build)}, ran in ${formatSeconds(secs)}: ${formatPerSecond(count, secs)} descriptors (second batch); done ${result.counts.done}, contents ${eq.equal ? 'match' : 'differ'}`,
        };
      } finally {
        await s.release();
        await d.release();
      }
    });

    await run('routing', async () => {
      const from = files ? 'file' : 'host';
      const e = mover.explain('copy', from, 'host');
      const st = mover.stats();
      return { ok: true, detail: `copy ${from} → host runs on ${e.backend}${e.fallbacks.length ? ` after ${e.fallbacks.length} fallback(s)` : ''}; ${st.batches} batches, registration ${st.registrationMs.toFixed(2)} ms` };
    });
  } finally {
    await mover.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return steps;
}
