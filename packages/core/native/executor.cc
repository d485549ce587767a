#include "executor.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "checks.h"
#include "fault_guard.h"
#include "memops.h"

namespace dm {

// ---- Regions ----

Region::~Region() {
  if (fd >= 0) close(fd);
  if (directFd >= 0) close(directFd);
}

// ---- Execution ----

using exec::kEqual;
using exec::ok;
using exec::overlaps;
using exec::status;

namespace {

constexpr size_t kBounceBytes = size_t{1} << 20;  // staging for file I/O; a multiple of 4096
// Length of the next chunk of a file loop at file position pos: at most `max` (a multiple of
// 4096) and ending on a 4096 boundary, so every chunk after the first is eligible for O_DIRECT.
uint64_t chunkLen(uint64_t pos, uint64_t remaining, uint64_t max) {
  return std::min(remaining, max - (pos & (kDirectAlign - 1)));
}

// Single-copy atomic when naturally aligned, so a JS reader using Atomics sees the whole value.
template <class T>
void storeImm(uint8_t* p, uint64_t v) {
  const T t = static_cast<T>(v);
  if (reinterpret_cast<uintptr_t>(p) % sizeof(T) == 0)
    __atomic_store_n(reinterpret_cast<T*>(p), t, __ATOMIC_RELAXED);
  else
    std::memcpy(p, &t, sizeof t);
}

}  // namespace

void Executor::FreeDeleter::operator()(uint8_t* p) const { std::free(p); }

uint8_t* Executor::bounce() {
  if (!bounce_) bounce_.reset(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, kBounceBytes)));
  return bounce_.get();
}

// Makes n bytes at (r, off) readable at *out: host memory in place, file bytes via `scratch`.
Io Executor::fetch(Region& r, uint64_t off, uint64_t n, uint8_t* scratch, const uint8_t** out) {
  if (!r.isFile) {
    *out = r.base + off;
    return Io{DM_STATUS_OK, n, 0};
  }
  *out = scratch;
  return fileIo(r, false, off, scratch, n);
}

Outcome Executor::run(const Descriptor& d) {
  const uint32_t op = d.nop.opcode;
  if ((op & ~kAllowedOpcodeBits) != 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  switch (op & DM_OPCODE_KIND_MASK) {
    case DM_OPCODE_NOP: return ok();
    case DM_OPCODE_COPY: return copy(d.copy);
    case DM_OPCODE_FILL: return fill(d.fill);
    case DM_OPCODE_COMPARE: return compare(d.compare);
    case DM_OPCODE_CRC32C: return crc32c(d.crc32c);
    case DM_OPCODE_WRITE_IMM: return writeImm(d.writeImm);
    case DM_OPCODE_COPY_STRIDED: return copyStrided(d.copyStrided);
    case DM_OPCODE_FILL_STRIDED: return fillStrided(d.fillStrided);
    case DM_OPCODE_COMPARE_STRIDED: return compareStrided(d.compareStrided);
    case DM_OPCODE_CRC32C_STRIDED: return crc32cStrided(d.crc32cStrided);
    default: return status(DM_STATUS_BAD_DESCRIPTOR);
  }
}

// Status precedence follows the TS oracle (ts-engine.ts): the source operand's checks, then the
// destination's, then OVERLAP; nothing is touched unless all pass.

Outcome Executor::copy(const dm_desc_copy_t& c) {
  const uint64_t n = uint64_t{c.size} + 1;
  Pin src(table_, c.akey0), dst(table_, c.akey1);
  if (uint32_t s = check(src.get(), c.addr0, n, false)) return status(s);
  if (uint32_t s = check(dst.get(), c.addr1, n, true)) return status(s);
  if (overlaps(*src, c.addr0, *dst, c.addr1, n, n)) return status(DM_STATUS_OVERLAP);
  return moveCopy(*src, c.addr0, *dst, c.addr1, n, nt_);
}

Outcome Executor::moveCopy(Region& src, uint64_t addr0, Region& dst, uint64_t addr1, uint64_t n, size_t nt) {
  if (!src.isFile && !dst.isFile) {
    dm::copy(dst.base + addr1, src.base + addr0, n, nt);
    return ok();
  }
  if (!dst.isFile) return fileIo(src, false, addr0, dst.base + addr1, n).outcome();
  if (!src.isFile) return fileIo(dst, true, addr1, src.base + addr0, n).outcome();

  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(src.fileOffset + addr0 + done, n - done, kBounceBytes);
    Io io = fileIo(src, false, addr0 + done, buf, k);
    if (io.status == DM_STATUS_OK) io = fileIo(dst, true, addr1 + done, buf, k);
    if (io.status != DM_STATUS_OK) return io.outcome(done);
    done += k;
  }
  return ok();
}

// The fill pattern as 8 bytes, or false for a width other than 1 or 8 (BAD_DESCRIPTOR).
bool Executor::pattern64(uint8_t patternBytes, uint64_t pattern, uint64_t* out) {
  if (patternBytes != 1 && patternBytes != 8) return false;
  *out = patternBytes == 1 ? (pattern & 0xff) * 0x0101010101010101ull : pattern;
  return true;
}

Outcome Executor::fill(const dm_desc_fill_t& f) {
  const uint64_t n = uint64_t{f.size} + 1;
  Pin dst(table_, f.akey1);
  if (uint32_t s = check(dst.get(), f.addr1, n, true)) return status(s);
  uint64_t p;
  if (!pattern64(f.pattern_bytes, f.pattern, &p)) return status(DM_STATUS_BAD_DESCRIPTOR);
  return moveFill(*dst, f.addr1, n, p, nt_);
}

Outcome Executor::moveFill(Region& dst, uint64_t addr1, uint64_t n, uint64_t p, size_t nt) {
  if (!dst.isFile) {
    dm::fill(dst.base + addr1, n, p, nt);
    return ok();
  }
  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  unsigned phase = 8;  // pattern phase the bounce buffer currently holds (8: none yet)
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(dst.fileOffset + addr1 + done, n - done, kBounceBytes);
    if ((done & 7) != phase) {  // chunks after the first keep the phase: at most two refills
      phase = static_cast<unsigned>(done & 7);
      const uint64_t q = phase == 0 ? p : (p >> (8 * phase)) | (p << (64 - 8 * phase));
      dm::fill(buf, kBounceBytes, q, SIZE_MAX);
    }
    const Io io = fileIo(dst, true, addr1 + done, buf, k);
    if (io.status != DM_STATUS_OK) return io.outcome(done);
    done += k;
  }
  return ok();
}

Outcome Executor::compare(const dm_desc_compare_t& c) {
  const uint64_t n = uint64_t{c.size} + 1;
  Pin a(table_, c.akey0), b(table_, c.akey1);
  if (uint32_t s = check(a.get(), c.addr0, n, false)) return status(s);
  if (uint32_t s = check(b.get(), c.addr1, n, false)) return status(s);
  return moveCompare(*a, c.addr0, *b, c.addr1, n);
}

Outcome Executor::moveCompare(Region& a, uint64_t addr0, Region& b, uint64_t addr1, uint64_t n) {
  if (!a.isFile && !b.isFile) {
    const uint64_t m = mismatch(a.base + addr0, b.base + addr1, n);
    return ok(m == n ? kEqual : m);
  }
  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  constexpr uint64_t kHalf = kBounceBytes / 2;
  const Region& filed = a.isFile ? a : b;
  const uint64_t filedAddr = a.isFile ? addr0 : addr1;
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(filed.fileOffset + filedAddr + done, n - done, kHalf);
    const uint8_t *pa, *pb;
    Io io = fetch(a, addr0 + done, k, buf, &pa);
    if (io.status == DM_STATUS_OK) io = fetch(b, addr1 + done, k, buf + kHalf, &pb);
    if (io.status != DM_STATUS_OK) return io.outcome(done);
    const uint64_t m = mismatch(pa, pb, k);
    if (m < k) return ok(done + m);
    done += k;
  }
  return ok(kEqual);
}

Outcome Executor::crc32c(const dm_desc_crc32c_t& c) {
  const uint64_t n = uint64_t{c.size} + 1;
  Pin src(table_, c.akey0);
  if (uint32_t s = check(src.get(), c.addr0, n, false)) return status(s);
  uint32_t crc = ~c.seed;
  const Outcome o = moveCrc32c(*src, c.addr0, n, &crc);
  return o.status == DM_STATUS_OK ? ok(~crc) : o;
}

Outcome Executor::moveCrc32c(Region& src, uint64_t addr0, uint64_t n, uint32_t* crc) {
  if (!src.isFile) {
    *crc = crc32cUpdate(*crc, src.base + addr0, n);
    return ok();
  }
  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(src.fileOffset + addr0 + done, n - done, kBounceBytes);
    const Io io = fileIo(src, false, addr0 + done, buf, k);
    if (io.status != DM_STATUS_OK) return io.outcome(done);
    *crc = crc32cUpdate(*crc, buf, k);
    done += k;
  }
  return ok();
}

Outcome Executor::writeImm(const dm_desc_write_imm_t& w) {
  const uint64_t n = w.width;
  if (n != 1 && n != 2 && n != 4 && n != 8) return status(DM_STATUS_BAD_DESCRIPTOR);
  Pin dst(table_, w.akey1);
  if (uint32_t s = check(dst.get(), w.addr1, n, true)) return status(s);

  if (dst->isFile) {
    const uint64_t v = w.value;  // x86-64 and arm64 are little-endian, as the ABI is
    uint8_t le[8];
    std::memcpy(le, &v, 8);
    return fileIo(*dst, true, w.addr1, le, n).outcome();
  }
  uint8_t* p = dst->base + w.addr1;
  fault::guarded([&] {  // the one store outside memops (fault_guard.h)
    switch (n) {
      case 1: storeImm<uint8_t>(p, w.value); break;
      case 2: storeImm<uint16_t>(p, w.value); break;
      case 4: storeImm<uint32_t>(p, w.value); break;
      default: storeImm<uint64_t>(p, w.value); break;
    }
  });
  return ok();
}

}  // namespace dm
