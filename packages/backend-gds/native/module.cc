// The gds addon's JavaScript surface: probe() (what this machine has), GpuBuffer (device memory
// allocated here or imported from another framework), Engine (one consumer thread on core's
// shared ring; cuFile batches for runs of file <-> GPU copies), pinned host allocation, and the
// struct layouts / names the TypeScript side checks itself against.
#include <datamover/memory_address.h>
#include <napi.h>

#include "addon.h"
#include "engine.h"
#include "gpu_buffer.h"

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
