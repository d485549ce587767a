/** Error mapping: every cuFile / CUDA runtime / CUDA driver code becomes a typed DatamoverError. */
import { BACKEND_STATUS_BASE, BackendError, DatamoverError, ErrorCode, TransferError } from '@datamover/core';
import { describe, expect, it } from 'vitest';
import {
  CUDA_DRIVER_ERRORS,
  CUDA_RUNTIME_ERRORS,
  CUFILE_OP_ERRORS,
  describeCode,
  describeCompletion,
  errorCodeFor,
  fromIoReturn,
  fromNative,
  GDS_STATUS,
  libraryError,
  libraryErrorDetail,
} from '../src/errors.js';

describe('CUfileOpError table (cuFile API Reference §4.1.3)', () => {
  it('has every documented code from 5001 to 5050, except the unassigned 5032, and success', () => {
    const codes = Object.keys(CUFILE_OP_ERRORS).map(Number);
    const expected = [0, ...Array.from({ length: 50 }, (_, i) => 5001 + i).filter((c) => c !== 5032)];
    expect(codes.sort((a, b) => a - b)).toEqual(expected);
    for (const [code, [name]] of Object.entries(CUFILE_OP_ERRORS)) expect(name, code).toMatch(/^CU_FILE_[A-Z0-9_]+$/);
  });

  it.each([
    [5001, 'CU_FILE_DRIVER_NOT_INITIALIZED'],
    [5011, 'CU_FILE_CUDA_DRIVER_ERROR'],
    [5020, 'CU_FILE_DIO_NOT_SET'],
    [5022, 'CU_FILE_INVALID_VALUE'],
    [5030, 'CU_FILE_INTERNAL_ERROR'],
    [5037, 'CU_FILE_BATCH_FULL'],
    [5044, 'CU_FILE_IO_ERROR'],
  ])('%i is %s', (code, name) => {
    expect(describeCode('cufile', code).name).toBe(name);
  });
});

describe('names and texts', () => {
  it('prefers the loaded library’s own name and text, falls back to the table, then to the number', () => {
    expect(describeCode('cudart', 35)).toEqual({ name: 'cudaErrorInsufficientDriver', text: 'CUDA driver version is insufficient for CUDA runtime version' });
    expect(describeCode('cudart', 35, () => ({ text: 'from the library' }))).toEqual({ name: 'cudaErrorInsufficientDriver', text: 'from the library' });
    expect(describeCode('cudart', 4242)).toEqual({ name: 'cudaError 4242', text: 'unknown cudaError 4242' });
    expect(describeCode('cuda', 4242).name).toBe('CUresult 4242');
    expect(describeCode('cufile', 5999).name).toBe('CUfileOpError 5999');
    expect(describeCode('errno', 5)).toMatchObject({ name: 'EIO' });
  });

  it('runtime and driver tables hold the codes the backend meets', () => {
    for (const code of [0, 1, 2, 35, 100, 101, 700]) expect(CUDA_RUNTIME_ERRORS[code], `cudaError ${code}`).toBeDefined();
    for (const code of [0, 1, 2, 3, 100, 101, 201]) expect(CUDA_DRIVER_ERRORS[code], `CUresult ${code}`).toBeDefined();
  });
});

describe('library errors', () => {
  it('carry { library, code, name, text } and the right core code', () => {
    const e = libraryError('cufile', 5044, 'cuFileRead');
    expect(e).toBeInstanceOf(TransferError);
    expect(e.code).toBe(ErrorCode.IO_ERROR);
    expect(e.detail).toMatchObject({ backend: 'gds', library: 'cufile', code: 5044, name: 'CU_FILE_IO_ERROR', text: 'I/O error' });
    expect(e.message).toBe('cuFileRead: CU_FILE_IO_ERROR (5044): I/O error');
  });

  it('a CU_FILE_CUDA_DRIVER_ERROR carries the CUresult inside it', () => {
    const d = libraryErrorDetail('cufile', 5011, { cuErr: 2 });
    expect(d.cuError).toEqual({ code: 2, name: 'CUDA_ERROR_OUT_OF_MEMORY', text: 'out of memory' });
    expect(libraryError('cufile', 5011, 'cuFileBufRegister', { cuErr: 2 }).message).toContain('[CUDA_ERROR_OUT_OF_MEMORY (2): out of memory]');
  });

  it.each([
    ['cudart', 2, ErrorCode.OUT_OF_MEMORY],
    ['cudart', 35, ErrorCode.DEVICE_ERROR],
    ['cudart', 700, ErrorCode.DEVICE_ERROR],
    ['cuda', 2, ErrorCode.OUT_OF_MEMORY],
    ['cuda', 1, ErrorCode.DEVICE_ERROR],
    ['cufile', 5044, ErrorCode.IO_ERROR],
    ['cufile', 5020, ErrorCode.IO_ERROR],
    ['cufile', 5008, ErrorCode.IO_ERROR],
    ['cufile', 5036, ErrorCode.OUT_OF_MEMORY],
    ['cufile', 5043, ErrorCode.OUT_OF_MEMORY],
    ['cufile', 5001, ErrorCode.DEVICE_ERROR],
    ['cufile', 5012, ErrorCode.DEVICE_ERROR],
    ['cufile', 5030, ErrorCode.DEVICE_ERROR],
    ['errno', 5, ErrorCode.IO_ERROR],
  ] as const)('%s %i is %s', (library, code, expected) => {
    expect(errorCodeFor(library, code)).toBe(expected);
  });
});

describe('cuFileRead / cuFileWrite return values (§5.2.3)', () => {
  it('-1 is errno, below -5000 is a CUfileOpError, other negatives are -errno', () => {
    expect(fromIoReturn(-1, 5)).toEqual({ library: 'errno', code: 5 });
    expect(fromIoReturn(-5044, 0)).toEqual({ library: 'cufile', code: 5044 });
    expect(fromIoReturn(-22, 0)).toEqual({ library: 'errno', code: 22 });
    expect(() => fromIoReturn(0, 0)).toThrow(RangeError);
  });
});

describe('completion statuses of the engine', () => {
  it('live in core’s backend-defined range', () => {
    expect(GDS_STATUS.CUFILE).toBe(BACKEND_STATUS_BASE);
    expect(GDS_STATUS.CUDART).toBe(BACKEND_STATUS_BASE + 1);
    expect(GDS_STATUS.CUDA).toBe(BACKEND_STATUS_BASE + 2);
  });

  it('map to typed errors with the library’s code; cuFile’s result word carries cu_err', () => {
    expect(describeCompletion(GDS_STATUS.CUFILE, 5044, 0)).toMatchObject({ code: ErrorCode.IO_ERROR, detail: { library: 'cufile', code: 5044, name: 'CU_FILE_IO_ERROR' } });
    expect(describeCompletion(GDS_STATUS.CUFILE, 5011, 700)).toMatchObject({ code: ErrorCode.DEVICE_ERROR, detail: { cuError: { code: 700, name: 'CUDA_ERROR_ILLEGAL_ADDRESS' } } });
    expect(describeCompletion(GDS_STATUS.CUDART, 2, 0)).toMatchObject({ code: ErrorCode.OUT_OF_MEMORY, detail: { library: 'cudart', code: 2, name: 'cudaErrorMemoryAllocation' } });
    expect(describeCompletion(GDS_STATUS.CUDA, 1, 0)).toMatchObject({ code: ErrorCode.DEVICE_ERROR, detail: { library: 'cuda', name: 'CUDA_ERROR_INVALID_VALUE' } });
    expect(describeCompletion(5, 5, 0)).toBeUndefined();
    expect(describeCompletion(99, 1, 0)).toBeUndefined();
  });
});

describe('errors thrown by the addon', () => {
  it('library errors keep the library’s own name and text', () => {
    const thrown = Object.assign(new Error('x'), { code: 'CUDART_ERROR', library: 'cudart', libraryCode: 35, nativeName: 'cudaErrorInsufficientDriver', nativeText: 'driver too old (live)' });
    const e = fromNative(thrown, 'cudaSetDevice(0)');
    expect(e).toBeInstanceOf(DatamoverError);
    expect(e.code).toBe(ErrorCode.DEVICE_ERROR);
    expect(e.detail).toMatchObject({ library: 'cudart', code: 35, name: 'cudaErrorInsufficientDriver', text: 'driver too old (live)' });
    expect(e.cause).toBe(thrown);
  });

  it('the addon’s own codes become core codes', () => {
    expect(fromNative(Object.assign(new Error('closed'), { code: 'ENGINE_CLOSED' }), 'x').code).toBe(ErrorCode.MOVER_CLOSED);
    expect(fromNative(Object.assign(new Error('no'), { code: 'UNVERIFIABLE_POINTER' }), 'x')).toBeInstanceOf(BackendError);
    expect(fromNative(Object.assign(new Error('oob'), { code: 'OUT_OF_BOUNDS' }), 'x').code).toBe(ErrorCode.OUT_OF_BOUNDS);
    expect(fromNative(new Error('weird'), 'x').code).toBe(ErrorCode.DEVICE_ERROR);
  });
});
