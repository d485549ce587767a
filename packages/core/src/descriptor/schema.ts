/**
 * The one schema from which every descriptor encoder, decoder and the C header are generated
 * (`pnpm --filter @datamover/core gen`). Offsets follow the SDXI 1.0 generic layout
 * (DSC_GENERIC, Table 6-3): a 64-byte record, opcode word at bytes 0–3, operation body at
 * bytes 4–55, completion pointer at bytes 56–63. All fields are little-endian.
 */

/** A scalar field of a descriptor body: a little-endian integer at a byte offset. */
export interface FieldSpec {
  readonly name: string;
  readonly offset: number;
  readonly type: 'u8' | 'u16' | 'u32' | 'u64';
  readonly doc: string;
  /** A u64 that must keep all 64 bits in JS (a bigint); other u64s are byte offsets (numbers). */
  readonly bigint?: true;
}

/** One operation: its SDXI operation group (`type`), subtype and body fields. */
export interface OperationSpec {
  /** Name used in generated identifiers, e.g. `copy` → `encodeCopy`. */
  readonly name: string;
  readonly group: keyof typeof OPERATION_GROUPS;
  readonly subtype: number;
  readonly fields: readonly FieldSpec[];
  readonly doc: string;
}

/** SDXI operation groups (Table 6-1) plus Datamover's vendor group. */
export const OPERATION_GROUPS = {
  /** DMA Base group (SDXI). */
  DMAB: 0x001,
  /** Administrative group (SDXI). */
  ADMIN: 0x002,
  /** Interrupt group (SDXI). */
  INTR: 0x004,
  /**
   * Datamover's vendor group for operations SDXI 1.0 lacks (fill, compare, crc32c,
   * write-immediate with a 64-bit value). The spec text reserving vendor group numbers was not
   * available (shared/sdxi/NOTES.md §9): 0x700 is our choice, well away from the 0x7F7 that
   * error-log entries use.
   */
  DMV: 0x700,
} as const;

/** Bits of the opcode word (bytes 0–3). */
export const OPCODE_BITS = {
  valid: 0,
  sequential: 1,
  fence: 2,
  chain: 3,
  csr: 4,
  rb: 5,
  /**
   * Datamover's `du` (durable) flag, in a bit SDXI 1.0 reserves (7:6 are reserved): completion
   * means the written bytes reached the destination's persistence domain (cache lines written
   * back and fenced, or the file range synced). Only copy, fill and writeImm may carry it;
   * engines that cannot honour it treat it as the reserved bit it is (BAD_DESCRIPTOR).
   */
  durable: 7,
  subtypeShift: 8,
  subtypeWidth: 8,
  typeShift: 16,
  typeWidth: 11,
} as const;

/**
 * Opcode bits every engine refuses (BAD_DESCRIPTOR) before any check of its own: all but valid,
 * fence, subtype and type (the kit's `dm::kAllowedOpcodeBits` in descriptor.h is the complement).
 * An engine that honours `du` clears it first.
 */
export const RESERVED_OPCODE_BITS =
  ~((1 << OPCODE_BITS.valid) | (1 << OPCODE_BITS.fence) | (((1 << (OPCODE_BITS.subtypeWidth + OPCODE_BITS.typeWidth)) - 1) << OPCODE_BITS.subtypeShift)) >>> 0;

export const DESCRIPTOR_BYTES = 64;
/** Byte offset of `csb_ptr` (bit 0 `np`, bits 63:5 completion-block address >> 5). */
export const CSB_PTR_OFFSET = 56;

const size: FieldSpec = {
  name: 'size',
  offset: 4,
  type: 'u32',
  doc: 'byte count minus one (SDXI size encoding: 0 means 1 byte, 0xffffffff means 4 GiB)',
};
const akey0: FieldSpec = { name: 'akey0', offset: 12, type: 'u16', doc: 'AKey (region-table) index of the source' };
const akey1: FieldSpec = { name: 'akey1', offset: 14, type: 'u16', doc: 'AKey (region-table) index of the destination' };
const addr0: FieldSpec = { name: 'addr0', offset: 16, type: 'u64', doc: 'source byte offset inside the akey0 region' };
const addr1: FieldSpec = { name: 'addr1', offset: 24, type: 'u64', doc: 'destination byte offset inside the akey1 region' };

// Strided operations: `count` blocks of size+1 bytes, block i at addr + i × stride on each side.
const blockSize: FieldSpec = { ...size, doc: 'bytes per block minus one (SDXI size encoding)' };
const count: FieldSpec = { name: 'count', offset: 8, type: 'u32', doc: 'number of blocks, at least 1 (0 is BAD_DESCRIPTOR: the Mover sends a NOP)' };
const stride0: FieldSpec = { name: 'stride0', offset: 32, type: 'u64', doc: 'bytes from one source block to the next, at least the block size when count > 1' };
const stride1: FieldSpec = { name: 'stride1', offset: 40, type: 'u64', doc: 'bytes from one destination block to the next, at least the block size when count > 1' };
/** The body of the two-operand strided operations (copy, compare). */
const stridedPair: readonly FieldSpec[] = [blockSize, count, akey0, akey1, addr0, addr1, stride0, stride1];

export const OPERATIONS: readonly OperationSpec[] = [
  {
    name: 'nop',
    group: 'DMAB',
    subtype: 0x01,
    fields: [],
    doc: 'DSC_DMAB_NOP (Table 6-6): no body; with the fence flag it is a barrier.',
  },
  {
    name: 'copy',
    group: 'DMAB',
    subtype: 0x03,
    fields: [
      size,
      { name: 'attr', offset: 8, type: 'u8', doc: 'bits 3:0 attr_src, bits 7:4 attr_dst (meaning unconfirmed; written as 0)' },
      akey0,
      akey1,
      addr0,
      addr1,
    ],
    doc: 'DSC_DMAB_COPY (Table 6-8): copy size+1 bytes from (akey0, addr0) to (akey1, addr1).',
  },
  {
    name: 'fill',
    group: 'DMV',
    subtype: 0x01,
    fields: [
      size,
      { name: 'patternBytes', offset: 8, type: 'u8', doc: 'pattern width in bytes: 1 or 8' },
      akey1,
      addr1,
      { name: 'pattern', offset: 32, type: 'u64', bigint: true, doc: 'fill pattern; a 1-byte pattern uses bits 7:0' },
    ],
    doc: 'Vendor fill: repeat a 1- or 8-byte pattern over (akey1, addr1, size+1).',
  },
  {
    name: 'compare',
    group: 'DMV',
    subtype: 0x02,
    fields: [size, akey0, akey1, addr0, addr1],
    doc: 'Vendor compare: result is the first differing byte offset, or all ones when equal.',
  },
  {
    name: 'crc32c',
    group: 'DMV',
    subtype: 0x03,
    fields: [size, akey0, addr0, { name: 'seed', offset: 32, type: 'u32', doc: 'initial CRC (0 for a fresh checksum)' }],
    doc: 'Vendor CRC-32C (Castagnoli) over (akey0, addr0, size+1); the result is the checksum.',
  },
  {
    name: 'writeImm',
    group: 'DMV',
    subtype: 0x04,
    fields: [
      { name: 'width', offset: 8, type: 'u8', doc: 'bytes written: 1, 2, 4 or 8' },
      akey1,
      addr1,
      { name: 'value', offset: 32, type: 'u64', bigint: true, doc: 'the immediate value, little-endian, low `width` bytes used' },
    ],
    doc: 'Vendor write-immediate: store an 8/16/32/64-bit value at (akey1, addr1).',
  },
  {
    name: 'copyStrided',
    group: 'DMV',
    subtype: 0x11,
    fields: stridedPair,
    doc: 'Vendor strided copy: block i from (akey0, addr0 + i × stride0) to (akey1, addr1 + i × stride1), count blocks of size+1 bytes.',
  },
  {
    name: 'fillStrided',
    group: 'DMV',
    subtype: 0x12,
    fields: [
      blockSize,
      count,
      { name: 'patternBytes', offset: 12, type: 'u8', doc: 'pattern width in bytes: 1 or 8 (fill has no source AKey; each block starts the pattern afresh)' },
      akey1,
      addr1,
      stride1,
      { name: 'pattern', offset: 48, type: 'u64', bigint: true, doc: 'fill pattern; a 1-byte pattern uses bits 7:0' },
    ],
    doc: 'Vendor strided fill: the pattern over count blocks of size+1 bytes at (akey1, addr1 + i × stride1).',
  },
  {
    name: 'compareStrided',
    group: 'DMV',
    subtype: 0x13,
    fields: stridedPair,
    doc: 'Vendor strided compare: result is the first differing byte as i × (size+1) + offset in block i, or all ones when equal.',
  },
  {
    name: 'crc32cStrided',
    group: 'DMV',
    subtype: 0x14,
    fields: [blockSize, count, akey0, addr0, stride0, { name: 'seed', offset: 48, type: 'u32', doc: 'initial CRC (0 for a fresh checksum)' }],
    doc: 'Vendor strided CRC-32C, chained: one checksum over the blocks in order, as if they were contiguous.',
  },
];
