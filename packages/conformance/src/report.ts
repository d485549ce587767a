/** The report: backend × case-group table (text and markdown) and the JSON document. */
import type { TargetReport } from './runner.js';
import { GROUPS, type Group } from './types.js';

export interface ConformanceReport {
  readonly suite: '@datamover/conformance';
  readonly version: string;
  readonly generatedAt: string;
  readonly machine: Record<string, string | number>;
  readonly command: string;
  readonly durationMs: number;
  readonly targets: TargetReport[];
}

function cell(t: TargetReport, g: Group): string {
  if (t.skipped || t.error) return '—';
  const s = t.groups[g];
  const total = s.passed + s.failed + s.skipped;
  if (total === 0) return '—';
  if (s.passed + s.failed === 0) return `${s.skipped} skipped`;
  const parts = [`${s.passed}/${total - s.skipped} passed`];
  if (s.failed) parts.push(`${s.failed} FAILED`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  return parts.join(', ');
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function verdict(t: TargetReport): string {
  const v = fullVerdict(t);
  return v.length > 90 ? `${v.slice(0, 89)}…` : v;
}

function fullVerdict(t: TargetReport): string {
  if (t.error) return `ERROR: ${t.error.split('\n')[0]}`;
  if (t.skipped) return `skipped: ${t.skipped}`;
  const failed = GROUPS.reduce((n, g) => n + t.groups[g].failed, 0);
  const skipped = GROUPS.reduce((n, g) => n + t.groups[g].skipped, 0);
  if (failed) return `${failed} FAILED`;
  return skipped ? `passes what ran (${skipped} skipped)` : 'passes';
}

/** Plain-text table for the terminal. */
export function textTable(r: ConformanceReport): string {
  const header = ['backend', ...GROUPS, 'time', 'verdict'];
  const rows = r.targets.map((t) => [t.name, ...GROUPS.map((g) => cell(t, g)), secs(t.durationMs), verdict(t)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  out.push('', ...details(r, 'text'));
  return out.join('\n');
}

/** Markdown document for results/latest.md. */
export function markdown(r: ConformanceReport): string {
  const m = r.machine;
  const out = [
    '# Datamover conformance — latest results',
    '',
    `Generated ${r.generatedAt} by \`${r.command}\` on Node ${m.node}, ${m.platform}/${m.arch}, ${m.cpus} CPU(s) (${m.cpuModel}); total ${secs(r.durationMs)}. Machine-readable: [latest.json](latest.json).`,
    '',
    `| backend | ${GROUPS.join(' | ')} | time | verdict |`,
    `| --- | ${GROUPS.map(() => '---').join(' | ')} | --- | --- |`,
    ...r.targets.map((t) => `| ${t.name} | ${GROUPS.map((g) => cell(t, g)).join(' | ')} | ${secs(t.durationMs)} | ${verdict(t)} |`),
    '',
    ...details(r, 'md'),
  ];
  return out.join('\n') + '\n';
}

function details(r: ConformanceReport, style: 'text' | 'md'): string[] {
  const out: string[] = [];
  const h = (s: string) => (style === 'md' ? `## ${s}\n` : `${s}:`);
  const li = (s: string) => (style === 'md' ? `- ${s}` : `  - ${s}`);
  const failures = r.targets.flatMap((t) => t.cases.filter((c) => c.status === 'failed').map((c) => ({ t, c })));
  if (failures.length) {
    out.push(h('Failures'));
    for (const { t, c } of failures) out.push(li(`${t.name} / ${c.group} / ${c.name}: ${(c.error ?? '').split('\n')[0]}`));
    out.push('');
  }
  const skips: string[] = [];
  for (const t of r.targets) {
    if (t.skipped) {
      skips.push(li(`${t.name}: ${t.skipped}`));
      continue;
    }
    for (const g of GROUPS) for (const s of t.groups[g].skipReasons) skips.push(li(`${t.name} / ${g}: ${s.cases} case(s) — ${s.reason}`));
    const checks = new Map<string, number>();
    for (const c of t.cases) for (const s of c.skippedChecks ?? []) checks.set(`${s.what}: ${s.reason}`, (checks.get(`${s.what}: ${s.reason}`) ?? 0) + 1);
    for (const [k, n] of checks) skips.push(li(`${t.name} (check inside ${n} passing case(s)) — ${k}`));
  }
  if (skips.length) out.push(h('Skipped, and why'), ...skips, '');
  const notes: string[] = [];
  for (const t of r.targets) {
    if (t.trim) notes.push(li(`${t.name}: trimmed — ${t.trim.reason}`));
    for (const c of t.cases) for (const n of c.notes ?? []) if (c.group === 'load' || c.group === 'lifetimes' || c.group === 'faults') notes.push(li(`${t.name} / ${c.group} / ${c.name}: ${n}`));
  }
  if (notes.length) out.push(h('Measurements and notes'), ...notes, '');
  const slow = r.targets.flatMap((t) => t.cases.map((c) => ({ t, c }))).sort((a, b) => b.c.durationMs - a.c.durationMs).slice(0, 8);
  if (slow.length) {
    out.push(h('Slowest cases'));
    for (const { t, c } of slow) out.push(li(`${secs(c.durationMs)} ${t.name} / ${c.group} / ${c.name}`));
    out.push('');
  }
  return out;
}
