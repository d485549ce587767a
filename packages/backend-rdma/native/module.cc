// The addon's exports: probe(), memoryAddress() and, when built with rdma-core's headers, Engine.
#include <datamover/memory_address.h>
#include <napi.h>

#include "engine.h"
#include "probe.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New<dm::Probe>(env, "probe"));
  exports.Set("memoryAddress", Napi::Function::New<dm::MemoryAddress>(env, "memoryAddress"));
#ifdef DM_HAVE_RDMA_HEADERS
  exports.Set("Engine", dm::Engine::Define(env));
#endif
  return exports;
}

NODE_API_MODULE(datamover_rdma, Init)
