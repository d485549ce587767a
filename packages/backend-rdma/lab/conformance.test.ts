import { expect, it } from 'vitest';
import { describeLab, lab } from '@datamover/lab/testing';

// The published conformance suite for the 'remote' kind, on Soft-RoCE in one guest: `pnpm
// conformance`'s runner (packages/conformance/dist/cli.js) finds the rdma target through the
// package's `conformanceTargets` export; its region factory (src/conformance.ts) exports host
// memory from a second Mover in the same process and imports the token over rxe0, and checks
// destinations through the exporter's own view of that memory. rxe is software RDMA (slow under
// TCG), so the target trims the 64 MiB content size, the load case and the register cycles, with
// the reason in the report. Runs against dist/ and build/: `pnpm build` first (.ci/run does).
const COMBOS = ['copy host→remote', 'copy remote→host', 'writeImm remote'];
const PER_COMBO_GROUPS = ['content', 'refusals', 'ordering', 'cancellation', 'faults'];
const GROUPS = ['content', 'refusals', 'ordering', 'cancellation', 'lifetimes', 'load', 'faults'] as const;

interface CaseOutcome {
  group: string;
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  durationMs: number;
  reason?: string;
  error?: string;
}
interface TargetReport {
  name: string;
  probe: { available: boolean; reason?: string };
  capabilities: { operations: { op: string; src: string | null; dst: string | null }[] };
  trim?: { reason: string; maxSize?: number };
  skipped?: string;
  error?: string;
  groups: Record<string, { passed: number; failed: number; skipped: number }>;
  cases: CaseOutcome[];
}

describeLab('rdma conformance (remote kind, Soft-RoCE)', () => {
  it('every claimed (operation × kind) passes; skips carry their reason; nothing fails', async () => {
    const r = await lab(['--rdma', '--timeout', '420', '--', [
      'ulimit -l unlimited',
      'node packages/conformance/dist/cli.js --only rdma --out "$LAB_WORK/conformance"; s=$?',
      'echo "@@REPORT-BEGIN@@"; cat "$LAB_WORK/conformance/latest.json"; echo "@@REPORT-END@@"',
      'exit $s',
    ].join('\n')]);
    const m = /@@REPORT-BEGIN@@\n([\s\S]*?)\n@@REPORT-END@@/.exec(r.stdout);
    expect(m, `no report\n${r.output}`).not.toBeNull();
    const table = r.stdout.slice(0, m!.index);
    console.log(table.slice(table.lastIndexOf('backend  content')));
    const report = JSON.parse(m![1]!) as { targets: TargetReport[] };
    for (const c of report.targets[0]?.cases ?? []) console.log(`${c.status.padEnd(7)} ${String(c.durationMs).padStart(6)} ms  ${c.group} › ${c.name}${c.reason ? ` — ${c.reason.slice(0, 90)}` : ''}`);
    expect(report.targets.map((t) => t.name)).toEqual(['rdma']);
    const t = report.targets[0]!;
    const failures = t.cases.filter((c) => c.status === 'failed').map((c) => `${c.group} › ${c.name}: ${c.error}`);
    expect(failures, r.output).toEqual([]);
    expect(r.status, r.output).toBe(0);
    expect(t.error).toBeUndefined();
    expect(t.skipped).toBeUndefined();
    expect(t.probe.available, t.probe.reason).toBe(true);
    expect(t.capabilities.operations.map((o) => (o.src && o.dst ? `${o.op} ${o.src}→${o.dst}` : `${o.op} ${o.src ?? o.dst}`)).sort()).toEqual([...COMBOS].sort());
    for (const g of GROUPS) expect(t.groups[g]!.failed, g).toBe(0);

    // Every claimed combination ran, and passed, in every group that tests combinations.
    for (const combo of COMBOS) {
      for (const g of PER_COMBO_GROUPS) {
        const passed = t.cases.filter((c) => c.group === g && c.name.startsWith(`${combo}:`) && c.status === 'passed');
        expect(passed.length, `${g} › ${combo}: no passing case`).toBeGreaterThan(0);
      }
    }
    for (const combo of ['copy host→remote', 'copy remote→host']) {
      for (const size of ['1 B', '4097 B', '1 MiB + 3']) {
        expect(t.cases.find((c) => c.name === `${combo}: ${size}`)?.status, `${combo}: ${size}`).toBe('passed');
      }
    }
    expect(t.cases.find((c) => c.name.startsWith('remote: ') && c.group === 'lifetimes')?.status).toBe('passed');
    expect(t.cases.find((c) => c.group === 'load')?.status).toBe('passed');

    // Skips: each with its reason; the remote factory is never missing; trims name Soft-RoCE.
    const skipped = t.cases.filter((c) => c.status === 'skipped');
    for (const c of skipped) {
      expect(c.reason, `${c.group} › ${c.name}`).toBeTruthy();
      expect(c.reason, `${c.group} › ${c.name}`).not.toMatch(/no region factory|backend unavailable/);
    }
    expect(t.trim?.reason).toMatch(/Soft-RoCE/);
    for (const combo of ['copy host→remote', 'copy remote→host']) {
      const big = t.cases.find((c) => c.name === `${combo}: 64 MiB`);
      expect(big?.status).toBe('skipped');
      expect(big?.reason).toMatch(/^trimmed for this target: Soft-RoCE/);
    }
    const passed = t.cases.filter((c) => c.status === 'passed').length;
    console.log(`rdma conformance in the guest: ${passed} passed, ${skipped.length} skipped (${[...new Set(skipped.map((c) => c.reason))].join(' | ')}), 0 failed; ${r.seconds.toFixed(0)} s`);
  }, 480_000);
});
