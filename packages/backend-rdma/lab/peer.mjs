// One side of the rdma lab scenario: `node peer.mjs server|client <serverAddress>`. Run as two
// processes in one guest (--rdma) or one per guest (--peers 2). Prints "OK <check>" or
// "FAIL <check>: why" per check and exits non-zero on any failure.
//
// server: listens, exports a read-only source (pattern A) and a read-write sink, serves the
//         tokens on a small TCP side service (port+1), verifies what the client writes once its
//         WRITE_WITH_IMM arrives, writes back into the client's export, revokes on request,
//         and finally kills itself (SIGKILL) on request, mid-transfer.
// client: imports, READs and checks, WRITEs + WRITE_WITH_IMM, exports a region for the server,
//         tries malformed / forged / resealed / replayed tokens, a wrong secret, no secret and a
//         host outside allowHosts, and forbidden access, checks revocation and recovery, then has
//         the server killed while a large batch is in flight.
// Both authenticate with the shared secret in RDMA_LAB_SECRET (the test makes one per run).
import { createConnection } from 'node:net';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { decodeToken, encodeToken, rdma, tokenKey } from '@datamover/backend-rdma';
import { ask, pattern, peerArgs, peerKit, same, serve } from './kit.mjs';

const { role, serverHost, SECRET } = peerArgs();
const PORT = Number(process.env.RDMA_LAB_PORT ?? 18600);
const SIZE = 4 << 20;
const { log, ok, bad, check, expectCode, failures } = peerKit(role);

const options = { peerAuth: { secret: SECRET }, allowHosts: [serverHost] };
const mover = await Mover.open({ backends: [rdma(options), soft()] });
if (!mover.backends.includes('rdma')) {
  console.log(`rdma unavailable: ${JSON.stringify(mover.stats().unavailable)}`);
  process.exit(3);
}

if (role === 'server') {
  const self = process.env.LAB_SELF ?? serverHost;
  const where = await rdma.listen(mover, { host: '0.0.0.0', port: PORT, advertise: self });
  const src = mover.alloc(SIZE, { alignment: 4096 });
  src.bytes().set(pattern(0xa, SIZE));
  const sink = mover.alloc(SIZE, { alignment: 4096 });
  const roToken = rdma.export(mover, src, { access: 'read-only' });
  const rwToken = rdma.export(mover, sink, { access: 'read-write' });
  const rwToken2 = rdma.export(mover, sink.slice(0, 65536), { access: 'read-write' });
  let clientToken;
  const done = new Promise((resolve) => {
    serve(PORT + 1, async (m) => {
      if (m.t === 'tokens') return { roToken, rwToken, rwToken2 };
      if (m.t === 'client-token') {
        clientToken = m.token;
        return {};
      }
      if (m.t === 'revoke') {
        rdma.revoke(mover, roToken);
        ok('revoke (exporter, importers notified)');
        return { roTokenAgain: rdma.export(mover, src, { access: 'read-only' }) };
      }
      if (m.t === 'revoke-silently') {
        rdma.revoke(mover, rwToken2, { notify: false });
        ok('revoke (exporter, no notice: the NIC must refuse)');
        return {};
      }
      if (m.t === 'die') {
        log('killing myself mid-transfer (SIGKILL)');
        setTimeout(() => process.kill(process.pid, 'SIGKILL'), 300);
        resolve();
        return {};
      }
      return {};
    });
  });
  log(`listening on ${where.host}:${where.port}, node ${rdma.nodeId(mover)}`);

  // The client WRITEs pattern B, then a fenced WRITE_WITH_IMM (value 0xC0FFEE) into its last 8 bytes.
  await check('WRITE_WITH_IMM notification received', async () => {
    const imm = await rdma.awaitImmediate(mover, { value: 0xc0ffee, timeout: 120_000 });
    return `from ${imm.peer.slice(0, 8)}…, value 0x${imm.value.toString(16)}`;
  });
  await check('client WRITE landed (content check)', async () => {
    const got = sink.bytes();
    const want = pattern(0xb, SIZE);
    if (!same(got.subarray(0, SIZE - 8), want.subarray(0, SIZE - 8))) throw new Error('sink content differs from pattern B');
    const v = Buffer.from(got.buffer, got.byteOffset + SIZE - 8, 8).readBigUInt64LE();
    if (v !== 0xc0ffeen) throw new Error(`immediate payload 0x${v.toString(16)}`);
  });
  // The other direction: write into the client's export, then notify it.
  await check('server WRITE into client export + WRITE_WITH_IMM', async () => {
    while (!clientToken) await new Promise((r) => setTimeout(r, 50));
    const remote = await rdma.import(mover, clientToken);
    const local = mover.alloc(remote.length, { alignment: 4096 });
    local.bytes().set(pattern(0xc, remote.length));
    const b = mover.batch().copy(remote, local).writeImmediate(remote, 0xbeef, { width: 4, offset: 0, fence: true });
    await b.submit();
    return `${remote.length} bytes`;
  });
  await done;
  await new Promise(() => {}); // wait for the SIGKILL
} else {
  const { roToken, rwToken, rwToken2 } = await ask(serverHost, PORT + 1, { t: 'tokens' });
  log(`tokens: ${roToken.length} and ${rwToken.length} characters`);
  let src, sink;
  await check('import (connects, authenticates, token checked by exporter)', async () => {
    src = await rdma.import(mover, roToken);
    sink = await rdma.import(mover, rwToken);
    return `${src.kind} ${src.length} bytes ${src.writable ? 'rw' : 'ro'}, ${sink.kind} ${sink.writable ? 'rw' : 'ro'}`;
  });
  const local = mover.alloc(SIZE, { alignment: 4096 });
  await check('RDMA READ 4 MiB (content check)', async () => {
    const t = Date.now();
    await mover.copy(local, src);
    if (!same(local.bytes(), pattern(0xa, SIZE))) throw new Error('content differs from pattern A');
    return `${(SIZE / 2 ** 20 / ((Date.now() - t) / 1000)).toFixed(1)} MiB/s`;
  });
  await check('RDMA READ of a sub-range reuses the registration', async () => {
    const before = mover.stats().backends.find((b) => b.name === 'rdma').engine;
    const part = mover.wrap(local.bytes().subarray(4096, 4096 + 65536));
    part.bytes().fill(0);
    await mover.copy(part, src, { srcOffset: 4096, length: 65536 });
    if (!same(part.bytes(), pattern(0xa, SIZE).subarray(4096, 4096 + 65536))) throw new Error('content differs');
    const after = mover.stats().backends.find((b) => b.name === 'rdma').engine;
    await part.release();
    return `registrations ${before.mrRegistrations}→${after.mrRegistrations}, cache hits ${before.mrCacheHits}→${after.mrCacheHits}, ${after.mrBytesRegistered} bytes registered in ${after.mrRegistrationMs} ms`;
  });
  // Export a region for the server to write into (both ways).
  const mine = mover.alloc(1 << 20, { alignment: 4096 });
  await ask(serverHost, PORT + 1, { t: 'client-token', token: rdma.export(mover, mine, { access: 'read-write' }) });
  await check('RDMA WRITE 4 MiB + fenced WRITE_WITH_IMM', async () => {
    const out = mover.alloc(SIZE, { alignment: 4096 });
    out.bytes().set(pattern(0xb, SIZE));
    const t = Date.now();
    await mover.batch().copy(sink, out, { length: SIZE - 8 }).writeImmediate(sink, 0xc0ffee, { offset: SIZE - 8, fence: true }).submit();
    return `${(SIZE / 2 ** 20 / ((Date.now() - t) / 1000)).toFixed(1)} MiB/s`;
  });
  await check('server WRITE into our export landed (notification + content)', async () => {
    const imm = await rdma.awaitImmediate(mover, { peer: src, timeout: 120_000 });
    const got = mine.bytes();
    const want = pattern(0xc, 1 << 20);
    if (imm.value !== 0xbeef) throw new Error(`imm ${imm.value}`);
    if (Buffer.from(got.buffer, got.byteOffset, 4).readUInt32LE() !== 0xbeef) throw new Error('imm payload missing');
    if (!same(got.subarray(4), want.subarray(4))) throw new Error('content differs from pattern C');
    return `value 0x${imm.value.toString(16)}`;
  });
  // Security: only what was exported, only with the access granted; bad tokens refused.
  await expectCode('WRITE to a read-only import is refused', 'ACCESS_DENIED', () => mover.copy(src, local.slice(0, 16), { length: 16 }));
  await expectCode('access past the export is refused', 'OUT_OF_BOUNDS', () => mover.copy(local.slice(0, 32), src, { srcOffset: SIZE - 16, length: 32 }));
  await expectCode('malformed token', 'INVALID_TOKEN', () => rdma.import(mover, 'AAAA' + roToken.slice(4, -3)));
  await expectCode('garbage token', 'INVALID_TOKEN', () => rdma.import(mover, 'hello world'));
  // A reader of a token knows all its bytes but not the exporter's key: an edited field with the
  // v1 token's unkeyed check recomputed, or a token minted under another key, is refused.
  const reseal = (edit) => {
    const b = Buffer.from(roToken, 'base64url');
    edit(b);
    createHash('sha256').update(b.subarray(0, 67)).digest().subarray(0, 16).copy(b, 67);
    return b.toString('base64url');
  };
  await expectCode('forged token: minted under another key (refused by exporter)', 'INVALID_TOKEN', () => rdma.import(mover, encodeToken(decodeToken(roToken), tokenKey())));
  await expectCode('forged token: other rkey, resealed (refused by exporter)', 'INVALID_TOKEN', () => rdma.import(mover, reseal((b) => b.writeUInt32BE((b.readUInt32BE(59) + 1) >>> 0, 59))));
  await expectCode('forged token: read-only made read-write (refused)', 'INVALID_TOKEN', () => rdma.import(mover, reseal((b) => b.writeUInt8(2, 5))));
  await expectCode('forged token: longer length (refused)', 'INVALID_TOKEN', () => rdma.import(mover, reseal((b) => b.writeBigUInt64BE(BigInt(SIZE * 2), 51))));
  // Peer authentication and allowHosts, each from a fresh Mover (not yet connected to the server).
  const stranger = async (name, code, opts) => {
    const m = await Mover.open({ backends: [rdma(opts), soft()] });
    try {
      await expectCode(name, code, () => rdma.import(m, rwToken));
    } finally {
      await m.close();
    }
  };
  await stranger('wrong secret: refused before any connection key', 'ACCESS_DENIED', { peerAuth: { secret: randomBytes(32).toString('hex') }, allowHosts: [serverHost] });
  await stranger('no secret (unauthenticated hello): refused', 'ACCESS_DENIED', { allowHosts: [serverHost] });
  await stranger('token host outside allowHosts: refused before connecting', 'ACCESS_DENIED', { peerAuth: { secret: SECRET } });
  await check('a raw hello with a bad response gets no connection key', async () => {
    const reply = await new Promise((resolve, reject) => {
      const c = createConnection(PORT, serverHost);
      const lines = [];
      let buf = '';
      c.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const m = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          lines.push(m.t);
          if (m.t === 'challenge') c.write(`${JSON.stringify({ t: 'auth', proof: createHmac('sha256', 'guess guess guess').update('x').digest('hex') })}\n`);
        }
      });
      c.on('connect', () => c.write(`${JSON.stringify({ t: 'hello', nodeId: 'ab'.repeat(16), host: '', port: 0, challenge: 'cd'.repeat(32) })}\n`));
      c.on('close', () => resolve(lines));
      c.on('error', reject);
    });
    if (reply.join() !== 'challenge,refused') throw new Error(`the listener answered ${reply.join()}`);
    return reply.join(' → ');
  });
  // Revocation: later READs fail with a typed error, the connection recovers for other work.
  const { roTokenAgain } = await ask(serverHost, PORT + 1, { t: 'revoke' });
  await expectCode('READ after revocation', 'ACCESS_REVOKED', () => mover.copy(local, src));
  await new Promise((r) => setTimeout(r, 300));
  await expectCode('READ after revocation (notice received)', 'ACCESS_REVOKED', () => mover.copy(local, src));
  await expectCode('replayed token after revocation and re-export', 'ACCESS_REVOKED', () => rdma.import(mover, roToken));
  await check('the re-exported token reads (content check)', async () => {
    const again = await rdma.import(mover, roTokenAgain);
    const part = local.slice(0, 65536);
    await mover.copy(part, again, { length: 65536 });
    if (!same(part.bytes(), pattern(0xa, 65536))) throw new Error('content differs from pattern A');
    await again.release();
  });
  // Revocation the importer is not told about: the NIC refuses the rkey (IBV_WC_REM_ACCESS_ERR),
  // the QPs go to error and are re-established, and other work goes on.
  const doomed = await rdma.import(mover, rwToken2);
  await mover.copy(doomed, local.slice(0, 4096), { length: 4096 });
  await ask(serverHost, PORT + 1, { t: 'revoke-silently' });
  await expectCode('WRITE after a silent revocation (refused by the NIC)', 'ACCESS_REVOKED', () => mover.copy(doomed, local.slice(0, 4096), { length: 4096 }));
  await check('connection recovers: WRITE to the other export after revocation', async () => {
    await rdma.peer(mover, decodeToken(rwToken).nodeId).ready(30_000);
    const small = mover.alloc(65536);
    small.bytes().set(pattern(0xd, 65536));
    await mover.copy(sink, small, { length: 65536 });
    const back = mover.alloc(65536);
    await mover.copy(back, sink, { length: 65536 });
    if (!same(back.bytes(), small.bytes())) throw new Error('read-back differs');
    const e = mover.stats().backends.find((b) => b.name === 'rdma').engine;
    return `qpsDown ${e.qpsDown}, reconnects ${e.reconnects}, wcErrors ${e.wcErrors}`;
  });
  // A peer killed mid-transfer: in-flight descriptors fail REMOTE_DISCONNECT, none report success
  // unless it landed, and later work fails fast instead of hanging.
  await check('peer killed mid-transfer → REMOTE_DISCONNECT', async () => {
    const out = mover.alloc(SIZE, { alignment: 4096 });
    const b = mover.batch();
    for (let i = 0; i < 48; i++) b.copy(sink, out, { length: 1 << 20, dstOffset: (i % 4) << 20 });
    const run = b.submit();
    await ask(serverHost, PORT + 1, { t: 'die' });
    try {
      await run;
      throw new Error('the batch succeeded although the peer died');
    } catch (e) {
      if (e.code !== 'BATCH_FAILED') throw e;
      const codes = {};
      for (let i = 0; i < b.length; i++) {
        const d = e.result.status(i);
        const err = d === 'failed' ? e.result.error(i) : undefined;
        // A QP error seen before the disconnect event is a DEVICE_ERROR carrying its ibv_wc_status.
        const k = err ? (err.code === 'DEVICE_ERROR' && err.detail?.wcStatusName ? `DEVICE_ERROR(${err.detail.wcStatusName})` : err.code) : d;
        codes[k] = (codes[k] ?? 0) + 1;
      }
      const wrong = Object.keys(codes).filter((k) => !['done', 'notRun', 'REMOTE_DISCONNECT'].includes(k) && !k.startsWith('DEVICE_ERROR(IBV_WC_'));
      if (!codes.REMOTE_DISCONNECT) throw new Error(`no descriptor saw REMOTE_DISCONNECT: ${JSON.stringify(codes)}`);
      if (wrong.length) throw new Error(`unexpected outcomes ${JSON.stringify(codes)}`);
      return JSON.stringify(codes);
    }
  });
  await expectCode('work after the peer died fails fast', 'REMOTE_DISCONNECT', () => mover.copy(sink, local, { length: 4096 }));
  await mover.close();
  log(`stats ok; ${failures()} failure(s)`);
  process.exit(failures() ? 1 : 0);
}
