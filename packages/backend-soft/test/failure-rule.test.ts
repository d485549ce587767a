/**
 * The failure rule through the public API, on both soft engines: after a descriptor fails, the
 * batch's fenced descriptors after it (every later one with `stopOnError`) do not run and are
 * reported not-run with reason 'after-failure'. The journaling case the rule exists for: data
 * writes to a full filesystem, then a fenced commit word — the commit must not be written.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatamoverError, type BatchResult, type Mover } from '@datamover/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINES, openSoft, pattern, tempDir } from './helpers.js';

const dir = tempDir();

/** The rejection of a batch that must fail, with its per-descriptor result. */
async function failed(p: Promise<BatchResult>): Promise<BatchResult> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DatamoverError);
  expect((e as DatamoverError).code).toBe('BATCH_FAILED');
  return (e as DatamoverError).result!;
}

/** A tmpfs of `bytes`, or why there is none (mounting needs root). */
function smallFilesystem(bytes: number): { path: string } | { why: string } {
  const path = join(dir, 'small-fs');
  mkdirSync(path, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (e) {
    return { why: `cannot mount a ${bytes}-byte tmpfs (${(e as Error).message.split('\n')[0]}); needs root` };
  }
  afterAll(() => execFileSync('umount', [path]));
  return { path };
}
const small = smallFilesystem(64 * 1024);
if ('why' in small) console.log(`skipping the full-filesystem test: ${small.why}`);

describe.each(ENGINES)('failure rule, %s engine', (engine) => {
  let m: Mover;
  it.skipIf('why' in small)('a fenced commit word after writes that hit ENOSPC is not written', async () => {
    m = await openSoft(engine);
    const path = join((small as { path: string }).path, `journal-${engine}.bin`);
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 1 << 20); // sparse: the space runs out when the data lands
    closeSync(fd);
    const journal = await m.openFile(path, { mode: 'rw' });
    const data = m.wrap(pattern(1 << 20, 3));
    const commit = m.wrap(new Uint8Array(8));
    const b = m.batch();
    b.copy(journal, data);
    b.writeImmediate(commit, 0x0123_4567_89ab_cdefn, { fence: true });
    const r = await failed(b.submit());
    expect(r.status(0)).toBe('failed');
    expect(r.error(0)?.code).toBe('IO_ERROR');
    expect(r.error(0)?.detail?.errno).toBe(28); // ENOSPC
    expect(r.status(1)).toBe('not-run');
    expect(r.notRunReason(1)).toBe('after-failure');
    expect(await m.compare(commit, m.wrap(new Uint8Array(8)))).toEqual({ equal: true });
    await m.close();
  });

  it('after a failed read, fenced descriptors are held back and unfenced ones run; stopOnError holds back all', async () => {
    m = await openSoft(engine);
    const path = join(dir, `short-${engine}.bin`);
    writeFileSync(path, pattern(8192, 5));
    const file = await m.openFile(path, { mode: 'r' });
    truncateSync(path, 0); // the file is shortened under the region: its reads end early
    const dst = m.wrap(new Uint8Array(8192));
    const marks = m.wrap(new Uint8Array(4));
    const program = (stopOnError: boolean) => {
      const b = m.batch();
      b.fill(marks, 1, { offset: 0, length: 1 }); // 0: before the failure, runs
      b.copy(dst, file); // 1: SHORT_IO
      b.fill(marks, 2, { offset: 1, length: 1 }); // 2: unfenced
      b.fill(marks, 3, { offset: 2, length: 1, fence: true }); // 3: fenced
      b.fill(marks, 4, { offset: 3, length: 1 }); // 4: unfenced, after the held-back fence
      return b.submit({ stopOnError });
    };
    let r = await failed(program(false));
    expect([0, 1, 2, 3, 4].map((i) => r.status(i))).toEqual(['done', 'failed', 'done', 'not-run', 'done']);
    expect(r.notRunReason(3)).toBe('after-failure');
    expect(r.notRunReason(2)).toBeUndefined();
    expect(r.error(1)?.code).toBe('IO_ERROR');
    expect([...(await readAll(m, marks))]).toEqual([1, 2, 0, 4]);

    await m.fill(marks, 0);
    r = await failed(program(true));
    expect([0, 1, 2, 3, 4].map((i) => r.status(i))).toEqual(['done', 'failed', 'not-run', 'not-run', 'not-run']);
    expect([2, 3, 4].map((i) => r.notRunReason(i))).toEqual(['after-failure', 'after-failure', 'after-failure']);
    expect([...(await readAll(m, marks))]).toEqual([1, 0, 0, 0]);

    // The next batch starts clean: a failure holds back nothing outside its own batch.
    const b = m.batch();
    b.fill(marks, 9, { fence: true });
    expect((await b.submit()).ok).toBe(true);
    await m.close();
  });

  it('stopOnError must be a boolean', async () => {
    m = await openSoft(engine);
    const b = m.batch();
    b.nop();
    await expect(b.submit({ stopOnError: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await m.close();
  });
});

async function readAll(m: Mover, r: import('@datamover/core').Region): Promise<Uint8Array> {
  const out = new Uint8Array(r.length);
  await m.copy(m.wrap(out), r);
  return out;
}
