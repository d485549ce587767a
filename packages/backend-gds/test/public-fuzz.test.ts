/**
 * The public-surface fuzz (see @datamover/conformance/fuzz) on the gds backend over its CPU
 * stand-in for cuFile / CUDA (test/mock): gpu regions from this package's conformance kind
 * (device memory allocated and read out of band) beside host and file ones. DATAMOVER_FUZZ_CALLS
 * sets the calls (default 2,000).
 */
import { fuzzPublic, publicFuzzProblems } from '@datamover/conformance/fuzz';
import { describe, expect, it } from 'vitest';
import { conformanceKinds } from '../src/conformance-kinds.js';
import { gds } from '../src/index.js';
import { buildMock, mockOptions } from './helpers.js';

const CALLS = Number(process.env['DATAMOVER_FUZZ_CALLS'] ?? 2000);
const mock = buildMock();
if ('skip' in mock) console.log(`[gds] public fuzz on the CPU mock skipped: ${mock.skip}`);

describe.skipIf('skip' in mock)('gds on the CPU mock', () => {
  it(`${CALLS} fuzzed public calls agree with the model`, async () => {
    const options = mockOptions('path' in mock ? mock.path : '', undefined);
    const f = await fuzzPublic({ name: 'gds (CPU mock)', factory: () => gds(options), kinds: conformanceKinds(options.libraries) }, { calls: CALLS, seed: 25 });
    console.log(`[public-fuzz] ${JSON.stringify(f)}`);
    expect(publicFuzzProblems(f, CALLS)).toEqual([]);
  }, 600_000);
});
