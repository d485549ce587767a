/**
 * The backends this command knows. Only soft is a dependency of the CLI; every other backend is
 * an optional peer, imported on demand, so `@datamover/cli` runs with just core and soft
 * installed and `info` lists the rest as not installed.
 */
import type { Backend, Mover, Region } from '@datamover/core';
import { soft } from '@datamover/backend-soft';

export interface KnownBackend {
  /** What `info` and `demo` call it (the backend's own name, with an engine suffix where useful). */
  readonly id: string;
  readonly description: string;
  /** The npm package that holds it. */
  readonly packageName: string;
  /** A fresh, unopened instance, from the package once it is imported. */
  create(): Promise<Backend>;
}

/** A known backend as found here: an instance to probe, or why its package could not be used. */
export type FoundBackend =
  | { readonly known: KnownBackend; readonly backend: Backend }
  | { readonly known: KnownBackend; readonly backend?: undefined; readonly missing: string };

export const KNOWN_BACKENDS: readonly KnownBackend[] = [
  {
    id: 'soft',
    description: 'software reference backend, native worker-thread engine',
    packageName: '@datamover/backend-soft',
    create: async () => soft({ engine: 'native' }),
  },
  {
    id: 'soft-ts',
    description: 'software reference backend, pure-TypeScript oracle engine',
    packageName: '@datamover/backend-soft',
    create: async () => soft({ engine: 'ts' }),
  },
  {
    id: 'sdxi',
    description: 'SDXI 1.0 producer (rings, contexts, AKeys, CST_BLK, error log) driving the software SDXI function',
    packageName: '@datamover/backend-sdxi',
    create: async () => (await import('@datamover/backend-sdxi')).sdxi(),
  },
  {
    id: 'cxl',
    description: 'CXL / device-DAX memory: dax mappings, durable writes, NUMA placement (found: sysfs discovery)',
    packageName: '@datamover/backend-cxl',
    create: async () => (await import('@datamover/backend-cxl')).cxl(),
  },
  {
    id: 'gds',
    description: 'NVIDIA cuFile (GPUDirect Storage): file <-> GPU memory, host <-> GPU copies',
    packageName: '@datamover/backend-gds',
    create: async () => (await import('@datamover/backend-gds')).gds(),
  },
  {
    id: 'rdma',
    description: 'RDMA over libibverbs/librdmacm: remote regions, one-sided READ/WRITE (InfiniBand, RoCE, Soft-RoCE)',
    packageName: '@datamover/backend-rdma',
    create: async () => (await import('@datamover/backend-rdma')).rdma(),
  },
];

/**
 * Imports each known backend's package. A package that is not installed is reported as such with
 * the command that installs it; one that is installed but fails to load is reported with its error.
 */
export async function findBackends(known: readonly KnownBackend[] = KNOWN_BACKENDS): Promise<FoundBackend[]> {
  return Promise.all(
    known.map(async (k): Promise<FoundBackend> => {
      try {
        return { known: k, backend: await k.create() };
      } catch (e) {
        return { known: k, missing: notInstalledReason(k.packageName, e) ?? `${k.packageName} failed to load: ${(e as Error).message}` };
      }
    }),
  );
}

/** "not installed (…)" when `e` says the package itself cannot be found, else undefined. */
export function notInstalledReason(packageName: string, e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown };
  const notFound = err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND';
  if (!notFound || typeof err.message !== 'string' || !err.message.includes(`'${packageName}'`)) return undefined;
  return `not installed (npm install ${packageName})`;
}

export type SoftEngineChoice = 'native' | 'ts' | 'auto';

export function isEngineChoice(s: string): s is SoftEngineChoice {
  return s === 'native' || s === 'ts' || s === 'auto';
}

/** The soft backend with the engine asked for on the command line. */
export function softBackend(engine: SoftEngineChoice): Backend {
  return soft({ engine });
}

/** `soft (native engine)`: which backend and which engine an open Mover runs on. */
export function engineLabel(mover: Mover): string {
  const b = mover.stats().backends[0];
  if (!b) return 'none';
  const engine = b.engine['engine'];
  return typeof engine === 'string' ? `${b.name} (${engine} engine)` : b.name;
}

/**
 * Page-aligned host memory from the engine when it can allocate (the native engine can);
 * otherwise ordinary 16-byte-aligned shared memory (the TS engine has no allocator, and
 * Mover.alloc refuses stronger alignment without one).
 */
export function allocHost(mover: Mover, size: number): Region {
  try {
    return mover.alloc(size, { alignment: 4096 });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'UNSUPPORTED_OPERATION') throw e;
    return mover.alloc(size, { alignment: 16 });
  }
}
