/**
 * NUMA placement on this host (one node): allocation bound to a node, page counts, moves, and the
 * refusals. The lab test `lab/cxl.test.ts` demotes to a real CPU-less node and reads numa_maps.
 */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { allocOnNode, cxl, demote, movePages, nearestCpuless, openDax, pageNodes, promote } from '../src/index.js';
import { FakeSysfs } from './fake-sysfs.js';

const movers: Mover[] = [];
afterEach(async () => {
  for (const m of movers.splice(0)) await m.close();
});
async function open(): Promise<Mover> {
  const m = await Mover.open({ backends: [soft(), cxl()] });
  movers.push(m);
  return m;
}

/** Pages per node of the VMAs whose numa_maps line matches `policy` (e.g. "bind:0"). */
function numaMaps(policy: string): { anon: number; nodes: Record<string, number> }[] {
  return readFileSync('/proc/self/numa_maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes(` ${policy} `))
    .map((l) => ({
      anon: Number(/ anon=(\d+)/.exec(l)?.[1] ?? 0),
      nodes: Object.fromEntries([...l.matchAll(/ N(\d+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])])),
    }));
}

describe('NUMA placement', () => {
  it('allocates host memory bound to a node, faulted in there (move_pages and numa_maps agree)', async () => {
    const m = await open();
    const pages = 777;
    const r = allocOnNode(m, pages * 4096, 0);
    expect(r.kind).toBe('host');
    expect(r.length).toBe(pages * 4096);
    expect(pageNodes(r)).toEqual({ nodes: { 0: pages }, absent: 0 });
    const vma = numaMaps('bind:0').find((v) => v.anon === pages);
    expect(vma, readFileSync('/proc/self/numa_maps', 'utf8')).toBeDefined();
    expect(vma!.nodes).toEqual({ 0: pages });
    // It is ordinary host memory for every backend.
    r.bytes().fill(3);
    const out = m.wrap(new Uint8Array(pages * 4096));
    await m.copy(out, r);
    expect(out.bytes()[pages * 4096 - 1]).toBe(3);
  });

  it('moves pages and reports per page count; promote defaults to this CPU’s node', async () => {
    const m = await open();
    const r = m.wrap(new Uint8Array(64 * 4096).fill(1));
    const moved = movePages(r, 0);
    expect(moved.node).toBe(0);
    expect(moved.pages).toBeGreaterThanOrEqual(64);
    expect(moved.moved + moved.failed + moved.absent).toBe(moved.pages);
    expect(moved.moved).toBeGreaterThanOrEqual(64);
    const p = promote(r);
    expect(p).toMatchObject({ node: 0, failed: 0 });
  });

  it('refuses what it cannot do, with the reason', async () => {
    const m = await open();
    const r = allocOnNode(m, 4096, 0);
    expect(() => demote(r)).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION, message: expect.stringMatching(/no CPU-less NUMA node/) }));
    expect(() => movePages(r, -1)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => allocOnNode(m, 4096, 1.5)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    // A node that does not exist here (the kernel answers ENODEV).
    expect(() => movePages(r, 7)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => allocOnNode(m, 4096, 7)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    const dir = mkdtempSync(join(tmpdir(), 'dm-cxl-numa-'));
    try {
      const path = join(dir, 'f');
      writeFileSync(path, Buffer.alloc(4096));
      const d = await openDax(m, path);
      expect(() => demote(d, 0)).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_OPERATION }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('picks the nearest CPU-less node from discovery', () => {
    const s = FakeSysfs.labGuest();
    try {
      s.node(2, '', '30 15 10', 1024).file('sys/devices/system/node/online', '0-2');
      s.node(0, '0-1', '10 20 30', 985212);
      expect(nearestCpuless({ root: s.root })).toBe(1);
    } finally {
      rmSync(s.root, { recursive: true, force: true });
    }
  });
});
