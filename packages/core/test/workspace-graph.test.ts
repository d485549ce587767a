/**
 * The package graph the architecture promises (docs/architecture.md): no dependency cycles among
 * the workspace packages, core depends on no other of them, and no file reaches into another
 * package's dist, src, test or build folder by relative path (packages are imported by name).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGE_DIRS = [...['packages', 'examples'].flatMap((top) => readdirSync(join(REPO, top)).map((d) => join(top, d))), 'lab'];

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const manifests = PACKAGE_DIRS.map((d) => JSON.parse(readFileSync(join(REPO, d, 'package.json'), 'utf8')) as Manifest);
const names = new Set(manifests.map((m) => m.name));
const edges = new Map(
  manifests.map((m) => [m.name, Object.keys({ ...m.dependencies, ...m.devDependencies, ...m.peerDependencies, ...m.optionalDependencies }).filter((n) => names.has(n))]),
);

function cycles(): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const visit = (n: string, path: string[]) => {
    const at = path.indexOf(n);
    if (at >= 0) return void found.push([...path.slice(at), n].join(' → '));
    if (done.has(n)) return;
    for (const m of edges.get(n) ?? []) visit(m, [...path, n]);
    done.add(n);
  };
  for (const n of names) visit(n, []);
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    if (['node_modules', 'dist', 'build', 'build-sanitize', '.cache', '.work'].includes(e)) return [];
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|js|mjs|cjs)$/.test(e) ? [p] : [];
  });
}

const FOLDER = PACKAGE_DIRS.map((d) => d.split('/').pop()).join('|');
// A relative path that climbs out of its package and into a sibling's output or sources.
const REACH_IN = new RegExp(`['"\`](?:\\.\\./)+(?:packages/)?(?:${FOLDER})/(?:dist|src|test|build)/`, 'g');

describe('the workspace package graph', () => {
  it('has no dependency cycles (dependencies, dev, peer and optional together)', () => {
    expect(cycles()).toEqual([]);
  });

  it('core depends on no other workspace package', () => {
    expect(edges.get('@datamover/core')).toEqual([]);
  });

  it("no file imports another package's dist, src, test or build folder by relative path", () => {
    const offenders = PACKAGE_DIRS.flatMap((d) =>
      sourceFiles(join(REPO, d)).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(REACH_IN)].map((m) => `${relative(REPO, f)}: ${m[0].slice(1)}`)),
    );
    expect(offenders).toEqual([]);
  });
});
