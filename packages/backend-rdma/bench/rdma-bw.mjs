// RDMA WRITE / READ throughput of the rdma backend against perftest's ib_write_bw / ib_read_bw on
// the same device in the same run. Run inside the lab:
//   pnpm lab --rdma -- 'cd packages/backend-rdma && ulimit -l unlimited && node bench/rdma-bw.mjs'
// Prints one line per (op, size) and a JSON summary. Both sides keep ~128 work requests in flight
// (perftest's default tx depth) and move the same number of messages.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { rdma } from '@datamover/backend-rdma';

const DEV = process.env.LAB_RDMA_DEV ?? 'rxe0';
const SELF = process.env.LAB_SELF ?? '127.0.0.1';
const CASES = [
  { size: 65536, iters: Number(process.env.BENCH_ITERS_64K ?? 1000) },
  { size: 1 << 20, iters: Number(process.env.BENCH_ITERS_1M ?? 100) },
];

async function perftest(tool, size, iters) {
  const args = ['-d', DEV, '-R', '-s', String(size), '-n', String(iters), '-F'];
  const server = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  const done = new Promise((r) => server.on('close', r));
  let client = '';
  for (let i = 0; i < 40; i++) {
    try {
      client = execFileSync(tool, [...args, SELF], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await done;
  const line = client.split('\n').find((l) => new RegExp(`^\\s*${size}\\s+\\d+`).test(l));
  if (!line) throw new Error(`${tool}: no result line\n${client}\n${out}`);
  return Number(line.trim().split(/\s+/)[3]); // BW average [MB/sec]
}

async function ours(op, size, iters) {
  // a listens on the device's address, so both authenticate (a secret of this run); b may import from it.
  const options = { peerAuth: { secret: randomBytes(32).toString('hex') }, allowHosts: [SELF] };
  const a = await Mover.open({ backends: [rdma(options), soft()] });
  const b = await Mover.open({ backends: [rdma(options), soft()] });
  try {
    await rdma.listen(a, { host: SELF, port: 0 });
    const target = a.alloc(16 * size, { alignment: 4096 });
    const token = rdma.export(a, target, { access: 'read-write' });
    const remote = await rdma.import(b, token);
    const local = b.alloc(16 * size, { alignment: 4096 });
    const PER_BATCH = size >= 1 << 20 ? 4 : 16;
    const IN_FLIGHT = Math.max(1, Math.floor(128 / PER_BATCH / (size > 512 * 1024 ? 2 : 1)));
    const batch = () => {
      const bt = b.batch();
      for (let k = 0; k < PER_BATCH; k++) {
        const off = (k % 16) * size;
        if (op === 'write') bt.copy(remote, local, { srcOffset: off, dstOffset: off, length: size });
        else bt.copy(local, remote, { srcOffset: off, dstOffset: off, length: size });
      }
      return bt.submit();
    };
    await batch(); // warm-up (registration, first touch)
    const batches = Math.ceil(iters / PER_BATCH);
    const t0 = performance.now();
    let issued = 0;
    const pending = new Set();
    while (issued < batches || pending.size > 0) {
      while (issued < batches && pending.size < IN_FLIGHT) {
        const p = batch().then(() => pending.delete(p));
        pending.add(p);
        issued++;
      }
      await Promise.race(pending);
    }
    const s = (performance.now() - t0) / 1000;
    const stats = b.stats().backends.find((x) => x.name === 'rdma').engine;
    return { mbps: (batches * PER_BATCH * size) / 1e6 / s, stats };
  } finally {
    await b.close();
    await a.close();
  }
}

const rows = [];
for (const { size, iters } of CASES) {
  for (const op of ['write', 'read']) {
    let peer = 0;
    // perftest occasionally reports 0.00 when its client raced the server's start: measure again.
    for (let attempt = 0; attempt < 3 && !(peer > 0); attempt++) peer = await perftest(op === 'write' ? 'ib_write_bw' : 'ib_read_bw', size, iters);
    const mine = await ours(op, size, iters);
    const row = { op, size, iters, datamoverMBps: +mine.mbps.toFixed(2), perftestMBps: peer, ratio: +(mine.mbps / peer).toFixed(3) };
    rows.push(row);
    console.log(`${op.padEnd(5)} ${String(size).padStart(8)} B  datamover ${row.datamoverMBps.toFixed(2)} MB/s  ${op === 'write' ? 'ib_write_bw' : 'ib_read_bw '} ${peer.toFixed(2)} MB/s  ratio ${row.ratio}  (mr: ${mine.stats.mrRegistrations} registrations, ${mine.stats.mrCacheHits} hits, ${mine.stats.mrRegistrationMs} ms)`);
  }
}
console.log(`RESULT ${JSON.stringify(rows)}`);
