// The cxl engine: one consumer thread per ring, executing descriptors in ring order with the soft
// backend's Executor (compiled in from @datamover/backend-soft). A dax region is registered with
// that executor as a plain pointer range into a mapping this addon made; on top the engine adds
// the Datamover `durable` flag (write-back + fence, or msync) and the alias check between two
// mappings of one device or file.
#include "engine.h"

#include <sched.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common.h"
#include "memops.h"
#include "persist.h"

namespace cxl {
namespace {

constexpr uint32_t kDurable = 1u << DM_OPCODE_DURABLE;

template <class T>
T* at(uint8_t* base, uint64_t offset) {
  return reinterpret_cast<T*>(base + offset);
}

inline void cpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

dm::Outcome status(uint32_t s, int32_t detail = 0) { return dm::Outcome{s, 0, detail}; }

bool inBounds(const dm::Region& r, uint64_t addr, uint64_t n) { return addr <= r.length && n <= r.length - addr; }

// Pins a region-table entry for the span of one descriptor (the table refuses to drop it meanwhile).
class Pin {
 public:
  Pin(dm::RegionTable& t, uint16_t index) : t_(t), r_(t.acquire(index)) {}
  ~Pin() {
    if (r_ != nullptr) t_.release(r_);
  }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  dm::Region* get() const { return r_; }
  dm::Region* operator->() const { return r_; }

 private:
  dm::RegionTable& t_;
  dm::Region* r_;
};

}  // namespace

Napi::Function Engine::Define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod<&Engine::RegisterHost>("registerHost"),
                         InstanceMethod<&Engine::RegisterDax>("registerDax"),
                         InstanceMethod<&Engine::Deregister>("deregister"),
                         InstanceMethod<&Engine::Doorbell>("doorbell"),
                         InstanceMethod<&Engine::Ref>("ref"),
                         InstanceMethod<&Engine::Unref>("unref"),
                         InstanceMethod<&Engine::Close>("close"),
                         InstanceMethod<&Engine::Stats>("stats"),
                     });
}

void Engine::checkOpen(Napi::Env env) const {
  if (closed_) fail(env, "ENGINE_CLOSED", "the engine is closed");
}

Napi::Value Engine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(nt_)));
  o.Set("durableWrites", Napi::Number::New(env, static_cast<double>(durableOps_.load(std::memory_order_relaxed))));
  o.Set("execNs", Napi::Number::New(env, static_cast<double>(execNs_.load(std::memory_order_relaxed))));
  return o;
}

Engine::Engine(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Engine>(info), env_(info.Env()), meta_(dm::RegionTable::kSize), registered_(dm::RegionTable::kSize) {
  Napi::Env env = info.Env();
  Napi::Uint8Array view = uint8ArrayArg(env, info[0], "ring");
  if (!info[1].IsFunction()) fail(env, "INVALID_ARGUMENT", "onProgress must be a function");
  nt_ = dm::cpu().ntThreshold;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsObject()) fail(env, "INVALID_ARGUMENT", "options must be an object");
    Napi::Object o = info[2].As<Napi::Object>();
    Napi::Value spin = o.Get("spinMicros"), nt = o.Get("ntThreshold");
    if (!spin.IsUndefined()) spinMicros_ = static_cast<uint32_t>(intArg(env, spin, 0, 1000000, "spinMicros"));
    if (!nt.IsUndefined()) nt_ = static_cast<size_t>(intArg(env, nt, 0, kMaxSafeInteger, "ntThreshold"));
  }

  uint8_t* p = view.Data();
  const uint64_t len = view.ByteLength();
  if (len < DM_RING_BYTES || reinterpret_cast<uintptr_t>(p) % 8 != 0) fail(env, "INVALID_ARGUMENT", "ring: too small or not 8-byte aligned");
  ring_ = p;
  const uint32_t entries = *at<uint32_t>(ring_, DM_RING_ENTRIES_OFFSET);
  slots_ = *at<uint32_t>(ring_, DM_RING_SLOTS_OFFSET);
  completions_ = *at<uint32_t>(ring_, DM_RING_COMPLETIONS_OFFSET);
  const uint64_t slotsEnd = slots_ + uint64_t{entries} * DM_DESCRIPTOR_BYTES;
  const uint64_t cbEnd = completions_ + uint64_t{entries} * DM_CB_BYTES;
  if (*at<uint32_t>(ring_, DM_RING_MAGIC_OFFSET) != DM_RING_MAGIC) fail(env, "INVALID_ARGUMENT", "ring: bad magic");
  if (entries == 0 || (entries & (entries - 1)) != 0) fail(env, "INVALID_ARGUMENT", "ring: entries must be a power of two");
  if (slots_ < DM_RING_BYTES || completions_ < DM_RING_BYTES || slots_ % DM_DESCRIPTOR_BYTES != 0 || completions_ % DM_CB_BYTES != 0 ||
      slotsEnd > len || cbEnd > len || (slots_ < cbEnd && completions_ < slotsEnd))
    fail(env, "INVALID_ARGUMENT", "ring: slot or completion array misplaced");
  mask_ = entries - 1;
  ringRef_ = Napi::Persistent(view);

  // Unreferenced until JS calls ref(): an idle engine must not keep the process alive.
  progress_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "datamover-cxl-progress", 0, 1);
  progress_.Unref(env);
  try {
    thread_ = std::thread(&Engine::consume, this);
  } catch (const std::exception& e) {
    progress_.Release();
    fail(env, "ENGINE_START_FAILED", e.what());
  }
  napi_add_env_cleanup_hook(env_, &Engine::onEnvCleanup, this);
  hooked_ = true;
}

Engine::~Engine() { shutdown(false); }

bool Engine::ready(uint64_t r) const {
  const uint64_t w = __atomic_load_n(at<uint64_t>(ring_, DM_RING_WRITE_INDEX_OFFSET), __ATOMIC_ACQUIRE);
  if (static_cast<int64_t>(w - r) <= 0) return false;
  // A slot below write_index whose valid bit is clear is not published yet: wait, never skip.
  const uint32_t* word0 = at<uint32_t>(ring_, slots_ + (r & mask_) * DM_DESCRIPTOR_BYTES);
  return (__atomic_load_n(word0, __ATOMIC_ACQUIRE) & (1u << DM_OPCODE_VALID)) != 0;
}

void Engine::waitForWork(uint64_t r) {
  // Spin briefly (back-to-back submissions are answered without a futex round trip), yielding now
  // and then so an oversubscribed machine's JS thread is not starved; then sleep on the doorbell.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spinMicros_);
  for (unsigned i = 1;; ++i) {
    cpuRelax();
    if (ready(r) || stop_.load(std::memory_order_relaxed)) return;
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() >= deadline) break;
      sched_yield();
    }
  }
  const uint64_t seen = bells_.load();
  sleeping_.store(true);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!ready(r)) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return bells_.load() != seen || stop_.load(); });
  }
  sleeping_.store(false);
}

dm::Outcome Engine::execute(dm::Executor& exec, const dm::Descriptor& in) {
  dm::Descriptor d = in;
  const uint32_t op = in.nop.opcode;
  const uint32_t kind = op & DM_OPCODE_KIND_MASK;
  d.nop.opcode = op & ~kDurable;  // the executor knows only SDXI's flags

  if (kind == DM_OPCODE_COPY) {
    // Two mappings of the same device or file alias at different addresses: compare file offsets.
    const uint64_t n = uint64_t{d.copy.size} + 1;
    Pin a(table_, d.copy.akey0), b(table_, d.copy.akey1);
    if (a.get() != nullptr && b.get() != nullptr && meta_[d.copy.akey0].map && meta_[d.copy.akey1].map &&
        inBounds(*a.get(), d.copy.addr0, n) && inBounds(*b.get(), d.copy.addr1, n) && b->writable && a->dev == b->dev &&
        a->ino == b->ino) {
      const uint64_t x = a->fileOffset + d.copy.addr0, y = b->fileOffset + d.copy.addr1;
      if (x < y + n && y < x + n) return status(DM_STATUS_OVERLAP);
    }
  }
  if ((op & kDurable) == 0) return exec.run(d);

  uint16_t key;
  uint64_t addr, n;
  switch (kind) {
    case DM_OPCODE_COPY: key = d.copy.akey1, addr = d.copy.addr1, n = uint64_t{d.copy.size} + 1; break;
    case DM_OPCODE_FILL: key = d.fill.akey1, addr = d.fill.addr1, n = uint64_t{d.fill.size} + 1; break;
    case DM_OPCODE_WRITE_IMM: key = d.writeImm.akey1, addr = d.writeImm.addr1, n = d.writeImm.width; break;
    default: return status(DM_STATUS_BAD_DESCRIPTOR);  // durable is a flag of writes only
  }
  Pin dst(table_, key);  // held across the write and the flush
  if (dst.get() != nullptr && inBounds(*dst.get(), addr, n) && dst->writable && meta_[key].persist == Persist::None)
    return status(DM_STATUS_NOT_PERSISTENT);  // refused before anything is written
  const dm::Outcome o = exec.run(d);
  if (o.status != DM_STATUS_OK) return o;
  const Persist how = meta_[key].persist;
  if (how == Persist::WriteBack) {
    writeBack(dst->base + addr, n);
  } else if (how == Persist::Msync) {
    if (const int e = syncRange(dst->base + addr, n)) return status(DM_STATUS_IO_ERROR, e);
  }
  durableOps_.fetch_add(1, std::memory_order_relaxed);
  return o;
}

void Engine::settle(dm::Executor& exec, uint64_t r) {
  const uint64_t slot = r & mask_;
  const uint64_t cbOffset = completions_ + slot * DM_CB_BYTES;
  uint8_t* cb = ring_ + cbOffset;
  dm::Descriptor d;
  std::memcpy(d.bytes, ring_ + slots_ + slot * DM_DESCRIPTOR_BYTES, DM_DESCRIPTOR_BYTES);

  dm::Outcome o{DM_STATUS_NOT_RUN, 0, 0};
  const uint64_t csb = d.nop.csb_ptr;
  // Only the slot's own completion block may be named: the engine never writes elsewhere.
  if ((csb & 1) != 0 || (csb & ~uint64_t{0x1f}) != cbOffset) {
    o.status = DM_STATUS_BAD_DESCRIPTOR;
  } else {
    uint32_t expected = DM_CLAIM_PENDING;
    if (__atomic_compare_exchange_n(at<uint32_t>(cb, DM_CB_CLAIM_OFFSET), &expected, DM_CLAIM_CLAIMED, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      const auto t0 = std::chrono::steady_clock::now();
      o = execute(exec, d);
      execNs_.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()),
                        std::memory_order_relaxed);
    }
  }
  __atomic_store_n(at<uint64_t>(cb, DM_CB_RESULT_OFFSET), o.result, __ATOMIC_RELAXED);
  __atomic_store_n(at<uint32_t>(cb, DM_CB_STATUS_OFFSET), o.status, __ATOMIC_RELAXED);
  __atomic_store_n(at<int32_t>(cb, DM_CB_DETAIL_OFFSET), o.detail, __ATOMIC_RELAXED);
  const bool error = o.status != DM_STATUS_OK && o.status != DM_STATUS_NOT_RUN;
  __atomic_store_n(at<uint32_t>(cb, DM_CB_FLAGS_OFFSET), error ? DM_CB_FLAG_ERROR : 0u, __ATOMIC_RELAXED);
  __atomic_store_n(at<uint64_t>(cb, DM_CB_SIGNAL_OFFSET), uint64_t{0}, __ATOMIC_RELEASE);
}

void Engine::consume() {
  dm::Executor exec(table_, nt_);
  uint64_t* readIndex = at<uint64_t>(ring_, DM_RING_READ_INDEX_OFFSET);
  uint32_t* notifyPending = at<uint32_t>(ring_, DM_RING_NOTIFY_PENDING_OFFSET);
  uint64_t r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!ready(r)) {
      waitForWork(r);
      continue;
    }
    settle(exec, r);
    // seq-cst store then exchange: JS clears notify_pending before reading read_index, so either
    // it sees this read_index or we see its cleared flag and notify again (no lost wake-up).
    __atomic_store_n(readIndex, ++r, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(notifyPending, 1u, __ATOMIC_SEQ_CST) == 0) progress_.NonBlockingCall();
  }
}

void Engine::shutdown(bool fromEnvCleanup) {
  if (closed_) return;
  closed_ = true;
  stop_.store(true);
  { std::lock_guard<std::mutex> g(mu_); }  // a consumer between predicate check and wait sees stop_
  cv_.notify_one();
  thread_.join();
  progress_.Release();
  if (hooked_ && !fromEnvCleanup) napi_remove_env_cleanup_hook(env_, &Engine::onEnvCleanup, this);
  hooked_ = false;
  table_.clear();
  for (auto& m : meta_) m = Meta{};  // unmaps mappings no JS handle holds any more
  ringRef_.Reset();
}

uint16_t Engine::freeIndex(Napi::Env env, const Napi::Value& v) {
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, v, 0, 65535, "index"));
  if (registered_[index]) fail(env, "INVALID_ARGUMENT", "region index already registered");
  return index;
}

void Engine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t index = freeIndex(env, info[0]);
  Napi::Uint8Array view = uint8ArrayArg(env, info[1], "view");
  auto r = std::make_unique<dm::Region>();
  r->writable = boolArg(env, info[2], "writable");
  r->base = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  meta_[index] = Meta{};
  if (!table_.add(index, std::move(r))) fail(env, "INVALID_ARGUMENT", "region index already registered");
  registered_[index] = true;
}

void Engine::RegisterDax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t index = freeIndex(env, info[0]);
  Mapping* m = Mapping::from(env, info[1]);
  if (m == nullptr) fail(env, "INVALID_ARGUMENT", "mapping must be a Mapping made by this addon");
  std::shared_ptr<MapState> s = m->state();
  if (!s) fail(env, "INVALID_ARGUMENT", "the mapping was closed");
  const auto offset = static_cast<uint64_t>(intArg(env, info[2], 0, kMaxSafeInteger, "mapOffset"));
  const auto length = static_cast<uint64_t>(intArg(env, info[3], 0, kMaxSafeInteger, "length"));
  const bool writable = boolArg(env, info[4], "writable");
  if (offset > s->length || length > s->length - offset) fail(env, "OUT_OF_BOUNDS", "region runs past the end of its mapping");
  if (writable && !s->writable) fail(env, "ACCESS_DENIED", "a read-only mapping cannot back a writable region");

  auto r = std::make_unique<dm::Region>();
  r->writable = writable;
  r->base = length == 0 ? s->base : s->base + offset;
  r->length = length;
  // Not a file for the executor (it addresses the bytes directly); dev/ino/fileOffset identify
  // the mapped object for this engine's alias check.
  r->dev = static_cast<dev_t>(s->dev);
  r->ino = static_cast<ino_t>(s->ino);
  r->fileOffset = s->fileOffset + offset;
  meta_[index] = Meta{s, s->persist};
  if (!table_.add(index, std::move(r))) {
    meta_[index] = Meta{};
    fail(env, "INVALID_ARGUMENT", "region index already registered");
  }
  registered_[index] = true;
}

void Engine::Deregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  const int removed = table_.remove(index);
  if (removed < 0) fail(env, "REGION_BUSY", "a descriptor naming region " + std::to_string(index) + " is executing");
  if (removed == 0) fail(env, "INVALID_ARGUMENT", "region " + std::to_string(index) + " is not registered");
  registered_[index] = false;
  meta_[index] = Meta{};  // the last reference unmaps (no descriptor can be using it: it was not busy)
}

void Engine::Doorbell(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  bells_.fetch_add(1);
  if (sleeping_.load()) {
    { std::lock_guard<std::mutex> g(mu_); }
    cv_.notify_one();
  }
}

void Engine::Ref(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  progress_.Ref(info.Env());
}

void Engine::Unref(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  progress_.Unref(info.Env());
}

}  // namespace cxl
