// Run-time loading of libcufile, the CUDA runtime and the CUDA driver library. Nothing here is
// linked at build time: each library is dlopen()ed by name and each function dlsym()ed, and
// whatever is missing is recorded by name, so probe() can say exactly what this machine lacks.
#pragma once

#include <string>
#include <vector>

#include "cuda_abi.h"

namespace gds {

// Library names to try, in order (the first that loads wins).
struct LoadOptions {
  std::vector<std::string> cufile{"libcufile.so.0", "libcufile.so"};
  std::vector<std::string> cudart{"libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so"};
  std::vector<std::string> cuda{"libcuda.so.1", "libcuda.so"};
  std::string key() const;
};

struct Attempt {
  std::string name;
  std::string error;  // dlerror()
};

struct Library {
  explicit Library(const char* l) : label(l) {}
  const char* label;                 // "libcufile", "libcudart", "libcuda"
  void* handle = nullptr;            // never dlclose()d: engines and finalizers may outlive everything
  std::string name;                  // the name that loaded
  std::string path;                  // where the dynamic linker found it
  std::vector<Attempt> attempts;     // names that failed to load, with dlerror()
  std::vector<std::string> missing;  // required symbols not exported
  std::vector<std::string> missingOptional;
  bool loaded() const { return handle != nullptr; }
  bool usable() const { return handle != nullptr && missing.empty(); }
};

// Function pointers resolved from the three libraries; null where a library or symbol is missing.
struct Api {
  Library cufileLib{"libcufile"};
  Library cudartLib{"libcudart"};
  Library cudaLib{"libcuda"};

  // libcufile (required unless noted)
  gdsabi::cufile::DriverOpenFn driverOpen = nullptr;
  gdsabi::cufile::DriverCloseFn driverClose = nullptr;
  gdsabi::cufile::DriverGetPropertiesFn driverGetProperties = nullptr;
  gdsabi::cufile::HandleRegisterFn handleRegister = nullptr;
  gdsabi::cufile::HandleDeregisterFn handleDeregister = nullptr;
  gdsabi::cufile::BufRegisterFn bufRegister = nullptr;
  gdsabi::cufile::BufDeregisterFn bufDeregister = nullptr;
  gdsabi::cufile::ReadFn read = nullptr;
  gdsabi::cufile::WriteFn write = nullptr;
  // optional: the batch API (cuFile >= 1.2), version and parameters (>= 1.14), error strings
  gdsabi::cufile::BatchIOSetUpFn batchSetUp = nullptr;
  gdsabi::cufile::BatchIOSubmitFn batchSubmit = nullptr;
  gdsabi::cufile::BatchIOGetStatusFn batchGetStatus = nullptr;
  gdsabi::cufile::BatchIOCancelFn batchCancel = nullptr;
  gdsabi::cufile::BatchIODestroyFn batchDestroy = nullptr;
  gdsabi::cufile::GetVersionFn getVersion = nullptr;
  gdsabi::cufile::GetParameterSizeTFn getParameterSizeT = nullptr;
  gdsabi::cufile::GetParameterBoolFn getParameterBool = nullptr;
  gdsabi::cufile::OpStatusErrorFn opStatusError = nullptr;

  // libcudart (required unless noted)
  gdsabi::cudart::GetDeviceCountFn cudaGetDeviceCount = nullptr;
  gdsabi::cudart::SetDeviceFn cudaSetDevice = nullptr;
  gdsabi::cudart::MallocFn cudaMalloc = nullptr;
  gdsabi::cudart::FreeFn cudaFree = nullptr;
  gdsabi::cudart::MallocHostFn cudaMallocHost = nullptr;
  gdsabi::cudart::FreeHostFn cudaFreeHost = nullptr;
  gdsabi::cudart::MemcpyFn cudaMemcpy = nullptr;
  gdsabi::cudart::MemcpyAsyncFn cudaMemcpyAsync = nullptr;
  gdsabi::cudart::MemsetAsyncFn cudaMemsetAsync = nullptr;
  gdsabi::cudart::StreamCreateWithFlagsFn cudaStreamCreateWithFlags = nullptr;
  gdsabi::cudart::StreamSynchronizeFn cudaStreamSynchronize = nullptr;
  gdsabi::cudart::StreamDestroyFn cudaStreamDestroy = nullptr;
  gdsabi::cudart::GetErrorNameFn cudaGetErrorName = nullptr;
  gdsabi::cudart::GetErrorStringFn cudaGetErrorString = nullptr;
  gdsabi::cudart::GetLastErrorFn cudaGetLastError = nullptr;
  gdsabi::cudart::VersionFn cudaRuntimeGetVersion = nullptr;
  // optional
  gdsabi::cudart::VersionFn cudaDriverGetVersion = nullptr;
  gdsabi::cudart::MemcpyPeerAsyncFn cudaMemcpyPeerAsync = nullptr;
  gdsabi::cudart::HostRegisterFn cudaHostRegister = nullptr;
  gdsabi::cudart::HostUnregisterFn cudaHostUnregister = nullptr;
  gdsabi::cudart::DeviceGetPCIBusIdFn cudaDeviceGetPCIBusId = nullptr;

  // libcuda (all optional: pointer validation for wrapped device memory, error names)
  gdsabi::cu::InitFn cuInit = nullptr;
  gdsabi::cu::DeviceGetCountFn cuDeviceGetCount = nullptr;
  gdsabi::cu::PointerGetAttributeFn cuPointerGetAttribute = nullptr;
  gdsabi::cu::GetErrorNameFn cuGetErrorName = nullptr;
  gdsabi::cu::GetErrorStringFn cuGetErrorString = nullptr;
  gdsabi::cu::DriverGetVersionFn cuDriverGetVersion = nullptr;

  bool cufileUsable() const { return cufileLib.usable(); }
  bool cudaUsable() const { return cudartLib.usable(); }
  bool batchUsable() const {
    return batchSetUp != nullptr && batchSubmit != nullptr && batchGetStatus != nullptr && batchCancel != nullptr &&
           batchDestroy != nullptr;
  }
  // Name and text of a CUDA runtime error, from the library itself ("" when unavailable).
  std::string cudaErrorName(int code) const;
  std::string cudaErrorText(int code) const;
  std::string cuResultName(int code) const;
  std::string cuResultText(int code) const;
  std::string cufileErrorText(int code) const;
};

// Loads (once per distinct option set, for the life of the process) and returns the API table.
const Api& loadApi(const LoadOptions& options);

// cuFileDriverOpen / cuFileDriverClose, reference-counted across every user in the process.
gdsabi::cufile::Error acquireDriver(const Api& api);
void releaseDriver(const Api& api);

}  // namespace gds
