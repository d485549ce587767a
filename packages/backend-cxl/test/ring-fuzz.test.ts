/**
 * Raw-ring fuzz of the cxl engine (see @datamover/conformance/fuzz) against soft's TypeScript
 * oracle: dax regions over MAP_SHARED temp files — two mappings of one file that alias, a
 * read-only one, one treated as volatile — and a host window, guard bands around each. The
 * oracle knows nothing of the durable flag, so it runs each record without it, and the cxl
 * engine's documented answers to the flag are applied on top (`durable` below).
 * DATAMOVER_FUZZ_RECORDS sets the records (default 4,000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abi } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { fuzzRing, ringFuzzProblems, RingMemory, type RecordView, type RingRegion } from '@datamover/conformance/fuzz';
import { afterAll, expect, it } from 'vitest';
import { cxl } from '../src/index.js';
import { mapDax } from '../src/dax.js';
import { loadNative } from '../src/native.js';

const RECORDS = Number(process.env['DATAMOVER_FUZZ_RECORDS'] ?? 4000);
const { CompletionStatus: S, OPCODE_BITS, RESERVED_OPCODE_BITS } = abi;
const DURABLE = 1 << OPCODE_BITS.durable;
const dir = mkdtempSync(join(tmpdir(), 'dm-cxl-ring-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The cxl engine's status for a record carrying the durable flag (engine.cc `execute`): other
 * reserved bits first; then the alias check of two mappings (OVERLAP); the flag on anything but
 * a write (strided copies and fills included) is malformed; a write to a volatile destination
 * whose (first) block is in range is NOT_PERSISTENT, nothing written; otherwise the record runs as
 * without the flag.
 */
function durable(r: RecordView, oracle: number, regions: readonly RingRegion[]): number {
  const { words, decoded: d } = r;
  if ((words[0]! & DURABLE) === 0 || !r.claimed || ((words[0]! | 1) & RESERVED_OPCODE_BITS & ~DURABLE) !== 0) return oracle;
  if ((d.op === 'copy' || d.op === 'copyStrided') && oracle === S.OVERLAP && regions[d.akey0]?.kind === 'dax' && regions[d.akey1]?.kind === 'dax') return oracle;
  if (d.op !== 'copy' && d.op !== 'fill' && d.op !== 'writeImm' && d.op !== 'copyStrided' && d.op !== 'fillStrided') return S.BAD_DESCRIPTOR;
  // Strided writes: judged by their first block, as the contiguous ones by their range.
  const dst = regions[d.akey1];
  const n = d.op === 'writeImm' ? d.width : d.size + 1;
  if (dst && d.addr1 <= dst.length && n <= dst.length - d.addr1 && dst.writable && !dst.persistent) return S.NOT_PERSISTENT;
  return oracle;
}

it(`cxl engine: ${RECORDS} random ring records agree with the oracle, nothing outside a region is touched`, async () => {
  const n = loadNative();
  if (!('addon' in n)) throw new Error(n.error);
  const addon = n.addon;
  const dax = (persistence: -1 | 0) => (path: string, offset: number, length: number, writable: boolean) => {
    const { memory } = mapDax(addon, path, { offset, length, writable, persistence });
    return { kind: 'dax' as const, memory, persistent: memory.persistent };
  };
  const m = new RingMemory();
  try {
    const f1 = m.file(join(dir, 'a.bin'), 16384, 21, dax(-1));
    const f2 = m.file(join(dir, 'b.bin'), 8192, 22, dax(0));
    const h = m.host(8192, 23);
    m.region(f1, 100, 6000).region(f1, 4096, 6000).region(f1, 12000, 4000, false); // 0 and 1: two mappings that alias
    m.region(f2, 64, 8000);
    m.region(h, 512, 6000);
    expect(m.regions.map((r) => r.persistent ?? false)).toEqual([true, true, true, false, false]);
    const f = await fuzzRing({
      name: 'cxl',
      open: (ring, progress) => cxl().open(ring, progress),
      oracle: (ring, progress) => soft({ engine: 'ts' }).open(ring, progress),
      backings: m.backings,
      regions: m.regions,
      acceptedBits: DURABLE,
      oracleRecord: (words) => {
        const w = words.slice();
        w[0] = (w[0]! & ~DURABLE) >>> 0;
        return w;
      },
      expect: durable,
      records: RECORDS,
      seed: 13,
      strided: true,
    });
    console.log(`[ring-fuzz] ${JSON.stringify(f)}`);
    expect(ringFuzzProblems(f, RECORDS, ['NOT_PERSISTENT', 'OVERLAP'])).toEqual([]);
  } finally {
    m.close();
  }
}, 300_000);
