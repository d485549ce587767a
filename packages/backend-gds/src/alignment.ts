/**
 * Alignment rules and path choice for file <-> GPU transfers. Pure; the native engine
 * (native/executor.cc, Executor::reasonFor / fileGpu) applies the same rules in the same order,
 * and test/abi.test.ts checks that both name paths and reasons alike.
 *
 * cuFile's direct (GPUDirect) path DMAs between the storage and GPU memory, which O_DIRECT
 * constrains: the file offset, the length and the GPU address must all be multiples of 4 KiB
 * (cuFile API Reference §5.1.5 "4K aligned" sizes; GDS Best Practices: unaligned I/O goes through
 * cuFile's internal bounce buffers). cuFile "works correctly for unaligned offsets and any data
 * size" (§5.2.3), but not on the direct path; by default this backend moves unaligned transfers
 * through its own pinned host staging instead (path 'bounce'), which is predictable and recorded.
 */

/** The alignment (bytes) of file offsets, lengths and GPU addresses on cuFile's direct path. */
export const GDS_ALIGNMENT = 4096;

/** How one transfer moved its bytes. Order matches the engine's `Path` enum. */
export const TRANSFER_PATHS = ['none', 'direct', 'compat', 'bounce', 'cuda'] as const;
/**
 * - direct: cuFile with nvidia-fs (or PCIe P2PDMA): storage <-> GPU DMA, no host copy.
 * - compat: cuFile in compatibility mode: cuFile itself reads into host memory and copies.
 * - bounce: this engine's pread/pwrite into pinned host staging + cudaMemcpy (cuFile not used).
 * - cuda: a CUDA copy or memset (host <-> GPU, GPU <-> GPU, fills, write-immediates).
 */
export type TransferPath = (typeof TRANSFER_PATHS)[number];

/** Why a file <-> GPU transfer left cuFile's aligned path. Order matches the engine's `Reason` enum. */
export const PATH_REASONS = [
  'none',
  'unaligned-file-offset',
  'unaligned-length',
  'unaligned-gpu-address',
  'no-odirect-descriptor',
  'cufile-handle-refused',
  'batch-entry-failed',
] as const;
export type PathReason = (typeof PATH_REASONS)[number];

/** Words for a reason, for reports. */
export const REASON_TEXT: Readonly<Record<PathReason, string>> = {
  none: 'aligned, through cuFile',
  'unaligned-file-offset': `the file offset is not a multiple of ${GDS_ALIGNMENT}`,
  'unaligned-length': `the length is not a multiple of ${GDS_ALIGNMENT}`,
  'unaligned-gpu-address': `the GPU address is not a multiple of ${GDS_ALIGNMENT}`,
  'no-odirect-descriptor': "the file region has no O_DIRECT descriptor (opened with direct: 'never', or the filesystem refuses O_DIRECT)",
  'cufile-handle-refused': 'cuFileHandleRegister refused the file (see the registration error in stats)',
  'batch-entry-failed': 'the cuFile batch did not finish this entry; it was finished with cuFileRead/cuFileWrite',
};

/** What the engine knows about one file <-> GPU transfer when it chooses a path. */
export interface FileGpuTransfer {
  /** Absolute byte offset in the file (region offset + offset inside the region). */
  readonly fileOffset: number;
  readonly length: number;
  /** The GPU address of the first byte modulo GDS_ALIGNMENT (bigint addresses: `Number(addr % 4096n)`). */
  readonly gpuAddressMod: number;
  /** Whether the file region has a cuFile handle (an O_DIRECT descriptor cuFile accepted). */
  readonly cufileHandle: boolean;
  /** When there is no handle: whether that is because there is no O_DIRECT descriptor. */
  readonly directDescriptor: boolean;
}

export interface PathPolicy {
  /** What cuFile I/O counts as here: 'direct' with nvidia-fs (or P2PDMA), else 'compat'. */
  readonly cufile: 'direct' | 'compat';
  /** Unaligned transfers: through our bounce staging (default) or through cuFile itself. */
  readonly unaligned: 'bounce' | 'cufile';
}

export function isAligned(n: number | bigint, alignment = GDS_ALIGNMENT): boolean {
  return typeof n === 'bigint' ? n % BigInt(alignment) === 0n : n % alignment === 0;
}
export function alignUp(n: number, alignment = GDS_ALIGNMENT): number {
  return Math.ceil(n / alignment) * alignment;
}
export function alignDown(n: number, alignment = GDS_ALIGNMENT): number {
  return Math.floor(n / alignment) * alignment;
}

/** The first rule a transfer breaks, in the engine's order; 'none' when it may take cuFile's aligned path. */
export function alignmentReason(t: FileGpuTransfer): PathReason {
  if (!t.cufileHandle) return t.directDescriptor ? 'cufile-handle-refused' : 'no-odirect-descriptor';
  if (!isAligned(t.fileOffset)) return 'unaligned-file-offset';
  if (!isAligned(t.length)) return 'unaligned-length';
  if (!isAligned(t.gpuAddressMod)) return 'unaligned-gpu-address';
  return 'none';
}

/** The path the engine takes for a file <-> GPU transfer, and why. */
export function choosePath(t: FileGpuTransfer, policy: PathPolicy): { path: TransferPath; reason: PathReason } {
  const reason = alignmentReason(t);
  if (reason === 'none') return { path: policy.cufile, reason };
  const unaligned = reason === 'unaligned-file-offset' || reason === 'unaligned-length' || reason === 'unaligned-gpu-address';
  if (unaligned && policy.unaligned === 'cufile') return { path: policy.cufile, reason };
  return { path: 'bounce', reason };
}

/**
 * Splits one large cuFile transfer into chunks run in parallel (the engine's I/O pool): a transfer
 * of at least two chunks is split when there is more than one I/O thread. Chunk boundaries stay
 * 4 KiB aligned, so every chunk of an aligned transfer is aligned.
 */
export function chunkPlan(length: number, chunkBytes: number, ioThreads: number): { offset: number; length: number }[] {
  const chunk = Math.max(GDS_ALIGNMENT, alignDown(chunkBytes));
  if (length === 0) return [];
  if (ioThreads <= 1 || length < 2 * chunk) return [{ offset: 0, length }];
  const out: { offset: number; length: number }[] = [];
  for (let offset = 0; offset < length; offset += chunk) out.push({ offset, length: Math.min(chunk, length - offset) });
  return out;
}
