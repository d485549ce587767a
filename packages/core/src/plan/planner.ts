/**
 * The Mover's planner: builds plans (`mover.plan()`), runs them (`mover.transfer()`) through the
 * staging pool and the pipeline, and counts what ran for `mover.stats().plans`.
 */
import type { Batch, SubmitOptions } from '../batch.js';
import { copyLength, endpoint } from '../endpoint.js';
import { datamoverError, ErrorCode } from '../errors.js';
import type { BackendReport } from '../mover.js';
import type { Region } from '../region.js';
import type { Router } from '../router.js';
import { operationKey, type Session } from '../session.js';
import type { SpaceKind } from '../spaces.js';
import { checkSubmitOptions } from '../submission.js';
import { explainUnreachable } from './explain.js';
import { Plan, type IntegrityCheck } from './plan.js';
import { runPlan } from './pipeline.js';
import { RouteFinder } from './route.js';
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
  /** Milliseconds spent per hop ("backend src→dst"), every chunk summed. */
  readonly hopMs: Readonly<Record<string, number>>;
}

export interface PlannerHost {
  readonly id: number;
  assertOpen(): void;
  batch(): Batch;
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
    this.host.assertOpen();
    const s = endpoint(this.host.id, src, options.srcOffset, 'source');
    const d = endpoint(this.host.id, dst, options.dstOffset, 'destination', true);
    const length = copyLength(s, d, src, dst, options.length);
    const route = this.#routes.find(s.reg.space.kind, d.reg.space.kind);
    if (route.hops.length === 0) {
      const explain = explainUnreachable(route);
      throw datamoverError(ErrorCode.UNREACHABLE, `no chain of open backends moves ${route.src} to ${route.dst}\n${explain}`, { detail: { explain } });
    }
    const integrity = this.#integrity(options.integrity, s.reg.space.kind, d.reg.space.kind);
    const chunk = route.hops.length > 1 || integrity === 'read-back' ? this.#pool.bytes : Math.max(1, length);
    return new Plan(route, src, dst, s, d, length, integrity, chunk);
  }

  async transfer(dst: Region, src: Region, options: TransferOptions): Promise<TransferResult> {
    checkSubmitOptions(options);
    const plan = this.plan(dst, src, options);
    const { signal, timeout } = options;
    const deadline = Math.min(options.deadline ?? Infinity, timeout === undefined ? Infinity : Date.now() + timeout);
    const cancel: SubmitOptions = {};
    if (signal) cancel.signal = signal;
    if (Number.isFinite(deadline)) cancel.deadline = deadline;
    this.#run++;
    this.#hops += plan.route.hops.length;
    this.#hostCopies += plan.hostCopies;
    this.#stagedBytes += plan.stagedBytes;
    const ctx = { batch: () => this.host.batch(), recordHop: (p: Plan, h: number, ms: number) => this.#recordHop(p, h, ms) };
    if (plan.chunkBytes >= plan.length && plan.route.hops.length === 1 && plan.integrity !== 'read-back') return runPlan(plan, [], cancel, ctx);
    return this.#pool.with((buffers) => runPlan(plan, buffers, cancel, ctx));
  }

  stats(): PlanStats {
    return { run: this.#run, hops: this.#hops, hostCopies: this.#hostCopies, stagedBytes: this.#stagedBytes, hopMs: { ...this.#hopMs } };
  }

  #recordHop(plan: Plan, hop: number, ms: number): void {
    const label = plan.route.hops[hop]!.label;
    this.#hopMs[label] = (this.#hopMs[label] ?? 0) + ms;
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
