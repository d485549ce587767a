/**
 * The suite tested against itself: a transparent decorator passes, and every simulated engine
 * bug (lost descriptors reported done, overruns, fences ignored, cancelled work run anyway) makes
 * the case meant to catch it fail. A suite whose cases cannot fail would assert nothing.
 */
import { soft } from '@datamover/backend-soft';
import { describe, expect, it } from 'vitest';
import { faultInjecting, type SimulatedBug } from '@datamover/conformance/faults';
import { machine, markdown, runSuite, textTable, type CaseDef, type TargetReport } from '@datamover/conformance/runner';

const only = (re: RegExp) => (c: CaseDef) => re.test(`${c.group} › ${c.name}`);
const failed = (r: TargetReport) => r.cases.filter((c) => c.status === 'failed').map((c) => `${c.group} › ${c.name}`);

const CASES = /^(content › copy host→host: (7 B|4097 B)|ordering › copy host→host: fenced|cancellation › copy host→host: aborts|load › )/;

describe('the conformance suite catches broken backends', () => {
  it('passes the soft backend behind a transparent fault decorator (rate 0)', async () => {
    const r = await runSuite({ name: 'soft behind a rate-0 decorator', factory: () => faultInjecting(soft({ engine: 'auto' }), { rate: 0 }) }, { filter: only(CASES) });
    expect(failed(r)).toEqual([]);
    expect(r.cases.filter((c) => c.status === 'passed').length).toBe(5);
  }, 120_000);

  it.each<[SimulatedBug, number, RegExp, number?]>([
    ['report-unrun-as-done', 1, /^content › copy host→host: (7 B|4097 B)$/],
    ['report-unrun-as-done', 0.001, /^load › /],
    ['overrun', 1, /^content › copy host→host: 4097 B$/],
    ['cross-fences', 1, /^ordering › copy host→host: fenced/],
    // A narrow window leaves published descriptors unclaimed, so aborts can cancel them.
    ['run-cancelled', 1, /^cancellation › copy host→host: aborts/, 16],
  ])('fails a backend with the simulated bug %s (rate %s)', async (bug, bugRate, re, window?: number) => {
    const options = { rate: 0, bugs: [bug], bugRate, ...(window ? { window } : {}) };
    const r = await runSuite({ name: `soft with ${bug}`, factory: () => faultInjecting(soft({ engine: 'auto' }), options) }, { filter: only(re) });
    expect(r.cases.length).toBeGreaterThan(0);
    expect(failed(r)).toEqual(r.cases.map((c) => `${c.group} › ${c.name}`));
  }, 120_000);

  it('reports a backend whose probe says no as skipped, with the reason', async () => {
    const inner = soft();
    const down = { ...inner, name: 'down', probe: async () => ({ available: false, reason: 'no device here' }), capabilities: () => inner.capabilities(), open: inner.open.bind(inner) };
    const r = await runSuite({ factory: () => down }, { filter: only(/^content › copy host→host: 1 B$/) });
    expect(r.skipped).toBe('backend unavailable: no device here');
    expect(r.cases.map((c) => [c.status, c.reason])).toEqual([['skipped', 'backend unavailable: no device here']]);
  });

  it('skips claimed kinds it has no region factory for, and says why', async () => {
    const inner = soft();
    const withDax = { ...inner, name: 'dax-claiming', probe: () => inner.probe(), open: inner.open.bind(inner), capabilities: () => ({ ...inner.capabilities(), operations: [...inner.capabilities().operations, { op: 'copy' as const, src: 'host' as const, dst: 'dax' as const }] }) };
    const r = await runSuite({ factory: () => withDax }, { filter: only(/host→dax/) });
    expect(r.cases.length).toBeGreaterThan(5);
    for (const c of r.cases) expect([c.status, c.reason]).toEqual(['skipped', "no region factory for kind 'dax' (pass kinds.dax to the suite)"]);
    const report = { suite: '@datamover/conformance' as const, version: '0', generatedAt: '', machine: machine(), command: 'test', durationMs: 0, targets: [r] };
    expect(textTable(report)).toMatch(/no region factory for kind 'dax'/);
    expect(markdown(report)).toMatch(/\| dax-claiming \| .* skipped/);
  });
});
