/**
 * Default backends: a backend package registers a factory when imported, so that
 * `Mover.open()` without a backend list uses every backend the application brought in.
 * Core itself knows no backend.
 */
import type { Backend } from './backend.js';

const factories = new Map<string, () => Backend>();

/** Makes `Mover.open()` include this backend by default. Backend packages call this on import. */
export function registerDefaultBackend(name: string, factory: () => Backend): void {
  factories.set(name, factory);
}

/** Fresh instances of every registered default backend, in registration order. */
export function defaultBackends(): Backend[] {
  return [...factories.values()].map((f) => f());
}
