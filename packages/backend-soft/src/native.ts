/**
 * The one loader of the soft backend's native addon. It loads build/Release/datamover_soft.node
 * once and turns a missing or broken build into a message that says what to do.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RingConsumerStats } from '@datamover/core';

/** The native engine class the addon exports (see native/engine.cc). */
export interface NativeEngine {
  registerHost(index: number, view: Uint8Array, writable: boolean): void;
  registerFile(index: number, fd: number, directFd: number, fileOffset: number, length: number, writable: boolean): void;
  deregister(index: number): void;
  doorbell(): void;
  ref(): void;
  unref(): void;
  close(): void;
  /** The ring consumer's counters (still readable after close()). */
  stats(): RingConsumerStats;
}

export interface NativeInfo {
  ntThreshold: number;
  llcBytes: number;
  crc32c: 'sse4.2' | 'table';
  avx2: boolean;
  pageSize: number;
  /** Threads (the engine's own included) that share one striped copy or fill of 8 MiB or more. */
  copyThreads: number;
}

export interface NativeAddon {
  Engine: {
    new (ring: Uint8Array, onProgress: () => void, options?: { spinMicros?: number; ntThreshold?: number }): NativeEngine;
    info(): NativeInfo;
    abiOffsets(): Record<string, Record<string, number>>;
  };
  /** Zeroed host memory at an aligned address, freed when the ArrayBuffer is collected. */
  allocateAligned(size: number, alignment: number): ArrayBuffer;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the addon is built; DATAMOVER_SOFT_ADDON selects another build (e.g. AddressSanitizer). */
export const addonPath = process.env.DATAMOVER_SOFT_ADDON ?? join(packageRoot, 'build', 'Release', 'datamover_soft.node');

let loaded: { addon: NativeAddon } | { error: string } | undefined;

/** The addon, or the reason it cannot be loaded. */
export function loadNative(): { addon: NativeAddon } | { error: string } {
  if (loaded) return loaded;
  if (!existsSync(addonPath)) {
    loaded = { error: `native addon not built (${addonPath} is missing); run \`pnpm install\` or \`pnpm --filter @datamover/backend-soft build:native\`` };
  } else {
    try {
      loaded = { addon: createRequire(import.meta.url)(addonPath) as NativeAddon };
    } catch (e) {
      loaded = { error: `native addon at ${addonPath} failed to load: ${(e as Error).message}` };
    }
  }
  return loaded;
}
