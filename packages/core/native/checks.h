// The operand checks and outcomes shared by the executor's contiguous (executor.cc) and strided
// (strided.cc) operations, so both apply one rule in the TS oracle's order.
#pragma once

#include <cstdint>

#include <datamover/abi.h>
#include <datamover/descriptor.h>

#include "executor.h"

namespace dm::exec {

constexpr uint64_t kEqual = ~uint64_t{0};

inline Outcome status(uint32_t s) { return Outcome{s, 0, 0}; }
inline Outcome ok(uint64_t result = 0) { return Outcome{DM_STATUS_OK, result, 0}; }

inline bool inBounds(const Region& r, uint64_t addr, uint64_t n) {
  return addr <= r.length && n <= r.length - addr;  // overflow-safe addr + n <= length
}

// One operand's checks, in the TS oracle's order: BAD_AKEY, OUT_OF_BOUNDS, ACCESS_DENIED (writes).
inline uint32_t check(const Region* r, uint64_t addr, uint64_t n, bool write) {
  if (r == nullptr) return DM_STATUS_BAD_AKEY;
  if (!inBounds(*r, addr, n)) return DM_STATUS_OUT_OF_BOUNDS;
  if (write && !r->writable) return DM_STATUS_ACCESS_DENIED;
  return DM_STATUS_OK;
}

// Whether [a+offA, +n) and [b+offB, +m) name the same bytes: same host memory (any two views),
// or the same file. Both ranges are in bounds, so none of the sums overflow.
inline bool overlaps(const Region& a, uint64_t offA, const Region& b, uint64_t offB, uint64_t n, uint64_t m) {
  if (a.isFile != b.isFile) return false;
  uint64_t x, y;
  if (a.isFile) {
    if (a.dev != b.dev || a.ino != b.ino) return false;
    x = a.fileOffset + offA;
    y = b.fileOffset + offB;
  } else {
    x = reinterpret_cast<uintptr_t>(a.base) + offA;
    y = reinterpret_cast<uintptr_t>(b.base) + offB;
  }
  return x < y + m && y < x + n;
}

}  // namespace dm::exec

namespace dm {

// Pins a region-table entry (busy count) for the lifetime of one descriptor.
class Executor::Pin {
 public:
  Pin(RegionTable& t, uint16_t index) : t_(t), r_(t.acquire(index)) {}
  ~Pin() {
    if (r_ != nullptr) t_.release(r_);
  }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  Region& operator*() const { return *r_; }
  Region* operator->() const { return r_; }
  Region* get() const { return r_; }

 private:
  RegionTable& t_;
  Region* r_;
};

}  // namespace dm
