#include "error_log.h"

#include <cstring>

namespace sdxi {

bool ErrorLog::append(const ErrorRecord& r) {
  const uint64_t cfg = regs_.read(kRegErrCfg);
  if ((cfg & 1) == 0) return false;  // logging disabled
  // sz counts 64-entry units (the driver writes entries >> 6) [? NOTES §9.6].
  const uint64_t entries = ((cfg >> 1) & 0x1F) * 64;
  uint8_t* log = entries == 0 ? nullptr : mem_.translate(cfg & ~uint64_t{0xFFF}, entries * kErrEntryBytes);
  if (log == nullptr) {
    regs_.setBits(kRegErrSts, kErrStsErr);
    return false;
  }
  const uint64_t wrt = regs_.read(kRegErrWrt);
  const uint64_t rd = regs_.read(kRegErrRd);
  if (wrt - rd >= entries) {  // full (or ERR_RD ahead of ERR_WRT): the entry is lost
    regs_.setBits(kRegErrSts, kErrStsOvf);
    return false;
  }
  uint8_t e[kErrEntryBytes] = {};
  uint64_t qw0 = 1  // vl
                 | uint64_t{r.step & 0x3Fu} << 8 | uint64_t{kErrType} << 16 | uint64_t{r.hasContext} << 32 |
                 uint64_t{r.hasIndex} << 33 | uint64_t{r.hasBuffer} << 34 | uint64_t{r.buffer & 7u} << 36 |
                 uint64_t{r.subStep & 0xFu} << 40 | uint64_t{r.reaction & 7u} << 44 | uint64_t{r.context} << 48;
  std::memcpy(e + 8, &r.index, 8);
  std::memcpy(e + kErrVendorOffset, &r.status, 4);
  std::memcpy(e + kErrVendorOffset + 4, &r.detail, 4);
  uint8_t* slot = log + (wrt % entries) * kErrEntryBytes;
  // Body first, then QW0 (vl) with release, as producers publish descriptors.
  std::memcpy(slot + 8, e + 8, kErrEntryBytes - 8);
  store<uint64_t>(slot, qw0);
  regs_.write(kRegErrWrt, wrt + 1);
  regs_.setBits(kRegErrSts, kErrStsSts);
  return (regs_.read(kRegErrCtl) & 1) != 0;
}

}  // namespace sdxi
