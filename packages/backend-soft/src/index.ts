/**
 * @packageDocumentation
 * The soft backend: a pure-TypeScript engine (the correctness oracle) and a native engine on
 * its own worker thread (the fast default). Both consume core's shared descriptor ring and run
 * every operation on host and file regions. Importing this package makes it a default backend
 * of `Mover.open()`.
 */
import { allOperations, HostEngineSession, packageInfo, registerDefaultBackend, TsEngine, type Backend, type Capabilities, type EngineSession, type HostEngineOptions, type ProbeResult, type Ring } from '@datamover/core';
import { loadNative } from './native.js';

/** The oracle lives in core (the engine ABI's reference semantics); soft runs it as its 'ts' engine and keeps exporting it. */
export { crc32c, TsEngine } from '@datamover/core';
export { addonPath, loadNative } from './native.js';
export type { NativeAddon } from './native.js';

export interface SoftOptions extends HostEngineOptions {
  /** 'native' (fails if the addon is missing), 'ts' (the oracle), or 'auto' (default: native, else ts). */
  engine?: 'native' | 'ts' | 'auto';
  /** Ring slots (a power of two, default 4096). */
  ringEntries?: number;
}

const VERSION = packageInfo(new URL('..', import.meta.url)).version;
const CAPABILITIES: Capabilities = {
  operations: allOperations(['host', 'file']),
  maxDescriptorBytes: 2 ** 32,
  maxRegions: 1 << 16,
};

let warnedStandIn = false;
/** Once per process: the TypeScript engine runs because the native one is missing (it is far slower, and cannot allocate aligned memory). */
function warnStandIn(reason: string): void {
  if (warnedStandIn) return;
  warnedStandIn = true;
  process.emitWarning(`the soft backend runs its TypeScript engine: ${reason}`, { code: 'DATAMOVER_SOFT_TS_ENGINE' });
}

/** Creates the soft backend. */
export function soft(options: SoftOptions = {}): Backend {
  const choice = options.engine ?? 'auto';
  const engineName = (): 'native' | 'ts' | undefined => {
    if (choice === 'ts') return 'ts';
    const n = loadNative();
    if ('addon' in n) return 'native';
    return choice === 'auto' ? 'ts' : undefined;
  };
  return {
    name: choice === 'ts' ? 'soft-ts' : 'soft',
    version: VERSION,
    kind: 'software',
    ringEntries: options.ringEntries ?? 4096,
    async probe(): Promise<ProbeResult> {
      const n = loadNative();
      const engine = engineName();
      if (!engine) return { available: false, reason: 'error' in n ? n.error : 'native engine unavailable' };
      const details: Record<string, unknown> = { engine };
      if ('addon' in n) return { available: true, details: { ...details, native: n.addon.Engine.info() } };
      return { available: true, details, ...(choice === 'auto' ? { standIn: { part: 'native engine', reason: n.error } } : {}) };
    },
    capabilities: () => CAPABILITIES,
    async open(ring: Ring, onProgress: () => void): Promise<EngineSession> {
      const n = loadNative();
      if (engineName() === 'native' && 'addon' in n) {
        const { spinMicros, ntThreshold } = options;
        return new HostEngineSession(n.addon, ring, onProgress, { ...(spinMicros === undefined ? {} : { spinMicros }), ...(ntThreshold === undefined ? {} : { ntThreshold }) }, 'soft');
      }
      if (choice === 'native') throw new Error('error' in n ? n.error : 'native engine unavailable');
      if (choice === 'auto' && 'error' in n) warnStandIn(n.error);
      return new TsEngine(ring, onProgress, 'addon' in n ? n.addon : undefined);
    },
  };
}

registerDefaultBackend('soft', () => soft());
