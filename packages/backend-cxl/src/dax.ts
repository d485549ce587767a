/**
 * The `dax` address space: a device-DAX device, or any file, mapped MAP_SHARED by the cxl engine
 * and registered with a Mover. Regions are ranges of the mapping; JavaScript never sees its address.
 */
import { statSync } from 'node:fs';
import { datamoverError, ErrorCode, type Mover, type Region } from '@datamover/core';
import { daxSpace, type DaxMemory } from './dax-memory.js';
import { daxDeviceOf, type DiscoverOptions } from './discovery.js';
import { BACKEND_NAME, loadNative, native, type MappingFacts, type NativeAddon } from './native.js';

export interface OpenDaxOptions {
  /** Byte offset in the device or file (default 0). Need not be aligned: the mapping is, the region starts here. */
  offset?: number;
  /** Bytes from `offset` (default: to the end of the device or file). */
  length?: number;
  /** 'rw' (default) or 'r' (a read-only mapping and region). */
  mode?: 'r' | 'rw';
  /**
   * Overrides what discovery says about persistence: false treats the memory as volatile (durable
   * writes refused); true vouches that a device-DAX device is persistent memory although sysfs
   * does not show it (files are judged by their filesystem: tmpfs never is).
   */
  persistent?: boolean;
  /** Where sysfs lives (tests); default '/'. */
  sysfsRoot?: string;
}

/** What `openDax` mapped, for callers that want to know (also on `daxFacts(region)`). */
export type DaxFacts = MappingFacts & { readonly numaNode: number | null; readonly device: string | null };

const facts = new WeakMap<Region, DaxFacts>();

/**
 * Maps `path` — a device-DAX device (/dev/daxX.Y, mapped at its alignment) or a file on any
 * filesystem (MAP_SHARED; MAP_SYNC where the filesystem is DAX) — and registers the range as a
 * region of kind `dax` on `mover`, which must have the cxl backend open. The mapping is unmapped
 * when the region is released and no descriptor in flight names it.
 */
export async function openDax(mover: Mover, path: string, options: OpenDaxOptions = {}): Promise<Region> {
  requireCxl(mover);
  const addon = loadAddon();
  const mode = options.mode ?? 'rw';
  if (mode !== 'r' && mode !== 'rw') throw datamoverError(ErrorCode.INVALID_ARGUMENT, `mode must be 'r' or 'rw', got ${String(mode)}`);
  if (typeof path !== 'string' || path === '') throw datamoverError(ErrorCode.INVALID_ARGUMENT, 'openDax() takes a path');
  const offset = options.offset ?? 0;
  checkInt(offset, 'offset');
  const discovery: DiscoverOptions = options.sysfsRoot === undefined ? {} : { root: options.sysfsRoot };
  const device = daxDeviceOf(path, discovery);
  let length = options.length;
  if (length === undefined) {
    let size: number;
    try {
      const st = statSync(path);
      size = st.isCharacterDevice() ? (device?.size ?? 0) : st.size;
    } catch (e) {
      throw datamoverError(ErrorCode.IO_ERROR, `cannot open ${path}: ${(e as Error).message}`, { cause: e, detail: { backend: BACKEND_NAME, errno: -((e as { errno?: number }).errno ?? 0) } });
    }
    if (offset > size) throw datamoverError(ErrorCode.OUT_OF_BOUNDS, `offset ${offset} is past the end of ${path} (${size} bytes)`);
    length = size - offset;
  }
  checkInt(length, 'length');
  const persistence = options.persistent === undefined ? (device ? (device.persistent ? 1 : 0) : -1) : options.persistent ? 1 : 0;
  const numaNode = device?.targetNode ?? device?.numaNode ?? undefined;
  const mapped = mapDax(addon, path, { offset, length, writable: mode === 'rw', persistence, numaNode: numaNode ?? undefined });
  const m = mapped.memory;
  const region = mover.registerMemory(m, daxSpace(m.path, { persistent: m.persistent, alignment: m.alignment, numaNode: m.numaNode }), length, mode === 'rw');
  facts.set(region, { ...mapped.facts, numaNode: numaNode ?? null, device: device?.name ?? null });
  return region;
}

/** What the mapping behind a region made by `openDax` is (undefined for other regions). */
export function daxFacts(region: Region): DaxFacts | undefined {
  return facts.get(region);
}

/** What `mapDax` needs besides the path. */
export interface MapRequest {
  offset: number;
  length: number;
  writable: boolean;
  /** -1 detect, 0 treat as volatile, 1 the caller vouches a device-DAX device is persistent. */
  persistence: -1 | 0 | 1;
  numaNode?: number | undefined;
}

/** A mapping, as dax memory of the cxl backend, with what the addon found. */
export interface Mapped {
  readonly memory: DaxMemory;
  readonly facts: MappingFacts;
}

/**
 * Maps `path` (a device-DAX device or a file) as dax memory of the cxl backend. The mapping is
 * the addon's, not an engine session's: any cxl engine the Mover opened (also one behind a
 * decorator) registers it, and it stays mapped until released and deregistered everywhere.
 */
export function mapDax(addon: NativeAddon, path: string, req: MapRequest): Mapped {
  const mapping = native(() => new addon.Mapping(path, req.offset, req.length, req.writable, req.persistence));
  const facts = mapping.describe();
  let released = false;
  const memory: DaxMemory = {
    kind: 'dax',
    backend: BACKEND_NAME,
    path,
    via: facts.via,
    mapping,
    mapOffset: facts.mapOffset,
    fileOffset: facts.offset,
    dev: facts.dev,
    ino: facts.ino,
    identity: { object: `${facts.dev}:${facts.ino}`, offset: facts.offset },
    persistent: facts.persistent,
    alignment: facts.alignment,
    ...(req.numaNode === undefined ? {} : { numaNode: req.numaNode }),
    release: () => {
      if (released) return;
      released = true;
      mapping.close();
    },
  };
  return { memory, facts };
}

function loadAddon(): NativeAddon {
  const n = loadNative();
  if ('error' in n) throw datamoverError(ErrorCode.BACKEND_UNAVAILABLE, `cxl: ${n.error}`);
  return n.addon;
}

/** Throws unless `mover` has the cxl backend open (the engine that can run descriptors on dax regions). */
export function requireCxl(mover: Mover): void {
  if (mover.backends.includes(BACKEND_NAME)) return;
  const why = mover.stats().unavailable.find((r) => r.name === BACKEND_NAME)?.reason;
  throw datamoverError(
    ErrorCode.BACKEND_UNAVAILABLE,
    `the Mover has no open cxl backend (open: ${mover.backends.join(', ') || 'none'}); import '@datamover/backend-cxl' before Mover.open(), or pass { backends: [cxl(), ...] }${why ? `; cxl is unavailable: ${why}` : ''}`,
  );
}

function checkInt(n: unknown, what: string): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw datamoverError(typeof n === 'number' ? ErrorCode.INVALID_SIZE : ErrorCode.INVALID_ARGUMENT, `${what} must be a non-negative safe integer, got ${String(n)}`);
  }
}
