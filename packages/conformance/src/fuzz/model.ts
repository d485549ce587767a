/**
 * The public fuzz's model: what each call must do, worked out from the arguments' values alone
 * (never from the library's own checks). A call is refused when any of its faults is present —
 * the model lists them all and accepts any of their codes, so it does not depend on the order in
 * which the library checks — and otherwise has an effect on the model's copy of each memory and a
 * value. Memory identity is the model's own: two SharedArrayBuffer objects over one memory, or
 * two regions of one file, are one memory.
 */
import type { Capabilities, ErrorCode, Region, SpaceKind } from '@datamover/core';
import { crc32c, fillBytes, leBytes } from '../data.js';

/** Memory the fuzz can read out of band: a buffer it holds, a fixture's file, … */
export interface Mem {
  readonly id: number;
  snapshot(): Promise<Uint8Array>;
}

/** A registration: freed once its owning handle is released. */
export interface Reg {
  released: boolean;
  borrowers: number;
  readonly mem: Mem;
  readonly kind: SpaceKind;
  readonly persistent: boolean;
  readonly writable: boolean;
  /** The JS buffer object a host region was wrapped from (two objects can share one memory). */
  readonly object?: unknown;
}

/** A region handle as the model sees it. */
export interface Handle {
  readonly region: Region;
  readonly reg: Reg;
  /** Offset of the handle's first byte in its memory's snapshot. */
  readonly start: number;
  readonly length: number;
  readonly parent: Handle | undefined;
  state: 'live' | 'moved' | 'released';
}

export type Codes = ErrorCode[];
/** The model's bytes of each memory, by id. */
export type State = Map<number, Uint8Array>;
export interface Plan {
  /** Codes of the faults present; empty: the call must succeed. */
  readonly codes: Codes;
  /** What a successful call does to the memories, and its value (compare, crc32c). */
  readonly run?: (state: State) => number | undefined;
  /** Handles a descriptor names (checked again at submit). */
  readonly names?: readonly Handle[];
}

const DESCRIPTOR = ['fence', 'backend'];
const SUBMIT = ['signal', 'timeout', 'deadline'];
/** The option keys each call documents (batch.ts, mover.ts): the model's own list. */
export const KEYS: Record<string, readonly string[]> = {
  copy: [...DESCRIPTOR, 'durable', 'srcOffset', 'dstOffset', 'length'],
  fill: [...DESCRIPTOR, 'durable', 'offset', 'length', 'patternBytes'],
  compare: [...DESCRIPTOR, 'aOffset', 'bOffset', 'length'],
  crc32c: [...DESCRIPTOR, 'offset', 'length', 'seed'],
  writeImmediate: [...DESCRIPTOR, 'durable', 'offset', 'width'],
  nop: DESCRIPTOR,
  submit: SUBMIT,
  alloc: ['alignment'],
  wrap: ['readOnly'],
  openFile: ['offset', 'length', 'mode', 'create', 'truncate', 'direct'],
};
const OP_OF: Record<string, string> = { writeImmediate: 'writeImm' };

export type Options = Record<string, unknown> | null | undefined | number | string;

/** Faults of an options argument: not an object, or a key the call does not take. */
export function optionFaults(value: Options, keys: readonly string[]): Codes {
  if (value === undefined) return [];
  if (value === null || typeof value !== 'object') return ['INVALID_ARGUMENT'];
  return Object.keys(value).some((k) => !keys.includes(k)) ? ['INVALID_ARGUMENT'] : [];
}

/** Faults of a size or offset (undefined: its default, no fault). */
export function sizeFaults(v: unknown): Codes {
  if (v === undefined) return [];
  if (typeof v !== 'number' && typeof v !== 'bigint') return ['INVALID_ARGUMENT'];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? [] : ['INVALID_SIZE'];
}

/** Faults of an unsigned integer that must fit `bytes` bytes (a pattern, a value, a seed). */
function unsignedFaults(v: unknown, bytes: number): Codes {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else return ['INVALID_ARGUMENT'];
  return b >= 0n && b < 1n << BigInt(8 * bytes) ? [] : ['INVALID_ARGUMENT'];
}

/** Faults of a region argument; undefined when it is usable. */
export function handleFaults(h: Handle | unknown, write = false): Codes {
  if (!isHandle(h)) return ['INVALID_ARGUMENT'];
  if (h.state === 'moved') return ['USE_AFTER_MOVE'];
  if (h.state === 'released' || h.reg.released || (h.parent && h.parent.state === 'released')) return ['REGION_RELEASED'];
  if (write && !h.reg.writable) return ['ACCESS_DENIED'];
  return [];
}

export function isHandle(h: unknown): h is Handle {
  return typeof h === 'object' && h !== null && 'reg' in h && 'region' in h;
}

/**
 * The range of `n` bytes (default: the rest) from `offset` (default 0) of a handle, or undefined,
 * with every fault either value has pushed to `codes`.
 */
function range(h: Handle | undefined, offset: unknown, n: unknown, codes: Codes, room?: number): { off: number; n: number } | undefined {
  const fo = sizeFaults(offset);
  const fn = sizeFaults(n);
  codes.push(...fo, ...fn);
  if (!h || fo.length) return undefined;
  const off = (offset as number | undefined) ?? 0;
  if (off > h.length) {
    codes.push('OUT_OF_BOUNDS');
    return undefined;
  }
  if (fn.length) return undefined;
  const len = (n as number | undefined) ?? room ?? h.length - off;
  if (off + len > h.length) {
    codes.push('OUT_OF_BOUNDS');
    return undefined;
  }
  return { off, n: len };
}

/**
 * An options bag's values with null read as absent: the library takes `?? default` for every
 * optional value except those in `strict` (copy's and compare's `length`, openFile's `length`),
 * where null is a wrong type.
 */
export function defaults(opts: Options, strict: readonly string[]): Record<string, unknown> {
  if (opts === null || typeof opts !== 'object') return {};
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) if (v !== null || strict.includes(k)) o[k] = v;
  return o;
}

/** What the model knows of the Mover a call goes to. */
export interface Host {
  readonly caps: Capabilities;
  readonly backends: readonly string[];
  /** Whether a region belongs to this Mover. */
  owns(h: Handle): boolean;
}

function routeFaults(host: Host, op: string, src: SpaceKind | null, dst: SpaceKind | null, o: Record<string, unknown>): Codes {
  if (o['backend'] !== undefined && !host.backends.includes(o['backend'] as string)) return ['BACKEND_UNAVAILABLE'];
  return host.caps.operations.some((s) => s.op === op && s.src === src && s.dst === dst) ? [] : ['UNSUPPORTED_OPERATION'];
}

function durableFaults(host: Host, dst: Handle, durable: unknown): Codes {
  if (durable === undefined || durable === false) return [];
  if (durable !== true) return ['INVALID_ARGUMENT'];
  if (!dst.reg.persistent) return ['NOT_PERSISTENT'];
  return host.caps.durable?.includes(dst.reg.kind) ? [] : ['UNSUPPORTED_OPERATION'];
}

/** An operand's faults (pushed to `codes`); the handle when it is usable enough to check its ranges. */
function operand(host: Host, h: unknown, write: boolean, codes: Codes): Handle | undefined {
  if (!isHandle(h)) {
    codes.push('INVALID_ARGUMENT');
    return undefined;
  }
  const state = handleFaults(h);
  if (state.length) {
    codes.push(...state);
    return undefined;
  }
  if (!host.owns(h)) codes.push('FOREIGN_REGION');
  if (write && !h.reg.writable) codes.push('ACCESS_DENIED');
  return h;
}

const at = (state: State, h: Handle) => state.get(h.reg.mem.id)!;

/**
 * One descriptor — copy, fill, compare, crc32c, writeImmediate or nop — as a batch add or a
 * one-shot call. Every fault the arguments hold is listed; the library may report any of them.
 */
export function planDescriptor(host: Host, call: string, args: readonly unknown[], oneShot: boolean): Plan {
  const opts = args[args.length - 1] as Options;
  const codes: Codes = optionFaults(opts, oneShot ? [...KEYS[call]!, ...SUBMIT] : KEYS[call]!);
  const o = defaults(opts, call === 'copy' || call === 'compare' ? ['length'] : []);
  const op = OP_OF[call] ?? call;
  const plan = (names: Handle[], run: (s: State) => number | undefined): Plan => (codes.length ? { codes } : { codes, names, run });
  switch (call) {
    case 'copy':
    case 'compare': {
      const [x, y] = call === 'copy' ? [args[1], args[0]] : [args[0], args[1]]; // x is read; y written (copy) or read
      const a = operand(host, x, false, codes);
      const b = operand(host, y, call === 'copy', codes);
      const [ka, kb] = call === 'copy' ? ['srcOffset', 'dstOffset'] : ['aOffset', 'bOffset'];
      let n = o['length'];
      if (n === undefined && a && b && sizeFaults(o[ka]).length + sizeFaults(o[kb]).length === 0) {
        const ra = a.length - ((o[ka] as number | undefined) ?? 0);
        const rb = b.length - ((o[kb] as number | undefined) ?? 0);
        if (ra >= 0 && rb >= 0 && ra !== rb) codes.push('LENGTH_MISMATCH');
        n = ra;
      }
      const ra = range(a, o[ka], n, codes);
      const rb = range(b, o[kb], n, codes);
      if (a && b) codes.push(...routeFaults(host, op, a.reg.kind, b.reg.kind, o));
      if (b && call === 'copy') codes.push(...durableFaults(host, b, o['durable']));
      if (!a || !b || !ra || !rb) return { codes };
      const len = ra.n;
      const [pa, pb] = [a.start + ra.off, b.start + rb.off];
      const overlap = call === 'copy' && len > 0 && a.reg.mem === b.reg.mem && pa < pb + len && pb < pa + len;
      if (overlap) codes.push('OVERLAPPING_RANGES');
      if (call === 'copy') return plan([a, b], (s) => void at(s, b).set(at(s, a).slice(pa, pa + len), pb));
      return plan([a, b], (s) => {
        const p = at(s, a).subarray(pa, pa + len);
        const q = at(s, b).subarray(pb, pb + len);
        for (let i = 0; i < len; i++) if (p[i] !== q[i]) return i;
        return -1;
      });
    }
    case 'fill':
    case 'writeImmediate':
    case 'crc32c': {
      const d = operand(host, args[0], call !== 'crc32c', codes);
      let r: { off: number; n: number } | undefined;
      let run: (s: State) => number | undefined = () => undefined;
      if (call === 'writeImmediate') {
        const width = o['width'] ?? 8;
        if (width !== 1 && width !== 2 && width !== 4 && width !== 8) return { codes: [...codes, 'INVALID_ARGUMENT'] };
        codes.push(...unsignedFaults(args[1], width));
        r = range(d, o['offset'], width, codes);
        if (d && r) run = (s) => void at(s, d).set(leBytes(BigInt(args[1] as number | bigint), width), d.start + r!.off);
      } else if (call === 'crc32c') {
        codes.push(...unsignedFaults(o['seed'] ?? 0, 4));
        r = range(d, o['offset'], o['length'], codes);
        if (d && r) run = (s) => crc32c(at(s, d).subarray(d.start + r!.off, d.start + r!.off + r!.n), Number(o['seed'] ?? 0));
      } else {
        const pb = o['patternBytes'] ?? 1;
        if (pb !== 1 && pb !== 8) codes.push('INVALID_ARGUMENT');
        else codes.push(...unsignedFaults(args[1], pb));
        r = range(d, o['offset'], o['length'], codes);
        if (d && r && (pb === 1 || pb === 8)) run = (s) => void at(s, d).set(fillBytes(r!.n, BigInt(args[1] as number | bigint), pb), d.start + r!.off);
      }
      if (d) codes.push(...(call === 'crc32c' ? routeFaults(host, op, d.reg.kind, null, o) : routeFaults(host, op, null, d.reg.kind, o)));
      if (d && call !== 'crc32c') codes.push(...durableFaults(host, d, o['durable']));
      return d && r ? plan([d], run) : { codes };
    }
    default:
      codes.push(...routeFaults(host, 'nop', null, null, o));
      return plan([], () => undefined);
  }
}

/** Submit options: their faults, and what they cancel (an aborted signal, a deadline already past). */
export function submitFaults(opts: Options, checkKeys = true): { codes: Codes; cancels?: ErrorCode } {
  const codes = checkKeys ? optionFaults(opts, SUBMIT) : [];
  if (codes.length || opts === undefined || opts === null || typeof opts !== 'object') return { codes };
  const { signal, timeout, deadline } = opts as Record<string, unknown>;
  if (signal !== undefined && !(signal instanceof AbortSignal)) codes.push('INVALID_ARGUMENT');
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) codes.push('INVALID_ARGUMENT');
  if (deadline !== undefined && (typeof deadline !== 'number' || Number.isNaN(deadline))) codes.push('INVALID_ARGUMENT');
  if (codes.length) return { codes };
  if (signal instanceof AbortSignal && signal.aborted) return { codes, cancels: 'ABORTED' };
  if (typeof deadline === 'number' && deadline <= Date.now()) return { codes, cancels: 'DEADLINE_EXCEEDED' };
  return { codes };
}
