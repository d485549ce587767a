/** Peers that are not JavaScript: the C memcpy program, built at run time with the system's cc. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('../peers/memcpy.c', import.meta.url));
const BUILD_DIR = fileURLToPath(new URL('../.build/', import.meta.url));
const EXE = `${BUILD_DIR}memcpy`;

/**
 * Builds bench/.build/memcpy from bench/peers/memcpy.c (again only when the source is newer).
 * Returns `{ available: true, path, compiler }` or `{ available: false, reason }`.
 */
export function buildMemcpyPeer() {
  const cc = process.env.CC || 'cc';
  const version = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    return { available: false, reason: `no C compiler (${cc}: ${version.error?.code ?? `exit ${version.status}`}); the memcpy peer is skipped` };
  }
  const compiler = version.stdout.split('\n')[0];
  if (isFresh(EXE, SOURCE)) return { available: true, path: EXE, compiler };
  mkdirSync(BUILD_DIR, { recursive: true });
  const r = spawnSync(cc, ['-O2', '-o', EXE, SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) return { available: false, reason: `${cc} -O2 ${SOURCE} failed: ${(r.stderr || r.error?.message || '').trim()}` };
  return { available: true, path: EXE, compiler };
}

function isFresh(target, source) {
  try {
    return statSync(target).mtimeMs >= statSync(source).mtimeMs;
  } catch {
    return false;
  }
}

/** Runs the peer: `{ size, iterations, memcpy: { median_gbps, samples_gbps }, nt_avx2?: {...} }`. */
export function runMemcpyPeer(peer, size, iterations) {
  const r = spawnSync(peer.path, [String(size), String(iterations)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`memcpy peer failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim()}`);
  return JSON.parse(r.stdout);
}
