/**
 * Byte layout of the shared ring memory (one SharedArrayBuffer per engine session) that every
 * engine — the pure-TS oracle, the native soft engine, later SDXI — consumes. The C header
 * generated from this file and from the descriptor schema keeps native engines in step.
 */

/** Ring header fields (byte offsets). Producer and consumer fields live on separate cache lines. */
export const RING_HEADER = {
  /** u64, producer: free-running count of descriptors published (SDXI Write_Index). */
  writeIndex: 0,
  /** u64, producer: last doorbell value written (the Write_Index it announced). */
  doorbell: 8,
  /** u64, consumer: free-running count of descriptors finished in order (SDXI CXT_STS.Read_Index). */
  readIndex: 64,
  /** u32, consumer → producer: 1 while a progress notification is queued and not yet handled. */
  notifyPending: 72,
  /** u32, constant: number of 64-byte slots (a power of two). */
  entries: 128,
  /** u32, constant: byte offset of slot 0. */
  slots: 132,
  /** u32, constant: byte offset of completion block 0. */
  completions: 136,
  /** u32, constant: RING_MAGIC. */
  magic: 140,
  /** Total header size; slot 0 starts here. */
  bytes: 256,
} as const;

/** 'DMR1' little-endian: guards against handing an engine some other SharedArrayBuffer. */
export const RING_MAGIC = 0x31524d44;

/**
 * Completion block, one per slot: bytes 0–11 are the SDXI CST_BLK (Table 6-4: `signal`,
 * `flags` with `er` at bit 31); bytes 12–31, reserved in SDXI, carry Datamover's result.
 */
export const COMPLETION = {
  /** u64: producer arms it with 1; the engine stores 0 when the descriptor is finished. */
  signal: 0,
  /** u32: bit 31 `er` (SDXI error bit). */
  flags: 8,
  /** u32: claim word, CAS 0→1 by the engine before it runs the descriptor, 0→2 by an abort. */
  claim: 12,
  /**
   * u64: operation result (crc32c checksum; compare: first differing offset or all ones). The
   * producer arms it with the descriptor's work tag (WORK_TAG), which the engine reads before it
   * runs the descriptor and overwrites when it completes it.
   */
  result: 16,
  /** u32: CompletionStatus. */
  status: 24,
  /** i32: detail (errno for I/O errors, else 0). */
  detail: 28,
  bytes: 32,
} as const;

export const COMPLETION_FLAG_ERROR = 0x8000_0000;

export const CLAIM = { pending: 0, claimed: 1, cancelled: 2 } as const;

/**
 * The work tag the producer arms each completion block's `result` with: which submission the
 * descriptor belongs to, and how a failure inside it stops the rest (docs/engine-abi.md, "After a
 * failure"). Bits 31:0 the work (never 0: 0 means untagged, no failure rule), bit 32 stop-on-error.
 */
export const WORK_TAG = {
  /** Bits 31:0 (the low word): the work number, 1 … 2^32 − 1. */
  workBits: 32,
  /** Bit 32 (bit 0 of the high word): after a failure, no later descriptor of the work runs, fenced or not. */
  stopOnError: 32,
} as const;

/** `detail` of a NOT_RUN completion: why the descriptor did not run. */
export const NOT_RUN_DETAIL = {
  /** The producer cancelled it before the engine claimed it. */
  cancelled: 0,
  /** An earlier descriptor of its work failed, and it is fenced (or its work stops on error). */
  afterFailure: 1,
} as const;

/** Status an engine writes into a completion block. */
export const CompletionStatus = {
  OK: 0,
  /** The descriptor did not run: cancelled by the producer, or held back after a failure (detail: NOT_RUN_DETAIL). */
  NOT_RUN: 1,
  /** Unknown operation group or subtype, or a reserved bit set. */
  BAD_DESCRIPTOR: 2,
  /** An AKey index that names no registered region. */
  BAD_AKEY: 3,
  /** A byte range outside its registered region. */
  OUT_OF_BOUNDS: 4,
  /** A system call failed; detail holds errno. */
  IO_ERROR: 5,
  /** A read or write moved fewer bytes than asked (end of file). */
  SHORT_IO: 6,
  /** Source and destination overlap in the same memory. */
  OVERLAP: 7,
  /** The engine cannot run this operation on these kinds of region. */
  UNSUPPORTED: 8,
  /** A write to a region registered read-only. */
  ACCESS_DENIED: 9,
  /** A durable write (descriptor flag `du`) to memory that is not persistent: nothing was written. */
  NOT_PERSISTENT: 10,
} as const;
export type CompletionStatus = (typeof CompletionStatus)[keyof typeof CompletionStatus];

/** Bytes a ring of `entries` slots occupies. */
export function ringBytes(entries: number): number {
  return RING_HEADER.bytes + entries * (64 + COMPLETION.bytes);
}
