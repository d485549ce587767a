// The host engine: the kit's ring consumer (datamover/ring_consumer.h) over the kit's executor,
// with host memory and files as regions — the soft backend's native engine, and the CPU path of
// any other backend that needs one (sdxi's). Declared in host_engine.h.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>

#include <datamover/ring_consumer.h>

#include "executor.h"
#include "host_engine.h"
#include "memops.h"
#include "stripes.h"

namespace dm {

class HostEngine : public Napi::ObjectWrap<HostEngine>, public RingConsumer, public LiveEngine {
 public:
  static Napi::Function Define(Napi::Env env, const char* name) {
    return defineEngine<HostEngine>(env, name,
                                {
                                    InstanceMethod<&HostEngine::RegisterHost>("registerHost"),
                                    InstanceMethod<&HostEngine::RegisterFile>("registerFile"),
                                    InstanceMethod<&HostEngine::Deregister>("deregister"),
                                    InstanceMethod<&HostEngine::Stats>("stats"),
                                    InstanceMethod<&HostEngine::RunInline>("runInline"),
                                    StaticMethod<&HostEngine::Info>("info"),
                                    StaticMethod<&HostEngine::AbiOffsets>("abiOffsets"),
                                });
  }

  explicit HostEngine(const Napi::CallbackInfo& info);
  ~HostEngine() override { shutdown(false); }

 private:
  void RegisterHost(const Napi::CallbackInfo& info);
  void RegisterFile(const Napi::CallbackInfo& info);
  void Deregister(const Napi::CallbackInfo& info) { deregister(info.Env(), table_, info[0]); }
  Napi::Value Stats(const Napi::CallbackInfo& info) { return consumerStats(info.Env()); }
  // runInline(count): the `count` slots written after read_index run now on the JS thread by the
  // same executor (RingConsumer::runInline); the number settled, or -1 when the consumer holds the ring.
  Napi::Value RunInline(const Napi::CallbackInfo& info) {
    Executor exec(table_, nt_);
    const auto count = static_cast<uint64_t>(intArg(info.Env(), info[0], 0, kMaxSafeInteger, "count"));
    const int64_t n = runInline(info.Env(), count, [&](const Descriptor& d) { return exec.run(d); });
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }
  static Napi::Value Info(const Napi::CallbackInfo& info);
  static Napi::Value AbiOffsets(const Napi::CallbackInfo& info);

  void consume() override {
    Executor exec(table_, nt_);
    serve([&](const Descriptor& d) { return exec.run(d); });
  }
  void release() override {
    removeLiveEngine(this);
    table_.clear();
  }
  bool holds(const void* p, size_t n) override { return table_.holds(p, n); }
  void stopForFree() override { shutdown(false); }

  size_t nt_ = cpu().ntThreshold;
  RegionTable table_;
};

HostEngine::HostEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostEngine>(info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array ring = ringArg(info);
  const Napi::Object options = optionsArg(info, true);
  const uint32_t spinMicros = spinMicrosOption(env, options);
  const Napi::Value nt = options.Get("ntThreshold");
  if (!nt.IsUndefined()) nt_ = static_cast<size_t>(intArg(env, nt, 0, kMaxSafeInteger, "ntThreshold"));
  attach(env, ring);
  start(env, info[1], "datamover-host-engine-progress", spinMicros);
  addLiveEngine(this);
}

void HostEngine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  Napi::Uint8Array view = uint8ArrayArg(env, info[1], "view");
  auto r = std::make_unique<Region>();
  r->writable = boolArg(env, info[2], "writable");
  r->base = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  if (!table_.add(index, std::move(r))) fail(env, "INVALID_ARGUMENT", "region index already registered");
}

void HostEngine::RegisterFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
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

Napi::Value HostEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuInfo& c = cpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(c.ntThreshold)));
  o.Set("llcBytes", Napi::Number::New(env, static_cast<double>(c.llcBytes)));
  o.Set("crc32c", Napi::String::New(env, c.sse42 ? "sse4.2" : "table"));
  o.Set("avx2", Napi::Boolean::New(env, c.avx2));
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(c.pageSize)));
  o.Set("copyThreads", Napi::Number::New(env, stripeThreads()));
  return o;
}

Napi::Value HostEngine::AbiOffsets(const Napi::CallbackInfo& info) {
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
        stopEnginesHolding(m->base, m->length);  // at teardown a copy may still run over it
        Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(m->length));
        munmap(m->base, m->length);
        delete m;
      },
      new Mapping{base, length});
}

Napi::Function defineHostEngine(Napi::Env env, const char* name) { return HostEngine::Define(env, name); }

}  // namespace dm
