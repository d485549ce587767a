/**
 * A KV-cache block store on Datamover's public API. Blocks of `blockBytes` are addressed by
 * (sequence, layer, block) and live in one of three tiers, fastest first: host memory, a dax
 * mapping (device-DAX, or a MAP_SHARED file standing in for one), and a plain file. The least
 * recently used blocks are demoted when a tier fills and promoted to host when a sequence is
 * acquired, in batches of strided copies (one descriptor per run of evenly spaced slots). A
 * sequence can share another's prefix blocks (reference counted); writing a shared block copies
 * it first. Every move is checked: the moved blocks' CRC-32C must equal the one recorded when the
 * block was written.
 */
import { datamoverError, ErrorCode, type Batch, type Mover, type Region } from '@datamover/core';
import { openDax } from '@datamover/backend-cxl';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { toRuns, type Run, type SlotMove } from './runs.js';
import { Tier, type TierName } from './tier.js';

export interface KvStoreConfig {
  /** Bytes per block (one layer's keys and values for a page of tokens). */
  readonly blockBytes: number;
  /** Block slots per tier. */
  readonly hostBlocks: number;
  readonly daxBlocks: number;
  readonly fileBlocks: number;
  /** Directory for the file tier, and for the dax tier's MAP_SHARED file unless `daxPath` is given. */
  readonly dir: string;
  /** A device-DAX (e.g. /dev/dax0.0) or file to map as the dax tier instead of `dir`/dax.bin. */
  readonly daxPath?: string;
  /** Blocks the host staging buffer holds, for moves no single backend runs (dax → file). Default 16. */
  readonly stagingBlocks?: number;
  /** The fewest blocks a full tier demotes at once, so evictions batch up (default 8). */
  readonly evictBatch?: number;
  /** Receives one line per tier change (and the plan's explain() the first time a pair is used). */
  readonly log?: (line: string) => void;
}

/** What one tier change did. */
export interface TierChange {
  readonly from: TierName;
  readonly to: TierName;
  readonly blocks: number;
  /** Copy descriptors submitted, over every hop (one per run). */
  readonly descriptors: number;
  /** Blocks per run, in submission order (of the last hop, for a staged move). */
  readonly runs: number[];
  /** Whether the copies into the destination were durable (a persistent dax tier). */
  readonly durable: boolean;
  /** Copies into host staging, from the route's plan (0 direct, 1 staged). */
  readonly hostCopies: number;
}

/** A physical block; several (sequence, layer, block) addresses may name one. */
interface Block {
  tier: Tier;
  slot: number;
  refs: number;
  /** CRC-32C of the block's bytes, recorded at its last write. */
  crc: number;
  lastUse: number;
}

export class KvStore {
  readonly changes: TierChange[] = [];
  /** Copy-on-write copies made (a shared block written by one of its sequences). */
  copiesOnWrite = 0;
  readonly #mover: Mover;
  readonly #bb: number;
  readonly #tiers: readonly [Tier, Tier, Tier];
  readonly #staging: Tier;
  readonly #scratch: Region;
  readonly #log: (line: string) => void;
  readonly #evictBatch: number;
  readonly #explained = new Set<string>();
  /** sequence → "layer/block" → block */
  readonly #seqs = new Map<number, Map<string, Block>>();
  readonly #blocks = new Set<Block>();
  #clock = 0;

  private constructor(mover: Mover, config: KvStoreConfig, tiers: readonly [Tier, Tier, Tier], staging: Tier) {
    this.#mover = mover;
    this.#bb = config.blockBytes;
    this.#tiers = tiers;
    this.#staging = staging;
    this.#scratch = mover.alloc(config.blockBytes);
    this.#log = config.log ?? (() => {});
    this.#evictBatch = config.evictBatch ?? 8;
  }

  /** Opens the three tiers on `mover`, which needs the soft and cxl backends open. */
  static async open(mover: Mover, config: KvStoreConfig): Promise<KvStore> {
    const { blockBytes: bb } = config;
    for (const [k, v] of Object.entries({ blockBytes: bb, hostBlocks: config.hostBlocks, daxBlocks: config.daxBlocks, fileBlocks: config.fileBlocks, stagingBlocks: config.stagingBlocks ?? 16, evictBatch: config.evictBatch ?? 8 })) {
      if (!Number.isSafeInteger(v) || v <= 0) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${k} must be a positive integer, got ${String(v)}`);
    }
    const host = new Tier('host', mover.alloc(config.hostBlocks * bb), config.hostBlocks);
    const dax = new Tier('dax', await openDax(mover, config.daxPath ?? (await sizedFile(join(config.dir, 'dax.bin'), config.daxBlocks * bb)), { length: config.daxBlocks * bb }), config.daxBlocks);
    const file = new Tier('file', await mover.openFile(join(config.dir, 'kv-file.bin'), { mode: 'rw', create: true, truncate: true, length: config.fileBlocks * bb }), config.fileBlocks);
    config.log?.(`dax tier: ${dax.region.space.name}, ${dax.region.space.persistent ? 'persistent: copies into it are durable' : 'volatile: copies into it cannot be durable'}`);
    const stagingBlocks = config.stagingBlocks ?? 16;
    return new KvStore(mover, config, [host, dax, file], new Tier('host', mover.alloc(stagingBlocks * bb), stagingBlocks));
  }

  /** The tier holding (sequence, layer, block), or undefined when no such block was written. */
  where(seq: number, layer: number, block: number): TierName | undefined {
    return this.#seqs.get(seq)?.get(`${layer}/${block}`)?.tier.name;
  }

  /** Used slots per tier. */
  occupancy(): Record<TierName, number> {
    const [host, dax, file] = this.#tiers;
    return { host: host.slots - host.freeSlots, dax: dax.slots - dax.freeSlots, file: file.slots - file.freeSlots };
  }

  /** Physical blocks stored (shared ones once). */
  get blocks(): number {
    return this.#blocks.size;
  }

  /**
   * Writes `data` at `offset` in (sequence, layer, block), in host memory: a new block starts as
   * zeros; a block shared with other sequences is copied first (copy-on-write); one on a slower
   * tier is promoted first.
   */
  async write(seq: number, layer: number, block: number, data: Uint8Array, offset = 0): Promise<void> {
    for (const [k, v] of Object.entries({ seq, layer, block })) {
      if (!Number.isSafeInteger(v) || v < 0) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `${k} must be a non-negative integer, got ${String(v)}`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.#bb) {
      throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `a write of ${data.length} bytes at ${offset} does not fit a ${this.#bb}-byte block`);
    }
    const host = this.#tiers[0];
    const entries = this.#entries(seq, true);
    const key = `${layer}/${block}`;
    let b = entries.get(key);
    const pinned = new Set(b ? [b] : []);
    if (b) await this.#promote([b], pinned);
    if (!b || b.refs > 1) {
      await this.#makeRoom(host, 1, pinned);
      const fresh: Block = { tier: host, slot: host.take(1)[0]!, refs: 1, crc: 0, lastUse: 0 };
      if (b) {
        await this.#mover.copy(host.region, host.region, { srcOffset: b.slot * this.#bb, dstOffset: fresh.slot * this.#bb, length: this.#bb });
        b.refs--;
        this.copiesOnWrite++;
      } else {
        host.region.bytes().fill(0, fresh.slot * this.#bb, (fresh.slot + 1) * this.#bb);
      }
      b = fresh;
      entries.set(key, b);
      this.#blocks.add(b);
    }
    host.region.bytes().set(data, b.slot * this.#bb + offset);
    b.crc = await this.#mover.crc32c(host.region, { offset: b.slot * this.#bb, length: this.#bb });
    b.lastUse = ++this.#clock;
  }

  /** Makes `seq` reference blocks [0, blocks) of every layer of `from` (stored once, refcounted). */
  share(seq: number, from: number, blocks: number): void {
    const source = this.#seqs.get(from);
    if (!source) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `sequence ${from} has no blocks to share`);
    const entries = this.#entries(seq, true);
    for (const [key, b] of source) {
      if (Number(key.split('/')[1]) >= blocks || entries.has(key)) continue;
      b.refs++;
      entries.set(key, b);
    }
  }

  /** Promotes every block of `seq` to host memory (as attention over it needs) and marks them used. */
  async acquire(seq: number): Promise<void> {
    const blocks = [...new Set(this.#entries(seq, false).values())];
    await this.#promote(blocks, new Set(blocks));
    for (const b of blocks) b.lastUse = ++this.#clock;
  }

  /**
   * A copy of (sequence, layer, block)'s bytes, read where the block is without moving it, and
   * checked against its recorded CRC-32C.
   */
  async read(seq: number, layer: number, block: number): Promise<Uint8Array> {
    const b = this.#entries(seq, false).get(`${layer}/${block}`);
    if (!b) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `sequence ${seq} has no block ${layer}/${block}`);
    await this.#mover.copy(this.#scratch, b.tier.region, { srcOffset: b.slot * this.#bb, length: this.#bb });
    const crc = await this.#mover.crc32c(this.#scratch);
    if (crc !== b.crc) throw this.#mismatch(b.tier.name, 'host', `block ${seq}/${layer}/${block}`, b.crc, crc);
    return this.#scratch.bytes().slice();
  }

  /** Drops `seq`: blocks no other sequence references are freed. */
  release(seq: number): void {
    for (const b of new Set(this.#entries(seq, false).values())) {
      if (--b.refs > 0) continue;
      b.tier.give([b.slot]);
      this.#blocks.delete(b);
    }
    this.#seqs.delete(seq);
  }

  /** Every (sequence, layer, block) address, for a verification pass. */
  *addresses(): Generator<{ seq: number; layer: number; block: number }> {
    for (const [seq, entries] of this.#seqs) {
      for (const key of entries.keys()) {
        const [layer, block] = key.split('/').map(Number) as [number, number];
        yield { seq, layer, block };
      }
    }
  }

  #entries(seq: number, create: boolean): Map<string, Block> {
    let entries = this.#seqs.get(seq);
    if (!entries) {
      if (!create) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `unknown sequence ${seq}`);
      this.#seqs.set(seq, (entries = new Map()));
    }
    return entries;
  }

  /** Brings `blocks` to host: room first (evicting unpinned blocks), then one move per source tier. */
  async #promote(blocks: readonly Block[], pinned: ReadonlySet<Block>): Promise<void> {
    const [host, ...lower] = this.#tiers;
    const away = blocks.filter((b) => b.tier !== host);
    if (away.length === 0) return;
    await this.#makeRoom(host, away.length, pinned);
    for (const tier of lower) {
      const group = away.filter((b) => b.tier === tier);
      if (group.length > 0) await this.#move(group, tier, host);
    }
  }

  /**
   * Frees `count` slots in `tier` by demoting its least recently used unpinned blocks one tier
   * down: at least `evictBatch` of them when it has that many, so one batch carries many.
   */
  async #makeRoom(tier: Tier, count: number, pinned: ReadonlySet<Block>): Promise<void> {
    const short = count - tier.freeSlots;
    if (short <= 0) return;
    const below = this.#tiers[this.#tiers.indexOf(tier) + 1];
    const candidates = [...this.#blocks].filter((b) => b.tier === tier && !pinned.has(b)).sort((a, b) => a.lastUse - b.lastUse);
    const need = Math.min(Math.max(short, this.#evictBatch), candidates.length);
    const victims = candidates.slice(0, need);
    if (!below || victims.length < short) {
      throw datamoverError(ErrorCode.OUT_OF_MEMORY, `the ${tier.name} tier is full: ${short} more slots needed and ${victims.length} blocks can leave`);
    }
    await this.#makeRoom(below, need, pinned);
    await this.#move(victims, tier, below);
  }

  /**
   * Moves `blocks` from one tier to another: strided copies along the route mover.plan() picks
   * (direct, or staged through host), then a CRC-32C of every landed block checked against the
   * recorded one. Nothing is relocated unless all of it arrived intact.
   */
  async #move(blocks: readonly Block[], from: Tier, to: Tier): Promise<void> {
    const sorted = [...blocks].sort((a, b) => a.slot - b.slot);
    const dst = to.take(sorted.length);
    const bytes = sorted.length * this.#bb;
    const plan = this.#mover.plan(to.region.slice(0, bytes), from.region.slice(0, bytes));
    // A persistent dax tier takes durable writes: cxl writes each block of a strided copy back.
    const durable = to.name === 'dax' && to.region.space.persistent;
    const moves = sorted.map((b, i): SlotMove => ({ src: b.slot, dst: dst[i]! }));
    let descriptors = 0;
    let runs: Run[] = [];
    try {
      if (plan.hops.length === 1) {
        runs = toRuns(moves);
        descriptors = await this.#copy(to.region, from.region, runs, durable);
      } else {
        for (let at = 0; at < moves.length; at += this.#staging.slots) {
          const chunk = moves.slice(at, at + this.#staging.slots);
          const hop1 = toRuns(chunk.map((m, i) => ({ src: m.src, dst: i })));
          const hop2 = toRuns(chunk.map((m, i) => ({ src: i, dst: m.dst })));
          descriptors += await this.#copy(this.#staging.region, from.region, hop1, false);
          descriptors += await this.#copy(to.region, this.#staging.region, hop2, durable);
          runs.push(...hop2);
        }
      }
      await this.#check(sorted, to, dst);
    } catch (err) {
      to.give(dst);
      throw err;
    }
    from.give(sorted.map((b) => b.slot));
    sorted.forEach((b, i) => {
      b.tier = to;
      b.slot = dst[i]!;
    });
    const change: TierChange = { from: from.name, to: to.name, blocks: sorted.length, descriptors, runs: runs.map((r) => r.count), durable, hostCopies: plan.hostCopies };
    this.changes.push(change);
    const pair = `${from.name}→${to.name}`;
    if (!this.#explained.has(pair)) {
      this.#explained.add(pair);
      this.#log(plan.explain().replace(/^/gm, '    '));
    }
    this.#log(
      `  ${from.name} → ${to.name}: ${change.blocks} block(s), ${bytes} bytes in ${descriptors} copy descriptor(s) (runs of ${change.runs.join('+')}), ` +
        `${change.hostCopies} host cop${change.hostCopies === 1 ? 'y' : 'ies'}${durable ? ', durable' : ''}, crc32c checked`,
    );
  }

  /** One batch: a strided descriptor per run, durable into a persistent dax tier. */
  async #copy(dst: Region, src: Region, runs: readonly Run[], durable: boolean): Promise<number> {
    const bb = this.#bb;
    const batch: Batch = this.#mover.batch();
    for (const r of runs) {
      batch.copyStrided(dst, src, { count: r.count, blockBytes: bb, srcOffset: r.src * bb, dstOffset: r.dst * bb, srcStride: r.srcStep * bb, dstStride: r.dstStep * bb, ...(durable ? { durable: true } : {}) });
    }
    await batch.submit();
    return runs.length;
  }

  /** The CRC-32C of each landed block, in one batch, against the one recorded at its last write. */
  async #check(blocks: readonly Block[], to: Tier, slots: readonly number[]): Promise<void> {
    const batch = this.#mover.batch();
    for (const slot of slots) batch.crc32c(to.region, { offset: slot * this.#bb, length: this.#bb });
    const result = await batch.submit();
    blocks.forEach((b, i) => {
      if (result.value(i) !== b.crc) throw this.#mismatch(b.tier.name, to.name, `the block in ${b.tier.name} slot ${b.slot}`, b.crc, result.value(i));
    });
  }

  #mismatch(from: TierName, to: TierName, what: string, want: number, got: number): Error {
    return datamoverError(ErrorCode.INTEGRITY_MISMATCH, `${what} arrived in ${to} from ${from} with CRC-32C ${hex(got)}, not the ${hex(want)} recorded when it was written`);
  }
}

function hex(crc: number): string {
  return `0x${(crc >>> 0).toString(16).padStart(8, '0')}`;
}

/** Creates (or resizes) `path` to `bytes`: the dax tier's stand-in file. */
async function sizedFile(path: string, bytes: number): Promise<string> {
  const fh = await open(path, 'w+');
  await fh.truncate(bytes);
  await fh.close();
  return path;
}
