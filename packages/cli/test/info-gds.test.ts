/**
 * `datamover info` lists the gds backend and, where it cannot run, why (the built command, run as
 * a child process; DATAMOVER_GDS_LIBCUFILE points the loader at a library that does not exist, so
 * the reason is the same on every machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const env = { ...process.env, DATAMOVER_GDS_LIBCUFILE: 'libcufile-absent-for-test.so.0' };
// Where the gds addon is not built (no compiler), the reason is that instead.
const gdsRoot = dirname(createRequire(import.meta.url).resolve('@datamover/backend-gds/package.json'));
const built = existsSync(join(gdsRoot, 'build', 'Release', 'datamover_gds.node'));
const why = built ? 'libcufile not found (dlopen: libcufile-absent-for-test.so.0: ' : 'native addon not built';
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('datamover info: gds', () => {
  it('shows gds as unavailable with the loader’s reason', () => {
    const r = spawnSync(process.execPath, [BIN, 'info'], { encoding: 'utf8', timeout: 60_000, env });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^gds\\s+no\\s+0\\.1\\.0\\s+hardware\\s+${escape(why)}`, 'm'));
  });

  it('--json carries the reason and the probe details', () => {
    const r = spawnSync(process.execPath, [BIN, 'info', '--json'], { encoding: 'utf8', timeout: 60_000, env });
    const gds = (JSON.parse(r.stdout) as { backends: { id: string; available: boolean; reason?: string; details?: { nvidiaFs?: string } }[] }).backends.find((b) => b.id === 'gds');
    expect(gds).toMatchObject({ available: false, reason: expect.stringContaining(why), details: { nvidiaFs: expect.any(String) } });
  });
});
