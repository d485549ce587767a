/**
 * Smoke check of the benchmark harness: `datamover bench --quick` on a reduced sweep (every
 * operation, backend and peer; small sizes and batches only, to stay well under a minute) writes
 * a run record that validates against bench/schema/result.schema.json, plus the markdown report
 * and the charts. Nothing here asserts on a timing: performance is judged by people reading the
 * bench's output, never by a test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript module without type declarations
import { validateResult } from '../../../bench/lib/schema.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

interface Run {
  ok: boolean;
  parameters: { ops: string[] };
  contenders: { name: string; kind: string; available: boolean; reason: string | null; ops: string[] }[];
  cells: { op: string; size: number; batch: number }[];
  results: { contender: string; op: string; size: number; batch: number; verified?: boolean | null; error?: string; samples?: { n: number } }[];
  cellsNotRun: { contender: string; op: string; size: number; batch: number }[];
  targets: { backend: string; id: string }[];
  errors: unknown[];
}

let dir: string;
let status: number | null;
let stdout: string;
let stderr: string;
let run: Run;

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (pnpm build)`);
  dir = mkdtempSync(join(tmpdir(), 'datamover-bench-test-'));
  const r = spawnSync(process.execPath, [BIN, 'bench', '--quick', '--sizes', '64,4KiB,1MiB', '--batches', '1,16', '--out', dir], { encoding: 'utf8', timeout: 110_000 });
  if (r.error) throw r.error;
  ({ status, stdout, stderr } = r);
  run = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as Run;
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('datamover bench --quick (reduced sweep)', () => {
  it('exits 0 and prints the targets table', () => {
    expect(stderr).not.toMatch(/^error /m);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^\| target \| measured \|/m);
  });

  it('writes a run record that validates against bench/schema/result.schema.json', () => {
    expect(validateResult(run)).toEqual([]);
  });

  it('the validator rejects a record that breaks the schema', () => {
    const broken = JSON.parse(JSON.stringify(run)) as Record<string, unknown> & { results: Record<string, unknown>[] };
    delete broken['machine'];
    broken.results[0]!['gbps'] = 'fast';
    const errors = validateResult(broken) as { path: string; message: string }[];
    expect(errors.map((e) => e.message).join('\n')).toMatch(/missing required property "machine"/);
    expect(errors.some((e) => e.path === '/results/0')).toBe(true);
  });

  it('lists every backend and peer, with a reason for each one skipped', () => {
    const names = run.contenders.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['soft', 'soft-ts', 'Buffer.copy', 'TypedArray.set', 'workers', 'C memcpy']));
    for (const c of run.contenders) if (!c.available) expect(c.reason).toMatch(/\S/);
    expect(run.contenders.find((c) => c.name === 'soft-ts')?.available).toBe(true);
  });

  it('measures every available contender on every cell it supports, with checked results', () => {
    expect(run.errors).toEqual([]);
    expect(run.ok).toBe(true);
    for (const c of run.contenders.filter((x) => x.available)) {
      for (const cell of run.cells.filter((x) => c.ops.includes(x.op))) {
        const same = (r: { contender: string; op: string; size: number; batch: number }) => r.contender === c.name && r.op === cell.op && r.size === cell.size && r.batch === cell.batch;
        const r = run.results.find(same);
        if (!r) {
          expect(run.cellsNotRun.some(same), `${c.name} ${cell.op} ${cell.size} × ${cell.batch}`).toBe(true);
          continue;
        }
        expect(r.error).toBeUndefined();
        expect(r.samples?.n).toBeGreaterThan(0);
        expect(r.verified).not.toBe(false);
      }
    }
  });

  it('judges the targets on the soft backend when it is available', () => {
    if (!run.contenders.find((c) => c.name === 'soft')?.available) return;
    expect(run.targets.filter((t) => t.backend === 'soft').map((t) => t.id)).toEqual(expect.arrayContaining(['latency-4KiB-p50', 'descriptors-64B-batched', 'event-loop-p99']));
  });

  it('writes the markdown report and SVG charts', () => {
    const md = readFileSync(join(dir, 'results.md'), 'utf8');
    expect(md).toMatch(/^## Targets$/m);
    for (const op of run.parameters.ops) {
      expect(md).toContain(`## ${op}`);
      const svg = readFileSync(join(dir, `throughput-${op}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(existsSync(join(dir, `latency-${op}.svg`))).toBe(true);
    }
  });
});
