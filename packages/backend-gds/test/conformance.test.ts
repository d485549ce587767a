/**
 * The gds backend against the published conformance suite, over every claimed
 * (operation × source kind × destination kind) — file ↔ gpu, host ↔ gpu, gpu ↔ gpu, fills and
 * write-immediates on gpu — with `gpu` regions from this package's conformance kind (device memory
 * allocated out of band and wrapped with mover.wrap(pointer, { kind: 'gpu', size })).
 *
 * Two targets: the real libraries (every case skips with the probe's reason where there is no
 * GPU), and the CPU stand-in of test/mock (runs everywhere a C++ compiler is: it proves the engine's
 * ring, region table, batching, cancellation and lifetimes, not NVIDIA's libraries).
 */
// Imported by path, as backend-soft does, until the suite is a devDependency of this package.
import { runConformance } from '@datamover/conformance';
import { conformanceKinds } from '../src/conformance-kinds.js';
import { gds } from '../src/index.js';
import { buildMock, mockOptions } from './helpers.js';

/** Worker threads build the backend from the built package (they cannot load TypeScript). */
const built = new URL('../dist/index.js', import.meta.url).href;

runConformance({
  name: 'gds (cuFile + CUDA on a GPU)',
  factory: () => gds(),
  worker: { module: built, export: 'gds', args: [] },
  kinds: conformanceKinds(),
});

const mock = buildMock();
if ('skip' in mock) {
  console.log(`[gds] conformance on the CPU mock skipped: ${mock.skip}`);
} else {
  // A path that does not exist: the mock runs in compatibility mode, as a machine without nvidia-fs.
  const options = mockOptions(mock.path, undefined);
  runConformance({
    name: 'gds on the CPU mock of cuFile/CUDA (engine logic only)',
    factory: () => gds(options),
    worker: { module: built, export: 'gds', args: [options] },
    kinds: conformanceKinds(options.libraries),
  });
}
