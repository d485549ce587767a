import type { BatchResult } from './batch-result.js';
import type { TransferResult } from './plan/transfer-result.js';

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
  /** No chain of open backends connects the source's space to the destination's (`explain` in `detail` says why each route was refused). */
  UNREACHABLE: 'UNREACHABLE',
  /** A transfer with `integrity: 'crc32c'` landed bytes whose checksum differs from the source's. */
  INTEGRITY_MISMATCH: 'INTEGRITY_MISMATCH',
  /** The exporter revoked the remote region this work names. */
  ACCESS_REVOKED: 'ACCESS_REVOKED',
  /** A remote-region token that is malformed, forged, stale or refused by its exporter. */
  INVALID_TOKEN: 'INVALID_TOKEN',
  /** The peer agent is not in the directory: it withdrew, or its lease expired (it died). */
  PEER_GONE: 'PEER_GONE',
} as const;
/** Core's codes. A backend declares its own with declareErrorCodes(). */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
/** A code a backend declared with declareErrorCodes() (a stable string like core's). */
export type BackendErrorCode = string & { readonly __declaredByBackend?: never };
/** What a DatamoverError's `code` can be: one of core's, or one a backend declared. */
export type AnyErrorCode = ErrorCode | BackendErrorCode;

/** Backend-specific detail attached to an error (errno, ibv_wc_status, CUfileError_t, …). */
export interface ErrorDetail {
  readonly backend?: string;
  readonly errno?: number;
  readonly status?: number | string;
  readonly [key: string]: unknown;
}

export class DatamoverError extends Error {
  readonly code: AnyErrorCode;
  readonly detail: ErrorDetail | undefined;
  /** For BATCH_FAILED, ABORTED and DEADLINE_EXCEEDED from a batch: what each descriptor did. */
  result?: BatchResult;
  /** For a failed or cancelled transfer (`mover.transfer()`): what each hop of each chunk did. */
  transfer?: TransferResult;

  constructor(code: AnyErrorCode, message: string, options?: { cause?: unknown; detail?: ErrorDetail }) {
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

type ErrorClass = new (code: AnyErrorCode, message: string, options?: { cause?: unknown; detail?: ErrorDetail }) => DatamoverError;

const CLASS_OF: Record<ErrorCode, ErrorClass> = {
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
  UNREACHABLE: BackendError,
  INTEGRITY_MISMATCH: TransferError,
  ACCESS_REVOKED: TransferError,
  INVALID_TOKEN: InvalidArgumentError,
  PEER_GONE: TransferError,
};

/** The subclass a declared code's errors take. */
export type ErrorGroup = 'invalid-argument' | 'region-state' | 'backend' | 'cancelled' | 'transfer';
const GROUP_CLASS: Record<ErrorGroup, ErrorClass> = {
  'invalid-argument': InvalidArgumentError,
  'region-state': RegionStateError,
  backend: BackendError,
  cancelled: CancelledError,
  transfer: TransferError,
};

interface DeclaredCode {
  readonly code: string;
  readonly backend: string;
  readonly group: ErrorGroup;
}
const declared = new Map<string, DeclaredCode>();

/**
 * A backend's own stable error codes, declared once where the backend is defined, each with the
 * subclass its errors take: `const RdmaErrorCode = declareErrorCodes('rdma', { REMOTE_DISCONNECT:
 * 'transfer' })`, then `datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, …)`. A code core defines
 * or another backend declared is refused (INVALID_ARGUMENT), so a code names one meaning.
 */
export function declareErrorCodes<const T extends Record<string, ErrorGroup>>(backend: string, codes: T): { readonly [K in keyof T & string]: K & BackendErrorCode } {
  for (const [code, group] of Object.entries(codes)) {
    const taken = Object.hasOwn(ErrorCode, code) ? 'core' : declared.get(code);
    // A backend module loaded twice (its dist and its src under a test runner) declares the same again.
    if (taken !== undefined && !(typeof taken === 'object' && taken.backend === backend && taken.group === group)) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `error code ${code} of backend ${backend} is already ${taken === 'core' ? "one of core's" : `declared by backend ${taken.backend}`}`);
    }
    if (!(group in GROUP_CLASS)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, `error code ${code} of backend ${backend}: unknown group ${String(group)}`);
    declared.set(code, { code, backend, group });
  }
  return Object.freeze(Object.fromEntries(Object.keys(codes).map((c) => [c, c]))) as { readonly [K in keyof T & string]: K & BackendErrorCode };
}

/** Every code backends loaded in this process declared, with the backend and group of each. */
export function declaredErrorCodes(): readonly DeclaredCode[] {
  return [...declared.values()];
}

/** Creates the error of the right class for a code: core's, or one a backend declared (an undeclared one is a plain DatamoverError). */
export function datamoverError(code: AnyErrorCode, message: string, options?: { cause?: unknown; detail?: ErrorDetail }): DatamoverError {
  const own = declared.get(code);
  const cls = Object.hasOwn(CLASS_OF, code) ? CLASS_OF[code as ErrorCode] : own ? GROUP_CLASS[own.group] : DatamoverError;
  return new cls(code, message, options);
}

/** What an engine threw, as a DatamoverError: DEVICE_ERROR unless it already is one. */
export function engineError(backend: string, what: string, e: unknown): DatamoverError {
  if (e instanceof DatamoverError) return e;
  return datamoverError(ErrorCode.DEVICE_ERROR, `backend ${backend}: ${what} failed: ${(e as Error)?.message ?? String(e)}`, { cause: e, detail: { backend } });
}
