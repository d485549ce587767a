#include "mapping.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

namespace cxl {
namespace {

constexpr long kTmpfsMagic = 0x01021994;
constexpr long kRamfsMagic = static_cast<long>(0x858458f6);
constexpr long kHugetlbfsMagic = static_cast<long>(0x958458f6);

// A u64 from a sysfs attribute ("2097152\n" or "0x200000\n"); false when absent or unparsable.
bool readU64(const std::string& path, uint64_t* out) {
  std::ifstream f(path);
  std::string s;
  if (!(f >> s)) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (errno != 0 || end == s.c_str() || *end != 0) return false;
  *out = v;
  return true;
}

// Closes a descriptor on every path out of the constructor.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

[[noreturn]] void failErrno(Napi::Env env, const std::string& what, int err) {
  const char* code = (err == EACCES || err == EPERM || err == EROFS) ? "ACCESS_DENIED" : "IO_ERROR";
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

}  // namespace

MapState::~MapState() {
  if (base != nullptr) munmap(base, length);
}

Napi::Function Mapping::Define(Napi::Env env) {
  return DefineClass(env, "Mapping",
                     {InstanceMethod<&Mapping::Describe>("describe"), InstanceMethod<&Mapping::Close>("close")});
}

Mapping* Mapping::from(Napi::Env env, const Napi::Value& v) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr || !v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.InstanceOf(data->mappingClass.Value())) return nullptr;
  return Mapping::Unwrap(o);
}

Mapping::Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) fail(env, "INVALID_ARGUMENT", "path must be a string");
  path_ = info[0].As<Napi::String>().Utf8Value();
  offset_ = static_cast<uint64_t>(intArg(env, info[1], 0, kMaxSafeInteger, "offset"));
  length_ = static_cast<uint64_t>(intArg(env, info[2], 0, kMaxSafeInteger, "length"));
  writable_ = boolArg(env, info[3], "writable");
  const int persistence = static_cast<int>(intArg(env, info[4], -1, 1, "persistence"));
  const long page = sysconf(_SC_PAGESIZE);

  Fd f{open(path_.c_str(), (writable_ ? O_RDWR : O_RDONLY) | O_CLOEXEC)};
  if (f.fd < 0) failErrno(env, "open " + path_, errno);
  struct stat st;
  if (fstat(f.fd, &st) != 0) failErrno(env, "fstat " + path_, errno);

  bool shmem = false;
  if (S_ISCHR(st.st_mode)) {
    // A device-DAX device: size and alignment from its sysfs node (the kernel refuses mappings
    // that are not aligned to `align`, and faults past `size` raise SIGBUS, so both are checked).
    const std::string sys = "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
    if (!readU64(sys + "/size", &objectSize_))
      fail(env, "INVALID_ARGUMENT", path_ + " is a character device but not a device-DAX device (no " + sys + "/size)");
    if (!readU64(sys + "/align", &alignment_) && !readU64(sys + "/../dax_region/align", &alignment_))
      alignment_ = uint64_t{2} << 20;  // the device-DAX default before the attribute existed
    via_ = "device-dax";
    dev_ = st.st_rdev;
    ino_ = 0;
    if (persistence == 1) {
      persist_ = Persist::WriteBack;
    } else if (persistence == -1) {
      // Persistent memory reaches device-DAX through libnvdimm (an NVDIMM or a CXL pmem region
      // behind the cxl nvdimm bridge): its sysfs path runs through an nd bus. hmem and CXL ram
      // regions do not, and are volatile.
      char real[PATH_MAX];
      if (realpath(sys.c_str(), real) != nullptr && std::strstr(real, "/ndbus") != nullptr) persist_ = Persist::WriteBack;
    }
  } else if (S_ISREG(st.st_mode)) {
    struct statfs sf;
    if (fstatfs(f.fd, &sf) != 0) failErrno(env, "fstatfs " + path_, errno);
    const long type = static_cast<long>(sf.f_type);
    shmem = type == kTmpfsMagic || type == kRamfsMagic || type == kHugetlbfsMagic;
    objectSize_ = static_cast<uint64_t>(st.st_size);
    alignment_ = static_cast<uint64_t>(page);
    if (type == kHugetlbfsMagic && st.st_blksize > page) alignment_ = static_cast<uint64_t>(st.st_blksize);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    via_ = shmem ? "shmem" : "page-cache";
  } else {
    fail(env, "INVALID_ARGUMENT", path_ + " is neither a device-DAX character device nor a regular file");
  }
  if ((alignment_ & (alignment_ - 1)) != 0 || alignment_ < static_cast<uint64_t>(page))
    fail(env, "INVALID_ARGUMENT", path_ + ": unusable alignment " + std::to_string(alignment_));
  if (offset_ > objectSize_ || length_ > objectSize_ - offset_)
    fail(env, "OUT_OF_BOUNDS", "[" + std::to_string(offset_) + ", " + std::to_string(offset_ + length_) + ") runs past the end of " + path_ + " (" +
                                   std::to_string(objectSize_) + " bytes)");

  auto state = std::make_shared<MapState>();
  state->writable = writable_;
  state->dev = dev_;
  state->ino = ino_;
  const uint64_t start = offset_ & ~(alignment_ - 1);
  mapOffset_ = offset_ - start;
  state->fileOffset = start;
  if (length_ > 0) {
    const uint64_t end = (offset_ + length_ + alignment_ - 1) & ~(alignment_ - 1);
    const size_t len = static_cast<size_t>(end - start);
    const int prot = PROT_READ | (writable_ ? PROT_WRITE : 0);
    void* p = MAP_FAILED;
    if (S_ISREG(st.st_mode) && !shmem && writable_) {
      // MAP_SYNC succeeds only on a DAX filesystem: page faults then leave the file's metadata
      // durable, so cache write-back alone makes data durable. Elsewhere it fails (EOPNOTSUPP).
      p = mmap(nullptr, len, prot, MAP_SHARED_VALIDATE | MAP_SYNC, f.fd, static_cast<off_t>(start));
      if (p != MAP_FAILED) {
        mapSync_ = true;
        via_ = "fs-dax";
      }
    }
    if (p == MAP_FAILED) p = mmap(nullptr, len, prot, MAP_SHARED, f.fd, static_cast<off_t>(start));
    if (p == MAP_FAILED) failErrno(env, "mmap " + path_, errno);
    state->base = static_cast<uint8_t*>(p);
    state->length = len;
  }
  if (S_ISREG(st.st_mode) && !mapSync_ && !shmem) {
    // A read-only mapping cannot ask for MAP_SYNC; say fs-dax when the file is DAX all the same.
    struct statx sx;
    if (statx(f.fd, "", AT_EMPTY_PATH, 0, &sx) == 0 && (sx.stx_attributes & STATX_ATTR_DAX) != 0) via_ = "fs-dax";
    persist_ = via_ == "fs-dax" && !writable_ ? Persist::WriteBack : Persist::Msync;
  } else if (mapSync_) {
    persist_ = Persist::WriteBack;
  }
  if (persistence == 0 || shmem) persist_ = Persist::None;
  state->persist = persist_;
  state_ = std::move(state);
}

Napi::Value Mapping::Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  o.Set("path", Napi::String::New(env, path_));
  o.Set("via", Napi::String::New(env, via_));
  num("offset", offset_);
  num("length", length_);
  num("mapOffset", mapOffset_);
  num("mapLength", state_ ? state_->length : 0);
  num("alignment", alignment_);
  num("size", objectSize_);
  num("dev", dev_);
  num("ino", ino_);
  o.Set("writable", Napi::Boolean::New(env, writable_));
  o.Set("persistent", Napi::Boolean::New(env, persist_ != Persist::None));
  o.Set("persistence", Napi::String::New(env, persist_ == Persist::WriteBack ? "cache-writeback" : persist_ == Persist::Msync ? "msync" : "none"));
  o.Set("mapSync", Napi::Boolean::New(env, mapSync_));
  o.Set("open", Napi::Boolean::New(env, static_cast<bool>(state_)));
  return o;
}

void Mapping::Close(const Napi::CallbackInfo&) { state_.reset(); }

}  // namespace cxl
