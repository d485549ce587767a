#include "executor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

namespace gds {

using namespace gdsabi;
using dm::check;
using dm::fileIo;
using dm::Io;
using dm::rangesOverlap;
using Pin = dm::Pin<Region>;

const char* const kPathNames[5] = {"none", "direct", "compat", "bounce", "cuda"};
const char* const kReasonNames[7] = {"none",
                                     "unaligned-file-offset",
                                     "unaligned-length",
                                     "unaligned-gpu-address",
                                     "no-odirect-descriptor",
                                     "cufile-handle-refused",
                                     "batch-entry-failed"};

uint64_t nowNanos() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

// ---- memory and regions ----

namespace {
std::mutex& ownedMu() {
  static std::mutex m;
  return m;
}
std::map<uintptr_t, std::weak_ptr<DeviceMemory>>& ownedIndex() {
  static std::map<uintptr_t, std::weak_ptr<DeviceMemory>> m;  // start -> allocation
  return m;
}
}  // namespace

void rememberOwned(const std::shared_ptr<DeviceMemory>& m) {
  std::lock_guard<std::mutex> g(ownedMu());
  ownedIndex()[m->start] = m;
}

std::shared_ptr<DeviceMemory> findOwned(uintptr_t p, size_t n) {
  std::lock_guard<std::mutex> g(ownedMu());
  auto& idx = ownedIndex();
  auto it = idx.upper_bound(p);
  if (it == idx.begin()) return nullptr;
  --it;
  std::shared_ptr<DeviceMemory> m = it->second.lock();
  if (!m || p < m->start || n > m->size || p - m->start > m->size - n) return nullptr;
  return m;
}

DeviceMemory::~DeviceMemory() {
  if (owned) {
    std::lock_guard<std::mutex> g(ownedMu());
    auto it = ownedIndex().find(start);
    if (it != ownedIndex().end() && it->second.expired()) ownedIndex().erase(it);
  }
  if (owned && api != nullptr && base != 0) {
    api->cudaSetDevice(device);
    api->cudaFree(reinterpret_cast<void*>(base));
  }
}

Region::~Region() {
  if (api != nullptr) {
    if (fh != nullptr) api->handleDeregister(fh);
    if (bufRegistered) {
      api->cudaSetDevice(device);
      api->bufDeregister(reinterpret_cast<const void*>(gpu));
    }
    if (pinned && api->cudaHostUnregister != nullptr) api->cudaHostUnregister(host);
  }
  if (fd >= 0) close(fd);
  if (directFd >= 0) close(directFd);
  // `mem` goes last: an owned allocation is freed when its final reference drops.
}

// ---- transfer log ----

void TransferLog::push(TransferRecord r) {
  std::lock_guard<std::mutex> g(mu_);
  if (ring_.size() < kCapacity) ring_.push_back(r);
  else ring_[next_ % kCapacity] = r;
  ++next_;
}

std::vector<TransferRecord> TransferLog::snapshot() {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<TransferRecord> out;
  out.reserve(ring_.size());
  const size_t start = ring_.size() < kCapacity ? 0 : next_ % kCapacity;
  for (size_t i = 0; i < ring_.size(); ++i) out.push_back(ring_[(start + i) % ring_.size()]);
  return out;
}

// ---- I/O pool ----

IoPool::~IoPool() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void IoPool::run(size_t count, const std::function<void(size_t)>& fn) {
  if (count <= 1 || want_ <= 1) {
    for (size_t i = 0; i < count; ++i) fn(i);
    return;
  }
  std::unique_lock<std::mutex> lk(mu_);
  if (threads_.empty()) {
    try {
      for (unsigned i = 1; i < want_; ++i) threads_.emplace_back(&IoPool::worker, this);
    } catch (const std::exception&) {
      // fewer helpers than asked: the calling thread still runs every chunk
    }
  }
  job_ = &fn;
  count_ = count;
  next_ = 0;
  finished_ = 0;
  ++generation_;
  cv_.notify_all();
  while (next_ < count_) {
    const size_t i = next_++;
    lk.unlock();
    fn(i);
    lk.lock();
    ++finished_;
  }
  done_.wait(lk, [&] { return finished_ == count_; });
  job_ = nullptr;
}

void IoPool::worker() {
  std::unique_lock<std::mutex> lk(mu_);
  uint64_t seen = 0;
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
    if (stop_) return;
    seen = generation_;
    while (job_ != nullptr && next_ < count_) {
      const size_t i = next_++;
      const auto* f = job_;
      lk.unlock();
      (*f)(i);
      lk.lock();
      if (++finished_ == count_) done_.notify_all();
    }
  }
}

// ---- executor ----

namespace {

Outcome status(uint32_t s) { return Outcome{s, 0, 0}; }
Outcome ok() { return Outcome{DM_STATUS_OK, 0, 0}; }

// Makes `device` current on this thread with its primary context created (cuFile's calls need a
// current context; CUDA 11's cudaSetDevice alone does not create one, cudaFree(nullptr) does).
int bindDevice(const Api& api, int device) {
  thread_local int bound = -1;
  int e = api.cudaSetDevice(device);
  if (e == cudart::kSuccess && bound != device) {
    e = api.cudaFree(nullptr);
    if (e == cudart::kSuccess) bound = device;
  }
  return e;
}

}  // namespace

Executor::Executor(const Api& api, RegionTable& table, const Config& config, Stats& stats, TransferLog& log)
    : api_(api), table_(table), config_(config), stats_(stats), log_(log), pool_(config.ioThreads) {
  config_.bounceBytes = std::max<uint64_t>(kAlign, config_.bounceBytes & ~(kAlign - 1));
  config_.chunkBytes = std::max<uint64_t>(kAlign, config_.chunkBytes & ~(kAlign - 1));
}

Executor::~Executor() {
  for (auto& [device, s] : streams_) {
    api_.cudaSetDevice(device);
    api_.cudaStreamDestroy(s);
  }
  if (staging_ != nullptr) {
    if (stagingPinned_) api_.cudaFreeHost(staging_);
    else std::free(staging_);
  }
}

Outcome Executor::cuda(int err) {
  api_.cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  return Outcome{kStatusCudart, 0, err};
}

bool Executor::stream(int device, cudart::Stream* out, int* err) {
  *err = api_.cudaSetDevice(device);
  if (*err != cudart::kSuccess) return false;
  for (auto& [d, s] : streams_) {
    if (d == device) {
      *out = s;
      return true;
    }
  }
  cudart::Stream s = nullptr;
  *err = api_.cudaStreamCreateWithFlags(&s, cudart::kStreamNonBlocking);
  if (*err != cudart::kSuccess) return false;
  streams_.emplace_back(device, s);
  *out = s;
  return true;
}

uint8_t* Executor::staging(int* err) {
  *err = 0;
  if (staging_ != nullptr) return staging_;
  void* p = nullptr;
  if (api_.cudaMallocHost(&p, config_.bounceBytes) == cudart::kSuccess && p != nullptr) {
    staging_ = static_cast<uint8_t*>(p);
    stagingPinned_ = true;
  } else {
    api_.cudaGetLastError();
    staging_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, config_.bounceBytes));  // pageable fallback
  }
  return staging_;
}

uint8_t Executor::reasonFor(const Region& file, const Region& gpu, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n) const {
  if (file.fh == nullptr) return file.noCufile != kReasonNone ? file.noCufile : static_cast<uint8_t>(kReasonNoCufileHandle);
  if (((file.fileOffset + fileAddr) & (kAlign - 1)) != 0) return kReasonUnalignedFileOffset;
  if ((n & (kAlign - 1)) != 0) return kReasonUnalignedLength;
  if (((gpu.gpu + gpuAddr) & (kAlign - 1)) != 0) return kReasonUnalignedGpuAddress;
  return kReasonNone;
}

void Executor::record(TransferRecord& rec, const Outcome& o, uint64_t t0) {
  rec.seq = ++seq_;
  rec.status = o.status;
  rec.detail = o.detail;
  rec.nanos = nowNanos() - t0;
  if (o.status == DM_STATUS_OK) {
    stats_.transfers[rec.path]++;
    stats_.bytes[rec.path] += rec.bytes;
  } else {
    stats_.failed++;
  }
  log_.push(rec);
}

Outcome Executor::run(const Descriptor& d) {
  const uint64_t t0 = nowNanos();
  TransferRecord rec;
  const uint32_t op = d.nop.opcode;
  rec.op = op & DM_OPCODE_KIND_MASK;
  if ((op & ~dm::kAllowedOpcodeBits) != 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  Outcome o;
  switch (rec.op) {
    case DM_OPCODE_NOP: return ok();
    case DM_OPCODE_COPY: o = copy(d.copy, rec); break;
    case DM_OPCODE_FILL: o = fill(d.fill, rec); break;
    case DM_OPCODE_WRITE_IMM: o = writeImm(d.writeImm, rec); break;
    case DM_OPCODE_COMPARE:
    case DM_OPCODE_CRC32C:
    case DM_OPCODE_COPY_STRIDED:
    case DM_OPCODE_FILL_STRIDED:
    case DM_OPCODE_COMPARE_STRIDED:
    case DM_OPCODE_CRC32C_STRIDED: return status(DM_STATUS_UNSUPPORTED);
    default: return status(DM_STATUS_BAD_DESCRIPTOR);
  }
  record(rec, o, t0);
  return o;
}

// Status precedence as the other engines: source checks, destination checks, OVERLAP; nothing is
// touched unless all pass.
Outcome Executor::copy(const dm_desc_copy_t& c, TransferRecord& rec) {
  const uint64_t n = uint64_t{c.size} + 1;
  Pin src(table_, c.akey0), dst(table_, c.akey1);
  if (uint32_t s = check(src.get(), c.addr0, n, false)) return status(s);
  if (uint32_t s = check(dst.get(), c.addr1, n, true)) return status(s);
  const Kind a = src->kind, b = dst->kind;
  rec.src = static_cast<uint8_t>(a);
  rec.dst = static_cast<uint8_t>(b);
  rec.bytes = n;
  int err = 0;
  cudart::Stream s = nullptr;
  if (a == Kind::Gpu && b == Kind::Gpu) {
    const uintptr_t from = src->gpu + c.addr0, to = dst->gpu + c.addr1;
    if (rangesOverlap(from, to, n, n)) return status(DM_STATUS_OVERLAP);
    rec.path = kPathCuda;
    if (!stream(dst->device, &s, &err)) return cuda(err);
    void* dp = reinterpret_cast<void*>(to);
    const void* sp = reinterpret_cast<const void*>(from);
    if (src->device == dst->device) err = api_.cudaMemcpyAsync(dp, sp, n, cudart::kMemcpyDeviceToDevice, s);
    else if (api_.cudaMemcpyPeerAsync != nullptr) err = api_.cudaMemcpyPeerAsync(dp, dst->device, sp, src->device, n, s);
    else err = api_.cudaMemcpyAsync(dp, sp, n, cudart::kMemcpyDefault, s);
    if (err == cudart::kSuccess) err = api_.cudaStreamSynchronize(s);
    return err == cudart::kSuccess ? ok() : cuda(err);
  }
  if ((a == Kind::Host && b == Kind::Gpu) || (a == Kind::Gpu && b == Kind::Host)) {
    rec.path = kPathCuda;
    const bool toGpu = b == Kind::Gpu;
    if (!stream(toGpu ? dst->device : src->device, &s, &err)) return cuda(err);
    void* dp = toGpu ? reinterpret_cast<void*>(dst->gpu + c.addr1) : static_cast<void*>(dst->host + c.addr1);
    const void* sp = toGpu ? static_cast<const void*>(src->host + c.addr0) : reinterpret_cast<const void*>(src->gpu + c.addr0);
    err = api_.cudaMemcpyAsync(dp, sp, n, toGpu ? cudart::kMemcpyHostToDevice : cudart::kMemcpyDeviceToHost, s);
    if (err == cudart::kSuccess) err = api_.cudaStreamSynchronize(s);
    return err == cudart::kSuccess ? ok() : cuda(err);
  }
  if (a == Kind::File && b == Kind::Gpu) return fileGpu(*src, *dst, false, c.addr0, c.addr1, n, rec);
  if (a == Kind::Gpu && b == Kind::File) return fileGpu(*dst, *src, true, c.addr1, c.addr0, n, rec);
  return status(DM_STATUS_UNSUPPORTED);
}

Outcome Executor::fileGpu(Region& file, Region& gpu, bool write, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n,
                          TransferRecord& rec) {
  const uint8_t reason = reasonFor(file, gpu, fileAddr, gpuAddr, n);
  rec.reason = reason;
  if (reason == kReasonNone) {
    rec.path = config_.cufilePath;
    return cufileIo(file, gpu, write, fileAddr, gpuAddr, n);
  }
  const bool unaligned = reason >= kReasonUnalignedFileOffset && reason <= kReasonUnalignedGpuAddress;
  if (unaligned) stats_.unaligned++;
  if (unaligned && config_.unalignedViaCufile) {
    rec.path = config_.cufilePath;  // cuFile handles unaligned I/O itself (internal bounce buffers)
    return cufileIo(file, gpu, write, fileAddr, gpuAddr, n);
  }
  stats_.fallbacks[reason]++;
  rec.path = kPathBounce;
  return bounceIo(file, gpu, write, fileAddr, gpuAddr, n);
}

// cuFileRead / cuFileWrite on the O_DIRECT handle. A large transfer is split into chunkBytes pieces
// run in parallel by the I/O pool (cuFile's APIs are thread-safe); each piece loops on short counts.
Outcome Executor::cufileIo(Region& file, Region& gpu, bool write, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n) {
  if (n == 0) return ok();
  const uint64_t chunk = config_.ioThreads > 1 && n >= 2 * config_.chunkBytes ? config_.chunkBytes : n;
  const size_t count = static_cast<size_t>((n + chunk - 1) / chunk);
  struct Part {
    uint32_t status = DM_STATUS_OK;
    uint64_t done = 0;
    int32_t detail = 0;
  };
  std::vector<Part> parts(count);
  const int device = gpu.device;
  const std::function<void(size_t)> work = [&](size_t k) {
    Part& p = parts[k];
    const uint64_t off = k * chunk, len = std::min(chunk, n - off);
    const int e = bindDevice(api_, device);  // cuFile uses the calling thread's current context
    if (e != cudart::kSuccess) {
      api_.cudaGetLastError();
      p.status = kStatusCudart;
      p.detail = e;
      return;
    }
    while (p.done < len) {
      const uint64_t fo = file.fileOffset + fileAddr + off + p.done;
      const uint64_t go = gpuAddr + off + p.done;
      // A registered buffer is named by the base it was registered with plus an offset; an
      // unregistered one by its address (cuFile API Reference §5.2.3).
      void* base = reinterpret_cast<void*>(gpu.bufRegistered ? gpu.gpu : gpu.gpu + go);
      const off_t bo = gpu.bufRegistered ? static_cast<off_t>(go) : 0;
      const ssize_t r = write ? api_.write(file.fh, base, len - p.done, static_cast<off_t>(fo), bo)
                              : api_.read(file.fh, base, len - p.done, static_cast<off_t>(fo), bo);
      if (r < 0) {
        if (r == -1) {
          const int en = errno;
          if (en == EINTR) continue;
          p.status = DM_STATUS_IO_ERROR;
          p.detail = en != 0 ? en : EIO;
        } else if (-r > cufile::kBaseErr) {
          p.status = kStatusCufile;
          p.detail = static_cast<int32_t>(-r);
        } else {
          p.status = DM_STATUS_IO_ERROR;  // some cuFile versions return -errno
          p.detail = static_cast<int32_t>(-r);
        }
        return;
      }
      if (r == 0) {
        p.status = DM_STATUS_SHORT_IO;
        return;
      }
      p.done += static_cast<uint64_t>(r);
    }
  };
  stats_.chunks += count;
  pool_.run(count, work);
  for (size_t k = 0; k < count; ++k) {
    const Part& p = parts[k];
    if (p.status == DM_STATUS_OK) continue;
    if (p.status == DM_STATUS_SHORT_IO) return Outcome{DM_STATUS_SHORT_IO, k * chunk + p.done, 0};
    return Outcome{p.status, 0, p.detail};
  }
  return ok();
}

// The classic path: pread/pwrite into pinned host staging, then cudaMemcpy. Used where cuFile
// cannot take the transfer (no O_DIRECT descriptor, handle refused, unaligned).
Outcome Executor::bounceIo(Region& file, Region& gpu, bool write, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n) {
  int err = 0;
  uint8_t* buf = staging(&err);
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  cudart::Stream s = nullptr;
  if (!stream(gpu.device, &s, &err)) return cuda(err);
  for (uint64_t done = 0; done < n;) {
    const uint64_t pos = file.fileOffset + fileAddr + done;
    // Chunks after the first end on 4 KiB file boundaries, so they are O_DIRECT-eligible.
    const uint64_t k = std::min(n - done, config_.bounceBytes - (pos & (kAlign - 1)));
    void* g = reinterpret_cast<void*>(gpu.gpu + gpuAddr + done);
    if (!write) {
      const Io io = fileIo(file, false, fileAddr + done, buf, k);
      if (io.status != DM_STATUS_OK) return io.outcome(done);
      err = api_.cudaMemcpyAsync(g, buf, k, cudart::kMemcpyHostToDevice, s);
      if (err == cudart::kSuccess) err = api_.cudaStreamSynchronize(s);
      if (err != cudart::kSuccess) return cuda(err);
    } else {
      err = api_.cudaMemcpyAsync(buf, g, k, cudart::kMemcpyDeviceToHost, s);
      if (err == cudart::kSuccess) err = api_.cudaStreamSynchronize(s);
      if (err != cudart::kSuccess) return cuda(err);
      const Io io = fileIo(file, true, fileAddr + done, buf, k);
      if (io.status != DM_STATUS_OK) return io.outcome(done);
    }
    done += k;
  }
  return ok();
}

Outcome Executor::fill(const dm_desc_fill_t& f, TransferRecord& rec) {
  const uint64_t n = uint64_t{f.size} + 1;
  Pin dst(table_, f.akey1);
  if (uint32_t s = check(dst.get(), f.addr1, n, true)) return status(s);
  if (f.pattern_bytes != 1 && f.pattern_bytes != 8) return status(DM_STATUS_BAD_DESCRIPTOR);
  if (dst->kind != Kind::Gpu) return status(DM_STATUS_UNSUPPORTED);
  rec.dst = static_cast<uint8_t>(Kind::Gpu);
  rec.bytes = n;
  rec.path = kPathCuda;
  const uint64_t p = f.pattern_bytes == 1 ? (f.pattern & 0xff) * 0x0101010101010101ull : f.pattern;
  int err = 0;
  cudart::Stream s = nullptr;
  if (!stream(dst->device, &s, &err)) return cuda(err);
  uint8_t* g = reinterpret_cast<uint8_t*>(dst->gpu + f.addr1);
  if (p == (p & 0xff) * 0x0101010101010101ull) {
    err = api_.cudaMemsetAsync(g, static_cast<int>(p & 0xff), n, s);
  } else {
    // An 8-byte pattern: stage it once in host memory (phase 0 at the fill's first byte; chunks
    // are multiples of 8, so every chunk starts at phase 0) and copy it out chunk by chunk.
    uint8_t* buf = staging(&err);
    if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
    const uint64_t span = std::min<uint64_t>(n, config_.bounceBytes);
    for (uint64_t i = 0; i < span; i += 8) std::memcpy(buf + i, &p, std::min<uint64_t>(8, span - i));
    for (uint64_t done = 0; done < n && err == cudart::kSuccess; done += span) {
      err = api_.cudaMemcpyAsync(g + done, buf, std::min(span, n - done), cudart::kMemcpyHostToDevice, s);
    }
  }
  if (err == cudart::kSuccess) err = api_.cudaStreamSynchronize(s);
  return err == cudart::kSuccess ? ok() : cuda(err);
}

Outcome Executor::writeImm(const dm_desc_write_imm_t& w, TransferRecord& rec) {
  const uint64_t n = w.width;
  if (n != 1 && n != 2 && n != 4 && n != 8) return status(DM_STATUS_BAD_DESCRIPTOR);
  Pin dst(table_, w.akey1);
  if (uint32_t s = check(dst.get(), w.addr1, n, true)) return status(s);
  if (dst->kind != Kind::Gpu) return status(DM_STATUS_UNSUPPORTED);
  rec.dst = static_cast<uint8_t>(Kind::Gpu);
  rec.bytes = n;
  rec.path = kPathCuda;
  int err = 0;
  cudart::Stream s = nullptr;
  if (!stream(dst->device, &s, &err)) return cuda(err);
  const uint64_t v = w.value;  // little-endian hosts (x86-64, AArch64), as the ABI
  err = api_.cudaMemcpyAsync(reinterpret_cast<void*>(dst->gpu + w.addr1), &v, n, cudart::kMemcpyHostToDevice, s);
  if (err == cudart::kSuccess) err = api_.cudaStreamSynchronize(s);
  return err == cudart::kSuccess ? ok() : cuda(err);
}

// ---- the batch API ----

bool Executor::eligible(const Descriptor& d, BatchEntry& e) {
  const uint32_t op = d.nop.opcode;
  if ((op & ~dm::kAllowedOpcodeBits) != 0 || (op & DM_OPCODE_KIND_MASK) != DM_OPCODE_COPY) return false;
  const dm_desc_copy_t& c = d.copy;
  const uint64_t n = uint64_t{c.size} + 1;
  if (n > config_.batchMaxEntryBytes) return false;
  Region* a = table_.acquire(c.akey0);
  Region* b = table_.acquire(c.akey1);
  auto refuse = [&] {
    if (a != nullptr) table_.release(a);
    if (b != nullptr) table_.release(b);
    return false;
  };
  if (check(a, c.addr0, n, false) != DM_STATUS_OK || check(b, c.addr1, n, true) != DM_STATUS_OK) return refuse();
  if (a->kind == Kind::File && b->kind == Kind::Gpu) e = BatchEntry{a, b, false, c.addr0, c.addr1, n};
  else if (a->kind == Kind::Gpu && b->kind == Kind::File) e = BatchEntry{b, a, true, c.addr1, c.addr0, n};
  else return refuse();
  if (reasonFor(*e.file, *e.gpu, e.fileAddr, e.gpuAddr, n) != kReasonNone) return refuse();
  return true;
}

void Executor::unpin(BatchEntry& e) {
  if (e.file != nullptr) table_.release(e.file);
  if (e.gpu != nullptr) table_.release(e.gpu);
  e.file = e.gpu = nullptr;
}

// Entries of one cuFile batch may run in any order (cuFile API Reference §5.5.2), so the group
// admits no two entries that touch the same bytes, and one device per batch.
bool Executor::hazard(const BatchEntry& e, const std::vector<BatchEntry>& group) {
  for (const BatchEntry& g : group) {
    if (g.gpu->device != e.gpu->device) return true;
    if (rangesOverlap(e.gpu->gpu + e.gpuAddr, g.gpu->gpu + g.gpuAddr, e.n, g.n)) return true;
    if (e.file->dev == g.file->dev && e.file->ino == g.file->ino &&
        rangesOverlap(e.file->fileOffset + e.fileAddr, g.file->fileOffset + g.fileAddr, e.n, g.n))
      return true;
  }
  return false;
}

std::vector<Outcome> Executor::runBatch(std::vector<BatchEntry>& group) {
  const uint64_t t0 = nowNanos();
  const unsigned n = static_cast<unsigned>(group.size());
  std::vector<Outcome> out(n, ok());
  std::vector<uint8_t> state(n, 0);  // 0 in flight, 1 done, 2 to finish outside the batch
  std::vector<uint64_t> done(n, 0);
  bool submitted = false;
  cufile::BatchHandle h = nullptr;
  std::vector<cufile::IOParams> params(n);
  std::vector<cufile::IOEvents> events(n);
  if (bindDevice(api_, group[0].gpu->device) == cudart::kSuccess) {
    for (unsigned k = 0; k < n; ++k) {
      const BatchEntry& e = group[k];
      cufile::IOParams& p = params[k];
      std::memset(&p, 0, sizeof p);
      p.mode = cufile::kBatchMode;
      p.u.batch.devPtr_base = reinterpret_cast<void*>(e.gpu->bufRegistered ? e.gpu->gpu : e.gpu->gpu + e.gpuAddr);
      p.u.batch.devPtr_offset = e.gpu->bufRegistered ? static_cast<off_t>(e.gpuAddr) : 0;
      p.u.batch.file_offset = static_cast<off_t>(e.file->fileOffset + e.fileAddr);
      p.u.batch.size = e.n;
      p.fh = e.file->fh;
      p.opcode = e.write ? cufile::kOpWrite : cufile::kOpRead;
      p.cookie = reinterpret_cast<void*>(static_cast<uintptr_t>(k));
    }
    cufile::Error err = api_.batchSetUp(&h, n);
    if (err.err == cufile::kSuccess) {
      err = api_.batchSubmit(h, n, params.data(), 0);
      submitted = err.err == cufile::kSuccess;
      if (!submitted) api_.batchDestroy(h);
    }
  } else {
    api_.cudaGetLastError();
  }
  if (submitted) {
    unsigned remaining = n;
    unsigned idle = 0;
    while (remaining > 0) {
      unsigned nr = remaining;
      struct timespec timeout = {0, 100 * 1000 * 1000};
      const cufile::Error err = api_.batchGetStatus(h, 1, &nr, events.data(), &timeout);
      if (err.err != cufile::kSuccess || (nr == 0 && ++idle > 600)) {
        // Status lost (or a minute without progress): cancel, so nothing lands after we report.
        api_.batchCancel(h);
        break;
      }
      if (nr > 0) idle = 0;
      for (unsigned i = 0; i < nr && i < n; ++i) {
        const auto k = static_cast<size_t>(reinterpret_cast<uintptr_t>(events[i].cookie));
        if (k >= n || state[k] != 0) continue;
        --remaining;
        const auto r = static_cast<ssize_t>(events[i].ret);
        if (events[i].status == cufile::kStatusComplete && r >= 0 && static_cast<uint64_t>(r) == group[k].n) {
          state[k] = 1;
        } else {
          state[k] = 2;
          if (events[i].status == cufile::kStatusComplete && r > 0) done[k] = static_cast<uint64_t>(r);
        }
      }
    }
    api_.batchDestroy(h);
    stats_.batches++;
    stats_.batchEntries += n;
  }
  for (unsigned k = 0; k < n; ++k) {
    BatchEntry& e = group[k];
    TransferRecord rec;
    rec.op = DM_OPCODE_COPY;
    rec.src = static_cast<uint8_t>(e.write ? Kind::Gpu : Kind::File);
    rec.dst = static_cast<uint8_t>(e.write ? Kind::File : Kind::Gpu);
    rec.bytes = e.n;
    rec.path = config_.cufilePath;
    rec.batched = state[k] == 1;
    if (state[k] != 1) {
      // Not finished by the batch (or never submitted): finish it with cuFileRead/Write, from
      // where the batch left off; a genuine failure is reported from there.
      rec.reason = kReasonBatchFailed;
      stats_.batchRetries++;
      Outcome o = cufileIo(*e.file, *e.gpu, e.write, e.fileAddr + done[k], e.gpuAddr + done[k], e.n - done[k]);
      if (o.status == DM_STATUS_SHORT_IO) o.result += done[k];
      out[k] = o;
    }
    record(rec, out[k], t0);
    unpin(e);
  }
  return out;
}

}  // namespace gds
