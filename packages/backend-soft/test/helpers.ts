/** Shared test fixtures: engines to run against, temp files, patterned buffers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mover, type MoverOptions } from '@datamover/core';
import { afterAll } from 'vitest';
import { soft } from '../src/index.js';

/** Both soft engines: every behavioural test runs against each. */
export const ENGINES = ['ts', 'native'] as const;
export type EngineName = (typeof ENGINES)[number];

export function openSoft(engine: EngineName, options: Omit<MoverOptions, 'backends'> & { ringEntries?: number } = {}): Promise<Mover> {
  const { ringEntries, ...rest } = options;
  return Mover.open({ ...rest, backends: [soft({ engine, ...(ringEntries ? { ringEntries } : {}) })] });
}

/** A temp directory on the machine's disk (ext4 here, so O_DIRECT works), removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
