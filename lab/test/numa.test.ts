import { expect, it } from 'vitest';
import { describeLab, lab } from './helpers.js';

describeLab('lab --numa (CPU-less node)', () => {
  it('numactl shows node 1 with memory and no CPUs, and memory bound to it lands there', async () => {
    // 32 MiB touched under --membind=1, counted per node from /proc/self/numa_maps.
    const touch = [
      'const b = Buffer.alloc(32 << 20, 1);',
      'const n = { N0: 0, N1: 0 };',
      'for (const m of require("fs").readFileSync("/proc/self/numa_maps", "utf8").matchAll(/ (N[01])=(\\d+)/g)) n[m[1]] += Number(m[2]);',
      'console.log(`pages N0=${n.N0} N1=${n.N1} (${b.length})`);',
    ].join(' ');
    const r = await lab([
      '--numa',
      '--',
      `numactl -H; echo "LAB_NUMA_NODE=$LAB_NUMA_NODE"; numactl --membind=1 node -e '${touch}'`,
    ]);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toContain('available: 2 nodes (0-1)');
    expect(r.stdout).toMatch(/^node 0 cpus: \d/m);
    expect(r.stdout).toMatch(/^node 1 cpus:\s*$/m);
    const size = /^node 1 size: (\d+) MB/m.exec(r.stdout);
    expect(Number(size?.[1]), r.output).toBeGreaterThan(256);
    expect(r.stdout).toContain('LAB_NUMA_NODE=1');
    const pages = /^pages N0=(\d+) N1=(\d+)/m.exec(r.stdout);
    expect(pages, r.output).not.toBeNull();
    expect(Number(pages?.[2])).toBeGreaterThanOrEqual((32 << 20) / 4096);
  });
});
