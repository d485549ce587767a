/**
 * @packageDocumentation
 * The rdma backend: remote address spaces over libibverbs and librdmacm (InfiniBand, RoCE and
 * Soft-RoCE alike). A node exports host regions as compact tokens; a peer imports a token as a
 * region of kind 'remote' and moves bytes with one-sided RDMA WRITE (host → remote) and READ
 * (remote → host) through the ordinary Mover API; write-immediate to a remote region is an RDMA
 * WRITE_WITH_IMM the receiver can await. Importing this package makes rdma a default backend;
 * where RDMA is missing its probe says exactly what, and Mover.open() goes on without it.
 */
import { randomBytes } from 'node:crypto';
import { datamoverError, ErrorCode, packageInfo, registerDefaultBackend, type Backend, type Capabilities, type Mover, type ProbeResult, type Region, type Ring } from '@datamover/core';
import { loadNative, type EngineOptions } from './native.js';
import { type AwaitImmediateOptions, type ImmediateEvent, type Peer, RdmaNode } from './node.js';
import { HostList, LOOPBACK, peerAuthOf, type PeerAuthOption } from './peer-auth.js';
import { RdmaSession } from './session.js';
import type { Access } from './token.js';
import { rdmaConformanceTrim } from './conformance.js';

export { RdmaErrorCode } from './errors.js';
export { isRemoteMemory, remoteSpace } from './remote-memory.js';
export type { RemoteMemory } from './remote-memory.js';

export { addonPath, loadNative } from './native.js';
export type { EngineOptions, NativeAddon, NativeEngine, NativeEvent, NativeProbe } from './native.js';
export type { AwaitImmediateOptions, ImmediateEvent } from './node.js';
export { RegistrationCache } from './reg-cache.js';
export type { CacheEntry, CacheOptions, CacheStats } from './reg-cache.js';
export { STATUS_DISCONNECT, STATUS_REVOKED, STATUS_WC, WC_STATUS } from './session.js';
export { decodeToken, encodeToken, TOKEN_BYTES, TOKEN_VERSION, tokenKey, verifyToken } from './token.js';
export { sharedSecretAuth } from './peer-auth.js';
export { rdmaTransport } from './transport.js';
export type { PeerAuth, PeerAuthOption } from './peer-auth.js';
export type { Access, ExportToken } from './token.js';
export { rdmaConformanceKinds, rdmaConformanceTrim, rdmaHostAddress, softwareRdmaOnly } from './conformance.js';
export type { RemoteFixture, RemoteFixtureOptions, RemoteKindProvider } from './conformance.js';

export interface RdmaOptions extends EngineOptions {
  /** Ring slots (a power of two, default 4096). */
  ringEntries?: number;
  /**
   * How peers authenticate on the control channel: `{ secret }` (shared by every node, at least
   * 16 bytes) or a PeerAuth. Without it the node listens on loopback only and can connect only to
   * nodes without it.
   */
  peerAuth?: PeerAuthOption;
  /**
   * Hosts `import()` may connect to when a token names a node this one is not connected to: IP
   * addresses and CIDR subnets (default: loopback only). `connect()` is not limited by it.
   */
  allowHosts?: readonly string[];
}

const VERSION = packageInfo(new URL('..', import.meta.url)).version;
const CAPABILITIES: Capabilities = {
  operations: [
    { op: 'copy', src: 'host', dst: 'remote' },
    { op: 'copy', src: 'remote', dst: 'host' },
    { op: 'writeImm', src: null, dst: 'remote' },
  ],
  // IB's largest message is 2^31 bytes; larger descriptors are split by the Mover's callers.
  maxDescriptorBytes: 2 ** 31,
  maxRegions: 1 << 16,
};

/** What probe() reports, from the native probe: exactly what is missing. */
export async function probeRdma(): Promise<ProbeResult> {
  const n = loadNative();
  if ('error' in n) return { available: false, reason: n.error };
  const p = n.addon.probe();
  if (p.missing) return { available: false, reason: p.message ?? p.missing, details: { missing: p.missing, devices: p.devices ?? [] } };
  return { available: true, details: { devices: p.devices ?? [] } };
}

/** Creates the rdma backend. */
function createRdma(options: RdmaOptions = {}): Backend {
  const { ringEntries, peerAuth: authOption, allowHosts: hosts, ...engine } = options;
  // Checked here, so a bad option fails at rdma(…), not at Mover.open().
  const peerAuth = peerAuthOf(authOption);
  const allowHosts = hosts === undefined ? LOOPBACK : new HostList(hosts);
  return {
    name: 'rdma',
    version: VERSION,
    kind: 'hardware',
    ringEntries: ringEntries ?? 4096,
    probe: probeRdma,
    capabilities: () => CAPABILITIES,
    async open(ring: Ring, onProgress: () => void) {
      const n = loadNative();
      if ('error' in n) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, n.error);
      const session = new RdmaSession(n.addon, ring, onProgress, engine);
      const node = new RdmaNode(session, { qpsPerPeer: engine.qpsPerPeer ?? 2, allowHosts, ...(peerAuth ? { peerAuth } : {}) });
      nodes.set(session, node);
      liveNodes.set(node.nodeId, node);
      const closeNode = session.onClose;
      session.onClose = () => {
        liveNodes.delete(node.nodeId);
        closeNode();
      };
      return session;
    },
  };
}

const nodes = new WeakMap<RdmaSession, RdmaNode>();
/** Open nodes by node id, for sessions a decorator stands in front of. */
const liveNodes = new Map<string, RdmaNode>();

function nodeOf(mover: Mover): RdmaNode {
  const s = mover.engine('rdma');
  let node = s instanceof RdmaSession ? nodes.get(s) : undefined;
  if (!node && s) {
    // A decorator around the rdma engine (e.g. the conformance suite's fault injector) passes the
    // real session's stats through; they name its node.
    const id = s.stats?.()['nodeId'];
    if (typeof id === 'string') node = liveNodes.get(id);
  }
  if (!node) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `rdma is not open in this Mover (open: ${mover.backends.join(', ')}${mover.stats().unavailable.filter((r) => r.name === 'rdma').map((r) => `; rdma: ${r.reason}`).join('')})`);
  return node;
}

/** A connected peer, as `rdma.connect` returns it. */
export interface PeerInfo {
  /** The peer's node id (32 hex digits). */
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  /** Resolves once every QP to the peer is up (after a QP error or a revocation it reconnects). */
  ready(timeout?: number): Promise<void>;
}

function info(node: RdmaNode, p: Peer): PeerInfo {
  return { nodeId: p.nodeId, host: p.host, port: p.port, ready: (timeout?: number) => node.whenConnected(p, timeout) };
}

/** The rdma API on an open Mover. */
export const rdmaApi = {
  /** This node's id (what tokens and awaitImmediate name it by). */
  nodeId(mover: Mover): string {
    return nodeOf(mover).nodeId;
  },
  /**
   * Listens for peers on host:port (0 picks a port): the TCP control channel and rdma_cm use the
   * same port number. `advertise` is the address tokens carry (default: `host`). Without peerAuth
   * only a loopback host is allowed (default 127.0.0.1); with it any (default 0.0.0.0).
   */
  listen(mover: Mover, options: { host?: string; port?: number; advertise?: string } = {}): Promise<{ host: string; port: number }> {
    return nodeOf(mover).listen(options.host, options.port ?? 0, options.advertise);
  },
  /** Connects to a listening node (several RC QPs); imports from it then need no address. */
  async connect(mover: Mover, options: { host: string; port: number }): Promise<PeerInfo> {
    const node = nodeOf(mover);
    return info(node, await node.connect(options.host, options.port));
  },
  /** The connected peer with this node id. */
  peer(mover: Mover, nodeId: string): PeerInfo | undefined {
    const node = nodeOf(mover);
    const p = node.peerOf(nodeId);
    return p ? info(node, p) : undefined;
  },
  /** Exports a host region: a token string another node imports. */
  export(mover: Mover, region: Region, options: { access?: Access } = {}): string {
    return nodeOf(mover).export(region, options.access ?? 'read-only');
  },
  /**
   * Revokes an export (by token or export id): its memory registration is deregistered at once, so
   * later remote access fails at the NIC, and importers are told (unless `notify: false`), so their
   * later work fails before it is posted. Either way the importer sees ACCESS_REVOKED.
   */
  revoke(mover: Mover, token: string | number, options: { notify?: boolean } = {}): void {
    nodeOf(mover).revoke(token, options.notify ?? true);
  },
  /**
   * Imports a token: a region of kind 'remote'. INVALID_TOKEN when malformed or forged,
   * ACCESS_REVOKED when its export was withdrawn, ACCESS_DENIED when its host is not in allowHosts
   * or peer authentication fails.
   */
  import(mover: Mover, token: string): Promise<Region> {
    return nodeOf(mover).import(mover, token);
  },
  /** Resolves when a WRITE_WITH_IMM arrives (from `peer`, with `value`, when given). */
  awaitImmediate(mover: Mover, options: AwaitImmediateOptions = {}): Promise<ImmediateEvent> {
    return nodeOf(mover).awaitImmediate(options);
  },
};
/**
 * `rdma(options)` creates the backend; `rdma.listen / connect / export / import / revoke /
 * awaitImmediate(mover, …)` work on a Mover that has it open.
 */
export const rdma = Object.assign(createRdma, rdmaApi);

registerDefaultBackend('rdma', () => createRdma());

/**
 * For `pnpm conformance` (@datamover/conformance's CLI): the rdma target, with the region factory
 * for the 'remote' kind (exports looped back over the local RDMA device, see conformance.ts), scaled
 * down where the only RDMA devices are software ones (Soft-RoCE), with the reason printed.
 */
export const conformanceTargets: readonly { name: string; export: string; args: unknown[]; kinds: string; trim?: ReturnType<typeof rdmaConformanceTrim> }[] = [
  // The exporter listens on the device's address, so both Movers authenticate: a secret made per
  // run (the runner hands these args to its child, which opens both Movers with them).
  { name: 'rdma', export: 'rdma', args: [{ peerAuth: { secret: randomBytes(32).toString('hex') } }], kinds: 'rdmaConformanceKinds', ...optionalTrim() },
];

function optionalTrim(): { trim?: NonNullable<ReturnType<typeof rdmaConformanceTrim>> } {
  const trim = rdmaConformanceTrim();
  return trim ? { trim } : {};
}
