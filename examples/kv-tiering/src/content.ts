/**
 * The example's stand-in for a model: the KV bytes of a token depend on the layer and on every
 * token up to it (as attention's keys and values do), so sequences with a common prefix have
 * identical prefix blocks. Deterministic, so the verification pass can regenerate every block.
 */

/** FNV-1a step: the hash of a token prefix, extended by one token. */
export function extendHash(hash: number, token: number): number {
  let h = hash;
  for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((token >>> s) & 0xff), 0x01000193) >>> 0;
  return h;
}

export const EMPTY_PREFIX = 0x811c9dc5;

/** The hash of every prefix of `tokens`: entry t covers tokens[0..t]. */
export function prefixHashes(tokens: readonly number[]): number[] {
  const out: number[] = [];
  let h = EMPTY_PREFIX;
  for (const t of tokens) out.push((h = extendHash(h, t)));
  return out;
}

/** Writes one token's KV slot for `layer` (xorshift32 seeded by the prefix hash and the layer). */
export function fillTokenSlot(out: Uint8Array, prefixHash: number, layer: number): void {
  let x = (prefixHash ^ Math.imul(layer + 1, 0x9e3779b9)) >>> 0 || 1;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let b = 0; b < 4 && i + b < out.length; b++) out[i + b] = (x >>> (8 * b)) & 0xff;
  }
}

/**
 * The expected bytes of block `block` of `layer` for a sequence of `tokens`: its token slots in
 * order, zeros after the last token.
 */
export function expectedBlock(tokens: readonly number[], layer: number, block: number, blockBytes: number, tokensPerBlock: number): Uint8Array {
  const slotBytes = blockBytes / tokensPerBlock;
  const out = new Uint8Array(blockBytes);
  const hashes = prefixHashes(tokens.slice(0, (block + 1) * tokensPerBlock));
  for (let t = block * tokensPerBlock; t < hashes.length; t++) {
    fillTokenSlot(out.subarray((t - block * tokensPerBlock) * slotBytes, (t - block * tokensPerBlock + 1) * slotBytes), hashes[t]!, layer);
  }
  return out;
}
