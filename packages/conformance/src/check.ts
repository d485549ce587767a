/**
 * The suite's own assertions: plain functions that throw a ConformanceFailure, so the same case
 * code runs under vitest and under the programmatic runner.
 */
import { ErrorCode, type BatchResult, type DatamoverError } from '@datamover/core';
import { firstDiff } from './data.js';

/** A case found the backend (or the core through it) not conforming. */
export class ConformanceFailure extends Error {
  override get name(): string {
    return 'ConformanceFailure';
  }
}

/** Thrown by `ctx.skip(reason)`: the case cannot run here, for the reason given. */
export class CaseSkipped extends Error {
  constructor(readonly reason: string) {
    super(`skipped: ${reason}`);
  }
}

export function fail(message: string, cause?: unknown): never {
  throw new ConformanceFailure(message, cause === undefined ? undefined : { cause });
}

export function ok(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

export function equal<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

export function deepEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual, jsonSafe);
  const e = JSON.stringify(expected, jsonSafe);
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`);
}

/** Byte-exact comparison with the first differing offset in the message. */
export function bytesEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length) fail(`${what}: expected ${expected.length} bytes, got ${actual.length}`);
  const d = firstDiff(actual, expected);
  if (d >= 0) fail(`${what}: bytes differ first at offset ${d} (expected 0x${hex(expected[d])}, got 0x${hex(actual[d])})`);
}

function hex(b: number | undefined): string {
  return b === undefined ? '--' : b.toString(16).padStart(2, '0');
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
}

function jsonSafe(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

/** A DatamoverError from any copy of core (checked by shape, not by class identity). */
export function isDatamoverError(e: unknown): e is DatamoverError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as unknown as { code: string }).code in ErrorCode;
}

/**
 * Runs `f` and expects it to fail with `code`, synchronously or as a rejection; returns the error.
 */
export async function refused(code: ErrorCode, f: () => unknown, what: string): Promise<DatamoverError> {
  let error: unknown;
  let threw = false;
  try {
    await f();
  } catch (e) {
    threw = true;
    error = e;
  }
  if (!threw) fail(`${what}: expected ${code}, but it succeeded`);
  if (!isDatamoverError(error)) fail(`${what}: expected a DatamoverError with code ${code}, got ${describeError(error)}`, error);
  if (error.code !== code) fail(`${what}: expected ${code}, got ${error.code} (${error.message})`, error);
  return error;
}

/** Settles a promise into either its value or its error, never throwing. */
export async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

export function describeError(e: unknown): string {
  if (isDatamoverError(e)) return `${e.name} ${e.code}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** The per-descriptor result attached to a BATCH_FAILED / ABORTED / DEADLINE_EXCEEDED rejection. */
export function resultOf(e: unknown, what: string): BatchResult {
  const r = (e as { result?: BatchResult } | undefined)?.result;
  if (!r || typeof r.status !== 'function') fail(`${what}: the rejection (${describeError(e)}) carries no per-descriptor result`);
  return r;
}

/** Whether `cause` (or something in its cause chain) is `target`. */
export function causeChainHas(e: unknown, predicate: (x: unknown) => boolean): boolean {
  const seen = new Set<unknown>();
  let x: unknown = e;
  while (x !== undefined && x !== null && !seen.has(x)) {
    if (predicate(x)) return true;
    seen.add(x);
    x = (x as { cause?: unknown }).cause;
  }
  return false;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves after the event loop has turned once. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Rejects with a ConformanceFailure when `p` does not settle within `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConformanceFailure(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}
