/**
 * The CLI with only core and soft installed: the built command is copied into a scratch project
 * whose node_modules holds just those two packages, so every other backend's import really fails.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBackends, KNOWN_BACKENDS, notInstalledReason } from '../src/backends.js';

const packages = fileURLToPath(new URL('../../', import.meta.url));
let project: string;

beforeAll(() => {
  if (!existsSync(join(packages, 'cli', 'dist', 'bin.js'))) throw new Error('packages/cli/dist is missing: build first (pnpm build)');
  project = mkdtempSync(join(tmpdir(), 'datamover-cli-soft-only-'));
  cpSync(join(packages, 'cli', 'dist'), join(project, 'dist'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', type: 'module' }));
  mkdirSync(join(project, 'node_modules', '@datamover'), { recursive: true });
  for (const p of ['core', 'backend-soft']) symlinkSync(join(packages, p), join(project, 'node_modules', '@datamover', p));
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('datamover with only @datamover/core and @datamover/backend-soft installed', () => {
  it('info lists soft as available and every other backend as not installed', () => {
    const r = spawnSync(process.execPath, [join(project, 'dist', 'bin.js'), 'info', '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { backends: { id: string; installed: boolean; available: boolean; reason?: string }[] };
    expect(report.backends.map((b) => b.id)).toEqual(KNOWN_BACKENDS.map((k) => k.id));
    for (const b of report.backends) {
      if (b.id === 'soft' || b.id === 'soft-ts') expect(b.installed).toBe(true);
      else expect(b).toMatchObject({ installed: false, available: false, reason: `not installed (npm install @datamover/backend-${b.id})` });
    }
    expect(report.backends.find((b) => b.id === 'soft-ts')!.available).toBe(true);
  });

  it('demo runs its checks on the soft engines', () => {
    const r = spawnSync(process.execPath, [join(project, 'dist', 'bin.js'), 'demo'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^sdxi\s+no\s+not installed \(npm install @datamover\/backend-sdxi\)/m);
    expect(r.stdout).toMatch(/all checks passed on [12] backend\(s\)/);
  });
});

describe('findBackends', () => {
  it('tells a package that is not installed from one that fails to load', async () => {
    const found = await findBackends([
      { id: 'absent', description: '', packageName: '@datamover/backend-absent', create: async () => (await import('@datamover/backend-absent' as string)) as never },
      { id: 'broken', description: '', packageName: '@datamover/backend-soft', create: async () => { throw new Error('bad ELF header'); } },
    ]);
    expect(found.map((f) => f.backend === undefined && f.missing)).toEqual([
      'not installed (npm install @datamover/backend-absent)',
      '@datamover/backend-soft failed to load: bad ELF header',
    ]);
  });

  it('does not call a missing dependency of an installed package "not installed"', () => {
    const e = Object.assign(new Error("Cannot find package 'node-addon-api' imported from x"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(notInstalledReason('@datamover/backend-sdxi', e)).toBeUndefined();
  });
});
