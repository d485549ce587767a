/**
 * Loads the Datamover packages from the workspace build (packages/<name>/dist): the bench is not a
 * workspace package, so it imports the built files by path. The CLI imports the same files
 * through its node_modules links, which resolve to these paths, so both share one module
 * instance when `datamover bench` runs the suite.
 */
const CORE = new URL('../../packages/core/dist/index.js', import.meta.url);
const SOFT = new URL('../../packages/backend-soft/dist/index.js', import.meta.url);

export async function loadLibrary() {
  try {
    const core = await import(CORE.href);
    const soft = await import(SOFT.href);
    return { core, soft };
  } catch (e) {
    const err = new Error(`cannot load the Datamover packages (${e.message}); build them first: pnpm build`);
    err.code = 'BENCH_UNAVAILABLE';
    throw err;
  }
}

/** Page-aligned memory from the engine, or 16-byte-aligned shared memory where the engine has no allocator (TS). */
export function allocHost(mover, size) {
  try {
    return { region: mover.alloc(size, { alignment: 4096 }), alignment: 4096 };
  } catch (e) {
    if (e.code !== 'UNSUPPORTED_OPERATION') throw e;
    return { region: mover.alloc(size, { alignment: 16 }), alignment: 16 };
  }
}

/** Which engine a one-backend Mover runs: 'native' or 'ts'. */
export function engineOf(mover) {
  return String(mover.stats().backends[0]?.engine.engine ?? 'unknown');
}

/** Buffer view over a host region's memory (no copy), for the Buffer.copy peer. */
export function bufferOf(region) {
  const v = region.bytes();
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
