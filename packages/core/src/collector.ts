/**
 * Finalization for what an application dropped without releasing (region handles, Movers). The
 * cleanup runs as a task of its own after a garbage collection; one that throws becomes a process
 * warning, never an uncaught exception thrown by no call of the application's.
 */
export function collector<T>(what: string, cleanup: (held: T) => void): FinalizationRegistry<T> {
  return new FinalizationRegistry<T>((held) => {
    try {
      cleanup(held);
    } catch (e) {
      process.emitWarning(`datamover: releasing a collected ${what} failed: ${(e as Error)?.message ?? String(e)}`, { code: 'DATAMOVER_COLLECT', detail: (e as Error)?.stack });
    }
  });
}
