// Memory primitives of the soft engine: bulk copy and fill with non-temporal stores above a
// threshold, first-difference compare, and CRC-32C. All of them take plain pointers that the
// caller has already bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dm {

struct CpuInfo {
  bool avx2;
  bool sse42;
  uint64_t llcBytes;     // last-level cache size as sysfs reports it (0 if unknown)
  uint64_t ntThreshold;  // default non-temporal threshold (env DATAMOVER_NT_THRESHOLD wins)
  long pageSize;
};

const CpuInfo& cpu();

// Copies n bytes between non-overlapping buffers; n >= nt streams the destination past the cache.
void copy(void* dst, const void* src, size_t n, size_t nt);

// Fills n bytes with the little-endian 8-byte pattern p, pattern byte 0 at dst[0].
void fill(void* dst, size_t n, uint64_t p, size_t nt);

// Offset of the first differing byte, or n when equal.
size_t mismatch(const void* a, const void* b, size_t n);

// CRC-32C register update without the pre/post inversion: crc32c(data, seed) is
// ~crc32cUpdate(~seed, data, n).
uint32_t crc32cUpdate(uint32_t crc, const void* data, size_t n);

}  // namespace dm
