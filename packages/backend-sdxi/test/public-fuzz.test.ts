/**
 * The public-surface fuzz (see @datamover/conformance/fuzz) on the sdxi backend: seeded
 * sequences of valid and invalid calls checked against the JS model. DATAMOVER_FUZZ_CALLS sets the
 * calls (default 2,000).
 */
import { fuzzPublic, publicFuzzProblems } from '@datamover/conformance/fuzz';
import { expect, it } from 'vitest';
import { sdxi } from '../src/index.js';

const CALLS = Number(process.env['DATAMOVER_FUZZ_CALLS'] ?? 2000);

it(`sdxi: ${CALLS} fuzzed public calls agree with the model`, async () => {
  const f = await fuzzPublic({ name: 'sdxi', factory: () => sdxi() }, { calls: CALLS, seed: 23 });
  console.log(`[public-fuzz] ${JSON.stringify(f)}`);
  expect(publicFuzzProblems(f, CALLS)).toEqual([]);
}, 600_000);
