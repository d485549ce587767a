/**
 * The programmatic runner (no vitest needed): runs every case of a target in order and returns a
 * JSON-ready report. `pnpm conformance` uses it through the CLI; the vitest adapter runs the same
 * case definitions one `it` each.
 */
import { cpus } from 'node:os';
import { packageInfo, type Capabilities, type ProbeResult } from '@datamover/core';
import { buildCases } from './cases/index.js';
import { resolveTarget, runCase } from './context.js';
import { GROUPS, type CaseDef, type CaseOutcome, type ConformanceTarget, type Group, type Trim } from './types.js';

export { buildCases } from './cases/index.js';
export { resolveTarget, runCase } from './context.js';
export { markdown, textTable } from './report.js';
export type { ResolvedTarget } from './context.js';
export * from './types.js';

/** The suite's version: this package's, from its package.json. */
export const SUITE_VERSION = packageInfo(new URL('..', import.meta.url)).version;

export interface GroupSummary {
  passed: number;
  failed: number;
  skipped: number;
  durationMs: number;
  /** Distinct skip reasons with how many cases each skipped. */
  skipReasons: { reason: string; cases: number }[];
}

/** One target's results: the shape of each entry of the JSON report's `targets`. */
export interface TargetReport {
  readonly name: string;
  readonly backend: { name: string; version: string; kind: string };
  readonly probe: ProbeResult;
  readonly capabilities: Capabilities;
  readonly seed: number;
  readonly long: boolean;
  readonly trim?: Trim;
  /** Set when the whole target could not run (package missing, backend unavailable, crash). */
  readonly skipped?: string;
  readonly error?: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly groups: Record<Group, GroupSummary>;
  readonly cases: CaseOutcome[];
}

export interface RunOptions {
  /** Called after each case (progress output). */
  onCase?: (outcome: CaseOutcome, index: number, total: number) => void;
  /** Runs only the cases it accepts (by group and name). */
  filter?: (c: CaseDef) => boolean;
}

export function summarise(cases: readonly CaseOutcome[]): Record<Group, GroupSummary> {
  const out = Object.fromEntries(GROUPS.map((g) => [g, { passed: 0, failed: 0, skipped: 0, durationMs: 0, skipReasons: [] }])) as unknown as Record<Group, GroupSummary>;
  for (const c of cases) {
    const g = out[c.group];
    g[c.status]++;
    g.durationMs += c.durationMs;
    if (c.status === 'skipped') {
      const reason = c.reason ?? 'no reason given';
      const r = g.skipReasons.find((x) => x.reason === reason);
      if (r) r.cases++;
      else g.skipReasons.push({ reason, cases: 1 });
    }
  }
  return out;
}

/** Runs the whole suite against one target. */
export async function runSuite(target: ConformanceTarget, options: RunOptions = {}): Promise<TargetReport> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const rt = resolveTarget(target);
  const backend = target.factory();
  let probe: ProbeResult;
  try {
    probe = await backend.probe();
  } catch (e) {
    probe = { available: false, reason: `probe threw: ${(e as Error).message}` };
  }
  const defs = buildCases(rt).filter((c) => options.filter?.(c) ?? true);
  const cases: CaseOutcome[] = [];
  for (const [i, c] of defs.entries()) {
    const outcome: CaseOutcome = probe.available ? await runCase(rt, c) : { group: c.group, name: c.name, status: 'skipped', durationMs: 0, reason: `backend unavailable: ${probe.reason ?? 'no reason given'}` };
    cases.push(outcome);
    options.onCase?.(outcome, i, defs.length);
  }
  return {
    name: rt.name,
    backend: { name: backend.name, version: backend.version, kind: backend.kind },
    probe,
    capabilities: rt.caps,
    seed: rt.seed,
    long: target.long ?? false,
    ...(target.trim ? { trim: target.trim } : {}),
    ...(probe.available ? {} : { skipped: `backend unavailable: ${probe.reason ?? 'no reason given'}` }),
    startedAt,
    durationMs: Math.round(performance.now() - t0),
    groups: summarise(cases),
    cases,
  };
}

/** The machine a report was made on. */
export function machine(): Record<string, string | number> {
  const c = cpus();
  return { node: process.version, platform: process.platform, arch: process.arch, cpus: c.length, cpuModel: c[0]?.model ?? 'unknown' };
}
