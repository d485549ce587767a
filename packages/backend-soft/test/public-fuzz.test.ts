/**
 * The public-surface fuzz (see @datamover/conformance/fuzz) on both soft engines: seeded
 * sequences of valid and invalid calls, each checked against the JS model — refused only with a
 * DatamoverError of an expected code and no byte written, or succeeding with the model's bytes
 * and value. DATAMOVER_FUZZ_CALLS sets the calls per engine (default 2,000).
 */
import { fuzzPublic, publicFuzzProblems } from '@datamover/conformance/fuzz';
import { expect, it } from 'vitest';
import { soft } from '../src/index.js';
import { ENGINES } from './helpers.js';

const CALLS = Number(process.env['DATAMOVER_FUZZ_CALLS'] ?? 2000);

for (const engine of ENGINES) {
  it(`soft ${engine} engine: ${CALLS} fuzzed public calls agree with the model`, async () => {
    const f = await fuzzPublic({ name: `soft (${engine})`, factory: () => soft({ engine }) }, { calls: CALLS, seed: engine === 'ts' ? 21 : 22 });
    console.log(`[public-fuzz] ${JSON.stringify(f)}`);
    expect(publicFuzzProblems(f, CALLS)).toEqual([]);
  }, 600_000);
}
