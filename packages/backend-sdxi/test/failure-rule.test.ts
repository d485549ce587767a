/**
 * The failure rule across engines: a batch spanning the soft and sdxi backends runs in segments
 * split at fences (the Mover waits between them), so after a descriptor fails on one engine the
 * fenced descriptor beginning the next segment must be held back by the Mover itself — and with
 * `stopOnError` every later descriptor, wherever it is routed. (Each engine's own rule on its
 * ring is checked by the conformance suite.)
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { soft } from '@datamover/backend-soft';
import { DatamoverError, Mover } from '@datamover/core';
import { afterAll, expect, it } from 'vitest';
import { sdxi } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'dm-sdxi-rule-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it.each([false, true])('a failure on soft holds back the fenced sdxi descriptor after it (stopOnError: %s)', async (stopOnError) => {
  const m = await Mover.open({ backends: [sdxi(), soft()] });
  try {
    const path = join(dir, `short-${String(stopOnError)}.bin`);
    writeFileSync(path, new Uint8Array(4096).fill(7));
    const file = await m.openFile(path, { mode: 'r' });
    truncateSync(path, 0); // reads of the region now end early: SHORT_IO on soft
    const dst = m.wrap(new Uint8Array(4096));
    const marks = m.wrap(new Uint8Array(4));
    const b = m.batch();
    b.writeImmediate(marks, 1, { width: 1, offset: 0, backend: 'sdxi' }); // 0: runs
    b.copy(dst, file, { backend: 'soft' }); // 1: fails
    b.writeImmediate(marks, 2, { width: 1, offset: 1, backend: 'sdxi', fence: true }); // 2: held back
    b.writeImmediate(marks, 3, { width: 1, offset: 2, backend: 'sdxi' }); // 3: runs unless stopOnError
    b.writeImmediate(marks, 4, { width: 1, offset: 3, backend: 'soft' }); // 4: likewise, on the other engine
    const e = await b.submit({ stopOnError }).then(
      () => undefined,
      (x: unknown) => x as DatamoverError,
    );
    expect(e?.code).toBe('BATCH_FAILED');
    const r = e!.result!;
    const later = stopOnError ? 'not-run' : 'done';
    expect([0, 1, 2, 3, 4].map((i) => r.status(i))).toEqual(['done', 'failed', 'not-run', later, later]);
    expect(r.notRunReason(2)).toBe('after-failure');
    const seen = new Uint8Array(4);
    await m.copy(m.wrap(seen), marks);
    expect([...seen]).toEqual(stopOnError ? [1, 0, 0, 0] : [1, 0, 3, 4]);
  } finally {
    await m.close();
  }
});
