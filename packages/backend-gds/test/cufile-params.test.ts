/** Descriptor → cuFile call parameters (the engine builds the same values; see native/executor.cc). */
import { describe, expect, it } from 'vitest';
import {
  CONTROL_FLAGS,
  CUFILE_BATCH,
  CUFILE_READ,
  CUFILE_STATUS,
  CUFILE_WRITE,
  decodeDriverProperties,
  decodeIoEvent,
  decodeIoParams,
  DRV_PROPS_LAYOUT,
  encodeIoParams,
  eventOutcome,
  FEATURE_FLAGS,
  hasFlag,
  IO_EVENTS_LAYOUT,
  IO_PARAMS_LAYOUT,
  ioParamsFor,
  readWriteArgs,
  type FileGpuCopy,
} from '../src/cufile-params.js';

const base = 0x7f12_3400_0000n;
const copy: FileGpuCopy = { direction: 'read', regionFileOffset: 1 << 20, fileAddr: 8192, gpuBase: base, gpuAddr: 65536, length: 4 << 20, bufRegistered: true };

describe('cuFileRead / cuFileWrite arguments', () => {
  it('a registered buffer: its registered base plus bufPtr_offset; the file offset is the region’s plus the descriptor’s', () => {
    expect(readWriteArgs(copy)).toEqual({ fn: 'cuFileRead', bufPtrBase: base, size: 4 << 20, fileOffset: (1 << 20) + 8192, bufPtrOffset: 65536 });
  });

  it('an unregistered buffer: its own address and offset 0', () => {
    expect(readWriteArgs({ ...copy, bufRegistered: false })).toEqual({ fn: 'cuFileRead', bufPtrBase: base + 65536n, size: 4 << 20, fileOffset: (1 << 20) + 8192, bufPtrOffset: 0 });
  });

  it('gpu → file is cuFileWrite', () => {
    expect(readWriteArgs({ ...copy, direction: 'write' }).fn).toBe('cuFileWrite');
  });
});

describe('CUfileIOParams_t for the batch API', () => {
  it('mode CUFILE_BATCH, opcode by direction, cookie = index in the batch', () => {
    expect(ioParamsFor(copy, 0xabcn, 7)).toEqual({
      mode: CUFILE_BATCH,
      devPtrBase: base,
      fileOffset: BigInt((1 << 20) + 8192),
      devPtrOffset: 65536n,
      length: BigInt(4 << 20),
      fh: 0xabcn,
      opcode: CUFILE_READ,
      cookie: 7n,
    });
    expect(ioParamsFor({ ...copy, direction: 'write', bufRegistered: false }, 1n, 0)).toMatchObject({ opcode: CUFILE_WRITE, devPtrBase: base + 65536n, devPtrOffset: 0n });
  });

  it('encodes to the 64-byte C layout and back, zeroing the padding', () => {
    const buf = new Uint8Array(2 * IO_PARAMS_LAYOUT.size).fill(0xee);
    const view = new DataView(buf.buffer);
    const p = ioParamsFor(copy, 0x5555_6666_7777n, 3);
    encodeIoParams(p, view, IO_PARAMS_LAYOUT.size);
    expect(decodeIoParams(view, IO_PARAMS_LAYOUT.size)).toEqual(p);
    expect(buf.subarray(0, 64).every((b) => b === 0xee)).toBe(true);
    expect(buf[IO_PARAMS_LAYOUT.size + 4]).toBe(0); // padding after `mode`
    expect(view.getInt32(IO_PARAMS_LAYOUT.size + IO_PARAMS_LAYOUT.mode, true)).toBe(1);
  });
});

describe('CUfileIOEvents_t', () => {
  const event = (status: number, ret: bigint) => {
    const view = new DataView(new ArrayBuffer(IO_EVENTS_LAYOUT.size));
    view.setBigUint64(IO_EVENTS_LAYOUT.cookie, 5n, true);
    view.setInt32(IO_EVENTS_LAYOUT.status, status, true);
    view.setBigInt64(IO_EVENTS_LAYOUT.ret, ret, true);
    return decodeIoEvent(view);
  };

  it('decodes; `ret` is bytes done or a negative error', () => {
    expect(event(CUFILE_STATUS.COMPLETE, 4096n)).toEqual({ cookie: 5n, status: 0x10, ret: 4096n });
    expect(event(CUFILE_STATUS.FAILED, -5044n).ret).toBe(-5044n);
  });

  it('only a complete entry with every byte is done; anything else is finished outside the batch from where it stopped', () => {
    expect(eventOutcome(event(CUFILE_STATUS.COMPLETE, 65536n), 65536)).toEqual({ done: true });
    expect(eventOutcome(event(CUFILE_STATUS.COMPLETE, 4096n), 65536)).toEqual({ done: false, bytesDone: 4096 });
    expect(eventOutcome(event(CUFILE_STATUS.COMPLETE, 0n), 65536)).toEqual({ done: false, bytesDone: 0 });
    for (const s of [CUFILE_STATUS.FAILED, CUFILE_STATUS.CANCELED, CUFILE_STATUS.TIMEOUT, CUFILE_STATUS.INVALID]) {
      expect(eventOutcome(event(s, 65536n), 65536)).toEqual({ done: false, bytesDone: 0 });
    }
  });
});

describe('CUfileDrvProps_t', () => {
  it('decodes every field at its offset', () => {
    const view = new DataView(new ArrayBuffer(DRV_PROPS_LAYOUT.size));
    const L = DRV_PROPS_LAYOUT;
    view.setUint32(L.majorVersion, 2, true);
    view.setUint32(L.minorVersion, 17, true);
    view.setBigUint64(L.pollThreshSize, 4n, true);
    view.setBigUint64(L.maxDirectIoSize, 16384n, true);
    view.setUint32(L.dstatusflags, 1 << 4, true);
    view.setUint32(L.dcontrolflags, 1 << CONTROL_FLAGS.ALLOW_COMPAT_MODE, true);
    view.setUint32(L.fflags, 1 << FEATURE_FLAGS.BATCH_IO_SUPPORTED, true);
    view.setUint32(L.maxDeviceCacheSize, 131072, true);
    view.setUint32(L.perBufferCacheSize, 1024, true);
    view.setUint32(L.maxDevicePinnedMemSize, 33554432, true);
    view.setUint32(L.maxBatchIoSize, 128, true);
    view.setUint32(L.maxBatchIoTimeoutMsecs, 5, true);
    const p = decodeDriverProperties(view);
    expect(p).toEqual({
      nvfsMajorVersion: 2,
      nvfsMinorVersion: 17,
      pollThreshKiB: 4,
      maxDirectIoKiB: 16384,
      dstatusflags: 16,
      dcontrolflags: 2,
      fflags: 2,
      maxDeviceCacheKiB: 131072,
      perBufferCacheKiB: 1024,
      maxDevicePinnedMemKiB: 33554432,
      maxBatchIoSize: 128,
      maxBatchIoTimeoutMs: 5,
    });
    expect(hasFlag(p.dcontrolflags, CONTROL_FLAGS.ALLOW_COMPAT_MODE)).toBe(true);
    expect(hasFlag(p.dcontrolflags, CONTROL_FLAGS.USE_POLL_MODE)).toBe(false);
    expect(hasFlag(p.fflags, FEATURE_FLAGS.BATCH_IO_SUPPORTED)).toBe(true);
  });
});
