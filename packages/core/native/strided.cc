// Strided operations: one descriptor names `count` blocks of size+1 bytes, block i at
// addr + i × stride on each side. Every block of every operand is checked before the first byte
// moves; then each block runs through the contiguous operation's byte work (executor.cc).
#include <cstdint>

#include "checks.h"
#include "executor.h"

namespace dm {

using exec::kEqual;
using exec::ok;
using exec::status;

namespace {

// One side's blocks, in the oracle's order: BAD_AKEY; OUT_OF_BOUNDS when the last block ends past
// the region (exec::blocksInBounds); ACCESS_DENIED for writes. *span: bytes from the first block's
// start to the last's end.
uint32_t checkBlocks(const Region* r, uint64_t addr, uint64_t n, uint32_t count, uint64_t stride, bool write, uint64_t* span) {
  if (r == nullptr) return DM_STATUS_BAD_AKEY;
  if (!exec::blocksInBounds(*r, addr, n, count, stride, span)) return DM_STATUS_OUT_OF_BOUNDS;
  if (write && !r->writable) return DM_STATUS_ACCESS_DENIED;
  return DM_STATUS_OK;
}

// A side whose blocks overlap one another (stride below the block size) is refused OVERLAP.
bool selfOverlap(uint32_t count, uint64_t stride, uint64_t n) { return count > 1 && stride < n; }

// SHORT_IO reports the bytes of the whole descriptor done before end of file.
Outcome atBlock(Outcome o, uint64_t before) {
  if (o.status == DM_STATUS_SHORT_IO) o.result += before;
  return o;
}

}  // namespace

Outcome Executor::copyStrided(const dm_desc_copy_strided_t& c) {
  if (c.count == 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  const uint64_t n = uint64_t{c.size} + 1;
  Pin src(table_, c.akey0), dst(table_, c.akey1);
  uint64_t spanS, spanD;
  if (uint32_t s = checkBlocks(src.get(), c.addr0, n, c.count, c.stride0, false, &spanS)) return status(s);
  if (uint32_t s = checkBlocks(dst.get(), c.addr1, n, c.count, c.stride1, true, &spanD)) return status(s);
  if (selfOverlap(c.count, c.stride0, n) || selfOverlap(c.count, c.stride1, n) || exec::overlaps(*src, c.addr0, *dst, c.addr1, spanS, spanD))
    return status(DM_STATUS_OVERLAP);
  // Stream past the cache when the whole transfer is large, though each block may be small.
  const size_t nt = n * c.count >= nt_ ? 0 : SIZE_MAX;
  for (uint32_t i = 0; i < c.count; ++i) {
    const Outcome o = moveCopy(*src, c.addr0 + i * c.stride0, *dst, c.addr1 + i * c.stride1, n, nt);
    if (o.status != DM_STATUS_OK) return atBlock(o, i * n);
  }
  return ok();
}

Outcome Executor::fillStrided(const dm_desc_fill_strided_t& f) {
  if (f.count == 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  const uint64_t n = uint64_t{f.size} + 1;
  Pin dst(table_, f.akey1);
  uint64_t span;
  if (uint32_t s = checkBlocks(dst.get(), f.addr1, n, f.count, f.stride1, true, &span)) return status(s);
  uint64_t p;
  if (!pattern64(f.pattern_bytes, f.pattern, &p)) return status(DM_STATUS_BAD_DESCRIPTOR);
  if (selfOverlap(f.count, f.stride1, n)) return status(DM_STATUS_OVERLAP);
  const size_t nt = n * f.count >= nt_ ? 0 : SIZE_MAX;
  for (uint32_t i = 0; i < f.count; ++i) {
    const Outcome o = moveFill(*dst, f.addr1 + i * f.stride1, n, p, nt);
    if (o.status != DM_STATUS_OK) return atBlock(o, i * n);
  }
  return ok();
}

Outcome Executor::compareStrided(const dm_desc_compare_strided_t& c) {
  if (c.count == 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  const uint64_t n = uint64_t{c.size} + 1;
  Pin a(table_, c.akey0), b(table_, c.akey1);
  uint64_t span;
  if (uint32_t s = checkBlocks(a.get(), c.addr0, n, c.count, c.stride0, false, &span)) return status(s);
  if (uint32_t s = checkBlocks(b.get(), c.addr1, n, c.count, c.stride1, false, &span)) return status(s);
  if (selfOverlap(c.count, c.stride0, n) || selfOverlap(c.count, c.stride1, n)) return status(DM_STATUS_OVERLAP);
  for (uint32_t i = 0; i < c.count; ++i) {
    const Outcome o = moveCompare(*a, c.addr0 + i * c.stride0, *b, c.addr1 + i * c.stride1, n);
    if (o.status != DM_STATUS_OK) return atBlock(o, i * n);
    if (o.result != kEqual) return ok(i * n + o.result);  // offset in the blocks laid end to end
  }
  return ok(kEqual);
}

Outcome Executor::crc32cStrided(const dm_desc_crc32c_strided_t& c) {
  if (c.count == 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  const uint64_t n = uint64_t{c.size} + 1;
  Pin src(table_, c.akey0);
  uint64_t span;
  if (uint32_t s = checkBlocks(src.get(), c.addr0, n, c.count, c.stride0, false, &span)) return status(s);
  if (selfOverlap(c.count, c.stride0, n)) return status(DM_STATUS_OVERLAP);
  uint32_t crc = ~c.seed;  // chained: the checksum of the blocks laid end to end
  for (uint32_t i = 0; i < c.count; ++i) {
    const Outcome o = moveCrc32c(*src, c.addr0 + i * c.stride0, n, &crc);
    if (o.status != DM_STATUS_OK) return atBlock(o, i * n);
  }
  return ok(~crc);
}

}  // namespace dm
