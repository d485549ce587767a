// The few cuFile (GPUDirect Storage), CUDA runtime and CUDA driver API types, values and function
// signatures this addon uses, declared here so that the addon builds without any CUDA header and
// loads without any CUDA library: native/loader.cc dlopens the libraries and dlsyms each function.
//
// Values and layouts come from NVIDIA's public documentation (docs/gds.md, "References"):
//   cuFile API Reference Guide §4.1 (CUfileError_t, CUfileDescr_t, CUfileDrvProps_t,
//   CUfileIOParams_t, CUfileIOEvents_t, CUfileOpError, CUfileStatus_t, CUFile*ConfigParameter_t),
//   §4.2–4.5 and §5.x (function signatures); CUDA Runtime API (cudaError_t, cudaMemcpyKind,
//   cudaStreamNonBlocking); CUDA Driver API (CUresult, CUpointer_attribute, CUmemorytype).
// test/abi.test.ts checks these layouts against an independent C-layout engine (ref-struct-di),
// and checks the CUDA enum values against the CUDA headers when a toolkit happens to be installed.
// Names are our own (namespaced), so this header can sit beside the real ones in that check.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>

namespace gdsabi {

// ---------------------------------------------------------------- cuFile (libcufile.so.0)
namespace cufile {

// CUfileOpError: cuFile's own codes start above CUFILEOP_BASE_ERR (5000); negative return values
// of cuFileRead/cuFileWrite are -errno (-1 with errno set) or -CUfileOpError.
constexpr int kSuccess = 0;
constexpr int kBaseErr = 5000;
constexpr int kDriverNotInitialized = 5001;
constexpr int kCudaDriverError = 5011;  // cu_err holds the CUresult
constexpr int kDioNotSet = 5020;
constexpr int kInvalidValue = 5022;
constexpr int kMemoryAlreadyRegistered = 5023;
constexpr int kInternalError = 5030;
constexpr int kIoError = 5044;

// CUfileError_t: { CUfileOpError err; CUresult cu_err; } — two int-sized enums, 8 bytes, returned
// by value (in RAX on x86-64 SysV, x0 on AArch64).
struct Error {
  int err;
  int cu_err;
};

// enum CUfileFileHandleType
constexpr int kHandleTypeOpaqueFd = 1;

// CUfileDescr_t: { CUfileFileHandleType type; union { int fd; void* handle; } handle;
//                  const CUfileFSOps_t* fs_ops; }
struct Descr {
  int type;
  union {
    int fd;
    void* handle;
  } handle;
  const void* fs_ops;
};

using Handle = void*;        // CUfileHandle_t
using BatchHandle = void*;   // CUfileBatchHandle_t

// CUfileDrvProps_t (cuFileDriverGetProperties). Sizes are in KiB.
struct DrvProps {
  struct {
    unsigned int major_version;
    unsigned int minor_version;
    size_t poll_thresh_size;
    size_t max_direct_io_size;
    unsigned int dstatusflags;
    unsigned int dcontrolflags;
  } nvfs;
  unsigned int fflags;  // CUfileFeatureFlags_t
  unsigned int max_device_cache_size;
  unsigned int per_buffer_cache_size;
  unsigned int max_device_pinned_mem_size;
  unsigned int max_batch_io_size;
  unsigned int max_batch_io_timeout_msecs;
};

// enum CUfileDriverControlFlags (bit numbers in nvfs.dcontrolflags)
constexpr unsigned kUsePollMode = 0;
constexpr unsigned kAllowCompatMode = 1;
// enum CUfileFeatureFlags (bit numbers in fflags)
constexpr unsigned kBatchIoSupported = 1;

// enum CUfileOpcode, enum CUFILEStatus_enum, enum cufileBatchMode
constexpr int kOpRead = 0;
constexpr int kOpWrite = 1;
constexpr int kStatusWaiting = 0x01;
constexpr int kStatusPending = 0x02;
constexpr int kStatusInvalid = 0x04;
constexpr int kStatusCanceled = 0x08;
constexpr int kStatusComplete = 0x10;
constexpr int kStatusTimeout = 0x20;
constexpr int kStatusFailed = 0x40;
constexpr int kBatchMode = 1;

// CUfileIOParams_t: one batch entry ("mode must be the very first field").
struct IOParams {
  int mode;  // CUfileBatchMode_t
  union {
    struct {
      void* devPtr_base;
      off_t file_offset;
      off_t devPtr_offset;
      size_t size;
    } batch;
  } u;
  Handle fh;
  int opcode;  // CUfileOpcode_t
  void* cookie;
};

// CUfileIOEvents_t: one batch completion. `ret` is bytes done, or a negative error.
struct IOEvents {
  void* cookie;
  int status;  // CUfileStatus_t
  size_t ret;
};

// CUFileSizeTConfigParameter_t / CUFileBoolConfigParameter_t (cuFileGetParameter*, cuFile >= 1.14)
constexpr int kParamIoBatchSize = 9;           // CUFILE_PARAM_PROPERTIES_IO_BATCHSIZE
constexpr int kParamAllowCompatMode = 1;       // CUFILE_PARAM_PROPERTIES_ALLOW_COMPAT_MODE
constexpr int kParamForceCompatMode = 2;       // CUFILE_PARAM_FORCE_COMPAT_MODE
constexpr int kParamUsePciP2pDma = 7;          // CUFILE_PARAM_USE_PCIP2PDMA

using DriverOpenFn = Error (*)();
using DriverCloseFn = Error (*)();  // exported as cuFileDriverClose_v2 (cuFileDriverClose before)
using DriverGetPropertiesFn = Error (*)(DrvProps*);
using GetVersionFn = Error (*)(int*);
using HandleRegisterFn = Error (*)(Handle*, Descr*);
using HandleDeregisterFn = void (*)(Handle);
using BufRegisterFn = Error (*)(const void*, size_t, int);
using BufDeregisterFn = Error (*)(const void*);
using ReadFn = ssize_t (*)(Handle, void*, size_t, off_t, off_t);
using WriteFn = ssize_t (*)(Handle, const void*, size_t, off_t, off_t);
using BatchIOSetUpFn = Error (*)(BatchHandle*, unsigned);
using BatchIOSubmitFn = Error (*)(BatchHandle, unsigned, IOParams*, unsigned);
using BatchIOGetStatusFn = Error (*)(BatchHandle, unsigned, unsigned*, IOEvents*, struct timespec*);
using BatchIOCancelFn = Error (*)(BatchHandle);
using BatchIODestroyFn = void (*)(BatchHandle);
using GetParameterSizeTFn = Error (*)(int, size_t*);
using GetParameterBoolFn = Error (*)(int, bool*);
using OpStatusErrorFn = const char* (*)(int);  // cufileop_status_error (behind CUFILE_ERRSTR)

}  // namespace cufile

// ---------------------------------------------------------------- CUDA runtime (libcudart.so.N)
namespace cudart {

using Error = int;      // cudaError_t
using Stream = void*;   // cudaStream_t
constexpr int kSuccess = 0;
constexpr int kErrorInvalidValue = 1;
constexpr int kErrorMemoryAllocation = 2;
constexpr int kErrorInsufficientDriver = 35;
constexpr int kErrorNoDevice = 100;
constexpr int kErrorInvalidDevice = 101;
constexpr int kErrorHostMemoryAlreadyRegistered = 712;

// enum cudaMemcpyKind
constexpr int kMemcpyHostToHost = 0;
constexpr int kMemcpyHostToDevice = 1;
constexpr int kMemcpyDeviceToHost = 2;
constexpr int kMemcpyDeviceToDevice = 3;
constexpr int kMemcpyDefault = 4;

constexpr unsigned kStreamNonBlocking = 0x01;      // cudaStreamNonBlocking
constexpr unsigned kHostRegisterPortable = 0x01;   // cudaHostRegisterPortable

using GetDeviceCountFn = Error (*)(int*);
using SetDeviceFn = Error (*)(int);
using MallocFn = Error (*)(void**, size_t);
using FreeFn = Error (*)(void*);
using MallocHostFn = Error (*)(void**, size_t);
using FreeHostFn = Error (*)(void*);
using HostRegisterFn = Error (*)(void*, size_t, unsigned);
using HostUnregisterFn = Error (*)(void*);
using MemcpyFn = Error (*)(void*, const void*, size_t, int);
using MemcpyAsyncFn = Error (*)(void*, const void*, size_t, int, Stream);
using MemcpyPeerAsyncFn = Error (*)(void*, int, const void*, int, size_t, Stream);
using MemsetAsyncFn = Error (*)(void*, int, size_t, Stream);
using StreamCreateWithFlagsFn = Error (*)(Stream*, unsigned);
using StreamSynchronizeFn = Error (*)(Stream);
using StreamDestroyFn = Error (*)(Stream);
using GetErrorNameFn = const char* (*)(Error);
using GetErrorStringFn = const char* (*)(Error);
using GetLastErrorFn = Error (*)();
using VersionFn = Error (*)(int*);  // cudaRuntimeGetVersion, cudaDriverGetVersion
using DeviceGetPCIBusIdFn = Error (*)(char*, int, int);
using MemGetInfoFn = Error (*)(size_t*, size_t*);

}  // namespace cudart

// ---------------------------------------------------------------- CUDA driver (libcuda.so.1)
namespace cu {

using Result = int;                   // CUresult
using DevicePtr = unsigned long long; // CUdeviceptr (64-bit)
constexpr int kSuccess = 0;

// enum CUpointer_attribute
constexpr int kPointerAttributeMemoryType = 2;    // unsigned int (CUmemorytype)
constexpr int kPointerAttributeDeviceOrdinal = 9; // int
constexpr int kPointerAttributeRangeStartAddr = 11; // CUdeviceptr
constexpr int kPointerAttributeRangeSize = 12;      // size_t
// enum CUmemorytype
constexpr unsigned kMemoryTypeHost = 1;
constexpr unsigned kMemoryTypeDevice = 2;
constexpr unsigned kMemoryTypeUnified = 4;

using InitFn = Result (*)(unsigned);
using DeviceGetCountFn = Result (*)(int*);
using PointerGetAttributeFn = Result (*)(void*, int, DevicePtr);
using GetErrorNameFn = Result (*)(Result, const char**);
using GetErrorStringFn = Result (*)(Result, const char**);
using DriverGetVersionFn = Result (*)(int*);

}  // namespace cu

}  // namespace gdsabi
