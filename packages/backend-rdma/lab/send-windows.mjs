// Copies with more chunks per QP than sendDepth, run in the lab guest (engine.test.ts). The engine
// posts a copy's chunks in windows as completions free send slots; before, post() waited for room
// for all of them at once, which never came, and the copy spun forever (past 128 × 1 MiB per QP
// with the defaults). Here sendDepth 4, chunkBytes 4 KiB, one QP: a 1 MiB copy is 256 work
// requests, 64 windows. Both directions with content checks, a batch of such copies and a fenced
// write-immediate behind them. Prints "OK <check>" / "FAIL <check>: why"; exits 1 on a FAIL.
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { rdma, rdmaConformanceKinds } from '@datamover/backend-rdma';
import { pattern, peerKit, same } from './kit.mjs';

const { check, failures } = peerKit('windows');
const options = { peerAuth: { secret: process.env.RDMA_LAB_SECRET }, sendDepth: 4, chunkBytes: 4096, qpsPerPeer: 1 };
const SIZE = 1 << 20;
const PART = SIZE / 8;
const mover = await Mover.open({ backends: [rdma(options), soft()] });
const kinds = rdmaConformanceKinds(options);
const fx = await kinds.remote.create(mover, SIZE, {});
const local = mover.alloc(SIZE);
const writes = () => mover.stats().backends.find((b) => b.name === 'rdma').engine.rdmaWrites;

// A copy that never settles is the defect: give up after a minute (it takes well under a second).
const settles = (p) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error('did not settle within 60 s')), 60_000).unref())]);

await check('host→remote 1 MiB: 256 WRITEs through a send queue of 4 (content check)', async () => {
  local.bytes().set(pattern(1, SIZE));
  const before = writes();
  await settles(mover.copy(fx.region, local));
  if (!same(await fx.read(), pattern(1, SIZE))) throw new Error('remote content differs');
  return `${writes() - before} RDMA WRITEs`;
});
await check('remote→host 1 MiB: 256 READs through a send queue of 4 (content check)', async () => {
  await fx.write(pattern(2, SIZE));
  local.bytes().fill(0);
  await settles(mover.copy(local, fx.region));
  if (!same(local.bytes(), pattern(2, SIZE))) throw new Error('local content differs');
});
await check('a batch of 8 × 128 KiB WRITEs + a fenced write-immediate behind them (content check)', async () => {
  local.bytes().set(pattern(3, SIZE));
  const b = mover.batch();
  for (let k = 0; k < 8; k++) b.copy(fx.region, local, { srcOffset: k * PART, dstOffset: k * PART, length: k === 7 ? PART - 8 : PART });
  b.writeImmediate(fx.region, 0x0123456789abcdefn, { width: 8, offset: SIZE - 8, fence: true });
  await settles(b.submit());
  const got = await fx.read();
  if (!same(got.subarray(0, SIZE - 8), pattern(3, SIZE).subarray(0, SIZE - 8))) throw new Error('remote content differs');
  const v = Buffer.from(got.buffer, got.byteOffset + SIZE - 8, 8).readBigUInt64LE();
  if (v !== 0x0123456789abcdefn) throw new Error(`immediate payload 0x${v.toString(16)}`);
});
await fx.dispose();
await kinds.remote.close();
await mover.close();
process.exit(failures() > 0 ? 1 : 0);
