/**
 * The backend plugin contract. A backend says whether it can run here (`probe`), what it can
 * do (`capabilities`), and opens engine sessions that consume a shared descriptor ring.
 */
import type { AnyErrorCode } from './errors.js';
import type { BackendMemory, Memory } from './memory.js';
import type { Ring } from './ring/ring.js';
import type { AddressSpace, SpaceKind } from './spaces.js';

export const OPERATIONS = ['copy', 'fill', 'compare', 'crc32c', 'writeImm', 'nop', 'copyStrided', 'fillStrided', 'compareStrided', 'crc32cStrided'] as const;
/** The operations a descriptor can carry. */
export type Operation = (typeof OPERATIONS)[number];
/** The strided operations: `count` blocks of one size per descriptor (docs/engine-abi.md). */
export const STRIDED_OPERATIONS = ['copyStrided', 'fillStrided', 'compareStrided', 'crc32cStrided'] as const;
export type StridedOperation = (typeof STRIDED_OPERATIONS)[number];
/** Whether an operation is one of the strided ones. */
export function isStrided(op: Operation): op is StridedOperation {
  return (STRIDED_OPERATIONS as readonly string[]).includes(op);
}

/** Which address-space kinds an operation reads (`src`) and writes or also reads (`dst`). */
export interface OperationSupport {
  readonly op: Operation;
  /** Source kind (copy, compare's first operand, crc32c); null when the operation has none. */
  readonly src: SpaceKind | null;
  /** Destination kind (copy, fill, writeImm, compare's second operand); null when none. */
  readonly dst: SpaceKind | null;
}

export interface Capabilities {
  readonly operations: readonly OperationSupport[];
  /** Largest byte count one descriptor may carry. */
  readonly maxDescriptorBytes: number;
  /** Most regions one session can register at a time. */
  readonly maxRegions: number;
  /**
   * Destination kinds whose writes the backend can make durable (the `durable` descriptor flag:
   * copy, fill and writeImm complete only once the bytes are in the persistence domain). Absent:
   * none; the Mover refuses `durable` for the rest.
   */
  readonly durable?: readonly SpaceKind[];
}

export interface ProbeResult {
  readonly available: boolean;
  /** Why not, in words a user can act on (missing library, no device, …). */
  readonly reason?: string;
  /** Facts found while probing: versions, devices, engine choice. */
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * A part the available backend runs without, something else standing in (soft's TypeScript
   * engine for a missing native one): Mover.open() lists it in stats().unavailable as
   * `<backend> <part>` with the reason, so the substitution is never silent.
   */
  readonly standIn?: { readonly part: string; readonly reason: string };
}

/** One end of a copy a plan asks an engine about: its kind, and its memory where the plan knows it (not for the staging pool). */
export interface CopyEnd {
  readonly kind: SpaceKind;
  readonly memory?: Memory | undefined;
  /** Where in `memory` the copy starts (a file's: from the region's `fileOffset`). */
  readonly offset?: number | undefined;
}

/** What an engine needs to register one region. */
export interface RegionInfo {
  readonly index: number;
  readonly memory: Memory;
  readonly length: number;
  readonly writable: boolean;
}

/**
 * Completion statuses from this value up are the backend's own (a device library's error code in
 * `detail`, for instance); the session's `describeError` turns them into errors. Below it, the
 * statuses of the engine ABI (docs/engine-abi.md) keep their meaning for every backend.
 */
export const BACKEND_STATUS_BASE = 64;

/** What a backend-defined completion status means, as an error. */
export interface EngineErrorInfo {
  readonly code: AnyErrorCode;
  readonly message: string;
  /** Merged into the error's `detail` (after `backend` and `status`). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** An open engine consuming one ring. */
export interface EngineSession {
  /**
   * True when the engine runs on its own thread: after a small submission to an idle ring the
   * producer then polls Read_Index for a few microseconds instead of waiting for a wake-up.
   */
  readonly concurrent?: boolean;
  /** Registers a region under its region-table index (the AKey index descriptors carry). */
  register(region: RegionInfo): void;
  /** Forgets a region; called only once no in-flight descriptor names it. */
  deregister(index: number): void;
  /** Tells the engine that Write_Index moved. */
  doorbell(): void;
  /**
   * Inline execution (docs/performance.md): settles the `count` descriptors written past
   * Read_Index — before Write_Index is advanced over them, so the engine's thread never sees them
   * — now, on the calling thread, through the engine's own executor and completion writes, and
   * returns how many it settled; -1 when the engine's thread holds the ring (the producer then
   * commits and rings the doorbell). Only engines over host memory offer it.
   */
  runInline?(count: number): number;
  /**
   * Whether runInline() can settle a descriptor of this operation (QW0's opcode kind bits); absent:
   * every one. An engine that runs some operations on a device (sdxi's function) answers false for those.
   */
  runsInline?(kind: number): boolean;
  /**
   * Why this engine's copy between these ends passes through host memory by itself (cuFile in
   * compatibility mode, a file without an O_DIRECT descriptor), in words for `plan.explain()`;
   * undefined when it moves them directly. The route search asks with kinds alone (what holds for
   * every region of the pair), a plan asks again with its ends' memory, offsets and its length
   * (what holds for this copy). A plan counts such a hop as a host copy.
   */
  hostBounce?(src: CopyEnd, dst: CopyEnd, length?: number): string | undefined;
  /** Keeps the process alive while `true` (work in flight) and lets it exit while `false`. */
  hold(active: boolean): void;
  /** Host memory aligned to `alignment`, when the engine can allocate it. */
  readonly allocateHost?: ((size: number, alignment: number) => Uint8Array) | undefined;
  /** Memory of the backend's own kinds it allocates or wraps (gds: 'gpu'); see MemoryProvider. */
  readonly memoryProviders?: readonly MemoryProvider[];
  /**
   * The address of a host view's first byte (HostMemory.address), so overlap is judged by
   * address before anything is queued. Only compared, never passed back to native code.
   */
  readonly memoryAddress?: ((view: Uint8Array) => number) | undefined;
  /**
   * The error a completion status at or above BACKEND_STATUS_BASE stands for (`detail` and
   * `result` as the engine wrote them); undefined falls back to a generic DEVICE_ERROR.
   */
  describeError?(status: number, detail: number, result: number): EngineErrorInfo | undefined;
  /** Engine-specific counters for `Mover.stats()`. */
  stats?(): Readonly<Record<string, number | string>>;
  /** Stops the engine; called once no work is in flight. */
  close(): void;
}

/** Memory a provider made or took in, with the address space it lives in. */
export interface ProvidedMemory {
  readonly memory: BackendMemory;
  readonly space: AddressSpace;
}

/**
 * How an engine allocates or wraps memory of a kind of its own (gds: 'gpu'). `Mover.alloc(size,
 * { kind, … })` and `Mover.wrap(handle, { kind, size, … })` go to the first open session whose
 * provider offers the kind, so core holds no per-kind method. Core checks `size`, `alignment` and
 * `readOnly` and refuses keys the provider does not declare; the provider checks its own keys'
 * values and the handle, throwing DatamoverError. What it returns is registered with
 * `Mover.registerMemory()` (released again if registration is refused).
 */
export interface MemoryProvider {
  readonly kind: SpaceKind;
  /** Option keys alloc() takes for this kind besides `kind` and `alignment` (gds: `device`). */
  readonly allocOptions?: readonly string[];
  /** Allocates `size` bytes aligned to `alignment` (a power of two; alloc()'s default 4096). */
  allocate?(size: number, alignment: number, options: Readonly<Record<string, unknown>>): ProvidedMemory;
  /** Option keys wrap() takes for this kind besides `kind`, `size` and `readOnly` (gds: `device`). */
  readonly wrapOptions?: readonly string[];
  /**
   * Takes in `size` bytes of memory another framework allocated, named by `handle` (gds: the
   * device address, a bigint): the one place a pointer comes from JavaScript, so the provider
   * validates it against the device first. Releasing the region forgets it, never frees it.
   */
  wrap?(handle: unknown, size: number, options: Readonly<Record<string, unknown>>): ProvidedMemory;
}

/**
 * The counters every native engine built on core's ring consumer (include/datamover/ring_consumer.h)
 * returns from its addon's `stats()`, beside its own.
 */
export interface RingConsumerStats {
  /** Descriptors the engine claimed and ran, whatever their status. */
  readonly executed: number;
  /** Nanoseconds the consumer was busy with descriptors, counted by the time it wakes the producer. */
  readonly execNs: number;
  /** Times the consumer thread blocked waiting for the doorbell. */
  readonly sleeps: number;
  /** Wake-ups after which the consumer stepped off the CPU of the JS thread that woke it. */
  readonly wakeMoves: number;
  /** Descriptors runInline() settled on the JS thread (also in `executed` when they ran). */
  readonly inlined: number;
  /** The consumer's spin window now, µs: it adapts between `spinMicros` and four times it (docs/performance.md). */
  readonly spinMicros: number;
}

export interface Backend {
  readonly name: string;
  readonly version: string;
  /** 'hardware' backends drive a device; 'software' ones run on the CPU. */
  readonly kind: 'hardware' | 'software';
  probe(): Promise<ProbeResult>;
  capabilities(): Capabilities;
  /** Ring slots this backend's sessions want (a power of two). */
  readonly ringEntries?: number;
  /** Opens a session consuming `ring`; `onProgress` is called (on the JS thread) when descriptors finish. */
  open(ring: Ring, onProgress: () => void): Promise<EngineSession>;
}

/** Every (operation, src, dst) combination over the given kinds, for backends that do everything. */
export function allOperations(kinds: readonly SpaceKind[]): OperationSupport[] {
  const out: OperationSupport[] = [{ op: 'nop', src: null, dst: null }];
  for (const a of kinds) {
    out.push({ op: 'crc32c', src: a, dst: null }, { op: 'fill', src: null, dst: a }, { op: 'writeImm', src: null, dst: a });
    out.push({ op: 'crc32cStrided', src: a, dst: null }, { op: 'fillStrided', src: null, dst: a });
    for (const b of kinds) {
      out.push({ op: 'copy', src: a, dst: b }, { op: 'compare', src: a, dst: b });
      out.push({ op: 'copyStrided', src: a, dst: b }, { op: 'compareStrided', src: a, dst: b });
    }
  }
  return out;
}
