/**
 * The cxl backend against the published conformance suite, for the `dax` kind over temp files
 * mapped MAP_SHARED (this host has no device-DAX; `lab/conformance.test.ts` runs the same suite
 * on /dev/dax0.0 in the lab guest).
 */
// Imported by path, as backend-soft does, so the suite runs from its built dist.
import { soft } from '@datamover/backend-soft';
import { runConformance } from '@datamover/conformance';
import { cxl } from '../src/index.js';
import { daxFileProvider } from '../src/testing.js';

/** Worker threads build the backend from the built package (they cannot load TypeScript). */
const built = new URL('../dist/index.js', import.meta.url).href;

runConformance({
  name: 'cxl (dax over a MAP_SHARED file)',
  factory: () => cxl(),
  worker: { module: built, export: 'cxl', args: [] },
  kinds: { dax: daxFileProvider() },
  // soft beside cxl in the plans group: file↔dax then forms a route staged through host memory.
  companions: () => [soft()],
});
