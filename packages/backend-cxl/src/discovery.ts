/**
 * Discovery of CXL and device-DAX memory from sysfs: device-DAX devices (/sys/bus/dax), the CXL
 * topology (/sys/bus/cxl: memdevs, regions, decoders) and NUMA nodes (/sys/devices/system/node,
 * CPU-less ones included, with distances). Pure TypeScript reading files under an injectable root,
 * so tests run it against a fake tree and the lab against a real kernel's.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface DiscoverOptions {
  /** Directory standing for `/` (default '/'): sysfs is read at `<root>/sys`. */
  root?: string;
}

/** A device-DAX device (/sys/bus/dax/devices/daxX.Y). */
export interface DaxDevice {
  /** dax0.0 */
  readonly name: string;
  /** Its character device (/dev/dax0.0); absent while it is onlined as system-ram. */
  readonly path: string;
  readonly size: number;
  /** Mappings must be aligned to this (bytes). */
  readonly align: number;
  /** The node its memory becomes when onlined as system-ram (target_node), or null. */
  readonly targetNode: number | null;
  /** The node of the device itself (the nearest node with CPUs), or null. */
  readonly numaNode: number | null;
  /** devdax (device_dax driver: a character device), system-ram (kmem: node memory), unbound, or the driver's name. */
  readonly mode: string;
  /** Where the memory comes from: an NVDIMM, a CXL region, soft-reserved (hmem) memory, or unknown. */
  readonly provider: 'nvdimm' | 'cxl' | 'hmem' | 'unknown';
  /** Persistent memory (it reaches device-DAX through libnvdimm): durable writes are honoured. */
  readonly persistent: boolean;
  /** The sysfs device path it resolves to. */
  readonly sysfs: string;
}

export interface CxlMemdev {
  readonly name: string;
  readonly ramBytes: number;
  readonly pmemBytes: number;
  readonly serial: string | null;
  readonly numaNode: number | null;
  readonly firmware: string | null;
}

export interface CxlRegion {
  readonly name: string;
  readonly size: number;
  /** pmem or ram (from the region's mode attribute, else its endpoint decoders'), or null. */
  readonly mode: string | null;
  readonly committed: boolean;
  readonly interleaveWays: number | null;
  readonly interleaveGranularity: number | null;
  /** Host physical address of the region, as sysfs shows it (hex), or null. */
  readonly resource: string | null;
  /** The root decoder it was carved from. */
  readonly rootDecoder: string | null;
  /** Endpoint decoders it targets (target0, target1, …). */
  readonly targets: readonly string[];
}

export interface CxlDecoder {
  readonly name: string;
  /** root, switch or endpoint (from DEVTYPE cxl_decoder_*). */
  readonly kind: string;
  readonly start: string | null;
  readonly size: number;
  /** Endpoint decoders: pmem, ram, mixed or none. */
  readonly mode: string | null;
  readonly targetType: string | null;
  readonly interleaveWays: number | null;
  readonly interleaveGranularity: number | null;
  readonly locked: boolean;
  /** The region it decodes for (a root decoder: the region carved from it), or null. */
  readonly region: string | null;
}

export interface NumaNode {
  readonly node: number;
  /** The cpulist ('' for a CPU-less node). */
  readonly cpus: string;
  readonly cpuless: boolean;
  readonly memBytes: number | null;
  /** SLIT distance to each online node (node → distance). */
  readonly distances: Readonly<Record<number, number>>;
}

export interface Discovery {
  readonly root: string;
  readonly dax: readonly DaxDevice[];
  readonly cxl: { readonly memdevs: readonly CxlMemdev[]; readonly regions: readonly CxlRegion[]; readonly decoders: readonly CxlDecoder[] };
  readonly nodes: readonly NumaNode[];
  /** Why something was not found, in words a user can act on. */
  readonly notes: readonly string[];
  /** The same, in a few words each (for one-line summaries). */
  readonly missing: readonly string[];
}

class Notes {
  readonly long: string[] = [];
  readonly short: string[] = [];
  add(short: string, long: string): void {
    this.short.push(short);
    this.long.push(long);
  }
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** A decimal or 0x-hex sysfs number; null when absent or not a number. */
function num(path: string): number | null {
  const s = read(path);
  if (s === null || s === '') return null;
  const v = /^0x[0-9a-f]+$/i.test(s) ? Number.parseInt(s, 16) : /^-?\d+$/.test(s) ? Number(s) : Number.NaN;
  return Number.isFinite(v) ? v : null;
}

/** A node attribute: -1 (no node) becomes null. */
function nodeNum(path: string): number | null {
  const v = num(path);
  return v === null || v < 0 ? null : v;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort(naturally);
  } catch {
    return [];
  }
}

function naturally(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function resolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function linkName(path: string): string | null {
  try {
    return basename(readlinkSync(path));
  } catch {
    return null;
  }
}

function devtype(dir: string): string | null {
  const uevent = read(join(dir, 'uevent'));
  const m = uevent === null ? null : /^DEVTYPE=(.*)$/m.exec(uevent);
  return m?.[1] ?? read(join(dir, 'devtype'));
}

/** Node ids in a kernel node/cpu list such as "0-1,4". */
export function parseList(s: string | null): number[] {
  const out: number[] = [];
  for (const part of (s ?? '').split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

function discoverDax(sys: string, root: string, notes: Notes): DaxDevice[] {
  const bus = join(sys, 'bus', 'dax');
  if (!existsSync(bus)) {
    notes.add('no device-DAX driver', 'no device-DAX: /sys/bus/dax is missing (the dax driver is not loaded: modprobe device_dax, or this kernel lacks CONFIG_DEV_DAX)');
    return [];
  }
  const out: DaxDevice[] = [];
  for (const name of list(join(bus, 'devices'))) {
    if (!/^dax\d+\.\d+$/.test(name)) continue;
    const dir = join(bus, 'devices', name);
    const real = resolved(dir);
    const driver = linkName(join(dir, 'driver'));
    const mode = driver === 'device_dax' ? 'devdax' : driver === 'kmem' ? 'system-ram' : driver === null ? 'unbound' : driver;
    const viaNd = real.includes('/ndbus');
    const viaCxl = real.includes('/ACPI0017:') || /\/(root\d+|nvdimm-bridge\d+)\//.test(real) || /\/dax_region\d+\//.test(real);
    const provider = viaCxl ? 'cxl' : viaNd ? 'nvdimm' : real.includes('/hmem') ? 'hmem' : 'unknown';
    out.push({
      name,
      path: join(root === '/' ? '/' : root, 'dev', name),
      size: num(join(dir, 'size')) ?? 0,
      align: num(join(dir, 'align')) ?? num(join(real, '..', 'dax_region', 'align')) ?? 2 * 1024 * 1024,
      targetNode: nodeNum(join(dir, 'target_node')),
      numaNode: nodeNum(join(dir, 'numa_node')),
      mode,
      provider,
      persistent: viaNd,
      sysfs: real,
    });
  }
  if (out.length === 0) {
    notes.add('no device-DAX device', 'no device-DAX device: /sys/bus/dax/devices is empty (make one: `ndctl create-namespace -m devdax` for pmem, `cxl create-region` then `daxctl` for CXL memory)');
  }
  return out;
}

function discoverCxl(sys: string, notes: Notes): Discovery['cxl'] {
  const bus = join(sys, 'bus', 'cxl');
  const memdevs: CxlMemdev[] = [];
  const regions: CxlRegion[] = [];
  const decoders: CxlDecoder[] = [];
  if (!existsSync(bus)) {
    notes.add('no CXL bus', 'no CXL bus: /sys/bus/cxl is missing (no CXL hardware, or the cxl drivers are not loaded: modprobe cxl_acpi cxl_pci cxl_mem)');
    return { memdevs, regions, decoders };
  }
  const devices = join(bus, 'devices');
  const names = list(devices);
  for (const name of names) {
    const dir = join(devices, name);
    if (/^mem\d+$/.test(name)) {
      memdevs.push({
        name,
        ramBytes: num(join(dir, 'ram', 'size')) ?? 0,
        pmemBytes: num(join(dir, 'pmem', 'size')) ?? 0,
        serial: read(join(dir, 'serial')),
        numaNode: nodeNum(join(dir, 'numa_node')),
        firmware: read(join(dir, 'firmware_version')),
      });
    } else if (/^decoder\d+\.\d+$/.test(name)) {
      const type = devtype(dir) ?? '';
      decoders.push({
        name,
        kind: type.replace(/^cxl_decoder_/, '') || 'unknown',
        start: read(join(dir, 'start')),
        size: num(join(dir, 'size')) ?? 0,
        mode: read(join(dir, 'mode')),
        targetType: read(join(dir, 'target_type')),
        interleaveWays: num(join(dir, 'interleave_ways')),
        interleaveGranularity: num(join(dir, 'interleave_granularity')),
        locked: read(join(dir, 'locked')) === '1',
        region: read(join(dir, 'region')) || list(dir).find((f) => /^region\d+$/.test(f)) || null,
      });
    }
  }
  for (const name of names) {
    if (!/^region\d+$/.test(name)) continue;
    const dir = join(devices, name);
    const targets = list(dir)
      .filter((f) => /^target\d+$/.test(f))
      .map((f) => read(join(dir, f)) ?? '')
      .filter(Boolean);
    const parent = basename(join(resolved(dir), '..'));
    const endpointModes = decoders.filter((d) => (d.region === name || targets.includes(d.name)) && d.kind === 'endpoint' && d.mode).map((d) => d.mode!);
    regions.push({
      name,
      size: num(join(dir, 'size')) ?? 0,
      mode: read(join(dir, 'mode')) ?? endpointModes[0] ?? null,
      committed: read(join(dir, 'commit')) === '1',
      interleaveWays: num(join(dir, 'interleave_ways')),
      interleaveGranularity: num(join(dir, 'interleave_granularity')),
      resource: read(join(dir, 'resource')),
      rootDecoder: /^decoder\d+\.\d+$/.test(parent) ? parent : null,
      targets,
    });
  }
  // An endpoint decoder names its region only through the region's target list.
  for (const r of regions) {
    for (const t of r.targets) {
      const i = decoders.findIndex((d) => d.name === t);
      if (i >= 0 && decoders[i]!.region === null) decoders[i] = { ...decoders[i]!, region: r.name };
    }
  }
  if (memdevs.length === 0) notes.add('no CXL memdev', 'no CXL memory device: /sys/bus/cxl/devices lists no memN');
  else if (regions.length === 0) notes.add('no CXL region', 'no CXL region: memory devices are present but none is decoded (make one with `cxl create-region`)');
  return { memdevs, regions, decoders };
}

function discoverNodes(sys: string, notes: Notes): NumaNode[] {
  const base = join(sys, 'devices', 'system', 'node');
  if (!existsSync(base)) {
    notes.add('no NUMA information', 'no NUMA information: /sys/devices/system/node is missing (kernel without CONFIG_NUMA)');
    return [];
  }
  const ids = list(base)
    .map((d) => /^node(\d+)$/.exec(d)?.[1])
    .filter((d): d is string => d !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const online = parseList(read(join(base, 'online')));
  const order = online.length > 0 ? online : ids;
  const nodes: NumaNode[] = ids.map((node) => {
    const dir = join(base, `node${node}`);
    const cpus = read(join(dir, 'cpulist')) ?? '';
    const meminfo = read(join(dir, 'meminfo'));
    const kb = meminfo === null ? null : /MemTotal:\s+(\d+)\s*kB/.exec(meminfo)?.[1];
    const row = (read(join(dir, 'distance')) ?? '').split(/\s+/).filter(Boolean).map(Number);
    const distances: Record<number, number> = {};
    row.forEach((d, i) => {
      const to = order[i];
      if (to !== undefined && Number.isFinite(d)) distances[to] = d;
    });
    return { node, cpus, cpuless: parseList(cpus).length === 0, memBytes: kb ? Number(kb) * 1024 : null, distances };
  });
  if (!nodes.some((n) => n.cpuless)) {
    notes.add('no CPU-less node', 'no CPU-less NUMA node: CXL memory onlined as system-ram shows up as one (`daxctl reconfigure-device --mode=system-ram daxX.Y`)');
  }
  return nodes;
}

/** Everything sysfs says about CXL / device-DAX memory and NUMA nodes. Never throws. */
export function discover(options: DiscoverOptions = {}): Discovery {
  const root = options.root ?? '/';
  const sys = join(root, 'sys');
  const notes = new Notes();
  if (!existsSync(sys)) {
    return { root, dax: [], cxl: { memdevs: [], regions: [], decoders: [] }, nodes: [], notes: [`no sysfs at ${sys}`], missing: ['no sysfs'] };
  }
  return { root, dax: discoverDax(sys, root, notes), cxl: discoverCxl(sys, notes), nodes: discoverNodes(sys, notes), notes: notes.long, missing: notes.short };
}

/** The device-DAX device behind a character device path, by its device number; undefined when none. */
export function daxDeviceOf(path: string, options: DiscoverOptions = {}): DaxDevice | undefined {
  let rdev: number;
  try {
    const st = statSync(path);
    if (!st.isCharacterDevice()) return undefined;
    rdev = st.rdev;
  } catch {
    return undefined;
  }
  // Linux's dev_t encoding (new_encode_dev), for device numbers below 2^32.
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  const sysfs = resolved(join(options.root ?? '/', 'sys', 'dev', 'char', `${major}:${minor}`));
  const name = basename(sysfs);
  return discover(options).dax.find((d) => d.name === name || d.sysfs === sysfs);
}

/** CPU-less nodes, nearest first as seen from `from` (distance, then node id). */
export function cpulessNodes(d: Discovery, from: number): NumaNode[] {
  const dist = (n: NumaNode) => d.nodes.find((x) => x.node === from)?.distances[n.node] ?? n.distances[from] ?? Number.MAX_SAFE_INTEGER;
  return d.nodes.filter((n) => n.cpuless && (n.memBytes ?? 1) > 0).sort((a, b) => dist(a) - dist(b) || a.node - b.node);
}

function mib(n: number): string {
  return n >= 1024 * 1024 * 1024 && n % (1024 * 1024 * 1024) === 0 ? `${n / 1024 ** 3} GiB` : `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;
}

/** One line per thing found (and the notes on what was not), for `datamover info`. */
export function summarize(d: Discovery): string[] {
  const out: string[] = [];
  for (const x of d.dax) {
    out.push(
      `${x.name}: ${x.mode}, ${mib(x.size)}, align ${mib(x.align)}, ${x.persistent ? 'persistent' : 'volatile'} (${x.provider})` +
        `${x.targetNode === null ? '' : `, target node ${x.targetNode}`}${x.mode === 'devdax' ? `, ${x.path}` : ''}`,
    );
  }
  for (const m of d.cxl.memdevs) out.push(`${m.name}: CXL memdev, ram ${mib(m.ramBytes)}, pmem ${mib(m.pmemBytes)}${m.firmware ? `, firmware "${m.firmware}"` : ''}`);
  for (const r of d.cxl.regions) {
    out.push(`${r.name}: CXL region, ${r.mode ?? 'mode ?'}, ${mib(r.size)}, ${r.committed ? 'committed' : 'not committed'}, ${r.interleaveWays ?? '?'}-way${r.targets.length ? `, targets ${r.targets.join(' ')}` : ''}`);
  }
  if (d.cxl.decoders.length > 0) out.push(`decoders: ${d.cxl.decoders.map((x) => `${x.name} (${x.kind}${x.mode ? ` ${x.mode}` : ''}${x.region ? ` → ${x.region}` : ''})`).join(', ')}`);
  for (const n of d.nodes) {
    if (!n.cpuless) continue;
    const dist = Object.entries(n.distances)
      .map(([to, v]) => `${to}:${v}`)
      .join(' ');
    out.push(`node${n.node}: CPU-less${n.memBytes === null ? '' : `, ${mib(n.memBytes)}`}, distances ${dist}`);
  }
  for (const note of d.notes) out.push(note);
  return out;
}

/** One line for a table cell: what was found, or why nothing was. */
export function brief(d: Discovery): string {
  const parts: string[] = [];
  for (const x of d.dax) parts.push(`${x.name} ${x.mode} ${mib(x.size)} ${x.persistent ? 'persistent' : 'volatile'}`);
  for (const m of d.cxl.memdevs) parts.push(`${m.name} (CXL${m.ramBytes ? ` ram ${mib(m.ramBytes)}` : ''}${m.pmemBytes ? ` pmem ${mib(m.pmemBytes)}` : ''})`);
  for (const r of d.cxl.regions) parts.push(`${r.name} (CXL ${r.mode ?? '?'} ${mib(r.size)}${r.committed ? '' : ', not committed'})`);
  for (const n of d.nodes) {
    if (!n.cpuless) continue;
    const near = Math.min(...Object.entries(n.distances).filter(([to]) => Number(to) !== n.node).map(([, v]) => v));
    parts.push(`node${n.node} CPU-less${n.memBytes === null ? '' : ` ${mib(n.memBytes)}`}${Number.isFinite(near) ? ` distance ${near}` : ''}`);
  }
  if (parts.length === 0) return `nothing found (${d.missing.join(', ')})`;
  return parts.join(', ');
}
