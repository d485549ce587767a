// The operand checks and outcomes shared by the executor's contiguous (executor.cc) and strided
// (strided.cc) operations, so both apply one rule in the TS oracle's order.
#pragma once

#include <cstdint>

#include <datamover/abi.h>
#include <datamover/descriptor.h>

#include "executor.h"
#include "region_io.h"

namespace dm::exec {

constexpr uint64_t kEqual = ~uint64_t{0};

inline Outcome status(uint32_t s) { return Outcome{s, 0, 0}; }
inline Outcome ok(uint64_t result = 0) { return Outcome{DM_STATUS_OK, result, 0}; }

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

// Whether `count` (≥ 1) blocks of n bytes at addr + i × stride all lie in r — decided by division,
// so stride × (count − 1) is formed only once it is known to fit; *span: from the first block's
// start to the last one's end.
inline bool blocksInBounds(const Region& r, uint64_t addr, uint64_t n, uint32_t count, uint64_t stride, uint64_t* span) {
  if (count == 0 || !inBounds(r, addr, n)) return false;
  const uint64_t room = r.length - addr - n;  // bytes after the first block
  if (count > 1 && stride > 0 && uint64_t{count} - 1 > room / stride) return false;
  *span = (uint64_t{count} - 1) * stride + n;
  return true;
}

}  // namespace dm::exec
