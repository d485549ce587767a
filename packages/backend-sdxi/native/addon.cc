// N-API surface of the software SDXI function: the SoftwareFunction class (one thread that runs
// function.h's state machine over shared memory), address-space binding, interrupts into
// JavaScript, and wake(), the doorbell's "MMIO write" that any thread can perform.
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <datamover/live_engines.h>
#include <datamover/napi_args.h>
#include <napi.h>

#include "function.h"
#include "memops.h"

namespace sdxi {
namespace {

// Words of the signals SharedArrayBuffer (an Int32Array), shared with src/software-function.ts.
constexpr size_t kWakeWord = 0;      // bumped by every doorbell and register write
constexpr size_t kSleepingWord = 1;  // 1 while the function thread may be blocked in futex_wait
constexpr size_t kSignalWords = 2;

using dm::fail;
using dm::intArg;

template <napi_typedarray_type Type, class View>
View typedArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Type) fail(env, "INVALID_ARGUMENT", std::string(what) + " has the wrong type");
  return v.As<View>();
}

int32_t* signalWords(Napi::Env env, const Napi::Value& v) {
  auto a = typedArg<napi_int32_array, Napi::Int32Array>(env, v, "signals");
  if (a.ElementLength() < kSignalWords) fail(env, "INVALID_ARGUMENT", "signals must hold at least 2 words");
  return a.Data();
}

long futex(int32_t* word, int op, int32_t value) {
  return syscall(SYS_futex, word, op, value, nullptr, nullptr, 0);
}

inline void cpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

}  // namespace

class SoftwareFunction : public Napi::ObjectWrap<SoftwareFunction>, public InterruptSink, public dm::LiveEngine {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SoftwareFunction",
                       {
                           InstanceMethod<&SoftwareFunction::Bind>("bind"),
                           InstanceMethod<&SoftwareFunction::Unbind>("unbind"),
                           InstanceMethod<&SoftwareFunction::Ref>("ref"),
                           InstanceMethod<&SoftwareFunction::Unref>("unref"),
                           InstanceMethod<&SoftwareFunction::Close>("close"),
                       });
  }

  explicit SoftwareFunction(const Napi::CallbackInfo& info);
  ~SoftwareFunction() override { shutdown(false); }

  void raise(uint32_t vector) override;
  bool holds(const void* p, size_t n) override { return spaces_.holds(p, n); }
  void stopForFree() override { shutdown(false); }

 private:
  void Bind(const Napi::CallbackInfo& info);
  void Unbind(const Napi::CallbackInfo& info);
  void Ref(const Napi::CallbackInfo& info);
  void Unref(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo&) { shutdown(false); }

  void checkOpen(Napi::Env env) const {
    if (closed_) fail(env, "FUNCTION_CLOSED", "the SDXI function is closed");
  }
  void run();
  void idle();
  void shutdown(bool fromEnvCleanup);
  static void onEnvCleanup(void* self) { static_cast<SoftwareFunction*>(self)->shutdown(true); }

  napi_env env_;
  // Keep the shared memory alive while the thread uses it.
  Napi::Reference<Napi::Uint8Array> bar0Ref_, arenaRef_;
  Napi::Reference<Napi::Int32Array> signalsRef_;
  int32_t* signals_ = nullptr;
  uint32_t spinMicros_ = 50;
  dm::RegionTable spaces_;
  std::unique_ptr<Function> fn_;
  Napi::ThreadSafeFunction interrupts_;
  // One pending flag per vector, as an MSI-X pending bit: a vector raised again before
  // JavaScript ran its handler is delivered once. Shared with queued calls, which may run after
  // this object is gone.
  std::shared_ptr<std::atomic<bool>[]> pendingVectors_{new std::atomic<bool>[kVectors]()};
  std::thread thread_;
  std::atomic<bool> quit_{false};
  bool closed_ = false;
  bool hooked_ = false;
};

SoftwareFunction::SoftwareFunction(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SoftwareFunction>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  auto bar0 = typedArg<napi_uint8_array, Napi::Uint8Array>(env, info[0], "bar0");
  auto arena = typedArg<napi_uint8_array, Napi::Uint8Array>(env, info[1], "arena");
  signals_ = signalWords(env, info[2]);
  if (!info[3].IsFunction()) fail(env, "INVALID_ARGUMENT", "onInterrupt must be a function");
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    if (!info[4].IsObject()) fail(env, "INVALID_ARGUMENT", "options must be an object");
    Napi::Value spin = info[4].As<Napi::Object>().Get("spinMicros");
    if (!spin.IsUndefined()) spinMicros_ = static_cast<uint32_t>(intArg(env, spin, 0, 1000000, "spinMicros"));
  }
  if (bar0.ByteLength() < kBar0Bytes || reinterpret_cast<uintptr_t>(bar0.Data()) % 8 != 0)
    fail(env, "INVALID_ARGUMENT", "bar0: too small or not 8-byte aligned");
  if (arena.ByteLength() == 0 || reinterpret_cast<uintptr_t>(arena.Data()) % 8 != 0)
    fail(env, "INVALID_ARGUMENT", "arena: empty or not 8-byte aligned");
  bar0Ref_ = Napi::Persistent(bar0);
  arenaRef_ = Napi::Persistent(arena);
  signalsRef_ = Napi::Persistent(info[2].As<Napi::Int32Array>());
  fn_ = std::make_unique<Function>(bar0.Data(), DeviceMemory(arena.Data(), arena.ByteLength()), spaces_, *this);

  // Unreferenced until JS calls ref(): an idle function must not keep the process alive.
  interrupts_ = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "datamover-sdxi-interrupt", 0, 1);
  interrupts_.Unref(env);
  try {
    thread_ = std::thread(&SoftwareFunction::run, this);
  } catch (const std::exception& e) {
    interrupts_.Release();
    fail(env, "FUNCTION_START_FAILED", e.what());
  }
  napi_add_env_cleanup_hook(env_, &SoftwareFunction::onEnvCleanup, this);
  hooked_ = true;
  dm::addLiveEngine(this);
}

void SoftwareFunction::raise(uint32_t vector) {
  if (vector >= kVectors || pendingVectors_[vector].exchange(true)) return;
  interrupts_.NonBlockingCall([pending = pendingVectors_, vector](Napi::Env env, Napi::Function handler) {
    // Cleared before the handler runs: a raise from now on queues another call.
    pending[vector].store(false);
    handler.Call({Napi::Number::New(env, vector)});
  });
}

void SoftwareFunction::run() {
  dm::Executor exec(spaces_, dm::cpu().ntThreshold);
  while (!quit_.load(std::memory_order_relaxed)) {
    if (!fn_->step(exec)) idle();
  }
}

void SoftwareFunction::idle() {
  // Spin first: a producer submitting back to back is answered without a futex round trip;
  // sched_yield() now and then leaves the CPU to the JS thread on an oversubscribed machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spinMicros_);
  for (unsigned i = 1;; ++i) {
    cpuRelax();
    if (fn_->pending() || quit_.load(std::memory_order_relaxed)) return;
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      sched_yield();
    }
  }
  // Announce the sleep, then re-check: a writer bumps the wake word after its store and wakes
  // us only if it sees sleeping = 1 (both sides sequentially consistent).
  __atomic_store_n(&signals_[kSleepingWord], 1, __ATOMIC_SEQ_CST);
  const int32_t seen = __atomic_load_n(&signals_[kWakeWord], __ATOMIC_SEQ_CST);
  if (!fn_->pending() && !quit_.load()) futex(&signals_[kWakeWord], FUTEX_WAIT_PRIVATE, seen);
  __atomic_store_n(&signals_[kSleepingWord], 0, __ATOMIC_SEQ_CST);
}

void SoftwareFunction::shutdown(bool fromEnvCleanup) {
  if (closed_) return;
  closed_ = true;
  quit_.store(true);
  __atomic_fetch_add(&signals_[kWakeWord], 1, __ATOMIC_SEQ_CST);
  futex(&signals_[kWakeWord], FUTEX_WAKE_PRIVATE, INT_MAX);
  thread_.join();
  dm::removeLiveEngine(this);
  interrupts_.Release();
  if (hooked_ && !fromEnvCleanup) napi_remove_env_cleanup_hook(env_, &SoftwareFunction::onEnvCleanup, this);
  hooked_ = false;
  spaces_.clear();
  bar0Ref_.Reset();
  arenaRef_.Reset();
  signalsRef_.Reset();
}

// bind(pasid, view, writable): makes host memory the address space PASID `pasid` (below the
// function's own slot, kFunctionSpace).
void SoftwareFunction::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto pasid = static_cast<uint16_t>(intArg(env, info[0], 0, kFunctionSpace - 1, "pasid"));
  auto view = typedArg<napi_uint8_array, Napi::Uint8Array>(env, info[1], "view");
  if (!info[2].IsBoolean()) fail(env, "INVALID_ARGUMENT", "writable must be a boolean");
  auto r = std::make_unique<dm::Region>();
  r->writable = info[2].As<Napi::Boolean>().Value();
  r->base = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  if (!spaces_.add(pasid, std::move(r))) fail(env, "INVALID_ARGUMENT", "PASID " + std::to_string(pasid) + " is already bound");
}

void SoftwareFunction::Unbind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto pasid = static_cast<uint16_t>(intArg(env, info[0], 0, kFunctionSpace - 1, "pasid"));
  const int removed = spaces_.remove(pasid);
  if (removed < 0) fail(env, "REGION_BUSY", "a descriptor using PASID " + std::to_string(pasid) + " is executing");
  if (removed == 0) fail(env, "INVALID_ARGUMENT", "PASID " + std::to_string(pasid) + " is not bound");
}

void SoftwareFunction::Ref(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  interrupts_.Ref(info.Env());
}

void SoftwareFunction::Unref(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  interrupts_.Unref(info.Env());
}

// wake(signals): what a doorbell or register write does after its store, from any thread.
Napi::Value Wake(const Napi::CallbackInfo& info) {
  int32_t* s = signalWords(info.Env(), info[0]);
  futex(&s[kWakeWord], FUTEX_WAKE_PRIVATE, INT_MAX);
  return info.Env().Undefined();
}

// Constants the TypeScript side must agree with (test/layout.test.ts).
Napi::Value Layout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* name, uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
  set("CTL0", kRegCtl0), set("CTL2", kRegCtl2), set("STS0", kRegSts0), set("CAP0", kRegCap0), set("CAP1", kRegCap1);
  set("VERSION", kRegVersion), set("CXT_L2", kRegCxtL2), set("RKEY", kRegRkey), set("ERR_CTL", kRegErrCtl);
  set("ERR_STS", kRegErrSts), set("ERR_CFG", kRegErrCfg), set("ERR_WRT", kRegErrWrt), set("ERR_RD", kRegErrRd);
  set("bar0Bytes", kBar0Bytes), set("dbStride", kDbStride), set("maxCxt", kMaxCxt), set("vectors", kVectors);
  set("deviceBase", DeviceMemory::kBase), set("minRingEntries", kMinRingEntries), set("maxRingEntries", kMaxRingEntries);
  set("wakeWord", kWakeWord), set("sleepingWord", kSleepingWord), set("signalWords", kSignalWords);
  set("vendorGroup", kGrpVendor), set("cstVendorResult", kCstVendorResultOffset), set("errVendor", kErrVendorOffset);
  return o;
}

}  // namespace sdxi

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("SoftwareFunction", sdxi::SoftwareFunction::Define(env));
  exports.Set("wake", Napi::Function::New<sdxi::Wake>(env, "wake"));
  exports.Set("layout", Napi::Function::New<sdxi::Layout>(env, "layout"));
  return exports;
}

NODE_API_MODULE(datamover_sdxi, Init)
