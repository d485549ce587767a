/**
 * Checking what plain-JavaScript callers pass to public calls: an options bag holds only the keys
 * its call understands (a misspelled key is refused, not ignored), and a region argument is a
 * Region. One place for both, so every public entry point refuses bad input the same way.
 */
import type { CompareOptions, CompareStridedOptions, CopyOptions, CopyStridedOptions, Crc32cOptions, Crc32cStridedOptions, DescriptorOptions, FillOptions, FillStridedOptions, SubmitOptions, WriteImmediateOptions } from './batch.js';
import { datamoverError, ErrorCode } from './errors.js';
import type { OpenFileOptions } from './files.js';
import type { MoverOptions } from './mover.js';
import type { PlanOptions, TransferOptions } from './plan/planner.js';
import { Region } from './region.js';

/** The default of every options parameter: shared, so a call without options allocates nothing. */
export const NO_OPTIONS: Readonly<Record<string, never>> = Object.freeze({});

/** Keys a call takes, as a lookup table (a keyed load is cheaper than Set.has on the batch hot path). */
export type KeySet = Readonly<Record<string, true>>;
function keySet(keys: Iterable<string>): KeySet {
  // A plain object keeps V8's fast properties; inherited names (toString, …) are functions, never `true`.
  const table: Record<string, true> = {};
  for (const k of keys) table[k] = true;
  return Object.freeze(table);
}

/** The key set of an options type; the compiler refuses a list that misses or misspells a key. */
const keysOf =
  <T>() =>
  <const K extends readonly (keyof T & string)[]>(...keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : never)): KeySet =>
    keySet(keys);

const SUBMIT = ['signal', 'timeout', 'deadline', 'stopOnError', 'inline'] as const;
const DESCRIPTOR = ['fence', 'backend'] as const;

/** Keys each call takes. A Mover one-shot operation takes its descriptor's keys plus the submit keys. */
export const OPTION_KEYS = {
  copy: keysOf<CopyOptions>()(...DESCRIPTOR, 'durable', 'srcOffset', 'dstOffset', 'length'),
  fill: keysOf<FillOptions>()(...DESCRIPTOR, 'durable', 'offset', 'length', 'patternBytes'),
  compare: keysOf<CompareOptions>()(...DESCRIPTOR, 'aOffset', 'bOffset', 'length'),
  crc32c: keysOf<Crc32cOptions>()(...DESCRIPTOR, 'offset', 'length', 'seed'),
  writeImmediate: keysOf<WriteImmediateOptions>()(...DESCRIPTOR, 'durable', 'offset', 'width'),
  nop: keysOf<DescriptorOptions>()(...DESCRIPTOR),
  copyStrided: keysOf<CopyStridedOptions>()(...DESCRIPTOR, 'durable', 'count', 'blockBytes', 'srcOffset', 'dstOffset', 'srcStride', 'dstStride'),
  fillStrided: keysOf<FillStridedOptions>()(...DESCRIPTOR, 'durable', 'count', 'blockBytes', 'offset', 'stride', 'patternBytes'),
  compareStrided: keysOf<CompareStridedOptions>()(...DESCRIPTOR, 'count', 'blockBytes', 'aOffset', 'bOffset', 'aStride', 'bStride'),
  crc32cStrided: keysOf<Crc32cStridedOptions>()(...DESCRIPTOR, 'count', 'blockBytes', 'offset', 'stride', 'seed'),
  submit: keysOf<SubmitOptions>()(...SUBMIT),
  open: keysOf<MoverOptions>()('backends', 'policy', 'ringEntries', 'inline', 'inlineModel', 'staging'),
  plan: keysOf<PlanOptions>()('srcOffset', 'dstOffset', 'length', 'integrity'),
  transfer: keysOf<TransferOptions>()('srcOffset', 'dstOffset', 'length', 'integrity', 'signal', 'timeout', 'deadline'),
  close: keysOf<{ abort?: boolean }>()('abort'),
  wrap: keysOf<{ readOnly?: boolean; kind?: 'host' }>()('readOnly', 'kind'),
  alloc: keysOf<{ alignment?: number; kind?: 'host' }>()('alignment', 'kind'),
  openFile: keysOf<OpenFileOptions>()('offset', 'length', 'mode', 'create', 'truncate', 'direct'),
} as const;

/** Core's keys of alloc() and wrap() for a backend's memory kind; the provider declares the rest. */
const PROVIDED_KEYS = { alloc: ['kind', 'alignment'], wrap: ['kind', 'size', 'readOnly'] } as const;
/** The keys alloc() or wrap() takes for a backend's memory kind: core's own plus those its provider declares (MemoryProvider). */
export function providedKeys(call: keyof typeof PROVIDED_KEYS, declared: readonly string[] | undefined): KeySet {
  return keySet([...PROVIDED_KEYS[call], ...(declared ?? [])]);
}

const withSubmit = (keys: KeySet): KeySet => keySet([...Object.keys(keys), ...Object.keys(OPTION_KEYS.submit)]);
/** What a Mover one-shot operation (`mover.copy()`, …) takes: its descriptor's keys plus the submit keys. */
export const ONE_SHOT_KEYS = {
  copy: withSubmit(OPTION_KEYS.copy),
  fill: withSubmit(OPTION_KEYS.fill),
  compare: withSubmit(OPTION_KEYS.compare),
  crc32c: withSubmit(OPTION_KEYS.crc32c),
  writeImmediate: withSubmit(OPTION_KEYS.writeImmediate),
  nop: withSubmit(OPTION_KEYS.nop),
} as const;

/**
 * Throws INVALID_ARGUMENT unless `value` is undefined or an object whose keys all lie in
 * `allowed`; the message names the call and every unknown key.
 */
export function checkOptions(call: string, value: unknown, allowed: KeySet): void {
  if (value === undefined || value === NO_OPTIONS) return;
  if (value === null || typeof value !== 'object') refuseOptions(call, value, allowed);
  for (const k in value) if (allowed[k] !== true) refuseOptions(call, value, allowed);
}

/** checkOptions for a call whose options bag is required (the strided operations: count, blockBytes). */
export function requiredOptions<T>(call: string, value: T | undefined, allowed: KeySet): T {
  if (value === undefined) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${call}: options are required (count, blockBytes, …)`);
  checkOptions(call, value, allowed);
  return value;
}

/** The refusal, kept out of checkOptions so that stays small enough to inline on the hot path. */
function refuseOptions(call: string, value: unknown, allowed: KeySet): never {
  if (value === null || typeof value !== 'object') {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${call}: options must be an object, got ${value === null ? 'null' : typeof value}`);
  }
  const unknown: string[] = [];
  for (const x in value) if (allowed[x] !== true) unknown.push(x);
  throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${call}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((x) => `'${x}'`).join(', ')} (known: ${Object.keys(allowed).join(', ')})`);
}

/** Throws INVALID_ARGUMENT unless `x` is a Region handle (from Mover.wrap, alloc, openFile, …). */
export function assertRegion(x: unknown, what: string): asserts x is Region {
  if (!(x instanceof Region)) refuseRegion(x, what);
}

function refuseRegion(x: unknown, what: string): never {
  throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${what} must be a Region (from Mover.wrap, alloc or openFile), got ${x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x}`);
}
