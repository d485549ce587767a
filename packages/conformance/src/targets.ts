/**
 * The backends `pnpm conformance` knows how to find. A backend package can describe its own
 * targets by exporting `conformanceTargets` (an array of { name, export, args, trim? }); the
 * entries here cover the first-party packages until they do.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Trim } from './types.js';

export interface TargetSpec {
  /** Report name. */
  readonly name: string;
  /** Package to import. */
  readonly package: string;
  /** Exported factory function and its (structured-cloneable) arguments. */
  readonly export: string;
  readonly args: readonly unknown[];
  readonly trim?: Trim;
  /** Exported function called with `args` that returns the target's region factories (`kinds`). */
  readonly kinds?: string;
}

/**
 * Shape of an optional `conformanceTargets` export of a backend package, e.g.
 * `export const conformanceTargets = [{ name: 'gds', export: 'gds', args: [], kinds: 'gdsConformanceKinds' }]`.
 */
export interface PackageTarget {
  readonly name: string;
  readonly export: string;
  readonly args?: readonly unknown[];
  readonly trim?: Trim;
  readonly kinds?: string;
}

export const KNOWN_TARGETS: readonly TargetSpec[] = [
  { name: 'soft (native engine)', package: '@datamover/backend-soft', export: 'soft', args: [{ engine: 'native' }] },
  { name: 'soft-ts (TS oracle engine)', package: '@datamover/backend-soft', export: 'soft', args: [{ engine: 'ts' }] },
  { name: 'sdxi', package: '@datamover/backend-sdxi', export: 'sdxi', args: [] },
  { name: 'gds', package: '@datamover/backend-gds', export: 'gds', args: [] },
  { name: 'rdma', package: '@datamover/backend-rdma', export: 'rdma', args: [] },
  { name: 'cxl', package: '@datamover/backend-cxl', export: 'cxl', args: [] },
];

/**
 * Where `pkg`'s entry module is: resolvable from this package, from the working directory, or a
 * workspace package under `<cwd>/packages`. Undefined when it is nowhere.
 */
export function resolvePackage(pkg: string, cwd = process.cwd()): string | undefined {
  for (const from of [import.meta.url, pathToFileURL(join(cwd, 'package.json')).href]) {
    try {
      return pathToFileURL(createRequire(from).resolve(pkg)).href;
    } catch {
      // ESM-only packages: fall through to reading package.json ourselves.
    }
  }
  const dirs: string[] = [];
  for (const base of [join(cwd, 'node_modules', pkg), ...workspaceDirs(cwd)]) dirs.push(base);
  for (const dir of dirs) {
    const pj = join(dir, 'package.json');
    if (!existsSync(pj)) continue;
    const meta = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; main?: string; exports?: Record<string, unknown> };
    if (meta.name !== pkg) continue;
    const dot = meta.exports?.['.'] as { default?: string; import?: string } | string | undefined;
    const entry = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default ?? meta.main ?? 'index.js');
    const file = join(dir, entry);
    if (existsSync(file)) return pathToFileURL(file).href;
  }
  return undefined;
}

function workspaceDirs(cwd: string): string[] {
  const root = join(cwd, 'packages');
  try {
    return readdirSync(root).map((d) => join(root, d));
  } catch {
    return [];
  }
}

export function packageDir(url: string): string {
  return dirname(new URL(url).pathname);
}
