// The cxl engine's JS class: a ring consumer over the soft executor, with dax mappings as regions.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "executor.h"
#include "mapping.h"

namespace cxl {

class Engine : public Napi::ObjectWrap<Engine> {
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
  void Doorbell(const Napi::CallbackInfo& info);
  void Ref(const Napi::CallbackInfo& info);
  void Unref(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo&) { shutdown(false); }
  Napi::Value Stats(const Napi::CallbackInfo& info);

  void checkOpen(Napi::Env env) const;
  uint16_t freeIndex(Napi::Env env, const Napi::Value& v);
  bool ready(uint64_t r) const;
  void waitForWork(uint64_t r);
  dm::Outcome execute(dm::Executor& exec, const dm::Descriptor& d);
  void settle(dm::Executor& exec, uint64_t r);
  void consume();
  void shutdown(bool fromEnvCleanup);
  static void onEnvCleanup(void* self) { static_cast<Engine*>(self)->shutdown(true); }

  napi_env env_;
  uint8_t* ring_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t slots_ = 0, completions_ = 0;
  uint32_t spinMicros_ = 50;
  size_t nt_ = 0;
  Napi::Reference<Napi::Uint8Array> ringRef_;  // keeps the ring's SharedArrayBuffer alive
  Napi::ThreadSafeFunction progress_;
  dm::RegionTable table_;
  std::vector<Meta> meta_;
  std::vector<bool> registered_;  // JS thread only
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> bells_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> durableOps_{0};
  std::atomic<uint64_t> execNs_{0};  // time spent executing descriptors (claimed ones)
  bool closed_ = false;
  bool hooked_ = false;
};

}  // namespace cxl
