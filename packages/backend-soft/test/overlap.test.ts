/**
 * Overlap is judged by memory address, not by buffer object: two SharedArrayBuffer objects over
 * one memory (a SAB posted through a MessageChannel comes back as a new object) alias. The Batch
 * refuses such a copy before anything is queued; the TS oracle and the native engine refuse it at
 * run time too, when it reaches them in a ring (as from a producer that does not check).
 */
import { abi, Mover, Ring, type EngineSession, type HostMemory } from '@datamover/core';
import { describe, expect, it } from 'vitest';
import { loadNative, soft } from '../src/index.js';
import { ENGINES } from './helpers.js';

const addon = loadNative();
const noAddon = 'error' in addon ? addon.error : undefined;
if (noAddon) console.log(`skipping overlap-by-address tests: ${noAddon}`);

async function twin(sab: SharedArrayBuffer): Promise<SharedArrayBuffer> {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(sab);
  const copy = await new Promise<SharedArrayBuffer>((resolve) => port2.once('message', (v: SharedArrayBuffer) => resolve(v)));
  port1.close();
  expect(copy).not.toBe(sab);
  return copy;
}

describe.skipIf(noAddon !== undefined).each(ENGINES)('%s engine', (engine) => {
  it('the Batch refuses an overlapping copy between two SharedArrayBuffer objects over one memory; an adjacent one runs', async () => {
    const m = await Mover.open({ backends: [soft({ engine })] });
    const sab = new SharedArrayBuffer(4096);
    const a = m.wrap(sab);
    const b = m.wrap(await twin(sab));
    expect(() => m.batch().copy(b, a, { dstOffset: 100, length: 200 })).toThrow(expect.objectContaining({ code: 'OVERLAPPING_RANGES' }));
    expect(() => m.batch().copy(b.slice(1000, 100), a.slice(950, 100))).toThrow(expect.objectContaining({ code: 'OVERLAPPING_RANGES' }));
    new Uint8Array(sab).fill(3, 0, 100);
    await m.copy(b, a, { dstOffset: 100, length: 100 });
    expect(new Uint8Array(sab)[199]).toBe(3);
    await m.close();
  });

  it('the engine answers OVERLAP for such a copy that reaches its ring', async () => {
    const ring = new Ring(8);
    let progressed: () => void = () => undefined;
    const session: EngineSession = await soft({ engine }).open(ring, () => progressed());
    const sab = new SharedArrayBuffer(4096);
    const views = [new Uint8Array(sab), new Uint8Array(await twin(sab))];
    views.forEach((view, k) => {
      const memory: HostMemory = { kind: 'host', view, address: session.memoryAddress!(view) };
      session.register({ index: k + 1, memory, length: 4096, writable: true });
    });
    const u32 = ring.u32;
    ring.arm(0);
    abi.encodeCopyBody(u32, ring.slotWord(0), { size: 199, attr: 0, akey0: 1, akey1: 2, addr0: 0, addr1: 100 }, ring.completionOffset(0));
    ring.publish(0, abi.OPCODE.copy | (1 << abi.OPCODE_BITS.valid));
    ring.writeIndex = 1;
    const done = new Promise<void>((resolve) => (progressed = () => ring.readIndex() >= 1 && resolve()));
    ring.commit();
    session.hold(true);
    session.doorbell();
    await done;
    session.hold(false);
    expect(u32[ring.completionWord(0) + abi.COMPLETION.status / 4]).toBe(abi.CompletionStatus.OVERLAP);
    session.close();
  });
});
