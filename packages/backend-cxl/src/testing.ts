/**
 * Region factories for the conformance suite's `dax` kind (`@datamover/backend-cxl/testing`):
 * a temp file mapped MAP_SHARED (any host), or ranges of a device-DAX device (the lab, real
 * hardware). Both seed and check bytes out of band — pread/pwrite on the file, or a second,
 * independent mapping of the device — never through the engine under test.
 *
 * The shapes match @datamover/conformance's KindProvider / Fixture structurally, so this module
 * needs only core at run time.
 */
import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mover, Region } from '@datamover/core';
import { daxDeviceOf } from './discovery.js';
import { openDax } from './dax.js';
import { loadNative, type NativeAddon, type NativeMapping } from './native.js';

export interface DaxFixtureOptions {
  readOnly?: boolean;
  guard?: number;
  aligned?: boolean;
  contents?: Uint8Array;
  shared?: boolean;
}

export interface DaxFixture {
  readonly region: Region;
  readonly size: number;
  read(offset?: number, length?: number): Promise<Uint8Array>;
  write(data: Uint8Array, offset?: number): Promise<void>;
  guards?(): Promise<{ before: Uint8Array; after: Uint8Array }>;
  dispose(): Promise<void>;
}

export interface DaxKindProvider {
  create(mover: Mover, size: number, options: DaxFixtureOptions): Promise<DaxFixture>;
  maxCheapBytes?: number;
  readOnly?: boolean;
}

/** Guard noise: deterministic bytes the suite can recognise. */
function noise(n: number, seed: number): Uint8Array {
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

function releaseQuietly(r: Region): Promise<void> {
  return r.live ? r.release().catch(() => undefined) : Promise.resolve();
}

let serial = 0;

/**
 * `dax` regions over temp files in `dir` (default the OS temp directory; MAP_SHARED mappings of a
 * page-cache file, or of a DAX-filesystem file where `dir` is on one), `guard` bytes into the file so the region's offset in its mapping
 * is unaligned unless `aligned` is asked for.
 */
export function daxFileProvider(dir?: string): DaxKindProvider {
  return {
    maxCheapBytes: 2 ** 40, // sparse
    async create(mover, size, options) {
      const base = dir ?? tmpdir();
      const guard = options.aligned ? Math.max(4096, Math.ceil((options.guard ?? 0) / 4096) * 4096) : (options.guard ?? 0);
      const path = join(base, `dm-cxl-dax-${process.pid}-${serial++}.bin`);
      const fd = openSync(path, 'w+');
      let region: Region;
      try {
        ftruncateSync(fd, guard + size + guard);
        if (guard > 0) {
          pwriteAll(fd, noise(guard, 0x9e3779b9 ^ size), 0);
          pwriteAll(fd, noise(guard, 0x7f4a7c15 ^ size), guard + size);
        }
        if (options.contents) pwriteAll(fd, options.contents, guard);
        region = await openDax(mover, path, { offset: guard, length: size, mode: options.readOnly ? 'r' : 'rw' });
      } catch (e) {
        closeSync(fd);
        rmSync(path, { force: true });
        throw e;
      }
      let open = true;
      const fixture: DaxFixture = {
        region,
        size,
        async read(offset = 0, length = size - offset) {
          return preadAll(fd, length, guard + offset);
        },
        async write(data, offset = 0) {
          pwriteAll(fd, data, guard + offset);
        },
        async dispose() {
          await releaseQuietly(region);
          if (open) {
            open = false;
            closeSync(fd);
            rmSync(path, { force: true });
          }
        },
      };
      if (guard > 0) fixture.guards = async () => ({ before: preadAll(fd, guard, 0), after: preadAll(fd, guard, guard + size) });
      return fixture;
    },
  };
}

/**
 * `dax` regions carved out of a device-DAX device (first fit, 4 KiB granularity). The bytes around
 * each region are guard bands when asked for; seeding and checking go through a second mapping
 * the fixture makes itself. Regions start at 4 KiB boundaries (plus 64 bytes unless `aligned`,
 * so unaligned mapping offsets are exercised too).
 */
export function daxDeviceProvider(path: string): DaxKindProvider {
  const n = loadNative();
  if ('error' in n) throw new Error(n.error);
  const addon: NativeAddon = n.addon;
  const device = daxDeviceOf(path);
  if (!device) throw new Error(`${path} is not a device-DAX device`);
  const capacity = device.size;
  const used: { start: number; end: number }[] = [];
  const PAGE = 4096;
  const claim = (bytes: number): number => {
    const want = Math.ceil(bytes / PAGE) * PAGE;
    let at = 0;
    for (const u of [...used].sort((a, b) => a.start - b.start)) {
      if (u.start - at >= want) break;
      at = Math.max(at, u.end);
    }
    if (at + want > capacity) throw new Error(`${path}: no free ${want}-byte range left (${used.length} fixtures hold it)`);
    used.push({ start: at, end: at + want });
    return at;
  };
  const free = (start: number) => {
    const i = used.findIndex((u) => u.start === start);
    if (i >= 0) used.splice(i, 1);
  };
  return {
    maxCheapBytes: 64 * 1024 * 1024,
    async create(mover, size, options) {
      const lead = options.aligned ? 0 : 64;
      const guard = options.guard ?? 0;
      const front = Math.ceil((guard + lead) / PAGE) * PAGE;
      const span = front + size + guard;
      const start = claim(span);
      const offset = start + front; // region start on the device
      const low = offset - guard;
      // The fixture's own view of [low, offset + size + guard): a separate mapping, not the engine's.
      let view: NativeMapping | undefined;
      let region: Region | undefined;
      try {
        view = new addon.Mapping(path, low, guard + size + guard, true, 0);
        const at = view.describe().mapOffset; // where `low` sits in the view
        const put = (bytes: Uint8Array, rel: number) => {
          for (let i = 0; i < bytes.length; i += 4 << 20) addon.poke(view!, at + rel + i, bytes.subarray(i, i + (4 << 20)));
        };
        const get = (rel: number, length: number) => addon.peek(view!, at + rel, length);
        if (guard > 0) {
          put(noise(guard, 0x9e3779b9 ^ size), 0);
          put(noise(guard, 0x7f4a7c15 ^ size), guard + size);
        }
        put(options.contents ?? new Uint8Array(Math.min(size, 4 << 20)), guard);
        if (!options.contents) for (let i = 4 << 20; i < size; i += 4 << 20) put(new Uint8Array(Math.min(4 << 20, size - i)), guard + i);
        const r = (region = await openDax(mover, path, { offset: low + guard, length: size, mode: options.readOnly ? 'r' : 'rw' }));
        let open = true;
        const fixture: DaxFixture = {
          region: r,
          size,
          async read(o = 0, length = size - o) {
            return get(guard + o, length);
          },
          async write(data, o = 0) {
            put(data, guard + o);
          },
          async dispose() {
            await releaseQuietly(r);
            if (open) {
              open = false;
              view!.close();
              free(start);
            }
          },
        };
        if (guard > 0) fixture.guards = async () => ({ before: get(0, guard), after: get(guard + size, guard) });
        return fixture;
      } catch (e) {
        if (region) await releaseQuietly(region);
        view?.close();
        free(start);
        throw e;
      }
    },
  };
}

function preadAll(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const k = readSync(fd, out, done, length - done, position + done);
    if (k === 0) break;
    done += k;
  }
  return out;
}

function pwriteAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}
