/** A completion error (made where the engine's progress arrives) carries the stack of the code that awaited the work. */
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, type DatamoverError } from '@datamover/core';
import { describe, expect, it } from 'vitest';
import { ENGINES, openSoft, tempDir } from './helpers.js';

const dir = tempDir();

describe.each(ENGINES)('completion errors name the caller (%s engine)', (engine) => {
  it('a failed copy and a failed batch: the awaiting application function is in the stack', async () => {
    const m = await openSoft(engine);
    const path = join(dir, `short-${engine}.bin`);
    writeFileSync(path, new Uint8Array(256));
    const f = await m.openFile(path, { mode: 'r' });
    truncateSync(path, 100); // the engine meets end of file: a completion error, not a refusal
    const dst = m.wrap(new Uint8Array(256));
    async function applicationCopy(): Promise<void> {
      await m.copy(dst, f);
    }
    async function applicationBatch(): Promise<void> {
      await m.batch().copy(dst, f).submit();
    }
    const one = (await applicationCopy().catch((e: unknown) => e)) as DatamoverError;
    expect(one.code).toBe(ErrorCode.IO_ERROR);
    expect(one.stack).toContain('applicationCopy');
    const batch = (await applicationBatch().catch((e: unknown) => e)) as DatamoverError;
    expect(batch.code).toBe(ErrorCode.BATCH_FAILED);
    expect(batch.stack).toContain('applicationBatch');
    expect((batch.cause as DatamoverError).stack).toContain('applicationBatch');
    await m.close();
  });
});
