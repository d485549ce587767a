/**
 * The rdma engine session: the native engine (ring consumer, QPs, CQs) plus the registration
 * cache for local regions and the table of imported remote regions.
 */
import { BACKEND_STATUS_BASE, datamoverError, ErrorCode, isHostMemory, threadCallback, type EngineErrorInfo, type EngineSession, type RegionInfo, type Ring } from '@datamover/core';
import { isRemoteMemory } from './remote-memory.js';
import { native, type EngineOptions, type NativeAddon, type NativeEngine, type NativeEvent } from './native.js';
import { RegistrationCache, type CacheEntry } from './reg-cache.js';
import { RdmaErrorCode } from './errors.js';

/** Backend completion statuses (native/consumer.cc). */
export const STATUS_WC = BACKEND_STATUS_BASE;
export const STATUS_DISCONNECT = BACKEND_STATUS_BASE + 1;
export const STATUS_REVOKED = BACKEND_STATUS_BASE + 2;

/** enum ibv_wc_status, by value (rdma-core's verbs.h). */
export const WC_STATUS = [
  'IBV_WC_SUCCESS', 'IBV_WC_LOC_LEN_ERR', 'IBV_WC_LOC_QP_OP_ERR', 'IBV_WC_LOC_EEC_OP_ERR', 'IBV_WC_LOC_PROT_ERR',
  'IBV_WC_WR_FLUSH_ERR', 'IBV_WC_MW_BIND_ERR', 'IBV_WC_BAD_RESP_ERR', 'IBV_WC_LOC_ACCESS_ERR', 'IBV_WC_REM_INV_REQ_ERR',
  'IBV_WC_REM_ACCESS_ERR', 'IBV_WC_REM_OP_ERR', 'IBV_WC_RETRY_EXC_ERR', 'IBV_WC_RNR_RETRY_EXC_ERR', 'IBV_WC_LOC_RDD_VIOL_ERR',
  'IBV_WC_REM_INV_RD_REQ_ERR', 'IBV_WC_REM_ABORT_ERR', 'IBV_WC_INV_EECN_ERR', 'IBV_WC_INV_EEC_STATE_ERR', 'IBV_WC_FATAL_ERR',
  'IBV_WC_RESP_TIMEOUT_ERR', 'IBV_WC_GENERAL_ERR', 'IBV_WC_TM_ERR', 'IBV_WC_TM_RNDV_INCOMPLETE',
] as const;
const REM_ACCESS_ERR = 10;

/** Shared between an imported region's memory and the session: revocation reaches both. */
export interface ImportRecord {
  readonly peer: number;
  readonly nodeId: string;
  readonly exportId: number;
  revoked: boolean;
  /** Region-table indexes registered with the engine for this import. */
  readonly indexes: Set<number>;
}

interface LocalMr {
  id: number;
  lkey: number;
}

export class RdmaSession implements EngineSession {
  /** Host addresses, so the Mover judges overlap by address up front. */
  readonly memoryAddress: (view: Uint8Array) => number;
  readonly concurrent = true;
  readonly native: NativeEngine;
  readonly cache: RegistrationCache<LocalMr>;
  readonly #local = new Map<number, CacheEntry<LocalMr>>();
  readonly #remote = new Map<number, ImportRecord>();
  /** Set by the control plane (node.ts); gets the engine's connection and immediate events. */
  onEvents: (events: NativeEvent[]) => void = () => {};
  /** Extra stats from the control plane. */
  extraStats: () => Record<string, number | string> = () => ({});
  /** Called first on close (the control plane closes its sockets). */
  onClose: () => void = () => {};
  #held = false;
  #closed = false;

  constructor(addon: NativeAddon, ring: Ring, onProgress: () => void, options: EngineOptions) {
    if (!addon.Engine) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, 'rdma: the addon was built without rdma-core headers');
    this.memoryAddress = addon.memoryAddress;
    const progress = threadCallback(onProgress, () => this.#closed);
    const events = threadCallback((evts: NativeEvent[]) => this.onEvents(evts), () => this.#closed);
    this.native = native(() => new addon.Engine!(new Uint8Array(ring.sab), progress, events, options));
    this.cache = new RegistrationCache<LocalMr>({
      register: (view) => {
        const [id, lkey] = native(() => this.native.regMr(view, 0));
        return { id, lkey };
      },
      deregister: (mr) => {
        this.native.deregMr(mr.id);
      },
    });
  }

  register(region: RegionInfo): void {
    const m = region.memory;
    if (isHostMemory(m)) {
      const { entry } = this.cache.acquire(m.view);
      try {
        native(() => this.native.registerHost(region.index, m.view, region.writable, entry.mr.lkey));
      } catch (e) {
        this.cache.release(entry);
        throw e;
      }
      this.#local.set(region.index, entry);
    } else if (isRemoteMemory(m)) {
      const rec = m.handle as ImportRecord;
      native(() => this.native.registerRemote(region.index, rec.peer, m.address, region.length, m.rkey, region.writable));
      rec.indexes.add(region.index);
      this.#remote.set(region.index, rec);
      if (rec.revoked) this.native.revokeRemote(region.index);
    } else {
      throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `rdma: cannot register a ${m.kind} region`);
    }
  }

  deregister(index: number): void {
    native(() => this.native.deregister(index));
    const entry = this.#local.get(index);
    if (entry) {
      this.#local.delete(index);
      this.cache.release(entry);
    }
    const rec = this.#remote.get(index);
    if (rec) {
      this.#remote.delete(index);
      rec.indexes.delete(index);
    }
  }

  /** Marks every registered region of an import revoked: later work on it fails ACCESS_REVOKED. */
  revokeImport(rec: ImportRecord): void {
    rec.revoked = true;
    for (const i of rec.indexes) this.native.revokeRemote(i);
  }

  doorbell(): void {
    native(() => this.native.doorbell());
  }

  hold(active: boolean): void {
    if (active === this.#held || this.#closed) return;
    this.#held = active;
    if (active) this.native.ref();
    else this.native.unref();
  }

  describeError(status: number, detail: number, result: number): EngineErrorInfo | undefined {
    const wcStatus = WC_STATUS[detail] ?? `ibv_wc_status ${detail}`;
    const rec = this.#remote.get(result);
    const where = rec ? ` (export ${rec.exportId} of node ${rec.nodeId.slice(0, 8)}…)` : '';
    if (status === STATUS_DISCONNECT) {
      return { code: RdmaErrorCode.REMOTE_DISCONNECT, message: `the peer is disconnected or stopped answering${detail ? ` (${wcStatus})` : ''}${where}; the data did not land`, detail: { wcStatus: detail || undefined, wcStatusName: detail ? wcStatus : undefined } };
    }
    if (status === STATUS_REVOKED) {
      return { code: RdmaErrorCode.ACCESS_REVOKED, message: `the exporter revoked this remote region${where}`, detail: {} };
    }
    if (status === STATUS_WC) {
      if (detail === REM_ACCESS_ERR) {
        // Ranges and access are checked here before posting, so the NIC refusing the rkey means
        // the exporter deregistered the memory: the export was revoked.
        return { code: RdmaErrorCode.ACCESS_REVOKED, message: `remote access error from the peer's NIC (IBV_WC_REM_ACCESS_ERR): the export was revoked${where}`, detail: { wcStatus: detail, wcStatusName: wcStatus } };
      }
      return { code: ErrorCode.DEVICE_ERROR, message: `work completion failed: ${wcStatus}${where}`, detail: { wcStatus: detail, wcStatusName: wcStatus } };
    }
    return undefined;
  }

  stats(): Record<string, number | string> {
    const c = this.cache.stats;
    return {
      engine: 'verbs',
      ...(this.#closed ? {} : this.native.stats()),
      mrRegistrations: c.registrations,
      mrCacheHits: c.hits,
      mrBytesRegistered: c.bytesRegistered,
      mrLiveBytes: c.liveBytes,
      mrRegistrationMs: Math.round(c.registrationMs * 1000) / 1000,
      ...this.extraStats(),
    };
  }

  close(): void {
    if (this.#closed) return;
    try {
      this.onClose();
    } finally {
      this.#closed = true;
      this.cache.clear();
      this.native.close();
    }
  }
}
