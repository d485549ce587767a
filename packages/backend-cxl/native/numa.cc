#include "numa.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace cxl {
namespace {

constexpr int kMpolBind = 2;
constexpr unsigned kMpolMfStrict = 1u << 0;
constexpr unsigned kMpolMfMove = 1u << 1;
constexpr int kMadvPopulateWrite = 23;  // Linux 5.14
constexpr size_t kChunkPages = 16384;   // move_pages arguments per call

size_t pageSize() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

long sysMbind(void* addr, unsigned long len, int mode, const unsigned long* mask, unsigned long maxnode, unsigned flags) {
  return syscall(SYS_mbind, addr, len, mode, mask, maxnode, flags);
}

long sysMovePages(unsigned long count, void** pages, const int* nodes, int* status, int flags) {
  return syscall(SYS_move_pages, 0, count, pages, nodes, status, flags);
}

// The pages overlapping [p, p + n), page-aligned.
std::vector<void*> pagesOf(const void* p, size_t n) {
  std::vector<void*> out;
  if (n == 0) return out;
  const uintptr_t page = pageSize();
  uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + n;
  out.reserve((end - a + page - 1) / page);
  for (; a < end; a += page) out.push_back(reinterpret_cast<void*>(a));
  return out;
}

// status[] of move_pages for `pages` (nodes == nullptr: query only).
int statusOf(std::vector<void*>& pages, const int* target, std::vector<int>* status, int flags) {
  status->assign(pages.size(), 0);
  std::vector<int> nodes;
  for (size_t i = 0; i < pages.size(); i += kChunkPages) {
    const size_t k = std::min(kChunkPages, pages.size() - i);
    if (target != nullptr) nodes.assign(k, *target);
    if (sysMovePages(k, pages.data() + i, target != nullptr ? nodes.data() : nullptr, status->data() + i, flags) < 0) return errno;
  }
  return 0;
}

}  // namespace

uint8_t* allocate(size_t size, size_t alignment, int node, void** base, size_t* length, int* err) {
  const size_t page = pageSize();
  if (alignment < page) alignment = page;
  const size_t len = ((size == 0 ? 1 : size) + page - 1) / page * page + (alignment > page ? alignment : 0);
  void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    *err = errno;
    return nullptr;
  }
  if (node >= 0) {
    unsigned long mask[kMaxNodes / (8 * sizeof(unsigned long))] = {};
    mask[node / (8 * sizeof(unsigned long))] = 1ul << (node % (8 * sizeof(unsigned long)));
    // maxnode counts one past the last bit the kernel reads (its historical off-by-one).
    if (sysMbind(m, len, kMpolBind, mask, kMaxNodes + 1, kMpolMfStrict) != 0) {
      *err = errno;
      munmap(m, len);
      return nullptr;
    }
    // Fault every page in now, on the node: an error here (ENOMEM) is reported, not an OOM kill later.
    if (madvise(m, len, kMadvPopulateWrite) != 0) {
      if (errno != EINVAL) {
        *err = errno;
        munmap(m, len);
        return nullptr;
      }
      for (size_t i = 0; i < len; i += page) static_cast<volatile uint8_t*>(m)[i] = 0;
    }
  }
  *base = m;
  *length = len;
  return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(m) + alignment - 1) & ~(uintptr_t{alignment} - 1));
}

int movePages(const void* p, size_t n, int node, MoveReport* out) {
  std::vector<void*> pages = pagesOf(p, n);
  std::vector<int> status;
  if (const int e = statusOf(pages, &node, &status, static_cast<int>(kMpolMfMove))) return e;
  out->pages = pages.size();
  // A page can report a transient error (EBUSY while another migration or a fault holds it) yet
  // be moved by the kernel's retries: ask once more where the reported failures live now.
  std::vector<void*> again;
  for (size_t i = 0; i < pages.size(); ++i)
    if (status[i] != node && status[i] != -ENOENT) again.push_back(pages[i]);
  std::vector<int> now;
  if (!again.empty() && statusOf(again, nullptr, &now, 0) != 0) now.clear();
  size_t k = 0;
  for (const int s : status) {
    if (s == node) {
      ++out->moved;
    } else if (s == -ENOENT) {
      ++out->absent;
    } else if (k < now.size() && now[k++] == node) {
      ++out->moved;
    } else {
      ++out->failed;
      ++out->errors[s < 0 ? -s : 0];  // 0: the page stayed on another node without an error
    }
  }
  return 0;
}

int pageNodes(const void* p, size_t n, std::map<int, uint64_t>* nodes, uint64_t* absent) {
  std::vector<void*> pages = pagesOf(p, n);
  std::vector<int> status;
  if (const int e = statusOf(pages, nullptr, &status, 0)) return e;
  *absent = 0;
  for (const int s : status) {
    if (s >= 0) ++(*nodes)[s];
    else ++*absent;
  }
  return 0;
}

int currentNode() {
  unsigned cpu = 0, node = 0;
  if (syscall(SYS_getcpu, &cpu, &node, nullptr) != 0) return -1;
  return static_cast<int>(node);
}

}  // namespace cxl
