// Making stores durable on persistent memory: write the cache lines back (CLWB, else CLFLUSHOPT,
// else CLFLUSH) and fence, or msync a page-cache file range.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cxl {

enum class FlushInsn { Clwb, Clflushopt, Clflush, None };

// The best cache write-back instruction this CPU has (CPUID leaf 7 / leaf 1).
FlushInsn flushInsn();
const char* flushName(FlushInsn f);

// Writes back every cache line overlapping the `count` blocks [p + i × stride, p + i × stride + n),
// then SFENCE once: once it returns, the bytes are in the persistence domain of ADR platforms
// (pmem, CXL pmem behind a GPF-capable port). The lines between blocks are not touched.
void writeBack(const void* p, size_t n, uint32_t count = 1, uint64_t stride = 0);

// msync(MS_SYNC) of the pages overlapping [p, p + n) of a MAP_SHARED file mapping; 0 or errno.
int syncRange(const void* p, size_t n);

}  // namespace cxl
