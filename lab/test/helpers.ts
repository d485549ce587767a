import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, inject } from 'vitest';

export const LAB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(LAB_DIR, '..');
const CLI = join(LAB_DIR, 'dist', 'cli.js');

/** Why the lab suites skip here ('' when they run); decided once by global-setup.ts. */
export function labSkipReason(): string {
  return inject('labSkip');
}

/**
 * describe() for a lab suite: skipped, with the reason printed, where QEMU cannot run.
 * Never a silent pass.
 */
export function describeLab(name: string, fn: () => void): void {
  const reason = labSkipReason();
  if (reason) console.warn(`[lab] skipping "${name}": ${reason}`);
  describe.skipIf(reason !== '')(name, fn);
}

export interface LabResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
  /** stdout and stderr, for assertion messages. */
  readonly output: string;
}

/**
 * Runs the lab CLI (what `pnpm lab` runs) with `args` (options, `--`, the command) from the repo
 * root. `viaPnpm` goes through the real `pnpm lab` script instead (slower: pnpm and a build).
 */
export function lab(args: readonly string[], opts: { viaPnpm?: boolean; cwd?: string } = {}): Promise<LabResult> {
  const t0 = Date.now();
  const [cmd, argv] = opts.viaPnpm
    ? ['npx', ['--yes', 'pnpm@10.34.9', '--silent', 'lab', ...args]]
    : [process.execPath, [CLI, ...args]];
  const env = { ...process.env };
  delete env['npm_lifecycle_event']; // the CLI takes INIT_CWD only under `pnpm lab`
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd ?? REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => {
      const seconds = (Date.now() - t0) / 1000;
      const output = `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
      resolveP({ status, stdout, stderr, seconds, output });
    });
  });
}

/** QEMU processes started from this lab (their command lines name its cache). */
export function labQemuProcesses(): string[] {
  const r = spawnSync('pgrep', ['-af', 'qemu-system'], { encoding: 'utf8' });
  return String(r.stdout ?? '')
    .split('\n')
    .filter((l) => l.includes(join(LAB_DIR, '.cache')));
}

/** Run folders left in lab/.work (each run removes its own). */
export function leftoverWorkFolders(): string[] {
  const root = join(LAB_DIR, '.work');
  return existsSync(root) ? readdirSync(root).filter((d) => d.startsWith('run-')) : [];
}

/**
 * Builds test/fixtures/dax-mmap.c (Node has no mmap) into lab/.cache/fixtures, which the guest
 * sees at the same path. Rebuilt only when the source changes.
 */
export function buildDaxMmapAddon(): string {
  const src = join(LAB_DIR, 'test', 'fixtures', 'dax-mmap.c');
  const hash = createHash('sha256').update(readFileSync(src)).update(process.version).digest('hex').slice(0, 12);
  const out = join(LAB_DIR, '.cache', 'fixtures', `dax-mmap-${hash}.node`);
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const include = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) =>
    existsSync(join(d, 'node_api.h')),
  );
  if (!include) throw new Error("Node's headers (node_api.h) are missing: the dax test cannot build its mmap fixture");
  const tmp = `${out}.${process.pid}`;
  const r = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, '-o', tmp, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc failed building ${src}:\n${r.error?.message ?? ''}${r.stderr}`);
  renameSync(tmp, out);
  return out;
}

/** The "BW average" column of a perftest bandwidth table for `bytes`-sized messages. */
export function perftestAverage(output: string, bytes: number): number | undefined {
  const m = new RegExp(`^\\S*\\s*${bytes}\\s+\\d+\\s+[\\d.]+\\s+([\\d.]+)`, 'm').exec(output);
  return m?.[1] ? Number(m[1]) : undefined;
}
