// README.md's "Error codes" table lists every code a public call can throw: each of core's
// ErrorCode and each code a workspace package declares with declareErrorCodes() (found by
// importing every package's main entry, so a new backend's codes are checked without a change
// here), with the error class each code's errors take, and no code that does not exist.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
/** What this check uses of core's public API. */
interface Core {
  ErrorCode: Record<string, string>;
  declaredErrorCodes(): { code: string; backend: string }[];
  datamoverError(code: string, message: string): Error;
}
const core = (await import(pathToFileURL(join(root, 'packages/core/dist/index.js')).href)) as Core;

/** Every workspace package with a main entry, imported, so each runs its declareErrorCodes() calls. */
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { main?: string };
  if (pkg.main) await import(pathToFileURL(join(root, 'packages', dir, pkg.main)).href);
}

/** The table's rows: code → error class, from the "### Error codes" section. */
function readmeTable(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('### Error codes');
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n#', start + 1));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([A-Z_]+)` \| `(\w+)` \|/gm)) {
    expect(rows.has(m[1]!), `${m[1]} listed twice`).toBe(false);
    rows.set(m[1]!, m[2]!);
  }
  return rows;
}

describe('README error-code table', () => {
  const rows = readmeTable();
  const declared = core.declaredErrorCodes();
  const every = [...Object.values(core.ErrorCode), ...declared.map((d) => d.code)];

  it('a workspace backend declares codes of its own (rdma), so the check covers them', () => {
    expect(declared.map((d) => `${d.backend}:${d.code}`)).toContain('rdma:REMOTE_DISCONNECT');
  });

  it('lists every code, with the class its errors take', () => {
    for (const code of every) {
      expect(rows.has(code), `README.md's error-code table misses ${code}`).toBe(true);
      expect(rows.get(code), `class of ${code}`).toBe(core.datamoverError(code, 'x').constructor.name);
    }
  });

  it('lists no code that does not exist', () => {
    expect([...rows.keys()].filter((c) => !every.includes(c))).toEqual([]);
  });
});
