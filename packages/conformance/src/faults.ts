/**
 * TEST TOOL — a fault-injecting backend decorator. Never use it outside tests.
 *
 * `faultInjecting(backend, { rate, seed, kinds })` wraps any backend. Its sessions stand between
 * the Mover and the real engine: the Mover produces into its ring as usual; the decorator
 * consumes that ring, forwards descriptors into a private ring the real engine consumes, and
 * writes the completions back — injecting, at the set rate:
 *
 * - `register`     submit failure: `register()` throws DEVICE_ERROR (cause: an InjectedFault).
 * - `doorbell`     submit failure: `doorbell()` throws DEVICE_ERROR after the Mover published.
 * - `error-before` completion error: the descriptor is not run; it completes with IO_ERROR (errno EIO).
 * - `error-after`  completion error: the descriptor runs, then completes with IO_ERROR (errno EIO).
 * - `device`       device error: the descriptor is not run; it completes with a status no engine
 *                  defines (0x3e by default; the Mover must map it to DEVICE_ERROR).
 * - `partial`      partial completion: only the first half of the range is run (copy, fill, compare,
 *                  crc32c of 2 bytes or more); it completes with SHORT_IO and `bytesDone` = that half.
 * - `not-run`      the engine drops a descriptor: it completes NOT_RUN although nobody cancelled it.
 * - `delay`        progress reaches the Mover 0..maxDelayMs later (and coalesced).
 * - `reorder`      descriptors run out of order: each fence-free run of descriptors is shuffled
 *                  before it reaches the engine (a fenced descriptor never moves, nothing crosses it);
 *                  completions still reach the Mover in ring order, as the ring protocol requires.
 *
 * Descriptors go to the real engine with their work tags, so it keeps the failure rule for the
 * failures it sees; an injected failure holds nothing back (the suite's fault cases put no fenced
 * descriptor after one).
 *
 * `window` limits how many descriptors are handed to the real engine at once, so later ones stay
 * unclaimed in the Mover's ring and can still be cancelled. Every injected fault is logged with the
 * descriptor it hit (operation, region indexes, offsets, size), so a test can predict the exact
 * report the Mover must give.
 */
import { abi, datamoverError, ErrorCode, Ring, type Backend, type EngineSession, type RegionInfo } from '@datamover/core';
import { Rng } from './data.js';

const { CLAIM, COMPLETION, COMPLETION_FLAG_ERROR, CompletionStatus: S, OPCODE_BITS, RING_HEADER } = abi;

export const FAULT_KINDS = ['register', 'doorbell', 'error-before', 'error-after', 'device', 'partial', 'not-run', 'delay', 'reorder'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The kinds injected when none are named: everything except `doorbell` and `not-run`, whose handling the core leaves open (see the README). */
export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = ['register', 'error-before', 'error-after', 'device', 'partial', 'delay', 'reorder'];

/** Kinds that decide a descriptor's outcome. */
const DESCRIPTOR_KINDS: readonly FaultKind[] = ['error-before', 'error-after', 'device', 'partial', 'not-run'];

/**
 * Simulated engine bugs — not faults a Mover must survive but mistakes a backend must not make.
 * They exist to test the suite itself: with any of them the suite must report failures.
 * - `report-unrun-as-done`: some descriptors are never run but complete OK.
 * - `overrun`: copies and fills write one byte more than asked.
 * - `cross-fences`: descriptors are shuffled across fences.
 * - `run-cancelled`: descriptors the Mover cancelled are run anyway and reported not run.
 */
export const SIMULATED_BUGS = ['report-unrun-as-done', 'overrun', 'cross-fences', 'run-cancelled'] as const;
export type SimulatedBug = (typeof SIMULATED_BUGS)[number];

export interface FaultOptions {
  /** Probability, per decision point (a descriptor, a registration, a doorbell, a notification, a run of descriptors), that a fault is injected. */
  rate: number;
  seed?: number;
  kinds?: readonly FaultKind[];
  /** Upper bound of injected delays in milliseconds (default 5). */
  maxDelayMs?: number;
  /** Most descriptors handed to the real engine at once (default: the ring size). */
  window?: number;
  /** errno reported by `error-before` / `error-after` (default 5, EIO). */
  errno?: number;
  /** Completion status reported by `device` faults (default 0x3e: inside the engine ABI's range, below the backend-defined statuses, and defined by no engine). */
  deviceStatus?: number;
  /** Simulated engine bugs, to test the suite itself (see SIMULATED_BUGS). */
  bugs?: readonly SimulatedBug[];
  /** Probability per descriptor (or per run of descriptors) of each simulated bug (default 1). */
  bugRate?: number;
}

export interface FaultRecord {
  readonly kind: FaultKind;
  /** Which session (in open order) it hit. */
  readonly session: number;
  /** Ring index in the Mover's ring (descriptor faults). */
  readonly ringIndex?: number;
  readonly op?: string;
  readonly akey0?: number;
  readonly akey1?: number;
  readonly addr0?: number;
  readonly addr1?: number;
  /** Bytes the descriptor covers. */
  readonly bytes?: number;
  /** `partial`: bytes actually run. */
  readonly bytesDone?: number;
  /** Status written into the completion. */
  readonly status?: number;
  readonly errno?: number;
  /** `reorder`: how many descriptors the shuffled run held (ringIndex is its first). */
  readonly descriptors?: number;
  /** `delay`: how late the notification was. */
  readonly delayMs?: number;
  /** `register`: the region-table index refused. */
  readonly regionIndex?: number;
  /** `error-after`, `partial`: false when the real engine itself failed the descriptor, so the injected status was not applied. */
  readonly applied?: boolean;
}

/** The `cause` of every error the decorator throws. */
export class InjectedFault extends Error {
  constructor(
    readonly kind: FaultKind,
    message: string,
  ) {
    super(message);
  }
  override get name(): string {
    return 'InjectedFault';
  }
}

export interface FaultController {
  /** Every fault injected so far, in order. */
  readonly log: readonly FaultRecord[];
  /** Faults injected so far, by kind. */
  counts(): Record<FaultKind, number>;
  /** Changes the options from now on (e.g. `{ rate: 0 }` to stop injecting). */
  set(options: Partial<FaultOptions>): void;
  /** Clears the log. */
  clear(): void;
  /** Descriptors handed to a real engine and not yet completed, over all sessions. */
  readonly inFlight: number;
  /** Delay and notification timers pending. */
  readonly timers: number;
  /** Sessions opened and not yet closed. */
  readonly openSessions: number;
  /** Descriptors handed to real engines so far. */
  readonly forwarded: number;
}

export type FaultInjectingBackend = Backend & { readonly faults: FaultController };

/** TEST TOOL: wraps `inner` so that its sessions inject faults at `options.rate`. */
export function faultInjecting(inner: Backend, options: FaultOptions): FaultInjectingBackend {
  const state = new FaultState(options);
  const backend: FaultInjectingBackend = {
    name: inner.name,
    version: inner.version,
    kind: inner.kind,
    ...(inner.ringEntries === undefined ? {} : { ringEntries: inner.ringEntries }),
    probe: () => inner.probe(),
    capabilities: () => inner.capabilities(),
    async open(ring: Ring, onProgress: () => void): Promise<EngineSession> {
      const session = new FaultSession(state, inner.name, ring, onProgress, state.sessionCount++);
      await session.start(inner);
      return session;
    },
    faults: state.controller(),
  };
  return backend;
}

class FaultState {
  options: Required<Omit<FaultOptions, 'window' | 'kinds'>> & { window: number | undefined; kinds: Set<FaultKind> };
  readonly rng: Rng;
  readonly log: FaultRecord[] = [];
  sessionCount = 0;
  open = 0;
  inFlight = 0;
  timers = 0;
  forwarded = 0;

  constructor(o: FaultOptions) {
    this.rng = new Rng(o.seed ?? 1);
    this.options = normalise(o);
  }

  /** Whether a simulated bug strikes here. */
  bug(b: SimulatedBug): boolean {
    return this.options.bugs.includes(b) && this.rng.next() < this.options.bugRate;
  }

  /** Whether to inject a fault at a decision point where `kind` is possible. */
  roll(kind: FaultKind): boolean {
    return this.options.kinds.has(kind) && this.options.rate > 0 && this.rng.next() < this.options.rate;
  }

  /** A descriptor-level fault for a descriptor of `bytes` bytes (`sized`: it has a size field to cut), or undefined. */
  descriptorFault(bytes: number, sized: boolean): FaultKind | undefined {
    if (this.options.rate <= 0) return undefined;
    const candidates = DESCRIPTOR_KINDS.filter((k) => this.options.kinds.has(k) && (k !== 'partial' || (sized && bytes >= 2)));
    if (candidates.length === 0 || this.rng.next() >= this.options.rate) return undefined;
    return this.rng.pick(candidates);
  }

  controller(): FaultController {
    const self = this;
    return {
      get log() {
        return self.log;
      },
      counts() {
        const out = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
        for (const r of self.log) out[r.kind]++;
        return out;
      },
      set(o: Partial<FaultOptions>) {
        self.options = normalise({ ...denormalise(self.options), ...o });
      },
      clear() {
        self.log.length = 0;
      },
      get inFlight() {
        return self.inFlight;
      },
      get timers() {
        return self.timers;
      },
      get openSessions() {
        return self.open;
      },
      get forwarded() {
        return self.forwarded;
      },
    };
  }
}

function normalise(o: FaultOptions): FaultState['options'] {
  for (const b of o.bugs ?? []) if (!SIMULATED_BUGS.includes(b)) throw new RangeError(`unknown simulated bug ${String(b)}`);
  if (typeof o.rate !== 'number' || !(o.rate >= 0 && o.rate <= 1)) throw new RangeError(`fault rate must be in [0, 1], got ${String(o.rate)}`);
  for (const k of o.kinds ?? []) if (!FAULT_KINDS.includes(k)) throw new RangeError(`unknown fault kind ${String(k)}`);
  return {
    rate: o.rate,
    seed: o.seed ?? 1,
    kinds: new Set(o.kinds ?? DEFAULT_FAULT_KINDS),
    maxDelayMs: o.maxDelayMs ?? 5,
    window: o.window,
    errno: o.errno ?? 5,
    deviceStatus: o.deviceStatus ?? 0x3e,
    bugs: o.bugs ?? [],
    bugRate: o.bugRate ?? 1,
  };
}

function denormalise(o: FaultState['options']): FaultOptions {
  return { rate: o.rate, seed: o.seed, kinds: [...o.kinds], maxDelayMs: o.maxDelayMs, ...(o.window === undefined ? {} : { window: o.window }), errno: o.errno, deviceStatus: o.deviceStatus, bugs: o.bugs, bugRate: o.bugRate };
}

const VALID = 1 << OPCODE_BITS.valid;
const FENCE = 1 << OPCODE_BITS.fence;
const CB_CLAIM = COMPLETION.claim / 4;
const CB_STATUS = COMPLETION.status / 4;
const CB_DETAIL = COMPLETION.detail / 4;
const CB_RESULT = COMPLETION.result / 4;
const CB_FLAGS = COMPLETION.flags / 4;
const CB_SIGNAL = COMPLETION.signal / 4;

/** What to do to a forwarded descriptor's completion. */
const AFTER_NONE = 0;
const AFTER_ERROR = 1;
const AFTER_PARTIAL = 2;
/** Simulated bugs (suite self-tests). */
const AFTER_OVERRUN = 3;
const AFTER_NOT_RUN = 4;

class FaultSession implements EngineSession {
  readonly #state: FaultState;
  readonly #name: string;
  /** The Mover's ring (we consume it) and the real engine's ring (we produce into it). */
  readonly #outer: Ring;
  #inner!: Ring;
  #engine!: EngineSession;
  readonly #notify: () => void;
  readonly #id: number;
  readonly #mask: number;
  readonly #outerU64: BigUint64Array;
  /** Next outer index to take; outer Read_Index we have published; completed-but-unpublished flags. */
  #next = 0;
  #read = 0;
  readonly #done: Uint8Array;
  /** Inner slot → outer index, and what to do to its completion. */
  readonly #origin: Float64Array;
  readonly #after: Uint8Array;
  readonly #partialBytes: Float64Array;
  readonly #records: (FaultRecord | undefined)[];
  #notifyTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #timerIsImmediate = false;
  #closed = false;
  #pumping = false;

  constructor(state: FaultState, name: string, outer: Ring, notify: () => void, id: number) {
    this.#state = state;
    this.#name = name;
    this.#outer = outer;
    this.#notify = notify;
    this.#id = id;
    this.#mask = outer.entries - 1;
    this.#outerU64 = new BigUint64Array(outer.sab, 0, RING_HEADER.bytes / 8);
    this.#done = new Uint8Array(outer.entries);
    this.#origin = new Float64Array(outer.entries);
    this.#after = new Uint8Array(outer.entries);
    this.#partialBytes = new Float64Array(outer.entries);
    this.#records = new Array<FaultRecord | undefined>(outer.entries);
    if (state.options.window !== undefined && !(state.options.window >= 1)) throw new RangeError('fault window must be at least 1');
  }

  async start(inner: Backend): Promise<void> {
    this.#inner = new Ring(this.#outer.entries);
    this.#engine = await inner.open(this.#inner, () => this.#onInnerProgress());
    this.#state.open++;
    // Optional members (allocators, the backend's own error descriptions, and any the engine
    // contract gains later) pass straight through to the real engine.
    const engine = this.#engine as unknown as Record<string, unknown>;
    for (const key of ['allocateHost', 'describeError']) {
      const f = engine[key];
      if (typeof f === 'function') Object.defineProperty(this, key, { value: (f as (...a: unknown[]) => unknown).bind(this.#engine), enumerable: true });
    }
    if (this.#engine.memoryProviders) Object.defineProperty(this, 'memoryProviders', { value: this.#engine.memoryProviders, enumerable: true });
  }

  register(region: RegionInfo): void {
    if (this.#state.roll('register')) {
      this.#record({ kind: 'register', session: this.#id, regionIndex: region.index });
      throw datamoverError(ErrorCode.DEVICE_ERROR, `${this.#name}: injected fault: registering region ${region.index} failed`, {
        cause: new InjectedFault('register', 'injected registration failure'),
        detail: { backend: this.#name, injected: 'register' },
      });
    }
    this.#engine.register(region);
  }

  deregister(index: number): void {
    this.#engine.deregister(index);
  }

  doorbell(): void {
    if (this.#closed) return;
    if (this.#state.roll('doorbell')) {
      this.#record({ kind: 'doorbell', session: this.#id });
      throw datamoverError(ErrorCode.DEVICE_ERROR, `${this.#name}: injected fault: the doorbell failed`, {
        cause: new InjectedFault('doorbell', 'injected doorbell failure'),
        detail: { backend: this.#name, injected: 'doorbell' },
      });
    }
    this.#pump();
  }

  hold(active: boolean): void {
    this.#engine.hold(active);
  }

  stats(): Readonly<Record<string, number | string>> {
    return { ...(this.#engine.stats?.() ?? {}), injectedFaults: this.#state.log.length, forwarded: this.#state.forwarded };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.#state.open--;
    this.#engine.close();
  }

  // ---- the middle: outer ring → inner ring

  /** Takes published descriptors from the Mover's ring and hands them on (or fails them). */
  #pump(): void {
    if (this.#closed || this.#pumping) return;
    this.#pumping = true;
    try {
      const outer = this.#outer;
      const u32 = outer.u32;
      const write = Number(Atomics.load(this.#outerU64, RING_HEADER.writeIndex / 8));
      const window = Math.min(this.#state.options.window ?? Infinity, this.#inner.entries);
      const forward: number[] = [];
      let completedHere = false;
      while (this.#next < write && this.#inner.writeIndex - this.#inner.retired + forward.length < window) {
        const i = this.#next;
        const w = outer.slotWord(i);
        const word0 = Atomics.load(u32, w);
        if ((word0 & VALID) === 0) break; // counted but not yet published
        this.#next++;
        const cb = outer.completionWord(i);
        // Claim it from the Mover, as an engine does; a cancelled one is reported not run.
        if (Atomics.compareExchange(u32, cb + CB_CLAIM, CLAIM.pending, CLAIM.claimed) !== CLAIM.pending) {
          if (this.#state.bug('run-cancelled')) {
            this.#after[i & this.#mask] = AFTER_NOT_RUN;
            this.#records[i & this.#mask] = undefined;
            forward.push(i);
            continue;
          }
          this.#complete(i, S.NOT_RUN, 0, 0, 0);
          completedHere = true;
          continue;
        }
        const d = abi.decodeDescriptor(u32, w);
        const sized = d.op === 'copy' || d.op === 'fill' || d.op === 'compare' || d.op === 'crc32c';
        const bytes = sized ? d.size + 1 : d.op === 'writeImm' ? d.width : 0;
        const kind = d.op === 'nop' || d.op === 'unknown' ? undefined : this.#state.descriptorFault(bytes, sized);
        const where = describe(d, i, this.#id, bytes);
        const o = this.#state.options;
        if (kind === 'error-before') {
          this.#record({ kind, ...where, status: S.IO_ERROR, errno: o.errno });
          this.#complete(i, S.IO_ERROR, o.errno, 0, 0);
          completedHere = true;
        } else if (kind === 'device') {
          this.#record({ kind, ...where, status: o.deviceStatus });
          this.#complete(i, o.deviceStatus, 0, 0, 0);
          completedHere = true;
        } else if (kind === 'not-run') {
          this.#record({ kind, ...where, status: S.NOT_RUN });
          this.#complete(i, S.NOT_RUN, 0, 0, 0);
          completedHere = true;
        } else if (!kind && d.op !== 'nop' && this.#state.bug('report-unrun-as-done')) {
          this.#complete(i, S.OK, 0, d.op === 'compare' ? 0xffff_ffff : 0, d.op === 'compare' ? 0xffff_ffff : 0);
          completedHere = true;
        } else {
          this.#after[i & this.#mask] = kind === 'error-after' ? AFTER_ERROR : kind === 'partial' ? AFTER_PARTIAL : AFTER_NONE;
          if (!kind && (d.op === 'copy' || d.op === 'fill') && this.#state.bug('overrun')) this.#after[i & this.#mask] = AFTER_OVERRUN;
          this.#records[i & this.#mask] = kind ? { kind, ...where } : undefined;
          if (kind === 'partial') this.#partialBytes[i & this.#mask] = Math.floor(bytes / 2);
          forward.push(i);
        }
      }
      if (forward.length > 0) this.#forward(forward);
      if (completedHere) this.#advance();
    } finally {
      this.#pumping = false;
    }
  }

  #forward(indexes: number[]): void {
    const outer = this.#outer;
    const ou = outer.u32;
    const inner = this.#inner;
    const iu = inner.u32;
    let order = indexes;
    if (indexes.length > 1 && this.#state.bug('cross-fences')) order = this.#state.rng.shuffle([...indexes]);
    else if (indexes.length > 1 && this.#state.roll('reorder')) {
      order = [];
      let run: number[] = [];
      const flush = () => {
        if (run.length > 1) this.#record({ kind: 'reorder', session: this.#id, ringIndex: run[0]!, descriptors: run.length });
        order.push(...this.#state.rng.shuffle(run));
        run = [];
      };
      for (const i of indexes) {
        if ((ou[outer.slotWord(i)]! & FENCE) !== 0) {
          flush();
          order.push(i); // a fenced descriptor keeps its place; nothing crosses it
        } else run.push(i);
      }
      flush();
    }
    for (const i of order) {
      const j = inner.writeIndex++;
      const src = outer.slotWord(i);
      const dst = inner.slotWord(j);
      inner.arm(j);
      // The work tag (the failure rule) goes on unchanged, so the real engine keeps that rule.
      const tagIn = inner.completionWord(j) + CB_RESULT;
      const tagOut = outer.completionWord(i) + CB_RESULT;
      iu[tagIn] = ou[tagOut]!;
      iu[tagIn + 1] = ou[tagOut + 1]!;
      for (let k = 1; k < 14; k++) iu[dst + k] = ou[src + k]!;
      if (this.#after[i & this.#mask] === AFTER_PARTIAL) iu[dst + 1] = this.#partialBytes[i & this.#mask]! - 1; // size field: bytes - 1
      if (this.#after[i & this.#mask] === AFTER_OVERRUN) iu[dst + 1] = iu[dst + 1]! + 1;
      iu[dst + 14] = inner.completionOffset(j);
      iu[dst + 15] = 0;
      this.#origin[j & this.#mask] = i;
      inner.publish(j, this.#state.options.bugs.includes('cross-fences') ? ou[src]! & ~FENCE : ou[src]!);
    }
    this.#state.inFlight += order.length;
    this.#state.forwarded += order.length;
    inner.commit();
    this.#engine.doorbell();
  }

  /** The real engine finished some descriptors: write their completions into the Mover's ring. */
  #onInnerProgress(): void {
    if (this.#closed) return;
    const inner = this.#inner;
    inner.clearNotify();
    const read = inner.readIndex();
    const iu = inner.u32;
    const o = this.#state.options;
    for (let j = inner.retired; j < read; j++) {
      const i = this.#origin[j & this.#mask]!;
      const cb = inner.completionWord(j);
      let status = iu[cb + CB_STATUS]!;
      let detail = iu[cb + CB_DETAIL]! | 0;
      let lo = iu[cb + CB_RESULT]!;
      let hi = iu[cb + CB_RESULT + 1]!;
      const after = this.#after[i & this.#mask]!;
      const rec = this.#records[i & this.#mask];
      if (after === AFTER_NOT_RUN) status = S.NOT_RUN; // simulated bug: it ran, but is reported not run
      if ((after === AFTER_ERROR || after === AFTER_PARTIAL) && rec) {
        const applied = status === S.OK;
        if (applied && after === AFTER_ERROR) {
          status = S.IO_ERROR;
          detail = o.errno;
          lo = hi = 0;
        } else if (applied && after === AFTER_PARTIAL) {
          status = S.SHORT_IO;
          detail = 0;
          lo = this.#partialBytes[i & this.#mask]!;
          hi = 0;
        }
        this.#record({ ...rec, applied, status, ...(after === AFTER_ERROR ? { errno: o.errno } : { bytesDone: this.#partialBytes[i & this.#mask]! }) });
      }
      this.#records[i & this.#mask] = undefined;
      this.#after[i & this.#mask] = AFTER_NONE;
      this.#complete(i, status, detail, lo, hi);
      inner.retire(j);
      this.#state.inFlight--;
    }
    this.#pump();
    this.#advance();
  }

  #complete(i: number, status: number, detail: number, lo: number, hi: number): void {
    const u32 = this.#outer.u32;
    const cb = this.#outer.completionWord(i);
    u32[cb + CB_RESULT] = lo >>> 0;
    u32[cb + CB_RESULT + 1] = hi >>> 0;
    u32[cb + CB_STATUS] = status >>> 0;
    u32[cb + CB_DETAIL] = detail >>> 0;
    u32[cb + CB_FLAGS] = status === S.OK || status === S.NOT_RUN ? 0 : COMPLETION_FLAG_ERROR;
    Atomics.store(u32, cb + CB_SIGNAL, 0);
    this.#done[i & this.#mask] = 1;
  }

  /** Moves our copy of Read_Index over completed descriptors and schedules the Mover's notification. */
  #advance(): void {
    let moved = false;
    while (this.#read < this.#next && this.#done[this.#read & this.#mask] === 1) {
      this.#done[this.#read & this.#mask] = 0;
      this.#read++;
      moved = true;
    }
    if (!moved || this.#closed) return;
    // A pending notification (late or not) publishes the latest Read_Index when it fires.
    if (this.#notifyTimer !== undefined) return;
    this.#state.timers++;
    // Notifications always arrive asynchronously, as from a real engine; sometimes late.
    if (this.#state.roll('delay')) {
      const ms = this.#state.rng.next() * this.#state.options.maxDelayMs;
      this.#record({ kind: 'delay', session: this.#id, ringIndex: this.#read - 1, delayMs: Math.round(ms * 1000) / 1000 });
      this.#timerIsImmediate = false;
      this.#notifyTimer = setTimeout(() => this.#deliver(), ms);
    } else {
      this.#timerIsImmediate = true;
      this.#notifyTimer = setImmediate(() => this.#deliver());
    }
  }

  #deliver(): void {
    this.#notifyTimer = undefined;
    this.#state.timers--;
    if (this.#closed) return;
    Atomics.store(this.#outerU64, RING_HEADER.readIndex / 8, BigInt(this.#read));
    this.#notify();
  }

  #clearTimer(): void {
    if (this.#notifyTimer === undefined) return;
    if (this.#timerIsImmediate) clearImmediate(this.#notifyTimer as NodeJS.Immediate);
    else clearTimeout(this.#notifyTimer as NodeJS.Timeout);
    this.#notifyTimer = undefined;
    this.#state.timers--;
  }

  #record(r: FaultRecord): void {
    this.#state.log.push(r);
  }
}

function describe(d: abi.DecodedDescriptor, ringIndex: number, session: number, bytes: number): Omit<FaultRecord, 'kind'> {
  const base = { session, ringIndex, op: d.op, bytes };
  switch (d.op) {
    case 'copy':
    case 'compare':
      return { ...base, akey0: d.akey0, akey1: d.akey1, addr0: d.addr0, addr1: d.addr1 };
    case 'fill':
    case 'writeImm':
      return { ...base, akey1: d.akey1, addr1: d.addr1 };
    case 'crc32c':
      return { ...base, akey0: d.akey0, addr0: d.addr0 };
    default:
      return base;
  }
}
