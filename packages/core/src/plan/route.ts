/**
 * Route search: which chain of open backends carries a copy from one space kind to another. The
 * only intermediate is host memory (the Mover's staging pool), so a route is direct (one backend
 * copies src→dst) or two hops through host staging (one backend copies src→host, another
 * host→dst). Fewest hops wins; each hop goes to the backend the routing policy picks for it.
 * Routes, with the reasons every other route was refused, are computed once per kind pair.
 */
import type { BackendReport } from '../mover.js';
import type { Router } from '../router.js';
import { operationKey, type Session } from '../session.js';
import type { SpaceKind } from '../spaces.js';

/** One hop of a route: the session that runs it and the kinds it copies between. */
export interface RouteHop {
  readonly session: number;
  readonly backend: string;
  readonly src: SpaceKind;
  readonly dst: SpaceKind;
  /** True when this hop writes into or reads from the staging pool. */
  readonly staged: boolean;
  /** Why the hop's engine bounces every copy of these kinds through host memory itself (gds in cuFile compat mode). */
  readonly bounce: string | undefined;
  /** Whether the engine judges bounces per region too (a plan then asks it with its ends). */
  readonly asksBounce: boolean;
  /** "backend src→dst", the hop's key in `stats().plans.hopMs`. */
  readonly label: string;
}

export interface Route {
  readonly src: SpaceKind;
  readonly dst: SpaceKind;
  /** Empty when no route exists. */
  readonly hops: readonly RouteHop[];
  /** Why this route was chosen. */
  readonly why: string;
  /** Every other route considered, with the reason it was refused. */
  readonly rejected: readonly string[];
}

export class RouteFinder {
  readonly #cache = new Map<SpaceKind, Map<SpaceKind, Route>>();

  constructor(
    readonly sessions: readonly Session[],
    readonly router: Router,
    readonly unavailable: readonly BackendReport[],
  ) {}

  find(src: SpaceKind, dst: SpaceKind): Route {
    let bySrc = this.#cache.get(src);
    if (bySrc === undefined) this.#cache.set(src, (bySrc = new Map()));
    let route = bySrc.get(dst);
    if (route === undefined) bySrc.set(dst, (route = this.#search(src, dst)));
    return route;
  }

  #search(src: SpaceKind, dst: SpaceKind): Route {
    const rejected: string[] = [];
    const direct = this.#hop(src, dst, false);
    const viaHost = src !== 'host' && dst !== 'host';
    if (direct) {
      if (viaHost) rejected.push(`${src}→host→${dst} (staged): 2 hops and a host copy where 1 ${direct.bounce ? 'hop with its own host copy' : 'direct hop'} does`);
      const why = direct.bounce ? `fewest hops: ${direct.backend} copies ${src}→${dst} in one hop, through host memory itself (${direct.bounce})` : `direct: ${direct.backend} copies ${src}→${dst} itself`;
      return { src, dst, hops: [direct], why, rejected };
    }
    rejected.push(`${src}→${dst} direct: ${this.#whyNot(src, dst)}`);
    if (!viaHost) return { src, dst, hops: [], why: 'no route', rejected };
    const first = this.#hop(src, 'host', true);
    const second = this.#hop('host', dst, true);
    if (first && second) {
      return { src, dst, hops: [first, second], why: `fewest hops: no backend copies ${src}→${dst}; ${first.backend} reaches host and ${second.backend} leaves it`, rejected };
    }
    if (!first) rejected.push(`${src}→host→${dst} (staged): ${this.#whyNot(src, 'host')}`);
    if (!second) rejected.push(`${src}→host→${dst} (staged): ${this.#whyNot('host', dst)}`);
    return { src, dst, hops: [], why: 'no route', rejected };
  }

  /** The hop the routing policy gives a copy of these kinds, or undefined when no open backend runs it. */
  #hop(src: SpaceKind, dst: SpaceKind, staged: boolean): RouteHop | undefined {
    if (!this.sessions.some((s) => s.supports.has(operationKey('copy', src, dst)))) return undefined;
    const session = this.router.route('copy', src, dst, undefined);
    const { backend: { name: backend }, engine } = this.sessions[session]!;
    const bounce = engine.hostBounce?.({ kind: src }, { kind: dst });
    return { session, backend, src, dst, staged, bounce, asksBounce: engine.hostBounce !== undefined, label: `${backend} ${src}→${dst}` };
  }

  /** Why no backend copies src→dst: each open one's capabilities, and each that did not open. */
  #whyNot(src: SpaceKind, dst: SpaceKind): string {
    const open = this.sessions.map((s) => `${s.backend.name} copies no ${src}→${dst} (it reaches ${[...s.kinds].join(', ')})`);
    const closed = this.unavailable.map((r) => `${r.name}: not open (${r.reason ?? 'unavailable'})`);
    return [...open, ...closed].join('; ');
  }
}
