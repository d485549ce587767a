// The Engine class: one consumer thread per ring. It executes descriptors strictly in ring
// order, one at a time, so every descriptor observes all effects of earlier ones; the fence bit
// therefore needs no extra handling.
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <datamover/napi_args.h>

#include "executor.h"
#include "memops.h"

namespace dm {
namespace {

template <class T>
T* at(uint8_t* base, uint64_t offset) {
  return reinterpret_cast<T*>(base + offset);
}

inline void cpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

}  // namespace

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&Engine::RegisterHost>("registerHost"),
                           InstanceMethod<&Engine::RegisterFile>("registerFile"),
                           InstanceMethod<&Engine::Deregister>("deregister"),
                           InstanceMethod<&Engine::Doorbell>("doorbell"),
                           InstanceMethod<&Engine::Ref>("ref"),
                           InstanceMethod<&Engine::Unref>("unref"),
                           InstanceMethod<&Engine::Close>("close"),
                           StaticMethod<&Engine::Info>("info"),
                           StaticMethod<&Engine::AbiOffsets>("abiOffsets"),
                       });
  }

  explicit Engine(const Napi::CallbackInfo& info);
  ~Engine() override { shutdown(false); }

 private:
  void RegisterHost(const Napi::CallbackInfo& info);
  void RegisterFile(const Napi::CallbackInfo& info);
  void Deregister(const Napi::CallbackInfo& info);
  void Doorbell(const Napi::CallbackInfo& info);
  void Ref(const Napi::CallbackInfo& info);
  void Unref(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo&) { shutdown(false); }
  static Napi::Value Info(const Napi::CallbackInfo& info);
  static Napi::Value AbiOffsets(const Napi::CallbackInfo& info);

  void checkOpen(Napi::Env env) const {
    if (closed_) fail(env, "ENGINE_CLOSED", "the engine is closed");
  }
  uint64_t* header64(uint32_t offset) const { return at<uint64_t>(ring_, offset); }
  uint32_t* header32(uint32_t offset) const { return at<uint32_t>(ring_, offset); }
  bool ready(uint64_t r) const;
  void waitForWork(uint64_t r);
  void settle(Executor& exec, uint64_t r);
  void consume();
  void shutdown(bool fromEnvCleanup);
  static void onEnvCleanup(void* self) { static_cast<Engine*>(self)->shutdown(true); }

  napi_env env_;
  uint8_t* ring_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t slots_ = 0, completions_ = 0;
  uint32_t spinMicros_ = 50;
  size_t nt_ = cpu().ntThreshold;
  Napi::Reference<Napi::Uint8Array> ringRef_;  // keeps the ring's SharedArrayBuffer alive
  Napi::ThreadSafeFunction progress_;
  RegionTable table_;
  std::thread thread_;
  // Sleep/wake: doorbell() bumps bells_ and, only if the consumer announced it is going to sleep,
  // takes the mutex to notify. The seq-cst store to sleeping_, fence, and re-check of the ring on
  // the consumer side pair with the producer's write_index store and the bells_ RMW (Dekker).
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> bells_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
  bool closed_ = false;
  bool hooked_ = false;
};

Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  Napi::Uint8Array view = uint8ArrayArg(env, info[0], "ring");
  if (!info[1].IsFunction()) fail(env, "INVALID_ARGUMENT", "onProgress must be a function");
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsObject()) fail(env, "INVALID_ARGUMENT", "options must be an object");
    Napi::Object o = info[2].As<Napi::Object>();
    Napi::Value spin = o.Get("spinMicros"), nt = o.Get("ntThreshold");
    if (!spin.IsUndefined()) spinMicros_ = static_cast<uint32_t>(intArg(env, spin, 0, 1000000, "spinMicros"));
    if (!nt.IsUndefined()) nt_ = static_cast<size_t>(intArg(env, nt, 0, kMaxSafeInteger, "ntThreshold"));
  }

  uint8_t* p = view.Data();
  const uint64_t len = view.ByteLength();
  if (len < DM_RING_BYTES || reinterpret_cast<uintptr_t>(p) % 8 != 0)
    fail(env, "INVALID_ARGUMENT", "ring: too small or not 8-byte aligned");
  ring_ = p;
  const uint32_t entries = *header32(DM_RING_ENTRIES_OFFSET);
  slots_ = *header32(DM_RING_SLOTS_OFFSET);
  completions_ = *header32(DM_RING_COMPLETIONS_OFFSET);
  const uint64_t slotsEnd = slots_ + uint64_t{entries} * DM_DESCRIPTOR_BYTES;
  const uint64_t cbEnd = completions_ + uint64_t{entries} * DM_CB_BYTES;
  if (*header32(DM_RING_MAGIC_OFFSET) != DM_RING_MAGIC) fail(env, "INVALID_ARGUMENT", "ring: bad magic");
  if (entries == 0 || (entries & (entries - 1)) != 0) fail(env, "INVALID_ARGUMENT", "ring: entries must be a power of two");
  if (slots_ < DM_RING_BYTES || completions_ < DM_RING_BYTES || slots_ % DM_DESCRIPTOR_BYTES != 0 ||
      completions_ % DM_CB_BYTES != 0 || slotsEnd > len || cbEnd > len || (slots_ < cbEnd && completions_ < slotsEnd))
    fail(env, "INVALID_ARGUMENT", "ring: slot or completion array misplaced");
  mask_ = entries - 1;
  ringRef_ = Napi::Persistent(view);

  // Unreferenced until JS calls ref(): an idle engine must not keep the process alive.
  progress_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "datamover-soft-progress", 0, 1);
  progress_.Unref(env);
  try {
    thread_ = std::thread(&Engine::consume, this);
  } catch (const std::exception& e) {
    progress_.Release();
    fail(env, "ENGINE_START_FAILED", e.what());
  }
  // Process exit must not leave the thread running over freed memory.
  napi_add_env_cleanup_hook(env_, &Engine::onEnvCleanup, this);
  hooked_ = true;
}

bool Engine::ready(uint64_t r) const {
  const uint64_t w = __atomic_load_n(header64(DM_RING_WRITE_INDEX_OFFSET), __ATOMIC_ACQUIRE);
  if (static_cast<int64_t>(w - r) <= 0) return false;
  // A slot below write_index whose valid bit is clear is not published yet: wait, never skip.
  const uint32_t* word0 = at<uint32_t>(ring_, slots_ + (r & mask_) * DM_DESCRIPTOR_BYTES);
  return (__atomic_load_n(word0, __ATOMIC_ACQUIRE) & (1u << DM_OPCODE_VALID)) != 0;
}

void Engine::waitForWork(uint64_t r) {
  // Spin first: a producer submitting back-to-back is answered without a futex round trip. The
  // periodic sched_yield() hands the CPU over when cores are oversubscribed (2 vCPUs here): a
  // pure pause loop measurably starved the JS thread it was waiting for.
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

void Engine::settle(Executor& exec, uint64_t r) {
  const uint64_t slot = r & mask_;
  const uint64_t cbOffset = completions_ + slot * DM_CB_BYTES;
  uint8_t* cb = ring_ + cbOffset;
  Descriptor d;
  std::memcpy(d.bytes, ring_ + slots_ + slot * DM_DESCRIPTOR_BYTES, DM_DESCRIPTOR_BYTES);

  Outcome o{DM_STATUS_NOT_RUN, 0, 0};
  const uint64_t csb = d.nop.csb_ptr;
  // Only the slot's own completion block may be named: the engine never writes elsewhere.
  if ((csb & 1) != 0 || (csb & ~uint64_t{0x1f}) != cbOffset) {
    o.status = DM_STATUS_BAD_DESCRIPTOR;
  } else {
    uint32_t expected = DM_CLAIM_PENDING;
    if (__atomic_compare_exchange_n(at<uint32_t>(cb, DM_CB_CLAIM_OFFSET), &expected, DM_CLAIM_CLAIMED, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      o = exec.run(d);
  }
  __atomic_store_n(at<uint64_t>(cb, DM_CB_RESULT_OFFSET), o.result, __ATOMIC_RELAXED);
  __atomic_store_n(at<uint32_t>(cb, DM_CB_STATUS_OFFSET), o.status, __ATOMIC_RELAXED);
  __atomic_store_n(at<int32_t>(cb, DM_CB_DETAIL_OFFSET), o.detail, __ATOMIC_RELAXED);
  // `er` marks failures; a descriptor the producer cancelled (NOT_RUN) did not fail (as the TS oracle).
  const bool error = o.status != DM_STATUS_OK && o.status != DM_STATUS_NOT_RUN;
  __atomic_store_n(at<uint32_t>(cb, DM_CB_FLAGS_OFFSET), error ? DM_CB_FLAG_ERROR : 0u, __ATOMIC_RELAXED);
  __atomic_store_n(at<uint64_t>(cb, DM_CB_SIGNAL_OFFSET), uint64_t{0}, __ATOMIC_RELEASE);
}

void Engine::consume() {
  Executor exec(table_, nt_);
  uint64_t* readIndex = header64(DM_RING_READ_INDEX_OFFSET);
  uint32_t* notifyPending = header32(DM_RING_NOTIFY_PENDING_OFFSET);
  uint64_t r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!ready(r)) {
      waitForWork(r);
      continue;
    }
    settle(exec, r);
    // seq-cst store then exchange: JS clears notify_pending before reading read_index, so either
    // it sees this read_index or we see its cleared flag and call it again (no lost wakeup).
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
  ringRef_.Reset();
}

void Engine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  Napi::Uint8Array view = uint8ArrayArg(env, info[1], "view");
  auto r = std::make_unique<Region>();
  r->writable = boolArg(env, info[2], "writable");
  r->base = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  if (!table_.add(index, std::move(r))) fail(env, "INVALID_ARGUMENT", "region index already registered");
}

void Engine::RegisterFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  const int fd = static_cast<int>(intArg(env, info[1], 0, INT_MAX, "fd"));
  const int directFd = static_cast<int>(intArg(env, info[2], -1, INT_MAX, "directFd"));
  const auto fileOffset = static_cast<uint64_t>(intArg(env, info[3], 0, kMaxSafeInteger, "fileOffset"));
  const auto length = static_cast<uint64_t>(intArg(env, info[4], 0, kMaxSafeInteger, "length"));
  const bool writable = boolArg(env, info[5], "writable");

  auto r = std::make_unique<Region>();
  r->isFile = true;
  r->writable = writable;
  r->fileOffset = fileOffset;
  r->length = length;
  // Validates one descriptor and dups it into the region (so the region owns its own fds).
  auto adopt = [&](int f, const char* what) {
    struct stat st;
    const int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fstat(f, &st) != 0) fail(env, "INVALID_ARGUMENT", std::string(what) + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
      fail(env, "INVALID_ARGUMENT", std::string(what) + " is not a regular file or block device");
    // pwrite on an O_APPEND descriptor ignores the offset on Linux.
    if (writable && ((fl & O_ACCMODE) == O_RDONLY || (fl & O_APPEND) != 0))
      fail(env, "INVALID_ARGUMENT", std::string(what) + " is read-only or O_APPEND but the region is writable");
    if (r->fd >= 0 && (st.st_dev != r->dev || st.st_ino != r->ino))
      fail(env, "INVALID_ARGUMENT", "directFd names a different file than fd");
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    const int dup = fcntl(f, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) fail(env, "INVALID_ARGUMENT", std::string(what) + ": dup: " + std::strerror(errno));
    return dup;
  };
  r->fd = adopt(fd, "fd");
  if (directFd >= 0) r->directFd = adopt(directFd, "directFd");
  if (!table_.add(index, std::move(r))) fail(env, "INVALID_ARGUMENT", "region index already registered");
}

void Engine::Deregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  const int removed = table_.remove(index);
  if (removed < 0) fail(env, "REGION_BUSY", "a descriptor naming region " + std::to_string(index) + " is executing");
  if (removed == 0) fail(env, "INVALID_ARGUMENT", "region " + std::to_string(index) + " is not registered");
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

Napi::Value Engine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuInfo& c = cpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(c.ntThreshold)));
  o.Set("llcBytes", Napi::Number::New(env, static_cast<double>(c.llcBytes)));
  o.Set("crc32c", Napi::String::New(env, c.sse42 ? "sse4.2" : "table"));
  o.Set("avx2", Napi::Boolean::New(env, c.avx2));
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(c.pageSize)));
  return o;
}

Napi::Value Engine::AbiOffsets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = [&](std::initializer_list<std::pair<const char*, size_t>> fields) {
    Napi::Object o = Napi::Object::New(env);
    for (const auto& [name, offset] : fields) o.Set(name, Napi::Number::New(env, static_cast<double>(offset)));
    return o;
  };
#define F(type, field, name) {name, offsetof(type, field)}
  Napi::Object o = Napi::Object::New(env);
  o.Set("copy", obj({F(dm_desc_copy_t, size, "size"), F(dm_desc_copy_t, attr, "attr"), F(dm_desc_copy_t, akey0, "akey0"),
                     F(dm_desc_copy_t, akey1, "akey1"), F(dm_desc_copy_t, addr0, "addr0"),
                     F(dm_desc_copy_t, addr1, "addr1"), F(dm_desc_copy_t, csb_ptr, "csb_ptr")}));
  o.Set("fill", obj({F(dm_desc_fill_t, size, "size"), F(dm_desc_fill_t, pattern_bytes, "patternBytes"),
                     F(dm_desc_fill_t, akey1, "akey1"), F(dm_desc_fill_t, addr1, "addr1"),
                     F(dm_desc_fill_t, pattern, "pattern"), F(dm_desc_fill_t, csb_ptr, "csb_ptr")}));
  o.Set("compare", obj({F(dm_desc_compare_t, size, "size"), F(dm_desc_compare_t, akey0, "akey0"),
                        F(dm_desc_compare_t, akey1, "akey1"), F(dm_desc_compare_t, addr0, "addr0"),
                        F(dm_desc_compare_t, addr1, "addr1"), F(dm_desc_compare_t, csb_ptr, "csb_ptr")}));
  o.Set("crc32c", obj({F(dm_desc_crc32c_t, size, "size"), F(dm_desc_crc32c_t, akey0, "akey0"),
                       F(dm_desc_crc32c_t, addr0, "addr0"), F(dm_desc_crc32c_t, seed, "seed"),
                       F(dm_desc_crc32c_t, csb_ptr, "csb_ptr")}));
  o.Set("writeImm", obj({F(dm_desc_write_imm_t, width, "width"), F(dm_desc_write_imm_t, akey1, "akey1"),
                         F(dm_desc_write_imm_t, addr1, "addr1"), F(dm_desc_write_imm_t, value, "value"),
                         F(dm_desc_write_imm_t, csb_ptr, "csb_ptr")}));
  o.Set("nop", obj({F(dm_desc_nop_t, csb_ptr, "csb_ptr")}));
  o.Set("completion", obj({F(dm_completion_t, signal, "signal"), F(dm_completion_t, flags, "flags"),
                           F(dm_completion_t, claim, "claim"), F(dm_completion_t, result, "result"),
                           F(dm_completion_t, status, "status"), F(dm_completion_t, detail, "detail")}));
#undef F
  o.Set("sizes", obj({{"descriptor", sizeof(dm_desc_copy_t)}, {"completion", sizeof(dm_completion_t)}}));
  return o;
}

// allocateAligned(size, alignment): zeroed memory at an `alignment`-aligned address (a power of
// two) as an external ArrayBuffer, unmapped when collected. Fresh anonymous pages are already
// zero, so a large buffer costs no up-front memset; page alignment makes host↔file copies
// eligible for O_DIRECT.
Napi::Value AllocateAligned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto size = static_cast<size_t>(intArg(env, info[0], 0, kMaxSafeInteger, "size"));
  const auto alignment = static_cast<size_t>(intArg(env, info[1], 1, int64_t{1} << 30, "alignment"));
  if ((alignment & (alignment - 1)) != 0) fail(env, "INVALID_ARGUMENT", "alignment must be a power of two");
  const auto page = static_cast<size_t>(cpu().pageSize);
  struct Mapping {
    void* base;
    size_t length;
  };
  const size_t length = ((std::max<size_t>(size, 1) + page - 1) & ~(page - 1)) + (alignment > page ? alignment : 0);
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) fail(env, "OUT_OF_MEMORY", std::string("allocateAligned: ") + std::strerror(errno));
  const uintptr_t p = (reinterpret_cast<uintptr_t>(base) + alignment - 1) & ~(uintptr_t{alignment} - 1);
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(length));
  return Napi::ArrayBuffer::New(
      env, reinterpret_cast<void*>(p), size,
      [](Napi::Env e, void*, Mapping* m) {
        Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(m->length));
        munmap(m->base, m->length);
        delete m;
      },
      new Mapping{base, length});
}

}  // namespace dm

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", dm::Engine::Define(env));
  exports.Set("allocateAligned", Napi::Function::New<dm::AllocateAligned>(env, "allocateAligned"));
  return exports;
}

NODE_API_MODULE(datamover_soft, Init)
