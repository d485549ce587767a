/**
 * The control plane of one rdma session: a TCP side channel per peer (newline-delimited JSON)
 * next to the RDMA connections. It carries the handshake (node ids, peer authentication, and the
 * key the peer's QPs present in their rdma_cm private data), import checks (the token itself,
 * verified by the exporter), and revocation notices. Its closing is how a peer's departure is
 * noticed first.
 */
import { randomBytes } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { datamoverError, ErrorCode, isHostMemory, type Mover, type Region } from '@datamover/core';
import { isRemoteMemory, remoteSpace, type RemoteMemory } from './remote-memory.js';
import { Channel } from './channel.js';
import { native, type NativeEngine, type NativeEvent } from './native.js';
import { challenge, CHALLENGE, HEX32, type Handshake, type HostList, LOOPBACK, type PeerAuth, transcript } from './peer-auth.js';
import type { ImportRecord, RdmaSession } from './session.js';
import { type Access, decodeToken, encodeToken, tokenKey, verifyToken } from './token.js';
import { RdmaErrorCode } from './errors.js';

interface Export {
  readonly mrId: number;
  readonly importers: Set<Peer>;
}

type Message =
  | { t: 'hello'; nodeId: string; host: string; port: number; challenge: string }
  | { t: 'challenge'; nodeId: string; challenge: string; proof: string }
  | { t: 'auth'; proof: string }
  | { t: 'welcome'; nodeId: string; connKey: string; host: string; port: number }
  | { t: 'refused'; reason: string }
  | { t: 'import'; req: number; token: string }
  | { t: 'import-ok'; req: number }
  | { t: 'import-refused'; req: number; code: string; reason: string }
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
    readonly channel: Channel<Message>,
    /** 'client': this side connected and re-connects QPs that go down. */
    readonly role: 'client' | 'server',
    readonly host: string,
    readonly port: number,
    readonly connKey: bigint,
  ) {}
  send(m: Message): void {
    if (!this.closed) this.channel.send(m);
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

/** What the control plane uses of the engine session (an RdmaSession; a stand-in in host tests, which have no RDMA device). */
export type ControlSession = Pick<RdmaSession, 'onEvents' | 'extraStats' | 'onClose' | 'revokeImport'> & {
  readonly native: Pick<NativeEngine, 'listen' | 'expectPeer' | 'connectQp' | 'dropPeer' | 'regMr' | 'deregMr'>;
};

export interface NodeOptions {
  readonly qpsPerPeer: number;
  /** Without it the node listens on loopback only and connects only to nodes without it. */
  readonly peerAuth?: PeerAuth;
  /** Hosts import() may connect to, from a token. */
  readonly allowHosts: HostList;
}

const CONNECT_TIMEOUT_MS = 20_000;
/** How long a handshake may take before the other side is dropped. */
const HANDSHAKE_MS = 10_000;
const DEBUG = process.env['DATAMOVER_RDMA_DEBUG'] === '1';
const debug = (...a: unknown[]) => {
  if (DEBUG) console.error('[rdma]', ...a);
};

/** A handshake refusal: ACCESS_DENIED, and what the other side is told. */
function denied(message: string): Error {
  return datamoverError(ErrorCode.ACCESS_DENIED, message);
}

export class RdmaNode {
  readonly nodeId = randomBytes(16).toString('hex');
  host = '';
  port = 0;
  readonly qpsPerPeer: number;
  /** Tags this node's tokens; never leaves the process. */
  readonly #tokenKey = tokenKey();
  readonly #auth: PeerAuth | undefined;
  readonly #allowHosts: HostList;
  #server: Server | undefined;
  readonly #peers = new Map<number, Peer>();
  /** Accepted sockets still in the handshake. */
  readonly #greeting = new Set<Socket>();
  readonly #byNode = new Map<string, Peer>();
  readonly #exports = new Map<number, Export>();
  /** The next export id: ids are never reused while #tokenKey lives, so a withdrawn export's token stays dead. */
  #nextExport = 1;
  #nextPeer = 1;
  #nextReq = 1;
  readonly #waiters = new Set<{ match: (e: ImmediateEvent) => boolean; resolve: (e: ImmediateEvent) => void; reject: (e: Error) => void }>();
  readonly #unclaimed: ImmediateEvent[] = [];
  readonly #established = new Set<() => void>();
  #closed = false;
  /** A ref'd timer while anyone awaits an immediate: a pending await keeps the process alive. */
  #keepAlive: NodeJS.Timeout | undefined;
  stats = { exports: 0, revocations: 0, importsAccepted: 0, importsRefused: 0, reconnects: 0, handshakesRefused: 0 };

  constructor(readonly session: ControlSession, options: NodeOptions) {
    this.qpsPerPeer = options.qpsPerPeer;
    this.#auth = options.peerAuth;
    this.#allowHosts = options.allowHosts;
    session.onEvents = (evts) => this.#onEvents(evts);
    session.extraStats = () => ({ nodeId: this.nodeId, peers: this.#peers.size, ...this.stats });
    session.onClose = () => this.close();
  }

  // ------------------------------------------------------------------ connections

  /**
   * Listens for peers on host:port (TCP control channel and rdma_cm, same port number). Without
   * peerAuth only on a loopback address (default 127.0.0.1); with it anywhere (default 0.0.0.0).
   */
  async listen(host: string | undefined, port: number, advertise?: string): Promise<{ host: string; port: number }> {
    if (this.#server) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'rdma: this Mover already listens');
    const at = host ?? (this.#auth ? '0.0.0.0' : '127.0.0.1');
    if (!this.#auth && !LOOPBACK.has(at)) {
      throw datamoverError(ErrorCode.INVALID_ARGUMENT, `rdma.listen: ${at} is not a loopback address; listening where other machines reach needs peerAuth (e.g. rdma({ peerAuth: { secret } })) so peers are authenticated`);
    }
    const server = createServer((s) => void this.#accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, at, () => resolve());
    });
    const bound = (server.address() as { port: number }).port;
    try {
      native(() => this.session.native.listen(at, bound));
    } catch (e) {
      server.close();
      throw e;
    }
    server.unref();
    this.#server = server;
    this.host = advertise ?? (at === '0.0.0.0' ? '' : at);
    this.port = bound;
    return { host: this.host, port: bound };
  }

  /** Connects to a listening node; resolves once every QP is established. */
  async connect(host: string, port: number): Promise<Peer> {
    const socket = new Socket();
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        socket.destroy();
        reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: connecting to ${host}:${port} timed out`));
      }, CONNECT_TIMEOUT_MS);
      socket.once('error', (e) => {
        clearTimeout(t);
        reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: cannot reach ${host}:${port}: ${e.message}`, { cause: e }));
      });
      socket.connect(port, host, () => {
        clearTimeout(t);
        resolve();
      });
    });
    debug('control channel up to', host, port);
    socket.setNoDelay(true);
    const channel = new Channel<Message>(socket, `${host}:${port}`);
    let welcome: Extract<Message, { t: 'welcome' }>;
    try {
      welcome = await this.#greet(channel);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    debug('welcome', welcome.nodeId);
    const peer = new Peer(this.#nextPeer++, welcome.nodeId, channel, 'client', host, port, BigInt(welcome.connKey));
    this.#adopt(peer);
    await this.#connectQps(peer);
    return peer;
  }

  /** The connecting side of the handshake: hello, then (with peerAuth) both proofs, then the welcome. */
  async #greet(ch: Channel<Message>): Promise<Extract<Message, { t: 'welcome' }>> {
    const mine = challenge();
    ch.send({ t: 'hello', nodeId: this.nodeId, host: this.host, port: this.port, challenge: mine });
    let m = await ch.next(HANDSHAKE_MS);
    let server: string | undefined;
    if (m.t === 'challenge') {
      if (!this.#auth) throw denied(`rdma: ${ch.name} requires peer authentication; open rdma with peerAuth (e.g. rdma({ peerAuth: { secret } }))`);
      if (!HEX32.test(String(m.nodeId)) || !CHALLENGE.test(String(m.challenge))) throw denied(`rdma: ${ch.name} sent a malformed challenge`);
      const h: Handshake = { client: this.nodeId, server: m.nodeId, clientChallenge: mine, serverChallenge: m.challenge };
      if (!(await proves(this.#auth, m.nodeId, transcript('server', h), m.proof))) throw denied(`rdma: ${ch.name} failed peer authentication (a different secret?)`);
      server = m.nodeId;
      ch.send({ t: 'auth', proof: Buffer.from(await this.#auth.sign(this.nodeId, transcript('client', h))).toString('hex') });
      m = await ch.next(HANDSHAKE_MS);
    } else if (this.#auth && m.t === 'welcome') {
      throw denied(`rdma: ${ch.name} did not authenticate itself (it runs without peerAuth)`);
    }
    if (m.t === 'refused') throw denied(`rdma: ${ch.name} refused this node: ${String(m.reason)}`);
    if (m.t !== 'welcome' || !HEX32.test(String(m.nodeId)) || !/^[0-9]{1,20}$/.test(String(m.connKey)) || (server !== undefined && m.nodeId !== server)) {
      throw datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${ch.name} broke the handshake protocol`);
    }
    return m;
  }

  async #connectQps(peer: Peer): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#established.delete(check);
        reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.qpsUp.size} of ${this.qpsPerPeer} QPs to ${peer.host}:${peer.port} connected in ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      const check = () => {
        if (peer.closed) {
          clearTimeout(t);
          this.#established.delete(check);
          reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.host}:${peer.port} went away while connecting`));
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

  /** The listening side of the handshake: no connection key (so no QP) before the peer is authenticated. */
  async #accept(socket: Socket): Promise<void> {
    debug('control connection from', socket.remoteAddress);
    socket.setNoDelay(true);
    const host = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    const ch = new Channel<Message>(socket, `${host}:${socket.remotePort ?? 0}`);
    this.#greeting.add(socket);
    let hello: Extract<Message, { t: 'hello' }>;
    try {
      const m = await ch.next(HANDSHAKE_MS);
      if (m.t !== 'hello' || !HEX32.test(String(m.nodeId)) || !CHALLENGE.test(String(m.challenge)) || !Number.isInteger(m.port)) throw denied('expected a hello');
      hello = m;
      if (this.#auth) {
        const h: Handshake = { client: hello.nodeId, server: this.nodeId, clientChallenge: hello.challenge, serverChallenge: challenge() };
        const proof = Buffer.from(await this.#auth.sign(this.nodeId, transcript('server', h))).toString('hex');
        ch.send({ t: 'challenge', nodeId: this.nodeId, challenge: h.serverChallenge, proof });
        const reply = await ch.next(HANDSHAKE_MS);
        if (reply.t !== 'auth' || !(await proves(this.#auth, hello.nodeId, transcript('client', h), reply.proof))) throw denied('peer authentication failed');
      }
    } catch (e) {
      this.stats.handshakesRefused++;
      debug('handshake refused:', (e as Error).message);
      ch.send({ t: 'refused', reason: (e as Error).message });
      socket.end(() => socket.destroy());
      return;
    } finally {
      this.#greeting.delete(socket);
    }
    if (this.#closed) return void socket.destroy();
    const connKey = randomBytes(8).readBigUInt64BE();
    const peer = new Peer(this.#nextPeer++, hello.nodeId, ch, 'server', host, hello.port, connKey);
    this.session.native.expectPeer(connKey, peer.id);
    this.#adopt(peer);
    peer.send({ t: 'welcome', nodeId: this.nodeId, connKey: connKey.toString(), host: this.host, port: this.port });
  }

  #adopt(peer: Peer): void {
    this.#peers.set(peer.id, peer);
    this.#byNode.set(peer.nodeId, peer);
    peer.channel.handle((m) => this.#onMessage(peer, m));
    peer.channel.socket.on('close', () => this.#lost(peer));
    peer.channel.socket.unref();
  }

  #lost(peer: Peer): void {
    if (peer.closed) return;
    peer.closed = true;
    this.#peers.delete(peer.id);
    if (this.#byNode.get(peer.nodeId) === peer) this.#byNode.delete(peer.nodeId);
    if (!this.#closed) this.session.native.dropPeer(peer.id);
    for (const r of peer.requests.values()) r.reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: peer ${peer.name} disconnected`));
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
        reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.name} did not reconnect in ${timeout} ms`));
      }, timeout);
      const check = () => {
        if (peer.qpsUp.size === this.qpsPerPeer || peer.closed) {
          clearTimeout(t);
          this.#established.delete(check);
          if (peer.closed) reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma: ${peer.name} disconnected`));
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
    if (!isHostMemory(reg.memory)) throw datamoverError(ErrorCode.UNSUPPORTED_OPERATION, `rdma.export: only host regions can be exported (got ${reg.memory.kind})`);
    if (access === 'read-write' && !reg.writable) throw datamoverError(ErrorCode.ACCESS_DENIED, 'rdma.export: a read-only region cannot be exported read-write');
    if (region.length === 0) throw datamoverError(ErrorCode.INVALID_SIZE, 'rdma.export: cannot export an empty region');
    if (this.#nextExport > 0xffff_ffff) throw datamoverError(ErrorCode.TOO_MANY_REGIONS, 'rdma.export: this node has made 2^32 exports; open a new Mover');
    const view = reg.memory.view.subarray(base, base + region.length);
    // One memory registration per export: revoking it (ibv_dereg_mr) kills exactly this rkey.
    const [mrId, , rkey, address] = native(() => this.session.native.regMr(view, access === 'read-only' ? 1 : 2));
    const id = this.#nextExport++;
    const token = encodeToken({ nodeId: this.nodeId, host: this.host, port: this.port, address, length: region.length, rkey, access, exportId: id }, this.#tokenKey);
    this.#exports.set(id, { mrId, importers: new Set() });
    this.stats.exports++;
    return token;
  }

  /** Revokes an export: deregisters its memory registration and tells every importer. */
  revoke(tokenOrId: string | number, notify = true): void {
    const id = typeof tokenOrId === 'number' ? tokenOrId : verifyToken(tokenOrId, this.#tokenKey).exportId;
    const e = this.#live(id, 'rdma.revoke');
    this.session.native.deregMr(e.mrId);
    if (notify) for (const p of e.importers) p.send({ t: 'revoked', exportId: id });
    this.#exports.delete(id);
    this.stats.revocations++;
  }

  /**
   * Imports a token. A token from a node this one is not connected to names where to reach it:
   * only a host in allowHosts is connected to. The exporter checks the token's tag and that the
   * export is live before anything is registered here.
   */
  async import(mover: Mover, token: string): Promise<Region> {
    const t = decodeToken(token);
    let peer = this.#byNode.get(t.nodeId);
    if (!peer) {
      if (!t.host || !t.port) throw datamoverError(RdmaErrorCode.INVALID_TOKEN, `rdma.import: not connected to node ${t.nodeId} and the token names no address to reach it`);
      if (!this.#allowHosts.has(t.host)) {
        throw datamoverError(ErrorCode.ACCESS_DENIED, `rdma.import: the token's exporter is at ${t.host}, which is not in allowHosts (${this.#allowHosts.entries.join(', ') || 'none'}); allow it, or rdma.connect() to it first`);
      }
      peer = await this.connect(t.host, t.port);
      if (peer.nodeId !== t.nodeId) {
        throw datamoverError(RdmaErrorCode.INVALID_TOKEN, `rdma.import: ${t.host}:${t.port} is node ${peer.nodeId}, not the token's ${t.nodeId}`);
      }
    }
    const req = this.#nextReq++;
    const p = peer;
    const reply = await new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        p.requests.delete(req);
        reject(datamoverError(RdmaErrorCode.REMOTE_DISCONNECT, `rdma.import: node ${t.nodeId.slice(0, 8)}… did not answer in ${CONNECT_TIMEOUT_MS} ms`));
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
      p.send({ t: 'import', req, token });
    });
    if (reply.t === 'import-refused') {
      const code = reply.code === RdmaErrorCode.ACCESS_REVOKED ? RdmaErrorCode.ACCESS_REVOKED : RdmaErrorCode.INVALID_TOKEN;
      throw datamoverError(code, `rdma.import: node ${t.nodeId.slice(0, 8)}… refused the token: ${String(reply.reason)}`);
    }
    const rec: ImportRecord = { peer: p.id, nodeId: p.nodeId, exportId: t.exportId, revoked: false, indexes: new Set() };
    p.imports.set(t.exportId, rec);
    const memory: RemoteMemory = { kind: 'remote', backend: 'rdma', peer: p.name, exportId: t.exportId, address: t.address, rkey: t.rkey, handle: rec, release: () => p.imports.delete(t.exportId) };
    return mover.registerMemory(
      memory,
      remoteSpace(p.name),
      t.length,
      t.access === 'read-write',
    );
  }

  /** Export `id` while it is live: ACCESS_REVOKED once it was withdrawn, INVALID_TOKEN when this node never made it. */
  #live(id: number, call: string): Export {
    const e = this.#exports.get(id);
    if (e) return e;
    if (Number.isInteger(id) && id >= 1 && id < this.#nextExport) throw datamoverError(RdmaErrorCode.ACCESS_REVOKED, `${call}: export ${id} was revoked`);
    throw datamoverError(RdmaErrorCode.INVALID_TOKEN, `${call}: this node has no export ${id}`);
  }

  #onMessage(peer: Peer, m: Message): void {
    switch (m.t) {
      case 'import': {
        let e: Export;
        try {
          // Only a token this node minted (its tag verifies under #tokenKey) of a live export.
          e = this.#live(verifyToken(m.token, this.#tokenKey).exportId, 'import');
        } catch (err) {
          this.stats.importsRefused++;
          const { code, message } = err as { code: string; message: string };
          peer.send({ t: 'import-refused', req: m.req, code, reason: message });
          return;
        }
        e.importers.add(peer);
        this.stats.importsAccepted++;
        peer.send({ t: 'import-ok', req: m.req });
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
      if (!isRemoteMemory(reg.memory)) throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'awaitImmediate: peer must be a node id or a remote region');
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
    for (const p of this.#peers.values()) p.channel.socket.destroy();
    for (const s of this.#greeting) s.destroy();
    for (const w of this.#waiters) w.reject(datamoverError(ErrorCode.MOVER_CLOSED, 'awaitImmediate: the Mover was closed'));
    this.#waiters.clear();
    clearInterval(this.#keepAlive);
  }
}

/** Whether `proof` (hex, from the wire) is `nodeId`'s over `t`. */
async function proves(auth: PeerAuth, nodeId: string, t: Buffer, proof: unknown): Promise<boolean> {
  if (typeof proof !== 'string' || !/^(?:[0-9a-f]{2}){1,256}$/.test(proof)) return false;
  return (await auth.verify(nodeId, t, Buffer.from(proof, 'hex'))) === true;
}
