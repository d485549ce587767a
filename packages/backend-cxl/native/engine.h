// The cxl engine's JS class: the kit's ring consumer over the soft executor, with dax mappings as
// regions.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <datamover/ring_consumer.h>

#include "executor.h"
#include "mapping.h"

namespace cxl {

class Engine : public Napi::ObjectWrap<Engine>, public dm::RingConsumer, public dm::LiveEngine {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Engine(const Napi::CallbackInfo& info);
  ~Engine() override;

 private:
  // What the executor's region does not carry: the mapping a dax region keeps alive, and how a
  // durable write to it is made durable. Written on the JS thread before the region is added to
  // the table and read by the consumer only while it pins the region (the table's mutex orders both).
  struct Meta {
    std::shared_ptr<MapState> map;
    Persist persist = Persist::None;
  };

  void RegisterHost(const Napi::CallbackInfo& info);
  void RegisterDax(const Napi::CallbackInfo& info);
  void Deregister(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // The published slots run now on the JS thread by execute() (dm::RingConsumer::runInline).
  Napi::Value RunInline(const Napi::CallbackInfo& info);

  uint16_t freeIndex(Napi::Env env, const Napi::Value& v);
  // Pins the operands' regions and runs the descriptor under the fault watch (fault_guard.h).
  dm::Outcome execute(dm::Executor& exec, const dm::Descriptor& d);
  // The descriptor itself; `regions` are its operands' (operandKeys' order), pinned by execute.
  dm::Outcome run(dm::Executor& exec, const dm::Descriptor& d, dm::Region* const regions[2]);
  void consume() override;
  void release() override;
  bool holds(const void* p, size_t n) override { return table_.holds(p, n); }
  void stopForFree() override { shutdown(false); }

  size_t nt_ = 0;
  dm::RegionTable table_;
  std::vector<Meta> meta_;
  std::vector<bool> registered_;  // JS thread only
  std::atomic<uint64_t> durableOps_{0};
};

}  // namespace cxl
