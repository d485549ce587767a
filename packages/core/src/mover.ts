/**
 * The Mover: the public facade. It opens backends into sessions and hands each concern to its
 * module: regions to the region table (region-table.ts), routing to the router (router.ts),
 * batches to submission (submission.ts).
 */
import { markAsUntransferable } from 'node:worker_threads';
import type { Backend, EngineSession, MemoryProvider, Operation, ProbeResult } from './backend.js';
import type { BatchResult } from './batch-result.js';
import { Batch, type BatchHost, type CompareOptions, type CopyOptions, type Crc32cOptions, type DescriptorOptions, type FillOptions, type SubmitOptions, type WriteImmediateOptions } from './batch.js';
import { collector } from './collector.js';
import { DatamoverError, datamoverError, ErrorCode } from './errors.js';
import { closeFileMemory, openFileMemory, type OpenFileOptions } from './files.js';
import type { BackendMemory, HostMemory, Memory } from './memory.js';
import { assertRegion, checkOptions, NO_OPTIONS, ONE_SHOT_KEYS, OPTION_KEYS, providedKeys } from './options.js';
import { checkAllocationSize, checkSize, type Region, type Registration } from './region.js';
import { RegionTable } from './region-table.js';
import { defaultBackends } from './registry.js';
import { Ring } from './ring/ring.js';
import type { Plan } from './plan/plan.js';
import { Planner, type PlanOptions, type PlanStats, type TransferOptions } from './plan/planner.js';
import { checkStaging, type StagingOptions } from './plan/staging.js';
import type { TransferResult } from './plan/transfer-result.js';
import { Router, type Fallback, type RoutingPolicy } from './router.js';
import { supportSet, type Session } from './session.js';
import { Submission } from './submission.js';
import { fileSpace, HOST_SPACE, type AddressSpace, type SpaceKind } from './spaces.js';
import { Submitter, type SubmitterStats } from './submitter.js';
import { checkInlineCosts, environmentInlineCosts } from './calibration.js';
import { checkInlineMode, defaultInlineMode, type InlineCosts, type InlineMode } from './inline.js';

export type { Fallback, RoutingPolicy } from './router.js';


/** Options of `Mover.alloc()`. */
export interface AllocOptions {
  /** Memory kind (default 'host'); another kind is allocated by the open backend that provides it (gds: 'gpu'). */
  readonly kind?: SpaceKind;
  /** Alignment in bytes, a power of two (default 4096). */
  readonly alignment?: number;
  /** Keys of the kind's backend (gds: `device`, the CUDA device ordinal). */
  readonly [key: string]: unknown;
}

/** Options of `Mover.wrap()` for host memory. */
export interface WrapOptions {
  /** Register the memory read-only: writes to the region are refused (ACCESS_DENIED). */
  readonly readOnly?: boolean;
  /** 'host' (the default; other kinds take `WrapKindOptions`). */
  readonly kind?: 'host';
}

/** Options of `Mover.wrap(handle, …)` for memory of a backend's kind that another framework allocated. */
export interface WrapKindOptions {
  /** The memory kind (gds: 'gpu'). */
  readonly kind: SpaceKind;
  /** Bytes from the handle that the region covers. */
  readonly size: number;
  /** Register the memory read-only: writes to the region are refused (ACCESS_DENIED). */
  readonly readOnly?: boolean;
  /** Keys of the kind's backend (gds: `device`). */
  readonly [key: string]: unknown;
}

export interface MoverOptions {
  /** Backends to open, in order of preference; default: every backend package imported (soft). */
  backends?: readonly Backend[];
  policy?: RoutingPolicy;
  /** Ring slots per backend session (a power of two); default the backend's own or 4096. */
  ringEntries?: number;
  /** Execution path of small batches (docs/performance.md); default DATAMOVER_INLINE, else 'auto'. A submit's own `inline` wins. */
  inline?: InlineMode;
  /**
   * The inline cost model of every session with an inline path, instead of measuring it at open
   * (docs/performance.md); default DATAMOVER_INLINE_MODEL, else measured once per process per backend.
   */
  inlineModel?: InlineCosts;
  /** The staging pool multi-hop transfers pipeline through (docs/plans.md); allocated on first use. */
  staging?: StagingOptions;
}

/** What probing one backend found. */
export interface BackendReport extends ProbeResult {
  readonly name: string;
  readonly version: string;
  readonly kind: 'hardware' | 'software';
}


export interface MoverStats {
  /** Per backend session: descriptors by outcome, JS-thread time spent on completions (SubmitterStats), and the engine's own counters. */
  readonly backends: readonly (Readonly<SubmitterStats> & { name: string; engine: Readonly<Record<string, number | string>> })[];
  /** Live registrations (a region and its slices count once). */
  readonly regions: number;
  readonly registeredBytes: number;
  /**
   * What the collector released: `regions`, this Mover's registrations whose every handle was
   * garbage-collected unreleased; `movers`, Movers of this process collected unclosed (their
   * engines were closed then).
   */
  readonly collected: { readonly regions: number; readonly movers: number };
  /** Total time spent registering regions with engines, in milliseconds. */
  readonly registrationMs: number;
  readonly batches: number;
  readonly fallbacks: readonly Fallback[];
  /** Backends that were asked for but could not open, with the reason. */
  readonly unavailable: readonly BackendReport[];
  /** Transfers (`transfer()`): plans run, their hops, host copies, staged bytes and time per hop. */
  readonly plans: PlanStats;
}


let nextMoverId = 1;
let moversCollected = 0;
/**
 * Shuts down a Mover dropped unclosed: frees its registrations and closes its engines (joining
 * their threads). It holds the Mover's region table, never the Mover. Work in flight keeps the
 * Mover reachable (the table's submitters reference the batches, which reference the Mover), so
 * collection comes only after every batch settled.
 */
const unclosed = collector<RegionTable>('Mover', (table) => {
  moversCollected++;
  table.shutdown();
});

export class Mover {
  readonly #id = nextMoverId++;
  readonly #sessions: Session[];
  readonly #unavailable: BackendReport[];
  readonly #router: Router;
  readonly #submission: Submission;
  readonly #table: RegionTable;
  #closed = false;
  readonly #host: BatchHost;
  readonly #planner: Planner;

  private constructor(sessions: Session[], policy: RoutingPolicy, unavailable: BackendReport[], staging: { bytes: number; count: number }) {
    this.#sessions = sessions;
    this.#unavailable = unavailable;
    this.#router = new Router(sessions, policy, unavailable);
    this.#submission = new Submission(sessions, this.#router);
    this.#host = {
      id: this.#id,
      assertOpen: () => this.#assertOpen(),
      route: (op, src, dst, backend) => this.#router.route(op, src, dst, backend),
      maxDescriptorBytes: (s) => this.#sessions[s]!.caps.maxDescriptorBytes,
      durable: (s, kind) => this.#sessions[s]!.caps.durable?.includes(kind) ?? false,
      submit: (batch, options) => this.#submission.submit(batch, options),
      explain: (batch, options) => this.#submission.explain(batch, options),
    };
    this.#table = new RegionTable(this.#id, sessions);
    this.#planner = new Planner(sessions, this.#router, unavailable, staging, { id: this.#id, assertOpen: () => this.#assertOpen(), batch: (descriptors) => new Batch(this.#host, descriptors, false), alloc: (size) => this.#stagingMemory(size) });
    unclosed.register(this, this.#table, this);
  }

  /** Probes backends (default: every registered one) and says which can run here and why not. */
  static async probe(backends: readonly Backend[] = defaultBackends()): Promise<BackendReport[]> {
    return Promise.all(backends.map((b) => probeOne(b)));
  }

  /** Opens every available backend of `options.backends`; fails only when none is available. */
  static async open(options: MoverOptions = NO_OPTIONS): Promise<Mover> {
    checkOptions('Mover.open()', options, OPTION_KEYS.open);
    const backends = options.backends ?? defaultBackends();
    const policy = options.policy ?? 'prefer-hardware';
    const staging = checkStaging(options.staging);
    if (!['prefer-hardware', 'software-only', 'explicit'].includes(policy)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `unknown routing policy ${String(policy)}`);
    if (backends.length === 0) {
      throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, 'no backend given: pass { backends } or import a backend package such as @datamover/backend-soft');
    }
    const reports = await Mover.probe(backends);
    const order = backends
      .map((b, i) => ({ b, r: reports[i]! }))
      .filter(({ b }) => policy !== 'software-only' || b.kind === 'software')
      .sort((x, y) => (policy === 'prefer-hardware' ? Number(x.b.kind === 'software') - Number(y.b.kind === 'software') : 0));
    const inlineMode = checkInlineMode(options.inline, 'inline') ?? defaultInlineMode();
    const optionCosts = checkInlineCosts(options.inlineModel, 'inlineModel');
    const envCosts = optionCosts ? undefined : environmentInlineCosts();
    const costs = optionCosts ? { costs: optionCosts, source: 'option' as const } : envCosts && { costs: envCosts, source: 'environment' as const };
    const unavailable = [...reports.filter((r) => !r.available), ...reports.flatMap(standInReport)];
    const sessions: Session[] = [];
    try {
      for (const { b, r } of order) {
        if (!r.available) continue;
        const ring = new Ring(options.ringEntries ?? b.ringEntries ?? 4096);
        let submitter: Submitter | undefined;
        const engine = await b.open(ring, () => submitter?.progress());
        submitter = new Submitter(ring, engine, b.name, inlineMode, costs);
        const caps = b.capabilities();
        const kinds = new Set(caps.operations.flatMap((o) => [o.src, o.dst]).filter((k): k is SpaceKind => k !== null));
        sessions.push({ backend: b, caps, supports: supportSet(caps), ring, engine, submitter, registered: new Set(), kinds });
      }
    } catch (e) {
      for (const s of sessions) s.engine.close();
      throw e;
    }
    if (sessions.length === 0) {
      throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `no backend is available: ${unavailable.map((r) => `${r.name}: ${r.reason ?? 'unavailable'}`).join('; ')}`, { detail: { reports: unavailable } });
    }
    return new Mover(sessions, policy, unavailable, staging);
  }

  /** Names of the backends this Mover opened, in routing order. */
  get backends(): string[] {
    return this.#sessions.map((s) => s.backend.name);
  }
  get closed(): boolean {
    return this.#closed;
  }

  // ---------------------------------------------------------------- regions

  /**
   * The staging pool's memory: aligned, from a backend that allocates (O_DIRECT file hops want it),
   * else plain host memory, which every backend that reaches host registers (rdma alone allocates none).
   */
  #stagingMemory(size: number): Region {
    try {
      return this.alloc(size);
    } catch (e) {
      if (!(e instanceof DatamoverError && e.code === ErrorCode.UNSUPPORTED_OPERATION)) throw e;
      return this.wrap(new Uint8Array(size));
    }
  }

  /**
   * Registers host memory: an ArrayBuffer, a SharedArrayBuffer, or any TypedArray / Buffer / DataView over one.
   * With `{ kind, size }` it registers memory of another kind that a framework allocated, named by
   * `handle` as that kind's backend defines it (gds, `kind: 'gpu'`: the device address as a bigint;
   * `device`): the backend checks the handle against the device first, and the memory stays the
   * framework's (releasing the region does not free it; keep it allocated until then).
   */
  wrap(memory: ArrayBufferLike | ArrayBufferView, options?: WrapOptions): Region;
  wrap(handle: unknown, options: WrapKindOptions): Region;
  wrap(memory: unknown, options: WrapOptions | WrapKindOptions = NO_OPTIONS): Region {
    this.#assertOpen();
    const kind = kindOption(options);
    if (kind !== undefined && kind !== 'host') return this.#wrapKind(kind, memory, options as WrapKindOptions);
    checkOptions('wrap()', options, OPTION_KEYS.wrap);
    let view: Uint8Array;
    try {
      if (ArrayBuffer.isView(memory)) view = new Uint8Array(memory.buffer, memory.byteOffset, memory.byteLength);
      // A fixed-length view: one over a growable SharedArrayBuffer would otherwise track its growth.
      else if (memory instanceof ArrayBuffer || memory instanceof SharedArrayBuffer) view = new Uint8Array(memory, 0, memory.byteLength);
      else throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'wrap() takes an ArrayBuffer, a SharedArrayBuffer or an ArrayBufferView');
    } catch (e) {
      if (e instanceof TypeError) throw datamoverError(ErrorCode.DETACHED_BUFFER, 'cannot register a detached ArrayBuffer', { cause: e });
      throw e;
    }
    // A resizable ArrayBuffer can shrink (or move) under an engine mid-move; nothing can stop
    // `resize()`, so it is refused. A growable SharedArrayBuffer only grows in place: its current
    // length stays valid, and that is what is registered.
    if ((view.buffer as { resizable?: boolean }).resizable === true) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'wrap() cannot register a resizable ArrayBuffer (resize() could shrink it under a move); copy it into a fixed-length ArrayBuffer or use a SharedArrayBuffer');
    }
    // A registered ArrayBuffer must never be detached under an engine: postMessage and
    // structuredClone then copy it instead of transferring it.
    if (!(view.buffer instanceof SharedArrayBuffer)) markAsUntransferable(view.buffer);
    return this.#register(this.#hostMemory(view), HOST_SPACE, view.byteLength, !(options as WrapOptions).readOnly);
  }

  /**
   * Allocates zeroed host memory aligned to `alignment` bytes (default 4096, the O_DIRECT alignment).
   * With `kind` it allocates memory of that kind from the open backend that provides it (gds,
   * `kind: 'gpu'`: device memory on `device`, default 0); the memory is freed when the region is released.
   */
  alloc(size: number, options: AllocOptions = NO_OPTIONS): Region {
    this.#assertOpen();
    const kind = kindOption(options);
    const host = kind === undefined || kind === 'host';
    // Host memory is an ArrayBuffer, bounded by the runtime; another kind's size is its backend's to bound.
    if (host) {
      checkOptions('alloc()', options, OPTION_KEYS.alloc);
      checkAllocationSize(size);
    } else checkSize(size, 'allocation size');
    const alignment = options.alignment ?? 4096;
    if (!Number.isSafeInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `alignment must be a power of two, got ${alignment}`);
    }
    if (!host) {
      const p = this.#provider(kind, 'allocate');
      checkOptions(`alloc({ kind: '${String(kind)}' })`, options, providedKeys('alloc', p.allocOptions));
      const { kind: _kind, alignment: _alignment, ...own } = options;
      const { memory, space } = p.allocate!(size, alignment, own);
      return this.registerMemory(memory, space, size, true);
    }
    let view: Uint8Array | undefined;
    for (const s of this.#sessions) {
      if (s.engine.allocateHost) {
        view = s.engine.allocateHost(size, alignment);
        break;
      }
    }
    if (!view) {
      // V8 array buffers are at least 16-byte aligned; stronger alignment needs an engine allocator.
      if (alignment > 16) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can allocate ${alignment}-byte aligned memory ${this.#openAndUnavailable()}`);
      view = new Uint8Array(new SharedArrayBuffer(size));
    }
    return this.#register(this.#hostMemory(view), HOST_SPACE, size, true);
  }

  /** Host memory with its address where an open engine can tell it (overlap by address). */
  #hostMemory(view: Uint8Array): HostMemory {
    for (const s of this.#sessions) if (s.engine.memoryAddress) return { kind: 'host', view, address: s.engine.memoryAddress(view) };
    return { kind: 'host', view };
  }

  /** Opens a range of a file (or block device) as a region. */
  async openFile(path: string, options: OpenFileOptions = NO_OPTIONS): Promise<Region> {
    this.#assertOpen();
    checkOptions('openFile()', options, OPTION_KEYS.openFile);
    const { memory, length, writable } = openFileMemory(path, options);
    try {
      return this.#register(memory, fileSpace(path, memory.directFd >= 0 ? 4096 : 0), length, writable);
    } catch (e) {
      closeFileMemory(memory);
      throw e;
    }
  }

  /** Registers `handle` as memory of `kind` through the open backend that provides it (wrap()'s second form). */
  #wrapKind(kind: unknown, handle: unknown, options: WrapKindOptions): Region {
    const p = this.#provider(kind, 'wrap');
    checkOptions(`wrap({ kind: '${String(kind)}' })`, options, providedKeys('wrap', p.wrapOptions));
    const { kind: _kind, size, readOnly, ...own } = options;
    checkSize(size, 'region size');
    const { memory, space } = p.wrap!(handle, size, own);
    return this.registerMemory(memory, space, size, readOnly !== true);
  }

  /** The first open session's provider of `kind` that can `what`; UNSUPPORTED_OPERATION, saying what is open, when none can. */
  #provider(kind: unknown, what: 'allocate' | 'wrap'): MemoryProvider {
    if (typeof kind !== 'string') throw datamoverError(ErrorCode.INVALID_ARGUMENT, `kind must be a memory kind (a string such as 'host' or 'gpu'), got ${typeof kind}`);
    for (const s of this.#sessions) for (const p of s.engine.memoryProviders ?? []) if (p.kind === kind && p[what]) return p;
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can ${what} ${kind} memory ${this.#openAndUnavailable()}`);
  }

  /** `(open: soft; unavailable: soft native engine: …)`: why an operation found no backend. */
  #openAndUnavailable(): string {
    const why = this.#unavailable.map((r) => `${r.name}: ${r.reason ?? 'unavailable'}`).join('; ');
    return `(open: ${this.backends.join(', ')}${why ? `; unavailable: ${why}` : ''})`;
  }

  /**
   * Registers memory a backend package made or imported — cxl's dax mappings (`openDax`), rdma's
   * imported remote regions (`rdma.import`) — as a region of `space`: the one backend-facing
   * registration, whatever the kind. `memory.release()` runs when the region is freed, after every
   * in-flight descriptor naming it has finished, or at once when registration is refused. Host
   * memory and files go through wrap(), alloc() and openFile().
   */
  registerMemory(memory: BackendMemory, space: AddressSpace, length: number, writable: boolean): Region {
    try {
      this.#assertOpen();
      checkSize(length, 'region size');
      const kind = (memory as { kind?: unknown } | null)?.kind;
      if (kind === 'host' || kind === 'file' || typeof memory?.release !== 'function') {
        throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'registerMemory() takes backend memory (a kind other than host or file, with release()); host memory and files go through wrap(), alloc() and openFile()');
      }
      if (space?.kind !== kind) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `registerMemory(): memory of kind ${String(kind)} in a space of kind ${String(space?.kind)}`);
      return this.#register(memory, space, length, writable);
    } catch (e) {
      (memory as Partial<BackendMemory> | null)?.release?.();
      throw e;
    }
  }

  /**
   * The open engine session of backend `name`, for that backend package's own API (rdma's
   * export/import need the session that owns the connections); undefined when not open.
   */
  engine(name: string): EngineSession | undefined {
    this.#assertOpen();
    return this.#sessions.find((s) => s.backend.name === name)?.engine;
  }

  #register(memory: Memory, space: Registration['space'], length: number, writable: boolean): Region {
    return this.#table.register(memory, space, length, writable);
  }

  // ---------------------------------------------------------------- operations

  /** A new, empty batch. */
  batch(): Batch {
    this.#assertOpen();
    return new Batch(this.#host);
  }

  /** Copies `src` into `dst` (whole regions of equal length, or the range in `options`). */
  copy(dst: Region, src: Region, options: CopyOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    return this.#one('copy', options, (b) => b.copy(dst, src, options), noValue);
  }

  /** Fills `dst` with a 1-byte (default) or 8-byte pattern. */
  fill(dst: Region, pattern: number | bigint, options: FillOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    return this.#one('fill', options, (b) => b.fill(dst, pattern, options), noValue);
  }

  /** Compares two ranges: `{ equal: true }` or the first differing offset. */
  compare(a: Region, b: Region, options: CompareOptions & SubmitOptions = NO_OPTIONS): Promise<{ equal: true } | { equal: false; offset: number }> {
    return this.#one('compare', options, (batch) => batch.compare(a, b, options), (offset) => (offset < 0 ? { equal: true } : { equal: false, offset }));
  }

  /** CRC-32C (Castagnoli) of a region or range. */
  crc32c(src: Region, options: Crc32cOptions & SubmitOptions = NO_OPTIONS): Promise<number> {
    return this.#one('crc32c', options, (b) => b.crc32c(src, options), (v) => v);
  }

  /** Stores a 1/2/4/8-byte little-endian value (default 8 bytes). */
  writeImmediate(dst: Region, value: number | bigint, options: WriteImmediateOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    return this.#one('writeImmediate', options, (b) => b.writeImmediate(dst, value, options), noValue);
  }

  /** A descriptor that does nothing; with `fence` it waits for everything before it. */
  nop(options: DescriptorOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    return this.#one('nop', options, (b) => b.nop(options), noValue);
  }

  /**
   * Moves `src` into `dst` across spaces: copies once, then releases `src`. Returns `dst`.
   * (Within one space use `region.move()`, which copies nothing.)
   */
  async moveInto(dst: Region, src: Region, options: SubmitOptions = NO_OPTIONS): Promise<Region> {
    checkOptions('moveInto()', options, OPTION_KEYS.submit);
    assertRegion(src, 'moveInto() source');
    src.releasable(); // a source with live slices is refused before a byte is copied
    await this.copy(dst, src, options);
    await src.release();
    return dst;
  }

  /**
   * The plan a transfer from `src` to `dst` would run: its hops (fewest, direct first), host copies,
   * staged bytes, and `explain()`. Throws UNREACHABLE (carrying the explanation) when no chain of
   * open backends connects the two spaces, and the copy refusals (released region, length
   * mismatch, …) before anything moves.
   */
  plan(dst: Region, src: Region, options: PlanOptions = NO_OPTIONS): Plan {
    checkOptions('plan()', options, OPTION_KEYS.plan);
    return this.#planner.plan(dst, src, options);
  }

  /**
   * Moves `src` into `dst` across any spaces a chain of open backends connects: one hop is one
   * copy; more pipeline through the staging pool (docs/plans.md). Resolves with what each chunk
   * and hop did; a failed or cancelled transfer rejects with that report in `error.transfer`.
   */
  async transfer(dst: Region, src: Region, options: TransferOptions = NO_OPTIONS): Promise<TransferResult> {
    checkOptions('transfer()', options, OPTION_KEYS.transfer);
    return await this.#planner.transfer(dst, src, options);
  }

  /**
   * Which backend would run `op` on these kinds, and the fallbacks taken to get there. Throws
   * UNSUPPORTED_OPERATION when none can.
   */
  explain(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend?: string): { backend: string; fallbacks: { from: string; reason: string }[] } {
    return this.#router.explain(op, src, dst, backend);
  }

  /**
   * Runs one descriptor as its own batch; `options` holds the descriptor's keys and the submit
   * keys. Settled inline, it returns an already-settled Promise: no Promise chain is waited on.
   */
  #one<T>(op: keyof typeof ONE_SHOT_KEYS, options: SubmitOptions, add: (b: Batch) => Batch, value: (v: number) => T): Promise<T> {
    try {
      checkOptions(`${op}()`, options, ONE_SHOT_KEYS[op]);
      this.#assertOpen();
      const r = add(new Batch(this.#host, 1, false)).run(options);
      return r instanceof Promise ? oneLater(r, value) : Promise.resolve(value(r.value(0)));
    } catch (e) {
      return Promise.reject(oneError(e));
    }
  }

  // ---------------------------------------------------------------- lifecycle

  stats(): MoverStats {
    return {
      backends: this.#sessions.map((s) => ({ name: s.backend.name, ...s.submitter.stats, engine: s.engine.stats?.() ?? {} })),
      regions: this.#table.size,
      registeredBytes: this.#table.registeredBytes,
      collected: { regions: this.#table.collected, movers: moversCollected },
      registrationMs: this.#submission.registrationMs,
      batches: this.#submission.batches,
      fallbacks: this.#router.fallbacks(),
      unavailable: this.#unavailable,
      plans: this.#planner.stats(),
    };
  }

  /**
   * Closes the Mover: new work is refused at once (MOVER_CLOSED); work in flight runs to its end
   * (or is cancelled with `{ abort: true }`); then every region is released and engines stop.
   */
  async close(options: { abort?: boolean } = NO_OPTIONS): Promise<void> {
    checkOptions('close()', options, OPTION_KEYS.close);
    if (this.#closed) return;
    this.#closed = true;
    unclosed.unregister(this);
    if (options.abort) this.#submission.abortAll(new Error('the Mover was closed'));
    await this.#submission.drain();
    this.#table.shutdown();
  }

  #assertOpen(): void {
    if (this.#closed) throw datamoverError(ErrorCode.MOVER_CLOSED, 'the Mover is closed');
  }
}


/** The `kind` of an options bag, before the bag itself is checked (a bag that is no object is refused by checkOptions). */
function kindOption(options: unknown): unknown {
  return typeof options === 'object' && options !== null ? (options as { kind?: unknown }).kind : undefined;
}

/** A part an available backend runs without (ProbeResult.standIn), as an unavailable report of its own. */
function standInReport(r: BackendReport): BackendReport[] {
  if (!r.available || !r.standIn) return [];
  return [{ name: `${r.name} ${r.standIn.part}`, version: r.version, kind: r.kind, available: false, reason: r.standIn.reason }];
}

async function probeOne(b: Backend): Promise<BackendReport> {
  try {
    const r = await b.probe();
    return { name: b.name, version: b.version, kind: b.kind, ...r };
  } catch (e) {
    return { name: b.name, version: b.version, kind: b.kind, available: false, reason: `probe failed: ${(e as Error).message}` };
  }
}

const noValue = (): void => undefined;

/** A single descriptor's failure is reported as itself, not as a failed batch. */
function oneError(e: unknown): unknown {
  return e instanceof DatamoverError && e.code === ErrorCode.BATCH_FAILED && e.cause ? e.cause : e;
}

async function oneLater<T>(running: Promise<BatchResult>, value: (v: number) => T): Promise<T> {
  try {
    return value((await running).value(0));
  } catch (e) {
    throw oneError(e);
  }
}
