/**
 * Builds fake sysfs trees in a temp directory, shaped like what Linux 6.1 shows (copied by hand
 * from the lab guest: an NVDIMM made into dax0.0, a CXL type-3 pmem device with a committed
 * region, a CPU-less node), for the discovery tests.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

export class FakeSysfs {
  readonly root = mkdtempSync(join(tmpdir(), 'dm-cxl-sysfs-'));

  file(path: string, contents: string): this {
    const p = join(this.root, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, `${contents}\n`);
    return this;
  }
  dir(path: string): this {
    mkdirSync(join(this.root, path), { recursive: true });
    return this;
  }
  /** A symlink at `path` to `target` (both root-relative), relative as sysfs makes them. */
  link(path: string, target: string): this {
    const p = join(this.root, path);
    mkdirSync(dirname(p), { recursive: true });
    mkdirSync(join(this.root, target), { recursive: true });
    symlinkSync(relative(dirname(p), join(this.root, target)), p);
    return this;
  }

  /** A device-DAX device whose sysfs path is `device` (root-relative), bound to `driver`. */
  dax(name: string, device: string, attrs: { size: number; align?: number; targetNode?: number; numaNode?: number; driver?: string | null }): this {
    this.link(`sys/bus/dax/devices/${name}`, device);
    this.file(`${device}/size`, String(attrs.size));
    if (attrs.align !== undefined) this.file(`${device}/align`, String(attrs.align));
    this.file(`${device}/target_node`, String(attrs.targetNode ?? -1));
    this.file(`${device}/numa_node`, String(attrs.numaNode ?? -1));
    if (attrs.driver !== null) this.link(`${device}/driver`, `sys/bus/dax/drivers/${attrs.driver ?? 'device_dax'}`);
    return this;
  }

  node(id: number, cpulist: string, distance: string, memKb: number): this {
    const d = `sys/devices/system/node/node${id}`;
    this.file(`${d}/cpulist`, cpulist);
    this.file(`${d}/distance`, distance);
    this.file(`${d}/meminfo`, `Node ${id} MemTotal:       ${memKb} kB\nNode ${id} MemFree:        ${Math.floor(memKb / 2)} kB`);
    return this;
  }

  /** The lab guest under `--dax --numa --cxl`. */
  static labGuest(): FakeSysfs {
    const s = new FakeSysfs();
    s.dax('dax0.0', 'sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0', { size: 511705088, align: 2097152, targetNode: 0, numaNode: 0 });
    const root = 'sys/devices/platform/ACPI0017:00/root0';
    const mem = 'sys/devices/pci0000:0c/0000:0c:00.0/0000:0d:00.0/mem0';
    s.link('sys/bus/cxl/devices/root0', root);
    s.link('sys/bus/cxl/devices/port1', `${root}/port1`);
    s.link('sys/bus/cxl/devices/endpoint2', `${root}/port1/endpoint2`);
    s.link('sys/bus/cxl/devices/mem0', mem);
    s.link('sys/bus/cxl/devices/decoder0.0', `${root}/decoder0.0`);
    s.link('sys/bus/cxl/devices/decoder1.0', `${root}/port1/decoder1.0`);
    s.link('sys/bus/cxl/devices/decoder2.0', `${root}/port1/endpoint2/decoder2.0`);
    s.link('sys/bus/cxl/devices/region1', `${root}/decoder0.0/region1`);
    s.link('sys/bus/cxl/devices/pmem_region1', `${root}/decoder0.0/region1/pmem_region1`);
    s.file(`${mem}/uevent`, 'DEVTYPE=cxl_memdev').file(`${mem}/serial`, '0x0').file(`${mem}/numa_node`, '-1');
    s.file(`${mem}/firmware_version`, 'BWFW VERSION 00').file(`${mem}/ram/size`, '0x0').file(`${mem}/pmem/size`, '0x10000000');
    const dec = (p: string, type: string, attrs: Record<string, string>) => {
      s.file(`${p}/uevent`, `DEVTYPE=cxl_decoder_${type}`);
      for (const [k, v] of Object.entries(attrs)) s.file(`${p}/${k}`, v);
    };
    dec(`${root}/decoder0.0`, 'root', { size: '0x100000000', start: '0x3b0000000', interleave_ways: '1', interleave_granularity: '256', locked: '0', cap_pmem: '1', cap_ram: '1' });
    dec(`${root}/port1/decoder1.0`, 'switch', { size: '0x10000000', start: '0x3b0000000', target_type: 'expander', interleave_ways: '1', interleave_granularity: '256', locked: '0', region: 'region1' });
    dec(`${root}/port1/endpoint2/decoder2.0`, 'endpoint', { size: '0x10000000', start: '0x3b0000000', mode: 'pmem', target_type: 'expander', interleave_ways: '1', interleave_granularity: '256', locked: '0' });
    const reg = `${root}/decoder0.0/region1`;
    s.file(`${reg}/uevent`, 'DEVTYPE=cxl_region').file(`${reg}/size`, '0x10000000').file(`${reg}/interleave_ways`, '1').file(`${reg}/interleave_granularity`, '256');
    s.file(`${reg}/commit`, '1').file(`${reg}/resource`, '0x3b0000000').file(`${reg}/target0`, 'decoder2.0');
    s.file('sys/devices/system/node/online', '0-1').file('sys/devices/system/node/has_cpu', '0');
    s.node(0, '0-1', '10 20', 985212).node(1, '', '20 10', 449260);
    return s;
  }
}
