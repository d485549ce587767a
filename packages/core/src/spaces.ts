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
