/** The text of `plan.explain()`, of UNREACHABLE errors and of `datamover explain`. */
import type { IntegrityCheck, PlanHop } from './plan.js';
import type { Route } from './route.js';

export function explainPlan(route: Route, hops: readonly PlanHop[], length: number, hostCopies: number, stagedBytes: number, chunks: number, integrity: IntegrityCheck): string {
  const lines = [`plan ${route.src} → ${route.dst}, ${length} bytes: ${hops.length} hop(s), ${hostCopies} host copy(ies), ${stagedBytes} bytes staged${chunks > 1 ? `, pipelined in ${chunks} chunks` : ''}`];
  hops.forEach((h, i) => {
    lines.push(`  hop ${i + 1}: ${h.backend}: ${h.src.kind} (${h.src.name}) → ${h.dst.kind} (${h.dst.name}), ${h.bytes} bytes${h.hostBounce ? `, bounces through host (${h.hostBounce})` : h.stagesThroughHost ? ', stages through host' : ''}`);
  });
  if (integrity !== 'none') lines.push(`  integrity: crc32c of the source where read, checked ${integrity === 'engine' ? 'by the destination backend' : 'by reading the destination back into staging'}`);
  lines.push(`chosen: ${route.why}`);
  return [...lines, ...rejectedLines(route)].join('\n');
}

/** The text when no route exists: every route refused and why. */
export function explainUnreachable(route: Route): string {
  return [`no route ${route.src} → ${route.dst}`, ...rejectedLines(route)].join('\n');
}

function rejectedLines(route: Route): string[] {
  return route.rejected.length === 0 ? [] : ['rejected:', ...route.rejected.map((r) => `  ${r}`)];
}
