/**
 * A batch: many descriptors, one submit, one Promise, a result per descriptor. Each add
 * method validates its input at once (throwing a DatamoverError before anything is queued) and
 * encodes the descriptor in its final 64-byte ring format, so submitting is a memory copy.
 */
import type { Operation } from './backend.js';
import { BatchResult } from './batch-result.js';
import { restack } from './caller-stack.js';
import * as gen from './descriptor/generated.js';
import { OPCODE_BITS } from './descriptor/schema.js';
import { datamoverError, ErrorCode } from './errors.js';
import { copyLength, endpoint, type Endpoint } from './endpoint.js';
import type { InlineMode, PathDecision } from './inline.js';
import { checkOptions, NO_OPTIONS, OPTION_KEYS, requiredOptions } from './options.js';
import { memoryOverlap } from './overlap.js';
import { checkBlocks, checkRange, type Region, type Registration } from './region.js';
import type { SpaceKind } from './spaces.js';

/** Flags any descriptor can carry. */
export interface DescriptorOptions {
  /** Run only after every earlier descriptor of the batch has finished. */
  fence?: boolean;
  /** Route to this backend by name instead of by policy. */
  backend?: string;
}
/** For operations that write (copy, fill, writeImmediate and the strided copy and fill). */
export interface DurableOption {
  /**
   * Complete only once the written bytes are in the destination's persistence domain (cache lines
   * written back and fenced, MAP_SYNC / msync for files). Refused with NOT_PERSISTENT when the
   * destination is volatile memory, and with UNSUPPORTED_OPERATION when the backend that runs the
   * descriptor cannot make writes to that kind durable.
   */
  durable?: boolean;
}
export interface CopyOptions extends DescriptorOptions, DurableOption {
  srcOffset?: number;
  dstOffset?: number;
  /** Bytes to copy; by default the whole source range, which must match the destination's. */
  length?: number;
}
export interface FillOptions extends DescriptorOptions, DurableOption {
  offset?: number;
  length?: number;
  /** 1 (default): repeat the low byte of `pattern`; 8: repeat its 8 little-endian bytes. */
  patternBytes?: 1 | 8;
}
export interface CompareOptions extends DescriptorOptions {
  aOffset?: number;
  bOffset?: number;
  length?: number;
}
export interface Crc32cOptions extends DescriptorOptions {
  offset?: number;
  length?: number;
  /** A previous checksum to continue from (crc32c(a ‖ b) = crc32c(b, seed = crc32c(a))). */
  seed?: number;
}
export interface WriteImmediateOptions extends DescriptorOptions, DurableOption {
  offset?: number;
  /** Bytes written: 1, 2, 4 or 8 (default 8). */
  width?: 1 | 2 | 4 | 8;
}
/** The blocks of a strided operation: `count` blocks of `blockBytes` each, one descriptor. */
export interface StridedBlocks {
  /** Blocks to move (at most 2³² − 1); 0 runs as a NOP. */
  count: number;
  /** Bytes per block (at most the backend's `maxDescriptorBytes`). */
  blockBytes: number;
}
/** Block i of the source is at srcOffset + i × srcStride; of the destination, at dstOffset + i × dstStride. */
export interface CopyStridedOptions extends DescriptorOptions, DurableOption, StridedBlocks {
  srcOffset?: number;
  dstOffset?: number;
  /** Bytes from one source block to the next (default `blockBytes`: packed); at least `blockBytes` when count > 1. */
  srcStride?: number;
  /** Bytes from one destination block to the next (default `blockBytes`). */
  dstStride?: number;
}
export interface FillStridedOptions extends DescriptorOptions, DurableOption, StridedBlocks {
  offset?: number;
  /** Bytes from one block to the next (default `blockBytes`). */
  stride?: number;
  /** As for fill; an 8-byte pattern starts afresh at each block. */
  patternBytes?: 1 | 8;
}
export interface CompareStridedOptions extends DescriptorOptions, StridedBlocks {
  aOffset?: number;
  bOffset?: number;
  aStride?: number;
  bStride?: number;
}
export interface Crc32cStridedOptions extends DescriptorOptions, StridedBlocks {
  offset?: number;
  stride?: number;
  /** A previous checksum to continue from. */
  seed?: number;
}
export interface SubmitOptions {
  signal?: AbortSignal;
  /** Cancel after this many milliseconds. */
  timeout?: number;
  /** Cancel at this time (milliseconds since the epoch, as Date.now()). */
  deadline?: number;
  /**
   * After a descriptor fails, run none of the later ones (reported not-run, reason
   * 'after-failure'). Without it only fenced descriptors after a failure are held back. Each
   * descriptor then starts only once the one before it has finished, on every engine.
   */
  stopOnError?: boolean;
  /** Execution path: run small work inline on this thread, or always on the engine (default: the Mover's; docs/performance.md). */
  inline?: InlineMode;
}

/** Which path one engine session's part of a batch takes, and why (`Batch.explain()`). */
export interface BatchPath extends PathDecision {
  readonly backend: string;
}

/** What a batch needs from its Mover. @internal */
export interface BatchHost {
  readonly id: number;
  assertOpen(): void;
  /** Index of the session that runs `op` on these kinds, honouring policy; throws when none. */
  route(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend: string | undefined): number;
  maxDescriptorBytes(session: number): number;
  /** Whether the session's backend can make writes to `kind` durable. */
  durable(session: number, kind: SpaceKind): boolean;
  /** The result when the batch settled inside the call (it ran inline), else a Promise of it. */
  submit(batch: Batch, options: SubmitOptions): BatchResult | Promise<BatchResult>;
  explain(batch: Batch, options: Pick<SubmitOptions, 'inline'>): BatchPath[];
}

const WORDS = 16;
const FENCE = 1 << OPCODE_BITS.fence;
const DURABLE = 1 << OPCODE_BITS.durable;
const U64 = 2n ** 64n;

export class Batch {
  /** Descriptors in ring format, 16 words each; word 0 holds the opcode without the valid bit. @internal */
  words: Uint32Array;
  /** Session index per descriptor. @internal */
  route: Uint8Array;
  /** Registrations the batch names, pinned while it is in flight. @internal */
  readonly regs = new Set<Registration>();
  /** The handles named: a batch being built or in flight keeps them from being collected (and released). */
  readonly #handles = new Set<Region>();
  /** Which sessions the batch uses. @internal */
  readonly sessions = new Set<number>();
  #length = 0;
  #submitted = false;
  readonly #host: BatchHost;
  /** False for a Mover one-shot batch: the Mover checked its merged options bag already. */
  readonly #checkKeys: boolean;

  /**
   * @internal Use Mover.batch(). Starts with room for one descriptor (64 bytes, which V8 keeps
   * on its heap) and grows fourfold as descriptors are added: a small batch allocates no backing store.
   */
  constructor(host: BatchHost, capacity = 1, checkKeys = true) {
    this.#host = host;
    this.#checkKeys = checkKeys;
    this.words = new Uint32Array(capacity * WORDS);
    this.route = new Uint8Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  copy(dst: Region, src: Region, options: CopyOptions = NO_OPTIONS): this {
    if (this.#checkKeys) checkOptions('Batch.copy()', options, OPTION_KEYS.copy);
    this.#check();
    const s = endpoint(this.#host.id, src, options.srcOffset, 'source');
    const d = endpoint(this.#host.id, dst, options.dstOffset, 'destination', true);
    return this.#copy(src, dst, s, d, copyLength(s, d, src, dst, options.length), options);
  }

  /**
   * @internal A copy whose two ends the caller checked already (endpoint(), copyLength()): a
   * one-hop transfer checks them to find its route, then adds the copy without checking twice.
   */
  copyChecked(src: Region, dst: Region, s: Endpoint, d: Endpoint, length: number): this {
    this.#check();
    return this.#copy(src, dst, s, d, length, NO_OPTIONS);
  }

  #copy(src: Region, dst: Region, s: Endpoint, d: Endpoint, length: number, options: CopyOptions): this {
    this.#handles.add(src).add(dst);
    const session = this.#route('copy', s.reg.space.kind, d.reg.space.kind, options, length);
    const du = this.#durable(options, d.reg, session);
    const w = this.#slot(session, s.reg, d.reg);
    if (length === 0) return this.#nop(w, options);
    gen.encodeCopyBody(this.words, w, { size: length - 1, attr: 0, akey0: s.reg.index, akey1: d.reg.index, addr0: s.abs, addr1: d.abs }, 0);
    return this.#opcode(w, gen.OPCODE.copy | du, options);
  }

  fill(dst: Region, pattern: number | bigint, options: FillOptions = NO_OPTIONS): this {
    if (this.#checkKeys) checkOptions('Batch.fill()', options, OPTION_KEYS.fill);
    const d = this.#endpoint(dst, options.offset, 'destination', true);
    const length = options.length ?? d.room;
    checkRange(d.offset, length, dst.length, 'fill');
    const patternBytes = this.#patternBytes(options.patternBytes);
    const p = unsigned(pattern, patternBytes, 'fill pattern');
    const session = this.#route('fill', null, d.reg.space.kind, options, length);
    const du = this.#durable(options, d.reg, session);
    const w = this.#slot(session, d.reg);
    if (length === 0) return this.#nop(w, options);
    gen.encodeFillBody(this.words, w, { size: length - 1, patternBytes, akey1: d.reg.index, addr1: d.abs, pattern: p }, 0);
    return this.#opcode(w, gen.OPCODE.fill | du, options);
  }

  compare(a: Region, b: Region, options: CompareOptions = NO_OPTIONS): this {
    if (this.#checkKeys) checkOptions('Batch.compare()', options, OPTION_KEYS.compare);
    const x = this.#endpoint(a, options.aOffset, 'first operand');
    const y = this.#endpoint(b, options.bOffset, 'second operand');
    let length = options.length;
    if (length === undefined) {
      if (x.room !== y.room) throw datamoverError(ErrorCode.LENGTH_MISMATCH, `compare ranges differ in length (${x.room} vs ${y.room}); pass { length }`);
      length = x.room;
    }
    checkRange(x.offset, length, a.length, 'first operand');
    checkRange(y.offset, length, b.length, 'second operand');
    const w = this.#slot(this.#route('compare', x.reg.space.kind, y.reg.space.kind, options, length), x.reg, y.reg);
    if (length === 0) return this.#nop(w, options, -1);
    gen.encodeCompareBody(this.words, w, { size: length - 1, akey0: x.reg.index, akey1: y.reg.index, addr0: x.abs, addr1: y.abs }, 0);
    return this.#opcode(w, gen.OPCODE.compare, options);
  }

  crc32c(src: Region, options: Crc32cOptions = NO_OPTIONS): this {
    if (this.#checkKeys) checkOptions('Batch.crc32c()', options, OPTION_KEYS.crc32c);
    const s = this.#endpoint(src, options.offset, 'source');
    const length = options.length ?? s.room;
    checkRange(s.offset, length, src.length, 'crc32c');
    const seed = Number(unsigned(options.seed ?? 0, 4, 'crc32c seed'));
    const w = this.#slot(this.#route('crc32c', s.reg.space.kind, null, options, length), s.reg);
    if (length === 0) return this.#nop(w, options, seed);
    gen.encodeCrc32cBody(this.words, w, { size: length - 1, akey0: s.reg.index, addr0: s.abs, seed }, 0);
    return this.#opcode(w, gen.OPCODE.crc32c, options);
  }

  writeImmediate(dst: Region, value: number | bigint, options: WriteImmediateOptions = NO_OPTIONS): this {
    if (this.#checkKeys) checkOptions('Batch.writeImmediate()', options, OPTION_KEYS.writeImmediate);
    const width = options.width ?? 8;
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `width must be 1, 2, 4 or 8, got ${String(width)}`);
    const d = this.#endpoint(dst, options.offset, 'destination', true);
    checkRange(d.offset, width, dst.length, 'write-immediate');
    const v = unsigned(value, width, 'immediate value');
    const session = this.#route('writeImm', null, d.reg.space.kind, options, width);
    const du = this.#durable(options, d.reg, session);
    const w = this.#slot(session, d.reg);
    gen.encodeWriteImmBody(this.words, w, { width, akey1: d.reg.index, addr1: d.abs, value: v }, 0);
    return this.#opcode(w, gen.OPCODE.writeImm | du, options);
  }

  /**
   * Copies `count` blocks of `blockBytes` in one descriptor: block i from srcOffset + i × srcStride
   * to dstOffset + i × dstStride. Every block is checked before any byte moves.
   */
  copyStrided(dst: Region, src: Region, options: CopyStridedOptions): this {
    const { count, blockBytes } = requiredOptions('Batch.copyStrided()', options, OPTION_KEYS.copyStrided);
    const s = this.#endpoint(src, options.srcOffset, 'source');
    const d = this.#endpoint(dst, options.dstOffset, 'destination', true);
    const srcStride = options.srcStride ?? blockBytes;
    const dstStride = options.dstStride ?? blockBytes;
    const spanS = checkBlocks(s.offset, count, blockBytes, srcStride, src.length, 'source');
    const spanD = checkBlocks(d.offset, count, blockBytes, dstStride, dst.length, 'destination');
    // The spans are judged whole: interleaved blocks of one memory are refused too (conservative).
    if (memoryOverlap(s.reg.memory, s.abs, d.reg.memory, d.abs, spanS, spanD)) {
      throw datamoverError(ErrorCode.OVERLAPPING_RANGES, 'source and destination blocks of a strided copy overlap in the same memory');
    }
    const session = this.#route('copyStrided', s.reg.space.kind, d.reg.space.kind, options, blockBytes);
    const du = this.#durable(options, d.reg, session);
    const w = this.#slot(session, s.reg, d.reg);
    if (spanS === 0) return this.#nop(w, options);
    gen.encodeCopyStridedBody(this.words, w, { size: blockBytes - 1, count, akey0: s.reg.index, akey1: d.reg.index, addr0: s.abs, addr1: d.abs, stride0: srcStride, stride1: dstStride }, 0);
    return this.#opcode(w, gen.OPCODE.copyStrided | du, options);
  }

  /** Fills `count` blocks of `blockBytes` at offset + i × stride with the pattern, in one descriptor. */
  fillStrided(dst: Region, pattern: number | bigint, options: FillStridedOptions): this {
    const { count, blockBytes } = requiredOptions('Batch.fillStrided()', options, OPTION_KEYS.fillStrided);
    const d = this.#endpoint(dst, options.offset, 'destination', true);
    const stride = options.stride ?? blockBytes;
    const span = checkBlocks(d.offset, count, blockBytes, stride, dst.length, 'fill');
    const patternBytes = this.#patternBytes(options.patternBytes);
    const p = unsigned(pattern, patternBytes, 'fill pattern');
    const session = this.#route('fillStrided', null, d.reg.space.kind, options, blockBytes);
    const du = this.#durable(options, d.reg, session);
    const w = this.#slot(session, d.reg);
    if (span === 0) return this.#nop(w, options);
    gen.encodeFillStridedBody(this.words, w, { size: blockBytes - 1, count, patternBytes, akey1: d.reg.index, addr1: d.abs, stride1: stride, pattern: p }, 0);
    return this.#opcode(w, gen.OPCODE.fillStrided | du, options);
  }

  /**
   * Compares `count` blocks of `blockBytes` pairwise in one descriptor. The result is the first
   * differing byte counted over the blocks laid end to end (i × blockBytes + offset in block i), or -1.
   */
  compareStrided(a: Region, b: Region, options: CompareStridedOptions): this {
    const { count, blockBytes } = requiredOptions('Batch.compareStrided()', options, OPTION_KEYS.compareStrided);
    const x = this.#endpoint(a, options.aOffset, 'first operand');
    const y = this.#endpoint(b, options.bOffset, 'second operand');
    const aStride = options.aStride ?? blockBytes;
    const bStride = options.bStride ?? blockBytes;
    const span = checkBlocks(x.offset, count, blockBytes, aStride, a.length, 'first operand');
    checkBlocks(y.offset, count, blockBytes, bStride, b.length, 'second operand');
    const w = this.#slot(this.#route('compareStrided', x.reg.space.kind, y.reg.space.kind, options, blockBytes), x.reg, y.reg);
    if (span === 0) return this.#nop(w, options, -1);
    gen.encodeCompareStridedBody(this.words, w, { size: blockBytes - 1, count, akey0: x.reg.index, akey1: y.reg.index, addr0: x.abs, addr1: y.abs, stride0: aStride, stride1: bStride }, 0);
    return this.#opcode(w, gen.OPCODE.compareStrided, options);
  }

  /**
   * CRC-32C of `count` blocks of `blockBytes`, chained: one checksum over the blocks in order, equal
   * to crc32c of the same bytes laid end to end (so it matches the checksum of a packed copy).
   */
  crc32cStrided(src: Region, options: Crc32cStridedOptions): this {
    const { count, blockBytes } = requiredOptions('Batch.crc32cStrided()', options, OPTION_KEYS.crc32cStrided);
    const s = this.#endpoint(src, options.offset, 'source');
    const stride = options.stride ?? blockBytes;
    const span = checkBlocks(s.offset, count, blockBytes, stride, src.length, 'crc32c');
    const seed = Number(unsigned(options.seed ?? 0, 4, 'crc32c seed'));
    const w = this.#slot(this.#route('crc32cStrided', s.reg.space.kind, null, options, blockBytes), s.reg);
    if (span === 0) return this.#nop(w, options, seed);
    gen.encodeCrc32cStridedBody(this.words, w, { size: blockBytes - 1, count, akey0: s.reg.index, addr0: s.abs, stride0: stride, seed }, 0);
    return this.#opcode(w, gen.OPCODE.crc32cStrided, options);
  }

  nop(options: DescriptorOptions = NO_OPTIONS): this {
    if (this.#checkKeys) checkOptions('Batch.nop()', options, OPTION_KEYS.nop);
    this.#check();
    return this.#nop(this.#slot(this.#route('nop', null, null, options, 0)), options);
  }

  /**
   * Which execution path each engine's part of this batch would take if submitted now (inline
   * on this thread or handed to the engine), and why: bytes, the model's estimate, the threshold.
   */
  explain(options: Pick<SubmitOptions, 'inline'> = NO_OPTIONS): BatchPath[] {
    this.#check();
    return this.#host.explain(this, options);
  }

  /** Submits every descriptor at once; resolves with a result per descriptor. */
  submit(options: SubmitOptions = NO_OPTIONS): Promise<BatchResult> {
    try {
      const r = this.run(options);
      return r instanceof Promise ? r : Promise.resolve(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * submit() without a Promise where none is needed: the result (or a throw) when the batch
   * settled inside this call, having run inline; otherwise a Promise. @internal
   */
  run(options: SubmitOptions): BatchResult | Promise<BatchResult> {
    let r: BatchResult | Promise<BatchResult>;
    try {
      if (this.#checkKeys) checkOptions('Batch.submit()', options, OPTION_KEYS.submit);
      this.#check();
      this.#submitted = true;
      this.#trim();
      r = this.#host.submit(this, options);
    } catch (e) {
      this.#handles.clear();
      throw restack(e);
    }
    if (r instanceof Promise) return this.#settle(r);
    this.#handles.clear(); // settled: a batch kept afterwards must not keep its regions
    return r;
  }

  async #settle(running: Promise<BatchResult>): Promise<BatchResult> {
    try {
      return await running;
    } catch (e) {
      throw restack(e); // a completion error gets the stack of whoever awaits this submit
    } finally {
      this.#handles.clear();
    }
  }

  /** Values a zero-length descriptor reports (it runs as a NOP). @internal */
  presets: Map<number, number> | undefined;

  #check(): void {
    this.#host.assertOpen();
    if (this.#submitted) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'this batch was already submitted; create a new one');
  }

  #endpoint(region: Region, offset: number | undefined, what: string, write = false): Endpoint {
    this.#check();
    const e = endpoint(this.#host.id, region, offset, what, write);
    this.#handles.add(region);
    return e;
  }

  #route(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, options: DescriptorOptions, length: number): number {
    const session = this.#host.route(op, src, dst, options.backend);
    const max = this.#host.maxDescriptorBytes(session);
    if (length > max) throw datamoverError(ErrorCode.SIZE_TOO_LARGE, `${length} bytes exceed the ${max}-byte limit of one descriptor; split the range`);
    return session;
  }

  #patternBytes(patternBytes: number | undefined): 1 | 8 {
    const n = patternBytes ?? 1;
    if (n !== 1 && n !== 8) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `patternBytes must be 1 or 8, got ${String(n)}`);
    return n;
  }

  /** The durable bit for a write to `dst` run by `session`, after checking it can be honoured. */
  #durable(options: DurableOption, dst: Registration, session: number): number {
    if (options.durable === undefined || options.durable === false) return 0;
    if (options.durable !== true) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `durable must be a boolean, got ${typeof options.durable}`);
    const space = dst.space;
    if (!space.persistent) {
      throw datamoverError(ErrorCode.NOT_PERSISTENT, `a durable write needs persistent memory, but the destination (${space.kind} ${space.name}) is volatile`);
    }
    if (!this.#host.durable(session, space.kind)) {
      throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the backend chosen for this descriptor cannot make writes to ${space.kind} regions durable`);
    }
    return DURABLE;
  }

  /** Reserves the next descriptor slot for the regions it names; returns its first word index. */
  #slot(session: number, a?: Registration, b?: Registration): number {
    const i = this.#length;
    if ((i + 1) * WORDS > this.words.length) this.#grow();
    this.route[i] = session;
    this.sessions.add(session);
    if (a) this.regs.add(a);
    if (b) this.regs.add(b);
    this.#length = i + 1;
    return i * WORDS;
  }

  /** Writes word 0 (opcode and fence; the valid bit is set when the ring publishes it). */
  #opcode(w: number, opcode: number, options: DescriptorOptions): this {
    this.words[w] = (opcode | (options.fence ? FENCE : 0)) >>> 0;
    return this;
  }

  #nop(w: number, options: DescriptorOptions, preset = 0): this {
    gen.encodeNopBody(this.words, w, 0);
    if (preset !== 0) (this.presets ??= new Map()).set(w / WORDS, preset);
    return this.#opcode(w, gen.OPCODE.nop, options);
  }

  #grow(): void {
    // ×4: from room for one, a 4096-descriptor batch is copied 6 times, not 12.
    const words = new Uint32Array(this.words.length * 4);
    words.set(this.words);
    this.words = words;
    const route = new Uint8Array(this.route.length * 4);
    route.set(this.route);
    this.route = route;
  }

  #trim(): void {
    // Keeps memory proportional to the batch once it is sealed.
    if (this.words.length > this.#length * WORDS * 4) {
      this.words = this.words.slice(0, this.#length * WORDS);
      this.route = this.route.slice(0, this.#length);
    }
  }

  /** @internal */
  newResult(): BatchResult {
    return new BatchResult(this.#length);
  }
}

/** Validates an unsigned integer that must fit `bytes` bytes; returns it as a bigint. */
function unsigned(v: number | bigint, bytes: number, what: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${what} must be an integer (number or bigint), got ${typeof v === 'number' ? v : typeof v}`);
  const limit = bytes === 8 ? U64 : 1n << BigInt(bytes * 8);
  if (b < 0n || b >= limit) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${what} ${b} does not fit in ${bytes} unsigned byte(s)`);
  return b;
}

