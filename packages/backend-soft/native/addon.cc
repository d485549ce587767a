// The soft backend's addon: core's host engine and host allocator (packages/core/native), and
// host addresses for overlap checks. Everything else the soft backend is lives in TypeScript.
#include <datamover/memory_address.h>

#include "host_engine.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", dm::defineHostEngine(env, "Engine"));
  exports.Set("allocateAligned", Napi::Function::New<dm::AllocateAligned>(env, "allocateAligned"));
  exports.Set("memoryAddress", Napi::Function::New<dm::MemoryAddress>(env, "memoryAddress"));
  return exports;
}

NODE_API_MODULE(datamover_soft, Init)
