/**
 * Address spaces: the memory domains a region can live in. The model holds all five kinds;
 * which of them a Mover can reach depends on the backends it opened.
 */

export const SPACE_KINDS = ['host', 'file', 'dax', 'gpu', 'remote'] as const;
/** host: process memory · file: a file or block device · dax: a device-DAX / CXL mapping ·
 * gpu: CUDA device memory · remote: a peer's exported memory. */
export type SpaceKind = (typeof SPACE_KINDS)[number];

/** What a memory domain is: who can touch it and how. */
export interface AddressSpace {
  readonly kind: SpaceKind;
  /** Human-readable identity: "host", a file path, "/dev/dax0.0", "cuda:0", a peer id. */
  readonly name: string;
  /** Whether the CPU can load and store it directly. */
  readonly cpuAccessible: boolean;
  /** Whether its contents survive a power loss once flushed. */
  readonly persistent: boolean;
  /** Alignment (bytes) at which transfers take the fastest path; 1 when any alignment is as good. */
  readonly alignment: number;
  readonly numaNode?: number;
  readonly deviceId?: number;
}

/** The process's own memory. */
export const HOST_SPACE: AddressSpace = Object.freeze({
  kind: 'host',
  name: 'host',
  cpuAccessible: true,
  persistent: false,
  alignment: 1,
});

/** A file on a filesystem; `directAlignment` is the O_DIRECT alignment, 0 when unsupported. */
export function fileSpace(path: string, directAlignment: number): AddressSpace {
  return Object.freeze({
    kind: 'file',
    name: path,
    cpuAccessible: false,
    persistent: true,
    alignment: directAlignment || 1,
  });
}

/** Memory of CUDA device `device`; `alignment` is what its regions were allocated or found at. */
export function gpuSpace(device: number, alignment: number): AddressSpace {
  return Object.freeze({
    kind: 'gpu',
    name: `cuda:${device}`,
    cpuAccessible: false,
    persistent: false,
    alignment: alignment || 1,
    deviceId: device,
  });
}

/** Memory a peer exported; `peer` names the exporter. */
export function remoteSpace(peer: string): AddressSpace {
  return Object.freeze({
    kind: 'remote',
    name: peer,
    cpuAccessible: false,
    persistent: false,
    alignment: 1,
  });
}

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
