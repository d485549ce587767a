/**
 * @packageDocumentation
 * The cxl backend: CXL and persistent memory as Datamover address spaces.
 *
 * - `dax` regions over a device-DAX device or any file mapped MAP_SHARED (`openDax`), with copy,
 *   fill, compare, crc32c and write-immediate between host and dax and dax and dax (the soft
 *   backend's executor, non-temporal stores for large moves), and `durable` writes (cache
 *   write-back + fence, MAP_SYNC, or msync) on persistent media;
 * - NUMA placement for CXL memory in system-ram mode (a CPU-less node): `allocOnNode`, `demote`,
 *   `promote`, `pageNodes`;
 * - discovery from sysfs (`discover`): device-DAX devices, the CXL topology, NUMA nodes and distances.
 *
 * Importing this package makes it a default backend of `Mover.open()`.
 */
import { packageInfo, registerDefaultBackend, type Backend, type Capabilities, type EngineSession, type OperationSupport, type ProbeResult, type Ring, type SpaceKind } from '@datamover/core';
import { brief, discover, type Discovery, type DiscoverOptions } from './discovery.js';
import { CxlEngineSession, type CxlEngineOptions } from './engine.js';
import { BACKEND_NAME, loadNative } from './native.js';
import { daxFileProvider } from './testing.js';

export { brief, cpulessNodes, daxDeviceOf, discover, parseList, summarize } from './discovery.js';
export type { CxlDecoder, CxlMemdev, CxlRegion, DaxDevice, Discovery, DiscoverOptions, NumaNode } from './discovery.js';
export { daxSpace, isDaxMemory } from './dax-memory.js';
export type { DaxMemory } from './dax-memory.js';
export { daxFacts, mapDax, openDax, requireCxl } from './dax.js';
export type { DaxFacts, Mapped, MapRequest, OpenDaxOptions } from './dax.js';
export { CxlEngineSession } from './engine.js';
export type { CxlEngineOptions } from './engine.js';
export { addonPath, loadNative } from './native.js';
export type { MappingFacts, MoveReport, NativeAddon, NativeEngine, NativeInfo, NativeMapping } from './native.js';
export { allocOnNode, demote, movePages, nearestCpuless, pageNodes, promote } from './numa.js';
export type { MoveResult } from './numa.js';

export interface CxlOptions extends CxlEngineOptions {
  /** Ring slots (a power of two, default 4096). */
  ringEntries?: number;
  /** Where sysfs lives for discovery (tests); default '/'. */
  sysfsRoot?: string;
}

/** Capabilities plus what discovery found about NUMA nodes. */
export interface CxlCapabilities extends Capabilities {
  readonly numa: {
    /** Every node: its CPUs ('' when CPU-less), memory and distance to each node. */
    readonly nodes: Discovery['nodes'];
  };
}

/** The cxl backend: a Backend whose capabilities also carry the NUMA nodes. */
export interface CxlBackend extends Backend {
  capabilities(): CxlCapabilities;
}

const VERSION = packageInfo(new URL('..', import.meta.url)).version;

/** Every operation that touches a dax region: host↔dax, dax↔dax, and single-operand ones on dax. Host↔host stays with soft. */
export function daxOperations(): OperationSupport[] {
  const out: OperationSupport[] = [{ op: 'nop', src: null, dst: null }];
  out.push({ op: 'fill', src: null, dst: 'dax' }, { op: 'crc32c', src: 'dax', dst: null }, { op: 'writeImm', src: null, dst: 'dax' });
  out.push({ op: 'fillStrided', src: null, dst: 'dax' }, { op: 'crc32cStrided', src: 'dax', dst: null });
  const pairs: [SpaceKind, SpaceKind][] = [
    ['host', 'dax'],
    ['dax', 'host'],
    ['dax', 'dax'],
  ];
  for (const [src, dst] of pairs) out.push({ op: 'copy', src, dst }, { op: 'compare', src, dst }, { op: 'copyStrided', src, dst }, { op: 'compareStrided', src, dst });
  return out;
}

/** Creates the cxl backend. */
export function cxl(options: CxlOptions = {}): CxlBackend {
  const where: DiscoverOptions = options.sysfsRoot === undefined ? {} : { root: options.sysfsRoot };
  let found: Discovery | undefined;
  const discovery = () => (found ??= discover(where));
  return {
    name: BACKEND_NAME,
    version: VERSION,
    // The data path is the CPU's loads and stores (no DMA engine), so routing treats it as software.
    kind: 'software',
    ringEntries: options.ringEntries ?? 4096,
    async probe(): Promise<ProbeResult> {
      const n = loadNative();
      if ('error' in n) return { available: false, reason: n.error };
      const d = (found = discover(where));
      const info = n.addon.info();
      return {
        available: true,
        details: {
          engine: 'native',
          flush: info.flush,
          // One line (datamover info prints it in a table cell); discover() / summarize() give the rest.
          found: brief(d),
        },
      };
    },
    capabilities(): CxlCapabilities {
      return { operations: daxOperations(), maxDescriptorBytes: 2 ** 32, maxRegions: 1 << 16, durable: ['dax'], numa: { nodes: discovery().nodes } };
    },
    async open(ring: Ring, onProgress: () => void): Promise<EngineSession> {
      const n = loadNative();
      if ('error' in n) throw new Error(n.error);
      const { spinMicros, ntThreshold } = options;
      return new CxlEngineSession(n.addon, ring, onProgress, { ...(spinMicros === undefined ? {} : { spinMicros }), ...(ntThreshold === undefined ? {} : { ntThreshold }) });
    },
  };
}

registerDefaultBackend(BACKEND_NAME, () => cxl());

/** Region factories the conformance CLI uses for cxl: `dax` regions over a MAP_SHARED temp file. */
export function cxlConformanceKinds(): { dax: ReturnType<typeof daxFileProvider> } {
  return { dax: daxFileProvider() };
}

/** Picked up by `pnpm conformance` (@datamover/conformance's targets.ts). */
export const conformanceTargets: readonly { name: string; export: string; args: unknown[]; kinds: string }[] = [
  { name: 'cxl', export: 'cxl', args: [], kinds: 'cxlConformanceKinds' },
];
