/**
 * Loads the Datamover packages from the workspace build (packages/<dir>/dist): the bench is not a
 * workspace package, so it imports the built files by path. The CLI imports the same files
 * through its node_modules links, which resolve to these paths, so both share one module
 * instance when `datamover bench` runs the suite.
 */
import { readFileSync } from 'node:fs';

const root = new URL('../../packages/', import.meta.url);

/** `import()` of packages/<dir>/dist/index.js; a missing build is an error that says what to do. */
export async function importPackage(dir) {
  try {
    return await import(new URL(`${dir}/dist/index.js`, root).href);
  } catch (e) {
    const err = new Error(`cannot load packages/${dir} (${e.message}); build it first: pnpm build`);
    err.code = 'BENCH_UNAVAILABLE';
    throw err;
  }
}

/** The version in packages/<dir>/package.json, or null. */
export function packageVersion(dir) {
  try {
    return JSON.parse(readFileSync(new URL(`${dir}/package.json`, root), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}
