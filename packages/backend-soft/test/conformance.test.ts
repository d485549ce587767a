/**
 * The soft backend against the published conformance suite: both engines, every claimed
 * (operation × source kind × destination kind), every case group, with fault injection.
 */
import { runConformance } from '@datamover/conformance';
import { soft } from '../src/index.js';

/** Worker threads build the backend from the built package (they cannot load TypeScript). */
const built = new URL('../dist/index.js', import.meta.url).href;

runConformance({
  name: 'soft (native engine)',
  factory: () => soft({ engine: 'native' }),
  worker: { module: built, export: 'soft', args: [{ engine: 'native' }] },
});

runConformance({
  name: 'soft-ts (TS oracle engine)',
  factory: () => soft({ engine: 'ts' }),
  worker: { module: built, export: 'soft', args: [{ engine: 'ts' }] },
});
