/** Batch: the checks before anything is queued, the descriptors it encodes, fences and per-descriptor results, over core's TypeScript engine. */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { abi, DatamoverError, ErrorCode, Mover, type Region } from '../src/index.js';
import { codeOf } from './fixtures/code-of.js';
import { oracleBackend } from './fixtures/oracle-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'dm-core-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let m: Mover;
beforeEach(async () => {
  m = await Mover.open({ backends: [oracleBackend()] });
});
afterEach(async () => {
  await m.close();
});


/** A file region whose file is cut short after opening: reading it fails on the engine (SHORT_IO). */
async function shortFile(name: string, bytes = 4096): Promise<Region> {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(bytes));
  const r = await m.openFile(path, { mode: 'r' });
  truncateSync(path, 0);
  return r;
}

describe('checks before queueing', () => {
  it('refuses bad ranges, lengths, widths and values with typed errors', () => {
    const a = m.wrap(new Uint8Array(64));
    const b = m.wrap(new Uint8Array(32));
    const batch = m.batch();
    expect(codeOf(() => batch.copy(a, b))).toBe(ErrorCode.LENGTH_MISMATCH);
    expect(codeOf(() => batch.copy(a, b, { length: 33 }))).toBe(ErrorCode.OUT_OF_BOUNDS);
    expect(codeOf(() => batch.copy(a, b, { srcOffset: 33 }))).toBe(ErrorCode.OUT_OF_BOUNDS);
    expect(codeOf(() => batch.copy(a, b, { length: -1 }))).toBe(ErrorCode.INVALID_SIZE);
    expect(codeOf(() => batch.fill(a, 256))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => batch.fill(a, 1, { patternBytes: 4 as never }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => batch.writeImmediate(a, 1, { width: 3 as never }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => batch.writeImmediate(a, 1, { offset: 60 }))).toBe(ErrorCode.OUT_OF_BOUNDS);
    expect(codeOf(() => batch.crc32c(a, { seed: 2 ** 32 }))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => batch.compare(a, b))).toBe(ErrorCode.LENGTH_MISMATCH);
    expect(codeOf(() => batch.copy(a, {} as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => batch.copy(a, b, { lenght: 4 } as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => batch.copyStrided(a, b, { count: 2, blockBytes: 8, srcStride: 4, dstStride: 8 }))).toBe(ErrorCode.OVERLAPPING_RANGES);
    expect(codeOf(() => batch.fillStrided(a, 1, { count: 9, blockBytes: 8, stride: 8 }))).toBe(ErrorCode.OUT_OF_BOUNDS);
    expect(codeOf(() => batch.copyStrided(a, b, undefined as never))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(batch.length).toBe(0); // nothing refused was queued
  });

  it('refuses writes to a read-only region and copies whose ends overlap in memory', () => {
    const buf = new Uint8Array(64);
    const ro = m.wrap(buf, { readOnly: true });
    const rw = m.wrap(buf.subarray(0, 32));
    const batch = m.batch();
    expect(codeOf(() => batch.fill(ro, 1))).toBe(ErrorCode.ACCESS_DENIED);
    expect(codeOf(() => batch.copy(ro, rw, { length: 8 }))).toBe(ErrorCode.ACCESS_DENIED);
    // Two registrations of one buffer: overlap is judged by memory, not by handle.
    expect(codeOf(() => batch.copy(rw, ro, { srcOffset: 4, length: 8 }))).toBe(ErrorCode.OVERLAPPING_RANGES);
    const whole = m.wrap(new Uint8Array(64));
    expect(codeOf(() => batch.copy(whole.slice(0, 16), whole.slice(8, 16)))).toBe(ErrorCode.OVERLAPPING_RANGES);
    batch.copy(whole.slice(0, 16), whole.slice(16, 16));
    expect(batch.length).toBe(1);
  });

  it('refuses durable writes to volatile memory and a descriptor larger than the backend takes', async () => {
    const small = await Mover.open({ backends: [oracleBackend({ maxDescriptorBytes: 16 })] });
    try {
      const r = small.wrap(new Uint8Array(64));
      expect(codeOf(() => small.batch().fill(r, 1, { durable: true, length: 16 }))).toBe(ErrorCode.NOT_PERSISTENT);
      expect(codeOf(() => small.batch().fill(r, 1))).toBe(ErrorCode.SIZE_TOO_LARGE);
      small.batch().fill(r, 1, { length: 16 });
    } finally {
      await small.close();
    }
  });

  it('a batch submits once', async () => {
    const r = m.wrap(new Uint8Array(8));
    const batch = m.batch().fill(r, 1);
    await batch.submit();
    await expect(batch.submit()).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    expect(codeOf(() => batch.fill(r, 2))).toBe(ErrorCode.INVALID_ARGUMENT);
  });
});

describe('encoding', () => {
  it('writes each descriptor in the SDXI generic layout the engine ABI decodes', () => {
    const a = m.wrap(new Uint8Array(64));
    const b = m.wrap(new Uint8Array(64));
    const batch = m
      .batch()
      .copy(b.slice(16, 8), a.slice(8, 8))
      .fill(b, 0x1122334455667788n, { patternBytes: 8, offset: 8, length: 16, fence: true })
      .crc32c(a, { seed: 7, length: 10 })
      .writeImmediate(b, 0xbeef, { width: 2, offset: 4 })
      .copyStrided(b, a, { count: 3, blockBytes: 4, srcStride: 8, dstStride: 16 })
      .copy(b, a, { length: 0 });
    const d = (i: number) => abi.decodeDescriptor(batch.words, i * 16);
    const ai = a.resolve().reg.index;
    const bi = b.resolve().reg.index;
    expect(d(0)).toMatchObject({ op: 'copy', fence: false, valid: false, size: 7, akey0: ai, akey1: bi, addr0: 8, addr1: 16 });
    expect(d(1)).toMatchObject({ op: 'fill', fence: true, size: 15, patternBytes: 8, akey1: bi, addr1: 8, pattern: 0x1122334455667788n });
    expect(d(2)).toMatchObject({ op: 'crc32c', size: 9, akey0: ai, addr0: 0, seed: 7 });
    expect(d(3)).toMatchObject({ op: 'writeImm', width: 2, akey1: bi, addr1: 4, value: 0xbeefn });
    expect(d(4)).toMatchObject({ op: 'copyStrided', count: 3, size: 3, stride0: 8, stride1: 16 });
    // A zero-length descriptor runs as a NOP.
    expect(d(5)).toMatchObject({ op: 'nop' });
  });
});

describe('results', () => {
  it('reports a value per descriptor and refuses an index outside the batch', async () => {
    const a = m.wrap(new TextEncoder().encode('123456789'));
    const b = m.wrap(new Uint8Array(9));
    const result = await m.batch().copy(b, a).compare(a, b).crc32c(b).compare(a, b, { length: 0 }).submit();
    expect(result.ok).toBe(true);
    expect(result.counts).toEqual({ done: 4, notRun: 0, failed: 0, pending: 0 });
    expect([0, 1, 2, 3].map((i) => result.status(i))).toEqual(['done', 'done', 'done', 'done']);
    expect(result.value(1)).toBe(-1); // equal
    expect(result.value(2)).toBe(0xe3069283); // the CRC-32C check value
    expect(result.value(3)).toBe(-1); // a zero-length compare is equal without running
    expect(codeOf(() => result.value(4))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => result.status(-1))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => result.error(0.5))).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it('a compare that differs reports the first differing offset', async () => {
    const a = m.wrap(new Uint8Array(32));
    const b = m.wrap(new Uint8Array(32));
    b.bytes()[21] = 1;
    expect(await m.compare(a, b)).toEqual({ equal: false, offset: 21 });
  });

  it('an engine failure fails its descriptor; later unfenced ones run, fenced ones are held back', async () => {
    const broken = await shortFile('short-a');
    const dst = m.wrap(new Uint8Array(4096));
    const other = m.wrap(new Uint8Array(8));
    const err = await m
      .batch()
      .copy(dst, broken)
      .fill(other, 1)
      .fill(other, 2, { fence: true })
      .submit()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatamoverError);
    const e = err as DatamoverError;
    expect(e.code).toBe(ErrorCode.BATCH_FAILED);
    expect((e.cause as DatamoverError).code).toBe(ErrorCode.IO_ERROR);
    const result = e.result!;
    expect([result.status(0), result.status(1), result.status(2)]).toEqual(['failed', 'done', 'not-run']);
    expect(result.notRunReason(2)).toBe('after-failure');
    expect(result.error(0)?.code).toBe(ErrorCode.IO_ERROR);
    expect(other.bytes()[0]).toBe(1);
  });

  it('stopOnError runs nothing after a failure', async () => {
    const broken = await shortFile('short-b');
    const dst = m.wrap(new Uint8Array(4096));
    const other = m.wrap(new Uint8Array(8));
    const err = (await m.batch().copy(dst, broken).fill(other, 1).submit({ stopOnError: true }).catch((x: unknown) => x)) as DatamoverError;
    expect(err.code).toBe(ErrorCode.BATCH_FAILED);
    expect(err.result!.status(1)).toBe('not-run');
    expect(err.result!.notRunReason(1)).toBe('after-failure');
    expect(other.bytes()[0]).toBe(0);
  });

  it('a one-shot call rejects with the descriptor failure itself', async () => {
    const broken = await shortFile('short-c');
    await expect(m.copy(m.wrap(new Uint8Array(4096)), broken)).rejects.toMatchObject({ code: ErrorCode.IO_ERROR });
  });

  it('an aborted signal cancels before anything runs', async () => {
    const r = m.wrap(new Uint8Array(8));
    const err = await m
      .batch()
      .fill(r, 1)
      .submit({ signal: AbortSignal.abort() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatamoverError);
    expect((err as DatamoverError).code).toBe(ErrorCode.ABORTED);
    expect(r.bytes()[0]).toBe(0);
  });
});
