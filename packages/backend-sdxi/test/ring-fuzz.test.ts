/**
 * Raw-ring fuzz of the sdxi backend's engine session — core's ring translated into the SDXI ring
 * the software function consumes, plus the CPU path — against soft's TypeScript oracle: random
 * 64-byte records (see @datamover/conformance/fuzz) over host windows (two overlapping, one
 * read-only) with guard bands. Every status, result and byte must match the oracle's and no record
 * may reach outside its region. (fuzz.test.ts fuzzes the function's own SDXI ring format.)
 * DATAMOVER_FUZZ_RECORDS sets the records (default 4,000).
 */
import { soft } from '@datamover/backend-soft';
import { abi } from '@datamover/core';
import { fuzzRing, ringFuzzProblems, RingMemory, type RecordView, type RingRegion } from '@datamover/conformance/fuzz';
import { expect, it } from 'vitest';
import { sdxi } from '../src/index.js';
import { INTERRUPT_AKEY } from '../src/session.js';

const RECORDS = Number(process.env['DATAMOVER_FUZZ_RECORDS'] ?? 4000);
const { CompletionStatus: S, RESERVED_OPCODE_BITS } = abi;

/**
 * Where the sdxi session's documented order differs from soft's (docs/sdxi.md): the session refuses
 * its own interrupt AKey before anything but the opcode's reserved bits is checked, and the
 * function resolves every AKey before it checks any range (the oracle goes operand by operand),
 * so an unregistered AKey is BAD_AKEY even where another operand's range is out of bounds.
 */
function sdxiStatus(r: RecordView, oracle: number, regions: readonly RingRegion[]): number {
  if (!r.claimed || (r.words[0]! & RESERVED_OPCODE_BITS) !== 0) return oracle;
  const keys = [('akey0' in r.decoded ? r.decoded.akey0 : -1), ('akey1' in r.decoded ? r.decoded.akey1 : -1)].filter((k) => k >= 0);
  if (keys.includes(INTERRUPT_AKEY) && oracle !== S.OK) return S.BAD_AKEY;
  if (oracle === S.OUT_OF_BOUNDS && keys.some((k) => k >= regions.length)) return S.BAD_AKEY;
  return oracle;
}

it(`sdxi engine: ${RECORDS} random ring records agree with the oracle, nothing outside a region is touched`, async () => {
  const m = new RingMemory();
  const a = m.host(16384, 1);
  const b = m.host(8192, 2);
  m.region(a, 64, 4096).region(a, 2048, 4096).region(a, 8192, 4000, false); // 0 and 1 overlap
  m.region(b, 100, 8000);
  try {
    const f = await fuzzRing({
      name: 'sdxi',
      open: (ring, progress) => sdxi().open(ring, progress),
      oracle: (ring, progress) => soft({ engine: 'ts' }).open(ring, progress),
      backings: m.backings,
      regions: m.regions,
      expect: sdxiStatus,
      records: RECORDS,
      seed: 13,
    });
    console.log(`[ring-fuzz] ${JSON.stringify(f)}`);
    expect(ringFuzzProblems(f, RECORDS)).toEqual([]);
  } finally {
    m.close();
  }
}, 300_000);
