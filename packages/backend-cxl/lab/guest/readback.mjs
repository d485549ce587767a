// Guest side, second boot on the same NVDIMM backing file: the durable bytes are still there.
import { Mover } from '@datamover/core';
import { cxl, daxFacts, openDax } from '../../dist/index.js';
import { emit, payload } from './common.mjs';

const m = await Mover.open({ backends: [cxl()] });
const offset = Number(process.env.DAX_OFFSET);
const length = Number(process.env.DAX_LENGTH);
const dax = await openDax(m, process.env.LAB_DAX, { offset, length, mode: 'r' });
const host = m.alloc(length);
await m.copy(host, dax);
const expected = payload(process.env.MARKER, length);
const got = host.bytes();
let firstDiff = -1;
for (let i = 0; i < length; i++) if (got[i] !== expected[i]) { firstDiff = i; break; }
emit({ crc: await m.crc32c(dax), firstDiff, head: new TextDecoder().decode(got.subarray(0, 40)), facts: daxFacts(dax) });
await m.close();
