// What every engine's executor does to a region, whatever its Region type: the operand checks in
// the TS oracle's order, the pin that holds a region for one descriptor, and file I/O through a
// region's dup()ed descriptors. Region needs `length` and `writable` (checks) and `fd`, `directFd`,
// `directOk`, `fileOffset` (file I/O). Consumer thread only.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include <datamover/abi.h>
#include <datamover/descriptor.h>
#include <datamover/region_table.h>

namespace dm {

constexpr uint64_t kDirectAlign = 4096;  // O_DIRECT's offset, length and buffer alignment

template <class Region>
bool inBounds(const Region& r, uint64_t addr, uint64_t n) {
  return addr <= r.length && n <= r.length - addr;  // overflow-safe addr + n <= length
}

// One operand's checks, in the TS oracle's order: BAD_AKEY, OUT_OF_BOUNDS, ACCESS_DENIED (writes).
template <class Region>
uint32_t check(const Region* r, uint64_t addr, uint64_t n, bool write) {
  if (r == nullptr) return DM_STATUS_BAD_AKEY;
  if (!inBounds(*r, addr, n)) return DM_STATUS_OUT_OF_BOUNDS;
  if (write && !r->writable) return DM_STATUS_ACCESS_DENIED;
  return DM_STATUS_OK;
}

inline bool rangesOverlap(uint64_t x, uint64_t y, uint64_t n, uint64_t m) { return x < y + m && y < x + n; }

inline bool directAligned(uint64_t pos, uint64_t n, const void* p) {
  return ((pos | n | reinterpret_cast<uintptr_t>(p)) & (kDirectAlign - 1)) == 0;
}

// Pins a region-table entry (busy count) for the lifetime of one descriptor; a negative index
// (an operand the descriptor does not have) pins nothing.
template <class Region>
class Pin {
 public:
  Pin(RegionTableOf<Region>& t, int index) : t_(t), r_(index < 0 ? nullptr : t.acquire(static_cast<uint16_t>(index))) {}
  ~Pin() {
    if (r_ != nullptr) t_.release(r_);
  }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  Region& operator*() const { return *r_; }
  Region* operator->() const { return r_; }
  Region* get() const { return r_; }

 private:
  RegionTableOf<Region>& t_;
  Region* r_;
};

// Result of a file transfer: status OK, SHORT_IO (end of file) or IO_ERROR (err = errno).
struct Io {
  uint32_t status;
  uint64_t done;
  int err;
  // SHORT_IO reports the bytes of the whole operation done before end of file in `result`;
  // `before` is what earlier chunks of the operation moved.
  Outcome outcome(uint64_t before = 0) const {
    return Outcome{status, status == DM_STATUS_SHORT_IO ? before + done : 0, err};
  }
};

// n bytes between buf and the region's file at `off`: O_DIRECT where the chunk is aligned and the
// filesystem takes it (directOk is cleared the first time it answers EINVAL), else buffered.
template <class Region>
Io fileIo(Region& r, bool write, uint64_t off, uint8_t* buf, uint64_t n) {
  const uint64_t base = r.fileOffset + off;
  uint64_t done = 0;
  while (done < n) {
    const uint64_t want = std::min<uint64_t>(n - done, uint64_t{1} << 30);  // under Linux's 2 GiB cap
    const uint64_t pos = base + done;
    const bool direct = r.directFd >= 0 && r.directOk && directAligned(pos, want, buf + done);
    const int fd = direct ? r.directFd : r.fd;
    const ssize_t k = write ? pwrite(fd, buf + done, want, static_cast<off_t>(pos))
                            : pread(fd, buf + done, want, static_cast<off_t>(pos));
    if (k < 0) {
      if (errno == EINTR) continue;
      if (direct && errno == EINVAL) {  // the filesystem refuses O_DIRECT: stay buffered
        r.directOk = false;
        continue;
      }
      return Io{DM_STATUS_IO_ERROR, done, errno};
    }
    if (k == 0) return Io{DM_STATUS_SHORT_IO, done, 0};
    done += static_cast<uint64_t>(k);
  }
  return Io{DM_STATUS_OK, done, 0};
}

}  // namespace dm
