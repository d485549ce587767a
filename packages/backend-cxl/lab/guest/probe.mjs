// Guest side of the cxl lab test (`--dax --dax-file F --numa --cxl`): discovery against the real
// sysfs, `datamover info`, a durable write to /dev/dax0.0, and a demote to the CPU-less node.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Mover } from '@datamover/core';
import { allocOnNode, cxl, daxFacts, demote, discover, openDax, pageNodes, promote, summarize } from '../../dist/index.js';
import { emit, payload, vmas } from './common.mjs';

const out = {};
const d = discover();
out.discovery = { dax: d.dax, memdevs: d.cxl.memdevs, regions: d.cxl.regions, decoders: d.cxl.decoders, nodes: d.nodes, notes: d.notes, summary: summarize(d) };
// What `datamover info` prints (the installed command, found by package name from the workspace
// root, which depends on @datamover/cli), and the cxl probe it prints from.
function datamoverBin() {
  const pkg = createRequire(new URL('../../../../package.json', import.meta.url)).resolve('@datamover/cli/package.json');
  return join(dirname(pkg), createRequire(import.meta.url)(pkg).bin.datamover);
}
try {
  const info = spawnSync(process.execPath, [datamoverBin(), 'info'], { encoding: 'utf8', timeout: 60_000 });
  if (info.status === 0) out.info = info.stdout;
  else out.infoError = `datamover info exited ${info.status}: ${info.stderr}`;
} catch (e) {
  out.infoError = String(e);
}
out.probe = await cxl().probe();

const m = await Mover.open({ backends: [cxl()] });
const offset = Number(process.env.DAX_OFFSET);
const length = Number(process.env.DAX_LENGTH);
const data = payload(process.env.MARKER, length);
const dax = await openDax(m, process.env.LAB_DAX, { offset, length });
const host = m.alloc(length);
host.bytes().set(data);
const t0 = performance.now();
await m.copy(dax, host, { durable: true });
out.durable = { ms: performance.now() - t0, crc: await m.crc32c(dax), facts: daxFacts(dax), space: dax.space, engine: m.stats().backends[0].engine };

const PAGES = 777;
const r = allocOnNode(m, PAGES * 4096, 0);
r.bytes().fill(9);
out.numa = { before: pageNodes(r), mapsBefore: vmas('bind:0', PAGES) };
out.numa.demote = demote(r);
out.numa.after = pageNodes(r);
out.numa.mapsAfter = vmas('bind:0', PAGES);
out.numa.intact = r.bytes().every((b) => b === 9);
// The engine copies from the demoted pages like from any host memory (into dax past the durable bytes).
const scratch = await openDax(m, process.env.LAB_DAX, { offset: offset + length + 4096, length: 4096 });
await m.copy(scratch, r, { length: 4096 });
out.numa.copied = await m.compare(scratch, r, { length: 4096 });
out.numa.promote = promote(r);
out.numa.final = pageNodes(r);
await m.close();
emit(out);
