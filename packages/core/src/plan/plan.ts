/**
 * A transfer plan: the route a copy from one region to another takes, built by `mover.plan()` and
 * run by `mover.transfer()`. Building one allocates only the Plan (the route is cached per kind
 * pair); hops and the explanation are made when asked for.
 */
import type { Region } from '../region.js';
import type { Endpoint } from '../endpoint.js';
import type { Route } from './route.js';
import { explainPlan } from './explain.js';

/** One hop as a plan reports it. */
export interface PlanHop {
  readonly backend: string;
  readonly src: PlanEnd;
  readonly dst: PlanEnd;
  readonly bytes: number;
  /** Whether this hop writes into or reads from host memory: the staging pool, or its engine's own bounce. */
  readonly stagesThroughHost: boolean;
  /** Why the hop's engine bounces the bytes through host memory itself (gds: cuFile in compat mode), when it does. */
  readonly hostBounce?: string;
}
/** One end of a hop: its space kind and name ("staging" for the Mover's pool). */
export interface PlanEnd {
  readonly kind: string;
  readonly name: string;
}

/** What a plan needs to check integrity: 'engine' when the destination's backend computes CRC-32C there, 'read-back' when it is read back into host staging. */
export type IntegrityCheck = 'none' | 'engine' | 'read-back';

export class Plan {
  /** @internal */
  constructor(
    /** @internal */ readonly route: Route,
    /** @internal */ readonly srcRegion: Region,
    /** @internal */ readonly dstRegion: Region,
    /** @internal */ readonly srcEnd: Endpoint,
    /** @internal */ readonly dstEnd: Endpoint,
    /** Bytes the transfer moves. */
    readonly length: number,
    /** How the landed bytes are checked (`integrity: 'crc32c'`), or 'none'. */
    readonly integrity: IntegrityCheck,
    /** Staging buffer size: the chunk a multi-hop plan pipelines. */
    readonly chunkBytes: number,
    /** @internal Per hop, why its engine bounces through host memory (empty when none asks). */
    readonly bounces: readonly (string | undefined)[],
  ) {}

  get hops(): PlanHop[] {
    const staging: PlanEnd = { kind: 'host', name: 'staging' };
    const end = (e: Endpoint): PlanEnd => ({ kind: e.reg.space.kind, name: e.reg.space.name });
    return this.route.hops.map((h, i, all) => {
      const bounce = this.bounces[i];
      const hop = { backend: h.backend, src: i === 0 ? end(this.srcEnd) : staging, dst: i === all.length - 1 ? end(this.dstEnd) : staging, bytes: this.length, stagesThroughHost: h.staged || bounce !== undefined };
      return bounce === undefined ? hop : { ...hop, hostBounce: bounce };
    });
  }
  /** Copies into host memory the plan makes: one per staging step, one per hop whose engine bounces (0 for a direct route). */
  get hostCopies(): number {
    return this.route.hops.length - 1 + this.bounces.filter((b) => b !== undefined).length;
  }
  /** Bytes written into host memory on the way (staging, or an engine's bounce). */
  get stagedBytes(): number {
    return this.hostCopies * this.length;
  }
  /** Chunks a run of the plan is cut into (1 for a direct route without a read-back check). */
  get chunks(): number {
    return Math.max(1, Math.ceil(this.length / this.chunkBytes));
  }

  /** The chosen route hop by hop, why, and every refused route with its reason. */
  explain(): string {
    return explainPlan(this.route, this.hops, this.length, this.hostCopies, this.stagedBytes, this.chunks, this.integrity);
  }
}
