/**
 * The backends this command knows. Each backend package the CLI depends on adds its entries
 * here (sdxi, gds, rdma, cxl will); `info` and `demo` go through this list only.
 */
import type { Backend, Mover, Region } from '@datamover/core';
import { cxl } from '@datamover/backend-cxl';
import { soft } from '@datamover/backend-soft';
import { rdma } from '@datamover/backend-rdma';
import { sdxi } from '@datamover/backend-sdxi';
import { gds } from '@datamover/backend-gds';

export interface KnownBackend {
  /** What `info` and `demo` call it (the backend's own name, with an engine suffix where useful). */
  readonly id: string;
  readonly description: string;
  /** A fresh, unopened instance. */
  create(): Backend;
}

export const KNOWN_BACKENDS: readonly KnownBackend[] = [
  {
    id: 'soft',
    description: 'software reference backend, native worker-thread engine',
    create: () => soft({ engine: 'native' }),
  },
  {
    id: 'soft-ts',
    description: 'software reference backend, pure-TypeScript oracle engine',
    create: () => soft({ engine: 'ts' }),
  },
  {
    id: 'sdxi',
    description: 'SDXI 1.0 producer (rings, contexts, AKeys, CST_BLK, error log) driving the software SDXI function',
    create: () => sdxi(),
  },
  {
    id: 'cxl',
    description: 'CXL / device-DAX memory: dax mappings, durable writes, NUMA placement (found: sysfs discovery)',
    create: () => cxl(),
  },
  {
    id: 'gds',
    description: 'NVIDIA cuFile (GPUDirect Storage): file <-> GPU memory, host <-> GPU copies',
    create: () => gds(),
  },
  {
    id: 'rdma',
    description: 'RDMA over libibverbs/librdmacm: remote regions, one-sided READ/WRITE (InfiniBand, RoCE, Soft-RoCE)',
    create: () => rdma(),
  },
];

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
