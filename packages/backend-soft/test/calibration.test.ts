/**
 * Where the inline cost model comes from (docs/performance.md): measured once per process per
 * backend, bounded by a deadline with a conservative fallback, or given by option or environment.
 * Asserted on what ran (the engine's own counters, the doorbells rung), not on timings.
 */
import { CALIBRATION_DEADLINE_MS, CONSERVATIVE_COSTS, DatamoverError, Mover, type Backend, type EngineSession } from '@datamover/core';
import { afterEach, describe, expect, it } from 'vitest';
import { soft } from '../src/index.js';
import { openSoft, pattern } from './helpers.js';

/** What one doorbell costs the slow engine below: longer than the whole calibration deadline. */
const SLOW_DOORBELL_MS = 1.5 * CALIBRATION_DEADLINE_MS;

/**
 * A test double for slowness only: the real native soft engine, whose every doorbell first
 * busy-waits SLOW_DOORBELL_MS (an engine on an overloaded machine), counting doorbells.
 */
function slowDoorbellSoft(): { backend: Backend; doorbells: () => number } {
  const inner = soft({ engine: 'native' });
  let doorbells = 0;
  const backend: Backend = {
    name: 'soft-slow-doorbell',
    version: inner.version,
    kind: inner.kind,
    probe: () => inner.probe(),
    capabilities: () => inner.capabilities(),
    open: async (ring, onProgress) => {
      const session = await inner.open(ring, onProgress);
      const doorbell = () => {
        doorbells++;
        const until = performance.now() + SLOW_DOORBELL_MS;
        while (performance.now() < until);
        session.doorbell();
      };
      return new Proxy(session, {
        get: (target, key) => {
          if (key === 'doorbell') return doorbell;
          const v = Reflect.get(target, key) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as EngineSession;
    },
  };
  return { backend, doorbells: () => doorbells };
}

afterEach(() => {
  delete process.env.DATAMOVER_INLINE_MODEL;
});

describe('inline cost model', () => {
  it('is measured once per process: a second open of the backend reuses it and runs no calibration NOPs', async () => {
    const first = await openSoft('native');
    const second = await openSoft('native');
    try {
      const a = first.stats().backends[0]!;
      const b = second.stats().backends[0]!;
      expect(b.inlineModel).toMatchObject({ cached: true, calibrationMs: 0, source: a.inlineModel!.source, handoffNs: a.inlineModel!.handoffNs });
      // Calibration would have run NOPs on the engine's thread and inline: this engine ran none.
      expect([Number(b.engine.executed), Number(b.engine.inlined)]).toEqual([0, 0]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('stops at its deadline under a slow engine and uses the conservative model, saying so', async () => {
    const slow = slowDoorbellSoft();
    const t0 = performance.now();
    const m = await Mover.open({ backends: [slow.backend] });
    const openMs = performance.now() - t0;
    try {
      const model = m.stats().backends[0]!.inlineModel!;
      expect(model).toMatchObject({ ...CONSERVATIVE_COSTS, source: 'conservative', cached: false });
      // A full measurement rings 16 doorbells (about 16 × SLOW_DOORBELL_MS); the deadline stops it after one or two.
      expect(slow.doorbells()).toBeLessThanOrEqual(2);
      expect(openMs).toBeLessThan(16 * SLOW_DOORBELL_MS);
      const src = m.wrap(pattern(4096, 5));
      // The NOP the measurement left with the engine is retired as it finishes: an offloaded batch completes after it.
      const first = new Uint8Array(4096);
      await m.batch().copy(m.wrap(first), src).submit({ inline: 'never' });
      expect(first).toEqual(pattern(4096, 5));
      const dstBytes = new Uint8Array(4096);
      const batch = m.batch().copy(m.wrap(dstBytes), src);
      expect(batch.explain()[0]).toMatchObject({ path: 'inline', modelSource: 'conservative', thresholdNs: CONSERVATIVE_COSTS.handoffNs });
      await batch.submit();
      expect(dstBytes).toEqual(pattern(4096, 5));
      expect(m.stats().backends[0]!.inlineBatches).toBe(1);
    } finally {
      await m.close();
    }
    const before = slow.doorbells();
    const second = await Mover.open({ backends: [slow.backend] });
    try {
      expect(second.stats().backends[0]!.inlineModel).toMatchObject({ source: 'conservative', cached: true });
      expect(slow.doorbells()).toBe(before);
    } finally {
      await second.close();
    }
  });

  it('is taken from the inlineModel option or DATAMOVER_INLINE_MODEL instead of measured', async () => {
    const given = { handoffNs: 1234, perDescriptorNs: 100, perByteNs: 0.05 };
    const m = await openSoft('native', { inlineModel: given });
    try {
      const s = m.stats().backends[0]!;
      expect(s.inlineModel).toEqual({ ...given, source: 'option', cached: false, calibrationMs: 0 });
      expect(Number(s.engine.executed)).toBe(0);
      expect(m.batch().nop().explain()[0]).toMatchObject({ modelSource: 'option', thresholdNs: 1234 });
    } finally {
      await m.close();
    }
    process.env.DATAMOVER_INLINE_MODEL = 'handoffNs=900, perDescriptorNs=80,perByteNs=0.02';
    const e = await openSoft('native');
    try {
      expect(e.stats().backends[0]!.inlineModel).toMatchObject({ handoffNs: 900, perDescriptorNs: 80, perByteNs: 0.02, source: 'environment' });
    } finally {
      await e.close();
    }
    // The option wins over the environment.
    const o = await openSoft('native', { inlineModel: given });
    await o.close();
    expect(o.stats().backends[0]!.inlineModel!.source).toBe('option');
  });

  it('refuses a malformed model with INVALID_ARGUMENT', async () => {
    const bad = [{ handoffNs: 1, perDescriptorNs: 1 }, { handoffNs: 1, perDescriptorNs: 1, perByteNs: -1 }, { handoffNs: 1, perDescriptorNs: 1, perByteNs: 1, extra: 1 }, 'fast'];
    for (const inlineModel of bad) {
      await expect(openSoft('native', { inlineModel: inlineModel as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    for (const env of ['handoffNs=1,perDescriptorNs=1', 'handoffNs=1,perDescriptorNs=1,perByteNs=x', 'handoffNs=1=2,perDescriptorNs=1,perByteNs=1']) {
      process.env.DATAMOVER_INLINE_MODEL = env;
      const err = await openSoft('native').then(
        (m) => m.close(),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DatamoverError);
      expect((err as DatamoverError).code).toBe('INVALID_ARGUMENT');
    }
  });
});
