// The gds addon's JavaScript surface: probe() (what this machine has), GpuBuffer (device memory
// allocated here or imported from another framework), Engine (one consumer thread on core's
// shared ring; cuFile batches for runs of file <-> GPU copies), pinned host allocation, and the
// struct layouts / names the TypeScript side checks itself against.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include <datamover/memory_address.h>
#include <datamover/napi_args.h>
#include <datamover/ring_consumer.h>

#include "executor.h"

namespace gds {
namespace {

using namespace gdsabi;
using dm::boolArg;
using dm::fail;
using dm::intArg;
using dm::kMaxSafeInteger;
using dm::uint8ArrayArg;

struct AddonData {
  Napi::FunctionReference gpuBuffer;
};

// ---- argument and error helpers ----

// A library's own error: code names the library ("CUDART_ERROR", "CUFILE_ERROR", "CUDA_ERROR"),
// `libraryCode` its number, `cuErr` the CUresult inside a CU_FILE_CUDA_DRIVER_ERROR, `nativeText`
// the library's own text where it offers one.
[[noreturn]] void failLibrary(Napi::Env env, const Api& api, const char* library, int code, int cuErr,
                              const std::string& what) {
  std::string name, text;
  if (std::strcmp(library, "cudart") == 0) {
    name = api.cudaErrorName(code);
    text = api.cudaErrorText(code);
  } else if (std::strcmp(library, "cuda") == 0) {
    name = api.cuResultName(code);
    text = api.cuResultText(code);
  } else {
    text = api.cufileErrorText(code);
  }
  std::string message = what + ": " + library + " error " + std::to_string(code);
  if (!name.empty()) message += " " + name;
  if (!text.empty()) message += " (" + text + ")";
  Napi::Error e = Napi::Error::New(env, message);
  const char* code_ = std::strcmp(library, "cudart") == 0 ? "CUDART_ERROR" : std::strcmp(library, "cuda") == 0 ? "CUDA_ERROR" : "CUFILE_ERROR";
  e.Set("code", Napi::String::New(env, code_));
  e.Set("library", Napi::String::New(env, library));
  e.Set("libraryCode", Napi::Number::New(env, code));
  if (cuErr != 0) e.Set("cuErr", Napi::Number::New(env, cuErr));
  if (!name.empty()) e.Set("nativeName", Napi::String::New(env, name));
  if (!text.empty()) e.Set("nativeText", Napi::String::New(env, text));
  if (api.cudaGetLastError != nullptr) api.cudaGetLastError();
  throw e;
}

std::vector<std::string> namesArg(Napi::Env env, const Napi::Object& o, const char* key, std::vector<std::string> fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsArray()) fail(env, "INVALID_ARGUMENT", std::string("libraries.") + key + " must be an array of library names");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) fail(env, "INVALID_ARGUMENT", std::string("libraries.") + key + " must hold strings");
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

// { cufile?: string[], cudart?: string[], cuda?: string[] } -> the (cached) API table.
const Api& apiArg(Napi::Env env, const Napi::Value& v) {
  LoadOptions lo;
  if (!v.IsUndefined() && !v.IsNull()) {
    if (!v.IsObject()) fail(env, "INVALID_ARGUMENT", "libraries must be an object");
    Napi::Object o = v.As<Napi::Object>();
    lo.cufile = namesArg(env, o, "cufile", lo.cufile);
    lo.cudart = namesArg(env, o, "cudart", lo.cudart);
    lo.cuda = namesArg(env, o, "cuda", lo.cuda);
  }
  return loadApi(lo);
}

const Api& usableApi(Napi::Env env, const Napi::Value& v) {
  const Api& api = apiArg(env, v);
  if (!api.cudaUsable()) fail(env, "UNAVAILABLE", "the CUDA runtime is not loaded (see probe())");
  return api;
}

Napi::Array strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (uint32_t i = 0; i < v.size(); ++i) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

Napi::Object libraryInfo(Napi::Env env, const Library& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", Napi::Boolean::New(env, l.loaded()));
  if (l.loaded()) {
    o.Set("name", Napi::String::New(env, l.name));
    o.Set("path", Napi::String::New(env, l.path.empty() ? l.name : l.path));
  }
  Napi::Array attempts = Napi::Array::New(env, l.attempts.size());
  for (uint32_t i = 0; i < l.attempts.size(); ++i) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("name", Napi::String::New(env, l.attempts[i].name));
    a.Set("error", Napi::String::New(env, l.attempts[i].error));
    attempts.Set(i, a);
  }
  o.Set("attempts", attempts);
  o.Set("missing", strings(env, l.missing));
  o.Set("missingOptional", strings(env, l.missingOptional));
  return o;
}

Napi::Object libraryError(Napi::Env env, const Api& api, const char* library, int code, int cuErr = 0) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", Napi::String::New(env, library));
  o.Set("code", Napi::Number::New(env, code));
  if (cuErr != 0) o.Set("cuErr", Napi::Number::New(env, cuErr));
  std::string name, text;
  if (std::strcmp(library, "cudart") == 0) {
    name = api.cudaErrorName(code);
    text = api.cudaErrorText(code);
  } else if (std::strcmp(library, "cuda") == 0) {
    name = api.cuResultName(code);
    text = api.cuResultText(code);
  } else {
    text = api.cufileErrorText(code);
  }
  if (!name.empty()) o.Set("nativeName", Napi::String::New(env, name));
  if (!text.empty()) o.Set("nativeText", Napi::String::New(env, text));
  return o;
}

// ---- probe ----

// probe(libraries?, { openDriver?: boolean }): what loads, what is missing, which GPUs, cuFile's
// driver properties. Never throws for a missing library: that is the answer.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = apiArg(env, info[0]);
  bool openDriver = true;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Value v = info[1].As<Napi::Object>().Get("openDriver");
    if (!v.IsUndefined()) openDriver = boolArg(env, v, "openDriver");
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Object libs = Napi::Object::New(env);
  libs.Set("cufile", libraryInfo(env, api.cufileLib));
  libs.Set("cudart", libraryInfo(env, api.cudartLib));
  libs.Set("cuda", libraryInfo(env, api.cudaLib));
  out.Set("libraries", libs);
  out.Set("batchApi", Napi::Boolean::New(env, api.batchUsable()));

  int deviceCount = 0;
  if (api.cudaUsable()) {
    int v = 0;
    if (api.cudaRuntimeGetVersion(&v) == cudart::kSuccess) out.Set("runtimeVersion", Napi::Number::New(env, v));
    if (api.cudaDriverGetVersion != nullptr && api.cudaDriverGetVersion(&v) == cudart::kSuccess)
      out.Set("driverVersion", Napi::Number::New(env, v));
    Napi::Object devices = Napi::Object::New(env);
    const int e = api.cudaGetDeviceCount(&deviceCount);
    if (e != cudart::kSuccess) {
      deviceCount = 0;
      devices.Set("error", libraryError(env, api, "cudart", e));
      api.cudaGetLastError();
    }
    devices.Set("count", Napi::Number::New(env, deviceCount));
    Napi::Array list = Napi::Array::New(env);
    for (int d = 0; d < deviceCount && d < 64; ++d) {
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("id", Napi::Number::New(env, d));
      char bus[32] = {0};
      if (api.cudaDeviceGetPCIBusId != nullptr && api.cudaDeviceGetPCIBusId(bus, sizeof bus, d) == cudart::kSuccess)
        dev.Set("pciBusId", Napi::String::New(env, bus));
      list.Set(list.Length(), dev);
    }
    devices.Set("list", list);
    out.Set("devices", devices);
  }
  if (api.cudaLib.loaded() && api.cuDriverGetVersion != nullptr) {
    int v = 0;
    if (api.cuDriverGetVersion(&v) == cu::kSuccess) out.Set("cudaDriverVersion", Napi::Number::New(env, v));
  }

  if (api.cufileUsable()) {
    Napi::Object cf = Napi::Object::New(env);
    int version = 0;
    if (api.getVersion != nullptr && api.getVersion(&version).err == cufile::kSuccess) cf.Set("version", Napi::Number::New(env, version));
    if (openDriver && deviceCount > 0) {
      // The first successful probe keeps the driver open for the life of the process, so that
      // probe → Mover.open does not close and reopen it (engines hold their own references).
      static std::mutex heldMu;
      static std::set<const Api*> held;
      std::lock_guard<std::mutex> g(heldMu);
      const bool already = held.count(&api) != 0;
      const cufile::Error e = already ? cufile::Error{cufile::kSuccess, 0} : acquireDriver(api);
      if (e.err == cufile::kSuccess) held.insert(&api);
      cf.Set("opened", Napi::Boolean::New(env, e.err == cufile::kSuccess));
      if (e.err != cufile::kSuccess) {
        cf.Set("error", libraryError(env, api, "cufile", e.err, e.cu_err));
      } else {
        cufile::DrvProps p;
        std::memset(&p, 0, sizeof p);
        const cufile::Error pe = api.driverGetProperties(&p);
        if (pe.err == cufile::kSuccess) {
          Napi::Object props = Napi::Object::New(env);
          props.Set("nvfsMajorVersion", Napi::Number::New(env, p.nvfs.major_version));
          props.Set("nvfsMinorVersion", Napi::Number::New(env, p.nvfs.minor_version));
          props.Set("pollThreshKiB", Napi::Number::New(env, static_cast<double>(p.nvfs.poll_thresh_size)));
          props.Set("maxDirectIoKiB", Napi::Number::New(env, static_cast<double>(p.nvfs.max_direct_io_size)));
          props.Set("dstatusflags", Napi::Number::New(env, p.nvfs.dstatusflags));
          props.Set("dcontrolflags", Napi::Number::New(env, p.nvfs.dcontrolflags));
          props.Set("fflags", Napi::Number::New(env, p.fflags));
          props.Set("maxDeviceCacheKiB", Napi::Number::New(env, p.max_device_cache_size));
          props.Set("perBufferCacheKiB", Napi::Number::New(env, p.per_buffer_cache_size));
          props.Set("maxDevicePinnedMemKiB", Napi::Number::New(env, p.max_device_pinned_mem_size));
          props.Set("maxBatchIoSize", Napi::Number::New(env, p.max_batch_io_size));
          props.Set("maxBatchIoTimeoutMs", Napi::Number::New(env, p.max_batch_io_timeout_msecs));
          cf.Set("props", props);
        } else {
          cf.Set("propsError", libraryError(env, api, "cufile", pe.err, pe.cu_err));
        }
        Napi::Object params = Napi::Object::New(env);
        size_t sz = 0;
        if (api.getParameterSizeT != nullptr && api.getParameterSizeT(cufile::kParamIoBatchSize, &sz).err == cufile::kSuccess)
          params.Set("ioBatchSize", Napi::Number::New(env, static_cast<double>(sz)));
        const std::pair<const char*, int> flags[] = {{"allowCompatMode", cufile::kParamAllowCompatMode},
                                                     {"forceCompatMode", cufile::kParamForceCompatMode},
                                                     {"usePciP2pDma", cufile::kParamUsePciP2pDma}};
        for (const auto& [name, id] : flags) {
          bool b = false;
          if (api.getParameterBool != nullptr && api.getParameterBool(id, &b).err == cufile::kSuccess)
            params.Set(name, Napi::Boolean::New(env, b));
        }
        cf.Set("params", params);
      }
    }
    out.Set("cufile", cf);
  }
  return out;
}

// ---- GpuBuffer ----

class GpuBuffer : public Napi::ObjectWrap<GpuBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GpuBuffer",
                       {
                           InstanceMethod<&GpuBuffer::Read>("read"),
                           InstanceMethod<&GpuBuffer::Write>("write"),
                           InstanceMethod<&GpuBuffer::Release>("release"),
                           InstanceAccessor<&GpuBuffer::Size>("size"),
                           InstanceAccessor<&GpuBuffer::Device>("device"),
                           InstanceAccessor<&GpuBuffer::Owned>("owned"),
                           InstanceAccessor<&GpuBuffer::Released>("released"),
                           InstanceAccessor<&GpuBuffer::Pointer>("pointer"),
                       });
  }
  explicit GpuBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GpuBuffer>(info) {}

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<DeviceMemory> mem) {
    Napi::Object o = env.GetInstanceData<AddonData>()->gpuBuffer.New({});
    Unwrap(o)->mem_ = std::move(mem);
    return o;
  }
  // The device memory behind a JS value, after checking it is one of ours and still alive.
  static std::shared_ptr<DeviceMemory> From(Napi::Env env, const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->gpuBuffer.Value()))
      fail(env, "INVALID_ARGUMENT", "expected a GpuBuffer of this addon");
    GpuBuffer* b = Unwrap(v.As<Napi::Object>());
    if (!b->mem_) fail(env, "REGION_RELEASED", "the GpuBuffer was released");
    return b->mem_;
  }

 private:
  DeviceMemory& live(Napi::Env env) {
    if (!mem_) fail(env, "REGION_RELEASED", "the GpuBuffer was released");
    return *mem_;
  }
  // Out-of-band access (tests, fixtures, interop): a synchronous cudaMemcpy on this thread.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DeviceMemory& m = live(env);
    const auto off = static_cast<uint64_t>(intArg(env, info[0], 0, static_cast<int64_t>(m.size), "offset"));
    const auto len = static_cast<uint64_t>(intArg(env, info[1], 0, static_cast<int64_t>(m.size - off), "length"));
    Napi::Uint8Array out = Napi::Uint8Array::New(env, len);
    if (len == 0) return out;
    int e = m.api->cudaSetDevice(m.device);
    if (e == cudart::kSuccess) e = m.api->cudaMemcpy(out.Data(), reinterpret_cast<const void*>(m.start + off), len, cudart::kMemcpyDeviceToHost);
    if (e != cudart::kSuccess) failLibrary(env, *m.api, "cudart", e, 0, "GpuBuffer.read: cudaMemcpy");
    return out;
  }
  void Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DeviceMemory& m = live(env);
    Napi::Uint8Array data = uint8ArrayArg(env, info[0], "data");
    const auto off = static_cast<uint64_t>(intArg(env, info[1], 0, static_cast<int64_t>(m.size), "offset"));
    if (data.ByteLength() > m.size - off) fail(env, "OUT_OF_BOUNDS", "GpuBuffer.write: data runs past the buffer");
    if (data.ByteLength() == 0) return;
    int e = m.api->cudaSetDevice(m.device);
    if (e == cudart::kSuccess)
      e = m.api->cudaMemcpy(reinterpret_cast<void*>(m.start + off), data.Data(), data.ByteLength(), cudart::kMemcpyHostToDevice);
    if (e != cudart::kSuccess) failLibrary(env, *m.api, "cudart", e, 0, "GpuBuffer.write: cudaMemcpy");
  }
  // Drops this handle's reference: an owned allocation is freed once no engine region holds it.
  void Release(const Napi::CallbackInfo&) { mem_.reset(); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mem_ ? static_cast<double>(mem_->size) : 0); }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mem_ ? mem_->device : -1); }
  Napi::Value Owned(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), mem_ && mem_->owned); }
  Napi::Value Released(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !mem_); }
  // The device address, for handing this memory to another framework (reading a pointer out is
  // harmless; the only pointer ever taken *in* is importGpu's, and that one is validated).
  Napi::Value Pointer(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(mem_ ? mem_->start : 0));
  }

  std::shared_ptr<DeviceMemory> mem_;
};

// allocateGpu(libraries, size, device, alignment) -> GpuBuffer (cudaMalloc, over-allocated for
// alignments beyond the 256 bytes cudaMalloc guarantees).
Napi::Value AllocateGpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = usableApi(env, info[0]);
  const auto size = static_cast<size_t>(intArg(env, info[1], 0, kMaxSafeInteger, "size"));
  const int device = static_cast<int>(intArg(env, info[2], 0, INT_MAX, "device"));
  const auto alignment = static_cast<size_t>(intArg(env, info[3], 1, int64_t{1} << 30, "alignment"));
  if ((alignment & (alignment - 1)) != 0) fail(env, "INVALID_ARGUMENT", "alignment must be a power of two");
  int e = api.cudaSetDevice(device);
  if (e != cudart::kSuccess) failLibrary(env, api, "cudart", e, 0, "cudaSetDevice(" + std::to_string(device) + ")");
  const size_t extra = alignment > 256 ? alignment : 0;
  void* p = nullptr;
  e = api.cudaMalloc(&p, std::max<size_t>(size, 1) + extra);
  if (e != cudart::kSuccess) failLibrary(env, api, "cudart", e, 0, "cudaMalloc(" + std::to_string(size) + ")");
  auto mem = std::make_shared<DeviceMemory>();
  mem->api = &api;
  mem->device = device;
  mem->base = reinterpret_cast<uintptr_t>(p);
  mem->start = (mem->base + alignment - 1) & ~(uintptr_t{alignment} - 1);
  mem->size = size;
  mem->owned = true;
  rememberOwned(mem);
  return GpuBuffer::Wrap(env, std::move(mem));
}

// importGpu(libraries, pointer: bigint, size, device) -> GpuBuffer over a framework's memory.
// The trust boundary: the address is accepted only when the CUDA driver confirms it is device
// memory of `device` and that [pointer, pointer + size) lies inside one allocation.
Napi::Value ImportGpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = usableApi(env, info[0]);
  if (!info[1].IsBigInt()) fail(env, "INVALID_ARGUMENT", "pointer must be a bigint");
  bool lossless = false;
  const uint64_t ptr = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || ptr == 0) fail(env, "INVALID_ARGUMENT", "pointer must be a non-zero 64-bit address");
  const auto size = static_cast<uint64_t>(intArg(env, info[2], 0, kMaxSafeInteger, "size"));
  const int device = static_cast<int>(intArg(env, info[3], 0, INT_MAX, "device"));
  if (size > UINT64_MAX - ptr) fail(env, "OUT_OF_BOUNDS", "pointer + size overflows");
  // Memory this addon allocated is known exactly; the import holds the allocation alive.
  if (std::shared_ptr<DeviceMemory> own = findOwned(static_cast<uintptr_t>(ptr), static_cast<size_t>(size))) {
    if (own->device != device)
      fail(env, "INVALID_ARGUMENT", "the address belongs to device " + std::to_string(own->device) + ", not " + std::to_string(device));
    auto mem = std::make_shared<DeviceMemory>();
    mem->api = &api;
    mem->device = device;
    mem->base = mem->start = static_cast<uintptr_t>(ptr);
    mem->size = static_cast<size_t>(size);
    mem->parent = std::move(own);
    return GpuBuffer::Wrap(env, std::move(mem));
  }
  if (api.cuPointerGetAttribute == nullptr)
    fail(env, "UNVERIFIABLE_POINTER", "cannot validate a device pointer: libcuda (cuPointerGetAttribute) is not loaded");
  const int e = api.cudaSetDevice(device);
  if (e != cudart::kSuccess) failLibrary(env, api, "cudart", e, 0, "cudaSetDevice(" + std::to_string(device) + ")");
  unsigned type = 0;
  cu::Result r = api.cuPointerGetAttribute(&type, cu::kPointerAttributeMemoryType, ptr);
  if (r != cu::kSuccess) failLibrary(env, api, "cuda", r, 0, "cuPointerGetAttribute(MEMORY_TYPE): the address is not CUDA memory");
  if (type != cu::kMemoryTypeDevice)
    fail(env, "INVALID_ARGUMENT", "the address is CUDA memory of type " + std::to_string(type) + ", not device memory (cudaMalloc / cuMemAlloc)");
  int ordinal = -1;
  r = api.cuPointerGetAttribute(&ordinal, cu::kPointerAttributeDeviceOrdinal, ptr);
  if (r != cu::kSuccess) failLibrary(env, api, "cuda", r, 0, "cuPointerGetAttribute(DEVICE_ORDINAL)");
  if (ordinal != device)
    fail(env, "INVALID_ARGUMENT", "the address belongs to device " + std::to_string(ordinal) + ", not " + std::to_string(device));
  cu::DevicePtr start = 0;
  size_t rangeSize = 0;
  r = api.cuPointerGetAttribute(&start, cu::kPointerAttributeRangeStartAddr, ptr);
  if (r == cu::kSuccess) r = api.cuPointerGetAttribute(&rangeSize, cu::kPointerAttributeRangeSize, ptr);
  if (r != cu::kSuccess) failLibrary(env, api, "cuda", r, 0, "cuPointerGetAttribute(RANGE)");
  if (ptr < start || size > rangeSize || ptr - start > rangeSize - size)
    fail(env, "OUT_OF_BOUNDS", "[pointer, pointer + " + std::to_string(size) + ") runs past its allocation of " + std::to_string(rangeSize) + " bytes");
  auto mem = std::make_shared<DeviceMemory>();
  mem->api = &api;
  mem->device = device;
  mem->base = mem->start = static_cast<uintptr_t>(ptr);
  mem->size = static_cast<size_t>(size);
  mem->owned = false;
  return GpuBuffer::Wrap(env, std::move(mem));
}

// allocatePinned(libraries, size, alignment) -> ArrayBuffer of page-locked host memory
// (cudaMallocHost), freed with cudaFreeHost when collected.
Napi::Value AllocatePinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = usableApi(env, info[0]);
  const auto size = static_cast<size_t>(intArg(env, info[1], 0, kMaxSafeInteger, "size"));
  const auto alignment = static_cast<size_t>(intArg(env, info[2], 1, int64_t{1} << 30, "alignment"));
  if ((alignment & (alignment - 1)) != 0) fail(env, "INVALID_ARGUMENT", "alignment must be a power of two");
  struct Pinned {
    const Api* api;
    void* base;
    size_t length;
  };
  const size_t length = std::max<size_t>(size, 1) + (alignment > 4096 ? alignment : 0);  // cudaMallocHost is page-aligned
  void* base = nullptr;
  const int e = api.cudaMallocHost(&base, length);
  if (e != cudart::kSuccess) failLibrary(env, api, "cudart", e, 0, "cudaMallocHost(" + std::to_string(length) + ")");
  std::memset(base, 0, length);
  const uintptr_t p = (reinterpret_cast<uintptr_t>(base) + alignment - 1) & ~(uintptr_t{alignment} - 1);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(length));
  return Napi::ArrayBuffer::New(
      env, reinterpret_cast<void*>(p), size,
      [](Napi::Env en, void*, Pinned* m) {
        Napi::MemoryManagement::AdjustExternalMemory(en, -static_cast<int64_t>(m->length));
        m->api->cudaFreeHost(m->base);
        delete m;
      },
      new Pinned{&api, base, length});
}

// errorText(libraries, library, code) -> { name?, text? } from the loaded library itself.
Napi::Value ErrorText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = apiArg(env, info[0]);
  if (!info[1].IsString()) fail(env, "INVALID_ARGUMENT", "library must be a string");
  const std::string lib = info[1].As<Napi::String>().Utf8Value();
  const int code = static_cast<int>(intArg(env, info[2], INT_MIN, INT_MAX, "code"));
  Napi::Object o = libraryError(env, api, lib == "cudart" ? "cudart" : lib == "cuda" ? "cuda" : "cufile", code);
  return o;
}

// The layouts of the declared cuFile structs, for test/abi.test.ts.
Napi::Value AbiLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = [&](std::initializer_list<std::pair<const char*, size_t>> fields) {
    Napi::Object o = Napi::Object::New(env);
    for (const auto& [name, value] : fields) o.Set(name, Napi::Number::New(env, static_cast<double>(value)));
    return o;
  };
  Napi::Object o = Napi::Object::New(env);
  using P = cufile::IOParams;
  o.Set("ioParams", obj({{"size", sizeof(P)}, {"mode", offsetof(P, mode)}, {"devPtrBase", offsetof(P, u.batch.devPtr_base)},
                         {"fileOffset", offsetof(P, u.batch.file_offset)}, {"devPtrOffset", offsetof(P, u.batch.devPtr_offset)},
                         {"length", offsetof(P, u.batch.size)}, {"fh", offsetof(P, fh)}, {"opcode", offsetof(P, opcode)},
                         {"cookie", offsetof(P, cookie)}}));
  using E = cufile::IOEvents;
  o.Set("ioEvents", obj({{"size", sizeof(E)}, {"cookie", offsetof(E, cookie)}, {"status", offsetof(E, status)}, {"ret", offsetof(E, ret)}}));
  using D = cufile::Descr;
  o.Set("descr", obj({{"size", sizeof(D)}, {"type", offsetof(D, type)}, {"fd", offsetof(D, handle)}, {"fsOps", offsetof(D, fs_ops)}}));
  using R = cufile::Error;
  o.Set("error", obj({{"size", sizeof(R)}, {"err", offsetof(R, err)}, {"cuErr", offsetof(R, cu_err)}}));
  using Q = cufile::DrvProps;
  o.Set("drvProps", obj({{"size", sizeof(Q)}, {"majorVersion", offsetof(Q, nvfs.major_version)}, {"minorVersion", offsetof(Q, nvfs.minor_version)},
                         {"pollThreshSize", offsetof(Q, nvfs.poll_thresh_size)}, {"maxDirectIoSize", offsetof(Q, nvfs.max_direct_io_size)},
                         {"dstatusflags", offsetof(Q, nvfs.dstatusflags)}, {"dcontrolflags", offsetof(Q, nvfs.dcontrolflags)},
                         {"fflags", offsetof(Q, fflags)}, {"maxDeviceCacheSize", offsetof(Q, max_device_cache_size)},
                         {"perBufferCacheSize", offsetof(Q, per_buffer_cache_size)}, {"maxDevicePinnedMemSize", offsetof(Q, max_device_pinned_mem_size)},
                         {"maxBatchIoSize", offsetof(Q, max_batch_io_size)}, {"maxBatchIoTimeoutMsecs", offsetof(Q, max_batch_io_timeout_msecs)}}));
  return o;
}

Napi::Value Constants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  std::vector<std::string> paths(std::begin(kPathNames), std::end(kPathNames));
  std::vector<std::string> reasons(std::begin(kReasonNames), std::end(kReasonNames));
  o.Set("paths", strings(env, paths));
  o.Set("reasons", strings(env, reasons));
  Napi::Object st = Napi::Object::New(env);
  st.Set("cufile", Napi::Number::New(env, kStatusCufile));
  st.Set("cudart", Napi::Number::New(env, kStatusCudart));
  st.Set("cuda", Napi::Number::New(env, kStatusCuda));
  o.Set("statuses", st);
  o.Set("alignment", Napi::Number::New(env, static_cast<double>(kAlign)));
  return o;
}

}  // namespace

// ---- Engine ----

class Engine : public Napi::ObjectWrap<Engine>, public dm::RingConsumer {
 public:
  static Napi::Function Define(Napi::Env env) {
    return defineEngine<Engine>(env, "Engine",
                                {
                                    InstanceMethod<&Engine::RegisterHost>("registerHost"),
                                    InstanceMethod<&Engine::RegisterFile>("registerFile"),
                                    InstanceMethod<&Engine::RegisterGpu>("registerGpu"),
                                    InstanceMethod<&Engine::Deregister>("deregister"),
                                    InstanceMethod<&Engine::StatsJs>("stats"),
                                    InstanceMethod<&Engine::Transfers>("transfers"),
                                });
  }
  explicit Engine(const Napi::CallbackInfo& info);
  ~Engine() override { shutdown(false); }

 private:
  Napi::Value RegisterHost(const Napi::CallbackInfo& info);
  Napi::Value RegisterFile(const Napi::CallbackInfo& info);
  Napi::Value RegisterGpu(const Napi::CallbackInfo& info);
  void Deregister(const Napi::CallbackInfo& info) { deregister(info.Env(), table_, info[0]); }
  Napi::Value StatsJs(const Napi::CallbackInfo& info);
  Napi::Value Transfers(const Napi::CallbackInfo& info);

  void add(Napi::Env env, uint16_t index, std::unique_ptr<Region> r) {
    if (!table_.add(index, std::move(r))) fail(env, "INVALID_ARGUMENT", "region index already registered");
  }
  uint64_t tryBatch(Executor& exec, uint64_t r);
  void consume() override;
  void release() override;

  const Api* api_ = nullptr;
  bool driverHeld_ = false;
  Config config_;
  RegionTable table_;
  Stats stats_;
  TransferLog log_;
};

// new Engine(ring: Uint8Array, onProgress, { libraries?, cufilePath: 'direct' | 'compat',
//   unalignedViaCufile?, batch?, batchMin?, batchMax?, batchMaxEntryBytes?, ioThreads?, chunkBytes?,
//   bounceBytes?, spinMicros? })
Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array ring = ringArg(info);
  const Napi::Object o = optionsArg(info, false);
  const Api& api = apiArg(env, o.Get("libraries"));
  if (!api.cudaUsable() || !api.cufileUsable()) fail(env, "UNAVAILABLE", "libcufile or the CUDA runtime is not usable here (see probe())");
  auto num = [&](const char* key, int64_t min, int64_t max, uint64_t fallback) {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? fallback : static_cast<uint64_t>(intArg(env, v, min, max, key));
  };
  auto flag = [&](const char* key, bool fallback) {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? fallback : boolArg(env, v, key);
  };
  Napi::Value path = o.Get("cufilePath");
  config_.cufilePath = path.IsString() && path.As<Napi::String>().Utf8Value() == "direct" ? kPathDirect : kPathCompat;
  config_.unalignedViaCufile = flag("unalignedViaCufile", false);
  config_.batch = flag("batch", true) && api.batchUsable();
  config_.batchMin = static_cast<unsigned>(num("batchMin", 2, 4096, 2));
  config_.batchMax = static_cast<unsigned>(num("batchMax", 1, 4096, 128));
  config_.batchMaxEntryBytes = num("batchMaxEntryBytes", 1, int64_t{1} << 32, 1 << 20);
  config_.ioThreads = static_cast<unsigned>(num("ioThreads", 1, 64, 4));
  config_.chunkBytes = num("chunkBytes", 4096, int64_t{1} << 32, 8 << 20);
  config_.bounceBytes = num("bounceBytes", 4096, int64_t{1} << 30, 8 << 20);
  const uint32_t spinMicros = spinMicrosOption(env, o);
  if (config_.batchMax < config_.batchMin) config_.batch = false;

  attach(env, ring);

  // The cuFile driver stays open while any engine lives (explicit open keeps first-I/O latency
  // off the data path; cuFile API Reference §3.1).
  const cufile::Error de = acquireDriver(api);
  if (de.err != cufile::kSuccess) failLibrary(env, api, "cufile", de.err, de.cu_err, "cuFileDriverOpen");
  api_ = &api;
  driverHeld_ = true;
  start(env, info[1], "datamover-gds-progress", spinMicros);
}

// A run of ready, unfenced (after the first), mutually independent file <-> GPU copies goes to
// cuFile's batch API as one submission. Returns how many descriptors it settled (0: none taken).
uint64_t Engine::tryBatch(Executor& exec, uint64_t r) {
  std::vector<BatchEntry> group;
  for (uint64_t i = r; group.size() < config_.batchMax && ready(i); ++i) {
    Descriptor d;
    if (!load(i, d)) break;
    if (i != r && (d.nop.opcode & (1u << DM_OPCODE_FENCE)) != 0) break;
    if (heldBack(i, d) || stopsOnError(i)) break;  // the failure rule: these run one by one
    BatchEntry e;
    if (!exec.eligible(d, e)) break;
    if (Executor::hazard(e, group)) {
      exec.unpin(e);
      break;
    }
    group.push_back(e);
  }
  if (group.size() < config_.batchMin) {
    for (auto& e : group) exec.unpin(e);
    return 0;
  }
  // Claim in ring order and stop at the first the producer cancelled: that one, and everything
  // after it, is settled the ordinary way.
  size_t claimed = 0;
  while (claimed < group.size() && claim(r + claimed)) ++claimed;
  for (size_t k = claimed; k < group.size(); ++k) exec.unpin(group[k]);
  group.resize(claimed);
  if (claimed == 0) return 0;
  if (claimed < config_.batchMin) {
    for (size_t k = 0; k < claimed; ++k) {
      exec.unpin(group[k]);
      Descriptor d;
      load(r + k, d);
      complete(r + k, exec.run(d));
    }
    return claimed;
  }
  const std::vector<Outcome> outs = exec.runBatch(group);
  for (size_t k = 0; k < claimed; ++k) complete(r + k, outs[k]);
  return claimed;
}

void Engine::consume() {
  Executor exec(*api_, table_, config_, stats_, log_);
  auto run = [&](const Descriptor& d) { return exec.run(d); };
  if (config_.batch) serve(run, [&](uint64_t r) { return tryBatch(exec, r); });
  else serve(run);
}

void Engine::release() {
  table_.clear();
  if (driverHeld_) releaseDriver(*api_);
  driverHeld_ = false;
}

// registerHost(index, view, writable, pin) -> { pinned }
Napi::Value Engine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  Napi::Uint8Array view = uint8ArrayArg(env, info[1], "view");
  auto r = std::make_unique<Region>();
  r->api = api_;
  r->kind = Kind::Host;
  r->writable = boolArg(env, info[2], "writable");
  r->host = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  // Page-locking large host buffers lets cudaMemcpyAsync DMA them directly instead of staging.
  if (boolArg(env, info[3], "pin") && api_->cudaHostRegister != nullptr && r->length > 0) {
    r->pinned = api_->cudaHostRegister(r->host, r->length, cudart::kHostRegisterPortable) == cudart::kSuccess;
    if (!r->pinned) api_->cudaGetLastError();
  }
  const bool pinned = r->pinned;
  add(env, index, std::move(r));
  Napi::Object o = Napi::Object::New(env);
  o.Set("pinned", Napi::Boolean::New(env, pinned));
  return o;
}

// registerFile(index, fd, directFd, fileOffset, length, writable, useCufile)
//   -> { cufile: boolean, reason?: string, error?: { library, code, cuErr? } }
Napi::Value Engine::RegisterFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  const int fd = static_cast<int>(intArg(env, info[1], 0, INT_MAX, "fd"));
  const int directFd = static_cast<int>(intArg(env, info[2], -1, INT_MAX, "directFd"));
  auto r = std::make_unique<Region>();
  r->api = api_;
  r->kind = Kind::File;
  r->fileOffset = static_cast<uint64_t>(intArg(env, info[3], 0, kMaxSafeInteger, "fileOffset"));
  r->length = static_cast<uint64_t>(intArg(env, info[4], 0, kMaxSafeInteger, "length"));
  r->writable = boolArg(env, info[5], "writable");
  const bool useCufile = boolArg(env, info[6], "useCufile");
  auto adopt = [&](int f, const char* what, bool mustBeDirect) {
    struct stat st;
    const int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fstat(f, &st) != 0) fail(env, "INVALID_ARGUMENT", std::string(what) + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) fail(env, "INVALID_ARGUMENT", std::string(what) + " is not a regular file or block device");
    if (r->writable && ((fl & O_ACCMODE) == O_RDONLY || (fl & O_APPEND) != 0))
      fail(env, "INVALID_ARGUMENT", std::string(what) + " is read-only or O_APPEND but the region is writable");
    if (mustBeDirect && (fl & O_DIRECT) == 0) fail(env, "INVALID_ARGUMENT", std::string(what) + " was not opened with O_DIRECT");
    if (r->fd >= 0 && (st.st_dev != r->dev || st.st_ino != r->ino)) fail(env, "INVALID_ARGUMENT", "directFd names a different file than fd");
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    const int dup = fcntl(f, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) fail(env, "INVALID_ARGUMENT", std::string(what) + ": dup: " + std::strerror(errno));
    return dup;
  };
  r->fd = adopt(fd, "fd", false);
  if (directFd >= 0) r->directFd = adopt(directFd, "directFd", true);
  Napi::Object o = Napi::Object::New(env);
  if (r->directFd < 0) {
    r->noCufile = kReasonNoDirectFd;
  } else if (!useCufile) {
    r->noCufile = kReasonNoCufileHandle;
  } else {
    // cuFile's direct path wants an O_DIRECT descriptor (older cuFile refuses any other with
    // CU_FILE_DIO_NOT_SET); the buffered twin serves the bounce path.
    cufile::Descr descr;
    std::memset(&descr, 0, sizeof descr);
    descr.type = cufile::kHandleTypeOpaqueFd;
    descr.handle.fd = r->directFd;
    const cufile::Error e = api_->handleRegister(&r->fh, &descr);
    if (e.err != cufile::kSuccess) {
      r->fh = nullptr;
      r->noCufile = kReasonNoCufileHandle;
      o.Set("error", libraryError(env, *api_, "cufile", e.err, e.cu_err));
    }
  }
  o.Set("cufile", Napi::Boolean::New(env, r->fh != nullptr));
  if (r->fh == nullptr) o.Set("reason", Napi::String::New(env, kReasonNames[r->noCufile]));
  add(env, index, std::move(r));
  return o;
}

// registerGpu(index, gpuBuffer, writable, bufRegister) -> { bufRegistered, error? }
Napi::Value Engine::RegisterGpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  std::shared_ptr<DeviceMemory> mem = GpuBuffer::From(env, info[1]);
  auto r = std::make_unique<Region>();
  r->api = api_;
  r->kind = Kind::Gpu;
  r->writable = boolArg(env, info[2], "writable");
  r->device = mem->device;
  r->gpu = mem->start;
  r->length = mem->size;
  r->mem = std::move(mem);
  Napi::Object o = Napi::Object::New(env);
  if (boolArg(env, info[3], "bufRegister") && r->length > 0) {
    int e = api_->cudaSetDevice(r->device);
    if (e != cudart::kSuccess) {
      o.Set("error", libraryError(env, *api_, "cudart", e));
      api_->cudaGetLastError();
    } else {
      const cufile::Error ce = api_->bufRegister(reinterpret_cast<const void*>(r->gpu), r->length, 0);
      r->bufRegistered = ce.err == cufile::kSuccess;
      if (!r->bufRegistered) o.Set("error", libraryError(env, *api_, "cufile", ce.err, ce.cu_err));
    }
  }
  o.Set("bufRegistered", Napi::Boolean::New(env, r->bufRegistered));
  add(env, index, std::move(r));
  return o;
}

Napi::Value Engine::StatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = consumerStats(env);
  auto n = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object transfers = Napi::Object::New(env), bytes = Napi::Object::New(env), fallbacks = Napi::Object::New(env);
  for (int p = 1; p < 5; ++p) {
    transfers.Set(kPathNames[p], n(stats_.transfers[p].load()));
    bytes.Set(kPathNames[p], n(stats_.bytes[p].load()));
  }
  for (int k = 1; k < 7; ++k) fallbacks.Set(kReasonNames[k], n(stats_.fallbacks[k].load()));
  o.Set("transfers", transfers);
  o.Set("bytes", bytes);
  o.Set("fallbacks", fallbacks);
  o.Set("batches", n(stats_.batches.load()));
  o.Set("batchEntries", n(stats_.batchEntries.load()));
  o.Set("batchRetries", n(stats_.batchRetries.load()));
  o.Set("unaligned", n(stats_.unaligned.load()));
  o.Set("failed", n(stats_.failed.load()));
  o.Set("chunks", n(stats_.chunks.load()));
  o.Set("batch", Napi::Boolean::New(env, config_.batch));
  o.Set("cufilePath", Napi::String::New(env, kPathNames[config_.cufilePath]));
  return o;
}

Napi::Value Engine::Transfers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<TransferRecord> recs = log_.snapshot();
  Napi::Array a = Napi::Array::New(env, recs.size());
  static const char* const kinds[] = {"host", "file", "gpu"};
  for (uint32_t i = 0; i < recs.size(); ++i) {
    const TransferRecord& t = recs[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("seq", Napi::Number::New(env, static_cast<double>(t.seq)));
    o.Set("op", Napi::String::New(env, t.op == DM_OPCODE_COPY ? "copy" : t.op == DM_OPCODE_FILL ? "fill" : t.op == DM_OPCODE_WRITE_IMM ? "writeImm" : "other"));
    if (t.src < 3) o.Set("src", Napi::String::New(env, kinds[t.src]));
    if (t.dst < 3) o.Set("dst", Napi::String::New(env, kinds[t.dst]));
    o.Set("path", Napi::String::New(env, kPathNames[t.path < 5 ? t.path : 0]));
    o.Set("reason", Napi::String::New(env, kReasonNames[t.reason < 7 ? t.reason : 0]));
    o.Set("batched", Napi::Boolean::New(env, t.batched));
    o.Set("status", Napi::Number::New(env, t.status));
    o.Set("detail", Napi::Number::New(env, t.detail));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(t.bytes)));
    o.Set("micros", Napi::Number::New(env, static_cast<double>(t.nanos) / 1000.0));
    a.Set(i, o);
  }
  return a;
}

}  // namespace gds

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new gds::AddonData();
  Napi::Function gpuBuffer = gds::GpuBuffer::Define(env);
  data->gpuBuffer = Napi::Persistent(gpuBuffer);
  env.SetInstanceData<gds::AddonData>(data);
  exports.Set("GpuBuffer", gpuBuffer);
  exports.Set("Engine", gds::Engine::Define(env));
  exports.Set("probe", Napi::Function::New<gds::Probe>(env, "probe"));
  exports.Set("allocateGpu", Napi::Function::New<gds::AllocateGpu>(env, "allocateGpu"));
  exports.Set("importGpu", Napi::Function::New<gds::ImportGpu>(env, "importGpu"));
  exports.Set("allocatePinned", Napi::Function::New<gds::AllocatePinned>(env, "allocatePinned"));
  exports.Set("errorText", Napi::Function::New<gds::ErrorText>(env, "errorText"));
  exports.Set("abiLayout", Napi::Function::New<gds::AbiLayout>(env, "abiLayout"));
  exports.Set("constants", Napi::Function::New<gds::Constants>(env, "constants"));
  exports.Set("memoryAddress", Napi::Function::New<dm::MemoryAddress>(env, "memoryAddress"));
  return exports;
}

NODE_API_MODULE(datamover_gds, Init)
