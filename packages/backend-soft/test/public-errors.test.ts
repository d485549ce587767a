/**
 * Issue 20 item 6: no public call throws anything but a DatamoverError. Plain-JS mistakes (a
 * non-Region argument, `null` options, a misspelled option key, a bad ring size, a bad result
 * index) are refused with INVALID_ARGUMENT before any byte is written.
 */
import { DatamoverError, ErrorCode, Mover, type Region } from '@datamover/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { soft } from '../src/index.js';
import { openSoft, tempDir } from './helpers.js';

const dir = tempDir();

/** Expects `f` to fail with INVALID_ARGUMENT (synchronously or as a rejection); returns the error. */
async function refused(f: () => unknown): Promise<DatamoverError> {
  let error: unknown;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a DatamoverError').toBeInstanceOf(DatamoverError);
  expect((error as DatamoverError).code).toBe(ErrorCode.INVALID_ARGUMENT);
  return error as DatamoverError;
}

describe('public calls refuse plain-JS mistakes with DatamoverError', () => {
  let mover: Mover;
  let dst: Region;
  let src: Region;
  let bytes: Uint8Array;
  beforeEach(async () => {
    mover = await openSoft('native');
    dst = mover.wrap(new Uint8Array(256).fill(0xab));
    src = mover.wrap(new Uint8Array(256).fill(0x11));
    bytes = new Uint8Array(dst.bytes());
  });
  afterEach(async () => {
    // Nothing refused may have written a byte.
    expect(dst.bytes()).toEqual(bytes);
    await mover.close();
  });

  const notRegions: [string, unknown][] = [
    ['a Uint8Array', new Uint8Array(256)],
    ['an object', { length: 256 }],
    ['null', null],
    ['undefined', undefined],
  ];
  for (const [name, bad] of notRegions) {
    it(`a non-Region argument (${name})`, async () => {
      const e = await refused(() => mover.copy(dst, bad as Region));
      expect(e.message).toMatch(/source region must be a Region/);
      await refused(() => mover.copy(bad as Region, src));
      await refused(() => mover.fill(bad as Region, 1));
      await refused(() => mover.compare(dst, bad as Region));
      await refused(() => mover.crc32c(bad as Region));
      await refused(() => mover.writeImmediate(bad as Region, 1));
      await refused(() => mover.moveInto(dst, bad as Region));
      await refused(() => mover.batch().copy(dst, bad as Region));
    });
  }

  it('null options on every call that takes options', async () => {
    const n = null as never;
    const calls: [string, () => unknown][] = [
      ['copy()', () => mover.copy(dst, src, n)],
      ['fill()', () => mover.fill(dst, 1, n)],
      ['compare()', () => mover.compare(dst, src, n)],
      ['crc32c()', () => mover.crc32c(src, n)],
      ['writeImmediate()', () => mover.writeImmediate(dst, 1, n)],
      ['nop()', () => mover.nop(n)],
      ['moveInto()', () => mover.moveInto(dst, src, n)],
      ['wrap()', () => mover.wrap(new Uint8Array(8), n)],
      ['alloc()', () => mover.alloc(64, n)],
      ['openFile()', () => mover.openFile(`${dir}/never`, n)],
      ['Batch.copy()', () => mover.batch().copy(dst, src, n)],
      ['Batch.fill()', () => mover.batch().fill(dst, 1, n)],
      ['Batch.submit()', () => mover.batch().fill(dst, 1).submit(n)],
      ['close()', () => mover.close(n)],
    ];
    for (const [call, f] of calls) {
      const e = await refused(f);
      expect(e.message).toContain(`${call}: options must be an object, got null`);
    }
    // Non-objects too.
    await refused(() => mover.fill(dst, 1, 5 as never));
    expect(mover.closed).toBe(false);
  });

  it('a misspelled option is refused and named, not ignored', async () => {
    const e = await refused(() => mover.fill(dst, 1, { ofset: 100, lenght: 1 } as never));
    expect(e.message).toMatch(/^fill\(\): unknown options 'ofset', 'lenght' \(known: .*offset.*\)/);
    expect((await refused(() => mover.copy(dst, src, { legnth: 8 } as never))).message).toContain("'legnth'");
    expect((await refused(() => mover.batch().crc32c(src, { sead: 1 } as never))).message).toContain("Batch.crc32c(): unknown option 'sead'");
    // A submit key is fine on a one-shot call but not on a batch's descriptor.
    await refused(() => mover.batch().fill(dst, 1, { timeout: 100 } as never));
    expect((await refused(() => mover.batch().fill(dst, 1).submit({ timout: 5 } as never))).message).toContain("'timout'");
    expect((await refused(() => mover.wrap(new Uint8Array(8), { readonly: true } as never))).message).toContain("'readonly'");
    expect((await refused(() => mover.openFile(`${dir}/never`, { mode: 'rw', creat: true } as never))).message).toContain("'creat'");
  });

  it('known options still work, submit keys included on one-shot calls', async () => {
    await mover.fill(dst, 7, { offset: 4, length: 2, timeout: 10_000, fence: false });
    bytes[4] = bytes[5] = 7;
    const r = await mover.batch().crc32c(src, { offset: 0, length: 4, seed: 0 }).submit({ timeout: 10_000 });
    expect(typeof r.value(0)).toBe('number');
  });

  it('BatchResult.value/status/error of a bad index', async () => {
    const r = await mover.batch().nop().submit();
    for (const i of [1, -1, 0.5, NaN]) {
      await refused(() => r.value(i));
      await refused(() => r.status(i));
      await refused(() => r.error(i));
    }
  });
});

describe('Mover.open refuses bad options with DatamoverError', () => {
  it('null, a misspelled key, a ring size that is not a power of two', async () => {
    expect((await refused(() => Mover.open(null as never))).message).toContain('Mover.open(): options must be an object, got null');
    expect((await refused(() => Mover.open({ backends: [soft()], ringEntrys: 8 } as never))).message).toContain("'ringEntrys'");
    for (const ringEntries of [3, 0, 1.5, 2 ** 21]) {
      expect((await refused(() => Mover.open({ backends: [soft()], ringEntries }))).message).toContain('ring entries must be a power of two');
    }
  });
});
