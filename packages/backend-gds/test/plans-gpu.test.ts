/**
 * Transfer plans reaching GPU memory (docs/plans.md), on a machine with a GPU, libcufile and the
 * CUDA driver; everywhere else skipped with the probe's reason. file → gpu is one gds hop (cuFile:
 * direct with nvidia-fs, compat without — then counted as one host copy); with `integrity: 'crc32c'` the landed bytes are read back
 * to host (gds has no crc32c on gpu memory). file → host → gpu is planned, staged through the
 * Mover's pool, where the GPU backend set reaches gpu memory only from host memory: here a gds
 * whose file↔gpu copies are left out of its capabilities (what a backend set without cuFile's file
 * path offers), so soft reads the file and gds copies host → gpu.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mover, type Backend, type Region } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { afterEach, describe, expect, it } from 'vitest';
import { gds } from '../src/index.js';
import { pattern, tempDir } from './helpers.js';

const probe = await gds().probe();
if (!probe.available) console.log(`[gds] GPU plan tests skipped: ${probe.reason}`);

const SIZE = (8 << 20) + 4099;

/** gds without its file↔gpu copies: gpu memory is then reached from host memory only. */
function gdsHostOnly(): Backend {
  const inner = gds();
  const caps = inner.capabilities();
  return { ...inner, capabilities: () => ({ ...caps, operations: caps.operations.filter((o) => o.src !== 'file' && o.dst !== 'file') }), open: (ring, onProgress) => inner.open(ring, onProgress) };
}

describe.skipIf(!probe.available)('transfer plans to and from GPU memory', () => {
  const dir = probe.available ? tempDir() : '';
  const movers: Mover[] = [];
  afterEach(async () => {
    for (const m of movers.splice(0)) await m.close();
  });
  const open = async (backends: Backend[]) => {
    const m = await Mover.open({ backends, staging: { bytes: 1 << 20, count: 3 } });
    movers.push(m);
    return m;
  };
  const readBack = async (m: Mover, g: Region) => {
    const h = m.alloc(g.length);
    await m.copy(h, g);
    return h.bytes();
  };
  const fileOf = (name: string, data: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };

  it('file → gpu is one gds hop; integrity reads the landed bytes back', async () => {
    const m = await open([gds(), soft()]);
    const data = pattern(SIZE, 0x3c);
    const src = await m.openFile(fileOf('direct.bin', data));
    const g = m.alloc(SIZE, { kind: 'gpu' });
    const plan = m.plan(g, src, { integrity: 'crc32c' });
    expect(plan.hops.map((h) => `${h.backend} ${h.src.kind}→${h.dst.kind}`)).toEqual(['gds file→gpu']);
    // Without GDS cuFile bounces through host memory itself: one host copy, said in explain().
    const compat = probe.details?.['mode'] === 'compat';
    expect(plan.hostCopies).toBe(compat ? 1 : 0);
    if (compat) expect(plan.explain()).toContain('gds: cuFile in compat mode, bounces through host');
    expect(plan.integrity).toBe('read-back');
    await expect(m.transfer(g, src, { integrity: 'crc32c' })).resolves.toMatchObject({ ok: true });
    expect(await readBack(m, g)).toEqual(data);
  });

  it('file → host → gpu is staged through the pool where gds reaches gpu memory only from host', async () => {
    const m = await open([gdsHostOnly(), soft()]);
    const data = pattern(SIZE, 0x5d);
    const src = await m.openFile(fileOf('staged.bin', data));
    const g = m.alloc(SIZE, { kind: 'gpu' });
    const plan = m.plan(g, src);
    expect(plan.hops.map((h) => `${h.backend} ${h.src.kind}→${h.dst.kind}`)).toEqual(['soft file→host', 'gds host→gpu']);
    expect(plan.hostCopies).toBe(1);
    const r = await m.transfer(g, src);
    expect(r.chunks).toBe(Math.ceil(SIZE / (1 << 20)));
    expect(await readBack(m, g)).toEqual(data);
  });
});
