/**
 * `datamover copy`: moves a byte range of one file into another through the Mover, in chunks
 * with several in flight, then optionally checks crc32c of both ranges.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Mover, type Region } from '@datamover/core';
import { allocHost, engineLabel, isEngineChoice, softBackend } from './backends.js';
import { CliError } from './errors.js';
import { formatBytes, formatRate, formatSeconds, parseSize, Progress } from './format.js';

export const COPY_USAGE = `datamover copy <src> <dst> [options]
  --offset N        first byte of <src> to copy (default 0)
  --length N        bytes to copy (default: to the end of <src>)
  --dst-offset N    where in <dst> the range lands (default 0); <dst> is created or extended
  --chunk N         bytes per descriptor (default 64MiB, at most 4GiB)
  --queue-depth N   chunks in flight at once (default 4)
  --engine E        soft engine: native, ts or auto (default auto: native when built)
  --via-host        stage through host buffers instead of file→file descriptors
  --verify          compare crc32c of the source and destination ranges afterwards
  Sizes take KiB/MiB/GiB (or k/M/G, also 1024-based) and kB/MB/GB (1000-based).`;

/** Host staging memory a --via-host copy may hold at once. */
const STAGING_BUDGET = 512 * 1024 * 1024;
/** The largest range one descriptor carries. */
const MAX_CHUNK = 2 ** 32;

export interface CopyPlan {
  src: string;
  dst: string;
  offset: number;
  length: number | undefined;
  dstOffset: number;
  chunk: number;
  depth: number;
  engine: 'native' | 'ts' | 'auto';
  viaHost: boolean;
  verify: boolean;
}

export function parseCopyArgs(argv: string[]): CopyPlan {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      offset: { type: 'string' },
      length: { type: 'string' },
      'dst-offset': { type: 'string' },
      chunk: { type: 'string' },
      'queue-depth': { type: 'string' },
      engine: { type: 'string' },
      'via-host': { type: 'boolean', default: false },
      verify: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 2) {
    throw new CliError('INVALID_ARGUMENT', `copy takes a source and a destination file, got ${positionals.length} path(s)\nusage: ${COPY_USAGE}`);
  }
  const engine = values.engine ?? 'auto';
  if (!isEngineChoice(engine)) throw new CliError('INVALID_ARGUMENT', `--engine must be native, ts or auto, got "${engine}"`);
  const chunk = values.chunk === undefined ? 64 * 1024 * 1024 : parseSize(values.chunk, '--chunk');
  if (chunk < 1 || chunk > MAX_CHUNK) throw new CliError('INVALID_SIZE', `--chunk must be between 1 byte and 4GiB, got ${chunk}`);
  const depth = values['queue-depth'] === undefined ? 4 : parseSize(values['queue-depth'], '--queue-depth');
  if (depth < 1 || depth > 64) throw new CliError('INVALID_ARGUMENT', `--queue-depth must be between 1 and 64, got ${depth}`);
  return {
    src: positionals[0]!,
    dst: positionals[1]!,
    offset: values.offset === undefined ? 0 : parseSize(values.offset, '--offset'),
    length: values.length === undefined ? undefined : parseSize(values.length, '--length'),
    dstOffset: values['dst-offset'] === undefined ? 0 : parseSize(values['dst-offset'], '--dst-offset'),
    chunk,
    depth,
    engine,
    viaHost: values['via-host'],
    verify: values.verify,
  };
}

export async function copyCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WriteStream): Promise<number> {
  const plan = parseCopyArgs(argv);
  const mover = await Mover.open({ backends: [softBackend(plan.engine)] });
  try {
    const src = await mover.openFile(plan.src, { mode: 'r', offset: plan.offset, ...(plan.length === undefined ? {} : { length: plan.length }) });
    const length = src.length;
    refuseOverlap(plan, length);
    const dst = await mover.openFile(plan.dst, { mode: 'rw', create: true, offset: plan.dstOffset, length });
    const direct = !plan.viaHost && supportsFileToFile(mover);
    const label = `copy ${plan.src} → ${plan.dst}`;
    const progress = new Progress(err, length, label);
    const t0 = performance.now();
    const chunks = await moveChunks(mover, dst, src, length, plan, direct, (done) => progress.update(done));
    const seconds = (performance.now() - t0) / 1000;
    progress.done(length);
    out.write(
      `copied ${formatBytes(length)} (${length} bytes) in ${formatSeconds(seconds)}: ${formatRate(length, seconds)}` +
        ` | ${engineLabel(mover)} | ${direct ? 'file → file descriptors' : 'file → host → file staging'}, ${chunks} chunk(s) of ≤ ${formatBytes(plan.chunk)}\n`,
    );
    if (plan.verify) {
      const [a, b] = await Promise.all([crc32cOf(mover, src, plan.chunk), crc32cOf(mover, dst, plan.chunk)]);
      if (a !== b) {
        throw new CliError('VERIFY_FAILED', `crc32c of ${plan.dst} [${plan.dstOffset}, +${length}) is ${hex(b)}, source ${plan.src} [${plan.offset}, +${length}) is ${hex(a)}`);
      }
      out.write(`verified: crc32c ${hex(a)} of source and destination ranges match\n`);
    }
    return 0;
  } finally {
    await mover.close();
  }
}

/** Copying a range onto an overlapping range of the same file in chunks would read bytes it already overwrote. */
function refuseOverlap(plan: CopyPlan, length: number): void {
  let s;
  let d;
  try {
    s = statSync(plan.src);
    d = statSync(plan.dst);
  } catch {
    return; // the destination does not exist yet
  }
  if (s.dev !== d.dev || s.ino !== d.ino) return;
  if (length > 0 && plan.offset < plan.dstOffset + length && plan.dstOffset < plan.offset + length) {
    throw new CliError('OVERLAPPING_RANGES', `source [${plan.offset}, +${length}) and destination [${plan.dstOffset}, +${length}) overlap in the same file`);
  }
}

function supportsFileToFile(mover: Mover): boolean {
  try {
    mover.explain('copy', 'file', 'file');
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the copy as `depth` workers, each submitting one chunk (one batch) at a time, so up to
 * `depth` chunks are in flight. The first failure aborts the others. Returns the chunk count.
 */
async function moveChunks(mover: Mover, dst: Region, src: Region, length: number, plan: CopyPlan, direct: boolean, onProgress: (done: number) => void): Promise<number> {
  const chunks = Math.ceil(length / plan.chunk);
  if (chunks === 0) return 0;
  const depth = Math.max(1, Math.min(plan.depth, chunks, direct ? plan.depth : Math.floor(STAGING_BUDGET / plan.chunk)));
  const abort = new AbortController();
  let next = 0;
  let done = 0;
  let failure: unknown;
  const worker = async () => {
    const stage = direct ? undefined : allocHost(mover, Math.min(plan.chunk, length));
    try {
      while (next < length && !abort.signal.aborted) {
        const off = next;
        const n = Math.min(plan.chunk, length - off);
        next += n;
        const batch = mover.batch();
        if (stage) {
          batch.copy(stage, src, { srcOffset: off, length: n });
          batch.copy(dst, stage, { dstOffset: off, length: n, fence: true });
        } else batch.copy(dst, src, { srcOffset: off, dstOffset: off, length: n });
        await batch.submit({ signal: abort.signal });
        done += n;
        onProgress(done);
      }
    } catch (e) {
      if (failure === undefined) failure = e;
      abort.abort();
    } finally {
      await stage?.release();
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  if (failure !== undefined) throw unwrapBatchFailure(failure);
  return chunks;
}

/** A one-descriptor failure reads better as itself than as "1 of 1 descriptors failed". */
function unwrapBatchFailure(e: unknown): unknown {
  const x = e as { code?: unknown; cause?: unknown };
  return x.code === 'BATCH_FAILED' && x.cause ? x.cause : e;
}

/** CRC-32C of a whole region, chained chunk by chunk (each descriptor carries at most 4 GiB). */
export async function crc32cOf(mover: Mover, region: Region, chunk: number): Promise<number> {
  let crc = 0;
  for (let off = 0; off < region.length; off += chunk) {
    crc = await mover.crc32c(region, { offset: off, length: Math.min(chunk, region.length - off), seed: crc });
  }
  return crc;
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
