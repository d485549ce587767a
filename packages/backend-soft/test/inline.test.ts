/**
 * The execution-path policy on the native engine (docs/performance.md): which batches run inline
 * on the JS thread, that they run through the engine's executor (its own counter moves), that
 * the bound sends large work to the engine whatever the mode, and how options are checked.
 * Asserted on the path taken (stats, explain), never on time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatamoverError, INLINE_BOUND_NS } from '@datamover/core';
import { describe, expect, it } from 'vitest';
import { openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();

describe('inline execution', () => {
  it("'always' runs a small batch on the JS thread through the engine's executor, with its results", async () => {
    const m = await openSoft('native', { inline: 'always' });
    try {
      const src = m.wrap(pattern(4096, 3));
      const dstBytes = new Uint8Array(4096);
      const dst = m.wrap(dstBytes);
      const batch = m.batch().copy(dst, src).crc32c(src).nop();
      const [path] = batch.explain();
      expect(path).toMatchObject({ backend: 'soft', path: 'inline', mode: 'always', descriptors: 3, bytes: 8192 });
      const before = m.stats().backends[0]!;
      const result = await batch.submit();
      const after = m.stats().backends[0]!;
      expect(dstBytes).toEqual(pattern(4096, 3));
      expect(result.value(1)).toBe((await m.batch().crc32c(src).submit({ inline: 'never' })).value(0));
      expect(after.inlineBatches - before.inlineBatches).toBe(1);
      expect(Number(after.engine.inlined) - Number(before.engine.inlined)).toBe(3);
    } finally {
      await m.close();
    }
  });

  it("'never' (option or per submit) hands every batch to the engine's thread", async () => {
    const m = await openSoft('native', { inline: 'never' });
    try {
      const a = m.wrap(new Uint8Array(64));
      expect(m.batch().fill(a, 1).explain()[0]).toMatchObject({ path: 'engine', reason: "inline: 'never'" });
      const calibration = Number(m.stats().backends[0]!.engine.inlined); // the NOPs the model was measured on
      await m.batch().fill(a, 1).submit();
      // A submit's own mode wins over the Mover's.
      await m.batch().fill(a, 2).submit({ inline: 'always' });
      const s = m.stats().backends[0]!;
      expect([s.inlineBatches, s.offloadedBatches, Number(s.engine.inlined) - calibration]).toEqual([1, 1, 1]);
    } finally {
      await m.close();
    }
  });

  it('work above the bound goes to the engine even when inline is forced', async () => {
    const m = await openSoft('native', { inline: 'always' });
    try {
      const model = m.stats().backends[0]!.inlineModel!;
      // A copy the model estimates past the bound, at this machine's measured copy speed.
      const size = Math.ceil((2 * INLINE_BOUND_NS) / model.perByteNs);
      const src = m.alloc(size);
      const dst = m.alloc(size);
      const batch = m.batch().copy(dst, src);
      const calibration = Number(m.stats().backends[0]!.engine.inlined);
      const [path] = batch.explain();
      expect(path!.path).toBe('engine');
      expect(path!.estimateNs).toBeGreaterThan(INLINE_BOUND_NS);
      expect(path!.thresholdNs).toBe(INLINE_BOUND_NS);
      await batch.submit();
      const s = m.stats().backends[0]!;
      expect([s.inlineBatches, s.offloadedBatches, Number(s.engine.inlined) - calibration]).toEqual([0, 1, 0]);
    } finally {
      await m.close();
    }
  });

  it('file regions never run inline', async () => {
    const m = await openSoft('native', { inline: 'always' });
    try {
      const file = join(dir, 'x.bin');
      writeFileSync(file, new Uint8Array(4096));
      const f = await m.openFile(file, { mode: 'rw' });
      const [path] = m.batch().fill(f, 7).explain();
      expect(path).toMatchObject({ path: 'engine' });
      expect(path!.reason).toMatch(/not host memory/);
    } finally {
      await m.close();
    }
  });

  it("'auto' inlines only work estimated below the measured hand-off", async () => {
    const m = await openSoft('native', { inline: 'auto' });
    try {
      const { handoffNs, perByteNs } = m.stats().backends[0]!.inlineModel!;
      expect(handoffNs).toBeGreaterThan(0);
      const threshold = Math.min(handoffNs, INLINE_BOUND_NS);
      const big = m.alloc(Math.ceil((2 * threshold) / perByteNs));
      const small = m.wrap(new Uint8Array(8));
      expect(m.batch().fill(big, 1).explain()[0]).toMatchObject({ path: 'engine', thresholdNs: threshold });
      expect(m.batch().writeImmediate(small, 1).explain()[0]).toMatchObject({ path: 'inline', thresholdNs: threshold });
    } finally {
      await m.close();
    }
  });

  it('checks the mode: option, per submit and DATAMOVER_INLINE', async () => {
    await expect(openSoft('native', { inline: 'sometimes' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const m = await openSoft('native');
    try {
      const a = m.wrap(new Uint8Array(8));
      await expect(m.batch().nop().submit({ inline: 'yes' as never })).rejects.toBeInstanceOf(DatamoverError);
      expect(() => m.batch().nop().explain({ inline: 1 as never })).toThrow(/'auto', 'always' or 'never'/);
      expect(m.batch().writeImmediate(a, 1).explain()[0]!.mode).toBe(process.env.DATAMOVER_INLINE || 'auto');
    } finally {
      await m.close();
    }
    const saved = process.env.DATAMOVER_INLINE;
    process.env.DATAMOVER_INLINE = 'never';
    try {
      const n = await openSoft('native');
      expect(n.batch().nop().explain()[0]!.mode).toBe('never');
      await n.close();
      process.env.DATAMOVER_INLINE = 'bogus';
      await expect(openSoft('native')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      if (saved === undefined) delete process.env.DATAMOVER_INLINE;
      else process.env.DATAMOVER_INLINE = saved;
    }
  });

  it('the TS oracle engine has no inline path', async () => {
    const m = await openSoft('ts', { inline: 'always' });
    try {
      expect(m.batch().nop().explain()[0]).toMatchObject({ path: 'engine', reason: 'the engine has no inline path' });
      expect(m.stats().backends[0]!.inlineModel).toBeUndefined();
    } finally {
      await m.close();
    }
  });
});
