#!/usr/bin/env node
// The GPU checks without vitest, for a machine that has a GPU but no project toolchain (the device
// machine carries only a Node binary and the built packages): GPU smoke checks with content
// verification, then the conformance suite for every combination gds claims (gpu ↔ file,
// gpu ↔ host, gpu ↔ gpu, fills, write-immediates) with gpu regions from this package's kind.
// Writes gds-gpu-check.json and .md to --out (default: the current directory). Exit 1 when gds
// cannot run here (with probe()'s reason), 2 when a check or a conformance case failed.
//
//   node packages/backend-gds/bench/gpu-check.mjs [--out DIR] [--groups content,refusals,...] [--dir TMPDIR]
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { runSuite } from '@datamover/conformance/runner';
import { allocateDeviceBuffer, conformanceKinds, gds } from '../dist/index.js';

const { values: args } = parseArgs({ options: { out: { type: 'string', default: '.' }, groups: { type: 'string' }, dir: { type: 'string', default: tmpdir() } } });
const probe = await gds().probe();
if (!probe.available) {
  console.error(`gpu-check: the gds backend cannot run here: ${probe.reason}`);
  process.exit(1);
}
console.log(`gds: ${JSON.stringify(probe.details)}`);
const mode = probe.details.mode;
const MiB = 1024 * 1024;
const dir = mkdtempSync(join(args.dir, 'dm-gds-check-'));
const checks = [];
async function check(name, f) {
  const t0 = performance.now();
  try {
    const note = await f();
    checks.push({ name, ok: true, ms: Math.round(performance.now() - t0), ...(note ? { note } : {}) });
    console.log(`ok    ${name}${note ? ` — ${note}` : ''}`);
  } catch (e) {
    checks.push({ name, ok: false, ms: Math.round(performance.now() - t0), error: String(e?.stack ?? e) });
    console.log(`FAIL  ${name}: ${e?.message ?? e}`);
  }
}
const assert = (c, what) => {
  if (!c) throw new Error(what);
};
const same = (a, b, what) => assert(Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0, `${what}: contents differ`);

const backend = gds();
const mover = await Mover.open({ backends: [backend, soft()] });
const back = async (g, length = g.length) => {
  const h = mover.alloc(length);
  await mover.copy(h, g, { length });
  return h.bytes();
};
const lastPath = () => backend.transfers().at(-1);

await check('device allocation at 4 KiB, 64 KiB and 2 MiB alignment', () => {
  for (const alignment of [4096, 65536, 2 * MiB]) {
    const b = allocateDeviceBuffer(MiB, { alignment });
    assert(b.pointer % BigInt(alignment) === 0n, `pointer not ${alignment}-aligned`);
    b.free();
  }
});
for (const size of [4 * MiB, 64 * MiB, 256 * MiB]) {
  await check(`file → gpu → file, ${size / MiB} MiB, through cuFile`, async () => {
    const data = randomFillSync(Buffer.alloc(size));
    const src = join(dir, `in-${size}`);
    writeFileSync(src, data);
    const g = mover.alloc(size, { kind: 'gpu' });
    await mover.copy(g, await mover.openFile(src));
    const t = lastPath();
    assert(t.path === mode && t.reason === 'none', `file → gpu path ${t.path} (${t.reason}), expected ${mode}`);
    same(await back(g), data, 'file → gpu');
    const dst = join(dir, `out-${size}`);
    await mover.copy(await mover.openFile(dst, { mode: 'rw', create: true, truncate: true, length: size }), g);
    same(readFileSync(dst), data, 'gpu → file');
    await g.release();
    return `path ${t.path}, ${t.micros.toFixed(0)} µs`;
  });
}
await check('unaligned file ↔ gpu through the bounce path', async () => {
  const data = randomFillSync(Buffer.alloc(3 * MiB + 123));
  const src = join(dir, 'odd');
  writeFileSync(src, data);
  const g = mover.alloc(data.length, { kind: 'gpu' });
  await mover.copy(g, await mover.openFile(src), { srcOffset: 17, dstOffset: 1000, length: 2 * MiB });
  assert(lastPath().path === 'bounce', `path ${lastPath().path}`);
  same((await back(g)).subarray(1000, 1000 + 2 * MiB), data.subarray(17, 17 + 2 * MiB), 'unaligned');
});
await check('256 file → gpu copies through the cuFile batch API', async () => {
  const data = randomFillSync(Buffer.alloc(256 * 65536));
  const src = join(dir, 'batch');
  writeFileSync(src, data);
  const f = await mover.openFile(src);
  const g = mover.alloc(data.length, { kind: 'gpu' });
  const b = mover.batch();
  for (let i = 255; i >= 0; i--) b.copy(g, f, { srcOffset: i * 65536, dstOffset: i * 65536, length: 65536 });
  await b.submit();
  same(await back(g), data, 'batch');
  const s = mover.stats().backends.find((x) => x.name === 'gds').engine;
  assert(s.batches > 0, 'no cuFile batch was submitted');
  return `batches ${s.batches}, entries ${s.batchEntries}, retried ${s.batchRetries}`;
});
await check('host ↔ gpu, gpu ↔ gpu, fill, write-immediate', async () => {
  const data = randomFillSync(Buffer.alloc(MiB));
  const a = mover.alloc(MiB, { kind: 'gpu' });
  await mover.copy(a, mover.wrap(data));
  const b = mover.alloc(MiB, { kind: 'gpu' });
  await mover.copy(b, a);
  await mover.fill(b, 0x0807060504030201n, { patternBytes: 8, offset: 8, length: 16 });
  await mover.writeImmediate(b, 0xabn, { offset: 3, width: 1 });
  const got = await back(b, 64);
  assert(got[3] === 0xab && got[8] === 1 && got[15] === 8 && got[23] === 8 && got[30] === data[30], 'fill / write-immediate');
});
await check('wrapping a framework’s device pointer; a non-CUDA address is refused', async () => {
  const fw = allocateDeviceBuffer(2 * MiB);
  const bytes = randomFillSync(Buffer.alloc(4096));
  fw.write(bytes, 8192);
  const r = mover.wrap(fw.pointer + 8192n, { kind: 'gpu', size: 4096 });
  same(await back(r), bytes, 'wrapped');
  await r.release();
  let refused = false;
  try {
    mover.wrap(0x1000n, { kind: 'gpu', size: 4096 });
  } catch (e) {
    refused = e.code === 'DEVICE_ERROR';
  }
  assert(refused, 'a non-CUDA address was not refused with DEVICE_ERROR');
  fw.free();
});
const engineStats = mover.stats().backends.find((x) => x.name === 'gds').engine;
await mover.close();

// The conformance suite for everything gds claims.
const groups = args.groups?.split(',');
const report = await runSuite(
  { name: 'gds (GPU)', factory: () => gds(), worker: { module: new URL('../dist/index.js', import.meta.url).href, export: 'gds', args: [] }, kinds: conformanceKinds(), ...(groups ? { groups } : {}) },
  { onCase: (o, i, n) => console.log(`[${i + 1}/${n}] ${o.status.padEnd(7)} ${o.group} / ${o.name}${o.error ? `: ${o.error}` : o.reason ? ` (${o.reason})` : ''}`) },
);
rmSync(dir, { recursive: true, force: true });

const failed = checks.filter((c) => !c.ok).length + report.cases.filter((c) => c.status === 'failed').length;
const date = new Date().toISOString();
writeFileSync(join(args.out, 'gds-gpu-check.json'), `${JSON.stringify({ date, probe, checks, engineStats, conformance: report }, null, 2)}\n`);
const md = [
  `# gds on a GPU — ${date}`,
  '',
  `probe: ${JSON.stringify(probe.details)}`,
  '',
  '| check | result |',
  '| --- | --- |',
  ...checks.map((c) => `| ${c.name} | ${c.ok ? `ok${c.note ? ` (${c.note})` : ''}` : `FAILED: ${c.error.split('\n')[0]}`} |`),
  '',
  '| conformance group | passed | failed | skipped |',
  '| --- | --- | --- | --- |',
  ...Object.entries(report.groups).map(([g, s]) => `| ${g} | ${s.passed} | ${s.failed} | ${s.skipped} |`),
  '',
  ...report.cases.filter((c) => c.status === 'failed').map((c) => `- FAILED ${c.group} / ${c.name}: ${c.error}`),
];
writeFileSync(join(args.out, 'gds-gpu-check.md'), `${md.join('\n')}\n`);
console.log(`\n${md.join('\n')}`);
process.exit(failed > 0 ? 2 : 0);
