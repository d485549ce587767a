/**
 * Bit fields of little-endian SDXI structures, numbered as shared/sdxi/NOTES.md and the Linux
 * driver's KUnit tests number them (`PACKED_FIELD(hi, lo)`): bit n is bit n % 8 of byte n / 8.
 */

/** Bits hi..lo (inclusive) of a structure. */
export type Field = readonly [hi: number, lo: number];

/** The value of `field` in `bytes` (starting at byte `at`). */
export function getField(bytes: Uint8Array, [hi, lo]: Field, at = 0): bigint {
  let v = 0n;
  for (let bit = hi; bit >= lo; bit--) v = (v << 1n) | BigInt((bytes[at + (bit >> 3)]! >> (bit & 7)) & 1);
  return v;
}

/** Stores `value` into `field`; a value that does not fit is a RangeError, never truncated. */
export function setField(bytes: Uint8Array, [hi, lo]: Field, value: bigint | number, at = 0): void {
  const v = BigInt(value);
  const width = BigInt(hi - lo + 1);
  if (v < 0n || v >> width !== 0n) throw new RangeError(`value ${v} does not fit bits ${hi}:${lo}`);
  for (let bit = lo; bit <= hi; bit++) {
    const byte = at + (bit >> 3);
    const mask = 1 << (bit & 7);
    if ((v >> BigInt(bit - lo)) & 1n) bytes[byte] = bytes[byte]! | mask;
    else bytes[byte] = bytes[byte]! & ~mask;
  }
}

/** A 64-bit register value from named fields (bits within the register). */
export function pack64(fields: readonly (readonly [Field, bigint | number])[]): bigint {
  const b = new Uint8Array(8);
  for (const [f, v] of fields) setField(b, f, v);
  return new DataView(b.buffer).getBigUint64(0, true);
}

/** One field of a 64-bit register value. */
export function field64(value: bigint, [hi, lo]: Field): bigint {
  return (value >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
}

/**
 * Writes a structure image into 64-bit words at `at`: every word after the first, then the first
 * (which holds `vl`) with one atomic store — SDXI's publication order.
 */
export function publish(words: BigUint64Array, at: number, image: Uint8Array): void {
  const v = new BigUint64Array(image.buffer, image.byteOffset, image.byteLength / 8);
  for (let i = 1; i < v.length; i++) words[at + i] = v[i]!;
  Atomics.store(words, at, v[0]!);
}
