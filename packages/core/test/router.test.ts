/** Routing: which opened backend runs what under each policy, the fallbacks taken and why; two real oracle engines with different claims. */
import { afterEach, describe, expect, it } from 'vitest';
import { DatamoverError, ErrorCode, Mover, type OperationSupport } from '../src/index.js';
import { codeOf } from './fixtures/code-of.js';
import { oracleBackend } from './fixtures/oracle-backend.js';

/** A "hardware" backend that claims only host→host copies (what a DMA engine might offer). */
const COPY_ONLY: OperationSupport[] = [{ op: 'copy', src: 'host', dst: 'host' }];
const hw = () => oracleBackend({ name: 'hw', kind: 'hardware', operations: COPY_ONLY });
const sw = () => oracleBackend({ name: 'sw' });

let m: Mover | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

describe('router', () => {
  it('prefer-hardware: hardware first whatever the list order, software where hardware cannot', async () => {
    m = await Mover.open({ backends: [sw(), hw()] });
    expect(m.backends).toEqual(['hw', 'sw']);
    expect(m.explain('copy', 'host', 'host')).toEqual({ backend: 'hw', fallbacks: [] });
    expect(m.explain('fill', null, 'host')).toEqual({ backend: 'sw', fallbacks: [{ from: 'hw', reason: 'hw does not support fill host' }] });
    expect(m.explain('copy', 'file', 'host')).toMatchObject({ backend: 'sw', fallbacks: [{ from: 'hw', reason: 'hw does not support copy file→host' }] });
  });

  it('runs each descriptor where it was routed and counts the fallbacks taken', async () => {
    m = await Mover.open({ backends: [hw(), sw()] });
    const a = m.wrap(new Uint8Array(32).fill(4));
    const b = m.wrap(new Uint8Array(32));
    await m.batch().copy(b, a).fill(a, 1).fill(a, 2).submit();
    expect(b.bytes()).toEqual(new Uint8Array(32).fill(4));
    expect(a.bytes()).toEqual(new Uint8Array(32).fill(2));
    await m.batch().fill(a, 5).submit();
    await m.copy(b, a); // runs on hw: no fallback counted
    // A fallback counts the batches that took it.
    const s = m.stats();
    expect(s.fallbacks).toEqual([{ op: 'fill', src: null, dst: 'host', from: 'hw', to: 'sw', reason: 'hw does not support fill host', count: 2 }]);
    expect(s.backends.map((x) => [x.name, x.submitted, x.done])).toEqual([
      ['hw', 2, 2],
      ['sw', 3, 3],
    ]);
    expect(m.batch().copy(b, a).explain().map((p) => p.backend)).toEqual(['hw']);
    expect(m.batch().copy(b, a).fill(a, 1).explain().map((p) => p.backend).sort()).toEqual(['hw', 'sw']);
  });

  it('software-only opens no hardware backend', async () => {
    m = await Mover.open({ backends: [hw(), sw()], policy: 'software-only' });
    expect(m.backends).toEqual(['sw']);
    expect(m.explain('copy', 'host', 'host').backend).toBe('sw');
  });

  it('explicit: the first opened backend, or the one named, with no fallback', async () => {
    m = await Mover.open({ backends: [hw(), sw()], policy: 'explicit' });
    expect(m.explain('copy', 'host', 'host').backend).toBe('hw');
    expect(() => m!.explain('fill', null, 'host')).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION, message: 'backend hw cannot run fill host' }));
    expect(m.explain('fill', null, 'host', 'sw').backend).toBe('sw');
    const r = m.wrap(new Uint8Array(8));
    await m.fill(r, 3, { backend: 'sw' });
    expect(r.bytes()[7]).toBe(3);
    await expect(m.fill(r, 3)).rejects.toMatchObject({ code: ErrorCode.UNSUPPORTED_OPERATION });
    expect(m.stats().fallbacks).toEqual([]);
  });

  it('a descriptor naming a backend that is not open says why it is not', async () => {
    const down = oracleBackend({ name: 'down', kind: 'hardware', probe: { available: false, reason: 'no device' } });
    m = await Mover.open({ backends: [down, sw()] });
    const r = m.wrap(new Uint8Array(8));
    expect(codeOf(() => m!.batch().fill(r, 1, { backend: 'down' }))).toBe(ErrorCode.BACKEND_UNAVAILABLE);
    expect(() => m!.explain('fill', null, 'host', 'down')).toThrow('backend down is not open: no device');
  });

  it('no open backend can run it: UNSUPPORTED_OPERATION naming the open ones', async () => {
    m = await Mover.open({ backends: [hw()] });
    expect(() => m!.explain('crc32c', 'host', null)).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION, message: 'no open backend can run crc32c host (open: hw)' }));
    const r = m.wrap(new Uint8Array(8));
    await expect(m.crc32c(r)).rejects.toBeInstanceOf(DatamoverError);
  });
});
