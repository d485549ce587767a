/**
 * The rdma backend's native addon (build/Release/datamover_rdma.node): its typed interface, loaded
 * and called through core's addonLoader and nativeCaller. Loading never needs RDMA libraries:
 * the addon dlopens libibverbs and librdmacm when asked.
 */
import { addonLoader, ErrorCode, nativeCaller } from '@datamover/core';

/** What the addon's probe() found: `missing` names the first thing absent, in fixing order. */
export interface NativeProbe {
  /** Whether the addon was built against rdma-core's headers. */
  headers: boolean;
  missing?: 'headers' | 'libibverbs' | 'librdmacm' | 'device' | 'active-port' | 'gid';
  message?: string;
  devices?: { name: string; ports: { port: number; active: boolean; mtu: number; gids: number }[] }[];
}

export interface NativeEvent {
  type: 'established' | 'qp-down' | 'connect-failed' | 'rejected' | 'imm';
  peer: number;
  qp?: number;
  value?: number;
  bytes?: number;
  message?: string;
}

export interface EngineOptions {
  device?: string;
  qpsPerPeer?: number;
  chunkBytes?: number;
  sendDepth?: number;
  ackTimeout?: number;
  retryCount?: number;
}

/** The native engine class (native/rdma.cc). */
export interface NativeEngine {
  /** ibv_reg_mr: remote 0 local only, 1 + remote read, 2 + remote read/write. → [id, lkey, rkey, address]. */
  regMr(view: Uint8Array, remote: 0 | 1 | 2): [number, number, number, bigint];
  deregMr(id: number): boolean;
  registerHost(index: number, view: Uint8Array, writable: boolean, lkey: number): void;
  registerRemote(index: number, peer: number, address: bigint, length: number, rkey: number, writable: boolean): void;
  revokeRemote(index: number): void;
  deregister(index: number): void;
  listen(host: string, port: number): number;
  expectPeer(connKey: bigint, peer: number): void;
  connectQp(peer: number, qp: number, host: string, port: number, connKey: bigint): void;
  dropPeer(peer: number): void;
  doorbell(): void;
  ref(): void;
  unref(): void;
  stats(): Record<string, number | string>;
  close(): void;
}

export interface NativeAddon {
  /** The address of the view's first byte (core's kit, memory_address.h): compared, never passed back. */
  memoryAddress(view: Uint8Array): number;
  probe(): NativeProbe;
  Engine?: new (ring: Uint8Array, onProgress: () => void, onEvents: (events: NativeEvent[]) => void, options?: EngineOptions) => NativeEngine;
}

const loader = addonLoader<NativeAddon>({ name: 'rdma', packageRoot: new URL('..', import.meta.url) });
/** Where the addon is built; DATAMOVER_RDMA_ADDON selects another build (e.g. a sanitizer build). */
export const addonPath = loader.path;
/** The addon, or the reason it cannot be loaded. */
export const loadNative = loader.load;
/** Runs a call into the addon; what it throws arrives as a DatamoverError. */
export const native = nativeCaller({ backend: 'rdma', label: 'rdma', codes: { ENGINE_CLOSED: ErrorCode.MOVER_CLOSED } });
