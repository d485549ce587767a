/**
 * The backends the bench measures. An entry is a name, a factory that returns an unopened
 * Backend, and (optionally) a probe; the bench opens one Mover per available backend, registers
 * the shared pools with it, and runs every operation of the sweep through it. A backend whose
 * probe says "unavailable" is listed in the results with the probe's reason.
 *
 * To add one (sdxi, gds, rdma, cxl): append an entry below; `limits` caps cells that would take
 * too long or that the backend cannot run, with the reason shown in the report.
 */
import { FILL_BYTE } from './memory.js';
import { importPackage } from './packages.js';

const MiB = 1024 * 1024;

/**
 * A cap: cells where every stated condition holds are not run for that contender, and the
 * report says why (`reason`). Conditions: `op`; `overBatchBytes` (size × batch above it);
 * `sizeAtLeast`; `batchOver` (more operations per batch than it).
 * @typedef {{ op?: string, overBatchBytes?: number, sizeAtLeast?: number, batchOver?: number, reason: string }} Limit
 */

/**
 * @typedef {object} BackendEntry
 * @property {string} name            row label; stable key in the JSON
 * @property {string} description
 * @property {() => Promise<import('@datamover/core').Backend>} factory  a fresh, unopened backend
 * @property {(b: import('@datamover/core').Backend) => Promise<import('@datamover/core').ProbeResult>} [probe]  default: b.probe()
 * @property {Limit[]} [limits]
 * @property {boolean} [targets]      whether the targets are judged on this backend
 */

/** @type {BackendEntry[]} */
export const BACKENDS = [
  {
    name: 'soft',
    description: 'soft backend, native engine (its own thread consumes the shared ring; non-temporal stores above its threshold; copies and fills of 8 MiB or more striped over the engine thread and helper threads, Engine.info().copyThreads in all)',
    factory: async () => (await importPackage('backend-soft')).soft({ engine: 'native' }),
    targets: true,
  },
  {
    name: 'soft-ts',
    description: 'soft backend, TypeScript oracle engine (runs on the JS thread, between event-loop turns; one large descriptor runs to its end)',
    factory: async () => (await importPackage('backend-soft')).soft({ engine: 'ts' }),
    limits: [
      {
        op: 'crc32c',
        overBatchBytes: 16 * MiB,
        reason: "the oracle's table-driven CRC runs at ~0.25 GB/s on the JS thread: a 64 MiB batch takes ~0.3 s and 1 GiB ~4 s per sample",
      },
      {
        op: 'fill',
        sizeAtLeast: 64 * 1024,
        batchOver: 16,
        reason: 'the oracle builds each fill pattern byte by byte (up to 1 MiB per descriptor): 256 × 1 MiB or 4096 × 64 KiB takes ~1 s per sample',
      },
    ],
  },
  {
    name: 'sdxi',
    description: 'sdxi backend: SDXI 1.0 producer (descriptor ring, doorbell, CST_BLKs) driving the software SDXI function on its own thread; fill and crc32c as vendor descriptors run by the soft executor',
    factory: async () => (await importPackage('backend-sdxi')).sdxi(),
  },
  {
    name: 'cxl',
    description: 'cxl backend: device-DAX / CPU-less NUMA memory',
    factory: async () => (await importPackage('backend-cxl')).cxl(),
  },
  {
    name: 'gds',
    description: 'gds backend: cuFile, file <-> GPU memory',
    factory: async () => (await importPackage('backend-gds')).gds(),
  },
  {
    name: 'rdma',
    description: 'rdma backend: libibverbs one-sided READ/WRITE',
    factory: async () => (await importPackage('backend-rdma')).rdma(),
  },
];

/** What each operation of the sweep reads and writes: host memory (the pools). */
const HOST_ROUTES = { copy: ['host', 'host'], fill: [null, 'host'], crc32c: ['host', null] };

/** Why a contender with these `limits` does not run `cell` (the first matching limit's reason), or null when it does. */
export function limitReason(limits, cell) {
  for (const l of limits ?? []) {
    const applies =
      (l.op === undefined || l.op === cell.op) &&
      (l.overBatchBytes === undefined || cell.size * cell.batch > l.overBatchBytes) &&
      (l.sizeAtLeast === undefined || cell.size >= l.sizeAtLeast) &&
      (l.batchOver === undefined || cell.batch > l.batchOver);
    if (applies) return l.reason;
  }
  return null;
}

/** "crc32c batches over 16 MiB" — the conditions of a limit in words. */
export function describeLimit(l, formatBytes) {
  const parts = [];
  if (l.sizeAtLeast !== undefined) parts.push(`of ${formatBytes(l.sizeAtLeast)} or more`);
  if (l.batchOver !== undefined) parts.push(`more than ${l.batchOver} per batch`);
  if (l.overBatchBytes !== undefined) parts.push(`batches over ${formatBytes(l.overBatchBytes)}`);
  return `${l.op ?? 'all'} ${parts.join(', ')}`;
}

/**
 * Probes and opens one backend: `{ available: true, mover, src, dst, probe, ops }` with the
 * shared pools registered (`ops`: the sweep's operations its capabilities list on host memory),
 * or `{ available: false, reason, probe }`.
 */
export async function openBackend(entry, core, pools, ringEntries, wanted) {
  let backend;
  try {
    backend = await entry.factory();
  } catch (e) {
    return { available: false, reason: e.message };
  }
  const probe = await (entry.probe ?? ((b) => b.probe()))(backend);
  if (!probe.available) return { available: false, reason: probe.reason ?? 'probe() said unavailable without a reason', probe };
  const caps = backend.capabilities().operations;
  const ops = wanted.filter((op) => caps.some((c) => c.op === op && c.src === HOST_ROUTES[op][0] && c.dst === HOST_ROUTES[op][1]));
  if (ops.length === 0) {
    return { available: false, reason: `probe() says available, but its capabilities() list none of ${wanted.join(', ')} on host memory, which is what this sweep moves (its own memory kinds need cells of their own)`, probe };
  }
  const mover = await core.Mover.open({ backends: [backend], policy: 'explicit', ...(ringEntries ? { ringEntries } : {}) });
  const src = mover.wrap(pools.src);
  const dst = mover.wrap(pools.dst);
  return { available: true, mover, src, dst, probe, version: backend.version, ops };
}

/**
 * The runner for one cell: a single operation goes through the Mover's one-call API
 * (`mover.copy` …, what a user writes); a batch is built with `mover.batch()` (timed apart as
 * build time) and submitted. Both settle a Promise; the time measured is submit → settled.
 */
export function backendRunner(open, cell) {
  const { mover, src, dst } = open;
  const { op, size, batch } = cell;
  if (batch === 1) {
    const one = {
      copy: () => mover.copy(dst, src, { length: size }),
      fill: () => mover.fill(dst, FILL_BYTE, { length: size }),
      crc32c: () => mover.crc32c(src, { length: size }),
    }[op];
    return { style: 'async', memory: 'pools', run: one };
  }
  const add = {
    copy: (b, o) => b.copy(dst, src, { srcOffset: o, dstOffset: o, length: size }),
    fill: (b, o) => b.fill(dst, FILL_BYTE, { offset: o, length: size }),
    crc32c: (b, o) => b.crc32c(src, { offset: o, length: size }),
  }[op];
  return {
    style: 'async',
    memory: 'pools',
    build() {
      const b = mover.batch();
      for (let k = 0, o = 0; k < batch; k++, o += size) add(b, o);
      return b;
    },
    async run(b) {
      const r = await b.submit();
      if (!r.ok) throw new Error(`batch finished with ${JSON.stringify(r.counts)}`);
      return op === 'crc32c' ? r.value(0) : undefined;
    },
  };
}
