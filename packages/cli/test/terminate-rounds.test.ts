/**
 * conformance's terminateRounds on soft: several rounds in one child process, one RSS figure per
 * round, a region from a factory module (how rdma's lab test makes its remote region), and a
 * factory that fails ending the child with code 2 and the error on stderr.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { terminateRounds, type TerminateSpec } from '@datamover/conformance/terminate';

const require = createRequire(import.meta.url);
const soft = [require.resolve('@datamover/backend-soft'), 'soft', { engine: 'native' }] as const;
const FACTORIES = fileURLToPath(new URL('./terminate-factory.mjs', import.meta.url));

describe('terminateRounds (soft)', () => {
  it('runs a round per delay in one process, with a factory-made region, and reports RSS after each', async () => {
    const spec: TerminateSpec = { backends: [soft], regions: ['host', { module: FACTORIES, factory: 'wrapped' }], size: 8 << 20 };
    const o = await terminateRounds(spec, [0, 3, 6, 9]);
    expect({ code: o.code, signal: o.signal, stderr: o.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(o.rss).toHaveLength(4);
    for (const n of o.rss) expect(n).toBeGreaterThan(8 << 20);
  }, 60_000);

  it('a factory that throws fails the round: code 2, the error on stderr, no RSS figure', async () => {
    const spec: TerminateSpec = { backends: [soft], regions: ['host', { module: FACTORIES, factory: 'fails', options: { why: 'on purpose' } }] };
    const o = await terminateRounds(spec, [0, 0]);
    expect(o.code).toBe(2);
    expect(o.signal).toBeNull();
    expect(o.stderr).toMatch(/no region: on purpose/);
    expect(o.rss).toEqual([]);
  }, 60_000);
});
