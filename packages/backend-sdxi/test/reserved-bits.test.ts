/**
 * Reserved opcode bits on core's ring: every engine refuses the record (BAD_DESCRIPTOR) and writes
 * nothing. sdxi re-encodes write-immediate as DSC_DMAB_WRT_IMM, so a durable bit it cannot honour
 * must be refused there rather than dropped by the re-encoding.
 */
import { abi, Ring, type Backend, type EngineSession } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { describe, expect, it } from 'vitest';
import { sdxi } from '../src/index.js';

const { CompletionStatus: S, COMPLETION, OPCODE, OPCODE_BITS } = abi;
const ENGINES: [string, () => Backend][] = [
  ['sdxi', () => sdxi()],
  ['soft native', () => soft({ engine: 'native' })],
  ['soft ts', () => soft({ engine: 'ts' })],
];

async function writeImm(session: EngineSession, ring: Ring, wake: { fn?: () => void }, extraBits: number): Promise<number> {
  const i = ring.writeIndex++;
  ring.arm(i);
  abi.encodeWriteImmBody(ring.u32, ring.slotWord(i), { width: 8, akey1: 1, addr1: 8, value: 0x1122334455667788n }, ring.completionOffset(i));
  ring.publish(i, (OPCODE.writeImm | extraBits | (1 << OPCODE_BITS.valid)) >>> 0);
  ring.commit();
  session.doorbell();
  while (ring.readIndex() <= i) await new Promise<void>((resolve) => ((wake.fn = resolve), setTimeout(resolve, 5)));
  const status = ring.u32[ring.completionWord(i) + COMPLETION.status / 4]!;
  ring.retire(i);
  return status;
}

describe('reserved opcode bits on a write-immediate', () => {
  for (const [name, make] of ENGINES) {
    it(`${name}: refused with BAD_DESCRIPTOR, nothing written; the same record without them runs`, async () => {
      const backend = make();
      const probe = await backend.probe();
      if (!probe.available) {
        console.warn(`[skip] ${name} unavailable here: ${probe.reason}`);
        return;
      }
      const ring = new Ring(16);
      const wake: { fn?: () => void } = {};
      const session = await backend.open(ring, () => wake.fn?.());
      const view = new Uint8Array(new SharedArrayBuffer(64));
      session.register({ index: 1, memory: { kind: 'host', view }, length: 64, writable: true });
      try {
        for (const bit of [OPCODE_BITS.durable, 1, 3, 6, 31]) {
          expect(await writeImm(session, ring, wake, (1 << bit) >>> 0), `bit ${bit}`).toBe(S.BAD_DESCRIPTOR);
          expect(view.every((x) => x === 0), `bytes after bit ${bit}`).toBe(true);
        }
        expect(await writeImm(session, ring, wake, 0)).toBe(S.OK);
        expect(Buffer.from(view.subarray(8, 16)).readBigUInt64LE()).toBe(0x1122334455667788n);
      } finally {
        await session.close();
      }
    });
  }
});
