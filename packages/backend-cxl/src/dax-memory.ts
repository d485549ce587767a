/** cxl's memory and space: a dax mapping, as core holds it (core knows only BackendMemory). */
import type { AddressSpace, BackendMemory, Memory, MemoryIdentity } from '@datamover/core';

/**
 * A mapping of CXL / persistent memory or of a file, made by the backend that maps it (cxl):
 * a device-DAX character device, a file on a DAX filesystem, or an ordinary file mapped
 * MAP_SHARED. JavaScript holds an opaque `mapping` handle, never a pointer; only engines of
 * `backend` understand it. The region covers `mapOffset`.. of the mapping.
 */
export interface DaxMemory extends BackendMemory {
  readonly kind: 'dax';
  /** The device or file that is mapped. */
  readonly path: string;
  /**
   * What the mapping is: a device-DAX character device, a file on a DAX filesystem (mapped with
   * MAP_SYNC), a file in the page cache, or a file in volatile shared memory (tmpfs and the like).
   */
  readonly via: 'device-dax' | 'fs-dax' | 'page-cache' | 'shmem';
  /** The backend's opaque handle on the mapping (it unmaps it once nothing uses it). */
  readonly mapping: object;
  /** Byte offset of the region's first byte inside the mapping. */
  readonly mapOffset: number;
  /** Byte offset of the region's first byte in the device or file. */
  readonly fileOffset: number;
  /** Identity of the mapped object: two regions overlap by offsets only when dev and ino match (device-DAX: dev = rdev, ino = 0). */
  readonly dev: number;
  readonly ino: number;
  /** `{ object: "dev:ino", offset: fileOffset }`: two mappings of one file or device alias whatever their addresses. */
  readonly identity: MemoryIdentity;
  /** Whether writes can be made durable (persistent media, or a file on a persistent filesystem). */
  readonly persistent: boolean;
  /** The mapping's alignment (device-DAX: the device's align; files: the page size). */
  readonly alignment: number;
  /** NUMA node the memory sits on, where known. */
  readonly numaNode?: number;
}

/** Whether `m` is dax memory (a kind test alone does not narrow core's open Memory). */
export const isDaxMemory = (m: Memory): m is DaxMemory => m.kind === 'dax';

/** A dax mapping (device-DAX, a DAX-filesystem file or a MAP_SHARED file): CPU loads and stores reach it. */
export function daxSpace(path: string, options: { persistent: boolean; alignment: number; numaNode?: number | undefined }): AddressSpace {
  return Object.freeze({
    kind: 'dax',
    name: path,
    cpuAccessible: true,
    persistent: options.persistent,
    alignment: options.alignment || 1,
    ...(options.numaNode === undefined || options.numaNode < 0 ? {} : { numaNode: options.numaNode }),
  });
}
