/**
 * The soft backend's native addon (build/Release/datamover_soft.node): core's host engine,
 * loaded through core's addonLoader.
 */
import { addonLoader, type HostEngineAddon } from '@datamover/core';

/** The addon: core's host engine, host allocator and host addresses (native/addon.cc). */
export type NativeAddon = HostEngineAddon;

const loader = addonLoader<NativeAddon>({ name: 'soft', packageRoot: new URL('..', import.meta.url) });
/** Where the addon is built; DATAMOVER_SOFT_ADDON selects another build (e.g. a sanitizer build). */
export const addonPath = loader.path;
/** The addon, or the reason it cannot be loaded. */
export const loadNative = loader.load;
