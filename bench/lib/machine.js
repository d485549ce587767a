/** What the numbers were measured on. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: `${os.release()} ${typeof os.version === 'function' ? os.version() : ''}`.trim(),
    cpuFlags: cpuFlags(['avx2', 'avx512f', 'erms', 'fsrm', 'sse4_2', 'clflushopt', 'clwb', 'movdir64b']),
    hypervisor: cpuFlags(['hypervisor']).length > 0,
  };
}

/** Which of `wanted` /proc/cpuinfo lists (Linux only; empty elsewhere). */
function cpuFlags(wanted) {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const flags = new Set((line ?? '').split(':')[1]?.trim().split(/\s+/) ?? []);
    return wanted.filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

/** The commit the bench ran from, with `-dirty` when the tree has changes; null outside git. */
export function gitRevision(cwd) {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${rev}-dirty` : rev;
  } catch {
    return null;
  }
}
