#include "executor.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fault_guard.h"
#include "memops.h"

namespace dm {

// ---- Regions ----

Region::~Region() {
  if (fd >= 0) close(fd);
  if (directFd >= 0) close(directFd);
}

// ---- Execution ----

namespace {

constexpr size_t kBounceBytes = size_t{1} << 20;  // staging for file I/O; a multiple of 4096
constexpr uint64_t kEqual = ~uint64_t{0};

Outcome status(uint32_t s) { return Outcome{s, 0, 0}; }
Outcome ok(uint64_t result = 0) { return Outcome{DM_STATUS_OK, result, 0}; }

// Whether [a+offA, +n) and [b+offB, +n) name the same bytes: same host memory (any two views),
// or the same file. Both ranges are in bounds, so none of the sums overflow.
bool overlaps(const Region& a, uint64_t offA, const Region& b, uint64_t offB, uint64_t n) {
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
  return x < y + n && y < x + n;
}

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
  if (overlaps(*src, c.addr0, *dst, c.addr1, n)) return status(DM_STATUS_OVERLAP);

  if (!src->isFile && !dst->isFile) {
    dm::copy(dst->base + c.addr1, src->base + c.addr0, n, nt_);
    return ok();
  }
  if (!dst->isFile) return fileIo(*src, false, c.addr0, dst->base + c.addr1, n).outcome();
  if (!src->isFile) return fileIo(*dst, true, c.addr1, src->base + c.addr0, n).outcome();

  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(src->fileOffset + c.addr0 + done, n - done, kBounceBytes);
    Io io = fileIo(*src, false, c.addr0 + done, buf, k);
    if (io.status == DM_STATUS_OK) io = fileIo(*dst, true, c.addr1 + done, buf, k);
    if (io.status != DM_STATUS_OK) return io.outcome(done);
    done += k;
  }
  return ok();
}

Outcome Executor::fill(const dm_desc_fill_t& f) {
  const uint64_t n = uint64_t{f.size} + 1;
  Pin dst(table_, f.akey1);
  if (uint32_t s = check(dst.get(), f.addr1, n, true)) return status(s);
  if (f.pattern_bytes != 1 && f.pattern_bytes != 8) return status(DM_STATUS_BAD_DESCRIPTOR);
  const uint64_t p = f.pattern_bytes == 1 ? (f.pattern & 0xff) * 0x0101010101010101ull : f.pattern;

  if (!dst->isFile) {
    dm::fill(dst->base + f.addr1, n, p, nt_);
    return ok();
  }
  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  unsigned phase = 8;  // pattern phase the bounce buffer currently holds (8: none yet)
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(dst->fileOffset + f.addr1 + done, n - done, kBounceBytes);
    if ((done & 7) != phase) {  // chunks after the first keep the phase: at most two refills
      phase = static_cast<unsigned>(done & 7);
      const uint64_t q = phase == 0 ? p : (p >> (8 * phase)) | (p << (64 - 8 * phase));
      dm::fill(buf, kBounceBytes, q, SIZE_MAX);
    }
    const Io io = fileIo(*dst, true, f.addr1 + done, buf, k);
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

  if (!a->isFile && !b->isFile) {
    const uint64_t m = mismatch(a->base + c.addr0, b->base + c.addr1, n);
    return ok(m == n ? kEqual : m);
  }
  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  constexpr uint64_t kHalf = kBounceBytes / 2;
  const Region& filed = a->isFile ? *a : *b;
  const uint64_t filedAddr = a->isFile ? c.addr0 : c.addr1;
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(filed.fileOffset + filedAddr + done, n - done, kHalf);
    const uint8_t *pa, *pb;
    Io io = fetch(*a, c.addr0 + done, k, buf, &pa);
    if (io.status == DM_STATUS_OK) io = fetch(*b, c.addr1 + done, k, buf + kHalf, &pb);
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
  if (!src->isFile) return ok(~crc32cUpdate(crc, src->base + c.addr0, n));
  uint8_t* buf = bounce();
  if (buf == nullptr) return Outcome{DM_STATUS_IO_ERROR, 0, ENOMEM};
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = chunkLen(src->fileOffset + c.addr0 + done, n - done, kBounceBytes);
    const Io io = fileIo(*src, false, c.addr0 + done, buf, k);
    if (io.status != DM_STATUS_OK) return io.outcome(done);
    crc = crc32cUpdate(crc, buf, k);
    done += k;
  }
  return ok(~crc);
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
