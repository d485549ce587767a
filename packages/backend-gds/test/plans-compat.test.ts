/**
 * Plans over gds on the CPU mock of cuFile/CUDA: a file → gpu hop is one gds copy either way, but
 * without GDS it passes through host memory (cuFile in compat mode, or the engine's bounce path for
 * a file without O_DIRECT or an unaligned range), and the plan counts that host copy and says why.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mover } from '@datamover/core';
import type { GdsEngineSession } from '../src/session.js';
import { soft } from '@datamover/backend-soft';
import { describe, expect, it } from 'vitest';
import { buildMock, fakeNvidiaFs, mockGds, pattern, tempDir } from './helpers.js';

/** The path the engine took for its last file→gpu transfer: what the plan foresaw, seen. */
const lastFileGpuPath = (m: Mover) => (m.engine('gds') as GdsEngineSession).transfers().filter((t) => t.src === 'file' && t.dst === 'gpu').at(-1)?.path;

const mock = buildMock();
if ('skip' in mock) console.log(`[gds] plan tests on the CPU mock skipped: ${mock.skip}`);

describe.skipIf('skip' in mock)('plans through gds without GDS (CPU mock of cuFile/CUDA)', () => {
  const lib = 'path' in mock ? mock.path : '';
  const nvfs = 'path' in mock ? fakeNvidiaFs() : '';
  const dir = 'path' in mock ? tempDir() : '';
  const SIZE = 64 << 10;

  const run = async (direct: boolean, opts: { direct?: 'never' } = {}) => {
    const m = await Mover.open({ backends: [mockGds(lib, direct ? nvfs : undefined), soft()] });
    try {
      const data = pattern(SIZE, 0x2d);
      const path = join(dir, `src-${direct}-${opts.direct ?? 'auto'}.bin`);
      writeFileSync(path, data);
      const src = await m.openFile(path, opts);
      const g = m.alloc(SIZE, { kind: 'gpu' });
      const plan = m.plan(g, src);
      const r = await m.transfer(g, src);
      const took = lastFileGpuPath(m);
      const back = m.alloc(SIZE);
      await m.copy(back, g);
      expect(back.bytes()).toEqual(data);
      expect(r.bytesMoved).toBe(SIZE);
      return { plan, stats: m.stats().plans, took };
    } finally {
      await m.close();
    }
  };

  it('cuFile in compat mode: one gds hop, counted as a host copy, and explain() says why', async () => {
    const { plan, stats, took } = await run(false);
    expect(took).toBe('compat');
    expect(plan.hops.map((h) => `${h.backend} ${h.src.kind}→${h.dst.kind}`)).toEqual(['gds file→gpu']);
    expect([plan.hostCopies, plan.stagedBytes]).toEqual([1, SIZE]);
    expect(plan.hops[0]).toMatchObject({ stagesThroughHost: true, hostBounce: 'gds: cuFile in compat mode, bounces through host' });
    const text = plan.explain();
    expect(text).toContain('1 host copy(ies)');
    expect(text).toContain('hop 1: gds: file');
    expect(text).toContain('bounces through host (gds: cuFile in compat mode, bounces through host)');
    expect(text).toMatch(/chosen: fewest hops: gds copies file→gpu in one hop, through host memory itself/);
    expect(text).toContain('file→host→gpu (staged): 2 hops and a host copy where 1 hop with its own host copy does');
    expect(stats).toMatchObject({ run: 1, hops: 1, hostCopies: 1, stagedBytes: SIZE });
  });

  it('GDS (nvidia-fs) but a file without O_DIRECT: the bounce path, a host copy', async () => {
    const { plan, stats, took } = await run(true, { direct: 'never' });
    expect(took).toBe('bounce');
    expect([plan.hostCopies, plan.stagedBytes]).toEqual([1, SIZE]);
    expect(plan.explain()).toContain("bounces through host (gds: the file region has no O_DIRECT descriptor (opened with direct: 'never', or the filesystem refuses O_DIRECT), bounces through host staging)");
    expect(plan.explain()).toContain('chosen: direct: gds copies file→gpu itself');
    expect(stats).toMatchObject({ hostCopies: 1, stagedBytes: SIZE });
  });

  it('GDS and an O_DIRECT file but an unaligned file offset: the bounce path, a host copy', async () => {
    const m = await Mover.open({ backends: [mockGds(lib, nvfs), soft()] });
    try {
      const data = pattern(SIZE, 0x4b);
      const path = join(dir, 'unaligned.bin');
      writeFileSync(path, data);
      const src = await m.openFile(path);
      const g = m.alloc(SIZE, { kind: 'gpu' });
      const options = { srcOffset: 512, length: SIZE - 4096 };
      const plan = m.plan(g, src, options);
      expect([plan.hostCopies, plan.stagedBytes]).toEqual([1, SIZE - 4096]);
      expect(plan.explain()).toContain('bounces through host (gds: the file offset is not a multiple of 4096, bounces through host staging)');
      await m.transfer(g, src, options);
      expect(lastFileGpuPath(m)).toBe('bounce');
      const back = m.alloc(SIZE - 4096);
      await m.copy(back, g, { length: SIZE - 4096 });
      expect(back.bytes()).toEqual(data.subarray(512, 512 + SIZE - 4096));
      expect(m.plan(g, src, { length: SIZE }).hostCopies).toBe(0); // aligned: direct
    } finally {
      await m.close();
    }
  });

  it('GDS and an O_DIRECT file: direct, no host copy', async () => {
    const { plan, stats, took } = await run(true);
    expect(took).toBe('direct');
    expect([plan.hostCopies, plan.stagedBytes]).toEqual([0, 0]);
    expect(plan.hops[0]).toEqual(expect.not.objectContaining({ hostBounce: expect.anything() }));
    expect(plan.explain()).not.toContain('bounces');
    expect(stats).toMatchObject({ hostCopies: 0, stagedBytes: 0 });
  });
});
