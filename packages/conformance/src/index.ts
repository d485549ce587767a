/**
 * @packageDocumentation
 * The Datamover backend conformance suite. A backend's own vitest file calls
 *
 * ```ts
 * import { runConformance } from '@datamover/conformance';
 * runConformance({ factory: () => myBackend() });
 * ```
 *
 * and the suite reads the backend's declared capabilities and tests every claimed
 * (operation × source kind × destination kind), reporting what it skipped and why. The same
 * cases run without vitest through `@datamover/conformance/runner` (used by `pnpm conformance`),
 * and `@datamover/conformance/faults` is the fault-injecting decorator (a test tool).
 */
import { beforeAll, describe, it } from 'vitest';
import type { ProbeResult } from '@datamover/core';
import { buildCases } from './cases/index.js';
import { ConformanceFailure } from './check.js';
import { resolveTarget, runCase } from './context.js';
import { GROUPS, type ConformanceTarget } from './types.js';

export { CaseSkipped, ConformanceFailure } from './check.js';
export { crc32c, noise, Rng } from './data.js';
export { DEFAULT_FAULT_KINDS, FAULT_KINDS, faultInjecting, InjectedFault } from './faults.js';
export type { FaultController, FaultInjectingBackend, FaultKind, FaultOptions, FaultRecord } from './faults.js';
export { fileProvider, hostProvider } from './fixtures.js';
export { runSuite, summarise, SUITE_VERSION } from './runner.js';
export type { GroupSummary, RunOptions, TargetReport } from './runner.js';
export * from './types.js';

/**
 * Registers the whole suite as vitest `describe` / `it` blocks: one `describe` per target and
 * group, one `it` per case. Cases that cannot run here are skipped with the reason in their name
 * (known before running) or as the skip note (found while running).
 */
export function runConformance(target: ConformanceTarget): void {
  const rt = resolveTarget(target);
  const cases = buildCases(rt);
  describe(`conformance: ${rt.name}`, () => {
    let probe: ProbeResult | undefined;
    beforeAll(async () => {
      probe = await target.factory().probe();
    });
    for (const group of GROUPS) {
      const inGroup = cases.filter((c) => c.group === group);
      if (inGroup.length === 0) continue;
      describe(group, () => {
        for (const c of inGroup) {
          if (c.skip) {
            it.skip(`${c.name} [skipped: ${c.skip}]`, () => undefined);
            continue;
          }
          it(
            c.name,
            async (t) => {
              if (!probe?.available) t.skip(`backend unavailable: ${probe?.reason ?? 'probe failed'}`);
              const o = await runCase(rt, c);
              if (o.status === 'skipped') t.skip(o.reason ?? 'skipped');
              if (o.status === 'failed') throw new ConformanceFailure(o.error ?? 'failed');
            },
            c.timeoutMs + 30_000,
          );
        }
      });
    }
  });
}
