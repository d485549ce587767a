// Region table and descriptor execution. Everything here except RegionTable's mutex-guarded
// bookkeeping runs on the engine's consumer thread and never calls into JavaScript.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include <datamover/abi.h>
#include <datamover/descriptor.h>
#include <datamover/region_table.h>
#include <napi.h>

#include "region_io.h"

namespace dm {

// One AKey entry: a span of host memory or of a file.
struct Region {
  bool isFile = false;
  bool writable = false;
  uint64_t length = 0;
  uint8_t* base = nullptr;  // host: first byte
  // File: descriptors dup()ed at registration and owned here, so JS closing its fds cannot make
  // a descriptor hit an unrelated file that reused the number.
  int fd = -1;
  int directFd = -1;     // O_DIRECT twin, or -1
  bool directOk = true;  // cleared after O_DIRECT answers EINVAL; consumer thread only
  uint64_t fileOffset = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  // Host: keeps the view (and so its ArrayBuffer) alive while registered. Created and deleted
  // on the JS thread only: a Region is destroyed by deregister/close/the finalizer, never while
  // `busy`.
  Napi::Reference<Napi::Uint8Array> view;
  int busy = 0;  // descriptors using the region right now; guarded by RegionTable::mu

  Region() = default;
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  ~Region();
};

using RegionTable = dm::RegionTableOf<Region>;

class Executor {
 public:
  Executor(RegionTable& table, size_t ntThreshold) : table_(table), nt_(ntThreshold) {}
  // Validates and runs one descriptor (valid bit and csb_ptr already checked by the caller).
  Outcome run(const Descriptor& d);

 private:
  Outcome copy(const dm_desc_copy_t& c);
  Outcome fill(const dm_desc_fill_t& f);
  Outcome compare(const dm_desc_compare_t& c);
  Outcome crc32c(const dm_desc_crc32c_t& c);
  Outcome writeImm(const dm_desc_write_imm_t& w);
  // strided.cc: count blocks per descriptor, every block checked before the first moves.
  Outcome copyStrided(const dm_desc_copy_strided_t& c);
  Outcome fillStrided(const dm_desc_fill_strided_t& f);
  Outcome compareStrided(const dm_desc_compare_strided_t& c);
  Outcome crc32cStrided(const dm_desc_crc32c_strided_t& c);
  // The byte work of one checked range, shared by the contiguous and strided operations.
  Outcome moveCopy(Region& src, uint64_t addr0, Region& dst, uint64_t addr1, uint64_t n, size_t nt);
  Outcome moveFill(Region& dst, uint64_t addr1, uint64_t n, uint64_t pattern, size_t nt);
  Outcome moveCompare(Region& a, uint64_t addr0, Region& b, uint64_t addr1, uint64_t n);
  Outcome moveCrc32c(Region& src, uint64_t addr0, uint64_t n, uint32_t* crc);
  static bool pattern64(uint8_t patternBytes, uint64_t pattern, uint64_t* out);
  Io fetch(Region& r, uint64_t off, uint64_t n, uint8_t* scratch, const uint8_t** out);
  uint8_t* bounce();

  RegionTable& table_;
  size_t nt_;
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, FreeDeleter> bounce_;  // file I/O staging, allocated on first use
};

}  // namespace dm
