/**
 * The sdxi backend against the published conformance suite: every claimed (operation × source
 * kind × destination kind) through the Mover, with fault injection, under each execution path
 * that changes where descriptors run.
 */
// Imported by path, as backend-soft does, until this package lists "@datamover/conformance" as a
// devDependency; a third-party backend writes `from '@datamover/conformance'`.
import { runConformance } from '@datamover/conformance';
import { sdxi } from '../src/index.js';

/** Worker threads build the backend from the built package (they cannot load TypeScript). */
const built = new URL('../dist/index.js', import.meta.url).href;

runConformance({
  name: 'sdxi (software function, execution path auto)',
  factory: () => sdxi(),
  worker: { module: built, export: 'sdxi', args: [] },
});

runConformance({
  name: 'sdxi (execution path software: vendor operations on the CPU)',
  factory: () => sdxi({ executionPath: 'software' }),
  worker: { module: built, export: 'sdxi', args: [{ executionPath: 'software' }] },
});
