/**
 * Regions and their move semantics. A Registration owns the registered memory (its region-table
 * index, its file descriptors, its engine registrations); Region handles refer to it. `move()`
 * hands ownership to a new handle and kills the old one; slices borrow from their parent; a
 * registration is freed only when no slice borrows it and no in-flight work touches it.
 */
import { constants as bufferConstants } from 'node:buffer';
import { datamoverError, ErrorCode } from './errors.js';
import type { Memory } from './memory.js';
import type { AddressSpace, SpaceKind } from './spaces.js';

/** The owner of registrations (a Mover): frees what a registration holds. */
export interface RegistrationOwner {
  readonly id: number;
  free(reg: Registration): void;
}

export class Registration {
  /** Live slice handles borrowing this registration. */
  borrowers = 0;
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

  #free(): void {
    if (this.freed) return;
    this.freed = true;
    this.owner.free(this);
  }
}

type HandleState = 'live' | 'moved' | 'released';

/**
 * A handle on a registered, bounds-known byte range of one address space. Create regions
 * through a Mover (`wrap`, `alloc`, `openFile`); descriptors name them by handle, offset and
 * length, never by pointer.
 */
export class Region {
  #state: HandleState = 'live';
  readonly #reg: Registration;
  /** Offset of this handle's first byte inside the registration. */
  readonly #base: number;
  readonly #parent: Region | undefined;

  /** @internal Use Mover.wrap / alloc / openFile, or Region.slice. */
  constructor(reg: Registration, base: number, readonly length: number, parent?: Region) {
    this.#reg = reg;
    this.#base = base;
    this.#parent = parent;
    if (parent) reg.borrowers++;
  }

  get kind(): SpaceKind {
    return this.#reg.space.kind;
  }
  get space(): AddressSpace {
    return this.#reg.space;
  }
  get writable(): boolean {
    return this.#reg.writable;
  }
  /** True for a handle that can still be used (not moved away, not released). */
  get live(): boolean {
    return this.#state === 'live' && !this.#reg.releasing;
  }
  /** True for a slice (a handle that borrows from a parent region). */
  get isSlice(): boolean {
    return this.#parent !== undefined;
  }

  /**
   * The registration and this handle's base offset inside it, after checking the handle is
   * usable. Engines and the Mover call this; it is the single place state errors come from.
   * @internal
   */
  resolve(): { reg: Registration; base: number } {
    if (this.#state === 'moved') throw datamoverError(ErrorCode.USE_AFTER_MOVE, 'region handle was moved; use the handle move() returned');
    if (this.#state === 'released' || this.#reg.releasing) throw datamoverError(ErrorCode.REGION_RELEASED, 'region was released');
    if (this.#parent && !this.#parent.#liveOrMoved()) throw datamoverError(ErrorCode.REGION_RELEASED, 'the parent of this slice was released');
    const m = this.#reg.memory;
    if (m.kind === 'host' && m.view.byteLength !== this.#reg.length) {
      throw datamoverError(ErrorCode.DETACHED_BUFFER, 'the ArrayBuffer behind this region was detached');
    }
    return { reg: this.#reg, base: this.#base };
  }

  #liveOrMoved(): boolean {
    return this.#state !== 'released' && !this.#reg.releasing;
  }

  /** A handle on `length` bytes from `offset` that borrows this region: the parent cannot be released while the slice lives. */
  slice(offset: number, length: number = this.length - offset): Region {
    this.resolve();
    checkRange(offset, length, this.length);
    return new Region(this.#reg, this.#base + offset, length, this);
  }

  /**
   * Transfers ownership to a new handle without copying a byte. This handle is dead afterwards:
   * any use throws USE_AFTER_MOVE. In-flight work and slices carry on unaffected.
   */
  move(): Region {
    this.resolve();
    this.#state = 'moved';
    const next = new Region(this.#reg, this.#base, this.length, this.#parent);
    if (this.#parent) this.#reg.borrowers--; // the borrow moves with the handle, not doubles
    return next;
  }

  /**
   * Releases the handle. A slice returns its borrow. An owning handle is refused with
   * REGION_BUSY while slices borrow from it; with work in flight the release is deferred: the
   * handle dies now, and the memory is freed when the work settles (the Promise resolves then).
   */
  async release(): Promise<void> {
    this.resolve();
    if (this.#parent) {
      this.#state = 'released';
      this.#reg.borrowers--;
      return;
    }
    if (this.#reg.borrowers > 0) {
      throw datamoverError(ErrorCode.REGION_BUSY, `region has ${this.#reg.borrowers} live slice(s); release them first`);
    }
    this.#state = 'released';
    this.#reg.release();
    await this.#reg.drained();
  }

  /**
   * The bytes of a host region as a Uint8Array (no copy). Reading it while a transfer writes
   * the region shows whatever the engine has written so far.
   */
  bytes(): Uint8Array {
    const { reg, base } = this.resolve();
    if (reg.memory.kind !== 'host') {
      throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `a ${reg.space.kind} region has no CPU view; copy it into a host region`);
    }
    return reg.memory.view.subarray(base, base + this.length);
  }

  toString(): string {
    return `Region(${this.kind}:${this.space.name} +${this.#base} len=${this.length} ${this.#state})`;
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

/** Throws INVALID_SIZE unless `n` is a non-negative safe integer. */
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

export function checkSize(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw datamoverError(
      typeof n === 'number' || typeof n === 'bigint' ? ErrorCode.INVALID_SIZE : ErrorCode.INVALID_ARGUMENT,
      `${what} must be a non-negative safe integer, got ${typeof n === 'number' ? n : typeof n}`,
    );
  }
}
