import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { brief, cpulessNodes, cxl, discover, parseList, summarize } from '../src/index.js';
import { FakeSysfs } from './fake-sysfs.js';

const trees: FakeSysfs[] = [];
const tree = (s: FakeSysfs) => (trees.push(s), s);
afterAll(() => {
  for (const t of trees) rmSync(t.root, { recursive: true, force: true });
});

describe('discovery from sysfs', () => {
  it('finds the lab guest: dax0.0 on an NVDIMM, the CXL memdev, region and decoders, a CPU-less node', () => {
    const s = tree(FakeSysfs.labGuest());
    const d = discover({ root: s.root });
    expect(d.dax).toHaveLength(1);
    expect(d.dax[0]).toMatchObject({ name: 'dax0.0', size: 511705088, align: 2 << 20, targetNode: 0, numaNode: 0, mode: 'devdax', provider: 'nvdimm', persistent: true });
    expect(d.cxl.memdevs).toEqual([{ name: 'mem0', ramBytes: 0, pmemBytes: 256 << 20, serial: '0x0', numaNode: null, firmware: 'BWFW VERSION 00' }]);
    expect(d.cxl.regions).toEqual([
      { name: 'region1', size: 256 << 20, mode: 'pmem', committed: true, interleaveWays: 1, interleaveGranularity: 256, resource: '0x3b0000000', rootDecoder: 'decoder0.0', targets: ['decoder2.0'] },
    ]);
    expect(d.cxl.decoders.map((x) => [x.name, x.kind, x.mode, x.region])).toEqual([
      ['decoder0.0', 'root', null, 'region1'],
      ['decoder1.0', 'switch', null, 'region1'],
      ['decoder2.0', 'endpoint', 'pmem', 'region1'],
    ]);
    expect(d.nodes).toEqual([
      { node: 0, cpus: '0-1', cpuless: false, memBytes: 985212 * 1024, distances: { 0: 10, 1: 20 } },
      { node: 1, cpus: '', cpuless: true, memBytes: 449260 * 1024, distances: { 0: 20, 1: 10 } },
    ]);
    expect(cpulessNodes(d, 0).map((n) => n.node)).toEqual([1]);
    expect(d.notes).toEqual([]);
    expect(d.missing).toEqual([]);
    const lines = summarize(d);
    expect(lines).toContain('dax0.0: devdax, 488 MiB, align 2 MiB, persistent (nvdimm), target node 0, ' + `${s.root}/dev/dax0.0`);
    expect(lines.some((l) => l.startsWith('mem0: CXL memdev, ram 0 MiB, pmem 256 MiB'))).toBe(true);
    expect(lines.some((l) => l.startsWith('region1: CXL region, pmem, 256 MiB, committed, 1-way, targets decoder2.0'))).toBe(true);
    expect(lines).toContain('node1: CPU-less, 438.7 MiB, distances 0:20 1:10');
  });

  it('says why nothing was found on a machine without the drivers', () => {
    const s = tree(new FakeSysfs().dir('sys/devices/system/cpu'));
    const d = discover({ root: s.root });
    expect(d.dax).toEqual([]);
    expect(d.cxl).toEqual({ memdevs: [], regions: [], decoders: [] });
    expect(d.notes.join('\n')).toMatch(/\/sys\/bus\/dax is missing.*modprobe device_dax/);
    expect(d.notes.join('\n')).toMatch(/\/sys\/bus\/cxl is missing/);
    expect(d.notes.join('\n')).toMatch(/\/sys\/devices\/system\/node is missing/);
    expect(d.missing).toEqual(['no device-DAX driver', 'no CXL bus', 'no NUMA information']);
    expect(brief(d)).toBe('nothing found (no device-DAX driver, no CXL bus, no NUMA information)');
    expect(discover({ root: '/nonexistent-root' }).notes).toEqual(['no sysfs at /nonexistent-root/sys']);
  });

  it('tells volatile CXL and hmem device-DAX from persistent memory, and system-ram mode from devdax', () => {
    const s = tree(new FakeSysfs());
    s.dax('dax0.0', 'sys/devices/platform/ACPI0017:00/root0/decoder0.0/region0/dax_region0/dax0.0', { size: 1 << 30, align: 2 << 20, targetNode: 2 });
    s.dax('dax1.0', 'sys/devices/platform/hmem.1/dax1.0', { size: 1 << 30, targetNode: 3, driver: 'kmem' });
    s.dax('dax2.0', 'sys/devices/platform/ACPI0017:00/root0/nvdimm-bridge0/ndbus1/region1/dax1.0/dax2.0', { size: 1 << 28, align: 1 << 21, driver: null });
    s.file('sys/devices/platform/hmem.1/dax_region/align', '4096');
    s.file('sys/bus/cxl/devices/.keep', '');
    const d = discover({ root: s.root });
    expect(d.dax.map((x) => [x.name, x.mode, x.provider, x.persistent, x.targetNode])).toEqual([
      ['dax0.0', 'devdax', 'cxl', false, 2],
      ['dax1.0', 'system-ram', 'hmem', false, 3],
      ['dax2.0', 'unbound', 'cxl', true, null],
    ]);
    expect(d.dax[1]!.align).toBe(4096); // from the region when the device has no align attribute
    expect(d.notes.join('\n')).toMatch(/no CXL memory device/);
  });

  it('parses kernel lists', () => {
    expect(parseList('0-2,5,7-8')).toEqual([0, 1, 2, 5, 7, 8]);
    expect(parseList('')).toEqual([]);
    expect(parseList(null)).toEqual([]);
  });

  it('puts what it found in the backend probe and the nodes in its capabilities', async () => {
    const s = tree(FakeSysfs.labGuest());
    const b = cxl({ sysfsRoot: s.root });
    const p = await b.probe();
    expect(p.available, p.reason).toBe(true);
    expect(p.details).toMatchObject({ engine: 'native', found: 'dax0.0 devdax 488 MiB persistent, mem0 (CXL pmem 256 MiB), region1 (CXL pmem 256 MiB), node1 CPU-less 438.7 MiB distance 20' });
    expect(brief(discover({ root: '/nonexistent' }))).toBe('nothing found (no sysfs)');
    const caps = b.capabilities();
    expect(caps.numa.nodes.find((n) => n.node === 1)).toMatchObject({ cpuless: true, distances: { 0: 20 } });
    expect(caps.durable).toEqual(['dax']);
    expect(caps.operations.some((o) => o.op === 'copy' && o.src === 'host' && o.dst === 'host')).toBe(false);
  });
});
