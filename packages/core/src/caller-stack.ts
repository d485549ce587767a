/**
 * Completion errors are made where the engine's progress arrives, a stack with no caller in it.
 * restack() re-takes their stack where the awaiting submit resumes: V8's async stack traces then
 * name every caller up the `await` chain (Batch.submit, Mover.copy, the application's function),
 * at no cost to work that succeeds.
 */
import { DatamoverError, ErrorCode } from './errors.js';

/** `e` with its stack taken here; a failed batch's first descriptor error (its cause) as well. */
export function restack(e: unknown): unknown {
  if (!(e instanceof DatamoverError)) return e;
  Error.captureStackTrace(e, restack);
  if (e.code === ErrorCode.BATCH_FAILED && e.cause instanceof DatamoverError) Error.captureStackTrace(e.cause, restack);
  return e;
}
