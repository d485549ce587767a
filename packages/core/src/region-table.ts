/**
 * A Mover's region table: its registrations, their region-table indexes and bytes, and the
 * freeing of what each holds. It lives apart from the Mover and references nothing that leads
 * back to it, so that a collector can free the registrations and close the engines of a Mover
 * dropped unclosed (mover.ts) while the Mover itself is gone.
 */
import type { EngineSession } from './backend.js';
import { datamoverError, ErrorCode } from './errors.js';
import { closeFileMemory } from './files.js';
import { isBackendMemory, isFileMemory, type Memory } from './memory.js';
import { Region, Registration, Span, type RegistrationOwner } from './region.js';

/** What the table needs of an engine session: the registrations it knows and the engine. */
export interface TableSession {
  readonly registered: Set<Registration>;
  readonly engine: Pick<EngineSession, 'deregister' | 'close'>;
}

const MAX_REGIONS = 1 << 16;

export class RegionTable implements RegistrationOwner {
  readonly #regions = new Map<number, Registration>();
  readonly #freeIndexes: number[] = [];
  #nextIndex = 0;
  #registeredBytes = 0;
  collected = 0;

  constructor(
    /** The owning Mover's id: regions of another Mover are refused by it. */
    readonly id: number,
    readonly sessions: readonly TableSession[],
  ) {}

  /** Live registrations. */
  get size(): number {
    return this.#regions.size;
  }
  get registeredBytes(): number {
    return this.#registeredBytes;
  }

  /** Registers `memory` under a free index; returns the owning handle. */
  register(memory: Memory, space: Registration['space'], length: number, writable: boolean): Region {
    const index = this.#freeIndexes.pop() ?? (this.#nextIndex < MAX_REGIONS ? this.#nextIndex++ : -1);
    if (index < 0) throw datamoverError(ErrorCode.TOO_MANY_REGIONS, `a Mover can hold ${MAX_REGIONS} regions at once; release some`);
    const reg = new Registration(this, index, space, memory, length, writable);
    this.#regions.set(index, reg);
    this.#registeredBytes += length;
    return new Region(new Span(reg, 0, length));
  }

  /** Forgets `reg` in every engine that knows it, then closes or releases what it holds. */
  free(reg: Registration): void {
    for (const s of this.sessions) {
      if (s.registered.delete(reg)) s.engine.deregister(reg.index);
    }
    if (isFileMemory(reg.memory)) closeFileMemory(reg.memory);
    else if (isBackendMemory(reg.memory)) reg.memory.release();
    this.#regions.delete(reg.index);
    this.#freeIndexes.push(reg.index);
    this.#registeredBytes -= reg.length;
  }

  /** The end of a Mover, closed or collected: frees every registration, then stops the engines. Call once no work is in flight. */
  shutdown(): void {
    for (const reg of [...this.#regions.values()]) reg.forceFree();
    for (const s of this.sessions) s.engine.close();
  }
}
