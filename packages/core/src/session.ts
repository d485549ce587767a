/** An opened backend as the Mover holds it: its engine session, ring, submitter and what it claims. */
import type { Backend, Capabilities, EngineSession, Operation } from './backend.js';
import type { Registration } from './region.js';
import type { Ring } from './ring/ring.js';
import type { SpaceKind } from './spaces.js';
import type { Submitter } from './submitter.js';

export interface Session {
  readonly backend: Backend;
  readonly caps: Capabilities;
  readonly supports: Set<string>;
  readonly ring: Ring;
  readonly engine: EngineSession;
  readonly submitter: Submitter;
  /** Registrations this engine knows. */
  readonly registered: Set<Registration>;
  /** Space kinds the backend claims any operation on: only regions of these are registered with it. */
  readonly kinds: ReadonlySet<SpaceKind>;
}

/** The key of an (operation, source kind, destination kind) triple in `Session.supports`. */
export const operationKey = (op: Operation, src: SpaceKind | null, dst: SpaceKind | null) => `${op}:${src ?? '-'}:${dst ?? '-'}`;

/** What a session supports, as `Session.supports` holds it. */
export function supportSet(caps: Capabilities): Set<string> {
  return new Set(caps.operations.map((o) => operationKey(o.op, o.src, o.dst)));
}
