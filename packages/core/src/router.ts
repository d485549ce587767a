/**
 * The router: which opened backend runs each (operation, source kind, destination kind), under the
 * routing policy, with every fallback recorded and its reason. Routes are computed once and cached.
 */
import { OPERATIONS, type Operation } from './backend.js';
import { datamoverError, ErrorCode } from './errors.js';
import type { BackendReport } from './mover.js';
import { operationKey, type Session } from './session.js';
import { CORE_SPACE_KINDS, type SpaceKind } from './spaces.js';

/** How the Mover picks a backend for each descriptor. */
export type RoutingPolicy =
  /** Hardware backends first; fall back to software, recording why. */
  | 'prefer-hardware'
  /** Software backends only. */
  | 'software-only'
  /** The backend the descriptor names, or else the first opened backend; no fallback. */
  | 'explicit';

/** A recorded fallback: the preferred backend could not take a descriptor, another did. */
export interface Fallback {
  readonly op: Operation;
  readonly src: SpaceKind | null;
  readonly dst: SpaceKind | null;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  count: number;
}

export class Router {
  readonly #routes = new Map<string, number>();
  /** The route table's kind numbers: core's kinds and every kind an open session claims; slot `size` is "none". */
  readonly #kindSlots: ReadonlyMap<SpaceKind, number>;
  readonly #routeTable: Int16Array;
  readonly #fallbacks = new Map<string, Fallback>();

  constructor(
    readonly sessions: readonly Session[],
    readonly policy: RoutingPolicy,
    readonly unavailable: readonly BackendReport[],
  ) {
    const kinds = new Set<SpaceKind>([...CORE_SPACE_KINDS, ...sessions.flatMap((s) => [...s.kinds])]);
    this.#kindSlots = new Map([...kinds].map((k, i) => [k, i]));
    const n = kinds.size + 1;
    this.#routeTable = new Int16Array(OPERATIONS.length * n * n).fill(-1);
  }

  /** The route-table slot of (op, src, dst); -1 for a kind no session claims (never cached). */
  #routeSlot(op: Operation, src: SpaceKind | null, dst: SpaceKind | null): number {
    const none = this.#kindSlots.size;
    const s = src === null ? none : (this.#kindSlots.get(src) ?? -1);
    const d = dst === null ? none : (this.#kindSlots.get(dst) ?? -1);
    return s < 0 || d < 0 ? -1 : (OPERATIONS.indexOf(op) * (none + 1) + s) * (none + 1) + d;
  }

  /**
   * Which backend would run `op` on these kinds, and the fallbacks taken to get there. Throws
   * UNSUPPORTED_OPERATION when none can.
   */
  explain(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend?: string): { backend: string; fallbacks: { from: string; reason: string }[] } {
    const { session, skipped } = this.#choose(op, src, dst, backend);
    return { backend: this.sessions[session]!.backend.name, fallbacks: skipped };
  }

  route(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend: string | undefined): number {
    // Policy routes are cached in a small table indexed by (op, src, dst): the batch hot path.
    const slot = backend === undefined ? this.#routeSlot(op, src, dst) : -1;
    if (slot >= 0 && this.#routeTable[slot]! >= 0) return this.#routeTable[slot]!;
    const k = backend === undefined ? operationKey(op, src, dst) : `${operationKey(op, src, dst)}@${backend}`;
    const cached = this.#routes.get(k);
    if (cached !== undefined) return cached;
    const { session, skipped } = this.#choose(op, src, dst, backend);
    const to = this.sessions[session]!.backend.name;
    for (const s of skipped) this.#fallbacks.set(`${k}:${s.from}`, { op, src, dst, from: s.from, to, reason: s.reason, count: 0 });
    this.#routes.set(k, session);
    if (slot >= 0) this.#routeTable[slot] = session;
    return session;
  }

  #choose(op: Operation, src: SpaceKind | null, dst: SpaceKind | null, backend: string | undefined): { session: number; skipped: { from: string; reason: string }[] } {
    const k = operationKey(op, src, dst);
    const what = `${op} ${src ?? ''}${src && dst ? '→' : ''}${dst ?? ''}`.trim();
    if (backend !== undefined || this.policy === 'explicit') {
      const i = backend === undefined ? 0 : this.sessions.findIndex((s) => s.backend.name === backend);
      const s = this.sessions[i];
      if (!s) {
        const why = this.unavailable.find((r) => r.name === backend);
        throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `backend ${backend} is not open${why ? `: ${why.reason}` : ''}`);
      }
      if (!s.supports.has(k)) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `backend ${s.backend.name} cannot run ${what}`);
      return { session: i, skipped: [] };
    }
    const skipped: { from: string; reason: string }[] = [];
    for (let i = 0; i < this.sessions.length; i++) {
      const s = this.sessions[i]!;
      if (s.supports.has(k)) return { session: i, skipped };
      skipped.push({ from: s.backend.name, reason: `${s.backend.name} does not support ${what}` });
    }
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can run ${what} (open: ${this.sessions.map((s) => s.backend.name).join(', ')})`);
  }

  /** Counts a batch running on `sessions` against each recorded fallback that leads there. */
  countFallbacks(sessions: Iterable<number>): void {
    if (this.#fallbacks.size === 0) return;
    const names = new Set([...sessions].map((s) => this.sessions[s]!.backend.name));
    for (const f of this.#fallbacks.values()) if (names.has(f.to)) f.count++;
  }

  /** Every recorded fallback, copied. */
  fallbacks(): Fallback[] {
    return [...this.#fallbacks.values()].map((f) => ({ ...f }));
  }
}
