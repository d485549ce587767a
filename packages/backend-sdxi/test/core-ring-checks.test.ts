/**
 * What the sdxi session checks of each core-ring record before the function sees it, as every
 * engine does (docs/engine-abi.md, "Engine"): csb_ptr must name the slot's own completion block
 * (else BAD_DESCRIPTOR, nothing run). And the session's own AKey (INTERRUPT_AKEY, 0xffff: the interrupt entry, which with pv = 0 names the
 * function's device memory) is never a region: a core-ring record naming it is refused BAD_AKEY
 * and reaches nothing, as an unregistered index is — the engine ABI's "every range against its
 * registered region". (The Mover never names it; a raw ring producer can.)
 */
import { abi, Ring } from '@datamover/core';
import { expect, it } from 'vitest';
import { sdxi } from '../src/index.js';
import { INTERRUPT_AKEY } from '../src/session.js';

const { CompletionStatus: S, COMPLETION, OPCODE, OPCODE_BITS } = abi;

it('a record with another csb_ptr is refused BAD_DESCRIPTOR, one naming the interrupt AKey BAD_AKEY; a registered region still runs', async () => {
  const ring = new Ring(16);
  let wake: (() => void) | undefined;
  const session = await sdxi().open(ring, () => wake?.());
  const view = new Uint8Array(new SharedArrayBuffer(64));
  session.register({ index: 1, memory: { kind: 'host', view }, length: 64, writable: true });
  const run = async (akey: number, csbShift = 0): Promise<number> => {
    const i = ring.writeIndex++;
    ring.arm(i);
    abi.encodeWriteImmBody(ring.u32, ring.slotWord(i), { width: 8, akey1: akey, addr1: 8, value: 0x1122334455667788n }, ring.completionOffset(i) + csbShift);
    ring.publish(i, (OPCODE.writeImm | (1 << OPCODE_BITS.valid)) >>> 0);
    ring.commit();
    session.doorbell();
    while (ring.readIndex() <= i) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, 5)));
    const status = ring.u32[ring.completionWord(i) + COMPLETION.status / 4]!;
    ring.retire(i);
    return status;
  };
  try {
    expect(await run(1, 32)).toBe(S.BAD_DESCRIPTOR); // the next slot's completion block
    expect(await run(1, 1)).toBe(S.BAD_DESCRIPTOR); // np set
    expect(view.every((x) => x === 0)).toBe(true);
    expect(await run(INTERRUPT_AKEY)).toBe(S.BAD_AKEY);
    expect(await run(2)).toBe(S.BAD_AKEY); // unregistered, as a reference
    expect(await run(1)).toBe(S.OK);
    expect(Buffer.from(view.subarray(8, 16)).readBigUInt64LE()).toBe(0x1122334455667788n);
  } finally {
    session.close();
  }
});
