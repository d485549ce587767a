/** Every case group, built from a target's declared capabilities. */
import type { ResolvedTarget } from '../context.js';
import { GROUPS, type CaseDef } from '../types.js';
import { cancellationCases } from './cancellation.js';
import { contentCases } from './content.js';
import { failureRuleCases } from './failure-rule.js';
import { faultCases } from './fault-cases.js';
import { lifetimeCases } from './lifetimes.js';
import { loadCases } from './load.js';
import { orderingCases } from './ordering.js';
import { planCases } from './plans.js';
import { refusalCases } from './refusals.js';
import { stridedCases } from './strided.js';

export function buildCases(rt: ResolvedTarget): CaseDef[] {
  const has = (k: import('@datamover/core').SpaceKind) => rt.providers.has(k);
  const groups = new Set(rt.target.groups ?? GROUPS);
  const all = [
    ...contentCases(rt.caps, has),
    ...refusalCases(rt.caps, has),
    ...orderingCases(rt.caps, has),
    ...failureRuleCases(),
    ...cancellationCases(rt.caps, has),
    ...lifetimeCases(rt.caps, has),
    ...loadCases(rt.caps, has, rt.target.long ?? false),
    ...faultCases(rt.caps, has),
    ...planCases(rt.caps, rt.target.companions?.() ?? [], has),
    ...stridedCases(rt.caps, has),
  ];
  return all.filter((c) => groups.has(c.group));
}
