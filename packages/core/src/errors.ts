import type { BatchResult } from './batch-result.js';

/**
 * The one error hierarchy. Every failure Datamover reports — from TypeScript or from a native
 * engine — is a DatamoverError with a stable string `code`; subclasses group the codes.
 */

/** Every stable error code. Codes are part of the public API: they never change meaning. */
export const ErrorCode = {
  /** A value of the wrong type, or an option that is not understood. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** A size or offset that is negative, NaN, fractional or not a safe integer. */
  INVALID_SIZE: 'INVALID_SIZE',
  /** A size larger than the operation can take. */
  SIZE_TOO_LARGE: 'SIZE_TOO_LARGE',
  /** A byte range that runs past the end of its region. */
  OUT_OF_BOUNDS: 'OUT_OF_BOUNDS',
  /** Source and destination of a copy overlap in the same memory. */
  OVERLAPPING_RANGES: 'OVERLAPPING_RANGES',
  /** Source and destination lengths differ where they must match. */
  LENGTH_MISMATCH: 'LENGTH_MISMATCH',
  /** A region handle used after `move()` gave its ownership away. */
  USE_AFTER_MOVE: 'USE_AFTER_MOVE',
  /** A region handle used after it was released. */
  REGION_RELEASED: 'REGION_RELEASED',
  /** A release refused because slices or in-flight work still use the region. */
  REGION_BUSY: 'REGION_BUSY',
  /** A region registered with another Mover. */
  FOREIGN_REGION: 'FOREIGN_REGION',
  /** An ArrayBuffer that was detached (transferred) before or after registration. */
  DETACHED_BUFFER: 'DETACHED_BUFFER',
  /** A write to a region opened read-only. */
  ACCESS_DENIED: 'ACCESS_DENIED',
  /** The Mover was closed. */
  MOVER_CLOSED: 'MOVER_CLOSED',
  /** No open backend can run this operation on these kinds of region. */
  UNSUPPORTED_OPERATION: 'UNSUPPORTED_OPERATION',
  /** A backend that cannot run on this machine (see its probe). */
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** Memory for a region or an engine could not be allocated. */
  OUT_OF_MEMORY: 'OUT_OF_MEMORY',
  /** Too many registered regions for one Mover. */
  TOO_MANY_REGIONS: 'TOO_MANY_REGIONS',
  /** Work cancelled through an AbortSignal. */
  ABORTED: 'ABORTED',
  /** Work cancelled because its deadline passed. */
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  /** One or more descriptors of a batch failed; see the per-descriptor results. */
  BATCH_FAILED: 'BATCH_FAILED',
  /** A file operation failed (errno in `detail`), or a read stopped short at end of file. */
  IO_ERROR: 'IO_ERROR',
  /** An engine reported a malformed descriptor or an internal failure. */
  DEVICE_ERROR: 'DEVICE_ERROR',
  /** A durable write (`{ durable: true }`) asked of memory that is not persistent (DRAM, a volatile CXL device, tmpfs). */
  NOT_PERSISTENT: 'NOT_PERSISTENT',
  /** The peer holding a remote region disconnected (or stopped answering) before the work landed. */
  REMOTE_DISCONNECT: 'REMOTE_DISCONNECT',
  /** The exporter revoked the remote region this work names. */
  ACCESS_REVOKED: 'ACCESS_REVOKED',
  /** A remote-region token that is malformed, forged, stale or refused by its exporter. */
  INVALID_TOKEN: 'INVALID_TOKEN',
  /** The peer agent is not in the directory: it withdrew, or its lease expired (it died). */
  PEER_GONE: 'PEER_GONE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Backend-specific detail attached to an error (errno, ibv_wc_status, CUfileError_t, …). */
export interface ErrorDetail {
  readonly backend?: string;
  readonly errno?: number;
  readonly status?: number | string;
  readonly [key: string]: unknown;
}

export class DatamoverError extends Error {
  readonly code: ErrorCode;
  readonly detail: ErrorDetail | undefined;
  /** For BATCH_FAILED, ABORTED and DEADLINE_EXCEEDED from a batch: what each descriptor did. */
  result?: BatchResult;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: ErrorDetail }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = options?.detail;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** Bad input: wrong types, bad sizes, ranges out of bounds, overlapping or mismatched ranges. */
export class InvalidArgumentError extends DatamoverError {}
/** A region handle that is moved, released, busy, foreign or whose buffer is detached. */
export class RegionStateError extends DatamoverError {}
/** The Mover is closed, or a backend cannot run or cannot do what was asked. */
export class BackendError extends DatamoverError {}
/** Work cancelled by an AbortSignal or a deadline. `result` says what ran. */
export class CancelledError extends DatamoverError {}
/** Work that an engine ran and that failed: I/O errors, device errors, failed batches. */
export class TransferError extends DatamoverError {}

const CLASS_OF: Record<ErrorCode, new (code: ErrorCode, message: string, options?: { cause?: unknown; detail?: ErrorDetail }) => DatamoverError> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  INVALID_SIZE: InvalidArgumentError,
  SIZE_TOO_LARGE: InvalidArgumentError,
  OUT_OF_BOUNDS: InvalidArgumentError,
  OVERLAPPING_RANGES: InvalidArgumentError,
  LENGTH_MISMATCH: InvalidArgumentError,
  USE_AFTER_MOVE: RegionStateError,
  REGION_RELEASED: RegionStateError,
  REGION_BUSY: RegionStateError,
  FOREIGN_REGION: RegionStateError,
  DETACHED_BUFFER: RegionStateError,
  ACCESS_DENIED: RegionStateError,
  MOVER_CLOSED: BackendError,
  UNSUPPORTED_OPERATION: BackendError,
  BACKEND_UNAVAILABLE: BackendError,
  TOO_MANY_REGIONS: BackendError,
  OUT_OF_MEMORY: BackendError,
  ABORTED: CancelledError,
  DEADLINE_EXCEEDED: CancelledError,
  BATCH_FAILED: TransferError,
  IO_ERROR: TransferError,
  DEVICE_ERROR: TransferError,
  NOT_PERSISTENT: BackendError,
  REMOTE_DISCONNECT: TransferError,
  ACCESS_REVOKED: TransferError,
  INVALID_TOKEN: InvalidArgumentError,
  PEER_GONE: TransferError,
};

/** Creates the error of the right class for a code. */
export function datamoverError(code: ErrorCode, message: string, options?: { cause?: unknown; detail?: ErrorDetail }): DatamoverError {
  return new CLASS_OF[code](code, message, options);
}

/** What an engine threw, as a DatamoverError: DEVICE_ERROR unless it already is one. */
export function engineError(backend: string, what: string, e: unknown): DatamoverError {
  if (e instanceof DatamoverError) return e;
  return datamoverError(ErrorCode.DEVICE_ERROR, `backend ${backend}: ${what} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e, detail: { backend } });
}
