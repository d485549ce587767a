/** What the numbers were measured on, and how busy the machine was. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.arch()}`,
    kernel: `${os.release()} ${typeof os.version === 'function' ? os.version() : ''}`.trim(),
    cpuFlags: cpuFlags(['sse4_2', 'avx2', 'avx512f', 'avx512bw', 'erms', 'fsrm', 'clflushopt', 'clwb', 'movdir64b', 'enqcmd']),
    hypervisor: cpuFlags(['hypervisor']).length > 0,
    caches: caches(),
  };
}

/** Load averages (1, 5, 15 min) and CPU pressure (Linux PSI, "some" avg10), to say how quiet the machine was. */
export function loadSnapshot() {
  let cpuPressureAvg10 = null;
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) cpuPressureAvg10 = Number(m[1]);
  } catch {
    // no PSI here
  }
  return { loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), cpuPressureAvg10 };
}

/** Which of `wanted` /proc/cpuinfo lists (Linux only; empty elsewhere). */
export function cpuFlags(wanted) {
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

/** Data/unified caches of CPU 0 from sysfs: `[{ level, bytes, sharedCpus }]` (empty where sysfs has none). */
function caches() {
  const out = [];
  for (let i = 0; i < 16; i++) {
    const dir = `/sys/devices/system/cpu/cpu0/cache/index${i}/`;
    try {
      const type = readFileSync(`${dir}type`, 'utf8').trim();
      if (type === 'Instruction') continue;
      const level = Number(readFileSync(`${dir}level`, 'utf8'));
      const size = readFileSync(`${dir}size`, 'utf8').trim();
      const m = /^(\d+)([KMG]?)/.exec(size);
      const bytes = m ? Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]] : null;
      out.push({ level, bytes, sharedCpus: readFileSync(`${dir}shared_cpu_list`, 'utf8').trim() });
    } catch {
      if (i > 0) break;
    }
  }
  return out;
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
