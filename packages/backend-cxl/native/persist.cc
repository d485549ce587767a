#include "persist.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace cxl {
namespace {

constexpr uintptr_t kLine = 64;

FlushInsn detect() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    if (b & (1u << 24)) return FlushInsn::Clwb;
    if (b & (1u << 23)) return FlushInsn::Clflushopt;
  }
  if (__get_cpuid(1, &a, &b, &c, &d) && (d & (1u << 19))) return FlushInsn::Clflush;
#endif
  return FlushInsn::None;
}

#if defined(__x86_64__)
__attribute__((target("clwb"))) void clwbRange(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kLine) _mm_clwb(reinterpret_cast<void*>(p));
}
__attribute__((target("clflushopt"))) void clflushoptRange(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kLine) _mm_clflushopt(reinterpret_cast<void*>(p));
}
void clflushRange(uintptr_t p, uintptr_t end) {
  for (; p < end; p += kLine) _mm_clflush(reinterpret_cast<void*>(p));
}
#endif

}  // namespace

FlushInsn flushInsn() {
  static const FlushInsn f = detect();
  return f;
}

const char* flushName(FlushInsn f) {
  switch (f) {
    case FlushInsn::Clwb: return "clwb";
    case FlushInsn::Clflushopt: return "clflushopt";
    case FlushInsn::Clflush: return "clflush";
    default: return "none";
  }
}

void writeBack(const void* ptr, size_t n, uint32_t count, uint64_t stride) {
  if (n == 0) return;
#if defined(__x86_64__)
  const FlushInsn insn = flushInsn();
  for (uint32_t i = 0; i < count; ++i) {
    const uintptr_t block = reinterpret_cast<uintptr_t>(ptr) + i * stride;
    const uintptr_t p = block & ~(kLine - 1), end = block + n;
    switch (insn) {
      case FlushInsn::Clwb: clwbRange(p, end); break;
      case FlushInsn::Clflushopt: clflushoptRange(p, end); break;
      case FlushInsn::Clflush: clflushRange(p, end); break;  // CLFLUSH is ordered by itself
      case FlushInsn::None: break;
    }
  }
  _mm_sfence();  // one fence orders every block's write-backs (and any non-temporal stores)
#else
  (void)ptr;
  (void)count;
  (void)stride;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

int syncRange(const void* ptr, size_t n) {
  if (n == 0) return 0;
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + n;
  while (msync(reinterpret_cast<void*>(p), end - p, MS_SYNC) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

}  // namespace cxl
