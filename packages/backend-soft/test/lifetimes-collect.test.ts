/**
 * Dropped region handles and dropped Movers are collected (issue 20 item 9): a child process run
 * with --expose-gc (fixtures/collect-child.mjs) drops 1,000 wraps of 1 MiB and 50 unclosed
 * Movers, collects, and reports stats(), memory and its thread count (/proc/self/task). Needs
 * the built core and soft packages.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENGINES } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/collect-child.mjs', import.meta.url));
const MiB = 2 ** 20;

interface Regions {
  regions: number;
  registeredBytes: number;
  collected: { regions: number; movers: number };
}
type Sampled = Regions & { rss: number; arrayBuffers: number };

function child<T>(mode: 'regions' | 'movers', engine: string): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', CHILD, mode, engine], { timeout: 50_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${mode} child failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as T);
    });
  });
}

const hasTasks = existsSync('/proc/self/task');

describe.each(ENGINES)('collection of dropped handles and Movers (%s engine)', (engine) => {
  it('1,000 dropped 1 MiB wraps are released: registrations, registered bytes and memory back down', async () => {
    const r = await child<{
      base: Sampled;
      peak: Sampled;
      after: Sampled;
      slicedRegions: number;
      sliceBytes: number[];
      sliceDropped: Regions;
      built: unknown;
      builtCopied: boolean;
      before: Regions;
      during: Regions;
      inFlight: unknown;
      inFlightCopied: boolean;
      end: Regions;
    }>('regions', engine);
    expect(r.after.regions).toBe(r.base.regions);
    expect(r.after.registeredBytes).toBe(r.base.registeredBytes);
    expect(r.after.collected.regions - r.base.collected.regions).toBe(1000);
    // Held, the wraps would keep 1,000 MiB of ArrayBuffers and of RSS.
    expect(r.after.arrayBuffers - r.base.arrayBuffers).toBeLessThan(16 * MiB);
    expect(r.peak.rss - r.base.rss).toBeLessThan(512 * MiB);
    // A live slice keeps its dropped root registered and usable; dropping it frees both.
    expect(r.slicedRegions).toBe(r.base.regions + 1);
    expect(r.sliceBytes).toEqual(new Array(16).fill(9));
    expect(r.sliceDropped.regions).toBe(r.base.regions);
    expect(r.sliceDropped.collected.regions).toBe(r.after.collected.regions + 1);
    // A batch being built keeps the handles it names: collected in between, it still copies.
    expect(r.built).toBe(true);
    expect(r.builtCopied).toBe(true);
    // Handles dropped right after submit(): their registrations wait for the work to settle.
    expect(r.during.regions).toBe(r.before.regions + 32);
    expect(r.during.collected.regions).toBe(r.before.collected.regions);
    expect(r.inFlight).toBe(true);
    expect(r.inFlightCopied).toBe(true);
    expect(r.end.regions).toBe(r.before.regions);
    expect(r.end.collected.regions).toBe(r.before.collected.regions + 32);
  }, 60_000);

  it('50 dropped unclosed Movers are closed: engine threads joined, counted in stats().collected.movers', async () => {
    const r = await child<{
      before: { threads: number; movers: number };
      held: number;
      after: { threads: number; movers: number };
      during: number;
      inFlight: unknown;
      copied: boolean;
      end: { threads: number; movers: number };
    }>('movers', engine);
    expect(r.after.movers - r.before.movers).toBe(50);
    if (!hasTasks) console.log('thread counts not checked: /proc/self/task is not readable here');
    else if (engine === 'native') {
      expect(r.held - r.before.threads).toBeGreaterThanOrEqual(50); // one consumer thread per engine at least
      expect(r.after.threads - r.before.threads).toBeLessThanOrEqual(2);
    }
    // Dropped with a batch in flight: the batch completes, and only then is the Mover collected.
    expect(r.during).toBe(r.after.movers);
    expect(r.inFlight).toBe(true);
    expect(r.copied).toBe(true);
    expect(r.end.movers).toBe(r.after.movers + 1);
  }, 60_000);
});
