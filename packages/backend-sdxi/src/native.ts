/**
 * The one loader of the software SDXI function's native addon: build/Release/datamover_sdxi.node,
 * loaded once; a missing or broken build becomes a message that says what to do.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The function thread the addon runs (native/addon.cc). */
export interface NativeFunction {
  bind(pasid: number, view: Uint8Array, writable: boolean): void;
  unbind(pasid: number): void;
  ref(): void;
  unref(): void;
  close(): void;
}

export interface NativeAddon {
  SoftwareFunction: new (bar0: Uint8Array, arena: Uint8Array, signals: Int32Array, onInterrupt: (vector: number) => void, options?: { spinMicros?: number }) => NativeFunction;
  /** Wakes the function thread after a doorbell or register store (callable from any thread). */
  wake(signals: Int32Array): void;
  /** The addon's SDXI constants, for the layout cross-check. */
  layout(): Record<string, number>;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the addon is built; DATAMOVER_SDXI_ADDON selects another build (e.g. AddressSanitizer). */
export const addonPath = process.env.DATAMOVER_SDXI_ADDON ?? join(packageRoot, 'build', 'Release', 'datamover_sdxi.node');

let loaded: { addon: NativeAddon } | { error: string } | undefined;

/** The addon, or the reason it cannot be loaded. */
export function loadNative(): { addon: NativeAddon } | { error: string } {
  if (loaded) return loaded;
  if (!existsSync(addonPath)) {
    loaded = { error: `software SDXI function not built (${addonPath} is missing); run \`pnpm install\` or \`pnpm --filter @datamover/backend-sdxi build:native\`` };
  } else {
    try {
      loaded = { addon: createRequire(import.meta.url)(addonPath) as NativeAddon };
    } catch (e) {
      loaded = { error: `software SDXI function at ${addonPath} failed to load: ${(e as Error).message}` };
    }
  }
  return loaded;
}
