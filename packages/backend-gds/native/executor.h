// The gds engine's region table and executor: what one descriptor (or one cuFile batch of them)
// does to host, file and GPU regions. Runs on the engine's consumer thread (engine.cc), plus an
// I/O pool that splits large cuFile reads and writes into parallel chunks.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <datamover/abi.h>
#include <datamover/descriptor.h>
#include <datamover/region_table.h>
#include <napi.h>

#include "loader.h"
#include "region_io.h"

namespace gds {

using dm::Descriptor;
using dm::Outcome;

// Completion statuses of this backend (core: BACKEND_STATUS_BASE = 64 and up; src/errors.ts).
constexpr uint32_t kStatusCufile = 64;  // detail: CUfileOpError; result: CUresult when detail is 5011
constexpr uint32_t kStatusCudart = 65;  // detail: cudaError_t
constexpr uint32_t kStatusCuda = 66;    // detail: CUresult

// How a transfer moved its bytes (src/alignment.ts TRANSFER_PATHS, same order).
enum Path : uint8_t { kPathNone = 0, kPathDirect = 1, kPathCompat = 2, kPathBounce = 3, kPathCuda = 4 };
// Why a file <-> GPU transfer did not go through cuFile (src/alignment.ts PATH_REASONS, same order).
enum Reason : uint8_t {
  kReasonNone = 0,
  kReasonUnalignedFileOffset = 1,
  kReasonUnalignedLength = 2,
  kReasonUnalignedGpuAddress = 3,
  kReasonNoDirectFd = 4,
  kReasonNoCufileHandle = 5,
  kReasonBatchFailed = 6,
};
extern const char* const kPathNames[5];
extern const char* const kReasonNames[7];
constexpr uint64_t kAlign = 4096;

// Device memory: owned (cudaMalloc'd, freed with the last reference) or imported (a framework's).
struct DeviceMemory {
  const Api* api = nullptr;
  int device = 0;
  uintptr_t base = 0;   // what cudaMalloc returned (owned) or the imported address
  uintptr_t start = 0;  // first usable byte (base rounded up to the asked alignment)
  size_t size = 0;
  bool owned = false;
  // An import of memory this addon allocated keeps that allocation alive (see findOwned).
  std::shared_ptr<DeviceMemory> parent;
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory();
};

// Process-wide index of live allocations made by this addon, so that importing a pointer into one
// of them (a test fixture, a framework handing our memory back) can hold the allocation alive.
void rememberOwned(const std::shared_ptr<DeviceMemory>& m);
std::shared_ptr<DeviceMemory> findOwned(uintptr_t p, size_t n);

enum class Kind : uint8_t { Host = 0, File = 1, Gpu = 2 };

// One AKey entry. Created and destroyed on the JS thread; pinned (busy) by the consumer thread.
// Not the soft executor's dm::Region: a gds region is host, file or GPU memory and owns CUDA and
// cuFile registrations (page-locking, cuFile handle and buffer registration, device memory) that
// it undoes when destroyed.
struct Region {
  Kind kind = Kind::Host;
  bool writable = false;
  uint64_t length = 0;
  const Api* api = nullptr;
  // host
  uint8_t* host = nullptr;
  Napi::Reference<Napi::Uint8Array> view;  // keeps the ArrayBuffer alive while registered
  bool pinned = false;                     // cudaHostRegister'ed by us
  // file: descriptors dup()ed at registration and owned here
  int fd = -1;
  int directFd = -1;
  bool directOk = true;  // cleared when O_DIRECT answers EINVAL (consumer thread only)
  uint64_t fileOffset = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  gdsabi::cufile::Handle fh = nullptr;  // cuFileHandleRegister on directFd, or null
  uint8_t noCufile = kReasonNone;        // why fh is null
  // gpu
  std::shared_ptr<DeviceMemory> mem;
  uintptr_t gpu = 0;  // device address of byte 0
  int device = -1;
  bool bufRegistered = false;  // cuFileBufRegister(gpu, length) succeeded
  int busy = 0;                // descriptors using it now; guarded by RegionTable's mutex

  Region() = default;
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region();
};

// The host bytes a region names (RegionTableOf::holds): host regions only. Device memory needs no
// such check: a region holds its allocation alive (DeviceMemory is shared), so it is never freed
// under the engine.
inline const uint8_t* hostBytes(const Region& r) { return r.kind == Kind::Host ? r.host : nullptr; }

using RegionTable = dm::RegionTableOf<Region>;

// What the engine was told at open (src/session.ts computes it from the probe and options).
struct Config {
  uint8_t cufilePath = kPathCompat;  // kPathDirect when nvidia-fs (or P2PDMA) serves cuFile I/O
  bool unalignedViaCufile = false;   // unaligned file <-> GPU through cuFile instead of our bounce
  bool batch = true;                 // use the cuFile batch API for runs of eligible descriptors
  unsigned batchMin = 2;
  unsigned batchMax = 128;           // max entries per cuFileBatchIOSetUp
  uint64_t batchMaxEntryBytes = 1 << 20;
  unsigned ioThreads = 4;            // parallel cuFile chunks of one large descriptor
  uint64_t chunkBytes = 8 << 20;
  uint64_t bounceBytes = 8 << 20;    // pinned staging for the bounce path and fills
};

// Counters (read from the JS thread while the consumer updates them).
struct Stats {
  std::atomic<uint64_t> transfers[5]{};  // by Path
  std::atomic<uint64_t> bytes[5]{};
  std::atomic<uint64_t> fallbacks[7]{};  // by Reason (file <-> GPU that left cuFile)
  std::atomic<uint64_t> batches{0}, batchEntries{0}, batchRetries{0}, unaligned{0}, failed{0}, chunks{0};
};

// One transfer as recorded for Backend.transfers() (a bounded log).
struct TransferRecord {
  uint64_t seq = 0;
  uint32_t op = 0;  // opcode kind
  uint8_t src = 255, dst = 255;  // Kind, 255 none
  uint8_t path = kPathNone;
  uint8_t reason = kReasonNone;
  bool batched = false;
  uint32_t status = 0;
  int32_t detail = 0;
  uint64_t bytes = 0;
  uint64_t nanos = 0;
};

class TransferLog {
 public:
  static constexpr size_t kCapacity = 1024;
  void push(TransferRecord r);
  std::vector<TransferRecord> snapshot();

 private:
  std::mutex mu_;
  std::vector<TransferRecord> ring_;
  uint64_t next_ = 0;
};

// A small pool for parallel chunks of one cuFile transfer; the calling thread works too.
class IoPool {
 public:
  explicit IoPool(unsigned threads) : want_(threads) {}
  ~IoPool();
  void run(size_t count, const std::function<void(size_t)>& fn);

 private:
  void worker();
  unsigned want_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t count_ = 0, next_ = 0, finished_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// A run of copy descriptors the consumer may hand to cuFile's batch API together.
struct BatchEntry {
  Region* file = nullptr;
  Region* gpu = nullptr;
  bool write = false;      // gpu -> file
  uint64_t fileAddr = 0;   // offset inside the file region
  uint64_t gpuAddr = 0;    // offset inside the gpu region
  uint64_t n = 0;
};

class Executor {
 public:
  Executor(const Api& api, RegionTable& table, const Config& config, Stats& stats, TransferLog& log);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Validates and runs one claimed descriptor.
  Outcome run(const Descriptor& d);

  // Batch support. eligible(): pins both regions into `e` when `d` may join a cuFile batch.
  bool eligible(const Descriptor& d, BatchEntry& e);
  // Whether `e` conflicts with any of `group` (overlapping bytes, another device).
  static bool hazard(const BatchEntry& e, const std::vector<BatchEntry>& group);
  void unpin(BatchEntry& e);
  // Runs a claimed group (pins released); one outcome per entry, in order.
  std::vector<Outcome> runBatch(std::vector<BatchEntry>& group);

 private:
  Outcome copy(const dm_desc_copy_t& c, TransferRecord& rec);
  Outcome fill(const dm_desc_fill_t& f, TransferRecord& rec);
  Outcome writeImm(const dm_desc_write_imm_t& w, TransferRecord& rec);
  Outcome fileGpu(Region& file, Region& gpu, bool write, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n, TransferRecord& rec);
  Outcome cufileIo(Region& file, Region& gpu, bool write, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n);
  Outcome bounceIo(Region& file, Region& gpu, bool write, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n);
  Outcome cuda(int err);  // an Outcome for a failed CUDA runtime call (clears the error)
  bool stream(int device, gdsabi::cudart::Stream* out, int* err);
  uint8_t* staging(int* err);
  uint8_t reasonFor(const Region& file, const Region& gpu, uint64_t fileAddr, uint64_t gpuAddr, uint64_t n) const;
  void record(TransferRecord& rec, const Outcome& o, uint64_t t0);

  const Api& api_;
  RegionTable& table_;
  Config config_;
  Stats& stats_;
  TransferLog& log_;
  IoPool pool_;
  std::vector<std::pair<int, gdsabi::cudart::Stream>> streams_;
  uint8_t* staging_ = nullptr;
  bool stagingPinned_ = false;
  uint64_t seq_ = 0;
};

uint64_t nowNanos();

}  // namespace gds
