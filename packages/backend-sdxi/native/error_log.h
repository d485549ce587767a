// The function's error log (NOTES §6.3): a ring of 64-byte ERRLOG_HD_ENT entries in device
// memory, located by ERR_CFG, indexed by ERR_WRT (function) and ERR_RD (software).
#pragma once

#include <cstdint>

#include "memory.h"

namespace sdxi {

struct ErrorRecord {
  uint8_t step = kStepInternal;
  uint8_t subStep = kSubOther;
  uint8_t reaction = kReContextStopped;
  bool hasContext = false;
  uint16_t context = 0;
  bool hasIndex = false;
  uint64_t index = 0;  // dsc_index: the failing descriptor's ring index
  bool hasBuffer = false;
  uint8_t buffer = 0;  // 0 = addr0, 1 = addr1
  // Vendor words: the Datamover completion status and errno this fault stands for.
  uint32_t status = 0;
  int32_t detail = 0;
};

class ErrorLog {
 public:
  ErrorLog(Registers& regs, const DeviceMemory& mem) : regs_(regs), mem_(mem) {}
  // Appends an entry; true when software asked for an interrupt (ERR_CTL.intr_en). A full log
  // sets ERR_STS.ovf, an unusable one ERR_STS.err; neither ever writes outside the arena.
  bool append(const ErrorRecord& r);

 private:
  Registers& regs_;
  const DeviceMemory& mem_;
};

}  // namespace sdxi
