/**
 * @packageDocumentation
 * The soft backend: a pure-TypeScript engine (the correctness oracle) and a native engine on
 * its own worker thread (the fast default). Both consume core's shared descriptor ring and run
 * every operation on host and file regions. Importing this package makes it a default backend
 * of `Mover.open()`.
 */
import { allOperations, packageInfo, registerDefaultBackend, type Backend, type Capabilities, type EngineSession, type ProbeResult, type Ring } from '@datamover/core';
import { NativeEngineSession, type NativeEngineOptions } from './native-engine.js';
import { loadNative } from './native.js';
import { TsEngine } from './ts-engine.js';

export { crc32c } from './crc32c.js';
export { addonPath, loadNative } from './native.js';
export type { NativeAddon, NativeEngine, NativeInfo } from './native.js';
export type { NativeEngineOptions } from './native-engine.js';
export { TsEngine } from './ts-engine.js';

export interface SoftOptions extends NativeEngineOptions {
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
      if ('addon' in n) details.native = n.addon.Engine.info();
      else details.nativeUnavailable = n.error;
      return { available: true, details };
    },
    capabilities: () => CAPABILITIES,
    async open(ring: Ring, onProgress: () => void): Promise<EngineSession> {
      const n = loadNative();
      if (engineName() === 'native' && 'addon' in n) {
        const { spinMicros, ntThreshold } = options;
        return new NativeEngineSession(n.addon, ring, onProgress, { ...(spinMicros === undefined ? {} : { spinMicros }), ...(ntThreshold === undefined ? {} : { ntThreshold }) });
      }
      if (choice === 'native') throw new Error('error' in n ? n.error : 'native engine unavailable');
      return new TsEngine(ring, onProgress, 'addon' in n ? n.addon : undefined);
    },
  };
}

registerDefaultBackend('soft', () => soft());
