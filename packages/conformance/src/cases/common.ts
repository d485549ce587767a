/** Helpers the case groups share: the claimed combinations, labels, region checks. */
import { isStrided, type Capabilities, type Mover, type Operation, type OperationSupport, type SpaceKind, type StridedOperation } from '@datamover/core';
import { bytesEqual, fail } from '../check.js';
import type { CaseContextApi, Fixture, FixtureOptions } from '../types.js';

/** A claimed combination of a contiguous operation (the strided ones have their own group: strided.ts). */
export type Combo = OperationSupport & { readonly op: Exclude<Operation, StridedOperation> };

/** A combination as text: "copy host→file", "fill file", "nop". */
export function comboLabel(c: OperationSupport): string {
  if (c.src && c.dst) return `${c.op} ${c.src}→${c.dst}`;
  return `${c.op}${c.src ? ` ${c.src}` : ''}${c.dst ? ` ${c.dst}` : ''}`;
}

/** A claimed combination of a strided operation. */
export type StridedCombo = OperationSupport & { readonly op: StridedOperation };

/** The claimed combinations of contiguous operations, deduplicated, in a stable order. */
export function claimed(caps: Capabilities): Combo[] {
  return claimedWhere(caps, (o): o is Combo => !isStrided(o.op));
}

/** The claimed combinations of strided operations, deduplicated, in a stable order. */
export function claimedStrided(caps: Capabilities): StridedCombo[] {
  return claimedWhere(caps, (o): o is StridedCombo => isStrided(o.op));
}

function claimedWhere<T extends OperationSupport>(caps: Capabilities, keep: (o: OperationSupport) => o is T): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const o of caps.operations) {
    const k = `${o.op}:${o.src}:${o.dst}`;
    if (!keep(o) || seen.has(k)) continue;
    seen.add(k);
    out.push({ op: o.op, src: o.src, dst: o.dst } as T);
  }
  return out;
}

/** Why a combination cannot be tested here (a kind without a factory), or undefined. */
export function missingKind(c: OperationSupport, has: (k: SpaceKind) => boolean): string | undefined {
  for (const k of [c.src, c.dst]) {
    if (k && !has(k)) return `no region factory for kind '${k}' (pass kinds.${k} to the suite)`;
  }
  return undefined;
}

/** Claimed copy combinations, host→host first (the cheapest for heavy cases). */
export function copyCombos(caps: Capabilities, has: (k: SpaceKind) => boolean): Combo[] {
  const rank = (k: SpaceKind | null) => (k === 'host' ? 0 : 1);
  return claimed(caps)
    .filter((c) => c.op === 'copy' && !missingKind(c, has))
    .sort((a, b) => rank(a.src) + rank(a.dst) - (rank(b.src) + rank(b.dst)));
}

/** A fixture plus a snapshot of its bytes and guards, to check later that only the intended range changed. */
export interface Watched {
  readonly f: Fixture;
  bytes: Uint8Array;
  guards: { before: Uint8Array; after: Uint8Array } | undefined;
}

export async function watched(ctx: CaseContextApi, m: Mover, kind: SpaceKind, size: number, options: FixtureOptions = {}): Promise<Watched> {
  const f = await ctx.fixture(m, kind, size, options);
  const bytes = options.contents ? options.contents.slice() : await f.read();
  const guards = f.guards ? await f.guards() : undefined;
  return { f, bytes, guards };
}

/**
 * Checks a watched fixture: its bytes equal `expected` (default: unchanged) and its guard bands
 * are untouched.
 */
export async function expectRegion(w: Watched, what: string, expected: Uint8Array = w.bytes): Promise<void> {
  bytesEqual(await w.f.read(), expected, what);
  if (w.guards) {
    const g = await w.f.guards!();
    bytesEqual(g.before, w.guards.before, `${what}: guard band before the region`);
    bytesEqual(g.after, w.guards.after, `${what}: guard band after the region`);
  }
}

/** `base` with `patch` laid over it at `offset`. */
export function overlay(base: Uint8Array, patch: Uint8Array, offset: number): Uint8Array {
  const out = base.slice();
  out.set(patch, offset);
  return out;
}

export function requireKinds(ctx: CaseContextApi, c: Combo): void {
  const why = missingKind(c, (k) => ctx.hasKind(k));
  if (why) ctx.skip(why);
}

/** Throws unless every settled promise in `results` succeeded. */
export function allOk(results: PromiseSettledResult<unknown>[], what: string): void {
  const bad = results.find((r) => r.status === 'rejected');
  if (bad) fail(`${what}: ${String((bad as PromiseRejectedResult).reason)}`, (bad as PromiseRejectedResult).reason);
}

export const SIZES_DEFAULT = [1, 7, 4095, 4096, 4097, 1024 * 1024 + 3, 64 * 1024 * 1024] as const;
