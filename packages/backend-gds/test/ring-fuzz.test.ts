/**
 * Raw-ring fuzz of the gds engine on its CPU stand-in for cuFile / CUDA (test/mock/mock-cuda.cc;
 * see mock-engine.test.ts), against soft's TypeScript oracle (see @datamover/conformance/fuzz):
 * device-memory regions imported from inside larger allocations (the rest of each allocation is
 * the guard band), a host window and ranges of a file. The engine runs what GDS_CAPABILITIES
 * claims and answers UNSUPPORTED to the rest (`gdsStatus` below); every other status, every
 * result and every byte must match the oracle's. DATAMOVER_FUZZ_RECORDS sets the records
 * (default 4,000).
 */
import { join } from 'node:path';
import { abi, type SpaceKind } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { noise } from '@datamover/conformance';
import { fuzzRing, ringFuzzProblems, RingMemory, type RecordView, type RingRegion } from '@datamover/conformance/fuzz';
import { describe, expect, it } from 'vitest';
import { GDS_CAPABILITIES } from '../src/index.js';
import { loadNative } from '../src/native.js';
import { buildMock, fakeNvidiaFs, mockGds, mockOptions, tempDir } from './helpers.js';

const RECORDS = Number(process.env['DATAMOVER_FUZZ_RECORDS'] ?? 4000);
const { CompletionStatus: S, RESERVED_OPCODE_BITS } = abi;
const mock = buildMock();
if ('skip' in mock) console.log(`[gds] ring fuzz on the CPU mock skipped: ${mock.skip}`);

const claimed = new Set(GDS_CAPABILITIES.operations.map((o) => `${o.op}:${o.src}:${o.dst}`));
const claims = (op: string, src: SpaceKind | null, dst: SpaceKind | null) => claimed.has(`${op}:${src}:${dst}`);

/**
 * The gds engine's status (executor.cc `run`): compare, crc32c and the strided operations are
 * UNSUPPORTED right after the reserved-bit check; a copy, fill or writeImm that passes soft's range and access checks on
 * kinds the engine does not claim is UNSUPPORTED, nothing written.
 */
function gdsStatus(r: RecordView, oracle: number, regions: readonly RingRegion[]): number {
  const d = r.decoded;
  if (!r.claimed || ((r.words[0]! | 1) & RESERVED_OPCODE_BITS) !== 0) return oracle;
  if (d.op === 'compare' || d.op === 'crc32c' || d.op.endsWith('Strided')) return S.UNSUPPORTED;
  if (oracle !== S.OK && oracle !== S.OVERLAP) return oracle;
  if (d.op === 'copy') return claims('copy', regions[d.akey0]!.kind, regions[d.akey1]!.kind) ? oracle : S.UNSUPPORTED;
  if (d.op === 'fill' || d.op === 'writeImm') return claims(d.op, null, regions[d.akey1]!.kind) ? oracle : S.UNSUPPORTED;
  return oracle;
}

describe.skipIf('skip' in mock)('gds engine on the CPU mock', () => {
  const dir = 'path' in mock ? tempDir() : '';
  const nvfs = 'path' in mock ? fakeNvidiaFs() : '';

  it(`${RECORDS} random ring records agree with the oracle, nothing outside a region is touched`, async () => {
    const lib = 'path' in mock ? mock.path : '';
    const n = loadNative();
    if (!('addon' in n)) throw new Error(n.error);
    const addon = n.addon;
    const { libraries } = mockOptions(lib, nvfs);
    const m = new RingMemory();
    /** A device allocation of noise; regions are device memory imported from inside it. */
    const device = (size: number, seed: number) => {
      const buffer = addon.allocateGpu(libraries, size, 0, 4096);
      buffer.write(noise(size, seed), 0);
      return m.add({
        backing: { size, read: () => buffer.read(0, size) },
        carve: (offset, length) => {
          const imported = addon.importGpu(libraries, buffer.pointer + BigInt(offset), length, 0);
          return { kind: 'gpu', memory: { kind: 'gpu', device: 0, backend: 'gds', buffer: imported, identity: { object: imported, offset: 0 }, release: () => imported.release() } };
        },
        close: () => buffer.release(),
      });
    };
    try {
      const g1 = device(16384, 31);
      const g2 = device(8192, 32);
      const h = m.host(8192, 33);
      const f = m.file(join(dir, 'ring-fuzz.bin'), 12288, 34);
      m.region(g1, 64, 6000).region(g1, 4096, 6000).region(g1, 12000, 4000, false); // 0 and 1 overlap
      m.region(g2, 100, 8000);
      m.region(h, 512, 6000).region(f, 4096, 4096).region(f, 100, 3000);
      const fz = await fuzzRing({
        name: 'gds (CPU mock)',
        open: (ring, progress) => mockGds(lib, nvfs).open(ring, progress),
        oracle: (ring, progress) => soft({ engine: 'ts' }).open(ring, progress),
        backings: m.backings,
        regions: m.regions,
        expect: gdsStatus,
        records: RECORDS,
        seed: 14,
      });
      console.log(`[ring-fuzz] ${JSON.stringify(fz)}`);
      expect(ringFuzzProblems(fz, RECORDS, ['UNSUPPORTED'])).toEqual([]);
    } finally {
      m.close();
    }
  }, 300_000);
});
