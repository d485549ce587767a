/**
 * `datamover explain <src> <dst>`: opens every available backend, names the two ends as regions and
 * prints the transfer plan between them (`plan.explain()`), or why none exists. Nothing is written.
 * An end is `host:SIZE`, `file:PATH` (or a bare path), or `dax:PATH` (needs @datamover/backend-cxl).
 */
import { parseArgs } from 'node:util';
import { DatamoverError, Mover, type Region } from '@datamover/core';
import { findBackends, KNOWN_BACKENDS } from './backends.js';
import { CliError } from './errors.js';
import { parseSize } from './format.js';

export const EXPLAIN_USAGE = `datamover explain <src> <dst> [--integrity]
      the route a transfer between two regions takes (hops, host copies, rejected routes and why);
      an end is host:SIZE, file:PATH (or a path) or dax:PATH`;

/** The region an end names; the destination is opened writable (a plan refuses a read-only one) but never written. */
async function endOf(mover: Mover, spec: string, what: string, mode: 'r' | 'rw'): Promise<Region> {
  const colon = spec.indexOf(':');
  const scheme = colon > 0 ? spec.slice(0, colon) : 'file';
  const rest = colon > 0 ? spec.slice(colon + 1) : spec;
  if (scheme === 'host') return mover.alloc(parseSize(rest, `${what} host size`));
  if (scheme === 'file') return mover.openFile(rest, { mode });
  if (scheme === 'dax') {
    const { openDax } = await import('@datamover/backend-cxl');
    return openDax(mover, rest, { mode });
  }
  throw new CliError('INVALID_ARGUMENT', `${what} "${spec}": an end is host:SIZE, file:PATH or dax:PATH (gpu and remote regions come from a program, not a name)`);
}

export async function explainCommand(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { integrity: { type: 'boolean', default: false } } });
  if (positionals.length !== 2) throw new CliError('INVALID_ARGUMENT', `explain takes a source and a destination, got ${positionals.length}\nusage: ${EXPLAIN_USAGE}`);
  const found = await findBackends(KNOWN_BACKENDS.filter((k) => k.id !== 'soft-ts'));
  const mover = await Mover.open({ backends: found.flatMap((f) => (f.backend ? [f.backend] : [])) });
  try {
    const src = await endOf(mover, positionals[0]!, 'source', 'r');
    const dst = await endOf(mover, positionals[1]!, 'destination', 'rw');
    const plan = mover.plan(dst, src, { length: Math.min(src.length, dst.length), ...(values.integrity ? { integrity: 'crc32c' as const } : {}) });
    out.write(`${plan.explain()}\n`);
    return 0;
  } catch (e) {
    if (e instanceof DatamoverError && e.code === 'UNREACHABLE') {
      out.write(`${String(e.detail?.explain)}\n`);
      return 1;
    }
    throw e;
  } finally {
    await mover.close();
  }
}
