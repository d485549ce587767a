/**
 * Regions and their move semantics. A Registration owns the registered memory (its region-table
 * index, its file descriptors, its engine registrations); Region handles refer to it through the
 * spans of its slice tree. `move()` hands a span to a new handle and kills the old one; slices are
 * child spans; a registration is freed only when its tree is gone and no in-flight work touches it.
 * A handle that is garbage-collected unreleased is released by the collector below (`handles`).
 */
import { constants as bufferConstants } from 'node:buffer';
import { collector } from './collector.js';
import { datamoverError, ErrorCode } from './errors.js';
import { isHostMemory, type Memory } from './memory.js';
import type { AddressSpace, SpaceKind } from './spaces.js';

/** The owner of registrations (a Mover's region table): frees what a registration holds. */
export interface RegistrationOwner {
  readonly id: number;
  /** Registrations released because every handle on them was collected unreleased. */
  collected: number;
  free(reg: Registration): void;
}

export class Registration {
  /** Batches in flight that name this registration. */
  inFlight = 0;
  /** Set once the owning handle is released; the memory is freed when inFlight drops to 0. */
  releasing = false;
  freed = false;
  readonly #drained: (() => void)[] = [];

  constructor(
    readonly owner: RegistrationOwner,
    /** Region-table index: the AKey index descriptors carry. */
    readonly index: number,
    readonly space: AddressSpace,
    readonly memory: Memory,
    readonly length: number,
    readonly writable: boolean,
  ) {}

  /** Resolves when no in-flight work touches the registration. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** Called by the submitter when a batch naming this registration settles. */
  settle(): void {
    if (--this.inFlight > 0) return;
    for (const resolve of this.#drained.splice(0)) resolve();
    if (this.releasing) this.#free();
  }

  /** Frees now when idle, else when the last in-flight batch settles. */
  release(): void {
    this.releasing = true;
    if (this.inFlight === 0) this.#free();
  }

  /** Frees now, whoever still holds it: the end of the owning Mover (which waits for its work first). */
  forceFree(): void {
    this.releasing = true;
    this.#free();
  }

  #free(): void {
    if (this.freed) return;
    this.freed = true;
    this.owner.free(this);
  }
}

/**
 * A node of a registration's slice tree: the byte range one handle refers to. The root covers
 * the registration; slices are children. A span leaves the tree when it is released (refused
 * while it has children) or, once its handle was collected, when its last child has left; the
 * root leaving releases the registration. Spans never reference their handle, so a handle can
 * be collected while its slices live.
 * @internal
 */
export class Span {
  readonly children = new Set<Span>();
  /** Released through its handle: dead at once. */
  released = false;
  /** Its handle was collected unreleased (or retired by its owner): it leaves with its last child. */
  dropped = false;
  /** Dropped by the collector, not retired: counted in the owner's `collected`. */
  collected = false;

  constructor(
    readonly reg: Registration,
    /** Offset of the span's first byte inside the registration. */
    readonly base: number,
    readonly length: number,
    readonly parent?: Span,
  ) {
    parent?.children.add(this);
  }

  /** Detaches from the parent (which follows when it was dropped and is now childless); the root releases the registration. */
  leave(): void {
    const p = this.parent;
    if (!p) {
      if (this.collected && !this.reg.releasing) this.reg.owner.collected++;
      this.reg.release();
    } else {
      p.children.delete(this);
      if (p.dropped && p.children.size === 0) p.leave();
    }
  }

  /** The span's handle is gone unreleased (`collected`: by the collector) or retired by its owner. */
  drop(collected: boolean): void {
    if (this.released || this.reg.releasing) return;
    this.dropped = true;
    this.collected = collected;
    if (this.children.size === 0) this.leave();
  }
}

/**
 * Releases the span of a handle collected unreleased. It holds the span, never the handle (a
 * held value that led back to the handle would keep it alive forever); registrations with work
 * in flight are freed when the work settles, as on release(). The handle is its own unregister
 * token: move() and release() unregister it, so a released handle costs no finalizer callback
 * (measured cheaper than leaving the cell to fire).
 */
const handles = collector<Span>('region handle', (span) => span.drop(true));

/**
 * A handle on a registered, bounds-known byte range of one address space. Create regions
 * through a Mover (`wrap`, `alloc`, `openFile`); descriptors name them by handle, offset and
 * length, never by pointer. A handle garbage-collected without release() is released then (its
 * registration once no slice of it lives and no work in flight names it).
 */
export class Region {
  #moved = false;
  readonly #span: Span;

  /** @internal Use Mover.wrap / alloc / openFile, or Region.slice. */
  constructor(span: Span) {
    this.#span = span;
    handles.register(this, span, this);
  }

  get length(): number {
    return this.#span.length;
  }
  get kind(): SpaceKind {
    return this.#span.reg.space.kind;
  }
  get space(): AddressSpace {
    return this.#span.reg.space;
  }
  get writable(): boolean {
    return this.#span.reg.writable;
  }
  /** True for a handle that can still be used (not moved away, not released). */
  get live(): boolean {
    return !this.#moved && !this.#span.released && !this.#span.reg.releasing;
  }
  /** True for a slice (a handle on a child span of another region). */
  get isSlice(): boolean {
    return this.#span.parent !== undefined;
  }

  /**
   * The registration and this handle's base offset inside it, after checking the handle is
   * usable. Engines and the Mover call this; it is the single place state errors come from.
   * @internal
   */
  resolve(): { readonly reg: Registration; readonly base: number } {
    const span = this.#usable();
    const m = span.reg.memory;
    if (isHostMemory(m) && m.view.byteLength !== span.reg.length) {
      throw datamoverError(ErrorCode.DETACHED_BUFFER, 'the ArrayBuffer behind this region was detached');
    }
    return span; // the span itself: no object made per descriptor
  }

  /**
   * The span, unless the handle was moved away or released. A live span's ancestors are live
   * too: a span with children cannot be released, and the registration going releases them all.
   */
  #usable(): Span {
    if (this.#moved) throw datamoverError(ErrorCode.USE_AFTER_MOVE, 'region handle was moved; use the handle move() returned');
    const span = this.#span;
    if (span.released || span.reg.releasing) throw datamoverError(ErrorCode.REGION_RELEASED, 'region was released');
    return span;
  }

  /** A handle on `length` bytes from `offset`, a child of this region: this region cannot be released while the slice lives. */
  slice(offset: number, length?: number): Region {
    this.resolve();
    checkSize(offset, 'range offset'); // before it is used for the default length
    const n = length === undefined ? this.length - offset : length;
    checkRange(offset, n, this.length);
    const span = this.#span;
    return new Region(new Span(span.reg, span.base + offset, n, span));
  }

  /**
   * Transfers ownership to a new handle without copying a byte. This handle is dead afterwards:
   * any use throws USE_AFTER_MOVE. In-flight work carries on unaffected, and this region's
   * slices become the new handle's: they stay usable and still hold it busy.
   */
  move(): Region {
    const span = this.#usable();
    this.#moved = true;
    handles.unregister(this);
    return new Region(span);
  }

  /**
   * Checks that release() would be accepted: REGION_BUSY, naming the count, while the region has
   * live slices (release them first; a slice's own slices hold it the same way).
   * @internal
   */
  releasable(): Span {
    const span = this.#usable();
    const n = span.children.size;
    if (n > 0) throw datamoverError(ErrorCode.REGION_BUSY, `region has ${n} live slice(s); release them first`, { detail: { slices: n } });
    return span;
  }

  /**
   * Releases the handle for an owner that handed it out (RegionExchange's import cache), the way
   * the collector does: once the region's slices are gone, its memory once no work in flight
   * names it. Until then holders of the handle or its slices can still use them.
   * @internal
   */
  retire(): void {
    if (this.#moved) return;
    handles.unregister(this);
    this.#span.drop(false);
  }

  /**
   * Releases the handle. Refused with REGION_BUSY while slices of it live. A slice returns its
   * place in the tree at once. An owning handle dies now; with work in flight its memory is freed
   * when the work settles (the Promise resolves then).
   */
  async release(): Promise<void> {
    const span = this.releasable();
    span.released = true;
    handles.unregister(this);
    span.leave();
    if (!span.parent) await span.reg.drained();
  }

  /**
   * The bytes of a host region as a Uint8Array (no copy). Reading it while a transfer writes
   * the region shows whatever the engine has written so far.
   */
  bytes(): Uint8Array {
    const { reg, base } = this.resolve();
    if (!isHostMemory(reg.memory)) {
      throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `a ${reg.space.kind} region has no CPU view; copy it into a host region`);
    }
    return reg.memory.view.subarray(base, base + this.length);
  }

  toString(): string {
    const state = this.#moved ? 'moved' : this.live ? 'live' : 'released';
    return `Region(${this.kind}:${this.space.name} +${this.#span.base} len=${this.length} ${state})`;
  }
}

/** Throws INVALID_SIZE / OUT_OF_BOUNDS unless [offset, offset+length) lies within `limit` bytes. */
export function checkRange(offset: number, length: number, limit: number, what = 'range'): void {
  checkSize(offset, `${what} offset`);
  checkSize(length, `${what} length`);
  if (offset + length > limit) {
    throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `${what} [${offset}, ${offset + length}) runs past the region's ${limit} bytes`);
  }
}

/** Most blocks one strided descriptor carries (its `count` is 32 bits). */
export const MAX_STRIDED_COUNT = 0xffff_ffff;

/**
 * Checks one side of a strided operation: `count` blocks of `blockBytes`, block i at
 * offset + i × stride, all inside `limit` bytes. Blocks of one side must not overlap one another
 * (OVERLAPPING_RANGES when count > 1 and stride < blockBytes). The last block may end exactly at
 * the region's end; the bound is decided by division, so stride × count never has to fit a number.
 * Returns the span: bytes from the first block's start to the last's end (0 when count is 0).
 */
export function checkBlocks(offset: number, count: number, blockBytes: number, stride: number, limit: number, what: string): number {
  checkSize(count, `${what} count`);
  checkSize(blockBytes, `${what} blockBytes`);
  checkSize(stride, `${what} stride`);
  if (count > MAX_STRIDED_COUNT) throw datamoverError(ErrorCode.SIZE_TOO_LARGE, `${what} count ${count} exceeds the ${MAX_STRIDED_COUNT} blocks of one strided descriptor`);
  if (count > 1 && stride < blockBytes) {
    throw datamoverError(ErrorCode.OVERLAPPING_RANGES, `${what} stride ${stride} is below the block size ${blockBytes}: the blocks would overlap`);
  }
  if (count === 0 || blockBytes === 0) return 0;
  checkRange(offset, blockBytes, limit, `${what} first block`);
  if (count > 1 && stride > 0 && count - 1 > Math.floor((limit - offset - blockBytes) / stride)) {
    throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `${what}: ${count} blocks of ${blockBytes} bytes every ${stride} from offset ${offset} run past the region's ${limit} bytes`);
  }
  return (count - 1) * stride + blockBytes;
}

/** The largest ArrayBuffer this runtime makes (Node 20: 4 GiB). */
const MAX_BUFFER_BYTES = bufferConstants.MAX_LENGTH;

/**
 * Checks the size of host memory an engine is about to allocate as an ArrayBuffer. Above the
 * runtime's limit Node refuses the external buffer (and on Node 20 frees its backing store twice
 * doing so), so every allocator checks here first.
 */
export function checkAllocationSize(size: unknown): asserts size is number {
  checkSize(size, 'allocation size');
  if (size > MAX_BUFFER_BYTES) throw datamoverError(ErrorCode.SIZE_TOO_LARGE, `allocation size ${size} exceeds the ${MAX_BUFFER_BYTES}-byte ArrayBuffer limit of this runtime`);
}

/** Throws INVALID_SIZE unless `n` is a non-negative safe integer (INVALID_ARGUMENT when it is no number at all). */
export function checkSize(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw datamoverError(
      typeof n === 'number' || typeof n === 'bigint' ? ErrorCode.INVALID_SIZE : ErrorCode.INVALID_ARGUMENT,
      `${what} must be a non-negative safe integer, got ${typeof n === 'number' ? n : typeof n}`,
    );
  }
}
