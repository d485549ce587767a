import { existsSync } from 'node:fs';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { describe, expect, it } from 'vitest';
import { rdma } from '../src/index.js';
import { addonPath } from '../src/native.js';

// This machine has rdma-core's libraries (where .ci/run installed them) but no RDMA device:
// probe() must say exactly that, and an unavailable rdma must not stop Mover.open().
describe('rdma probe on a machine without RDMA', () => {
  it('says exactly what is missing', async () => {
    const r = await rdma().probe();
    if (existsSync('/sys/class/infiniband') && (await import('node:fs')).readdirSync('/sys/class/infiniband').length > 0) return; // a machine with a device
    expect(r.available).toBe(false);
    if (!existsSync(addonPath)) {
      expect(r.reason).toMatch(/native addon not built/);
      return;
    }
    const missing = (r.details as { missing?: string } | undefined)?.missing;
    const libs = existsSync('/usr/lib/x86_64-linux-gnu/libibverbs.so.1') || existsSync('/usr/lib/aarch64-linux-gnu/libibverbs.so.1');
    // The addon is a stub unless both headers were there when it was built (binding.gyp's have_rdma).
    const headers = existsSync('/usr/include/infiniband/verbs.h') && existsSync('/usr/include/rdma/rdma_cma.h');
    if (missing === 'headers' || !headers) expect(missing === 'headers' || missing === 'libibverbs').toBe(true);
    else if (!libs) expect(r.reason).toMatch(/^no libibverbs/);
    else {
      expect(missing).toBe('device');
      expect(r.reason).toMatch(/^no RDMA device/);
    }
  });

  it('never stops Mover.open(), and explains itself when asked for', async () => {
    const mover = await Mover.open({ backends: [rdma(), soft()] });
    try {
      expect(mover.backends).toEqual(['soft']);
      const why = mover.stats().unavailable.find((u) => u.name === 'rdma');
      expect(why?.reason).toBeTruthy();
      expect(() => rdma.export(mover, mover.alloc(16))).toThrow(/rdma is not open/);
    } finally {
      await mover.close();
    }
  });
});
