import { describe, expect, it } from 'vitest';
import { CLAIM, COMPLETION, RING_HEADER, RING_MAGIC, ringBytes } from '../src/ring/layout.js';
import { DatamoverError } from '../src/errors.js';
import { Ring } from '../src/ring/ring.js';

describe('Ring (producer side)', () => {
  it('lays out header, slots and completion blocks as layout.ts says', () => {
    const r = new Ring(8);
    const u = r.u32;
    expect(r.sab.byteLength).toBe(ringBytes(8));
    expect(u[RING_HEADER.entries / 4]).toBe(8);
    expect(u[RING_HEADER.magic / 4]).toBe(RING_MAGIC);
    expect(r.slotWord(0) * 4).toBe(u[RING_HEADER.slots / 4]);
    expect(r.slotWord(9)).toBe(r.slotWord(1)); // free-running index, slot = index mod entries
    expect(r.completionOffset(3)).toBe(u[RING_HEADER.completions / 4]! + 3 * COMPLETION.bytes);
    expect(r.completionOffset(3) % 32).toBe(0); // csb_ptr needs 32-byte alignment
  });

  it('refuses sizes that are not powers of two', () => {
    for (const n of [0, 1, 3, 1000, 2 ** 21, 1.5]) expect(() => new Ring(n)).toThrow(DatamoverError);
  });

  it('publishes Write_Index as a 64-bit value and tracks free slots', () => {
    const r = new Ring(4);
    expect(r.free).toBe(4);
    r.writeIndex = 3;
    r.commit();
    const u64 = new BigUint64Array(r.sab, 0, 32);
    expect(u64[RING_HEADER.writeIndex / 8]).toBe(3n);
    expect(u64[RING_HEADER.doorbell / 8]).toBe(3n);
    expect(r.free).toBe(1);
    r.retire(0);
    expect(r.free).toBe(2);
  });

  it('arms completion blocks and cancels only unclaimed descriptors', () => {
    const r = new Ring(4);
    r.arm(1);
    const cb = r.completionWord(1);
    expect(r.u32[cb]).toBe(1);
    expect(r.cancel(1)).toBe(true);
    expect(r.u32[cb + COMPLETION.claim / 4]).toBe(CLAIM.cancelled);
    r.arm(2);
    r.u32[r.completionWord(2) + COMPLETION.claim / 4] = CLAIM.claimed; // the engine got there first
    expect(r.cancel(2)).toBe(false);
  });

  it('retiring a slot clears its valid bit so a stale descriptor is never re-read a lap later', () => {
    const r = new Ring(4);
    r.publish(5, 0x00010301);
    expect(r.u32[r.slotWord(5)]).toBe(0x00010301);
    r.retire(5);
    expect(r.u32[r.slotWord(1)]).toBe(0);
  });
});
