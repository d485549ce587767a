/**
 * The cuFile struct layouts and constants, checked three ways: the TypeScript tables, the addon's
 * offsetof() of native/cuda_abi.h, and an independent C-layout engine (ref-struct-di); plus, when
 * a CUDA toolkit's headers happen to be installed, the CUDA enum values against those headers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PATH_REASONS, TRANSFER_PATHS } from '../src/alignment.js';
import { DESCR_LAYOUT, DRV_PROPS_LAYOUT, ERROR_LAYOUT, IO_EVENTS_LAYOUT, IO_PARAMS_LAYOUT } from '../src/cufile-params.js';
import { CUDA_DRIVER_ERRORS, CUDA_RUNTIME_ERRORS, GDS_STATUS } from '../src/errors.js';
import { loadNative } from '../src/native.js';

const require = createRequire(import.meta.url);
const ref = require('ref-napi');
const StructType = require('ref-struct-di')(ref);
const T = ref.types;
const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

const native = loadNative();
const addon = 'addon' in native ? native.addon : undefined;
if (!addon) console.log(`[gds] addon layout checks skipped: ${'error' in native ? native.error : ''}`);

// ref-struct-di has no unions: each union here has one member that sets its size and alignment
// (CUfileIOParams_t's `batch` struct; CUfileDescr_t's `void *handle`), so that member stands in.
const layouts = {
  ioParams: {
    ts: IO_PARAMS_LAYOUT,
    c: StructType({ mode: T.int32, devPtrBase: T.uint64, fileOffset: T.int64, devPtrOffset: T.int64, length: T.size_t, fh: T.uint64, opcode: T.int32, cookie: T.uint64 }),
  },
  ioEvents: { ts: IO_EVENTS_LAYOUT, c: StructType({ cookie: T.uint64, status: T.int32, ret: T.size_t }) },
  descr: { ts: DESCR_LAYOUT, c: StructType({ type: T.int32, fd: T.uint64, fsOps: T.uint64 }) },
  error: { ts: ERROR_LAYOUT, c: StructType({ err: T.int32, cuErr: T.int32 }) },
  drvProps: {
    ts: DRV_PROPS_LAYOUT,
    c: StructType({
      majorVersion: T.uint32,
      minorVersion: T.uint32,
      pollThreshSize: T.size_t,
      maxDirectIoSize: T.size_t,
      dstatusflags: T.uint32,
      dcontrolflags: T.uint32,
      fflags: T.uint32,
      maxDeviceCacheSize: T.uint32,
      perBufferCacheSize: T.uint32,
      maxDevicePinnedMemSize: T.uint32,
      maxBatchIoSize: T.uint32,
      maxBatchIoTimeoutMsecs: T.uint32,
    }),
  },
} as const;

describe('cuFile struct layouts', () => {
  it.each(Object.entries(layouts))('%s: the TypeScript table matches an independent C layout (ref-struct-di)', (_name, { ts, c }) => {
    expect(c.size).toBe(ts.size);
    for (const [field, offset] of Object.entries(ts)) if (field !== 'size') expect({ field, offset: c.fields[field].offset }).toEqual({ field, offset });
  });

  it.skipIf(!addon).each(Object.entries(layouts))('%s: the TypeScript table matches native/cuda_abi.h (offsetof in the addon)', (name, { ts }) => {
    expect(addon!.abiLayout()[name]).toEqual({ ...ts });
  });
});

describe.skipIf(!addon)('names shared with the engine', () => {
  it('transfer paths, path reasons and completion statuses', () => {
    const k = addon!.constants();
    expect(k.paths).toEqual([...TRANSFER_PATHS]);
    expect(k.reasons).toEqual([...PATH_REASONS]);
    expect(k.statuses).toEqual({ cufile: GDS_STATUS.CUFILE, cudart: GDS_STATUS.CUDART, cuda: GDS_STATUS.CUDA });
    expect(k.alignment).toBe(4096);
  });
});

/** A CUDA toolkit's include directory on this machine, if any (never needed to build). */
function cudaInclude(): string | undefined {
  const candidates = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter((x): x is string => !!x).map((d) => join(d, 'include'));
  try {
    for (const d of readdirSync('/usr/local')) if (/^cuda-\d/.test(d)) candidates.push(join('/usr/local', d, 'include'));
  } catch {
    // no /usr/local
  }
  return candidates.find((d) => existsSync(join(d, 'cuda.h')) && existsSync(join(d, 'driver_types.h')));
}

function hasCompiler(): boolean {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const include = cudaInclude();
const compiler = hasCompiler();
const headerSkip = !include ? 'no CUDA toolkit headers on this machine' : !compiler ? 'no g++' : undefined;
if (headerSkip) console.log(`[gds] CUDA header cross-checks skipped: ${headerSkip}`);

describe.skipIf(headerSkip !== undefined)(`CUDA values against the installed toolkit headers (${include ?? 'none'})`, () => {
  it('native/cuda_abi.h agrees with cuda.h and driver_types.h (static_assert, compiled with g++)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-gds-abi-'));
    try {
      const src = join(dir, 'check.cc');
      writeFileSync(
        src,
        `#include "cuda_abi.h"
#include <cuda.h>
#include <driver_types.h>
namespace a = gdsabi;
static_assert(a::cudart::kSuccess == cudaSuccess, "cudaSuccess");
static_assert(a::cudart::kErrorInvalidValue == cudaErrorInvalidValue, "cudaErrorInvalidValue");
static_assert(a::cudart::kErrorMemoryAllocation == cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation");
static_assert(a::cudart::kErrorInsufficientDriver == cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver");
static_assert(a::cudart::kErrorNoDevice == cudaErrorNoDevice, "cudaErrorNoDevice");
static_assert(a::cudart::kErrorInvalidDevice == cudaErrorInvalidDevice, "cudaErrorInvalidDevice");
static_assert(a::cudart::kErrorHostMemoryAlreadyRegistered == cudaErrorHostMemoryAlreadyRegistered, "712");
static_assert(a::cudart::kMemcpyHostToHost == cudaMemcpyHostToHost, "H2H");
static_assert(a::cudart::kMemcpyHostToDevice == cudaMemcpyHostToDevice, "H2D");
static_assert(a::cudart::kMemcpyDeviceToHost == cudaMemcpyDeviceToHost, "D2H");
static_assert(a::cudart::kMemcpyDeviceToDevice == cudaMemcpyDeviceToDevice, "D2D");
static_assert(a::cudart::kMemcpyDefault == cudaMemcpyDefault, "default");
static_assert(a::cudart::kStreamNonBlocking == cudaStreamNonBlocking, "cudaStreamNonBlocking");
static_assert(a::cudart::kHostRegisterPortable == cudaHostRegisterPortable, "cudaHostRegisterPortable");
static_assert(a::cu::kSuccess == CUDA_SUCCESS, "CUDA_SUCCESS");
static_assert(a::cu::kPointerAttributeMemoryType == CU_POINTER_ATTRIBUTE_MEMORY_TYPE, "MEMORY_TYPE");
static_assert(a::cu::kPointerAttributeDeviceOrdinal == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, "DEVICE_ORDINAL");
static_assert(a::cu::kPointerAttributeRangeStartAddr == CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, "RANGE_START_ADDR");
static_assert(a::cu::kPointerAttributeRangeSize == CU_POINTER_ATTRIBUTE_RANGE_SIZE, "RANGE_SIZE");
static_assert(a::cu::kMemoryTypeHost == CU_MEMORYTYPE_HOST, "CU_MEMORYTYPE_HOST");
static_assert(a::cu::kMemoryTypeDevice == CU_MEMORYTYPE_DEVICE, "CU_MEMORYTYPE_DEVICE");
static_assert(a::cu::kMemoryTypeUnified == CU_MEMORYTYPE_UNIFIED, "CU_MEMORYTYPE_UNIFIED");
static_assert(sizeof(a::cu::DevicePtr) == sizeof(CUdeviceptr), "CUdeviceptr");
static_assert(sizeof(a::cudart::Error) == sizeof(cudaError_t), "cudaError_t");
static_assert(sizeof(a::cu::Result) == sizeof(CUresult), "CUresult");
`,
      );
      expect(() => execFileSync('g++', ['-std=c++17', '-fsyntax-only', `-I${join(pkg, 'native')}`, `-I${include}`, src], { stdio: 'pipe' })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the TypeScript error tables agree with the headers’ enums', () => {
    const rt = readFileSync(join(include!, 'driver_types.h'), 'utf8');
    const dr = readFileSync(join(include!, 'cuda.h'), 'utf8');
    const values = (text: string, re: RegExp) => new Map([...text.matchAll(re)].map((m) => [m[1]!, Number(m[2])]));
    const runtime = values(rt, /\b(cuda(?:Success|Error[A-Za-z]+))\s*=\s*(\d+)/g);
    const driver = values(dr, /\b(CUDA_(?:SUCCESS|ERROR_[A-Z_]+))\s*=\s*(\d+)/g);
    for (const [code, [name]] of Object.entries(CUDA_RUNTIME_ERRORS)) expect({ name, value: runtime.get(name) }).toEqual({ name, value: Number(code) });
    for (const [code, [name]] of Object.entries(CUDA_DRIVER_ERRORS)) expect({ name, value: driver.get(name) }).toEqual({ name, value: Number(code) });
  });
});
