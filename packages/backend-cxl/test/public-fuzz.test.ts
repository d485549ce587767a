/**
 * The public-surface fuzz (see @datamover/conformance/fuzz) on the cxl backend, with dax regions
 * over MAP_SHARED temp files beside host ones: seeded sequences of valid and invalid calls
 * checked against the JS model. DATAMOVER_FUZZ_CALLS sets the calls (default 2,000).
 */
import { fuzzPublic, publicFuzzProblems } from '@datamover/conformance/fuzz';
import { expect, it } from 'vitest';
import { cxl } from '../src/index.js';
import { daxFileProvider } from '../src/testing.js';

const CALLS = Number(process.env['DATAMOVER_FUZZ_CALLS'] ?? 2000);

it(`cxl: ${CALLS} fuzzed public calls agree with the model`, async () => {
  const f = await fuzzPublic({ name: 'cxl (dax over MAP_SHARED files)', factory: () => cxl(), kinds: { dax: daxFileProvider() } }, { calls: CALLS, seed: 24 });
  console.log(`[public-fuzz] ${JSON.stringify(f)}`);
  expect(publicFuzzProblems(f, CALLS)).toEqual([]);
}, 600_000);
