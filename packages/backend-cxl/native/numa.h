// NUMA placement through raw system calls (mbind, move_pages, getcpu): no libnuma needed to build
// or run. Nodes are the kernel's node numbers (/sys/devices/system/node/nodeN).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace cxl {

constexpr int kMaxNodes = 1024;

// Anonymous memory: `length` bytes mapped at `*base`, the first byte at an `alignment` boundary
// returned. With node >= 0 the pages are bound there (MPOL_BIND) and faulted in now, so they
// really live on the node when this returns. nullptr with *err set on failure.
uint8_t* allocate(size_t size, size_t alignment, int node, void** base, size_t* length, int* err);

struct MoveReport {
  uint64_t pages = 0;   // pages overlapping the range
  uint64_t moved = 0;   // pages on the target node afterwards
  uint64_t absent = 0;  // never touched (no page to move: they will be allocated by policy)
  uint64_t failed = 0;  // pages the kernel could not move (busy, pinned, shared, no memory)
  std::map<int, uint64_t> errors;  // errno → pages
};

// Migrates the pages overlapping [p, p + n) to `node` (move_pages, MPOL_MF_MOVE). 0 or errno.
int movePages(const void* p, size_t n, int node, MoveReport* out);

// Where the pages overlapping [p, p + n) live: node → pages; never-touched pages in *absent.
int pageNodes(const void* p, size_t n, std::map<int, uint64_t>* nodes, uint64_t* absent);

// The node of the CPU this thread runs on, or -1.
int currentNode();

}  // namespace cxl
