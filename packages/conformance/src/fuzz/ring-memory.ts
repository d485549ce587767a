/**
 * The memory a raw-ring fuzz runs over: backings filled with noise, and regions carved from them
 * with the bytes around each left as guard bands. Host and file backings are built in; a backend
 * adds its own kinds (dax mappings, device memory) as a `Carver`.
 */
import { closeSync, fstatSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type { Memory, SpaceKind } from '@datamover/core';
import { noise } from '../data.js';
import type { RingBacking, RingRegion } from './ring.js';

/** A backing, and how to name a byte range of it as memory the engine under test registers. */
export interface Carver {
  readonly backing: RingBacking;
  carve(offset: number, length: number, writable: boolean): { kind: SpaceKind; memory: Memory; persistent?: boolean };
  close?(): void;
}

export class RingMemory {
  readonly backings: RingBacking[] = [];
  readonly regions: RingRegion[] = [];
  readonly #carvers: Carver[] = [];

  /** Adds a backing; returns its index for `region`. */
  add(c: Carver): number {
    this.#carvers.push(c);
    this.backings.push(c.backing);
    return this.backings.length - 1;
  }

  /** Registers `[offset, offset + length)` of backing `b` as the next AKey. */
  region(b: number, offset: number, length: number, writable = true): this {
    const c = this.#carvers[b]!;
    if (offset + length > c.backing.size) throw new Error(`region [${offset}, ${offset + length}) runs past backing ${b}`);
    this.regions.push({ backing: b, offset, length, writable, ...c.carve(offset, length, writable) });
    return this;
  }

  /** A SharedArrayBuffer of noise; regions are views into it. */
  host(size: number, seed: number): number {
    const bytes = new Uint8Array(new SharedArrayBuffer(size));
    bytes.set(noise(size, seed));
    return this.add({
      backing: { size, read: () => bytes.slice() },
      carve: (offset, length) => ({ kind: 'host', memory: { kind: 'host', view: bytes.subarray(offset, offset + length) } }),
    });
  }

  /**
   * A file of noise at `path` (removed on close); regions are file ranges of it, or what `carve`
   * makes of a range (a backend's mapping of the file).
   */
  file(path: string, size: number, seed: number, carve?: (path: string, ...range: Parameters<Carver['carve']>) => ReturnType<Carver['carve']>): number {
    const fd = openSync(path, 'w+');
    writeSync(fd, noise(size, seed), 0, size, 0);
    const st = fstatSync(fd);
    return this.add({
      backing: {
        size,
        read: () => {
          const out = new Uint8Array(size);
          for (let done = 0; done < size; ) done += readSync(fd, out, done, size - done, done) || size;
          return out;
        },
      },
      carve: carve ? (...range) => carve(path, ...range) : (offset) => ({ kind: 'file', memory: { kind: 'file', path, fd, directFd: -1, fileOffset: offset, dev: st.dev, ino: st.ino } }),
      close: () => {
        closeSync(fd);
        rmSync(path, { force: true });
      },
    });
  }

  close(): void {
    for (const c of this.#carvers) c.close?.();
  }
}
