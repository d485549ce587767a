#!/usr/bin/env node
/**
 * `pnpm conformance`: runs the suite on every backend available on this machine, one child
 * process per target (a crash in one backend cannot take the others' results with it), prints
 * the backend × case-group table and writes results/latest.json and results/latest.md.
 *
 *   datamover-conformance [--long] [--only <name part>] [--groups content,faults] [--seed N]
 *                         [--out <dir>] [--no-write] [--list] [--render]
 *
 * `--render` only re-renders <out>/latest.md and the table from <out>/latest.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '@datamover/core';
import { markdown, textTable, type ConformanceReport } from './report.js';
import { machine, runSuite, summarise, SUITE_VERSION, type TargetReport } from './runner.js';
import { KNOWN_TARGETS, resolvePackage, type PackageTarget, type TargetSpec } from './targets.js';
import { GROUPS, type ConformanceTarget, type Group } from './types.js';

interface Args {
  long: boolean;
  only: string | undefined;
  groups: Group[] | undefined;
  seed: number;
  out: string;
  write: boolean;
  list: boolean;
  render: boolean;
  child: string | undefined;
  report: string | undefined;
}

function parse(argv: string[]): Args {
  const a: Args = { long: false, only: undefined, groups: undefined, seed: 1, out: fileURLToPath(new URL('../results/', import.meta.url)), write: true, list: false, render: false, child: undefined, report: undefined };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--long') a.long = true;
    else if (k === '--only') a.only = v();
    else if (k === '--groups') {
      const gs = v().split(',') as Group[];
      for (const g of gs) if (!GROUPS.includes(g)) throw new Error(`unknown group ${g}; groups: ${GROUPS.join(', ')}`);
      a.groups = gs;
    } else if (k === '--seed') a.seed = Number(v());
    else if (k === '--out') a.out = v();
    else if (k === '--no-write') a.write = false;
    else if (k === '--list') a.list = true;
    else if (k === '--render') a.render = true;
    else if (k === '--child') a.child = v();
    else if (k === '--report') a.report = v();
    else if (k === '--help' || k === '-h') {
      process.stdout.write('usage: datamover-conformance [--long] [--only <name part>] [--groups g1,g2] [--seed N] [--out dir] [--no-write] [--list] [--render]\n');
      process.exit(0);
    } else if (k !== '--') throw new Error(`unknown argument ${k}`);
  }
  return a;
}

interface Planned {
  spec: TargetSpec;
  url: string | undefined;
  skipped?: string;
}

async function plan(): Promise<Planned[]> {
  const out: Planned[] = [];
  const byPackage = new Map<string, TargetSpec[]>();
  for (const t of KNOWN_TARGETS) byPackage.set(t.package, [...(byPackage.get(t.package) ?? []), t]);
  for (const [pkg, known] of byPackage) {
    const url = resolvePackage(pkg);
    if (!url) {
      for (const spec of known) out.push({ spec, url, skipped: `package ${pkg} is not installed here` });
      continue;
    }
    let specs = known;
    try {
      const mod = (await import(url)) as { conformanceTargets?: PackageTarget[] };
      if (Array.isArray(mod.conformanceTargets)) specs = mod.conformanceTargets.map((t) => ({ package: pkg, args: [], ...t }));
      for (const s of specs) if (typeof (mod as Record<string, unknown>)[s.export] !== 'function') throw new Error(`${pkg} has no exported function ${s.export}`);
    } catch (e) {
      for (const spec of specs) out.push({ spec, url, skipped: `package ${pkg} failed to load: ${(e as Error).message}` });
      continue;
    }
    for (const spec of specs) out.push({ spec, url });
  }
  return out;
}

function emptyReport(name: string, why: { skipped?: string; error?: string }): TargetReport {
  return {
    name,
    backend: { name, version: '', kind: '' },
    probe: { available: false, ...(why.skipped ? { reason: why.skipped } : {}) },
    capabilities: { operations: [], maxDescriptorBytes: 0, maxRegions: 0 },
    seed: 0,
    long: false,
    ...why,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    groups: summarise([]),
    cases: [],
  };
}

/** Runs one target in a child process; resolves with its report. */
function runChild(p: Planned, args: Args): Promise<TargetReport> {
  const dir = mkdtempSync(join(tmpdir(), 'dm-conformance-report-'));
  const reportPath = join(dir, 'report.json');
  const childSpec = JSON.stringify({ ...p.spec, url: p.url, long: args.long, seed: args.seed, groups: args.groups });
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', childSpec, '--report', reportPath], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code, signal) => {
      let report: TargetReport;
      try {
        report = JSON.parse(readFileSync(reportPath, 'utf8')) as TargetReport;
      } catch {
        report = emptyReport(p.spec.name, { error: `the run crashed (${signal ? `signal ${signal}` : `exit code ${code}`}) before writing its report` });
      }
      rmSync(dir, { recursive: true, force: true });
      resolve(report);
    });
  });
}

async function child(args: Args): Promise<void> {
  const spec = JSON.parse(args.child!) as TargetSpec & { url: string; long: boolean; seed: number; groups?: Group[] };
  const mod = (await import(spec.url)) as Record<string, (...a: unknown[]) => Backend>;
  const make = mod[spec.export]!;
  const kindsOf = spec.kinds ? (mod[spec.kinds] as unknown as ((...a: unknown[]) => ConformanceTarget['kinds']) | undefined) : undefined;
  if (spec.kinds && typeof kindsOf !== 'function') throw new Error(`${spec.package} has no exported function ${spec.kinds}`);
  const kinds = kindsOf?.(...spec.args);
  const t0 = performance.now();
  const report = await runSuite(
    {
      name: spec.name,
      factory: () => make(...spec.args),
      worker: { module: spec.url, export: spec.export, args: spec.args },
      long: spec.long,
      seed: spec.seed,
      ...(spec.trim ? { trim: spec.trim } : {}),
      ...(kinds ? { kinds } : {}),
      ...(spec.groups ? { groups: spec.groups } : {}),
    },
    {
      onCase(o, i, n) {
        const mark = o.status === 'passed' ? 'ok  ' : o.status === 'failed' ? 'FAIL' : 'skip';
        const extra = o.status === 'failed' ? `\n        ${(o.error ?? '').split('\n')[0]}` : o.status === 'skipped' ? ` — ${o.reason}` : '';
        process.stderr.write(`[${spec.name} ${String(i + 1).padStart(3)}/${n} ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${mark} ${o.group} › ${o.name} (${o.durationMs} ms)${extra}\n`);
      },
    },
  );
  writeFileSync(args.report!, JSON.stringify(report));
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  if (args.child) return child(args);
  if (args.render) {
    const saved = JSON.parse(readFileSync(join(args.out, 'latest.json'), 'utf8')) as ConformanceReport;
    writeFileSync(join(args.out, 'latest.md'), markdown(saved));
    process.stdout.write(`${textTable(saved)}\n`);
    return;
  }
  const t0 = performance.now();
  let planned = await plan();
  if (args.only) planned = planned.filter((p) => p.spec.name.includes(args.only!));
  if (args.list) {
    for (const p of planned) process.stdout.write(`${p.spec.name}: ${p.skipped ?? p.url}\n`);
    return;
  }
  const targets: TargetReport[] = [];
  for (const p of planned) {
    if (p.skipped) {
      targets.push(emptyReport(p.spec.name, { skipped: p.skipped }));
      continue;
    }
    process.stderr.write(`\n== ${p.spec.name} (${p.url})\n`);
    targets.push(await runChild(p, args));
  }
  const report: ConformanceReport = {
    suite: '@datamover/conformance',
    version: SUITE_VERSION,
    generatedAt: new Date().toISOString(),
    machine: machine(),
    command: `datamover-conformance ${process.argv.slice(2).join(' ')}`.trim(),
    durationMs: Math.round(performance.now() - t0),
    targets,
  };
  process.stdout.write(`\n${textTable(report)}\n`);
  if (args.write) {
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(args.out, 'latest.md'), markdown(report));
    process.stdout.write(`wrote ${join(args.out, 'latest.json')} and latest.md\n`);
  }
  const failed = targets.some((t) => t.error || GROUPS.some((g) => t.groups[g].failed > 0));
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
});
