/**
 * Failures the CLI itself reports. Argument errors reuse the library's codes (INVALID_ARGUMENT,
 * INVALID_SIZE); VERIFY_FAILED and CHECK_FAILED are the CLI's own. bin.ts prints every
 * DatamoverError and CliError as `error CODE: message` and exits 1.
 */
export type CliErrorCode = 'INVALID_ARGUMENT' | 'INVALID_SIZE' | 'OVERLAPPING_RANGES' | 'IO_ERROR' | 'VERIFY_FAILED' | 'CHECK_FAILED' | 'BENCH_UNAVAILABLE';

export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  override get name(): string {
    return 'CliError';
  }
}
