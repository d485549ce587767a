// Memory JavaScript asks the addon for: device memory allocated here or imported from another
// framework (each a GpuBuffer), and pinned host memory.
#include <climits>
#include <cstring>

#include <datamover/live_engines.h>

#include "addon.h"
#include "gpu_buffer.h"

namespace gds {

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
// (cudaMallocHost), freed with cudaFreeHost when collected, after every engine holding it stopped.
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
        dm::stopEnginesHolding(m->base, m->length);  // at teardown a copy may still run over it
        Napi::MemoryManagement::AdjustExternalMemory(en, -static_cast<int64_t>(m->length));
        m->api->cudaFreeHost(m->base);
        delete m;
      },
      new Pinned{&api, base, length});
}

}  // namespace gds
