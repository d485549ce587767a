/** Alignment rules and path choice for file <-> GPU transfers (the engine applies the same). */
import { describe, expect, it } from 'vitest';
import { alignDown, alignmentReason, alignUp, choosePath, chunkPlan, GDS_ALIGNMENT, isAligned, type FileGpuTransfer } from '../src/alignment.js';

const aligned: FileGpuTransfer = { fileOffset: 8192, length: 1 << 20, gpuAddressMod: 0, cufileHandle: true, directDescriptor: true };

describe('alignment rules', () => {
  it('4 KiB for file offsets, lengths and GPU addresses', () => {
    expect(GDS_ALIGNMENT).toBe(4096);
    expect(isAligned(0)).toBe(true);
    expect(isAligned(4096)).toBe(true);
    expect(isAligned(4095)).toBe(false);
    expect(isAligned(0x7f00_0000_1000n)).toBe(true);
    expect(isAligned(0x7f00_0000_1200n)).toBe(false);
    expect(alignUp(1)).toBe(4096);
    expect(alignUp(4096)).toBe(4096);
    expect(alignDown(8191)).toBe(4096);
  });

  it('names the first rule broken, in the engine’s order', () => {
    expect(alignmentReason(aligned)).toBe('none');
    expect(alignmentReason({ ...aligned, fileOffset: 1 })).toBe('unaligned-file-offset');
    expect(alignmentReason({ ...aligned, fileOffset: 1, length: 3 })).toBe('unaligned-file-offset');
    expect(alignmentReason({ ...aligned, length: 4097 })).toBe('unaligned-length');
    expect(alignmentReason({ ...aligned, gpuAddressMod: 512 })).toBe('unaligned-gpu-address');
    expect(alignmentReason({ ...aligned, cufileHandle: false, directDescriptor: false, fileOffset: 1 })).toBe('no-odirect-descriptor');
    expect(alignmentReason({ ...aligned, cufileHandle: false, directDescriptor: true })).toBe('cufile-handle-refused');
  });
});

describe('path choice', () => {
  it('aligned transfers take cuFile: direct with nvidia-fs, compat without', () => {
    expect(choosePath(aligned, { cufile: 'direct', unaligned: 'bounce' })).toEqual({ path: 'direct', reason: 'none' });
    expect(choosePath(aligned, { cufile: 'compat', unaligned: 'bounce' })).toEqual({ path: 'compat', reason: 'none' });
  });

  it('unaligned transfers bounce through pinned staging by default, or go to cuFile when asked', () => {
    expect(choosePath({ ...aligned, length: 100 }, { cufile: 'direct', unaligned: 'bounce' })).toEqual({ path: 'bounce', reason: 'unaligned-length' });
    expect(choosePath({ ...aligned, length: 100 }, { cufile: 'direct', unaligned: 'cufile' })).toEqual({ path: 'direct', reason: 'unaligned-length' });
  });

  it('files without a cuFile handle always bounce, whatever the policy', () => {
    const noDirect = { ...aligned, cufileHandle: false, directDescriptor: false };
    expect(choosePath(noDirect, { cufile: 'direct', unaligned: 'cufile' })).toEqual({ path: 'bounce', reason: 'no-odirect-descriptor' });
    expect(choosePath({ ...noDirect, directDescriptor: true }, { cufile: 'direct', unaligned: 'cufile' })).toEqual({ path: 'bounce', reason: 'cufile-handle-refused' });
  });
});

describe('parallel chunks of one large transfer', () => {
  it('splits only with more than one thread and at least two chunks; chunks stay aligned', () => {
    expect(chunkPlan(0, 8 << 20, 4)).toEqual([]);
    expect(chunkPlan(16 << 20, 8 << 20, 1)).toEqual([{ offset: 0, length: 16 << 20 }]);
    expect(chunkPlan((16 << 20) - 4096, 8 << 20, 4)).toEqual([{ offset: 0, length: (16 << 20) - 4096 }]);
    const plan = chunkPlan((20 << 20) + 4096, 8 << 20, 4);
    expect(plan.map((c) => c.length)).toEqual([8 << 20, 8 << 20, (4 << 20) + 4096]);
    for (const c of plan) expect(isAligned(c.offset)).toBe(true);
    expect(chunkPlan(1 << 20, 1000, 4)[0]).toEqual({ offset: 0, length: 4096 }); // chunk rounded to 4 KiB
  });
});
