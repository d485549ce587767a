/**
 * The Mover: opens backends, owns the region table, routes descriptors to capable backends,
 * and turns batches into per-descriptor results.
 */
import { markAsUntransferable } from 'node:worker_threads';
import { OPERATIONS, type Backend, type Capabilities, type EngineSession, type Operation, type ProbeResult } from './backend.js';
import { BatchResult, StatusCode } from './batch-result.js';
import { Batch, type BatchHost, type CompareOptions, type CopyOptions, type Crc32cOptions, type DescriptorOptions, type FillOptions, type SubmitOptions, type WriteImmediateOptions } from './batch.js';
import { collector } from './collector.js';
import { CancelledError, datamoverError, engineError, ErrorCode, type DatamoverError } from './errors.js';
import { closeFileMemory, openFileMemory, type OpenFileOptions } from './files.js';
import type { DaxMemory, GpuMemory, HostMemory, Memory, RemoteMemory } from './memory.js';
import { assertRegion, checkOptions, NO_OPTIONS, ONE_SHOT_KEYS, OPTION_KEYS } from './options.js';
import { checkAllocationSize, checkSize, type Region, type Registration } from './region.js';
import { RegionTable } from './region-table.js';
import { defaultBackends } from './registry.js';
import { OPCODE_BITS } from './descriptor/schema.js';
import { Ring } from './ring/ring.js';
import { daxSpace, fileSpace, gpuSpace, HOST_SPACE, remoteSpace, SPACE_KINDS, type SpaceKind } from './spaces.js';
import { Submitter, Work, type SubmitterStats } from './submitter.js';

/** How the Mover picks a backend for each descriptor. */
export type RoutingPolicy =
  /** Hardware backends first; fall back to software, recording why. */
  | 'prefer-hardware'
  /** Software backends only. */
  | 'software-only'
  /** The backend the descriptor names, or else the first opened backend; no fallback. */
  | 'explicit';

export interface MoverOptions {
  /** Backends to open, in order of preference; default: every backend package imported (soft). */
  backends?: readonly Backend[];
  policy?: RoutingPolicy;
  /** Ring slots per backend session (a power of two); default the backend's own or 4096. */
  ringEntries?: number;
}

/** What probing one backend found. */
export interface BackendReport extends ProbeResult {
  readonly name: string;
  readonly version: string;
  readonly kind: 'hardware' | 'software';
}

/** A recorded fallback: the preferred backend could not take a descriptor, another did. */
export interface Fallback {
  readonly op: Operation;
  readonly src: SpaceKind | null;
  readonly dst: SpaceKind | null;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  count: number;
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
}

interface Session {
  readonly backend: Backend;
  readonly caps: Capabilities;
  readonly supports: Set<string>;
  readonly ring: Ring;
  readonly engine: EngineSession;
  readonly submitter: Submitter;
  /** Registrations this engine knows. */
  readonly registered: Set<Registration>;
  /** Space kinds the backend claims any operation on: only regions of these are registered with it. */
  readonly kinds: ReadonlySet<SpaceKind>;
}

const FENCE = 1 << OPCODE_BITS.fence;
const key = (op: Operation, src: SpaceKind | null, dst: SpaceKind | null) => `${op}:${src ?? '-'}:${dst ?? '-'}`;
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
/** Space kinds plus "none", for the route table. */
const KIND_SLOTS = SPACE_KINDS.length + 1;
function routeSlot(op: Operation, src: SpaceKind | null, dst: SpaceKind | null): number {
  const k = (kind: SpaceKind | null) => (kind === null ? SPACE_KINDS.length : SPACE_KINDS.indexOf(kind));
  return (OPERATIONS.indexOf(op) * KIND_SLOTS + k(src)) * KIND_SLOTS + k(dst);
}

export class Mover {
  readonly #id = nextMoverId++;
  readonly #sessions: Session[];
  readonly #policy: RoutingPolicy;
  readonly #unavailable: BackendReport[];
  readonly #routes = new Map<string, number>();
  readonly #routeTable = new Int16Array(OPERATIONS.length * KIND_SLOTS * KIND_SLOTS).fill(-1);
  readonly #fallbacks = new Map<string, Fallback>();
  readonly #table: RegionTable;
  #registrationMs = 0;
  #batches = 0;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Cancel functions of the batches in flight. */
  readonly #active = new Set<(code: 'ABORTED' | 'DEADLINE_EXCEEDED', reason: unknown) => void>();
  #closed = false;
  readonly #host: BatchHost;

  private constructor(sessions: Session[], policy: RoutingPolicy, unavailable: BackendReport[]) {
    this.#sessions = sessions;
    this.#policy = policy;
    this.#unavailable = unavailable;
    this.#host = {
      id: this.#id,
      assertOpen: () => this.#assertOpen(),
      route: (op, src, dst, backend) => this.#route(op, src, dst, backend),
      maxDescriptorBytes: (s) => this.#sessions[s]!.caps.maxDescriptorBytes,
      durable: (s, kind) => this.#sessions[s]!.caps.durable?.includes(kind) ?? false,
      submit: (batch, options) => this.#submit(batch, options),
    };
    this.#table = new RegionTable(this.#id, sessions);
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
    if (!['prefer-hardware', 'software-only', 'explicit'].includes(policy)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `unknown routing policy ${String(policy)}`);
    if (backends.length === 0) {
      throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, 'no backend given: pass { backends } or import a backend package such as @datamover/backend-soft');
    }
    const reports = await Mover.probe(backends);
    const order = backends
      .map((b, i) => ({ b, r: reports[i]! }))
      .filter(({ b }) => policy !== 'software-only' || b.kind === 'software')
      .sort((x, y) => (policy === 'prefer-hardware' ? Number(x.b.kind === 'software') - Number(y.b.kind === 'software') : 0));
    const unavailable = reports.filter((r) => !r.available);
    const sessions: Session[] = [];
    try {
      for (const { b, r } of order) {
        if (!r.available) continue;
        const ring = new Ring(options.ringEntries ?? b.ringEntries ?? 4096);
        let submitter: Submitter | undefined;
        const engine = await b.open(ring, () => submitter?.progress());
        submitter = new Submitter(ring, engine, b.name);
        const caps = b.capabilities();
        const kinds = new Set(caps.operations.flatMap((o) => [o.src, o.dst]).filter((k): k is SpaceKind => k !== null));
        sessions.push({ backend: b, caps, supports: new Set(caps.operations.map((o) => key(o.op, o.src, o.dst))), ring, engine, submitter, registered: new Set(), kinds });
      }
    } catch (e) {
      for (const s of sessions) s.engine.close();
      throw e;
    }
    if (sessions.length === 0) {
      throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `no backend is available: ${unavailable.map((r) => `${r.name}: ${r.reason ?? 'unavailable'}`).join('; ')}`, { detail: { reports: unavailable } });
    }
    return new Mover(sessions, policy, unavailable);
  }

  /** Names of the backends this Mover opened, in routing order. */
  get backends(): string[] {
    return this.#sessions.map((s) => s.backend.name);
  }
  get closed(): boolean {
    return this.#closed;
  }

  // ---------------------------------------------------------------- regions

  /** Registers host memory: an ArrayBuffer, a SharedArrayBuffer, or any TypedArray / Buffer / DataView over one. */
  wrap(memory: ArrayBufferLike | ArrayBufferView, options: { readOnly?: boolean } = NO_OPTIONS): Region {
    this.#assertOpen();
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
    return this.#register(this.#hostMemory(view), HOST_SPACE, view.byteLength, !options.readOnly);
  }

  /** Allocates zeroed host memory aligned to `alignment` bytes (default 4096, the O_DIRECT alignment). */
  alloc(size: number, options: { alignment?: number } = NO_OPTIONS): Region {
    this.#assertOpen();
    checkOptions('alloc()', options, OPTION_KEYS.alloc);
    checkAllocationSize(size);
    const alignment = options.alignment ?? 4096;
    if (!Number.isSafeInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `alignment must be a power of two, got ${alignment}`);
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
      if (alignment > 16) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can allocate ${alignment}-byte aligned memory`);
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

  /**
   * Allocates device memory on a GPU (`device`, default 0) aligned to `alignment` bytes (default
   * 4096, what cuFile's direct path wants). Needs an open backend that allocates GPU memory (gds).
   * The memory is freed when the region is released.
   */
  allocGpu(size: number, options: { device?: number; alignment?: number } = NO_OPTIONS): Region {
    this.#assertOpen();
    checkOptions('allocGpu()', options, OPTION_KEYS.allocGpu);
    checkSize(size, 'allocation size');
    const device = gpuDevice(options.device);
    const alignment = options.alignment ?? 4096;
    if (!Number.isSafeInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `alignment must be a power of two, got ${alignment}`);
    }
    const s = this.#sessions.find((x) => x.engine.allocateGpu);
    if (!s) throw this.#noGpu('allocate');
    return this.#registerGpu(s.engine.allocateGpu!(size, { device, alignment }), size, true, alignment);
  }

  /**
   * Registers GPU memory another framework allocated, named by its device address. The address is
   * trusted only after the backend has checked it against the device (it must lie inside one
   * allocation of `size` bytes on `device`); the memory stays the framework's: releasing the
   * region does not free it, and the framework must keep it allocated until the region is released.
   */
  wrapGpu(pointer: bigint, size: number, options: { device?: number; readOnly?: boolean } = NO_OPTIONS): Region {
    this.#assertOpen();
    checkOptions('wrapGpu()', options, OPTION_KEYS.wrapGpu);
    if (typeof pointer !== 'bigint' || pointer <= 0n || pointer >= 2n ** 64n) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'wrapGpu() takes the device address as a positive 64-bit bigint');
    checkSize(size, 'region size');
    const device = gpuDevice(options.device);
    const s = this.#sessions.find((x) => x.engine.importGpu);
    if (!s) throw this.#noGpu('import');
    const alignment = Number(BigInt.asUintN(12, pointer)) === 0 ? 4096 : 1;
    return this.#registerGpu(s.engine.importGpu!(pointer, size, device), size, !options.readOnly, alignment);
  }

  #registerGpu(memory: GpuMemory, size: number, writable: boolean, alignment: number): Region {
    try {
      return this.#register(memory, gpuSpace(memory.device, alignment), size, writable);
    } catch (e) {
      memory.release();
      throw e;
    }
  }

  #noGpu(what: string): Error {
    const why = this.#unavailable.map((r) => `${r.name}: ${r.reason ?? 'unavailable'}`).join('; ');
    return datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can ${what} GPU memory (open: ${this.backends.join(', ')}${why ? `; unavailable: ${why}` : ''})`);
  }

  /**
   * Registers a peer's exported memory that a backend imported (e.g. `rdma.import(mover, token)`):
   * a region of kind 'remote', writable when the export grants read-write. Meant for backend
   * packages; `memory.release()` runs when the region is freed.
   */
  registerRemote(memory: RemoteMemory, length: number, writable: boolean): Region {
    this.#assertOpen();
    checkSize(length, 'region size');
    try {
      return this.#register(memory, remoteSpace(memory.peer), length, writable);
    } catch (e) {
      memory.release();
      throw e;
    }
  }

  /**
   * Registers a dax mapping a backend made (e.g. `openDax(mover, '/dev/dax0.0')` of
   * @datamover/backend-cxl): a region of kind 'dax' over `length` bytes from `memory.mapOffset`.
   * Meant for backend packages; `memory.release()` runs when the region is freed, after every
   * in-flight descriptor naming it has finished.
   */
  registerDax(memory: DaxMemory, length: number, writable: boolean): Region {
    this.#assertOpen();
    checkSize(length, 'region size');
    try {
      if (memory?.kind !== 'dax') throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'registerDax() takes a DaxMemory (kind "dax")');
      const space = daxSpace(memory.path, { persistent: memory.persistent, alignment: memory.alignment, numaNode: memory.numaNode });
      return this.#register(memory, space, length, writable);
    } catch (e) {
      memory?.release?.();
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
  async copy(dst: Region, src: Region, options: CopyOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    await this.#one('copy', options, (b) => b.copy(dst, src, options));
  }

  /** Fills `dst` with a 1-byte (default) or 8-byte pattern. */
  async fill(dst: Region, pattern: number | bigint, options: FillOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    await this.#one('fill', options, (b) => b.fill(dst, pattern, options));
  }

  /** Compares two ranges: `{ equal: true }` or the first differing offset. */
  async compare(a: Region, b: Region, options: CompareOptions & SubmitOptions = NO_OPTIONS): Promise<{ equal: true } | { equal: false; offset: number }> {
    const offset = await this.#one('compare', options, (batch) => batch.compare(a, b, options));
    return offset < 0 ? { equal: true } : { equal: false, offset };
  }

  /** CRC-32C (Castagnoli) of a region or range. */
  async crc32c(src: Region, options: Crc32cOptions & SubmitOptions = NO_OPTIONS): Promise<number> {
    return this.#one('crc32c', options, (b) => b.crc32c(src, options));
  }

  /** Stores a 1/2/4/8-byte little-endian value (default 8 bytes). */
  async writeImmediate(dst: Region, value: number | bigint, options: WriteImmediateOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    await this.#one('writeImmediate', options, (b) => b.writeImmediate(dst, value, options));
  }

  /** A descriptor that does nothing; with `fence` it waits for everything before it. */
  async nop(options: DescriptorOptions & SubmitOptions = NO_OPTIONS): Promise<void> {
    await this.#one('nop', options, (b) => b.nop(options));
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

  /** Runs one descriptor as its own batch; `options` holds the descriptor's keys and the submit keys. */
  async #one(op: keyof typeof ONE_SHOT_KEYS, options: SubmitOptions, add: (b: Batch) => Batch): Promise<number> {
    checkOptions(`${op}()`, options, ONE_SHOT_KEYS[op]);
    this.#assertOpen();
    const batch = add(new Batch(this.#host, 1, false));
    try {
      const result = await batch.submit(options);
      return result.value(0);
    } catch (e) {
      // A single descriptor's failure is reported as itself, not as a failed batch.
      if ((e as DatamoverError).code === ErrorCode.BATCH_FAILED && (e as DatamoverError).cause) throw (e as DatamoverError).cause;
      throw e;
    }
  }

  // ---------------------------------------------------------------- routing

  /**
   * Which backend would run `op` on these kinds, and the fallbacks taken to get there. Throws
   * UNSUPPORTED_OPERATION when none can.
   */
  explain(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend?: string): { backend: string; fallbacks: { from: string; reason: string }[] } {
    const { session, skipped } = this.#choose(op, src, dst, backend);
    return { backend: this.#sessions[session]!.backend.name, fallbacks: skipped };
  }

  #route(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend: string | undefined): number {
    // Policy routes are cached in a small table indexed by (op, src, dst): the batch hot path.
    const slot = backend === undefined ? routeSlot(op, src, dst) : -1;
    if (slot >= 0 && this.#routeTable[slot]! >= 0) return this.#routeTable[slot]!;
    const k = backend === undefined ? key(op, src, dst) : `${key(op, src, dst)}@${backend}`;
    const cached = this.#routes.get(k);
    if (cached !== undefined) return cached;
    const { session, skipped } = this.#choose(op, src, dst, backend);
    const to = this.#sessions[session]!.backend.name;
    for (const s of skipped) this.#fallbacks.set(`${k}:${s.from}`, { op, src, dst, from: s.from, to, reason: s.reason, count: 0 });
    this.#routes.set(k, session);
    if (slot >= 0) this.#routeTable[slot] = session;
    return session;
  }

  #choose(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend: string | undefined): { session: number; skipped: { from: string; reason: string }[] } {
    const k = key(op, src, dst);
    const what = `${op} ${src ?? ''}${src && dst ? '→' : ''}${dst ?? ''}`.trim();
    if (backend !== undefined || this.#policy === 'explicit') {
      const i = backend === undefined ? 0 : this.#sessions.findIndex((s) => s.backend.name === backend);
      const s = this.#sessions[i];
      if (!s) {
        const why = this.#unavailable.find((r) => r.name === backend);
        throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `backend ${backend} is not open${why ? `: ${why.reason}` : ''}`);
      }
      if (!s.supports.has(k)) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `backend ${s.backend.name} cannot run ${what}`);
      return { session: i, skipped: [] };
    }
    const skipped: { from: string; reason: string }[] = [];
    for (let i = 0; i < this.#sessions.length; i++) {
      const s = this.#sessions[i]!;
      if (s.supports.has(k)) return { session: i, skipped };
      skipped.push({ from: s.backend.name, reason: `${s.backend.name} does not support ${what}` });
    }
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can run ${what} (open: ${this.backends.join(', ')})`);
  }

  // ---------------------------------------------------------------- submission

  async #submit(batch: Batch, options: SubmitOptions): Promise<BatchResult> {
    const { signal, timeout, deadline, stopOnError = false } = options;
    if (typeof stopOnError !== 'boolean') throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'stopOnError must be a boolean');
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'signal must be an AbortSignal');
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'timeout must be a non-negative number of milliseconds');
    if (deadline !== undefined && (typeof deadline !== 'number' || Number.isNaN(deadline))) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'deadline must be a time in milliseconds since the epoch');
    const result = batch.newResult();
    if (signal?.aborted) {
      for (let i = 0; i < batch.length; i++) result.record(i, StatusCode.notRun, 0);
      throw cancelled('ABORTED', 'aborted before submission', result, signal.reason);
    }
    // Every region must still be usable now; then pin them until the batch settles.
    for (const reg of batch.regs) {
      if (reg.releasing || reg.freed) throw datamoverError(ErrorCode.REGION_RELEASED, 'a region of this batch was released after the descriptor was added');
      if (reg.memory.kind === 'host' && reg.memory.view.byteLength !== reg.length) throw datamoverError(ErrorCode.DETACHED_BUFFER, 'the ArrayBuffer behind a region of this batch was detached');
    }
    const sessions = [...batch.sessions];
    for (const s of sessions) this.#ensureRegistered(this.#sessions[s]!, batch);
    for (const reg of batch.regs) reg.inFlight++;
    this.#batches++;
    for (const f of this.#fallbacksOf(batch)) f.count++;

    const works: { work: Work; sub: Submitter }[] = [];
    let cancel: { code: 'ABORTED' | 'DEADLINE_EXCEEDED'; reason: unknown } | undefined;
    const stop = (code: 'ABORTED' | 'DEADLINE_EXCEEDED', reason: unknown) => {
      if (cancel) return;
      cancel = { code, reason };
      for (const { work, sub } of works) sub.cancel(work);
    };
    const onAbort = () => stop('ABORTED', signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const ms = Math.min(timeout ?? Infinity, deadline === undefined ? Infinity : deadline - Date.now());
    // A deadline already past cancels before anything is queued, as an aborted signal does.
    if (ms <= 0) stop('DEADLINE_EXCEEDED', undefined);
    const timer = Number.isFinite(ms) && ms > 0 ? setTimeout(() => stop('DEADLINE_EXCEEDED', undefined), ms) : undefined;
    this.#active.add(stop);

    const run = (async () => {
      try {
        for (let segment of segments(batch, sessions.length > 1, stopOnError)) {
          if (cancel) {
            for (const d of segment === ALL ? range(batch.length) : segment) result.record(d, StatusCode.notRun, 0);
            continue;
          }
          // The failure rule across engines (each engine keeps it on its own ring): after a failure
          // in an earlier segment, the fenced descriptor that begins this one is held back, and with
          // stopOnError all of it.
          if (result.counts.failed > 0) {
            const held = stopOnError ? segment : fenced(batch, segment[0]!) ? segment.slice(0, 1) : [];
            for (const d of held) result.record(d, StatusCode.heldBack, 0);
            segment = segment.slice(held.length);
            if (segment.length === 0) continue;
          }
          const phase: Promise<void>[] = [];
          for (const s of sessions) {
            const idx = sessions.length === 1 && segment === ALL ? null : Int32Array.from(indexesFor(batch, segment, s));
            const work = new Work(batch, result, idx, stopOnError);
            const sub = this.#sessions[s]!.submitter;
            works.push({ work, sub });
            sub.enqueue(work);
            phase.push(work.settled);
          }
          await Promise.all(phase);
        }
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#active.delete(stop);
        for (const reg of batch.regs) reg.settle();
      }
      // Success only when every descriptor ran whole; anything else rejects with the report.
      const counts = result.counts;
      if (counts.done === batch.length) return result;
      if (counts.failed > 0) {
        const first = result.firstError();
        throw withResult(datamoverError(ErrorCode.BATCH_FAILED, `${counts.failed} of ${batch.length} descriptors failed${first ? `; first: ${first.message}` : ''}`, { cause: first }), result);
      }
      if (!cancel) {
        // Nothing cancelled, yet work did not run (the engine refused a doorbell, or skipped
        // descriptors on its own): an engine fault, never a success.
        const e = works.find((w) => w.work.error)?.work.error ?? datamoverError(ErrorCode.DEVICE_ERROR, `backend skipped ${counts.notRun} descriptor(s) that nobody cancelled`);
        throw withResult(datamoverError(ErrorCode.BATCH_FAILED, `${counts.notRun} of ${batch.length} descriptors did not run: ${e.message}`, { cause: e }), result);
      }
      const why = cancel;
      throw cancelled(why.code, `${why.code === 'ABORTED' ? 'aborted' : 'deadline exceeded'}: ${counts.done} of ${batch.length} descriptors ran, ${counts.notRun} did not`, result, why.reason);
    })();
    this.#inFlight.add(run);
    void run.then(
      () => this.#inFlight.delete(run),
      () => this.#inFlight.delete(run),
    );
    return run;
  }

  #ensureRegistered(session: Session, batch: Batch): void {
    for (const reg of batch.regs) {
      // A backend learns only regions of kinds it claims (a gpu region means nothing to soft).
      if (session.registered.has(reg) || !session.kinds.has(reg.space.kind)) continue;
      if (session.registered.size >= session.caps.maxRegions) {
        throw datamoverError(ErrorCode.TOO_MANY_REGIONS, `backend ${session.backend.name} holds at most ${session.caps.maxRegions} regions at once`);
      }
      const t0 = performance.now();
      engineCall(session.backend.name, 'register', () => session.engine.register({ index: reg.index, memory: reg.memory, length: reg.length, writable: reg.writable }));
      this.#registrationMs += performance.now() - t0;
      session.registered.add(reg);
    }
  }

  *#fallbacksOf(batch: Batch): Iterable<Fallback> {
    if (this.#fallbacks.size === 0) return;
    const names = new Set([...batch.sessions].map((s) => this.#sessions[s]!.backend.name));
    for (const f of this.#fallbacks.values()) if (names.has(f.to)) yield f;
  }

  // ---------------------------------------------------------------- lifecycle

  stats(): MoverStats {
    return {
      backends: this.#sessions.map((s) => ({ name: s.backend.name, ...s.submitter.stats, engine: s.engine.stats?.() ?? {} })),
      regions: this.#table.size,
      registeredBytes: this.#table.registeredBytes,
      collected: { regions: this.#table.collected, movers: moversCollected },
      registrationMs: this.#registrationMs,
      batches: this.#batches,
      fallbacks: [...this.#fallbacks.values()].map((f) => ({ ...f })),
      unavailable: this.#unavailable,
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
    if (options.abort) for (const stop of this.#active) stop('ABORTED', new Error('the Mover was closed'));
    await Promise.allSettled([...this.#inFlight]);
    this.#table.shutdown();
  }

  #assertOpen(): void {
    if (this.#closed) throw datamoverError(ErrorCode.MOVER_CLOSED, 'the Mover is closed');
  }
}

/** Runs an engine call; anything it throws becomes a DatamoverError (DEVICE_ERROR if it is none). */
function engineCall<T>(backend: string, what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw engineError(backend, what, e);
  }
}

function gpuDevice(device: unknown): number {
  if (device === undefined) return 0;
  if (typeof device !== 'number' || !Number.isSafeInteger(device) || device < 0 || device > 0x7fff_ffff) {
    throw datamoverError(ErrorCode.INVALID_ARGUMENT, `device must be a CUDA device ordinal (a non-negative integer), got ${String(device)}`);
  }
  return device;
}

async function probeOne(b: Backend): Promise<BackendReport> {
  try {
    const r = await b.probe();
    return { name: b.name, version: b.version, kind: b.kind, ...r };
  } catch (e) {
    return { name: b.name, version: b.version, kind: b.kind, available: false, reason: `probe failed: ${(e as Error).message}` };
  }
}

function cancelled(code: 'ABORTED' | 'DEADLINE_EXCEEDED', message: string, result: BatchResult, cause: unknown): CancelledError {
  return withResult(datamoverError(code, message, cause === undefined ? undefined : { cause }), result) as CancelledError;
}

function withResult(e: DatamoverError, result: BatchResult): DatamoverError {
  e.result = result;
  return e;
}

/** Marker for "the whole batch in one segment". */
const ALL: readonly number[] = [];

/**
 * Splits a batch at fences when it spans several sessions: each engine honours fences on its
 * own ring, but ordering across engines needs the Mover to wait between segments. With
 * stopOnError also where the session changes, so no engine starts a descriptor before the
 * outcome of every earlier one is known.
 */
function* segments(batch: Batch, multi: boolean, stopOnError: boolean): Iterable<readonly number[]> {
  if (!multi) {
    yield ALL;
    return;
  }
  let seg: number[] = [];
  for (let d = 0; d < batch.length; d++) {
    const split = fenced(batch, d) || (stopOnError && d > 0 && batch.route[d] !== batch.route[d - 1]);
    if (split && seg.length > 0) {
      yield seg;
      seg = [];
    }
    seg.push(d);
  }
  if (seg.length > 0) yield seg;
}

function fenced(batch: Batch, d: number): boolean {
  return (batch.words[d * 16]! & FENCE) !== 0;
}

function* range(n: number): Iterable<number> {
  for (let i = 0; i < n; i++) yield i;
}

function* indexesFor(batch: Batch, segment: readonly number[], session: number): Iterable<number> {
  if (segment === ALL) {
    for (let d = 0; d < batch.length; d++) if (batch.route[d] === session) yield d;
  } else for (const d of segment) if (batch.route[d] === session) yield d;
}
