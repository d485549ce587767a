/**
 * The TypeScript engine never stands in silently for a missing native addon: in a process whose
 * soft addon is missing (DATAMOVER_SOFT_ADDON names no file), Mover.open() lists the native engine
 * in stats().unavailable with the loader's reason, stats() says the ts engine runs, aligned
 * allocation says why it failed, and one warning is printed however many Movers open.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const entry = new URL('../dist/index.js', import.meta.url).href;
const program = `
import { Mover } from '@datamover/core';
import { soft } from ${JSON.stringify(entry)};
const out = [];
for (let i = 0; i < 2; i++) {
  const m = await Mover.open({ backends: [soft()] });
  const s = m.stats();
  let alloc;
  try { m.alloc(4096, { alignment: 4096 }); } catch (e) { alloc = e.code + ': ' + e.message; }
  out.push({ unavailable: s.unavailable, engine: s.backends[0].engine.engine, alloc });
  await m.close();
}
console.log(JSON.stringify(out));
`;

it('a missing native addon: listed in stats().unavailable with the reason, the ts engine named, one warning', () => {
  const missing = '/nonexistent/datamover_soft.node';
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, DATAMOVER_SOFT_ADDON: missing },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  const runs = JSON.parse(r.stdout) as { unavailable: { name: string; available: boolean; reason: string }[]; engine: string; alloc: string }[];
  expect(runs).toHaveLength(2);
  for (const run of runs) {
    expect(run.engine).toBe('ts');
    expect(run.unavailable).toEqual([expect.objectContaining({ name: 'soft native engine', available: false, reason: expect.stringContaining(`no ${missing} (from DATAMOVER_SOFT_ADDON)`) })]);
    expect(run.alloc).toMatch(/^UNSUPPORTED_OPERATION: no open backend can allocate 4096-byte aligned memory \(open: soft; unavailable: soft native engine: native addon not built: no \/nonexistent/);
  }
  const warnings = r.stderr.split('\n').filter((l) => l.includes('DATAMOVER_SOFT_TS_ENGINE'));
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain('the soft backend runs its TypeScript engine: native addon not built');
});

it('with its addon loaded, nothing is listed and no warning is printed', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const runs = JSON.parse(r.stdout) as { unavailable: unknown[]; engine: string; alloc?: string }[];
  expect(runs.map((x) => [x.engine, x.unavailable, x.alloc])).toEqual([['native', [], undefined], ['native', [], undefined]]);
  expect(r.stderr).not.toContain('DATAMOVER_SOFT_TS_ENGINE');
});
