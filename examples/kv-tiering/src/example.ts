/**
 * The example's workload: sequences that share a system prompt, one forked for parallel
 * sampling, decoding a few tokens per round while the scheduler rotates through them, so blocks
 * are demoted and promoted across the tiers. Ends with a verification pass over every block.
 */
import { Mover } from '@datamover/core';
import '@datamover/backend-soft';
import '@datamover/backend-cxl';
import '@datamover/backend-gds';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectedBlock, extendHash, EMPTY_PREFIX, fillTokenSlot } from './content.js';
import { KvStore, type TierChange } from './store.js';
import type { TierName } from './tier.js';

export interface ExampleConfig {
  readonly layers: number;
  readonly tokensPerBlock: number;
  readonly blockBytes: number;
  readonly hostBlocks: number;
  readonly daxBlocks: number;
  readonly fileBlocks: number;
  /** Sequences decoding at once, and the rounds they decode for. */
  readonly sequences: number;
  readonly rounds: number;
  /** Tokens of the shared system prompt, and of each sequence's own prompt. */
  readonly systemTokens: number;
  readonly promptTokens: number;
  /** Tokens each sequence decodes per round. */
  readonly decodeTokens: number;
  /** A device-DAX or file for the dax tier (default: a MAP_SHARED file in a temp dir). */
  readonly daxPath?: string;
  readonly log?: (line: string) => void;
}

export const DEFAULT_CONFIG: ExampleConfig = {
  layers: 4,
  tokensPerBlock: 16,
  blockBytes: 16 * 1024,
  hostBlocks: 32,
  daxBlocks: 48,
  fileBlocks: 512,
  sequences: 6,
  rounds: 8,
  systemTokens: 32,
  promptTokens: 24,
  decodeTokens: 5,
};

export interface ExampleSummary {
  readonly blocksVerified: number;
  readonly physicalBlocks: number;
  readonly copiesOnWrite: number;
  readonly changes: readonly TierChange[];
  readonly occupancy: Record<TierName, number>;
  /** Why there is no gpu tier in this run. */
  readonly gpu: string;
}

/** A sequence as the example's "model" sees it: its tokens and the hash of their prefix. */
interface Sequence {
  readonly tokens: number[];
  hash: number;
}

export async function runExample(config: ExampleConfig = DEFAULT_CONFIG): Promise<ExampleSummary> {
  const log = config.log ?? ((line: string) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), 'kv-tiering-'));
  const mover = await Mover.open();
  try {
    const gpu = gpuReason(mover);
    log(`gpu tier: skipped (${gpu})`);
    const store = await KvStore.open(mover, { ...config, dir, log, ...(config.daxPath ? { daxPath: config.daxPath } : {}) });
    log(`tiers: host ${config.hostBlocks}, dax ${config.daxBlocks} (${config.daxPath ?? 'MAP_SHARED file in ' + dir}), file ${config.fileBlocks} blocks of ${config.blockBytes} bytes`);
    const seqs = new Map<number, Sequence>();
    const slotBytes = config.blockBytes / config.tokensPerBlock;

    // Appends tokens to a sequence: per layer, one write per block the new tokens touch.
    const append = async (id: number, tokens: readonly number[]): Promise<void> => {
      const s = seqs.get(id)!;
      const start = s.tokens.length;
      const hashes = tokens.map((t) => (s.hash = extendHash(s.hash, t)));
      s.tokens.push(...tokens);
      for (let layer = 0; layer < config.layers; layer++) {
        for (let t = start; t < s.tokens.length; ) {
          const block = Math.floor(t / config.tokensPerBlock);
          const end = Math.min(s.tokens.length, (block + 1) * config.tokensPerBlock);
          const data = new Uint8Array((end - t) * slotBytes);
          for (let u = t; u < end; u++) fillTokenSlot(data.subarray((u - t) * slotBytes, (u - t + 1) * slotBytes), hashes[u - start]!, layer);
          await store.write(id, layer, block, data, (t % config.tokensPerBlock) * slotBytes);
          t = end;
        }
      }
    };
    const tokensOf = (id: number, n: number, salt: number) => Array.from({ length: n }, (_, i) => (id * 7919 + i * 104729 + salt) % 32000);

    // Sequence 0 holds the system prompt; the others share its full blocks (prefix sharing).
    const system = tokensOf(0, config.systemTokens, 1);
    const fullSystemBlocks = Math.floor(config.systemTokens / config.tokensPerBlock);
    for (let id = 0; id < config.sequences; id++) {
      seqs.set(id, { tokens: [], hash: EMPTY_PREFIX });
      if (id === 0) {
        await append(0, system);
      } else {
        store.share(id, 0, fullSystemBlocks);
        const s = seqs.get(id)!;
        for (const t of system.slice(0, fullSystemBlocks * config.tokensPerBlock)) s.hash = extendHash(s.hash, t);
        s.tokens.push(...system.slice(0, fullSystemBlocks * config.tokensPerBlock));
        await append(id, [...system.slice(s.tokens.length), ...tokensOf(id, config.promptTokens, 2)]);
      }
    }
    // The last sequence forks (parallel sampling): it shares every block, the partial last one
    // too, so the first token either of them decodes copies that block (copy-on-write).
    const forked = config.sequences;
    const parent = seqs.get(forked - 1)!;
    store.share(forked, forked - 1, Math.ceil(parent.tokens.length / config.tokensPerBlock));
    seqs.set(forked, { tokens: [...parent.tokens], hash: parent.hash });
    log(`prefill: ${seqs.size} sequences, ${store.blocks} blocks stored for ${[...store.addresses()].length} (sequence, layer, block) addresses; occupancy ${JSON.stringify(store.occupancy())}`);

    for (let round = 0; round < config.rounds; round++) {
      log(`round ${round + 1}:`);
      for (const id of seqs.keys()) {
        await store.acquire(id);
        await append(id, tokensOf(id, config.decodeTokens, 100 + round));
      }
    }
    log(`decode done: ${store.copiesOnWrite} copy-on-write copies; occupancy ${JSON.stringify(store.occupancy())}`);

    // Verification: every block, read where it lies, against the generator.
    let verified = 0;
    const bad: string[] = [];
    for (const { seq, layer, block } of store.addresses()) {
      const got = await store.read(seq, layer, block);
      const want = expectedBlock(seqs.get(seq)!.tokens, layer, block, config.blockBytes, config.tokensPerBlock);
      if (Buffer.compare(got, want) !== 0) bad.push(`${seq}/${layer}/${block} (${store.where(seq, layer, block)})`);
      verified++;
    }
    if (bad.length > 0) throw new Error(`verification failed for ${bad.length} of ${verified} blocks: ${bad.slice(0, 10).join(', ')}`);
    log(`verified ${verified} blocks against the generator: all equal`);
    return { blocksVerified: verified, physicalBlocks: store.blocks, copiesOnWrite: store.copiesOnWrite, changes: store.changes, occupancy: store.occupancy(), gpu };
  } finally {
    await mover.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The gpu tier needs an open GPU backend with strided copies; says which part is missing. */
function gpuReason(mover: Mover): string {
  const gds = mover.stats().unavailable.find((r) => r.name === 'gds');
  if (gds) return `gds: ${(gds.reason ?? "not open").split(" (")[0]}`;
  if (!mover.backends.includes('gds')) return 'no GPU backend open';
  return 'gds is open but runs no strided copies (its Capabilities.operations), which this store moves blocks with';
}
