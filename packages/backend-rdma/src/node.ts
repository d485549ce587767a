/**
 * The control plane of one rdma session: a TCP side channel per peer (newline-delimited JSON)
 * next to the RDMA connections. It carries the handshake (node ids and the key the peer's QPs
 * present in their rdma_cm private data), import checks (export id + nonce, answered by the
 * exporter), and revocation notices. Its closing is how a peer's departure is noticed first.
 */
import { randomBytes } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { datamoverError, ErrorCode, type Mover, type Region } from '@datamover/core';
import { native, type NativeEvent } from './native.js';
import type { ImportRecord, RdmaSession } from './session.js';
import { type Access, decodeToken, encodeToken, nonceEqual } from './token.js';

interface Export {
  readonly id: number;
  readonly address: bigint;
  readonly rkey: number;
  readonly nonce: string;
  readonly mrId: number;
  readonly access: Access;
  readonly length: number;
  readonly token: string;
  readonly importers: Set<Peer>;
  revoked: boolean;
}

type Message =
  | { t: 'hello'; nodeId: string; host: string; port: number }
  | { t: 'welcome'; nodeId: string; connKey: string; host: string; port: number }
  | { t: 'import'; req: number; exportId: number; nonce: string; address: string; length: number; rkey: number; access: Access }
  | { t: 'import-ok'; req: number; length: number; access: Access }
  | { t: 'import-refused'; req: number; reason: string }
  | { t: 'revoked'; exportId: number };

/** A connected peer node. */
export class Peer {
  readonly qpsUp = new Set<number>();
  closed = false;
  readonly requests = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  readonly imports = new Map<number, ImportRecord>();
  connectFailures = 0;
  constructor(
    readonly id: number,
    readonly nodeId: string,
    readonly socket: Socket,
    /** 'client': this side connected and re-connects QPs that go down. */
    readonly role: 'client' | 'server',
    readonly host: string,
    readonly port: number,
    readonly connKey: bigint,
  ) {}
  send(m: Message): void {
    if (!this.closed) this.socket.write(`${JSON.stringify(m)}\n`);
  }
  get name(): string {
    return `${this.nodeId}@${this.host}:${this.port}`;
  }
}

export interface ImmediateEvent {
  /** The sender's node id. */
  readonly peer: string;
  /** The 32-bit immediate value (the low 32 bits of the write-immediate value). */
  readonly value: number;
}

export interface AwaitImmediateOptions {
  /** Only from this peer (node id, or a remote Region imported from it). */
  peer?: string | Region;
  /** Only this 32-bit value. */
  value?: number;
  timeout?: number;
  signal?: AbortSignal;
}

const CONNECT_TIMEOUT_MS = 20_000;
const DEBUG = process.env['DATAMOVER_RDMA_DEBUG'] === '1';
const debug = (...a: unknown[]) => {
  if (DEBUG) console.error('[rdma]', ...a);
};

export class RdmaNode {
  readonly nodeId = randomBytes(16).toString('hex');
  host = '';
  port = 0;
  #server: Server | undefined;
  readonly #peers = new Map<number, Peer>();
  readonly #byNode = new Map<string, Peer>();
  readonly #exports = new Map<number, Export>();
  #nextPeer = 1;
  #nextReq = 1;
  readonly #waiters = new Set<{ match: (e: ImmediateEvent) => boolean; resolve: (e: ImmediateEvent) => void; reject: (e: Error) => void }>();
  readonly #unclaimed: ImmediateEvent[] = [];
  readonly #established = new Set<() => void>();
  #closed = false;
  /** A ref'd timer while anyone awaits an immediate: a pending await keeps the process alive. */
  #keepAlive: NodeJS.Timeout | undefined;
  stats = { exports: 0, revocations: 0, importsAccepted: 0, importsRefused: 0, reconnects: 0 };

  constructor(readonly session: RdmaSession, readonly qpsPerPeer: number) {
    session.onEvents = (evts) => this.#onEvents(evts);
    session.extraStats = () => ({ nodeId: this.nodeId, peers: this.#peers.size, ...this.stats });
    session.onClose = () => this.close();
  }

  // ------------------------------------------------------------------ connections

  /** Listens for peers on host:port (TCP control channel and rdma_cm, same port number). */
  async listen(host: string, port: number, advertise?: string): Promise<{ host: string; port: number }> {
    if (this.#server) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'rdma: this Mover already listens');
    const server = createServer((s) => this.#accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as { port: number }).port;
    try {
      native(() => this.session.native.listen(host, bound));
    } catch (e) {
      server.close();
      throw e;
    }
    server.unref();
    this.#server = server;
    this.host = advertise ?? (host === '0.0.0.0' ? '' : host);
    this.port = bound;
    return { host: this.host, port: bound };
  }

  /** Connects to a listening node; resolves once every QP is established. */
  async connect(host: string, port: number): Promise<Peer> {
    const socket = new Socket();
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: connecting to ${host}:${port} timed out`)), CONNECT_TIMEOUT_MS);
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: cannot reach ${host}:${port}: ${e.message}`, { cause: e }));
      });
      socket.connect(port, host, () => {
        clearTimeout(t);
        resolve();
      });
    });
    debug('control channel up to', host, port);
    socket.setNoDelay(true);
    const welcome = await new Promise<Extract<Message, { t: 'welcome' }>>((resolve, reject) => {
      const lines = lineReader(socket, (m) => {
        if (m.t === 'welcome') {
          socket.off('data', lines);
          resolve(m);
        }
      });
      socket.once('close', () => reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: ${host}:${port} closed the control channel during the handshake`)));
      socket.write(`${JSON.stringify({ t: 'hello', nodeId: this.nodeId, host: this.host, port: this.port } satisfies Message)}\n`);
    });
    debug('welcome', welcome.nodeId, welcome.connKey);
    const peer = new Peer(this.#nextPeer++, welcome.nodeId, socket, 'client', host, port, BigInt(welcome.connKey));
    this.#adopt(peer);
    await this.#connectQps(peer);
    return peer;
  }

  async #connectQps(peer: Peer): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#established.delete(check);
        reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.qpsUp.size} of ${this.qpsPerPeer} QPs to ${peer.host}:${peer.port} connected in ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      const check = () => {
        if (peer.closed) {
          clearTimeout(t);
          this.#established.delete(check);
          reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.host}:${peer.port} went away while connecting`));
        } else if (peer.qpsUp.size === this.qpsPerPeer) {
          clearTimeout(t);
          this.#established.delete(check);
          resolve();
        }
      };
      this.#established.add(check);
    });
    for (let q = 0; q < this.qpsPerPeer; q++) native(() => this.session.native.connectQp(peer.id, q, peer.host, peer.port, peer.connKey));
    await done;
  }

  #accept(socket: Socket): void {
    debug('control connection from', socket.remoteAddress);
    socket.setNoDelay(true);
    const lines = lineReader(socket, (m) => {
      if (m.t !== 'hello' || typeof m.nodeId !== 'string' || !/^[0-9a-f]{32}$/.test(m.nodeId)) {
        socket.destroy();
        return;
      }
      socket.off('data', lines);
      const connKey = randomBytes(8).readBigUInt64BE();
      const peer = new Peer(this.#nextPeer++, m.nodeId, socket, 'server', socket.remoteAddress?.replace(/^::ffff:/, '') ?? '', m.port, connKey);
      this.session.native.expectPeer(connKey, peer.id);
      this.#adopt(peer);
      peer.send({ t: 'welcome', nodeId: this.nodeId, connKey: connKey.toString(), host: this.host, port: this.port });
    });
    socket.on('error', () => socket.destroy());
  }

  #adopt(peer: Peer): void {
    this.#peers.set(peer.id, peer);
    this.#byNode.set(peer.nodeId, peer);
    lineReader(peer.socket, (m) => this.#onMessage(peer, m));
    peer.socket.on('error', () => peer.socket.destroy());
    peer.socket.on('close', () => this.#lost(peer));
    peer.socket.unref();
  }

  #lost(peer: Peer): void {
    if (peer.closed) return;
    peer.closed = true;
    this.#peers.delete(peer.id);
    if (this.#byNode.get(peer.nodeId) === peer) this.#byNode.delete(peer.nodeId);
    if (!this.#closed) this.session.native.dropPeer(peer.id);
    for (const r of peer.requests.values()) r.reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: peer ${peer.name} disconnected`));
    peer.requests.clear();
    for (const e of this.#exports.values()) e.importers.delete(peer);
    for (const check of [...this.#established]) check();
  }

  #onEvents(evts: NativeEvent[]): void {
    debug('events', JSON.stringify(evts));
    for (const e of evts) {
      const peer = this.#peers.get(e.peer);
      if (e.type === 'imm') {
        if (peer) this.#deliver({ peer: peer.nodeId, value: e.value ?? 0 });
      } else if (e.type === 'established') {
        peer?.qpsUp.add(e.qp ?? 0);
        if (peer) peer.connectFailures = 0;
      } else if (e.type === 'qp-down' || e.type === 'connect-failed') {
        if (!peer || peer.closed) continue;
        peer.qpsUp.delete(e.qp ?? 0);
        // The connecting side re-establishes lost QPs while the control channel lives.
        if (peer.role === 'client' && !this.#closed) {
          if (e.type === 'connect-failed') peer.connectFailures++;
          if (peer.connectFailures <= 5) {
            const delay = 100 * 2 ** peer.connectFailures;
            setTimeout(() => {
              if (!peer.closed && !this.#closed && !peer.qpsUp.has(e.qp ?? 0)) {
                this.stats.reconnects++;
                this.session.native.connectQp(peer.id, e.qp ?? 0, peer.host, peer.port, peer.connKey);
              }
            }, delay).unref();
          }
        }
      }
    }
    for (const check of [...this.#established]) check();
  }

  /** Resolves when every QP to `peer` is up again (after a QP error or a revocation). */
  async whenConnected(peer: Peer, timeout = CONNECT_TIMEOUT_MS): Promise<void> {
    if (peer.qpsUp.size === this.qpsPerPeer) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#established.delete(check);
        reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.name} did not reconnect in ${timeout} ms`));
      }, timeout);
      const check = () => {
        if (peer.qpsUp.size === this.qpsPerPeer || peer.closed) {
          clearTimeout(t);
          this.#established.delete(check);
          if (peer.closed) reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.name} disconnected`));
          else resolve();
        }
      };
      this.#established.add(check);
    });
  }

  peerOf(nodeId: string): Peer | undefined {
    return this.#byNode.get(nodeId);
  }

  get peers(): readonly Peer[] {
    return [...this.#peers.values()];
  }

  // ------------------------------------------------------------------ export / import

  export(region: Region, access: Access): string {
    if (access !== 'read-only' && access !== 'read-write') throw datamoverError(ErrorCode.INVALID_ARGUMENT, `rdma.export: access must be 'read-only' or 'read-write'`);
    const { reg, base } = region.resolve();
    if (reg.memory.kind !== 'host') throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `rdma.export: only host regions can be exported (got ${reg.memory.kind})`);
    if (access === 'read-write' && !reg.writable) throw datamoverError(ErrorCode.ACCESS_DENIED, 'rdma.export: a read-only region cannot be exported read-write');
    if (region.length === 0) throw datamoverError(ErrorCode.INVALID_SIZE, 'rdma.export: cannot export an empty region');
    const view = reg.memory.view.subarray(base, base + region.length);
    // One memory registration per export: revoking it (ibv_dereg_mr) kills exactly this rkey.
    const [mrId, , rkey, address] = native(() => this.session.native.regMr(view, access === 'read-only' ? 1 : 2));
    let id: number;
    do id = randomBytes(4).readUInt32BE();
    while (this.#exports.has(id) || id === 0);
    const nonce = randomBytes(16).toString('hex');
    const token = encodeToken({ nodeId: this.nodeId, host: this.host, port: this.port, address, length: region.length, rkey, access, exportId: id, nonce });
    this.#exports.set(id, { id, address, rkey, nonce, mrId, access, length: region.length, token, importers: new Set(), revoked: false });
    this.stats.exports++;
    return token;
  }

  /** Revokes an export: deregisters its memory registration and tells every importer. */
  revoke(tokenOrId: string | number, notify = true): void {
    const id = typeof tokenOrId === 'number' ? tokenOrId : decodeToken(tokenOrId).exportId;
    const e = this.#exports.get(id);
    if (!e || (typeof tokenOrId === 'string' && e.token !== tokenOrId)) throw datamoverError(ErrorCode.INVALID_TOKEN, `rdma.revoke: no export ${id} on this node`);
    if (e.revoked) return;
    e.revoked = true;
    this.session.native.deregMr(e.mrId);
    if (notify) for (const p of e.importers) p.send({ t: 'revoked', exportId: id });
    e.importers.clear();
    this.#exports.delete(id);
    this.stats.revocations++;
  }

  async import(mover: Mover, token: string): Promise<Region> {
    const t = decodeToken(token);
    let peer = this.#byNode.get(t.nodeId);
    if (!peer) {
      if (!t.host || !t.port) throw datamoverError(ErrorCode.INVALID_TOKEN, `rdma.import: not connected to node ${t.nodeId} and the token names no address to reach it`);
      peer = await this.connect(t.host, t.port);
      if (peer.nodeId !== t.nodeId) {
        throw datamoverError(ErrorCode.INVALID_TOKEN, `rdma.import: ${t.host}:${t.port} is node ${peer.nodeId}, not the token's ${t.nodeId}`);
      }
    }
    const req = this.#nextReq++;
    const p = peer;
    const reply = await new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        p.requests.delete(req);
        reject(datamoverError(ErrorCode.REMOTE_DISCONNECT, `rdma.import: node ${t.nodeId.slice(0, 8)}… did not answer in ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      p.requests.set(req, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      p.send({ t: 'import', req, exportId: t.exportId, nonce: t.nonce, address: t.address.toString(), length: t.length, rkey: t.rkey, access: t.access });
    });
    if (reply.t === 'import-refused') throw datamoverError(ErrorCode.INVALID_TOKEN, `rdma.import: node ${t.nodeId.slice(0, 8)}… refused the token: ${reply.reason}`);
    if (reply.t !== 'import-ok' || reply.length !== t.length || reply.access !== t.access) {
      throw datamoverError(ErrorCode.INVALID_TOKEN, 'rdma.import: the exporter describes the export differently than the token does');
    }
    const rec: ImportRecord = { peer: p.id, nodeId: p.nodeId, exportId: t.exportId, revoked: false, indexes: new Set() };
    p.imports.set(t.exportId, rec);
    return mover.registerRemote(
      { kind: 'remote', backend: 'rdma', peer: p.name, exportId: t.exportId, address: t.address, rkey: t.rkey, handle: rec, release: () => p.imports.delete(t.exportId) },
      t.length,
      t.access === 'read-write',
    );
  }

  #onMessage(peer: Peer, m: Message): void {
    switch (m.t) {
      case 'import': {
        const e = this.#exports.get(m.exportId);
        const reason = !e || e.revoked
          ? 'no such export (never made, or revoked)'
          : !nonceEqual(String(m.nonce), e.nonce)
            ? 'the nonce does not match the export'
            : m.address !== e.address.toString() || m.length !== e.length || m.rkey !== e.rkey || m.access !== e.access
              ? 'the token\'s address, length, rkey or access differ from the export'
              : '';
        if (!e || reason) {
          this.stats.importsRefused++;
          peer.send({ t: 'import-refused', req: m.req, reason });
          return;
        }
        e.importers.add(peer);
        this.stats.importsAccepted++;
        peer.send({ t: 'import-ok', req: m.req, length: e.length, access: e.access });
        return;
      }
      case 'import-ok':
      case 'import-refused': {
        const r = peer.requests.get(m.req);
        peer.requests.delete(m.req);
        r?.resolve(m);
        return;
      }
      case 'revoked': {
        const rec = peer.imports.get(m.exportId);
        if (rec) this.session.revokeImport(rec);
        return;
      }
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ immediates

  #deliver(e: ImmediateEvent): void {
    for (const w of this.#waiters) {
      if (w.match(e)) {
        this.#waiters.delete(w);
        w.resolve(e);
        return;
      }
    }
    this.#unclaimed.push(e);
    if (this.#unclaimed.length > 4096) this.#unclaimed.shift();
  }

  awaitImmediate(options: AwaitImmediateOptions = {}): Promise<ImmediateEvent> {
    let peerId: string | undefined;
    if (typeof options.peer === 'string') peerId = options.peer;
    else if (options.peer !== undefined) {
      const { reg } = options.peer.resolve();
      if (reg.memory.kind !== 'remote') throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'awaitImmediate: peer must be a node id or a remote region');
      peerId = (reg.memory.handle as ImportRecord).nodeId;
    }
    const match = (e: ImmediateEvent) => (peerId === undefined || e.peer === peerId) && (options.value === undefined || e.value === options.value >>> 0);
    const i = this.#unclaimed.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#unclaimed.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const w = {
        match,
        resolve: (e: ImmediateEvent) => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve(e);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const onAbort = () => {
        this.#waiters.delete(w);
        clearTimeout(timer);
        reject(datamoverError(ErrorCode.ABORTED, 'awaitImmediate aborted', { cause: options.signal?.reason }));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeout !== undefined) {
        timer = setTimeout(() => {
          this.#waiters.delete(w);
          options.signal?.removeEventListener('abort', onAbort);
          reject(datamoverError(ErrorCode.DEADLINE_EXCEEDED, `awaitImmediate: nothing arrived in ${options.timeout} ms`));
        }, options.timeout);
      }
      this.#waiters.add(w);
      this.#keepAlive ??= setInterval(() => {
        if (this.#waiters.size === 0) {
          clearInterval(this.#keepAlive);
          this.#keepAlive = undefined;
        }
      }, 1000);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server?.close();
    for (const p of this.#peers.values()) p.socket.destroy();
    for (const w of this.#waiters) w.reject(datamoverError(ErrorCode.MOVER_CLOSED, 'awaitImmediate: the Mover was closed'));
    this.#waiters.clear();
    clearInterval(this.#keepAlive);
  }
}

function lineReader(socket: Socket, onMessage: (m: Message) => void): (chunk: Buffer) => void {
  let buf = '';
  const handler = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    if (buf.length > 1 << 20) {
      socket.destroy();
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: Message;
      try {
        m = JSON.parse(line) as Message;
      } catch {
        socket.destroy();
        return;
      }
      if (m && typeof m === 'object') onMessage(m);
    }
  };
  socket.on('data', handler);
  return handler;
}
