#include "loader.h"

#include <dlfcn.h>
#include <link.h>

#include <map>
#include <memory>
#include <mutex>

namespace gds {

std::string LoadOptions::key() const {
  std::string k;
  for (const auto* list : {&cufile, &cudart, &cuda}) {
    for (const auto& n : *list) k += n + '\x1f';
    k += '\x1e';
  }
  return k;
}

namespace {

void open(Library& lib, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    dlerror();
    // RTLD_LOCAL: the CUDA libraries' symbols stay out of the global namespace of the process.
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h != nullptr) {
      lib.handle = h;
      lib.name = name;
      struct link_map* map = nullptr;
      if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr) lib.path = map->l_name;
      return;
    }
    const char* err = dlerror();
    lib.attempts.push_back({name, err != nullptr ? err : "unknown dlopen error"});
  }
}

template <class F>
void sym(Library& lib, F& fn, const char* name, bool required) {
  if (lib.handle == nullptr) return;
  dlerror();
  void* p = dlsym(lib.handle, name);
  if (p == nullptr) (required ? lib.missing : lib.missingOptional).push_back(name);
  fn = reinterpret_cast<F>(p);
}

void resolve(Api& a) {
  Library& f = a.cufileLib;
  sym(f, a.driverOpen, "cuFileDriverOpen", true);
  // cufile.h maps cuFileDriverClose to cuFileDriverClose_v2; older libraries export only the former.
  sym(f, a.driverClose, "cuFileDriverClose_v2", false);
  if (a.driverClose == nullptr && f.handle != nullptr) {
    f.missingOptional.pop_back();
    sym(f, a.driverClose, "cuFileDriverClose", true);
  }
  sym(f, a.driverGetProperties, "cuFileDriverGetProperties", true);
  sym(f, a.handleRegister, "cuFileHandleRegister", true);
  sym(f, a.handleDeregister, "cuFileHandleDeregister", true);
  sym(f, a.bufRegister, "cuFileBufRegister", true);
  sym(f, a.bufDeregister, "cuFileBufDeregister", true);
  sym(f, a.read, "cuFileRead", true);
  sym(f, a.write, "cuFileWrite", true);
  sym(f, a.batchSetUp, "cuFileBatchIOSetUp", false);
  sym(f, a.batchSubmit, "cuFileBatchIOSubmit", false);
  sym(f, a.batchGetStatus, "cuFileBatchIOGetStatus", false);
  sym(f, a.batchCancel, "cuFileBatchIOCancel", false);
  sym(f, a.batchDestroy, "cuFileBatchIODestroy", false);
  sym(f, a.getVersion, "cuFileGetVersion", false);
  sym(f, a.getParameterSizeT, "cuFileGetParameterSizeT", false);
  sym(f, a.getParameterBool, "cuFileGetParameterBool", false);
  sym(f, a.opStatusError, "cufileop_status_error", false);

  Library& r = a.cudartLib;
  sym(r, a.cudaGetDeviceCount, "cudaGetDeviceCount", true);
  sym(r, a.cudaSetDevice, "cudaSetDevice", true);
  sym(r, a.cudaMalloc, "cudaMalloc", true);
  sym(r, a.cudaFree, "cudaFree", true);
  sym(r, a.cudaMallocHost, "cudaMallocHost", true);
  sym(r, a.cudaFreeHost, "cudaFreeHost", true);
  sym(r, a.cudaMemcpy, "cudaMemcpy", true);
  sym(r, a.cudaMemcpyAsync, "cudaMemcpyAsync", true);
  sym(r, a.cudaMemsetAsync, "cudaMemsetAsync", true);
  sym(r, a.cudaStreamCreateWithFlags, "cudaStreamCreateWithFlags", true);
  sym(r, a.cudaStreamSynchronize, "cudaStreamSynchronize", true);
  sym(r, a.cudaStreamDestroy, "cudaStreamDestroy", true);
  sym(r, a.cudaGetErrorName, "cudaGetErrorName", true);
  sym(r, a.cudaGetErrorString, "cudaGetErrorString", true);
  sym(r, a.cudaGetLastError, "cudaGetLastError", true);
  sym(r, a.cudaRuntimeGetVersion, "cudaRuntimeGetVersion", true);
  sym(r, a.cudaDriverGetVersion, "cudaDriverGetVersion", false);
  sym(r, a.cudaMemcpyPeerAsync, "cudaMemcpyPeerAsync", false);
  sym(r, a.cudaHostRegister, "cudaHostRegister", false);
  sym(r, a.cudaHostUnregister, "cudaHostUnregister", false);
  sym(r, a.cudaDeviceGetPCIBusId, "cudaDeviceGetPCIBusId", false);

  Library& d = a.cudaLib;
  sym(d, a.cuInit, "cuInit", false);
  sym(d, a.cuDeviceGetCount, "cuDeviceGetCount", false);
  sym(d, a.cuPointerGetAttribute, "cuPointerGetAttribute", false);
  sym(d, a.cuGetErrorName, "cuGetErrorName", false);
  sym(d, a.cuGetErrorString, "cuGetErrorString", false);
  sym(d, a.cuDriverGetVersion, "cuDriverGetVersion", false);
}

std::mutex& mu() {
  static std::mutex m;
  return m;
}

}  // namespace

std::string Api::cudaErrorName(int code) const {
  const char* s = cudaGetErrorName != nullptr ? cudaGetErrorName(code) : nullptr;
  return s != nullptr ? s : "";
}
std::string Api::cudaErrorText(int code) const {
  const char* s = cudaGetErrorString != nullptr ? cudaGetErrorString(code) : nullptr;
  return s != nullptr ? s : "";
}
std::string Api::cuResultName(int code) const {
  const char* s = nullptr;
  if (cuGetErrorName == nullptr || cuGetErrorName(code, &s) != gdsabi::cu::kSuccess) return "";
  return s != nullptr ? s : "";
}
std::string Api::cuResultText(int code) const {
  const char* s = nullptr;
  if (cuGetErrorString == nullptr || cuGetErrorString(code, &s) != gdsabi::cu::kSuccess) return "";
  return s != nullptr ? s : "";
}
std::string Api::cufileErrorText(int code) const {
  const char* s = opStatusError != nullptr ? opStatusError(code < 0 ? -code : code) : nullptr;
  return s != nullptr ? s : "";
}

const Api& loadApi(const LoadOptions& options) {
  static std::map<std::string, std::unique_ptr<Api>> cache;  // process lifetime, never freed
  std::lock_guard<std::mutex> g(mu());
  auto& slot = cache[options.key()];
  if (!slot) {
    auto api = std::make_unique<Api>();
    // The driver library, the runtime, then cuFile (which itself needs the driver library).
    open(api->cudaLib, options.cuda);
    open(api->cudartLib, options.cudart);
    open(api->cufileLib, options.cufile);
    resolve(*api);
    slot = std::move(api);
  }
  return *slot;
}

namespace {
std::map<const Api*, int>& driverRefs() {
  static std::map<const Api*, int> m;
  return m;
}
}  // namespace

gdsabi::cufile::Error acquireDriver(const Api& api) {
  std::lock_guard<std::mutex> g(mu());
  int& n = driverRefs()[&api];
  if (n > 0) {
    ++n;
    return {gdsabi::cufile::kSuccess, 0};
  }
  if (api.driverOpen == nullptr) return {gdsabi::cufile::kDriverNotInitialized, 0};
  const gdsabi::cufile::Error e = api.driverOpen();
  if (e.err == gdsabi::cufile::kSuccess) n = 1;
  return e;
}

void releaseDriver(const Api& api) {
  std::lock_guard<std::mutex> g(mu());
  int& n = driverRefs()[&api];
  if (n <= 0) return;
  if (--n == 0 && api.driverClose != nullptr) api.driverClose();
}

}  // namespace gds
