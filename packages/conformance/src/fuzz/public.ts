/**
 * The public-surface fuzz: fast-check generates sequences of calls — alloc, wrap, slice, move,
 * release, copy, fill, compare, crc32c, writeImmediate, openFile, batches and Mover.open — with
 * valid and invalid arguments (wrong types, null, negative, huge, misspelled option keys,
 * released and moved regions, overlaps, two SharedArrayBuffer objects over one memory), and runs
 * them through the public API only. Around every call it snapshots every memory out of band; a
 * call that throws must throw a DatamoverError with one of the codes the model (model.ts) expects
 * and leave every byte as it was; a call that succeeds must have been expected to, and leave the
 * bytes and return the value the model computes. Any other outcome fails the property, and
 * fast-check shrinks it to a short sequence.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { Mover, type Batch, type Capabilities, type ErrorCode, type Region } from '@datamover/core';
import fc from 'fast-check';
import { describeError, isDatamoverError } from '../check.js';
import { resolveTarget } from '../context.js';
import { noise } from '../data.js';
import { fileProvider } from '../fixtures.js';
import type { ConformanceTarget, Fixture } from '../types.js';
import { defaults, handleFaults, isHandle, KEYS, optionFaults, planDescriptor, sizeFaults, submitFaults, type Codes, type Handle, type Host, type Mem, type Options, type Plan, type Reg, type State } from './model.js';

export interface PublicFuzzOptions {
  /** Calls to make in all (default 2,000). */
  readonly calls?: number;
  readonly seed?: number;
  /** Longest a call may take before it counts as a hang (default 10 s). */
  readonly timeoutMs?: number;
}

export interface PublicFuzzFigures {
  readonly target: string;
  readonly seed: number;
  calls: number;
  succeeded: number;
  /** Calls refused with a DatamoverError, by code. */
  typed: number;
  readonly codes: Record<string, number>;
  /** Calls that threw something else. */
  untyped: number;
  /** Refused calls after which some byte differed. */
  wroteOnRefusal: number;
  /** Successful calls with bytes or a value other than the model's, refused valid calls, accepted invalid ones, unexpected codes. */
  wrongResults: number;
  hangs: number;
  /** Operations the backend claims on any kinds. */
  readonly claimed: readonly string[];
  /** Successful calls by call name (`mover.copy`, `batch.submit`, `slice`, …): what the run reached. */
  readonly succeededBy: Record<string, number>;
}

/** How a number argument is drawn: a fraction of the room there is, a value past it, or a raw (often invalid) value. */
type Num = { frac: number } | { past: number } | { raw: unknown };
const RAW = [-1, 1.5, Number.NaN, Infinity, 2 ** 53, 2 ** 40, -0, '8', null, 8n, {}];
const num: fc.Arbitrary<Num> = fc.oneof(
  { weight: 12, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((frac) => ({ frac })) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((past) => ({ past })) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW).map((raw) => ({ raw })) },
);
const value = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 255 }), fc.constantFrom<unknown>(-1, 2n ** 64n, 1.5, '1', null));
/** Which optional keys are present (bits), plus a misspelled key or a non-object options bag now and then. */
const bag = fc.record({ keys: fc.nat(255), typo: fc.constantFrom(false, false, false, false, false, false, false, false, false, true), shape: fc.constantFrom('object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'object', 'null', 'number', 'absent') });
const submit = fc.constantFrom('none', 'none', 'none', 'none', 'none', 'none', 'timeout', 'badTimeout', 'badSignal', 'aborted', 'past', 'typo');
const pick = fc.nat(1000);
const OPS = ['copy', 'fill', 'compare', 'crc32c', 'writeImmediate', 'nop'] as const;
const desc = fc.record({
  call: fc.constantFrom(...OPS, 'copy', 'copy', 'fill'),
  a: pick,
  b: pick,
  junk: fc.constantFrom<unknown>(undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, null, 42, {}, 'region'),
  n: fc.tuple(num, num, num),
  value,
  width: fc.constantFrom<unknown>(1, 2, 4, 8, 8, 3),
  patternBytes: fc.constantFrom<unknown>(1, 8, 8, 2),
  seed: fc.oneof(fc.nat(0xffff_ffff), fc.constantFrom<unknown>(-1, 2 ** 32, 'x')),
  durable: fc.constantFrom<unknown>(undefined, undefined, undefined, true, 'yes'),
  backend: fc.constantFrom<'own' | 'nope' | undefined>(undefined, undefined, undefined, 'own', 'nope'),
  fence: fc.boolean(),
  bag,
});
type Desc = typeof desc extends fc.Arbitrary<infer T> ? T : never;
const call = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('alloc' as const), size: fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constantFrom<unknown>(-1, 2 ** 53, 5 * 2 ** 30, 1.5, '64', null)), alignment: fc.constantFrom<unknown>(undefined, undefined, 16, 4096, 3, -8, 'x'), bag }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('wrap' as const), src: fc.constantFrom('ab', 'sab', 'view', 'alias', 'alias', 'resizable', 'detached', 'junk'), size: fc.integer({ min: 1, max: 4096 }), pick, readOnly: fc.constantFrom<unknown>(undefined, undefined, true, false), bag }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('slice' as const), h: pick, off: num, len: fc.option(num) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), h: pick }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('move' as const), h: pick }) },
  { weight: 10, arbitrary: fc.record({ t: fc.constant('op' as const), d: desc, submit }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('batch' as const), ds: fc.array(desc, { minLength: 0, maxLength: 6 }), release: fc.option(pick, { freq: 6 }), submit }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('openFile' as const), path: fc.constantFrom('new', 'same', 'missing', 'empty', 'junk'), mode: fc.constantFrom<unknown>('rw', 'rw', 'r', 'w', undefined), off: num, len: fc.option(num), create: fc.constantFrom<unknown>(undefined, undefined, true), bag }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('foreign' as const), d: desc }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('alias' as const), shift: fc.integer({ min: -64, max: 64 }), length: fc.integer({ min: 1, max: 256 }), batch: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('open' as const), how: fc.constantFrom('valid', 'null', 'ring3', 'policy', 'typo', 'none') }) },
);
type Call = typeof call extends fc.Arbitrary<infer T> ? T : never;

const TYPO: Record<string, string> = { copy: 'lenght', fill: 'ofset', compare: 'aOfset', crc32c: 'sed', writeImmediate: 'widht', nop: 'fense', submit: 'timout', alloc: 'alignmnet', wrap: 'readonly', openFile: 'mod' };

/** An options bag: the keys `bits` selects from `entries`, shaped (or misspelled) as `b` says. */
function options(b: Desc['bag'], call: string, entries: [string, unknown][]): Options {
  if (b.shape === 'null') return null;
  if (b.shape === 'number') return 7;
  const o: Record<string, unknown> = {};
  entries.forEach(([k, v], i) => {
    if (v !== undefined && (b.keys >> i) & 1) o[k] = v;
  });
  if (b.typo) o[TYPO[call]!] = 1;
  if (b.shape === 'absent' && Object.keys(o).length === 0) return undefined;
  return o;
}

/** A number argument for a range in `room` bytes. */
function resolve(n: Num, room: number): unknown {
  if ('frac' in n) return Math.floor(n.frac * (room + 1));
  if ('past' in n) return room + n.past;
  return n.raw;
}

class Failure extends Error {}

/** What a call must do: refused with one of `codes` (when non-empty), else succeed as `run` says or be refused with one of `mayRefuse`. */
interface Expect extends Omit<Plan, 'names'> {
  readonly mayRefuse?: Codes;
}

/** One sequence of calls on a fresh Mover. */
class Session {
  readonly handles: Handle[] = [];
  readonly mems: Mem[] = [];
  readonly #regsOf = new Map<number, Reg[]>();
  readonly #fixtures: Fixture[] = [];
  readonly #files = new Map<string, Mem>();
  #serial = 0;
  #other: Mover | undefined;
  readonly host: Host;

  constructor(
    readonly mover: Mover,
    readonly caps: Capabilities,
    readonly figures: PublicFuzzFigures,
    readonly dir: string,
    readonly timeoutMs: number,
    readonly open: (o?: Record<string, unknown> | null) => Promise<Mover>,
  ) {
    this.host = { caps, backends: mover.backends, owns: () => true };
  }

  mem(snapshot: () => Promise<Uint8Array>): Mem {
    const m = { id: this.mems.length, snapshot };
    this.mems.push(m);
    return m;
  }

  register(region: Region, mem: Mem, start: number, writable: boolean, object?: unknown): Handle {
    const reg: Reg = { released: false, borrowers: 0, mem, kind: region.kind, persistent: region.space.persistent, writable, object };
    const regs = this.#regsOf.get(mem.id) ?? [];
    regs.push(reg);
    this.#regsOf.set(mem.id, regs);
    const h: Handle = { region, reg, start, length: region.length, parent: undefined, state: 'live' };
    this.handles.push(h);
    return h;
  }

  async fixture(f: Fixture): Promise<void> {
    this.#fixtures.push(f);
    const guard = f.guards ? (await f.guards()).before.length : 0;
    const mem = this.mem(async () => {
      const g = f.guards ? await f.guards() : { before: new Uint8Array(0), after: new Uint8Array(0) };
      return Buffer.concat([g.before, await f.read(), g.after]);
    });
    this.register(f.region, mem, guard, f.region.writable);
  }

  /** A handle: mostly a live one, sometimes any (moved, released). */
  pick(i: number): Handle | undefined {
    const live = this.handles.filter((h) => h.state === 'live' && !h.reg.released);
    const from = i % 4 === 0 || live.length === 0 ? this.handles : live;
    return from[(i >> 2) % Math.max(1, from.length)];
  }

  /** Snapshots of every memory some live registration still names. */
  async snapshot(): Promise<State> {
    const s: State = new Map();
    for (const m of this.mems) if (this.#regsOf.get(m.id)?.some((r) => !r.released)) s.set(m.id, await m.snapshot());
    return s;
  }

  /**
   * Runs one call against its plan: `codes` non-empty means it must be refused with one of them;
   * `run` computes the expected bytes and value of a success, `check` the value returned.
   */
  async call<T>(what: string, plan: Expect, f: () => Promise<T> | T, check?: (value: T, expected: number | undefined) => boolean): Promise<{ ok: true; value: T } | { ok: false }> {
    const fg = this.figures;
    fg.calls++;
    const before = await this.snapshot();
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | 'hang';
    let timer: NodeJS.Timeout | undefined;
    try {
      const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), this.timeoutMs)));
      outcome = await Promise.race([Promise.resolve().then(f).then((value) => ({ ok: true as const, value })), hang]);
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'hang') {
      fg.hangs++;
      throw new Failure(`${what}: did not settle within ${this.timeoutMs} ms`);
    }
    const after = await this.snapshot();
    if (!outcome.ok) {
      const e = outcome.error;
      if (!isDatamoverError(e)) {
        fg.untyped++;
        throw new Failure(`${what}: threw ${describeError(e)} (not a DatamoverError)`);
      }
      fg.typed++;
      fg.codes[e.code] = (fg.codes[e.code] ?? 0) + 1;
      for (const [id, b] of before) {
        if (!Buffer.from(b).equals(Buffer.from(after.get(id) ?? new Uint8Array(0)))) {
          fg.wroteOnRefusal++;
          throw new Failure(`${what}: refused (${e.code}) but memory ${id} changed`);
        }
      }
      if (plan.codes.length === 0 && plan.mayRefuse?.includes(e.code as ErrorCode)) return { ok: false };
      if (plan.codes.length === 0) {
        fg.wrongResults++;
        throw new Failure(`${what}: the model expected success, got ${describeError(e)}`);
      }
      if (!plan.codes.includes(e.code as ErrorCode)) {
        fg.wrongResults++;
        throw new Failure(`${what}: expected ${plan.codes.join(' or ')}, got ${describeError(e)}`);
      }
      return { ok: false };
    }
    fg.succeeded++;
    const name = what.slice(0, what.indexOf('(') >>> 0);
    fg.succeededBy[name] = (fg.succeededBy[name] ?? 0) + 1;
    if (plan.codes.length) {
      fg.wrongResults++;
      throw new Failure(`${what}: succeeded, but the model expected ${plan.codes.join(' or ')}`);
    }
    const state: State = new Map([...before].map(([id, b]) => [id, b.slice()]));
    const expected = plan.run?.(state);
    for (const [id, b] of state) {
      if (!after.has(id)) continue; // freed by this call (a release)
      if (!Buffer.from(b).equals(Buffer.from(after.get(id)!))) {
        fg.wrongResults++;
        throw new Failure(`${what}: memory ${id} differs from the model's`);
      }
    }
    if (check && !check(outcome.value, expected)) {
      fg.wrongResults++;
      throw new Failure(`${what}: returned ${String(outcome.value)}, the model says ${expected}`);
    }
    return outcome;
  }

  /** Concrete arguments of a descriptor call. */
  args(d: Desc): { name: string; args: unknown[]; opts: Record<string, unknown> | Options } {
    const a: unknown = d.junk ?? this.pick(d.a);
    const b: unknown = this.pick(d.b);
    const la = isHandle(a) ? a.length : 64;
    const lb = isHandle(b) ? b.length : 64;
    const [n0, n1, n2] = d.n;
    const desc = (extra: [string, unknown][]) => [...extra, ['fence', d.fence || undefined], ['backend', d.backend === 'own' ? this.mover.backends[0] : d.backend === 'nope' ? 'no-such-backend' : undefined]] as [string, unknown][];
    switch (d.call) {
      case 'copy': {
        const srcOffset = resolve(n0, lb);
        const dstOffset = resolve(n1, la);
        const room = Math.min(lb - (typeof srcOffset === 'number' ? srcOffset : 0), la - (typeof dstOffset === 'number' ? dstOffset : 0));
        const opts = options(d.bag, 'copy', desc([['srcOffset', srcOffset], ['dstOffset', dstOffset], ['length', resolve(n2, Math.max(0, room))], ['durable', d.durable]]));
        return { name: 'copy', args: [a, b, opts], opts };
      }
      case 'compare': {
        const aOffset = resolve(n0, la);
        const bOffset = resolve(n1, lb);
        const room = Math.min(la - (typeof aOffset === 'number' ? aOffset : 0), lb - (typeof bOffset === 'number' ? bOffset : 0));
        const opts = options(d.bag, 'compare', desc([['aOffset', aOffset], ['bOffset', bOffset], ['length', resolve(n2, Math.max(0, room))]]));
        return { name: 'compare', args: [a, b, opts], opts };
      }
      case 'fill':
      case 'crc32c': {
        const offset = resolve(n0, la);
        const length = resolve(n1, Math.max(0, la - (typeof offset === 'number' ? offset : 0)));
        const extra: [string, unknown][] = d.call === 'fill' ? [['patternBytes', d.patternBytes], ['durable', d.durable]] : [['seed', d.seed]];
        const opts = options(d.bag, d.call, desc([['offset', offset], ['length', length], ...extra]));
        // Half the patterns fit one byte, the default patternBytes.
        const pattern = typeof d.value === 'bigint' && d.fence ? d.value & 0xffn : d.value;
        return { name: d.call, args: d.call === 'fill' ? [a, pattern, opts] : [a, opts], opts };
      }
      case 'writeImmediate': {
        const width = typeof d.width === 'number' ? d.width : 8;
        const opts = options(d.bag, 'writeImmediate', desc([['offset', resolve(n0, Math.max(0, la - width))], ['width', d.width], ['durable', d.durable]]));
        const v = typeof d.value === 'bigint' && width < 8 ? d.value & ((1n << BigInt(8 * width)) - 1n) : d.value;
        return { name: 'writeImmediate', args: [a, v, opts], opts };
      }
      default: {
        const opts = options(d.bag, 'nop', desc([]));
        return { name: 'nop', args: [opts], opts };
      }
    }
  }

  submitOptions(kind: string, into: Record<string, unknown> = {}): Options {
    const o = { ...into };
    if (kind === 'timeout') o['timeout'] = 30_000;
    else if (kind === 'badTimeout') o['timeout'] = -5;
    else if (kind === 'badSignal') o['signal'] = { aborted: false };
    else if (kind === 'aborted') o['signal'] = AbortSignal.abort();
    else if (kind === 'past') o['deadline'] = Date.now() - 1000;
    else if (kind === 'typo') o[TYPO['submit']!] = 1;
    return o;
  }

  /** Calls `name` on `target` (a Batch or the Mover) with handles replaced by their regions. */
  invoke(target: Batch | Mover, name: string, args: unknown[]): unknown {
    const real = args.map((x) => (isHandle(x) ? x.region : x));
    return (target as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...real);
  }

  async op(d: Desc, submit: string): Promise<void> {
    const { name, args, opts } = this.args(d);
    let o = opts;
    if (submit !== 'none' && (o === undefined || (typeof o === 'object' && o !== null))) {
      o = this.submitOptions(submit, (o ?? {}) as Record<string, unknown>);
      args[args.length - 1] = o;
    }
    const plan = planDescriptor(this.host, name, args, true);
    // A faulty descriptor is refused before the submit options are looked at.
    const s = submitFaults(o, false);
    const codes = [...plan.codes, ...(plan.codes.length ? [] : s.codes)];
    if (s.cancels) codes.push(s.cancels);
    const full = { ...plan, codes };
    await this.call(`mover.${name}(${describeArgs(args)})`, full, () => this.invoke(this.mover, name, args) as Promise<unknown>, (v, expected) => {
      if (name === 'compare') return expected === -1 ? (v as { equal: boolean }).equal : (v as { offset?: number }).offset === expected;
      if (name === 'crc32c') return v === expected;
      return v === undefined;
    });
  }

  async batch(ds: Desc[], release: number | null, submit: string): Promise<void> {
    const b = await this.call('mover.batch()', { codes: [] }, () => this.mover.batch());
    if (!b.ok) return;
    const batch = b.value;
    const accepted: Plan[] = [];
    for (const d of ds) {
      const { name, args } = this.args(d);
      const plan = planDescriptor(this.host, name, args, false);
      // Adding writes nothing: the plan's effect is checked at submit.
      const r = await this.call(`batch.${name}(${describeArgs(args)})`, { codes: plan.codes }, () => this.invoke(batch, name, args));
      if (r.ok) accepted.push(plan);
    }
    if (release !== null) await this.release(this.pick(release));
    const o = this.submitOptions(submit);
    const s = submitFaults(o);
    const codes: Codes = [...s.codes];
    if (accepted.some((p) => p.names?.some((h) => h.reg.released))) codes.push('REGION_RELEASED');
    // An empty batch has nothing a deadline could cancel (an aborted signal still refuses it).
    if (s.cancels && (accepted.length > 0 || s.cancels === 'ABORTED')) codes.push(s.cancels);
    const run = (state: State) => {
      values = accepted.map((p) => p.run?.(state) ?? 0);
      return undefined;
    };
    let values: number[] = [];
    await this.call(
      `batch.submit(${describeArgs([o])}) of ${accepted.length}`,
      { codes, run },
      () => batch.submit(o as never),
      (r) => values.every((v, i) => r.value(i) === v),
    );
  }

  async release(h: Handle | undefined): Promise<void> {
    if (!h) return;
    const f = handleFaults(h);
    const busy = f.length === 0 && !h.parent && h.reg.borrowers > 0;
    // A slice with live slices of its own: released today (issue 20, item 9, may make it REGION_BUSY).
    const parentOfLive = f.length === 0 && !!h.parent && this.handles.some((x) => x.parent === h && x.state === 'live');
    const r = await this.call(`release(${label(h)})`, { codes: busy ? ['REGION_BUSY'] : f, ...(parentOfLive ? { mayRefuse: ['REGION_BUSY'] as Codes } : {}) }, () => h.region.release());
    if (!r.ok) return;
    h.state = 'released';
    if (h.parent) h.reg.borrowers--;
    else h.reg.released = true;
  }

  async run(c: Call): Promise<void> {
    switch (c.t) {
      case 'alloc': {
        const o = options(c.bag, 'alloc', [['alignment', c.alignment]]);
        const size = c.size;
        const codes = [...optionFaults(o, KEYS['alloc']!), ...sizeFaults(size)];
        if (codes.length === 0 && (size as number) > 4 * 2 ** 30) codes.push('SIZE_TOO_LARGE');
        const al = defaults(o, [])['alignment'];
        if (al !== undefined && !(typeof al === 'number' && Number.isSafeInteger(al) && al >= 1 && (al & (al - 1)) === 0)) codes.push('INVALID_ARGUMENT');
        // Stronger than 16-byte alignment needs an engine allocator, which a backend may not have.
        const mayRefuse: Codes = typeof al === 'number' && al > 16 ? ['UNSUPPORTED_OPERATION'] : [];
        const r = await this.call(`alloc(${describeArgs([size, o])})`, { codes, mayRefuse }, () => this.mover.alloc(size as number, o as never));
        if (r.ok) {
          const view = r.value.bytes();
          this.register(r.value, this.mem(async () => view.slice()), 0, true);
        }
        return;
      }
      case 'wrap': {
        const o = options(c.bag, 'wrap', [['readOnly', c.readOnly]]);
        const codes = optionFaults(o, KEYS['wrap']!);
        const ro = o !== null && typeof o === 'object' && o['readOnly'] === true;
        let arg: unknown;
        let mem: Mem | undefined;
        let start = 0;
        let object: unknown;
        const source = this.handles.find((h, i) => i >= c.pick % Math.max(1, this.handles.length) && h.reg.object instanceof SharedArrayBuffer && !h.reg.released);
        if (c.src === 'ab' || c.src === 'sab' || c.src === 'view' || (c.src === 'alias' && !source)) {
          const lead = c.src === 'view' ? 8 + (c.size % 24) : 0;
          const buf = c.src === 'ab' ? new ArrayBuffer(c.size + 2 * lead) : new SharedArrayBuffer(c.size + 2 * lead);
          const all = new Uint8Array(buf);
          all.set(noise(all.length, this.#serial++));
          arg = c.src === 'view' ? new DataView(buf, lead, c.size) : buf;
          mem = this.mem(async () => all.slice());
          start = lead;
          object = buf;
        } else if (c.src === 'alias') {
          const sab = source!.reg.object as SharedArrayBuffer;
          arg = structuredClone(sab); // another SharedArrayBuffer object over the same memory
          mem = source!.reg.mem;
          object = arg;
        } else if (c.src === 'resizable') {
          const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer; // ES2024, typed from lib es2024 only
          arg = new Resizable(c.size, { maxByteLength: c.size * 2 });
          codes.push('INVALID_ARGUMENT');
        } else if (c.src === 'detached') {
          const ab = new ArrayBuffer(c.size);
          const { port1, port2 } = new MessageChannel();
          port1.postMessage(ab, [ab]); // transferred: `ab` is detached here
          port1.close();
          port2.close();
          arg = ab;
          codes.push('DETACHED_BUFFER');
        } else {
          arg = [null, 42, 'buffer', {}, [1, 2]][c.size % 5];
          codes.push('INVALID_ARGUMENT');
        }
        const r = await this.call(`wrap(${describeArgs([arg, o])})`, { codes }, () => this.mover.wrap(arg as ArrayBuffer, o as never));
        if (r.ok) this.register(r.value, mem!, start, !ro, object);
        return;
      }
      case 'slice': {
        const h = this.pick(c.h);
        if (!h) return;
        const off = resolve(c.off, h.length);
        const len = c.len === null ? undefined : resolve(c.len, Math.max(0, h.length - (typeof off === 'number' ? off : 0)));
        const codes = [...handleFaults(h)];
        if (codes.length === 0) {
          codes.push(...sizeFaults(off));
          const n = len === undefined ? (typeof off === 'number' ? h.length - off : undefined) : len;
          if (codes.length === 0) codes.push(...sizeFaults(n));
          if (codes.length === 0 && (off as number) + (n as number) > h.length) codes.push('OUT_OF_BOUNDS');
        }
        const r = await this.call(`slice(${label(h)}, ${describeArgs([off, len])})`, { codes }, () => (len === undefined ? h.region.slice(off as number) : h.region.slice(off as number, len as number)));
        if (r.ok) {
          h.reg.borrowers++;
          const s: Handle = { region: r.value, reg: h.reg, start: h.start + (off as number), length: r.value.length, parent: h, state: 'live' };
          this.handles.push(s);
        }
        return;
      }
      case 'release':
        return this.release(this.pick(c.h));
      case 'move': {
        const h = this.pick(c.h);
        if (!h) return;
        const r = await this.call(`move(${label(h)})`, { codes: handleFaults(h) }, () => h.region.move());
        if (r.ok) {
          h.state = 'moved';
          this.handles.push({ ...h, region: r.value, state: 'live' });
        }
        return;
      }
      case 'op':
        return this.op(c.d, c.submit);
      case 'batch':
        return this.batch(c.ds, c.release, c.submit);
      case 'openFile':
        return this.openFile(c);
      case 'foreign': {
        // The same call on another Mover: every region argument is foreign there.
        this.#other ??= await this.open();
        const { name, args } = this.args(c.d);
        const plan = planDescriptor({ ...this.host, owns: () => false }, name, args, true);
        await this.call(`other.${name}(${describeArgs(args)})`, plan, () => this.invoke(this.#other!, name, args) as Promise<unknown>);
        return;
      }
      case 'alias':
        return this.aliasCopy(c.shift, c.length, c.batch);
      case 'open':
        return this.openMover(c.how);
    }
  }

  async openFile(c: Extract<Call, { t: 'openFile' }>): Promise<void> {
    const SIZE = 4096;
    let path: unknown;
    if (c.path === 'junk') path = 17;
    else if (c.path === 'empty') path = '';
    else if (c.path === 'missing') path = join(this.dir, `missing-${this.#serial++}.bin`);
    else if (c.path === 'same' && this.#files.size > 0) path = [...this.#files.keys()][c.off && 'frac' in c.off ? Math.floor(c.off.frac * this.#files.size) % this.#files.size : 0];
    else {
      path = join(this.dir, `f-${this.#serial++}.bin`);
      writeFileSync(path as string, noise(SIZE, this.#serial));
      const p = path as string;
      this.#files.set(p, this.mem(async () => new Uint8Array(readFileSync(p))));
    }
    const mode = c.mode;
    const writable = mode === 'rw';
    const offset = resolve(c.off, SIZE);
    // A writable region may extend the file; the fuzz keeps writable ones inside it.
    const room = Math.max(0, SIZE - (typeof offset === 'number' ? offset : 0));
    const length = c.len === null ? undefined : writable && 'past' in c.len ? room : resolve(c.len, room);
    const o = options(c.bag, 'openFile', [['mode', mode], ['offset', offset], ['length', length], ['create', c.create]]);
    const codes = optionFaults(o, KEYS['openFile']!);
    const oo = defaults(o, ['length']);
    const m = oo['mode'] ?? 'r';
    if (typeof path !== 'string' || path === '') codes.push('INVALID_ARGUMENT');
    if (m !== 'r' && m !== 'rw') codes.push('INVALID_ARGUMENT');
    if (m === 'r' && oo['create']) codes.push('INVALID_ARGUMENT');
    codes.push(...sizeFaults(oo['offset']), ...sizeFaults(oo['length']));
    const exists = typeof path === 'string' && this.#files.has(path);
    if (codes.length === 0 && !exists && !(m === 'rw' && oo['create'])) codes.push('IO_ERROR');
    const off = (oo['offset'] as number | undefined) ?? 0;
    const len = oo['length'] as number | undefined;
    if (codes.length === 0 && exists && (len === undefined ? off > SIZE : off + len > SIZE && m === 'r')) codes.push('OUT_OF_BOUNDS');
    const grows = codes.length === 0 && (!exists || (len !== undefined && off + len > SIZE));
    const r = await this.call(`openFile(${describeArgs([path, o])})`, { codes }, () => this.mover.openFile(path as string, o as never));
    if (!r.ok) return;
    if (grows) {
      // Created or extended: not modelled further (its bytes are the file system's zeroes).
      await r.value.release();
      rmSync(path as string, { force: true });
      return;
    }
    this.register(r.value, this.#files.get(path as string)!, off, m === 'rw');
  }

  /**
   * A copy between two SharedArrayBuffer objects over one memory, `shift` bytes apart: an overlap
   * the library must refuse (issue 20, item 7). The pair is wrapped here when there is none yet.
   */
  async aliasCopy(shift: number, length: number, batch: boolean): Promise<void> {
    const SIZE = 1024;
    const live = (h: Handle) => h.state === 'live' && !h.reg.released && !h.parent && h.reg.object instanceof SharedArrayBuffer;
    let a = this.handles.find((h) => live(h) && h.length === SIZE);
    let b = a && this.handles.find((h) => live(h) && h !== a && h.reg.mem === a!.reg.mem && h.reg.object !== a!.reg.object);
    if (!a || !b) {
      const sab = new SharedArrayBuffer(SIZE);
      new Uint8Array(sab).set(noise(SIZE, this.#serial++));
      const copy = new Uint8Array(sab);
      const mem = this.mem(async () => copy.slice());
      const ra = await this.call('wrap(SharedArrayBuffer)', { codes: [] }, () => this.mover.wrap(sab));
      const twin = structuredClone(sab);
      const rb = await this.call('wrap(its twin)', { codes: [] }, () => this.mover.wrap(twin));
      if (!ra.ok || !rb.ok) return;
      a = this.register(ra.value, mem, 0, true, sab);
      b = this.register(rb.value, mem, 0, true, twin);
    }
    const src = 256;
    const d: Record<string, unknown> = { srcOffset: src, dstOffset: src + shift, length };
    if (batch) {
      const bt = this.mover.batch();
      const plan = planDescriptor(this.host, 'copy', [b, a, d], false);
      const r = await this.call(`batch.copy(twin, sab, ${describeArgs([d])})`, { codes: plan.codes }, () => this.invoke(bt, 'copy', [b, a, d]));
      if (r.ok) await this.call('batch.submit() of the aliased copy', { codes: [], run: plan.run ?? (() => undefined) }, () => bt.submit());
      return;
    }
    const plan = planDescriptor(this.host, 'copy', [b, a, d], true);
    await this.call(`mover.copy(twin, sab, ${describeArgs([d])})`, plan, () => this.invoke(this.mover, 'copy', [b, a, d]) as Promise<unknown>);
  }

  async openMover(how: string): Promise<void> {
    const opts: Record<string, unknown> | null | undefined = { valid: { ringEntries: 64 }, null: null, ring3: { ringEntries: 3 }, policy: { policy: 'fastest' }, typo: { backendz: [] }, none: { backends: [] } }[how];
    const codes: Codes = how === 'valid' ? [] : how === 'none' ? ['BACKEND_UNAVAILABLE'] : ['INVALID_ARGUMENT'];
    const r = await this.call(`Mover.open(${describeArgs([opts])})`, { codes }, () => this.open(opts));
    if (!r.ok) return;
    await r.value.close();
    await this.call('alloc() on a closed Mover', { codes: ['MOVER_CLOSED'] }, () => r.value.alloc(64));
  }

  async close(): Promise<void> {
    await this.#other?.close();
    await this.mover.close();
    for (const f of this.#fixtures) await f.dispose();
  }
}

function label(h: Handle): string {
  return `${h.region.kind}[${h.start}+${h.length}]${h.parent ? ' slice' : ''} ${h.state}`;
}

function describeArgs(args: readonly unknown[]): string {
  return args
    .map((a) => {
      if (isHandle(a)) return label(a);
      if (typeof a === 'bigint') return `${a}n`;
      if (a instanceof ArrayBuffer || a instanceof SharedArrayBuffer) return `${a.constructor.name}(${a.byteLength})`;
      if (ArrayBuffer.isView(a)) return `${a.constructor.name}(${a.byteLength})`;
      if (a instanceof AbortSignal) return `AbortSignal(${a.aborted ? 'aborted' : 'live'})`;
      if (a !== null && typeof a === 'object') return `{${Object.entries(a).map(([k, v]) => `${k}: ${describeArgs([v])}`).join(', ')}}`;
      return typeof a === 'string' ? JSON.stringify(a) : String(a);
    })
    .join(', ');
}

/**
 * Fuzzes `target` through the public API: resolves with the figures, or rejects with
 * fast-check's report (the shrunk sequence of calls and the seed) on the first disagreement.
 */
export async function fuzzPublic(target: ConformanceTarget, options: PublicFuzzOptions = {}): Promise<PublicFuzzFigures> {
  const rt = resolveTarget(target);
  const seed = options.seed ?? rt.seed;
  const figures: PublicFuzzFigures = { target: rt.name, seed, calls: 0, succeeded: 0, typed: 0, codes: {}, untyped: 0, wroteOnRefusal: 0, wrongResults: 0, hangs: 0, succeededBy: {}, claimed: [...new Set(rt.caps.operations.map((o) => o.op))] };
  const total = options.calls ?? 2000;
  const dir = mkdtempSync(join(target.tmpdir ?? tmpdir(), 'dm-fuzz-'));
  const providers = new Map(rt.providers);
  providers.set('file', fileProvider(() => dir));
  const kinds = [...providers.keys()].filter((k) => rt.caps.operations.some((o) => o.src === k || o.dst === k) || k === 'host');
  let failed = false;
  const open = (o: Record<string, unknown> | null | undefined = {}) =>
    Mover.open(o === null || typeof o !== 'object' ? (o as never) : ({ backends: [target.factory()], ...o } as never));
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 5, maxLength: 40 }), async (calls) => {
        // Once the budget is spent the remaining runs are empty, unless one failed: then shrinking replays.
        if (figures.calls >= total && !failed) return;
        const s = new Session(await open(), rt.caps, figures, dir, options.timeoutMs ?? 10_000, open);
        try {
          for (const [i, k] of kinds.entries()) {
            for (const [j, readOnly] of [false, false, true].entries()) {
              const size = 64 + ((calls.length * 131 + i * 37 + j * 17) % 2000);
              await s.fixture(await providers.get(k)!.create(s.mover, size, { guard: 64, readOnly, contents: noise(size, size) }));
            }
          }
          for (const c of calls) await s.run(c);
        } catch (e) {
          failed = true;
          throw e;
        } finally {
          await s.close();
        }
      }),
      { seed, numRuns: Math.ceil(total / 10), endOnFailure: false },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

/** Calls every run must have made succeed at least once, or it did not reach the surface. */
export const PUBLIC_SURFACE = ['alloc', 'wrap', 'slice', 'move', 'release', 'openFile', 'Mover.open', 'mover.nop', 'batch.submit'] as const;
/** Operations that must have succeeded once, one-shot or in a batch, where the backend claims them. */
const OPERATIONS = { copy: 'copy', fill: 'fill', compare: 'compare', crc32c: 'crc32c', writeImmediate: 'writeImm' } as const;

/** What is wrong with a run asked for `calls` calls: empty for a clean one. */
export function publicFuzzProblems(f: PublicFuzzFigures, calls: number): string[] {
  const problems: string[] = [];
  const zero = { untyped: f.untyped, wroteOnRefusal: f.wroteOnRefusal, wrongResults: f.wrongResults, hangs: f.hangs };
  for (const [k, v] of Object.entries(zero)) if (v !== 0) problems.push(`${k}: ${v}`);
  if (f.calls < calls) problems.push(`made ${f.calls} of ${calls} calls`);
  if (f.succeeded < calls / 5 || f.typed < calls / 5) problems.push(`unbalanced: ${f.succeeded} succeeded, ${f.typed} refused`);
  for (const c of PUBLIC_SURFACE) if (!f.succeededBy[c]) problems.push(`no ${c} call succeeded`);
  for (const [call, op] of Object.entries(OPERATIONS)) {
    if (f.claimed.includes(op) && !f.succeededBy[`mover.${call}`] && !f.succeededBy[`batch.${call}`]) problems.push(`no ${call} succeeded`);
  }
  return problems;
}
