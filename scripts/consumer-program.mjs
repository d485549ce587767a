// The consumer test's program (scripts/consumer-test.sh): the public API as a user's project
// calls it, from the installed tarballs. Prints one JSON line; exits 1 on a wrong answer.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mover } from '@datamover/core';
import { soft } from '@datamover/backend-soft';
import { sdxi } from '@datamover/backend-sdxi';
import { cxl, openDax } from '@datamover/backend-cxl';
import { gds } from '@datamover/backend-gds';
import { rdma } from '@datamover/backend-rdma';

const fail = (why) => {
  console.error(`consumer program: ${why}`);
  process.exit(1);
};
const out = {};

// soft: the native engine from the prebuilt binary, aligned allocation, a copy and a compare.
{
  const mover = await Mover.open({ backends: [soft()] });
  const engine = mover.stats().backends[0].engine.engine;
  if (engine !== 'native') fail(`soft runs the ${engine} engine: ${JSON.stringify(mover.stats().unavailable)}`);
  const src = mover.wrap(Buffer.from('hello, datamover'));
  const dst = mover.alloc(4096, { alignment: 4096 });
  await mover.copy(dst, src, { length: src.length });
  const cmp = await mover.compare(dst, src, { length: src.length });
  if (!cmp.equal) fail('soft copy differs');
  out.soft = { engine, unavailable: mover.stats().unavailable.map((r) => r.name) };
  await mover.close();
}

// sdxi: fill then copy through the SDXI producer and its software function.
{
  const mover = await Mover.open({ backends: [sdxi()] });
  const a = mover.alloc(8192);
  const b = mover.alloc(8192);
  await mover.fill(a, 0x5a);
  await mover.copy(b, a);
  if (!(await mover.compare(a, b)).equal) fail('sdxi copy differs');
  out.sdxi = { backends: mover.backends };
  await mover.close();
}

// cxl: a plain file mapped as a dax region, written durably from host memory.
{
  const file = join(process.argv[2] ?? '.', 'pm.bin');
  writeFileSync(file, Buffer.alloc(1 << 16));
  const mover = await Mover.open({ backends: [cxl(), soft()] });
  const pm = await openDax(mover, file);
  const host = mover.alloc(1 << 16);
  await mover.fill(host, 0x33);
  await mover.copy(pm, host, { durable: true });
  if (!(await mover.compare(pm, host)).equal) fail('cxl copy differs');
  out.cxl = { length: pm.length };
  await mover.close();
}

// gds and rdma: installed, and each says why it cannot run here (no GPU, no RDMA device).
for (const [name, backend] of [['gds', gds()], ['rdma', rdma()]]) {
  const [r] = await Mover.probe([backend]);
  if (!r.available && !(typeof r.reason === 'string' && r.reason.length > 0)) fail(`${name} is unavailable without a reason`);
  out[name] = { available: r.available, reason: r.reason };
}
console.log(JSON.stringify(out));
