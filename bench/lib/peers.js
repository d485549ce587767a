/**
 * The peers: what a user would pick instead of Datamover, measured in the same run on the same
 * cells. A peer entry is a name and, per operation it can do, a function that returns a runner
 * for one cell. Runners come in three styles:
 *
 *   sync(fn)         fn() runs one batch on the JS thread (it blocks the event loop meanwhile)
 *   async(fn)        fn() returns a Promise that settles when the batch is done
 *   external(fn)     fn(iterations, reps) takes that many samples in another process, each of
 *                    `reps` batches back to back (0: it picks), and returns the time per batch of
 *                    each sample (the C peer)
 *
 * `role: 'limit'` marks the machine's limit (drawn as a dashed line in the charts). Later
 * backend issues add their peers (ib_write_bw, gdsio) here.
 */
import { FILL_BYTE } from './memory.js';

const MiB = 1024 * 1024;

const sync = (run, memory = 'pools') => ({ style: 'sync', memory, run });
const async = (run, memory) => ({ style: 'async', memory, run });
const external = (runExternal) => ({ style: 'external', memory: 'external', runExternal });

/** A method of the C peer as a runner; unavailable when there is no compiler or the CPU lacks the instructions. */
function cMethod(method) {
  return (env, { size, batch }) => external((iterations, reps) => env.cpeer.run(method, size, batch, iterations, reps));
}
const cAvailable = (...methods) => (env) => {
  if (!env.cpeer) return env.cpeerReason;
  const missing = methods.filter((m) => !env.cpeer.supports(m));
  return missing.length === 0 ? true : `this CPU cannot run ${missing.join(', ')} (see the CPU flags in machine.cpuFlags)`;
};

/**
 * @typedef {object} PeerEntry
 * @property {string} name
 * @property {string} description
 * @property {Record<string, (env: object, cell: object) => object>} ops   operation → runner factory
 * @property {(env: object) => true | string} [available]  true, or why not
 * @property {import('./backends.js').Limit[]} [limits]  as for backends
 * @property {'limit'} [role]
 */

/** @type {PeerEntry[]} */
export const PEERS = [
  {
    name: 'Buffer.copy',
    description: "Node's Buffer.prototype.copy on the same memory, one call per operation",
    ops: {
      copy: ({ buffers: { src, dst } }, { size, batch }) =>
        sync(() => {
          for (let k = 0, o = 0; k < batch; k++, o += size) src.copy(dst, o, o, o + size);
        }),
    },
  },
  {
    name: 'TypedArray.set',
    description: 'Uint8Array.prototype.set of a subarray on the same memory, one call per operation',
    ops: {
      copy: ({ pools: { src, dst } }, { size, batch }) =>
        sync(() => {
          for (let k = 0, o = 0; k < batch; k++, o += size) dst.set(src.subarray(o, o + size), o);
        }),
    },
  },
  {
    name: 'Buffer.fill',
    description: "Node's Buffer.prototype.fill with a byte on the same memory, one call per operation",
    ops: {
      fill: ({ buffers: { dst } }, { size, batch }) =>
        sync(() => {
          for (let k = 0, o = 0; k < batch; k++, o += size) dst.fill(FILL_BYTE, o, o + size);
        }),
    },
  },
  {
    name: 'workers',
    description: 'worker_threads (one per core) copying or filling slices of SharedArrayBuffer pools with TypedArray.set/fill, coordinated with Atomics; the main thread awaits Atomics.waitAsync',
    ops: {
      copy: (env, { size, batch }) => async(() => env.workers().run('copy', size, batch), 'shared'),
      fill: (env, { size, batch }) => async(() => env.workers().run('fill', size, batch, FILL_BYTE), 'shared'),
    },
  },
  {
    name: 'JS crc32c',
    description: 'a table-driven CRC-32C in plain JavaScript (the soft package\'s oracle function), on the JS thread',
    ops: {
      crc32c: ({ pools: { src }, crc32c }, { size, batch }) =>
        sync(() => {
          let first = 0;
          for (let k = 0, o = 0; k < batch; k++, o += size) {
            const c = crc32c(src.subarray(o, o + size));
            if (k === 0) first = c;
          }
          return first;
        }),
    },
    available: (env) => (env.crc32c ? true : 'the soft package is not built'),
    limits: [{ overBatchBytes: 16 * MiB, reason: 'runs at ~0.25 GB/s on the JS thread: larger batches take seconds per sample' }],
  },
  {
    name: 'C memcpy',
    description: 'glibc memcpy in a C program (bench/peers/memcpy.c, cc -O2), one call per operation, its own page-aligned pools',
    ops: { copy: cMethod('memcpy') },
    available: cAvailable('memcpy'),
  },
  {
    name: 'C memset',
    description: 'glibc memset in the C program, one call per operation',
    ops: { fill: cMethod('memset') },
    available: cAvailable('memset'),
  },
  {
    name: 'C NT AVX2',
    description: 'non-temporal (streaming) 32-byte AVX2 stores in the C program, sfence after each operation',
    ops: { copy: cMethod('nt-avx2'), fill: cMethod('ntfill-avx2') },
    available: cAvailable('nt-avx2', 'ntfill-avx2'),
    role: 'limit',
  },
  {
    name: 'C NT AVX2 mt',
    description:
      "the C NT AVX2 copy split over the online CPUs (at most 4, soft's default striping width) for copies of 1 MiB and more, with helper threads that spin while a sample runs (no wake-ups): the machine's multi-core limit",
    ops: { copy: cMethod('nt-avx2-mt') },
    available: cAvailable('nt-avx2-mt'),
    role: 'limit',
  },
  {
    name: 'C NT AVX-512',
    description: 'non-temporal (streaming) 64-byte AVX-512 stores in the C program, sfence after each operation',
    ops: { copy: cMethod('nt-avx512'), fill: cMethod('ntfill-avx512') },
    available: cAvailable('nt-avx512', 'ntfill-avx512'),
    role: 'limit',
  },
  {
    name: 'C crc32c',
    description: 'the SSE4.2 crc32 instruction over 8-byte words in the C program, one stream',
    ops: { crc32c: cMethod('crc32c-sse42') },
    available: cAvailable('crc32c-sse42'),
  },
];
