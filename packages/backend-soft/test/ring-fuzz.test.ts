/**
 * Raw-ring fuzz of both soft engines: random 64-byte records (see @datamover/conformance/fuzz)
 * against the TypeScript oracle over copies of the same memory — host windows (two of them
 * overlapping, one read-only) and ranges of a file, with guard bands around each. Every status,
 * every result and every byte must match the oracle's; no record may reach outside its region.
 * DATAMOVER_FUZZ_RECORDS sets the records per engine (default 4,000; the figures in
 * packages/conformance/results/ring-fuzz.md come from a longer run).
 */
import { join } from 'node:path';
import { fuzzRing, ringFuzzProblems, RingMemory } from '@datamover/conformance/fuzz';
import { expect, it } from 'vitest';
import { soft } from '../src/index.js';
import { ENGINES, tempDir } from './helpers.js';

const RECORDS = Number(process.env['DATAMOVER_FUZZ_RECORDS'] ?? 4000);
const dir = tempDir();

function memory(tag: string): RingMemory {
  const m = new RingMemory();
  const a = m.host(16384, 1);
  const b = m.host(8192, 2);
  const f = m.file(join(dir, `${tag}.bin`), 12288, 3);
  m.region(a, 64, 4096).region(a, 2048, 4096).region(a, 8192, 4000, false); // 0 and 1 overlap
  m.region(b, 100, 8000);
  m.region(f, 512, 4096).region(f, 6000, 5000);
  return m;
}

for (const engine of ENGINES) {
  it(`soft ${engine} engine: ${RECORDS} random ring records agree with the oracle, nothing outside a region is touched`, async () => {
    const m = memory(engine);
    try {
      const f = await fuzzRing({
        name: `soft (${engine})`,
        open: (ring, progress) => soft({ engine }).open(ring, progress),
        oracle: (ring, progress) => soft({ engine: 'ts' }).open(ring, progress),
        backings: m.backings,
        regions: m.regions,
        records: RECORDS,
        seed: engine === 'ts' ? 11 : 12,
        strided: true,
      });
      console.log(`[ring-fuzz] ${JSON.stringify(f)}`);
      expect(ringFuzzProblems(f, RECORDS)).toEqual([]);
    } finally {
      m.close();
    }
  }, 300_000);
}
