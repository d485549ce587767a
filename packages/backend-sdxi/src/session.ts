/**
 * An engine session over one SDXI client context. The Mover writes Datamover descriptors into
 * core's ring as for every backend; on each doorbell this session takes them in order and
 *
 * - maps each to an SDXI descriptor in the context's ring (COPY and NOP as they are — core's
 *   layout is SDXI's; write-immediate re-encoded as DSC_DMAB_WRT_IMM; fill, compare and CRC-32C as
 *   Datamover vendor descriptors), with the §5.3 enqueue order and one doorbell per chunk, or
 * - hands it to the CPU path (policy "software"), or refuses it (not offered).
 *
 * Completion: each SDXI slot has its own CST_BLK; a fenced DSC_INTR ending each chunk of at most
 * INTR_EVERY descriptors wakes this thread, which copies CST_BLKs into core's completion blocks
 * in ring order and advances core's Read_Index. A small submission to an idle context is polled
 * instead (the low-latency path). Faults come from the error log: the context stops in
 * CXTV_ERR_FN, the session restarts it with DSC_CXT_START and the rest of the ring carries on.
 */
import { abi, datamoverError, ErrorCode, isHostMemory, type EngineSession, type Operation, type RegionInfo, type Ring } from '@datamover/core';
import type { CpuPath } from './cpu-path.js';
import type { SdxiFunction } from './function.js';
import type { ExecutionPath, OperationPlan } from './policy.js';
import type { ContextMemory } from './producer/context.js';
import { contextVector, type SdxiDevice } from './producer/device.js';
import type { ErrorEntry } from './producer/error-log.js';
import { Producer } from './producer/producer.js';
import { GROUP, SUBTYPE } from './spec/descriptors.js';
import { CST_VENDOR_RESULT, CXT_STATE, STEP, SUB_STEP } from './spec/structures.js';

const { CLAIM, COMPLETION, COMPLETION_FLAG_ERROR, CompletionStatus: S, NOT_RUN_DETAIL, OPCODE, OPCODE_BITS, RESERVED_OPCODE_BITS, RING_HEADER } = abi;

const VALID = 1 << OPCODE_BITS.valid;
const FENCE = 1 << OPCODE_BITS.fence;
const KIND_MASK = 0x07ff_ff00;
const WRT_IMM = (GROUP.DMAB << 16) | (SUBTYPE.WRT_IMM << 8);
const INTR = (GROUP.INTR << 16) | (SUBTYPE.INTR << 8);
const ER = 0x8000_0000;

/** The AKey of a client context's interrupt entry: the last of its 65,536 (so regions get 0 … 65,534). */
export const INTERRUPT_AKEY = 0xffff;
/** AKey table size code of a client context: 256 << 8 = 65,536 entries, one per region index. */
export const AKEY_SIZE_CODE = 8;
/** A DSC_INTR after at most this many descriptors keeps completions flowing during long batches. */
const INTR_EVERY = 512;
/** Submissions at most this large to an idle context are polled for, up to POLL_MS. */
const POLL_MAX = 16;
const POLL_MS = 0.02;

/** Per core slot: the SDXI ring index it went to, or one of these. */
const DONE = -1;
const ON_CPU = -2;
const ROUTE = { function: 0, cpu: 1, unsupported: 2 } as const;
const OPS: readonly Operation[] = ['copy', 'fill', 'compare', 'crc32c', 'writeImm', 'nop', 'copyStrided', 'fillStrided', 'compareStrided', 'crc32cStrided'];
const NOP_OP = OPS.indexOf('nop');

const CB = {
  signal: COMPLETION.signal / 4,
  flags: COMPLETION.flags / 4,
  claim: COMPLETION.claim / 4,
  result: COMPLETION.result / 4,
  status: COMPLETION.status / 4,
  detail: COMPLETION.detail / 4,
};

function opIndex(kind: number): number {
  switch (kind) {
    case OPCODE.copy: return 0;
    case OPCODE.fill: return 1;
    case OPCODE.compare: return 2;
    case OPCODE.crc32c: return 3;
    case OPCODE.writeImm: return 4;
    case OPCODE.nop: return 5;
    case OPCODE.copyStrided: return 6;
    case OPCODE.fillStrided: return 7;
    case OPCODE.compareStrided: return 8;
    case OPCODE.crc32cStrided: return 9;
    default: return -1;
  }
}

/** The Datamover status an error-log entry stands for. */
export function statusOf(e: ErrorEntry | undefined, vendorWords: boolean): { status: number; detail: number } {
  if (!e) return { status: S.BAD_DESCRIPTOR, detail: 0 };
  if (vendorWords && e.vendorStatus !== 0) return { status: e.vendorStatus, detail: e.vendorDetail };
  if (e.step === STEP.AKEY) return { status: S.BAD_AKEY, detail: 0 };
  if (e.step === STEP.DATA_BUFFER) {
    if (e.subStep === SUB_STEP.TRANSLATION) return { status: S.OUT_OF_BOUNDS, detail: 0 };
    if (e.subStep === SUB_STEP.ACCESS) return { status: S.ACCESS_DENIED, detail: 0 };
    if (e.subStep === SUB_STEP.VALIDATION) return { status: S.OVERLAP, detail: 0 };
  }
  return { status: S.BAD_DESCRIPTOR, detail: 0 };
}

export interface SessionParts {
  readonly device: SdxiDevice;
  readonly context: ContextMemory;
  readonly policy: ExecutionPath;
  readonly plan: Readonly<Record<Operation, OperationPlan>>;
  readonly cpu: CpuPath | undefined;
  /** The failure rule over both paths (the CPU path's completions feed it too). */
  readonly failures: abi.FailureRule;
  /** Host allocation for Mover.alloc (the addon's aligned allocator), when available. */
  readonly allocateHost: ((size: number, alignment: number) => Uint8Array) | undefined;
  /** Host addresses for overlap checks (the addon's memoryAddress), when available. */
  readonly memoryAddress: ((view: Uint8Array) => number) | undefined;
}

export class SdxiSession implements EngineSession {
  /** Not polled by the Submitter: this session polls its own CST_BLKs (see #enqueue). */
  readonly concurrent = false;
  readonly allocateHost: ((size: number, alignment: number) => Uint8Array) | undefined;
  readonly memoryAddress: ((view: Uint8Array) => number) | undefined;
  readonly #fn: SdxiFunction;
  readonly #device: SdxiDevice;
  readonly #cxt: ContextMemory;
  readonly #producer: Producer;
  readonly #policy: ExecutionPath;
  readonly #plan: Readonly<Record<Operation, OperationPlan>>;
  readonly #cpu: CpuPath | undefined;
  readonly #failures: abi.FailureRule;
  readonly #core: Ring;
  readonly #coreHeader: BigUint64Array;
  readonly #coreMask: number;
  readonly #onProgress: () => void;
  /** Route code per operation index (OPS order). */
  readonly #routes: Uint8Array;
  /** The function's arena as words; the first words of slot 0 and of its CST_BLK. */
  readonly #su: Uint32Array;
  readonly #slot0: number;
  readonly #cst0: number;
  /** Core's ring: the first words of slot 0 and of its completion block. */
  readonly #coreSlot0: number;
  readonly #coreCb0: number;
  /** Per core slot: SDXI ring index, DONE or ON_CPU; whether its result comes from a vendor op. */
  readonly #slot: Float64Array;
  readonly #vendor: Uint8Array;
  /** Scratch: core indexes bound for the function in one pump; QW0 of each SDXI slot. */
  readonly #take: Int32Array;
  readonly #qw0: Uint32Array;
  readonly #pasids: Int32Array = new Int32Array(INTERRUPT_AKEY).fill(-1);
  readonly #errors = new Map<number, ErrorEntry>();
  /** Address spaces of deregistered regions, awaiting the DSC_SYNC(AKEY) after which they are unbound. */
  readonly #unbinds: { index: number; pasid: number }[] = [];
  #syncing = false;
  readonly #counts = new Float64Array(OPS.length);
  #next = 0;
  #read = 0;
  #sdxiWrite: number;
  /** Descriptors in the function's ring not yet completed. */
  #pending = 0;
  #interrupts = 0;
  #faults = 0;
  #restarts = 0;
  #restarting = false;
  /** Set when the context could not be restarted: every later descriptor fails (DEVICE_ERROR). */
  #abandoned = false;
  #scheduled = false;
  #held = false;
  #closed = false;

  constructor(parts: SessionParts, core: Ring, onProgress: () => void) {
    this.#device = parts.device;
    this.#fn = parts.device.fn;
    this.#cxt = parts.context;
    this.#policy = parts.policy;
    this.#plan = parts.plan;
    this.#cpu = parts.cpu;
    this.#failures = parts.failures;
    this.allocateHost = parts.allocateHost;
    this.memoryAddress = parts.memoryAddress;
    this.#core = core;
    this.#coreHeader = new BigUint64Array(core.sab, 0, RING_HEADER.bytes / 8);
    this.#coreMask = core.entries - 1;
    this.#onProgress = onProgress;
    this.#routes = Uint8Array.from(OPS, (op) => ROUTE[parts.plan[op].route]);
    this.#producer = new Producer(this.#cxt, (v) => this.#fn.doorbell(this.#cxt.context, v));
    this.#su = this.#producer.u32;
    this.#slot0 = this.#producer.slotWord(0);
    this.#cst0 = this.#cxt.cstOffset / 4;
    this.#coreSlot0 = core.slotWord(0);
    this.#coreCb0 = core.completionWord(0);
    // Both rings' sizes are powers of two, so slot arithmetic is masking.
    if ((this.#cxt.entries & (this.#cxt.entries - 1)) !== 0) throw new RangeError('the SDXI ring of a session holds a power of two entries');
    this.#slot = new Float64Array(core.entries);
    this.#vendor = new Uint8Array(core.entries);
    this.#take = new Int32Array(core.entries);
    this.#qw0 = new Uint32Array(this.#cxt.entries);
    this.#sdxiWrite = this.#producer.writeIndex();
    this.#device.onVector(contextVector(this.#cxt.context), () => this.#onInterrupt());
    this.#device.onContextError(this.#cxt.context, () => this.#onError());
  }

  register(region: RegionInfo): void {
    if (!isHostMemory(region.memory)) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `the sdxi backend reaches host memory only, not ${region.memory.kind}`);
    if (region.index >= INTERRUPT_AKEY) throw datamoverError(ErrorCode.TOO_MANY_REGIONS, `the sdxi backend's AKey table holds regions 0 … ${INTERRUPT_AKEY - 1}`);
    const pasid = this.#fn.bindAddressSpace(region.memory, region.writable);
    this.#cxt.setAkey(region.index, { pasid });
    this.#pasids[region.index] = pasid;
    this.#cpu?.engine.register(region);
  }

  /**
   * Invalidates the region's AKey entry; its address space is unbound once a DSC_SYNC(AKEY)
   * covering it has completed, so a function that caches AKey entries never uses a stale one.
   * One SYNC is in flight at a time; deregistrations meanwhile wait for the next.
   */
  deregister(index: number): void {
    this.#unbinds.push({ index, pasid: this.#pasids[index]! });
    this.#pasids[index] = -1;
    this.#cxt.clearAkey(index);
    this.#cpu?.engine.deregister(index);
    this.#syncAkeys();
  }

  #syncAkeys(): void {
    if (this.#syncing || this.#unbinds.length === 0 || this.#closed) return;
    const batch = this.#unbinds.splice(0);
    const first = batch.reduce((m, u) => Math.min(m, u.index), INTERRUPT_AKEY);
    const last = batch.reduce((m, u) => Math.max(m, u.index), 0);
    this.#syncing = true;
    this.#device.syncAkeys(this.#cxt, first, last).then(
      () => {
        this.#syncing = false;
        if (this.#closed) return; // closing the function unbinds everything
        for (const u of batch) {
          try {
            this.#fn.unbindAddressSpace(u.pasid);
          } catch {
            this.#unbinds.push(u); // still in use (REGION_BUSY): unbound after the next SYNC
          }
        }
        this.#syncAkeys();
      },
      () => (this.#syncing = false), // the function stopped: closing it unbinds everything
    );
  }

  doorbell(): void {
    this.#pump();
  }

  /**
   * What runInline() takes: the operations the CPU path runs, and NOPs (a zero-length operation
   * is one), which move nothing; the function's other operations never run inline.
   */
  runsInline(kind: number): boolean {
    const op = opIndex(kind);
    return !this.#abandoned && this.#cpu !== undefined && op >= 0 && (this.#routes[op] === ROUTE.cpu || op === NOP_OP);
  }

  /**
   * Inline execution (docs/performance.md): the `count` descriptors written past core's
   * Write_Index, every one the CPU path's, taken by the same pump (claims, checks, the failure
   * rule, fences) and run now by the host engine's runInline, their completions copied back and
   * Read_Index moved. -1 with nothing taken when the session is not idle or one is not the CPU
   * path's; -1 too when the host engine's thread held its ring: what was taken runs there and
   * completes as offloaded work does.
   */
  runInline(count: number): number {
    const end = this.#next + count;
    if (!this.#cpu || this.#closed || this.#restarting || this.#pending > 0 || this.#read !== this.#next || this.#cpu.outstanding > 0) return -1;
    const cu = this.#core.u32;
    for (let i = this.#next; i < end; i++) {
      const word0 = Atomics.load(cu, this.#coreSlot0 + (i & this.#coreMask) * 16);
      if ((word0 & VALID) === 0 || !this.runsInline(word0 & KIND_MASK)) return -1;
    }
    // Each pass takes at least one descriptor: a fence waits only for what the last pass ran.
    while (this.#next < end) {
      this.#pump(end, true);
      if (!this.#cpu.runInline()) return -1;
    }
    this.#advance();
    return count;
  }

  hold(active: boolean): void {
    if (active === this.#held) return;
    this.#held = active;
    this.#device.hold(active);
  }

  stats(): Record<string, number | string> {
    const out: Record<string, number | string> = {
      engine: 'sdxi',
      function: this.#fn.description,
      executionPath: this.#policy,
      context: this.#cxt.context,
      ringEntries: this.#cxt.entries,
      interrupts: this.#interrupts,
      faults: this.#faults,
      contextRestarts: this.#restarts,
      errorLogOverflows: this.#device.errorLogOverflows,
    };
    OPS.forEach((op, k) => {
      const p = this.#plan[op];
      out[`path.${op}`] = p.how;
      if (p.fallback === undefined) return;
      out[`fallback.${op}`] = p.fallback;
      out[`fallbacks.${op}`] = this.#counts[k]!;
    });
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#device.close();
    this.#cpu?.close();
  }

  // ---------------------------------------------------------------- submission

  /**
   * Takes published descriptors from core's ring, in order, as far as the paths allow: up to
   * Write_Index, or up to `write` for an inline run, whose CPU-path work runInline() then runs.
   */
  #pump(write = Number(Atomics.load(this.#coreHeader, RING_HEADER.writeIndex / 8)), inline = false): void {
    if (this.#closed) return;
    const cu = this.#core.u32;
    let i = this.#next;
    if (i >= write) return;
    const free = this.#cxt.entries - (this.#sdxiWrite - this.#cxt.readIndex());
    const room = free - 1 - Math.floor(free / INTR_EVERY); // leave room for the interrupts
    const wasIdle = this.#pending === 0;
    const mask = this.#coreMask;
    const slot0 = this.#coreSlot0;
    const claim0 = this.#coreCb0 + CB.claim;
    const take = this.#take;
    let n = 0;
    let completedHere = false;
    let toCpu = false;
    for (; i < write; i++) {
      const k = i & mask;
      const word0 = Atomics.load(cu, slot0 + k * 16);
      if ((word0 & VALID) === 0) break; // counted but not yet published
      const op = opIndex(word0 & KIND_MASK);
      // Inline, a NOP is the CPU path's too, so the whole work stays on this thread.
      const route = this.#abandoned ? ROUTE.unsupported : op < 0 ? ROUTE.function : inline && op === NOP_OP ? ROUTE.cpu : this.#routes[op]!;
      if (route === ROUTE.function && n >= room) break;
      // A fenced descriptor, and each of a work that stops on error, waits until everything
      // before it on both paths has completed: the failure rule needs their outcomes.
      const cb = this.#coreCb0 + k * 8;
      if (((word0 & FENCE) !== 0 || this.#failures.stopsOnError(cu, cb)) && this.#pending + n + (this.#cpu?.outstanding ?? 0) > 0) break;
      // The engine ABI's step 2: csb_ptr must name this slot's own completion block, np clear.
      const csbLo = cu[slot0 + k * 16 + 14]!;
      if ((csbLo & 1) !== 0 || ((csbLo & ~0x1f) >>> 0) + cu[slot0 + k * 16 + 15]! * 0x1_0000_0000 !== cb * 4) {
        this.#finish(i, S.BAD_DESCRIPTOR);
        completedHere = true;
        continue;
      }
      if (Atomics.compareExchange(cu, claim0 + k * 8, CLAIM.pending, CLAIM.claimed) !== CLAIM.pending) {
        this.#finish(i, S.NOT_RUN); // cancelled by the Mover
        completedHere = true;
        continue;
      }
      if (this.#failures.heldBack(cu, cb, word0)) {
        this.#finish(i, S.NOT_RUN, NOT_RUN_DETAIL.afterFailure);
        completedHere = true;
        continue;
      }
      if (op >= 0) this.#counts[op]!++;
      // Reserved bits are refused, not re-encoded away: WRT_IMM's QW0 is rebuilt below and would
      // otherwise drop a durable bit this engine cannot honour.
      if ((word0 & RESERVED_OPCODE_BITS) !== 0) {
        this.#finish(i, S.BAD_DESCRIPTOR);
        completedHere = true;
        continue;
      }
      // The session's own AKey is never a region (with pv = 0 it names the function's device
      // memory): refused as any unregistered index is, before the function could resolve it.
      if (namesInterruptAkey(cu, slot0 + k * 16, word0)) {
        this.#finish(i, S.BAD_AKEY);
        completedHere = true;
        continue;
      }
      if (route === ROUTE.function) {
        take[n++] = i;
        this.#vendor[k] = op === 1 || op === 2 || op === 3 ? 1 : 0;
      } else if (route === ROUTE.cpu) {
        this.#slot[k] = ON_CPU;
        this.#cpu!.submit(i);
        toCpu = true;
      } else {
        this.#finish(i, this.#abandoned ? S.BAD_DESCRIPTOR : S.UNSUPPORTED);
        completedHere = true;
      }
    }
    this.#next = i;
    if (toCpu && !inline) this.#cpu!.flush();
    if (n > 0) this.#enqueue(n, wasIdle);
    if (completedHere) this.#schedule();
  }

  /**
   * Enqueues the `n` descriptors of #take into the SDXI ring in chunks of INTR_EVERY, each the
   * §5.3 sequence (claim, QW1–QW7 of every slot, then every QW0, then the doorbell) ending in a
   * fenced interrupt, so the function starts on a chunk while the next is written. A small
   * submission to an idle context gets no interrupt: its last CST_BLK is polled instead.
   */
  #enqueue(n: number, wasIdle: boolean): void {
    const poll = wasIdle && n <= POLL_MAX;
    for (let k = 0; k < n; k += INTR_EVERY) this.#enqueueChunk(k, Math.min(n, k + INTR_EVERY), !poll);
    this.#pending += n;
    if (!poll) return;
    // Low latency: an idle function usually finishes a few descriptors in well under the
    // budget, while an interrupt round trip through the event loop costs ~10 µs.
    const last = this.#cstWord(this.#sdxiWrite - 1);
    const until = performance.now() + POLL_MS;
    while (Atomics.load(this.#su, last) !== 0) {
      if (performance.now() > until) {
        const j = this.#producer.reserve(1);
        if (j >= 0) this.#publish(j, true);
        return;
      }
    }
    this.#schedule();
  }

  /** Writes #take[from … to) into freshly claimed slots, then publishes them (and an interrupt). */
  #enqueueChunk(from: number, to: number, interrupt: boolean): void {
    const count = to - from;
    const first = this.#producer.reserve(count + (interrupt ? 1 : 0));
    if (first < 0) throw datamoverError(ErrorCode.DEVICE_ERROR, 'SDXI ring full although space was counted');
    const cu = this.#core.u32;
    const su = this.#su;
    const take = this.#take;
    const qw0 = this.#qw0;
    const slots = this.#slot;
    const mask = this.#coreMask;
    const coreSlot0 = this.#coreSlot0;
    const smask = this.#cxt.entries - 1;
    const slot0 = this.#slot0;
    const cst0 = this.#cst0;
    const cstAddress = this.#cxt.cstAddress;
    for (let k = from, j = first; k < to; k++, j++) {
      const i = take[k]!;
      const src = coreSlot0 + (i & mask) * 16;
      const js = j & smask;
      const dst = slot0 + js * 16;
      const c = cst0 + js * 8;
      su[c] = 1; // CST_BLK armed: signal = 1, er clear
      su[c + 1] = 0;
      su[c + 2] = 0;
      const word0 = cu[src]!;
      if ((word0 & KIND_MASK) === OPCODE.writeImm) {
        // Core: width @8, akey1 @14, addr1 @24, value @32 → WRT_IMM: size−1 @4, akey @12, addr @16, imm @24.
        su[dst + 1] = (cu[src + 2]! & 0xff) - 1;
        su[dst + 2] = 0;
        su[dst + 3] = cu[src + 3]! >>> 16;
        su[dst + 4] = cu[src + 6]!;
        su[dst + 5] = cu[src + 7]!;
        su[dst + 6] = cu[src + 8]!;
        su[dst + 7] = cu[src + 9]!;
        su.fill(0, dst + 8, dst + 14);
        qw0[js] = WRT_IMM | (word0 & FENCE) | VALID;
      } else {
        // Core's layout is SDXI's: QW0's upper half and QW1–QW6 as they are, defined fields only.
        const m = FIELD_MASKS.get((word0 & KIND_MASK) >>> 0) ?? ALL_BITS;
        for (let w = 1; w < 14; w++) su[dst + w] = cu[src + w]! & m[w]!;
        qw0[js] = word0 | VALID;
      }
      const csb = cstAddress + js * 32; // QW7: the slot's CST_BLK, np = 0
      su[dst + 14] = csb >>> 0;
      su[dst + 15] = (csb / 0x1_0000_0000) | 0;
      slots[i & mask] = j;
    }
    this.#publish(first + count, interrupt);
  }

  /**
   * Publishes the slots claimed since the last publish up to `end` — plus, with `interrupt`, a
   * fenced DSC_INTR in slot `end` — every QW0 in ring order, then Write_Index to the doorbell.
   */
  #publish(end: number, interrupt: boolean): void {
    if (interrupt) this.#writeInterrupt(end);
    const last = interrupt ? end + 1 : end;
    const su = this.#su;
    const qw0 = this.#qw0;
    const smask = this.#cxt.entries - 1;
    const slot0 = this.#slot0;
    for (let s = this.#sdxiWrite; s < last; s++) Atomics.store(su, slot0 + (s & smask) * 16, qw0[s & smask]!);
    this.#sdxiWrite = last;
    this.#producer.ring(last);
  }

  /** A fenced DSC_INTR (no CST_BLK) in SDXI slot `j`; its QW0 is published with the batch. */
  #writeInterrupt(j: number): void {
    const su = this.#su;
    const js = j & (this.#cxt.entries - 1);
    const dst = this.#slot0 + js * 16;
    su.fill(0, dst + 1, dst + 16);
    su[dst + 3] = INTERRUPT_AKEY;
    su[dst + 14] = 1; // np
    this.#qw0[js] = INTR | FENCE | VALID;
  }

  #cstWord(j: number): number {
    return this.#cst0 + (j & (this.#cxt.entries - 1)) * 8;
  }

  // ---------------------------------------------------------------- completion

  /** Writes core's completion block of ring index `i` for a descriptor that never reached the function. */
  #finish(i: number, status: number, detail = 0): void {
    const cu = this.#core.u32;
    const cb = this.#core.completionWord(i);
    this.#failures.settle(cu, cb, status);
    cu[cb + CB.result] = 0;
    cu[cb + CB.result + 1] = 0;
    cu[cb + CB.status] = status;
    cu[cb + CB.detail] = detail;
    cu[cb + CB.flags] = status === S.NOT_RUN ? 0 : COMPLETION_FLAG_ERROR;
    Atomics.store(cu, cb + CB.signal, 0);
    this.#slot[i & this.#coreMask] = DONE;
  }

  /**
   * Moves core's Read_Index over every descriptor completed in order, copying each CST_BLK
   * (er, the vendor result) into core's completion block. True when it moved.
   */
  #advance(): boolean {
    const cu = this.#core.u32;
    const su = this.#su;
    const slots = this.#slot;
    const mask = this.#coreMask;
    const cb0 = this.#coreCb0;
    const cst0 = this.#cst0;
    const smask = this.#cxt.entries - 1;
    let r = this.#read;
    for (; r < this.#next; r++) {
      const k = r & mask;
      const s = slots[k]!;
      if (s < 0) {
        if (s === ON_CPU) break;
        continue; // DONE: its completion block is written
      }
      const c = cst0 + (s & smask) * 8;
      if (Atomics.load(su, c) !== 0) break;
      const cb = cb0 + k * 8;
      if ((su[c + 2]! & ER) === 0) {
        cu[cb + CB.status] = S.OK;
        cu[cb + CB.flags] = 0;
        if (this.#vendor[k] === 1) {
          cu[cb + CB.result] = su[c + CST_VENDOR_RESULT / 4]!;
          cu[cb + CB.result + 1] = su[c + CST_VENDOR_RESULT / 4 + 1]!;
        }
      } else {
        const { status, detail } = statusOf(this.#errorEntry(s), this.#fn.kind === 'software');
        this.#failures.settle(cu, cb, status);
        cu[cb + CB.status] = status;
        cu[cb + CB.detail] = detail;
        cu[cb + CB.result] = 0;
        cu[cb + CB.result + 1] = 0;
        cu[cb + CB.flags] = COMPLETION_FLAG_ERROR;
        this.#faults++;
      }
      cu[cb + CB.signal] = 0;
      this.#pending--;
    }
    if (r === this.#read) return false;
    this.#read = r;
    Atomics.store(this.#coreHeader, RING_HEADER.readIndex / 8, BigInt(r));
    return true;
  }

  /** The error-log entry of SDXI slot index `s` (the function logs before it completes the CST_BLK). */
  #errorEntry(s: number): ErrorEntry | undefined {
    if (!this.#errors.has(s)) this.#takeErrors();
    const e = this.#errors.get(s);
    this.#errors.delete(s);
    return e;
  }

  #takeErrors(): void {
    for (const e of this.#device.takeErrors(this.#cxt.context)) if (e.index !== undefined) this.#errors.set(e.index, e);
  }

  /**
   * Publishes progress and takes more work: from an interrupt, or a microtask after the pump.
   * A fault may be seen here first (a polled CST_BLK with `er`), so the context is restarted
   * from CXT_STS, not from who drained the error log.
   */
  #progress(): void {
    if (this.#closed) return;
    if (this.#advance()) this.#onProgress();
    this.#recover();
    this.#pump();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#progress();
    });
  }

  #onInterrupt(): void {
    this.#interrupts++;
    this.#progress();
  }

  /** A CPU-path descriptor finished (its completion block is written). */
  cpuDone(i: number): void {
    this.#slot[i & this.#coreMask] = DONE;
    this.#schedule();
  }

  /** An error-log interrupt: take this context's entries, then progress (which restarts it if stopped). */
  #onError(): void {
    if (this.#closed) return;
    this.#takeErrors();
    this.#progress();
  }

  /** Restarts the context with DSC_CXT_START when CXT_STS says a fault stopped it (CXTV_ERR_FN). */
  #recover(): void {
    if (this.#restarting || this.#abandoned || this.#cxt.state() !== CXT_STATE.ERR_FN) return;
    this.#restarting = true;
    this.#restarts++;
    this.#device.start(this.#cxt).then(
      () => {
        this.#restarting = false;
        this.#progress(); // a fault right after the restart stopped it again: restart once more
      },
      (e: unknown) => {
        this.#restarting = false;
        this.#abandon(e);
      },
    );
  }

  /** The context cannot be restarted: every descriptor still in its ring fails, and so does every later one. */
  #abandon(cause: unknown): void {
    if (this.#closed) return;
    for (let r = this.#read; r < this.#next; r++) {
      const s = this.#slot[r & this.#coreMask]!;
      if (s >= 0 && Atomics.load(this.#su, this.#cstWord(s)) !== 0) {
        this.#finish(r, S.BAD_DESCRIPTOR);
        this.#pending--;
      }
    }
    this.#abandoned = true;
    this.#faults++;
    this.#progress();
    // Surfaced as a warning: the Mover reports the descriptors themselves as DEVICE_ERROR.
    process.emitWarning(`SDXI context ${this.#cxt.context} could not be restarted: ${(cause as Error).message ?? String(cause)}`);
  }
}

const FIELD_BYTES = { u8: 1, u16: 2, u32: 4, u64: 8 } as const;
/** An operation core does not define goes to the function as it is (the function refuses it). */
const ALL_BITS = new Uint32Array(16).fill(0xffff_ffff);
/**
 * Per operation (by opcode kind), the bits of words 1–13 its fields cover in core's layout. The
 * rest are reserved, which every engine of core's ring ignores; only the defined fields reach the
 * function, which (as SDXI requires) refuses a descriptor with a reserved byte set.
 */
const FIELD_MASKS = new Map(
  abi.OPERATIONS.map((op) => {
    const mask = new Uint32Array(16);
    for (const f of op.fields) for (let b = f.offset; b < f.offset + FIELD_BYTES[f.type]; b++) mask[b >> 2] = (mask[b >> 2]! | (0xff << ((b & 3) * 8))) >>> 0;
    return [(OPCODE[op.name as keyof typeof OPCODE] & KIND_MASK) >>> 0, mask] as const;
  }),
);

/** Per operation, the byte offsets of its AKey fields (u16). */
const AKEY_OFFSETS = new Map(abi.OPERATIONS.map((op) => [(OPCODE[op.name as keyof typeof OPCODE] & KIND_MASK) >>> 0, op.fields.filter((f) => f.name.startsWith('akey')).map((f) => f.offset)] as const));

/** Whether the core descriptor at `u32[w]` (QW0's low word `word0`) names INTERRUPT_AKEY as an operand. */
function namesInterruptAkey(u32: Uint32Array, w: number, word0: number): boolean {
  for (const off of AKEY_OFFSETS.get((word0 & KIND_MASK) >>> 0) ?? []) if (((u32[w + (off >> 2)]! >>> ((off & 3) * 8)) & 0xffff) === INTERRUPT_AKEY) return true;
  return false;
}
