// The gds Engine: one consumer thread on core's shared ring (dm::RingConsumer); runs of file <->
// GPU copies go to cuFile's batch API. On core's live-engine list (live_engines.h), so that freeing
// pinned host memory at teardown stops it first. engine.cc opens it and consumes; regions.cc registers host,
// file and GPU regions; stats.cc reports its counters and transfer log.
#pragma once

#include <memory>

#include <datamover/live_engines.h>
#include <datamover/ring_consumer.h>
#include <napi.h>

#include "addon.h"
#include "executor.h"

namespace gds {

class Engine : public Napi::ObjectWrap<Engine>, public dm::RingConsumer, public dm::LiveEngine {
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
  bool holds(const void* p, size_t n) override { return table_.holds(p, n); }
  void stopForFree() override { shutdown(false); }

  const Api* api_ = nullptr;
  bool driverHeld_ = false;
  Config config_;
  RegionTable table_;
  Stats stats_;
  TransferLog log_;
};

}  // namespace gds
