/**
 * The raw-ring fuzz: random 64-byte records, published into the ring of the engine under test
 * and, the same records at the same ring indexes, into the ring of an oracle engine (soft's
 * TypeScript engine) that sees plain copies of the same memory. After every batch the engine's
 * statuses must equal the oracle's (adjusted by the target's documented differences), its
 * results on success too, and its memory the oracle's byte for byte: a byte that differs outside
 * every registered region is an out-of-region access, inside one a wrong result. An engine that
 * stops consuming is a hang; one that crashes takes the test process with it.
 */
import { abi, Ring, type EngineSession, type Memory, type SpaceKind } from '@datamover/core';
import { Rng } from '../data.js';

const { CLAIM, COMPLETION, CompletionStatus: S, OPCODE, OPCODE_BITS, RESERVED_OPCODE_BITS } = abi;
/** Opens an engine session consuming `ring` (a Backend's `open`). */
export type OpenSession = (ring: Ring, onProgress: () => void) => Promise<EngineSession>;

/** Memory regions are carved from, with out-of-band access that does not go through the engine. */
export interface RingBacking {
  readonly size: number;
  /** A copy of every byte. */
  read(): Uint8Array;
}

/** One region the engine registers, under AKey = its position in `regions`. */
export interface RingRegion {
  /** Index into `backings`, and the region's byte range there. */
  readonly backing: number;
  readonly offset: number;
  readonly length: number;
  readonly writable: boolean;
  readonly kind: SpaceKind;
  /** What the engine under test registers: exactly the region's bytes. */
  readonly memory: Memory;
  /** For the durable flag: whether writes can be made durable. */
  readonly persistent?: boolean;
}

/** A record as both engines saw it, for a target's `expect`. */
export interface RecordView {
  readonly words: Uint32Array;
  readonly decoded: abi.DecodedDescriptor;
  /** Whether the engine gets to run it: csb_ptr names its completion block and the producer did not cancel it. */
  readonly claimed: boolean;
}

export interface RingFuzzTarget {
  readonly name: string;
  readonly open: OpenSession;
  readonly oracle: OpenSession;
  readonly backings: readonly RingBacking[];
  readonly regions: readonly RingRegion[];
  /**
   * The status this engine must report for a record the oracle answered with `oracle`, where the
   * engine's documented behaviour differs from soft's (operations or kinds it refuses as
   * UNSUPPORTED, a flag it honours). Default: the oracle's status. Where it differs, the engine
   * must have written nothing, so the oracle's writes for that record are undone.
   */
  readonly expect?: (record: RecordView, oracle: number, regions: readonly RingRegion[]) => number;
  /** The record the oracle runs in place of `words` (cxl: without the durable flag soft does not know). */
  readonly oracleRecord?: (words: Uint32Array) => Uint32Array;
  /** Opcode bits besides RESERVED_OPCODE_BITS' complement the engine accepts (cxl: durable). */
  readonly acceptedBits?: number;
  /**
   * Also draw strided records (copy, fill, compare, crc32c over `count` blocks, strides sometimes
   * below the block size or past 2⁶⁴ when multiplied out). Off by default, so the sequences of
   * engines without them stay as they were.
   */
  readonly strided?: boolean;
  readonly records?: number;
  readonly seed?: number;
  /** Longest wait for one batch before it counts as a hang (default 10 s). */
  readonly timeoutMs?: number;
}

export interface RingFuzzFigures {
  readonly engine: string;
  readonly seed: number;
  records: number;
  /** Records both engines ran to status OK. */
  ok: number;
  /** Records refused with an error status (by status name). */
  refused: Record<string, number>;
  /** Records with a reserved opcode bit set and a valid csb_ptr, and how many the engine refused as BAD_DESCRIPTOR. */
  reservedBit: number;
  reservedBitRefused: number;
  statusDisagreements: number;
  resultDisagreements: number;
  /** Bytes outside every region that changed (0 or the test fails), and bytes inside regions that differ from the oracle's. */
  outOfRegionBytes: number;
  wrongBytes: number;
  hangs: number;
  /** Errors the engine's JS calls threw (doorbell, register). */
  engineErrors: number;
  /** The first few disagreements, as "record words: expected vs got". */
  readonly examples: string[];
}

const STATUS_NAME = Object.fromEntries(Object.entries(S).map(([k, v]) => [v, k])) as Record<number, string>;
const ENTRIES = 64;
const BATCH = 32;

/** A session on its own ring, with the region views it registered. */
class Lane {
  readonly ring = new Ring(ENTRIES);
  #wake: (() => void) | undefined;
  session!: EngineSession;
  async start(open: OpenSession): Promise<void> {
    this.session = await open(this.ring, () => this.#wake?.());
    this.session.hold(true);
  }
  publish(records: readonly Uint32Array[], claims: readonly number[]): number {
    const r = this.ring;
    const first = r.writeIndex;
    records.forEach((rec, k) => {
      const i = r.writeIndex++;
      const w = r.slotWord(i);
      r.arm(i);
      r.u32[r.completionWord(i) + COMPLETION.claim / 4] = claims[k]!;
      r.u32.set(rec.subarray(1), w + 1);
      r.publish(i, rec[0]! | 1);
    });
    r.commit();
    this.session.doorbell();
    return first;
  }
  async drain(deadline: number): Promise<boolean> {
    while (this.ring.readIndex() < this.ring.writeIndex) {
      if (performance.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 2);
      });
      this.ring.clearNotify();
    }
    return true;
  }
  completion(i: number): { status: number; result: bigint; flags: number } {
    const u = this.ring.u32;
    const cb = this.ring.completionWord(i);
    const result = BigInt(u[cb + COMPLETION.result / 4]!) | (BigInt(u[cb + COMPLETION.result / 4 + 1]!) << 32n);
    return { status: u[cb + COMPLETION.status / 4]!, result, flags: u[cb + COMPLETION.flags / 4]! };
  }
  retire(i: number): void {
    this.ring.retire(i);
  }
  close(): void {
    this.session.hold(false);
    this.session.close();
  }
}

/** Random records: a quarter raw bytes, the rest well-formed with random small fields, half of those with one bit flipped. */
class RecordSource {
  readonly #rng: Rng;
  readonly #regions: readonly RingRegion[];
  readonly #acceptedBits: number;
  readonly #strided: boolean;
  constructor(rng: Rng, regions: readonly RingRegion[], acceptedBits: number, strided: boolean) {
    this.#rng = rng;
    this.#regions = regions;
    this.#acceptedBits = acceptedBits;
    this.#strided = strided;
  }

  next(csb: number): Uint32Array {
    const rng = this.#rng;
    const u = new Uint32Array(16);
    const kind = rng.int(0, 4);
    if (kind === 0) {
      for (let j = 0; j < 16; j++) u[j] = rng.u32();
    } else {
      u[0] = this.#wellFormed(u);
      if (kind === 1) {
        const bit = rng.int(1, 512);
        u[bit >> 5] = (u[bit >> 5]! ^ (1 << (bit & 31))) >>> 0;
      }
    }
    const c = rng.int(0, 20);
    if (c < 14) {
      u[14] = csb;
      u[15] = 0;
    } else if (c < 17) {
      u[14] = csb | 1; // np: no completion block
      u[15] = 0;
    } else if (kind !== 0) {
      u[14] = rng.u32();
      u[15] = rng.int(0, 4) === 0 ? rng.u32() : 0;
    }
    return u;
  }

  /** Encodes one descriptor body into `u`; returns its opcode word. */
  #wellFormed(u: Uint32Array): number {
    const rng = this.#rng;
    const ops = ['nop', 'copy', 'fill', 'compare', 'crc32c', 'writeImm'] as const;
    const op = this.#strided && rng.int(0, 3) === 0 ? rng.pick(['copyStrided', 'fillStrided', 'compareStrided', 'crc32cStrided'] as const) : rng.pick(ops);
    const a = this.#akey();
    const b = this.#akey();
    const size = this.#size(Math.min(this.#len(a), this.#len(b)));
    const addr0 = this.#addr(a, size + 1);
    const addr1 = this.#addr(b, size + 1);
    switch (op) {
      case 'nop':
        abi.encodeNopBody(u, 0, 0);
        break;
      case 'copy':
        abi.encodeCopyBody(u, 0, { size, attr: 0, akey0: a, akey1: b, addr0, addr1 }, 0);
        break;
      case 'fill':
        abi.encodeFillBody(u, 0, { size, patternBytes: rng.pick([1, 8, 1, 8, 3, 0]), akey1: b, addr1, pattern: rng.bigint(8) }, 0);
        break;
      case 'compare':
        abi.encodeCompareBody(u, 0, { size, akey0: a, akey1: b, addr0, addr1 }, 0);
        break;
      case 'crc32c':
        abi.encodeCrc32cBody(u, 0, { size, akey0: a, addr0, seed: rng.u32() }, 0);
        break;
      case 'copyStrided':
      case 'fillStrided':
      case 'compareStrided':
      case 'crc32cStrided':
        this.#stridedBody(u, op, a, b);
        break;
      case 'writeImm': {
        const width = rng.pick([1, 2, 4, 8, 8, 3, 0, 16]);
        abi.encodeWriteImmBody(u, 0, { width, akey1: b, addr1: this.#addr(b, Math.max(1, width)), value: rng.bigint(8) }, 0);
        break;
      }
    }
    let word0 = OPCODE[op] | (rng.int(0, 4) === 0 ? 1 << OPCODE_BITS.fence : 0);
    if (this.#acceptedBits !== 0 && rng.int(0, 4) === 0) word0 |= this.#acceptedBits;
    return word0 >>> 0;
  }

  /** A strided record: a few blocks that mostly fit both regions, sometimes not. */
  #stridedBody(u: Uint32Array, op: 'copyStrided' | 'fillStrided' | 'compareStrided' | 'crc32cStrided', a: number, b: number): void {
    const rng = this.#rng;
    const count = rng.pick([0, 1, 2, 3, 5, 8, 2 ** 32 - 1]);
    const room = Math.min(this.#len(a), this.#len(b));
    const size = rng.int(0, Math.max(1, Math.floor(room / Math.max(1, Math.min(count, 8))) - 1));
    const stride = () => {
      const r = rng.int(0, 12);
      if (r === 0) return rng.pick([0, size, 2 ** 63, 2 ** 62 + 2 ** 40]); // self-overlapping, or past 2^64 times count
      return size + 1 + rng.int(0, 64);
    };
    const addr0 = this.#addr(a, size + 1);
    const addr1 = this.#addr(b, size + 1);
    if (op === 'copyStrided') abi.encodeCopyStridedBody(u, 0, { size, count, akey0: a, akey1: b, addr0, addr1, stride0: stride(), stride1: stride() }, 0);
    else if (op === 'compareStrided') abi.encodeCompareStridedBody(u, 0, { size, count, akey0: a, akey1: b, addr0, addr1, stride0: stride(), stride1: stride() }, 0);
    else if (op === 'fillStrided') abi.encodeFillStridedBody(u, 0, { size, count, patternBytes: rng.pick([1, 8, 1, 8, 3]), akey1: b, addr1, stride1: stride(), pattern: rng.bigint(8) }, 0);
    else abi.encodeCrc32cStridedBody(u, 0, { size, count, akey0: a, addr0, stride0: stride(), seed: rng.u32() }, 0);
  }

  /** Mostly a registered region's AKey, sometimes one never registered. */
  #akey(): number {
    const n = this.#regions.length;
    return this.#rng.int(0, 12) === 0 ? this.#rng.pick([n, n + 1, 0xffff]) : this.#rng.int(0, n);
  }
  #len(akey: number): number {
    return this.#regions[akey]?.length ?? 4096;
  }
  /** bytes − 1: mostly within the region, sometimes one past, sometimes huge. */
  #size(room: number): number {
    const r = this.#rng.int(0, 16);
    if (r === 0) return this.#rng.u32();
    if (r === 1) return room; // one byte too many
    return this.#rng.int(0, Math.max(1, Math.min(room, 512)));
  }
  #addr(akey: number, bytes: number): number {
    const len = this.#len(akey);
    const r = this.#rng.int(0, 16);
    if (r === 0) return this.#rng.pick([2 ** 32, 2 ** 52, Number.MAX_SAFE_INTEGER, len]);
    if (r === 1) return Math.max(0, len - bytes + 1); // runs one byte past the end
    return this.#rng.int(0, Math.max(1, len - bytes + 1));
  }
}

/** Runs the fuzz; resolves with the figures (the caller asserts them). */
export async function fuzzRing(t: RingFuzzTarget): Promise<RingFuzzFigures> {
  const seed = t.seed ?? 1;
  const rng = new Rng(seed);
  const figures: RingFuzzFigures = {
    engine: t.name,
    seed,
    records: 0,
    ok: 0,
    refused: {},
    reservedBit: 0,
    reservedBitRefused: 0,
    statusDisagreements: 0,
    resultDisagreements: 0,
    outOfRegionBytes: 0,
    wrongBytes: 0,
    hangs: 0,
    engineErrors: 0,
    examples: [],
  };
  const example = (s: string) => {
    if (figures.examples.length < 8) figures.examples.push(s);
  };
  // The oracle's memory: a copy of each backing; its regions are views at the same offsets, so
  // two regions of one backing overlap for the oracle exactly where they do for the engine.
  const copies = t.backings.map((b) => {
    const c = new Uint8Array(new SharedArrayBuffer(b.size));
    c.set(b.read());
    return c;
  });
  const inRegion = t.backings.map((b, i) => {
    const mask = new Uint8Array(b.size);
    for (const r of t.regions) if (r.backing === i) mask.fill(1, r.offset, r.offset + r.length);
    return mask;
  });
  const engine = new Lane();
  const oracle = new Lane();
  await engine.start(t.open);
  await oracle.start(t.oracle);
  try {
    t.regions.forEach((r, index) => {
      engine.session.register({ index, memory: r.memory, length: r.length, writable: r.writable });
      const view = copies[r.backing]!.subarray(r.offset, r.offset + r.length);
      oracle.session.register({ index, memory: { kind: 'host', view }, length: r.length, writable: r.writable });
    });
    const source = new RecordSource(rng, t.regions, t.acceptedBits ?? 0, t.strided ?? false);
    const reservedMask = (RESERVED_OPCODE_BITS & ~(t.acceptedBits ?? 0)) >>> 0;
    const total = t.records ?? 20_000;
    while (figures.records < total && figures.hangs === 0) {
      const n = Math.min(BATCH, total - figures.records);
      const first = engine.ring.writeIndex;
      const records = Array.from({ length: n }, (_, k) => source.next(engine.ring.completionOffset(first + k)));
      // One in fifty slots is cancelled before the engine sees it: it must answer NOT_RUN.
      const claims = records.map(() => (rng.int(0, 50) === 0 ? CLAIM.cancelled : CLAIM.pending));
      try {
        engine.publish(records, claims);
      } catch (e) {
        figures.engineErrors++;
        example(`doorbell threw: ${(e as Error).message}`);
        break;
      }
      // The oracle runs one record at a time, so that a record the engine must refuse where soft
      // runs it (see `expect`) can have its writes undone before the next one runs.
      const want: number[] = [];
      const oracleResults: { status: number; result: bigint; flags: number }[] = [];
      for (let k = 0; k < n; k++) {
        const words = records[k]!;
        const before = t.expect ? copies.map((c) => c.slice()) : undefined;
        const i = oracle.publish([t.oracleRecord ? t.oracleRecord(words) : words], [claims[k]!]);
        await oracle.drain(Infinity);
        const o = oracle.completion(i);
        oracle.retire(i);
        const decoded = abi.decodeDescriptor(words, 0);
        const claimed = !decoded.noPointer && decoded.csbPtr === oracle.ring.completionOffset(i) && claims[k] === CLAIM.pending;
        const w = t.expect ? t.expect({ words, decoded, claimed }, o.status, t.regions) : o.status;
        if (w !== o.status) before!.forEach((b, bi) => copies[bi]!.set(b));
        want.push(w);
        oracleResults.push(o);
      }
      const deadline = performance.now() + (t.timeoutMs ?? 10_000);
      if (!(await engine.drain(deadline))) {
        figures.hangs++;
        example(`hang: the engine stopped at ring index ${engine.ring.readIndex()} of ${engine.ring.writeIndex}`);
        break;
      }
      for (let k = 0; k < n; k++) {
        const i = first + k;
        const words = records[k]!;
        const decoded = abi.decodeDescriptor(words, 0);
        const o = oracleResults[k]!;
        const e = engine.completion(i);
        figures.records++;
        if (e.status === S.OK) figures.ok++;
        else {
          const name = STATUS_NAME[e.status] ?? String(e.status);
          figures.refused[name] = (figures.refused[name] ?? 0) + 1;
        }
        const validCsb = !decoded.noPointer && decoded.csbPtr === engine.ring.completionOffset(i) && claims[k] === CLAIM.pending;
        if (validCsb && ((words[0]! | 1) & reservedMask) !== 0) {
          figures.reservedBit++;
          if (e.status === S.BAD_DESCRIPTOR) figures.reservedBitRefused++;
        }
        const describe = () => `[${Array.from(words, (x) => x.toString(16)).join(' ')}] ${decoded.op}`;
        if (e.status !== want[k]) {
          figures.statusDisagreements++;
          example(`status: ${describe()}: expected ${STATUS_NAME[want[k]!] ?? want[k]}, engine ${STATUS_NAME[e.status] ?? e.status}`);
        } else if (e.status === S.OK && (e.result !== o.result || e.flags !== o.flags)) {
          figures.resultDisagreements++;
          example(`result: ${describe()}: expected ${o.result} (flags ${o.flags}), engine ${e.result} (flags ${e.flags})`);
        }
        engine.retire(i);
      }
      t.backings.forEach((b, bi) => {
        const got = b.read();
        const expected = copies[bi]!;
        let outside = 0;
        let inside = 0;
        for (let x = 0; x < got.length; x++) {
          if (got[x] === expected[x]) continue;
          if (inRegion[bi]![x]) inside++;
          else outside++;
        }
        if (outside + inside === 0) return;
        figures.outOfRegionBytes += outside;
        figures.wrongBytes += inside;
        example(`memory: backing ${bi} after records ${first}..${first + n - 1}: ${outside} byte(s) outside regions, ${inside} inside differ from the oracle`);
        expected.set(got); // resynchronise, so one fault is counted once
      });
    }
  } finally {
    engine.close();
    oracle.close();
  }
  return figures;
}


/**
 * What is wrong with a run that was asked for `records` records: empty for a clean one (no hang,
 * no out-of-region byte, no disagreement, every reserved bit refused, enough records run rather
 * than refused at the first check, and each status of `mustSee` reached at least once).
 */
export function ringFuzzProblems(f: RingFuzzFigures, records: number, mustSee: readonly string[] = []): string[] {
  const problems = [...f.examples];
  const zero = { hangs: f.hangs, outOfRegionBytes: f.outOfRegionBytes, wrongBytes: f.wrongBytes, statusDisagreements: f.statusDisagreements, resultDisagreements: f.resultDisagreements, engineErrors: f.engineErrors };
  for (const [k, v] of Object.entries(zero)) if (v !== 0) problems.push(`${k}: ${v}`);
  if (f.records !== records) problems.push(`ran ${f.records} of ${records} records`);
  if (f.reservedBitRefused !== f.reservedBit) problems.push(`${f.reservedBit - f.reservedBitRefused} of ${f.reservedBit} records with a reserved bit were not refused`);
  if (f.reservedBit < records / 20) problems.push(`only ${f.reservedBit} records had a reserved bit set`);
  if (f.ok < records / 10) problems.push(`only ${f.ok} records ran`);
  for (const s of mustSee) if (!f.refused[s]) problems.push(`no record was answered ${s}`);
  return problems;
}
