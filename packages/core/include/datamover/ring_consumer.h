// dm::RingConsumer: the engine side of core's shared descriptor ring (docs/engine-abi.md), the
// one copy every native engine runs. It checks the ring header, runs one consumer thread that
// executes descriptors strictly in ring order (so a fenced descriptor sees every earlier one and
// the fence bit needs no handling), claims and settles completion blocks, wakes the producer, and
// implements the JS methods doorbell(), ref(), unref() and close(). It keeps the failure rule
// (failure_rule.h) for every descriptor it settles.
//
// An engine is a class deriving publicly from Napi::ObjectWrap<Engine> and RingConsumer:
//   Define:      defineEngine<Engine>(env, "Engine", { its own methods })
//   constructor: ringArg(info), its own options, attach(env, ring), then start(...) as the last step
//   destructor:  shutdown(false)
//   consume():   on the consumer thread: build the executor, then serve(run) or serve(run, takeRun),
//                or servePipelined(post, poll) where descriptors complete later (rdma)
//   release():   after the consumer stopped: drop regions and whatever else the engine holds
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <datamover/abi.h>
#include <datamover/descriptor.h>
#include <datamover/failure_rule.h>
#include <datamover/live_engines.h>
#include <datamover/napi_args.h>

namespace dm {

class RingConsumer {
 public:
  RingConsumer(const RingConsumer&) = delete;
  RingConsumer& operator=(const RingConsumer&) = delete;

 protected:
  RingConsumer() = default;
  virtual ~RingConsumer() = default;

  // The engine's JS class: its own methods plus the kit's doorbell, ref, unref and close.
  template <class E>
  static Napi::Function defineEngine(Napi::Env env, const char* name, std::vector<Napi::ClassPropertyDescriptor<E>> methods);

  // ---- JS thread ----

  // new Engine(ring: Uint8Array, onProgress: () => void, ...): the arguments every engine checks
  // first. Returns the ring view for attach().
  static Napi::Uint8Array ringArg(const Napi::CallbackInfo& info);
  // info[2], the engine's options: an object, or where `optional` undefined (read as {}).
  static Napi::Object optionsArg(const Napi::CallbackInfo& info, bool optional);
  // options.spinMicros: how long the consumer spins for work before it sleeps (default 50): the
  // base of its adaptive spin window (waitForWork()).
  static uint32_t spinMicrosOption(Napi::Env env, const Napi::Object& options);
  // Checks the ring header against the memory it came in and keeps that memory alive.
  void attach(Napi::Env env, Napi::Uint8Array view);
  // Starts the consumer thread (consume()); `name` names the progress call's async resource. The
  // last step of the engine's constructor: once it returns, the thread runs on `this`.
  void start(Napi::Env env, const Napi::Value& onProgress, const char* name, uint32_t spinMicros);
  void checkOpen(Napi::Env env) const {
    if (closed_) fail(env, "ENGINE_CLOSED", "the engine is closed");
  }
  // Whether shutdown() has begun (JS thread).
  bool closed() const { return closed_; }
  // The ring's slot count (after attach()): an engine's per-slot state is indexed by i % entries().
  uint64_t entries() const { return mask_ + 1; }
  // A region index (an AKey).
  static uint16_t indexArg(Napi::Env env, const Napi::Value& v) {
    return static_cast<uint16_t>(intArg(env, v, 0, 65535, "index"));
  }
  // deregister(index) as every engine answers it; Table::remove(index) returns 1 removed, 0 not
  // registered, -1 in use by a descriptor. Returns the index.
  template <class Table>
  uint16_t deregister(Napi::Env env, Table& table, const Napi::Value& index) const;
  // Stops and joins the consumer, then release()s, once. JS close(), the engine's destructor and
  // environment teardown all end here; the engine's destructor must call it, because by the time
  // this class's destructor runs the engine part (and its release()) is gone.
  void shutdown(bool fromEnvCleanup);
  // The counters every engine reports: executed (descriptors claimed and run, whatever their
  // status), execNs (time the consumer was busy with descriptors, counted when it wakes the
  // producer and when it runs out of work), sleeps (times the consumer blocked for work),
  // wakeMoves (wake-ups after which it stepped off the waking JS thread's CPU, see leaveCpu),
  // inlined (descriptors runInline() settled on the JS thread; also counted in executed when run),
  // spinMicros (the spin window now, see waitForWork()).
  Napi::Object consumerStats(Napi::Env env) const;

  // ---- the engine's part ----

  // Consumer thread: set up per-thread state (the executor) and call serve(), which returns once
  // the engine shuts down.
  virtual void consume() = 0;
  // JS thread, after the consumer stopped (or failed to start): drop regions, mappings, drivers.
  virtual void release() = 0;

  // ---- consumer thread ----

  // The consumer loop. run(const Descriptor&) -> Outcome executes one claimed descriptor. The
  // optional takeRun(uint64_t r) -> uint64_t may settle a run of ready slots starting at r itself
  // (gds: one cuFile batch) with ready/load/claim/complete, and returns how many it settled, each
  // claimed and run; 0 leaves slot r to the ordinary path.
  template <class Run, class TakeRun = std::nullptr_t>
  void serve(Run run, [[maybe_unused]] TakeRun takeRun = nullptr);
  // Whether slot i is published: below write_index and its valid bit set.
  bool ready(uint64_t i) const;
  // Whether slot i's valid bit is set (written by the producer, whatever write_index says).
  bool written(uint64_t i) const;
  // A private copy of slot i; false when its csb_ptr is not slot i's own completion block.
  bool load(uint64_t i, Descriptor& d) const;
  // CAS claim PENDING -> CLAIMED; false when the producer cancelled the descriptor.
  bool claim(uint64_t i) const;
  // The failure rule for slot i (loaded as d): whether it must not run (it then completes with
  // FailureRule::kHeldBack), and whether its work stops on error (run its descriptors singly).
  bool heldBack(uint64_t i, const Descriptor& d) const { return failures_.heldBack(tag(i), d.nop.opcode); }
  bool stopsOnError(uint64_t i) const { return FailureRule::stopsOnError(tag(i)); }
  // Writes slot i's completion block and then signals it; a failure marks its work failed.
  void complete(uint64_t i, const Outcome& o);

  // The pipelined consumer loop, for an engine whose descriptors finish later on its own queue
  // (rdma: work requests complete on a CQ). Up to entries() slots are in flight; read_index
  // advances in ring order over settled ones. The kit loads each published slot, settles a
  // misplaced csb_ptr (BAD_DESCRIPTOR) and a held-back one itself, and offers a fenced descriptor,
  // or one of a work that stops on error, only once nothing before it is in flight (so the failure
  // rule sees every earlier outcome). The rest goes to post(uint64_t i, const Descriptor& d) ->
  // bool: the engine claims slot i itself (claim(); NOT_RUN when that fails) and settles it with
  // settlePosted(), at once or later; false means not now (no room), the slot stays unclaimed and
  // is offered again after the next poll. poll() settles what finished, through settlePosted(); it
  // runs while anything is in flight, and the consumer yields the CPU between empty polls.
  template <class Post, class Poll>
  void servePipelined(Post post, Poll poll);
  // Consumer thread: completes slot i, which post() took (now or earlier).
  void settlePosted(uint64_t i, const Outcome& o);

  // ---- JS thread: inline execution ----

  // Settles the `count` slots from read_index on the calling thread, through the same settle()
  // (claim, failure rule, run, completion block) as the consumer, and advances read_index; no
  // progress call is made (the caller consumes the completions itself). The producer has written
  // them (valid bit set) but not yet advanced write_index, so the consumer cannot see them; it
  // commits write_index after this returns. Only while the consumer is not running descriptors:
  // returns -1 when it keeps the ring past a short wait, and the caller commits and rings the
  // doorbell instead. Returns how many it settled (it stops at a slot not written).
  template <class Run>
  int64_t runInline(Napi::Env env, uint64_t count, Run run);

 private:
  using Clock = std::chrono::steady_clock;

  template <class T>
  T* at(uint64_t offset) const {
    return reinterpret_cast<T*>(ring_ + offset);
  }
  uint8_t* completion(uint64_t i) const { return ring_ + completions_ + (i & mask_) * DM_CB_BYTES; }
  // The work tag the producer armed slot i's `result` with (WORK_TAG in core's ring layout). Read
  // after ready() (acquire on QW0, which the producer stored after arming) and before complete().
  uint64_t tag(uint64_t i) const { return __atomic_load_n(reinterpret_cast<const uint64_t*>(completion(i) + DM_CB_RESULT_OFFSET), __ATOMIC_RELAXED); }
  // Whether the slot at read_index is published. Outside a busy period the consumer's own index
  // may be stale (an inline run settled slots and the producer retired them), so it is re-read.
  bool workWaiting() const { return ready(__atomic_load_n(at<uint64_t>(DM_RING_READ_INDEX_OFFSET), __ATOMIC_ACQUIRE)); }
  void waitForWork();
  // The ring's turn: held by the consumer over each busy period and by runInline() over its run,
  // so one thread at a time settles slots (and touches failures_ and the counters).
  bool takeTurn() {
    bool expected = false;
    return turn_.compare_exchange_strong(expected, true, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void giveTurn() { turn_.store(false, std::memory_order_release); }
  void leaveCpu(int cpu);
  template <class Run>
  void settle(uint64_t r, Run& run);
  // The consumer is the only writer of its counters: plain load + store, no locked RMW, since
  // this runs for every descriptor (millions per second).
  static void bump(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  void Doorbell(const Napi::CallbackInfo& info);
  void Ref(const Napi::CallbackInfo& info) {
    checkOpen(info.Env());
    progress_.Ref(info.Env());
  }
  void Unref(const Napi::CallbackInfo& info) {
    checkOpen(info.Env());
    progress_.Unref(info.Env());
  }
  void Close(const Napi::CallbackInfo&) { shutdown(false); }
  static void onEnvCleanup(void* self) { static_cast<RingConsumer*>(self)->shutdown(true); }

  napi_env env_ = nullptr;
  uint8_t* ring_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t slots_ = 0, completions_ = 0;
  // The adaptive spin window (waitForWork()): now, and its bounds from options.spinMicros.
  std::atomic<uint32_t> spinMicros_{0};
  static int64_t nowNs() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }
  uint32_t spinFloor_ = 0, spinCeiling_ = 0;
  Napi::Reference<Napi::Uint8Array> ringRef_;  // keeps the ring's SharedArrayBuffer alive
  Napi::ThreadSafeFunction progress_;
  std::thread thread_;
  // Sleep/wake: doorbell() bumps bells_ and, only if the consumer announced it is going to sleep,
  // takes the mutex to notify. The seq-cst store to sleeping_, fence, and re-check of the ring on
  // the consumer side pair with the producer's write_index store and the bells_ RMW (Dekker).
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> bells_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int> wakerCpu_{-1};  // the CPU the last waking doorbell() ran on
  std::atomic<int64_t> bellNs_{0};  // when the last waking doorbell() rang (nowNs())
  // Written by the consumer, read by stats() on the JS thread.
  std::atomic<uint64_t> executed_{0}, execNs_{0}, sleeps_{0}, moves_{0}, inlined_{0};
  std::atomic<bool> turn_{false};
  FailureRule failures_;  // whoever holds the turn
  bool closed_ = false;
  // servePipelined() only, on the consumer thread: per slot, whether its completion is written
  // and read_index not yet past it; how many slots post() took that are not settled yet.
  std::vector<uint8_t> settled_;
  uint64_t inFlight_ = 0;
};

template <class E>
Napi::Function RingConsumer::defineEngine(Napi::Env env, const char* name, std::vector<Napi::ClassPropertyDescriptor<E>> methods) {
  // The runtime-pointer form of InstanceMethod: a template argument cannot name a base's member.
  using Method = void (E::*)(const Napi::CallbackInfo&);
  methods.push_back(Napi::ObjectWrap<E>::InstanceMethod("doorbell", static_cast<Method>(&RingConsumer::Doorbell)));
  methods.push_back(Napi::ObjectWrap<E>::InstanceMethod("ref", static_cast<Method>(&RingConsumer::Ref)));
  methods.push_back(Napi::ObjectWrap<E>::InstanceMethod("unref", static_cast<Method>(&RingConsumer::Unref)));
  methods.push_back(Napi::ObjectWrap<E>::InstanceMethod("close", static_cast<Method>(&RingConsumer::Close)));
  return Napi::ObjectWrap<E>::DefineClass(env, name, methods);
}

inline Napi::Uint8Array RingConsumer::ringArg(const Napi::CallbackInfo& info) {
  Napi::Uint8Array view = uint8ArrayArg(info.Env(), info[0], "ring");
  if (!info[1].IsFunction()) fail(info.Env(), "INVALID_ARGUMENT", "onProgress must be a function");
  return view;
}

inline Napi::Object RingConsumer::optionsArg(const Napi::CallbackInfo& info, bool optional) {
  if (optional && info[2].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[2].IsObject()) fail(info.Env(), "INVALID_ARGUMENT", "options must be an object");
  return info[2].As<Napi::Object>();
}

inline uint32_t RingConsumer::spinMicrosOption(Napi::Env env, const Napi::Object& options) {
  const Napi::Value v = options.Get("spinMicros");
  return v.IsUndefined() ? 50 : static_cast<uint32_t>(intArg(env, v, 0, 1000000, "spinMicros"));
}

inline void RingConsumer::attach(Napi::Env env, Napi::Uint8Array view) {
  uint8_t* p = view.Data();
  const uint64_t len = view.ByteLength();
  if (len < DM_RING_BYTES || reinterpret_cast<uintptr_t>(p) % 8 != 0)
    fail(env, "INVALID_ARGUMENT", "ring: too small or not 8-byte aligned");
  auto word = [p](uint32_t offset) { return *reinterpret_cast<const uint32_t*>(p + offset); };
  const uint32_t entries = word(DM_RING_ENTRIES_OFFSET);
  const uint32_t slots = word(DM_RING_SLOTS_OFFSET), completions = word(DM_RING_COMPLETIONS_OFFSET);
  const uint64_t slotsEnd = slots + uint64_t{entries} * DM_DESCRIPTOR_BYTES;
  const uint64_t cbEnd = completions + uint64_t{entries} * DM_CB_BYTES;
  if (word(DM_RING_MAGIC_OFFSET) != DM_RING_MAGIC) fail(env, "INVALID_ARGUMENT", "ring: bad magic");
  if (entries == 0 || (entries & (entries - 1)) != 0) fail(env, "INVALID_ARGUMENT", "ring: entries must be a power of two");
  // Both arrays inside the memory, after the header, aligned, and not overlapping each other.
  if (slots < DM_RING_BYTES || completions < DM_RING_BYTES || slots % DM_DESCRIPTOR_BYTES != 0 ||
      completions % DM_CB_BYTES != 0 || slotsEnd > len || cbEnd > len || (slots < cbEnd && completions < slotsEnd))
    fail(env, "INVALID_ARGUMENT", "ring: slot or completion array misplaced");
  ring_ = p;
  mask_ = entries - 1;
  slots_ = slots;
  completions_ = completions;
  ringRef_ = Napi::Persistent(view);
}

inline void RingConsumer::start(Napi::Env env, const Napi::Value& onProgress, const char* name, uint32_t spinMicros) {
  // The window adapts between the option and four times it (at most 1 ms above it); 0 never spins.
  spinMicros_.store(spinMicros, std::memory_order_relaxed);
  spinFloor_ = spinMicros;
  spinCeiling_ = std::max(spinMicros, std::min(4 * spinMicros, 1000u));
  // Unreferenced until JS calls ref(): an idle engine must not keep the process alive.
  progress_ = Napi::ThreadSafeFunction::New(env, onProgress.As<Napi::Function>(), name, 0, 1);
  progress_.Unref(env);
  try {
    thread_ = std::thread([this] { consume(); });
  } catch (const std::exception& e) {
    progress_.Release();
    release();  // the engine's destructor will not run for a constructor that throws
    fail(env, "ENGINE_START_FAILED", e.what());
  }
  // Process exit must not leave the thread running over freed memory.
  env_ = env;
  napi_add_env_cleanup_hook(env_, &RingConsumer::onEnvCleanup, this);
}

inline void RingConsumer::shutdown(bool fromEnvCleanup) {
  if (closed_) return;
  closed_ = true;
  stop_.store(true);
  { std::lock_guard<std::mutex> g(mu_); }  // a consumer between predicate check and wait sees stop_
  cv_.notify_one();
  thread_.join();
  progress_.Release();
  if (!fromEnvCleanup) napi_remove_env_cleanup_hook(env_, &RingConsumer::onEnvCleanup, this);
  release();
  ringRef_.Reset();
}

template <class Table>
uint16_t RingConsumer::deregister(Napi::Env env, Table& table, const Napi::Value& v) const {
  checkOpen(env);
  const uint16_t index = indexArg(env, v);
  const int removed = table.remove(index);
  if (removed < 0) fail(env, "REGION_BUSY", "a descriptor naming region " + std::to_string(index) + " is executing");
  if (removed == 0) fail(env, "INVALID_ARGUMENT", "region " + std::to_string(index) + " is not registered");
  return index;
}

inline Napi::Object RingConsumer::consumerStats(Napi::Env env) const {
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* key, const std::atomic<uint64_t>& v) {
    o.Set(key, Napi::Number::New(env, static_cast<double>(v.load(std::memory_order_relaxed))));
  };
  set("executed", executed_);
  set("execNs", execNs_);
  set("sleeps", sleeps_);
  set("wakeMoves", moves_);
  set("inlined", inlined_);
  o.Set("spinMicros", Napi::Number::New(env, spinMicros_.load(std::memory_order_relaxed)));
  return o;
}

inline void RingConsumer::Doorbell(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  bells_.fetch_add(1);
  if (sleeping_.load()) {
    wakerCpu_.store(sched_getcpu(), std::memory_order_relaxed);
    bellNs_.store(nowNs(), std::memory_order_relaxed);
    { std::lock_guard<std::mutex> g(mu_); }
    cv_.notify_one();
  }
}

inline bool RingConsumer::ready(uint64_t i) const {
  const uint64_t w = __atomic_load_n(at<uint64_t>(DM_RING_WRITE_INDEX_OFFSET), __ATOMIC_ACQUIRE);
  // A slot below write_index whose valid bit is clear is not published yet: wait, never skip.
  return static_cast<int64_t>(w - i) > 0 && written(i);
}

inline bool RingConsumer::written(uint64_t i) const {
  const uint32_t* word0 = at<uint32_t>(slots_ + (i & mask_) * DM_DESCRIPTOR_BYTES);
  return (__atomic_load_n(word0, __ATOMIC_ACQUIRE) & (1u << DM_OPCODE_VALID)) != 0;
}

inline bool RingConsumer::load(uint64_t i, Descriptor& d) const {
  const uint64_t slot = i & mask_;
  std::memcpy(d.bytes, ring_ + slots_ + slot * DM_DESCRIPTOR_BYTES, DM_DESCRIPTOR_BYTES);
  // Only the slot's own completion block may be named: the engine never writes elsewhere.
  const uint64_t csb = d.nop.csb_ptr;
  return (csb & 1) == 0 && (csb & ~uint64_t{0x1f}) == completions_ + slot * DM_CB_BYTES;
}

inline bool RingConsumer::claim(uint64_t i) const {
  uint32_t expected = DM_CLAIM_PENDING;
  return __atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(completion(i) + DM_CB_CLAIM_OFFSET), &expected, DM_CLAIM_CLAIMED,
                                     false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

inline void RingConsumer::complete(uint64_t i, const Outcome& o) {
  uint8_t* cb = completion(i);
  failures_.settle(tag(i), o.status);
  __atomic_store_n(reinterpret_cast<uint64_t*>(cb + DM_CB_RESULT_OFFSET), o.result, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<uint32_t*>(cb + DM_CB_STATUS_OFFSET), o.status, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<int32_t*>(cb + DM_CB_DETAIL_OFFSET), o.detail, __ATOMIC_RELAXED);
  // `er` marks failures; a descriptor cancelled or held back (NOT_RUN) did not fail.
  const bool error = FailureRule::failed(o.status);
  __atomic_store_n(reinterpret_cast<uint32_t*>(cb + DM_CB_FLAGS_OFFSET), error ? DM_CB_FLAG_ERROR : 0u, __ATOMIC_RELAXED);
  // Release: the producer that sees signal == 0 sees the fields above and every byte written.
  __atomic_store_n(reinterpret_cast<uint64_t*>(cb + DM_CB_SIGNAL_OFFSET), uint64_t{0}, __ATOMIC_RELEASE);
}

inline void RingConsumer::waitForWork() {
  // Spin first: a producer submitting back-to-back is answered without a futex round trip. The
  // periodic sched_yield() hands the CPU over when cores are oversubscribed (2 vCPUs here): a
  // pure pause loop measurably starved the JS thread it was waiting for.
  //
  // The window adapts to the gaps between submissions. A doorbell that ends a sleep at most the
  // ceiling after the last work (the window spun plus the time asleep until it rang; the wake-up's
  // own latency is not counted) widens the window to twice that gap, up to the ceiling: a producer
  // submitting at that pace is caught spinning next time instead of paying a wake-up. A longer gap
  // (one no window would bridge) halves it, down to the floor, `spinMicros` itself: an engine left
  // idle spins as it did with a fixed window, never less (a shorter floor measurably let a steady
  // producer fall into a wake-up per submission). So the spin after the last work of a burst costs
  // at most the ceiling (200 µs at the default 50) of one CPU, yielding every 64 pauses, and an
  // idle engine is back at the floor after at most two sleeps.
  const uint32_t window = spinMicros_.load(std::memory_order_relaxed);
  const auto deadline = Clock::now() + std::chrono::microseconds(window);
  for (unsigned i = 1;; ++i) {
#if defined(__x86_64__)
    _mm_pause();
#endif
    if (workWaiting() || stop_.load(std::memory_order_relaxed)) return;
    if (i % 64 == 0) {
      if (Clock::now() >= deadline) break;
      sched_yield();
    }
  }
  // Announce the sleep, then look at the ring once more (Dekker, with Doorbell): either this
  // re-check sees the producer's write_index or its doorbell() sees sleeping_ and notifies; a
  // bell rung after `seen` was read ends the wait at once (no lost wake-up).
  const uint64_t seen = bells_.load();
  sleeping_.store(true);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!workWaiting()) {
    sleeps_.fetch_add(1, std::memory_order_relaxed);
    const int64_t asleep = nowNs();
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return bells_.load() != seen || stop_.load(); });
    lk.unlock();
    if (!stop_.load()) {
      const int64_t gapUs = window + std::max<int64_t>(bellNs_.load(std::memory_order_relaxed) - asleep, 0) / 1000;
      const uint32_t next = gapUs <= spinCeiling_ ? std::min(std::max(window, static_cast<uint32_t>(2 * gapUs)), spinCeiling_) : std::max(window / 2, spinFloor_);
      spinMicros_.store(next, std::memory_order_relaxed);
      leaveCpu(wakerCpu_.load(std::memory_order_relaxed));  // not when close() woke it
    }
  }
  sleeping_.store(false);
}

inline void RingConsumer::leaveCpu(int cpu) {
  // Woken by the JS thread's doorbell, the consumer tends to be placed on the waker's CPU (the
  // scheduler's wake-affine choice when no CPU is idle), and the JS thread then waits behind the
  // descriptor it has just submitted: on the 2-vCPU VM every wake-up landed there under load, and
  // submitting a 64 MiB copy held the JS thread for the whole copy. Step over to another CPU the
  // thread may use (its affinity mask is restored at once; only the current placement changes).
  if (cpu < 0 || sched_getcpu() != cpu) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(cpu, &allowed) || CPU_COUNT(&allowed) < 2) return;
  cpu_set_t others = allowed;
  CPU_CLR(cpu, &others);
  if (sched_setaffinity(0, sizeof others, &others) != 0) return;
  sched_setaffinity(0, sizeof allowed, &allowed);
  moves_.fetch_add(1, std::memory_order_relaxed);
}

template <class Run>
void RingConsumer::settle(uint64_t r, Run& run) {
  Descriptor d;
  Outcome o{DM_STATUS_NOT_RUN, 0, 0};
  if (!load(r, d)) {
    o.status = DM_STATUS_BAD_DESCRIPTOR;
  } else if (claim(r)) {
    if (heldBack(r, d)) {
      o = FailureRule::kHeldBack;
    } else {
      o = run(d);
      bump(executed_, 1);
    }
  }
  complete(r, o);
}

template <class Run, class TakeRun>
void RingConsumer::serve(Run run, [[maybe_unused]] TakeRun takeRun) {
  uint64_t* readIndex = at<uint64_t>(DM_RING_READ_INDEX_OFFSET);
  uint32_t* notifyPending = at<uint32_t>(DM_RING_NOTIFY_PENDING_OFFSET);
  uint64_t r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
  // Busy time is read off the clock when the consumer is about to wake the producer and when it
  // runs out of work, not around every descriptor: two clock reads per descriptor cost a fifth of
  // the rate of 64-byte copies. A producer woken for a descriptor therefore sees its time counted.
  bool busy = false;
  Clock::time_point mark;  // while busy: the start of the busy time not yet counted
  const auto count = [&] {
    const Clock::time_point t = Clock::now();
    bump(execNs_, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - mark).count()));
    mark = t;
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    // Outside a busy period an inline run may have settled slots: read_index is the truth then.
    if (!busy) r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
    if (!ready(r)) {
      if (busy) {
        count();
        giveTurn();
      }
      busy = false;
      waitForWork();
      continue;
    }
    if (!busy) {
      if (!takeTurn()) {  // an inline run holds the ring for at most its bound
#if defined(__x86_64__)
        _mm_pause();
#endif
        continue;
      }
      busy = true;
      mark = Clock::now();
      r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);  // an inline run may have ended just now
      if (!ready(r)) continue;
    }
    uint64_t n = 0;
    if constexpr (!std::is_null_pointer_v<TakeRun>) {
      n = takeRun(r);
      if (n > 0) bump(executed_, n);
    }
    if (n == 0) {
      settle(r, run);
      n = 1;
    }
    r += n;
    if (__atomic_load_n(notifyPending, __ATOMIC_RELAXED) == 0) count();  // the producer is about to be woken
    // seq-cst store then exchange: JS clears notify_pending before reading read_index, so either
    // it sees this read_index or we see its cleared flag and call it again (no lost wake-up).
    __atomic_store_n(readIndex, r, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(notifyPending, 1u, __ATOMIC_SEQ_CST) == 0) progress_.NonBlockingCall();
  }
  if (busy) {
    count();
    giveTurn();
  }
}

inline void RingConsumer::settlePosted(uint64_t i, const Outcome& o) {
  complete(i, o);
  settled_[i & mask_] = 1;
  --inFlight_;
  if (o.status != DM_STATUS_NOT_RUN) bump(executed_, 1);
}

template <class Post, class Poll>
void RingConsumer::servePipelined(Post post, Poll poll) {
  uint64_t* readIndex = at<uint64_t>(DM_RING_READ_INDEX_OFFSET);
  uint32_t* notifyPending = at<uint32_t>(DM_RING_NOTIFY_PENDING_OFFSET);
  settled_.assign(entries(), 0);
  inFlight_ = 0;
  // [r, next): slots taken, not yet retired. No inline runs here (the engine offers none), so the
  // turn is held for the whole loop, keeping the ring's one-settler rule.
  while (!takeTurn()) sched_yield();
  uint64_t r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
  uint64_t next = r;
  const auto kitSettles = [&](uint64_t i, const Outcome& o) {
    complete(i, o);
    settled_[i & mask_] = 1;
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    bool progressed = false;
    for (; next - r < entries() && ready(next); ++next, progressed = true) {
      Descriptor d;
      const bool placed = load(next, d);
      if (((d.nop.opcode & (1u << DM_OPCODE_FENCE)) != 0 || stopsOnError(next)) && inFlight_ > 0) break;
      if (!placed) {
        kitSettles(next, Outcome{DM_STATUS_BAD_DESCRIPTOR, 0, 0});
      } else if (heldBack(next, d)) {
        kitSettles(next, claim(next) ? FailureRule::kHeldBack : Outcome{DM_STATUS_NOT_RUN, 0, 0});
      } else {
        ++inFlight_;
        if (!post(next, d)) {
          --inFlight_;
          break;
        }
      }
    }
    if (inFlight_ > 0) poll();
    const uint64_t first = r;
    for (; r < next && settled_[r & mask_] != 0; ++r) settled_[r & mask_] = 0;
    if (r != first) {
      // As in serve(): seq-cst store then exchange, so no wake-up of the producer is lost.
      __atomic_store_n(readIndex, r, __ATOMIC_SEQ_CST);
      if (__atomic_exchange_n(notifyPending, 1u, __ATOMIC_SEQ_CST) == 0) progress_.NonBlockingCall();
      progressed = true;
    }
    if (progressed) continue;
    if (inFlight_ > 0) sched_yield();
    else waitForWork();
  }
  giveTurn();
}

template <class Run>
int64_t RingConsumer::runInline(Napi::Env env, uint64_t count, Run run) {
  checkOpen(env);
  // The producer calls this only on an idle ring, so the consumer holds the turn at most for the
  // tail of its last busy period (or while preempted there): wait for that a little.
  for (int tries = 0; !takeTurn(); ++tries) {
    if (tries == 64) return -1;
    sched_yield();
  }
  uint64_t* readIndex = at<uint64_t>(DM_RING_READ_INDEX_OFFSET);
  const uint64_t first = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
  uint64_t r = first;
  for (; r - first < count && written(r); ++r) settle(r, run);
  bump(inlined_, r - first);
  __atomic_store_n(readIndex, r, __ATOMIC_SEQ_CST);
  giveTurn();
  return static_cast<int64_t>(r - first);
}

}  // namespace dm
