/**
 * The Mover's planner: builds plans (`mover.plan()`), runs them (`mover.transfer()`) through the
 * staging pool and the pipeline, and counts what ran for `mover.stats().plans`.
 */
import type { Batch, SubmitOptions } from '../batch.js';
import { copyLength, endpoint, type Endpoint } from '../endpoint.js';
import { datamoverError, ErrorCode } from '../errors.js';
import type { BackendReport } from '../mover.js';
import type { Region } from '../region.js';
import type { Router } from '../router.js';
import { operationKey, type Session } from '../session.js';
import type { SpaceKind } from '../spaces.js';
import { checkSubmitOptions } from '../submission.js';
import { explainUnreachable } from './explain.js';
import { Plan, type IntegrityCheck } from './plan.js';
import { runDirect, runPlan } from './pipeline.js';
import { RouteFinder, type Route, type RouteHop } from './route.js';
import { StagingPool } from './staging.js';
import type { TransferResult } from './transfer-result.js';

export interface PlanOptions {
  srcOffset?: number;
  dstOffset?: number;
  /** Bytes to move; by default the whole source range, which must match the destination's. */
  length?: number;
  /** 'crc32c': checksum the source where it is read and check it where it lands (INTEGRITY_MISMATCH). */
  integrity?: 'crc32c';
}
export type TransferOptions = PlanOptions & Omit<SubmitOptions, 'stopOnError' | 'inline'>;

/** What `mover.stats().plans` holds. */
export interface PlanStats {
  /** Transfers started. */
  readonly run: number;
  /** Hops of those transfers' plans. */
  readonly hops: number;
  /** Copies into host staging those plans make, and the bytes they stage. */
  readonly hostCopies: number;
  readonly stagedBytes: number;
  /**
   * Milliseconds spent per hop ("backend src→dst"), every chunk summed, for the plans run through
   * the pipeline (staged or checked); a direct transfer is one copy and is not timed.
   */
  readonly hopMs: Readonly<Record<string, number>>;
}

const NO_BOUNCES: readonly (string | undefined)[] = [];

/** A plan's checked ends and its route. */
interface Ends {
  readonly s: Endpoint;
  readonly d: Endpoint;
  readonly length: number;
  readonly route: Route;
}

export interface PlannerHost {
  readonly id: number;
  assertOpen(): void;
  /** A batch with room for `descriptors`, its option keys checked by the planner. */
  batch(descriptors: number): Batch;
  alloc(size: number): Region;
}

export class Planner {
  readonly #routes: RouteFinder;
  readonly #pool: StagingPool;
  #run = 0;
  #hops = 0;
  #hostCopies = 0;
  #stagedBytes = 0;
  readonly #hopMs: Record<string, number> = {};

  constructor(
    readonly sessions: readonly Session[],
    router: Router,
    unavailable: readonly BackendReport[],
    staging: { bytes: number; count: number },
    readonly host: PlannerHost,
  ) {
    this.#routes = new RouteFinder(sessions, router, unavailable);
    this.#pool = new StagingPool(staging.bytes, staging.count, (size) => host.alloc(size));
  }

  plan(dst: Region, src: Region, options: PlanOptions): Plan {
    return this.#plan(this.#ends(dst, src, options), dst, src, options);
  }

  transfer(dst: Region, src: Region, options: TransferOptions): Promise<TransferResult> {
    checkSubmitOptions(options);
    const ends = this.#ends(dst, src, options);
    const { route } = ends;
    if (route.hops.length === 1 && options.integrity === undefined) {
      // One hop is one copy: the copy's own batch, submitted with the caller's cancel options.
      const hop = route.hops[0]!;
      const batch = this.host.batch(1).copyChecked(src, dst, ends.s, ends.d, ends.length); // may refuse (too large for one descriptor): counted only once it runs
      const bounced = hop.asksBounce && this.#bounce(hop, ends.s, ends.d, ends.length, true, true) !== undefined ? 1 : 0;
      this.#count(1, bounced, bounced * ends.length);
      return runDirect(batch, hop, ends.length, options);
    }
    const plan = this.#plan(ends, dst, src, options);
    const { signal, timeout } = options;
    const deadline = Math.min(options.deadline ?? Infinity, timeout === undefined ? Infinity : Date.now() + timeout);
    const cancel: SubmitOptions = {};
    if (signal) cancel.signal = signal;
    if (Number.isFinite(deadline)) cancel.deadline = deadline;
    this.#count(plan.route.hops.length, plan.hostCopies, plan.stagedBytes);
    const ctx = { batch: (n: number) => this.host.batch(n), recordHop: (p: Plan, h: number, ms: number) => this.#recordHop(p.route.hops[h]!, ms) };
    if (plan.chunkBytes >= plan.length && plan.route.hops.length === 1 && plan.integrity !== 'read-back') return runPlan(plan, [], cancel, ctx);
    return this.#pool.with((buffers) => runPlan(plan, buffers, cancel, ctx));
  }

  stats(): PlanStats {
    return { run: this.#run, hops: this.#hops, hostCopies: this.#hostCopies, stagedBytes: this.#stagedBytes, hopMs: { ...this.#hopMs } };
  }

  #count(hops: number, hostCopies: number, stagedBytes = 0): void {
    this.#run++;
    this.#hops += hops;
    this.#hostCopies += hostCopies;
    this.#stagedBytes += stagedBytes;
  }

  #recordHop(hop: RouteHop, ms: number): void {
    this.#hopMs[hop.label] = (this.#hopMs[hop.label] ?? 0) + ms;
  }

  /** The checks every plan's ends pass (as a copy's), and the route between their kinds. */
  #ends(dst: Region, src: Region, options: PlanOptions): Ends {
    this.host.assertOpen();
    const s = endpoint(this.host.id, src, options.srcOffset, 'source');
    const d = endpoint(this.host.id, dst, options.dstOffset, 'destination', true);
    const length = copyLength(s, d, src, dst, options.length);
    const route = this.#routes.find(s.reg.space.kind, d.reg.space.kind);
    if (route.hops.length === 0) {
      const explain = explainUnreachable(route);
      throw datamoverError(ErrorCode.UNREACHABLE, `no chain of open backends moves ${route.src} to ${route.dst}\n${explain}`, { detail: { explain } });
    }
    return { s, d, length, route };
  }

  #plan({ s, d, length, route }: Ends, dst: Region, src: Region, options: PlanOptions): Plan {
    const integrity = this.#integrity(options.integrity, s.reg.space.kind, d.reg.space.kind);
    const chunk = route.hops.length > 1 || integrity === 'read-back' ? this.#pool.bytes : Math.max(1, length);
    let bounces: readonly (string | undefined)[] = NO_BOUNCES;
    if (route.hops.some((h) => h.asksBounce)) bounces = route.hops.map((h, i, all) => this.#bounce(h, s, d, length, i === 0, i === all.length - 1));
    return new Plan(route, src, dst, s, d, length, integrity, chunk, bounces);
  }

  /** Why the hop's engine bounces this plan's bytes through host memory itself (asked with the plan's ends and length; the pool's end as bare host). */
  #bounce(hop: RouteHop, s: Endpoint, d: Endpoint, length: number, first: boolean, last: boolean): string | undefined {
    const src = first ? { kind: hop.src, memory: s.reg.memory, offset: s.abs } : { kind: hop.src };
    const dst = last ? { kind: hop.dst, memory: d.reg.memory, offset: d.abs } : { kind: hop.dst };
    // A staged hop moves one chunk at a time: its length is the chunk's, not the whole plan's.
    return this.sessions[hop.session]!.engine.hostBounce?.(src, dst, first && last ? length : Math.min(length, this.#pool.bytes));
  }

  /** Where the landed bytes are checked: by a backend's crc32c on the destination kind, else by reading them back to host. */
  #integrity(integrity: unknown, src: SpaceKind, dst: SpaceKind): IntegrityCheck {
    if (integrity === undefined) return 'none';
    if (integrity !== 'crc32c') throw datamoverError(ErrorCode.INVALID_ARGUMENT, `integrity must be 'crc32c', got ${String(integrity)}`);
    const can = (op: 'copy' | 'crc32c', a: SpaceKind, b: SpaceKind | null) => this.sessions.some((s) => s.supports.has(operationKey(op, a, b)));
    if (!can('crc32c', src, null)) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can checksum the ${src} source where it is read`);
    if (can('crc32c', dst, null)) return 'engine';
    if (can('copy', dst, 'host') && can('crc32c', 'host', null)) return 'read-back';
    throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `no open backend can checksum ${dst} memory or read it back into host memory`);
  }
}
