/**
 * Address spaces: the memory domains a region can live in. Core knows host memory and files;
 * any other kind is a string a backend declares (gds 'gpu', rdma 'remote', cxl 'dax') in its
 * capabilities, with its memory (BackendMemory) and its space (a function of that backend).
 */

/** The kinds core itself serves: host (process memory) and file (a file or block device). */
export const CORE_SPACE_KINDS = ['host', 'file'] as const;
/** A space kind: core's own, or any string a backend declares. */
export type SpaceKind = (typeof CORE_SPACE_KINDS)[number] | (string & {});

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
