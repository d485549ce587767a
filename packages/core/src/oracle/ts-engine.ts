/**
 * The pure-TypeScript engine: the correctness oracle, the reference semantics of the engine ABI
 * (docs/engine-abi.md). It consumes the same ring as the native engines, on the JS thread, with
 * the simplest code that can be right; every native engine is tested against it (soft runs it
 * as its 'ts' engine, core's own tests run the Mover over it). It runs in slices of at most a few milliseconds between event-loop turns,
 * but one large descriptor runs to its end: use the native engine for real work.
 */
import { readSync, writeSync } from 'node:fs';
import * as abi from '../abi.js';
import type { EngineSession, RegionInfo } from '../backend.js';
import { datamoverError, ErrorCode } from '../errors.js';
import type { HostEngineAddon } from '../host-engine.js';
import { isFileMemory, isHostMemory, type Memory } from '../memory.js';
import { memoryOverlap } from '../overlap.js';
import type { Ring } from '../ring/ring.js';
import { crc32c } from './crc32c.js';

const { CLAIM, COMPLETION, COMPLETION_FLAG_ERROR, CompletionStatus: S, NOT_RUN_DETAIL, OPCODE_BITS, RESERVED_OPCODE_BITS, RING_HEADER } = abi;
const SLICE_MS = 4;
const CHUNK = 1 << 20;
/** Opcode bits that must be clear: se, ch, csr, rb, bits 7:6 and 31:27. */

/** A side whose blocks overlap one another (stride below the block size): OVERLAP. */
function selfOverlap(count: number, stride: number, n: number): boolean {
  return count > 1 && stride < n;
}

/** Up to CHUNK bytes of the fill pattern from its phase 0; BAD_DESCRIPTOR for a width but 1 or 8. */
function fillChunk(patternBytes: number, pattern: bigint, n: number): Uint8Array {
  if (patternBytes !== 1 && patternBytes !== 8) throw new Refusal(S.BAD_DESCRIPTOR);
  const unit = new Uint8Array(8);
  new DataView(unit.buffer).setBigUint64(0, pattern, true);
  const chunk = new Uint8Array(Math.min(CHUNK, n));
  for (let k = 0; k < chunk.length; k++) chunk[k] = patternBytes === 1 ? unit[0]! : unit[k & 7]!;
  return chunk;
}

class Refusal {
  constructor(
    readonly status: number,
    readonly detail = 0,
    readonly result = 0,
  ) {}
}

/** Byte access to one registered region: host memory or a file range. */
interface Access {
  readonly memory: Memory;
  readonly length: number;
  readonly writable: boolean;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
}

function access(region: RegionInfo): Access {
  const { memory, length, writable } = region;
  if (isHostMemory(memory)) {
    const view = memory.view;
    return { memory, length, writable, read: (o, n) => view.subarray(o, o + n), write: (o, d) => view.set(d, o) };
  }
  if (!isFileMemory(memory)) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the TypeScript engine cannot address ${memory.kind} memory`);
  const fd = memory.fd;
  const base = memory.fileOffset;
  return {
    memory,
    length,
    writable,
    read(o, n) {
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const got = io(() => readSync(fd, out, done, n - done, base + o + done));
        if (got === 0) throw new Refusal(S.SHORT_IO, 0, done);
        done += got;
      }
      return out;
    },
    write(o, d) {
      let done = 0;
      while (done < d.length) done += io(() => writeSync(fd, d, done, d.length - done, base + o + done));
    },
  };
}

function io<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Refusal(S.IO_ERROR, Math.abs((e as NodeJS.ErrnoException).errno ?? 5));
  }
}

export class TsEngine implements EngineSession {
  readonly #ring: Ring;
  readonly #u32: Uint32Array;
  readonly #u64: BigUint64Array;
  readonly #onProgress: () => void;
  readonly #regions = new Map<number, Access>();
  #read = 0;
  #scheduled = false;
  #closed = false;
  #executed = 0;
  readonly #failures = new abi.FailureRule();

  /** Aligned host memory and host addresses, when the native addon is built (the engine itself needs neither). */
  readonly allocateHost: ((size: number, alignment: number) => Uint8Array) | undefined;
  readonly memoryAddress: ((view: Uint8Array) => number) | undefined;

  constructor(ring: Ring, onProgress: () => void, addon?: Pick<HostEngineAddon, 'allocateAligned' | 'memoryAddress'>) {
    this.allocateHost = addon && ((size, alignment) => new Uint8Array(addon.allocateAligned(size, alignment)));
    this.memoryAddress = addon?.memoryAddress;
    this.#ring = ring;
    this.#u32 = ring.u32;
    this.#u64 = new BigUint64Array(ring.sab, 0, RING_HEADER.bytes / 8);
    this.#onProgress = onProgress;
  }

  register(region: RegionInfo): void {
    this.#regions.set(region.index, access(region));
  }
  deregister(index: number): void {
    this.#regions.delete(index);
  }
  doorbell(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
  }
  hold(): void {
    // setImmediate keeps the process alive while work is scheduled; nothing to hold.
  }
  stats(): Record<string, number | string> {
    return { engine: 'ts', executed: this.#executed };
  }
  close(): void {
    this.#closed = true;
  }

  #run(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    const end = performance.now() + SLICE_MS;
    const u32 = this.#u32;
    const ring = this.#ring;
    let progressed = false;
    while (performance.now() < end) {
      const write = Number(Atomics.load(this.#u64, RING_HEADER.writeIndex / 8));
      if (this.#read >= write) break;
      const w = ring.slotWord(this.#read);
      if ((Atomics.load(u32, w) & (1 << OPCODE_BITS.valid)) === 0) break; // not yet published
      this.#consume(this.#read, w);
      this.#read++;
      Atomics.store(this.#u64, RING_HEADER.readIndex / 8, BigInt(this.#read));
      progressed = true;
    }
    if (progressed) this.#onProgress();
    // More published work than one slice: continue after the event loop breathes.
    if (this.#read < Number(Atomics.load(this.#u64, RING_HEADER.writeIndex / 8))) this.doorbell();
  }

  #consume(i: number, w: number): void {
    const u32 = this.#u32;
    const cb = this.#ring.completionWord(i);
    const d = abi.decodeDescriptor(u32, w);
    let status: number = S.OK;
    let detail = 0;
    let result = 0n;
    if (d.noPointer || d.csbPtr !== cb * 4) status = S.BAD_DESCRIPTOR;
    else if (Atomics.compareExchange(u32, cb + COMPLETION.claim / 4, CLAIM.pending, CLAIM.claimed) !== CLAIM.pending) status = S.NOT_RUN;
    else if (this.#failures.heldBack(u32, cb, u32[w]!)) {
      status = S.NOT_RUN;
      detail = NOT_RUN_DETAIL.afterFailure;
    } else {
      try {
        result = this.#execute(d, u32[w]!);
        this.#executed++;
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        status = e.status;
        detail = e.detail;
        result = BigInt(e.result);
      }
    }
    this.#failures.settle(u32, cb, status);
    u32[cb + COMPLETION.status / 4] = status;
    u32[cb + COMPLETION.detail / 4] = detail;
    u32[cb + COMPLETION.result / 4] = Number(result & 0xffff_ffffn);
    u32[cb + COMPLETION.result / 4 + 1] = Number(result >> 32n);
    u32[cb + COMPLETION.flags / 4] = status === S.OK || status === S.NOT_RUN ? 0 : COMPLETION_FLAG_ERROR;
    Atomics.store(u32, cb + COMPLETION.signal / 4, 0);
  }

  /** Runs one descriptor; returns its result value or throws a Refusal. */
  #execute(d: abi.DecodedDescriptor, word0: number): bigint {
    if ((word0 & RESERVED_OPCODE_BITS) !== 0) throw new Refusal(S.BAD_DESCRIPTOR);
    try {
      return this.#dispatch(d);
    } catch (e) {
      // A short read inside a chunk counts the bytes of the chunks before it too.
      if (e instanceof Refusal && e.status === S.SHORT_IO) throw new Refusal(S.SHORT_IO, 0, this.#chunkStart + e.result);
      throw e;
    }
  }

  /** Byte offset, within the current descriptor, of the chunk being moved. */
  #chunkStart = 0;

  #dispatch(d: abi.DecodedDescriptor): bigint {
    this.#chunkStart = 0;
    switch (d.op) {
      case 'nop':
        return 0n;
      case 'copy': {
        const n = d.size + 1;
        const src = this.#range(d.akey0, d.addr0, n, false);
        const dst = this.#range(d.akey1, d.addr1, n, true);
        if (memoryOverlap(src.memory, d.addr0, dst.memory, d.addr1, n)) throw new Refusal(S.OVERLAP);
        this.#copyBytes(src, d.addr0, dst, d.addr1, n, 0);
        return 0n;
      }
      case 'fill': {
        const n = d.size + 1;
        const dst = this.#range(d.akey1, d.addr1, n, true);
        this.#fillBytes(dst, d.addr1, n, fillChunk(d.patternBytes, d.pattern, n));
        return 0n;
      }
      case 'compare': {
        const n = d.size + 1;
        const a = this.#range(d.akey0, d.addr0, n, false);
        const b = this.#range(d.akey1, d.addr1, n, false);
        return BigInt.asUintN(64, BigInt(this.#compareBytes(a, d.addr0, b, d.addr1, n, 0)));
      }
      case 'crc32c': {
        const n = d.size + 1;
        const src = this.#range(d.akey0, d.addr0, n, false);
        return BigInt(this.#crcBytes(src, d.addr0, n, d.seed, 0));
      }
      // Strided: every block of every side checked first (the kit's strided.cc order), then each
      // block through the contiguous operation's byte work.
      case 'copyStrided': {
        const n = d.size + 1;
        if (d.count === 0) throw new Refusal(S.BAD_DESCRIPTOR);
        const src = this.#blocks(d.akey0, d.addr0, n, d.count, d.stride0, false);
        const dst = this.#blocks(d.akey1, d.addr1, n, d.count, d.stride1, true);
        const span = (stride: number) => (d.count - 1) * stride + n;
        if (selfOverlap(d.count, d.stride0, n) || selfOverlap(d.count, d.stride1, n) || memoryOverlap(src.memory, d.addr0, dst.memory, d.addr1, span(d.stride0), span(d.stride1))) {
          throw new Refusal(S.OVERLAP);
        }
        for (let i = 0; i < d.count; i++) this.#copyBytes(src, d.addr0 + i * d.stride0, dst, d.addr1 + i * d.stride1, n, i * n);
        return 0n;
      }
      case 'fillStrided': {
        const n = d.size + 1;
        if (d.count === 0) throw new Refusal(S.BAD_DESCRIPTOR);
        const dst = this.#blocks(d.akey1, d.addr1, n, d.count, d.stride1, true);
        const chunk = fillChunk(d.patternBytes, d.pattern, n);
        if (selfOverlap(d.count, d.stride1, n)) throw new Refusal(S.OVERLAP);
        for (let i = 0; i < d.count; i++) this.#fillBytes(dst, d.addr1 + i * d.stride1, n, chunk);
        return 0n;
      }
      case 'compareStrided': {
        const n = d.size + 1;
        if (d.count === 0) throw new Refusal(S.BAD_DESCRIPTOR);
        const a = this.#blocks(d.akey0, d.addr0, n, d.count, d.stride0, false);
        const b = this.#blocks(d.akey1, d.addr1, n, d.count, d.stride1, false);
        if (selfOverlap(d.count, d.stride0, n) || selfOverlap(d.count, d.stride1, n)) throw new Refusal(S.OVERLAP);
        for (let i = 0; i < d.count; i++) {
          const m = this.#compareBytes(a, d.addr0 + i * d.stride0, b, d.addr1 + i * d.stride1, n, i * n);
          if (m >= 0) return BigInt(i * n + m);
        }
        return 0xffff_ffff_ffff_ffffn;
      }
      case 'crc32cStrided': {
        const n = d.size + 1;
        if (d.count === 0) throw new Refusal(S.BAD_DESCRIPTOR);
        const src = this.#blocks(d.akey0, d.addr0, n, d.count, d.stride0, false);
        if (selfOverlap(d.count, d.stride0, n)) throw new Refusal(S.OVERLAP);
        let c = d.seed; // chained over the blocks in order
        for (let i = 0; i < d.count; i++) c = this.#crcBytes(src, d.addr0 + i * d.stride0, n, c, i * n);
        return BigInt(c);
      }
      case 'writeImm': {
        if (![1, 2, 4, 8].includes(d.width)) throw new Refusal(S.BAD_DESCRIPTOR);
        const dst = this.#range(d.akey1, d.addr1, d.width, true);
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setBigUint64(0, d.value, true);
        dst.write(d.addr1, bytes.subarray(0, d.width));
        return 0n;
      }
      default:
        throw new Refusal(S.BAD_DESCRIPTOR);
    }
  }

  #copyBytes(src: Access, a0: number, dst: Access, a1: number, n: number, before: number): void {
    for (let o = 0; o < n; o += CHUNK) {
      this.#chunkStart = before + o;
      dst.write(a1 + o, src.read(a0 + o, Math.min(CHUNK, n - o)));
    }
  }

  #fillBytes(dst: Access, a1: number, n: number, chunk: Uint8Array): void {
    // CHUNK is a multiple of 8, so an 8-byte pattern stays in phase from chunk to chunk.
    for (let o = 0; o < n; o += CHUNK) dst.write(a1 + o, chunk.subarray(0, Math.min(CHUNK, n - o)));
  }

  /** The first differing offset, or -1 when equal. */
  #compareBytes(a: Access, a0: number, b: Access, a1: number, n: number, before: number): number {
    for (let o = 0; o < n; o += CHUNK) {
      this.#chunkStart = before + o;
      const m = Math.min(CHUNK, n - o);
      const x = a.read(a0 + o, m);
      const y = b.read(a1 + o, m);
      for (let k = 0; k < m; k++) if (x[k] !== y[k]) return o + k;
    }
    return -1;
  }

  #crcBytes(src: Access, a0: number, n: number, seed: number, before: number): number {
    let c = seed;
    for (let o = 0; o < n; o += CHUNK) {
      this.#chunkStart = before + o;
      c = crc32c(src.read(a0 + o, Math.min(CHUNK, n - o)), c);
    }
    return c;
  }

  /**
   * One side of a strided descriptor: BAD_AKEY, OUT_OF_BOUNDS when the last block ends past the
   * region (by division, as the kit), ACCESS_DENIED for writes.
   */
  #blocks(akey: number, addr: number, n: number, count: number, stride: number, write: boolean): Access {
    const r = this.#regions.get(akey);
    if (!r) throw new Refusal(S.BAD_AKEY);
    if (addr + n > r.length) throw new Refusal(S.OUT_OF_BOUNDS);
    if (count > 1 && stride > 0 && count - 1 > Math.floor((r.length - addr - n) / stride)) throw new Refusal(S.OUT_OF_BOUNDS);
    if (write && !r.writable) throw new Refusal(S.ACCESS_DENIED);
    return r;
  }

  /** The region behind an AKey index, after checking the range and, for writes, the access. */
  #range(akey: number, addr: number, n: number, write: boolean): Access {
    const r = this.#regions.get(akey);
    if (!r) throw new Refusal(S.BAD_AKEY);
    if (addr + n > r.length) throw new Refusal(S.OUT_OF_BOUNDS);
    if (write && !r.writable) throw new Refusal(S.ACCESS_DENIED);
    return r;
  }
}
