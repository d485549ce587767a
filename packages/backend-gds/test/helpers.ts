/**
 * Test fixtures: the CPU stand-in for libcufile / libcudart / libcuda (test/mock/mock-cuda.cc),
 * compiled once per machine into the temp directory (with the sanitizer build's flags under
 * .ci/sanitized, which sets DATAMOVER_SANITIZE=1), and gds backends loading it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { SANITIZE_FLAGS } from '@datamover/core/build-addon';
import { gds, type GdsOptions } from '../src/index.js';
import { loadNative } from '../src/native.js';

const here = dirname(fileURLToPath(import.meta.url));
const MOCK_SOURCE = join(here, 'mock', 'mock-cuda.cc');

/** The mock library's path, or why it cannot be built here. */
export function buildMock(): { path: string } | { skip: string } {
  const native = loadNative();
  if ('error' in native) return { skip: native.error };
  const flags = ['-shared', '-fPIC', '-O1', '-std=c++17', ...(process.env.DATAMOVER_SANITIZE === '1' ? SANITIZE_FLAGS : [])];
  const hash = createHash('sha256').update(readFileSync(MOCK_SOURCE)).update(flags.join(' ')).digest('hex').slice(0, 16);
  const out = join(tmpdir(), `datamover-gds-mock-${hash}.so`);
  if (existsSync(out)) return { path: out };
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync('g++', [...flags, '-o', tmp, MOCK_SOURCE], { stdio: 'pipe' });
    renameSync(tmp, out); // atomic: parallel test files may race to build it
    return { path: out };
  } catch (e) {
    rmSync(tmp, { force: true });
    return { skip: `cannot compile the CPU mock of cuFile/CUDA: ${(e as Error).message.split('\n')[0]}` };
  }
}

/** A directory standing for /proc/driver/nvidia-fs (so the mock runs in "direct" mode). */
export function fakeNvidiaFs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-gds-nvfs-'));
  mkdirSync(join(dir, 'nvidia-fs'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nvidia-fs');
}

export function mockOptions(mock: string, nvfs: string | undefined, extra: GdsOptions = {}): GdsOptions {
  return { libraries: { cufile: [mock], cudart: [mock], cuda: [mock] }, nvidiaFsPaths: nvfs ? [nvfs] : ['/nonexistent/nvidia-fs'], ...extra };
}

export function mockGds(mock: string, nvfs: string | undefined, extra: GdsOptions = {}) {
  return gds(mockOptions(mock, nvfs, extra));
}

/** A temp directory on this machine's disk (O_DIRECT works on it), removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-gds-test-'));
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

/** Runs `f` with environment variables set (the mock reads them at call time), then restores them. */
export async function withEnv<T>(vars: Record<string, string>, f: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
