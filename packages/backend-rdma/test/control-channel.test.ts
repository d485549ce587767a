import { createHmac } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { rdma } from '../src/index.js';
import type { NativeEvent } from '../src/native.js';
import { type ControlSession, RdmaNode } from '../src/node.js';
import { HostList, LOOPBACK, peerAuthOf, sharedSecretAuth, transcript } from '../src/peer-auth.js';
import { decodeToken, encodeToken, tokenKey } from '../src/token.js';

// The control channel is plain TCP and TypeScript, so it runs here on loopback between real
// RdmaNodes. What needs an RDMA device (memory registration, QPs) is a stand-in engine: it hands
// out MR ids and rkeys, and "connects" a QP only with a connection key some node's listener
// handed out (as rdma_cm's private-data check does), reporting 'established' like the engine.
// The real engine runs in the lab (lab/rdma.test.ts, Soft-RoCE).
const handedOut = new Map<bigint, number>();

class StandInEngine {
  expected = 0;
  nextMr = 1;
  constructor(private readonly session: { onEvents(e: NativeEvent[]): void }) {}
  listen(): number {
    return 0;
  }
  expectPeer(connKey: bigint, peer: number): void {
    this.expected++;
    handedOut.set(connKey, peer);
  }
  connectQp(peer: number, qp: number, _host: string, _port: number, connKey: bigint): void {
    const type = handedOut.has(connKey) ? 'established' : 'connect-failed';
    setImmediate(() => this.session.onEvents([{ type, peer, qp }]));
  }
  dropPeer(): void {}
  regMr(view: Uint8Array): [number, number, number, bigint] {
    const id = this.nextMr++;
    return [id, id, 0x1000 + id, 0x7f00_0000_0000n + BigInt(view.byteOffset)];
  }
  deregMr(): boolean {
    return true;
  }
}

const SECRET = 'a shared secret of the deployment';
const nodes: RdmaNode[] = [];

function node(options: { secret?: string; allowHosts?: string[] } = {}): RdmaNode & { engine: StandInEngine } {
  const session: Omit<ControlSession, 'native'> = { onEvents: () => {}, extraStats: () => ({}), onClose: () => {}, revokeImport: () => {} };
  const engine = new StandInEngine(session);
  const n = new RdmaNode(Object.assign(session, { native: engine }), {
    qpsPerPeer: 2,
    allowHosts: options.allowHosts ? new HostList(options.allowHosts) : LOOPBACK,
    ...(options.secret ? { peerAuth: sharedSecretAuth(options.secret) } : {}),
  });
  nodes.push(n);
  return Object.assign(n, { engine });
}

let mover: Mover;
beforeAll(async () => {
  mover = await Mover.open({ backends: [soft()] });
});
afterAll(() => mover.close());
afterEach(() => {
  for (const n of nodes.splice(0)) n.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return `${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
  return 'resolved';
}

/** A raw control-channel client: sends lines, collects the replies until the listener closes. */
function rawClient(port: number): { socket: Socket; send(m: object): void; next(): Promise<Record<string, string> | 'closed'> } {
  const socket = connect(port, '127.0.0.1');
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  let buf = '';
  socket.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  socket.on('error', () => {});
  return {
    socket,
    send: (m) => socket.write(`${JSON.stringify(m)}\n`),
    async next() {
      while (lines.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
      const l = lines.shift();
      return l === undefined ? 'closed' : (JSON.parse(l) as Record<string, string>);
    },
  };
}

const CLIENT_ID = '0123456789abcdef0123456789abcdef';
const CHALLENGE = 'ab'.repeat(32);

describe('rdma control channel: listening', () => {
  it('without peerAuth listens on loopback only (default 127.0.0.1)', async () => {
    const a = node();
    expect(await code(a.listen('0.0.0.0', 0))).toMatch(/^INVALID_ARGUMENT: .*not a loopback address.*peerAuth/);
    expect(await code(a.listen('10.1.2.3', 0))).toMatch(/^INVALID_ARGUMENT/);
    const at = await a.listen(undefined, 0);
    expect(at.host).toBe('127.0.0.1');
  });

  it('with peerAuth listens anywhere (default 0.0.0.0)', async () => {
    const a = node({ secret: SECRET });
    const at = await a.listen(undefined, 0, '127.0.0.1');
    expect(at).toMatchObject({ host: '127.0.0.1' });
  });
});

describe('rdma control channel: peer authentication', () => {
  it('connects and imports when both sides share the secret', async () => {
    const a = node({ secret: SECRET });
    const b = node({ secret: SECRET });
    const at = await a.listen('127.0.0.1', 0);
    const peer = await b.connect(at.host, at.port);
    expect(peer.nodeId).toBe(a.nodeId);
    expect(a.peerOf(b.nodeId)?.nodeId).toBe(b.nodeId);
    expect(a.engine.expected).toBe(1);
    const region = await b.import(mover, a.export(mover.alloc(4096), 'read-write'));
    expect([region.kind, region.length, region.writable]).toEqual(['remote', 4096, true]);
    await region.release();
  });

  it('a hello without a valid response gets no connection key', async () => {
    const a = node({ secret: SECRET });
    const at = await a.listen('127.0.0.1', 0);
    // No response at all: an import request instead.
    const c1 = rawClient(at.port);
    c1.send({ t: 'hello', nodeId: CLIENT_ID, host: '', port: 0, challenge: CHALLENGE });
    expect(await c1.next()).toMatchObject({ t: 'challenge', nodeId: a.nodeId });
    c1.send({ t: 'import', req: 1, token: 'x' });
    expect(await c1.next()).toMatchObject({ t: 'refused', reason: 'peer authentication failed' });
    expect(await c1.next()).toBe('closed');
    // A response that is not a proof.
    const c2 = rawClient(at.port);
    c2.send({ t: 'hello', nodeId: CLIENT_ID, host: '', port: 0, challenge: CHALLENGE });
    await c2.next();
    c2.send({ t: 'auth', proof: '00'.repeat(32) });
    expect(await c2.next()).toMatchObject({ t: 'refused' });
    expect(await c2.next()).toBe('closed');
    expect(a.engine.expected).toBe(0);
    expect(a.stats.handshakesRefused).toBe(2);
    expect(a.peers).toHaveLength(0);
  });

  it('binds the proof to its node id and to this handshake (no replay, no other node id)', async () => {
    const a = node({ secret: SECRET });
    const at = await a.listen('127.0.0.1', 0);
    const auth = sharedSecretAuth(SECRET);
    const c1 = rawClient(at.port);
    c1.send({ t: 'hello', nodeId: CLIENT_ID, host: '', port: 0, challenge: CHALLENGE });
    const ch1 = (await c1.next()) as Record<string, string>;
    const h1 = { client: CLIENT_ID, server: a.nodeId, clientChallenge: CHALLENGE, serverChallenge: ch1['challenge']! };
    const proof = Buffer.from(await auth.sign(CLIENT_ID, transcript('client', h1))).toString('hex');
    // The server's own proof, reflected back as the client's, is refused (roles are signed).
    const reflected = rawClient(at.port);
    reflected.send({ t: 'hello', nodeId: CLIENT_ID, host: '', port: 0, challenge: CHALLENGE });
    const chr = (await reflected.next()) as Record<string, string>;
    reflected.send({ t: 'auth', proof: chr['proof'] });
    expect(await reflected.next()).toMatchObject({ t: 'refused' });
    // The valid proof of handshake 1, replayed in handshake 2 (a fresh server challenge): refused.
    const c2 = rawClient(at.port);
    c2.send({ t: 'hello', nodeId: CLIENT_ID, host: '', port: 0, challenge: CHALLENGE });
    await c2.next();
    c2.send({ t: 'auth', proof });
    expect(await c2.next()).toMatchObject({ t: 'refused' });
    // The same proof for a claimed other node id: refused.
    const c3 = rawClient(at.port);
    c3.send({ t: 'hello', nodeId: 'f'.repeat(32), host: '', port: 0, challenge: CHALLENGE });
    await c3.next();
    c3.send({ t: 'auth', proof });
    expect(await c3.next()).toMatchObject({ t: 'refused' });
    expect(a.engine.expected).toBe(0);
    // And it was a valid proof: in its own handshake it gets the welcome and a connection key.
    c1.send({ t: 'auth', proof });
    expect(await c1.next()).toMatchObject({ t: 'welcome', nodeId: a.nodeId });
    expect(a.engine.expected).toBe(1);
    expect(a.peerOf(CLIENT_ID)).toBeDefined();
    c1.socket.destroy();
  });

  it('a wrong secret is refused both ways, before any connection key', async () => {
    const a = node({ secret: SECRET });
    const b = node({ secret: 'another secret, not the deployment one' });
    const at = await a.listen('127.0.0.1', 0);
    expect(await code(b.connect(at.host, at.port))).toMatch(/^ACCESS_DENIED: .*failed peer authentication/);
    expect(a.engine.expected).toBe(0);
    // A server with the wrong secret cannot fake its proof to a client either (the client checks first).
    const c = node({ secret: 'another secret, not the deployment one' });
    const at2 = await c.listen('127.0.0.1', 0);
    const d = node({ secret: SECRET });
    expect(await code(d.connect(at2.host, at2.port))).toMatch(/^ACCESS_DENIED/);
    expect(c.engine.expected).toBe(0);
    expect(c.peers).toHaveLength(0);
  });

  it('an authenticating node and one without peerAuth refuse each other', async () => {
    const a = node({ secret: SECRET });
    const at = await a.listen('127.0.0.1', 0);
    expect(await code(node().connect(at.host, at.port))).toMatch(/^ACCESS_DENIED: .*requires peer authentication/);
    const open = node();
    const at2 = await open.listen('127.0.0.1', 0);
    expect(await code(node({ secret: SECRET }).connect(at2.host, at2.port))).toMatch(/^ACCESS_DENIED: .*did not authenticate itself/);
    expect(a.engine.expected).toBe(0);
  });

  it('a shorter secret or a malformed peerAuth is refused, by rdma() itself too', () => {
    expect(() => sharedSecretAuth('short')).toThrow(/at least 16 bytes/);
    expect(() => rdma({ peerAuth: { secret: 'short' } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => rdma({ allowHosts: ['example.com'] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => peerAuthOf({ secret: 42 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => peerAuthOf({ sign: () => new Uint8Array() })).toThrow(/sign\(\) and verify\(\)/);
    expect(peerAuthOf(undefined)).toBeUndefined();
    expect(typeof peerAuthOf({ secret: new Uint8Array(16) })?.verify).toBe('function');
  });
});

describe('rdma control channel: tokens checked by the exporter', () => {
  async function pair(): Promise<{ a: ReturnType<typeof node>; b: ReturnType<typeof node> }> {
    const a = node({ secret: SECRET });
    const b = node({ secret: SECRET });
    await a.listen('127.0.0.1', 0);
    return { a, b };
  }

  it('refuses a token minted under another key (forged tag) with INVALID_TOKEN', async () => {
    const { a, b } = await pair();
    const real = decodeToken(a.export(mover.alloc(4096), 'read-write'));
    const forged = encodeToken(real, tokenKey());
    expect(await code(b.import(mover, forged))).toMatch(/^INVALID_TOKEN: .*refused the token: .*bad tag/);
    expect(a.stats.importsRefused).toBe(1);
  });

  it('refuses resealed fields (rkey, length, access edited; the old unkeyed check recomputed)', async () => {
    const { a, b } = await pair();
    const token = a.export(mover.alloc(4096), 'read-only');
    const { createHash } = await import('node:crypto');
    for (const edit of [(x: Buffer) => x.writeUInt32BE(x.readUInt32BE(59) + 1, 59), (x: Buffer) => x.writeBigUInt64BE(8192n, 51), (x: Buffer) => x.writeUInt8(2, 5)]) {
      const raw = Buffer.from(token, 'base64url');
      edit(raw);
      createHash('sha256').update(raw.subarray(0, 67)).digest().subarray(0, 16).copy(raw, 67);
      expect(await code(b.import(mover, raw.toString('base64url')))).toMatch(/^INVALID_TOKEN: .*bad tag/);
    }
    const region = await b.import(mover, token); // the real one still works
    expect(region.writable).toBe(false);
    await region.release();
  });

  it('refuses a replayed token after revocation and re-export with ACCESS_REVOKED', async () => {
    const { a, b } = await pair();
    const memory = mover.alloc(4096);
    const first = a.export(memory, 'read-write');
    (await b.import(mover, first)).release();
    a.revoke(first);
    const second = a.export(memory, 'read-write');
    expect(await code(b.import(mover, first))).toMatch(/^ACCESS_REVOKED: .*export 1 was revoked/);
    expect(await code(Promise.resolve().then(() => a.revoke(first)))).toMatch(/^ACCESS_REVOKED/);
    const again = await b.import(mover, second);
    expect(again.length).toBe(4096);
    await again.release();
  });

  it('a revoke by a token another node minted is INVALID_TOKEN', async () => {
    const { a, b } = await pair();
    await b.listen('127.0.0.1', 0);
    const theirs = b.export(mover.alloc(64), 'read-only');
    expect(() => a.revoke(theirs)).toThrow(/bad tag/);
    expect(() => a.revoke(99)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
  });
});

describe('rdma import: allowHosts', () => {
  let trap: Server;
  let trapPort = 0;
  let connections = 0;
  beforeAll(async () => {
    // Where a forged token points: it sees every TCP connection made to it (and drops it).
    trap = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
    trapPort = (trap.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => trap.close(() => r())));

  const forgedTo = (host: string, port: number) =>
    encodeToken({ nodeId: 'ee'.repeat(16), host, port, address: 0x1000n, length: 4096, rkey: 7, access: 'read-write', exportId: 1 }, tokenKey());

  it('refuses a token naming a host outside allowHosts, before any connect', async () => {
    connections = 0;
    const b = node({ secret: SECRET, allowHosts: ['10.0.0.0/24', 'fd00::1'] });
    expect(await code(b.import(mover, forgedTo('127.0.0.1', trapPort)))).toMatch(/^ACCESS_DENIED: .*127\.0\.0\.1, which is not in allowHosts \(10\.0\.0\.0\/24, fd00::1\)/);
    expect(await code(b.import(mover, forgedTo('::ffff:127.0.0.1', trapPort)))).toMatch(/^ACCESS_DENIED/);
    await new Promise((r) => setTimeout(r, 50));
    expect(connections).toBe(0);
    // Allowed (the default, loopback), the same token does open TCP to it: the refusal above is the check.
    expect(await code(node({ secret: SECRET }).import(mover, forgedTo('127.0.0.1', trapPort)))).toMatch(/^REMOTE_DISCONNECT/);
    expect(connections).toBe(1);
  });

  it('allows listed addresses and subnets (IPv4-mapped IPv6 matches IPv4 entries); refuses malformed entries', () => {
    const l = new HostList(['10.0.0.0/24', 'fd00::1']);
    expect(['10.0.0.7', '::ffff:10.0.0.7', 'fd00::1'].map((h) => l.has(h))).toEqual([true, true, true]);
    expect(['10.0.1.7', 'fd00::2', '', 'example.com'].map((h) => l.has(h))).toEqual([false, false, false, false]);
    for (const bad of ['example.com', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/1', '::/129']) expect(() => new HostList([bad])).toThrow(/allowHosts entry/);
    expect(() => new HostList('10.0.0.1' as never)).toThrow(/must be an array/);
    expect(LOOPBACK.has('127.0.0.1') && LOOPBACK.has('::1') && !LOOPBACK.has('10.0.0.1')).toBe(true);
  });
});

// Keep the helper honest: HMAC under the shared secret is what the listener checks.
it('sharedSecretAuth proofs are HMAC-SHA-256 under the secret', () => {
  const t = Buffer.from('transcript');
  const auth = sharedSecretAuth(SECRET);
  expect(Buffer.from(auth.sign('x', t) as Uint8Array)).toEqual(createHmac('sha256', SECRET).update(t).digest());
  expect(auth.verify('x', t, createHmac('sha256', 'wrong secret wrong secret').update(t).digest())).toBe(false);
});
