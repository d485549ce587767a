/**
 * The built-in region factories: host memory (wrap / alloc) and files (openFile on a temp file).
 * Both use the public Mover API only and read/write the bytes out of band (the JS view, or
 * pread/pwrite on the file), never through the backend under test.
 */
import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { ErrorCode, type Mover, type Region } from '@datamover/core';
import { noise } from './data.js';
import type { Fixture, FixtureOptions, KindProvider } from './types.js';

let serial = 0;

/** Page-aligned memory from the engine's allocator, or undefined where no open backend has one. */
function tryAlloc(mover: Mover, size: number): Region | undefined {
  try {
    return mover.alloc(size, { alignment: 4096 });
  } catch (e) {
    if ((e as { code?: unknown }).code === ErrorCode.UNSUPPORTED_OPERATION) return undefined;
    throw e;
  }
}

function releaseQuietly(r: Region): Promise<void> {
  return r.live ? r.release().catch(() => undefined) : Promise.resolve();
}

/** Host memory: a guarded window of an ArrayBuffer / SharedArrayBuffer, or engine-aligned memory from `alloc`. */
export const hostProvider: KindProvider = {
  maxCheapBytes: 256 * 1024 * 1024,
  async create(mover: Mover, size: number, options: FixtureOptions): Promise<Fixture> {
    const guard = options.guard ?? 0;
    let view: Uint8Array;
    let region: Region;
    let backing: Uint8Array;
    const aligned = options.aligned && !options.readOnly ? tryAlloc(mover, size) : undefined;
    if (aligned) {
      region = aligned;
      view = region.bytes();
      backing = view;
      if (options.contents) view.set(options.contents);
    } else {
      const total = guard + size + guard;
      const shared = options.shared ?? (serial++ & 1) === 0;
      backing = new Uint8Array(shared ? new SharedArrayBuffer(total) : new ArrayBuffer(total));
      if (guard > 0) {
        backing.set(noise(guard, 0x6a09e667 ^ size), 0);
        backing.set(noise(guard, 0xbb67ae85 ^ size), guard + size);
      }
      view = backing.subarray(guard, guard + size);
      if (options.contents) view.set(options.contents);
      region = mover.wrap(view, options.readOnly ? { readOnly: true } : {});
    }
    const fixture: Fixture = {
      region,
      size,
      async read(offset = 0, length = size - offset) {
        return view.slice(offset, offset + length);
      },
      async write(data, offset = 0) {
        view.set(data, offset);
      },
      async dispose() {
        await releaseQuietly(region);
      },
    };
    if (guard > 0 && backing !== view) {
      return { ...fixture, guards: async () => ({ before: backing.slice(0, guard), after: backing.slice(guard + size) }) };
    }
    return fixture;
  },
};

/** A file provider writing temp files under `dir` (regions start `guard` bytes into the file). */
export function fileProvider(dir: () => string): KindProvider {
  return {
    maxCheapBytes: 2 ** 40, // sparse
    async create(mover: Mover, size: number, options: FixtureOptions): Promise<Fixture> {
      // A 4 KiB lead keeps the region's file offset page-aligned when `aligned` is asked for.
      const guard = options.aligned ? Math.max(4096, options.guard ?? 0) : (options.guard ?? 0);
      const path = `${dir()}/region-${process.pid}-${serial++}.bin`;
      const fd = openSync(path, 'w+');
      try {
        ftruncateSync(fd, guard + size + guard);
        if (guard > 0) {
          pwriteAll(fd, noise(guard, 0x3c6ef372 ^ size), 0);
          pwriteAll(fd, noise(guard, 0xa54ff53a ^ size), guard + size);
        }
        if (options.contents) pwriteAll(fd, options.contents, guard);
      } catch (e) {
        closeSync(fd);
        rmSync(path, { force: true });
        throw e;
      }
      let region: Region;
      try {
        region = await mover.openFile(path, { offset: guard, length: size, mode: options.readOnly ? 'r' : 'rw' });
      } catch (e) {
        closeSync(fd);
        rmSync(path, { force: true });
        throw e;
      }
      let open = true;
      const fixture: Fixture & { path: string } = {
        path,
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
      if (guard > 0) {
        fixture.guards = async () => ({ before: preadAll(fd, guard, 0), after: preadAll(fd, guard, guard + size) });
      }
      return fixture;
    },
  };
}

function preadAll(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) break; // past the end: the rest reads as zero
    done += n;
  }
  return out;
}

function pwriteAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}
