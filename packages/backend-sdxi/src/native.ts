/**
 * The software SDXI function's native addon (build/Release/datamover_sdxi.node): its typed
 * interface, loaded and called through core's addonLoader and nativeCaller.
 */
import { addonLoader, ErrorCode, nativeCaller, type HostEngineAddon } from '@datamover/core';

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
  /** The CPU path's engine: core's host engine (packages/core/native/host_engine.h). */
  CpuEngine: HostEngineAddon['Engine'];
  allocateAligned: HostEngineAddon['allocateAligned'];
  memoryAddress: HostEngineAddon['memoryAddress'];
}

const loader = addonLoader<NativeAddon>({ name: 'sdxi', packageRoot: new URL('..', import.meta.url), what: 'software SDXI function' });
/** Where the addon is built; DATAMOVER_SDXI_ADDON selects another build (e.g. a sanitizer build). */
export const addonPath = loader.path;
/** The addon, or the reason it cannot be loaded. */
export const loadNative = loader.load;
/** Runs a call into the addon; what it throws arrives as a DatamoverError. */
export const native = nativeCaller({ backend: 'sdxi', label: 'software SDXI function', codes: { FUNCTION_CLOSED: ErrorCode.MOVER_CLOSED } });
