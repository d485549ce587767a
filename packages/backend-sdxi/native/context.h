// A context as the function runs it: the pointers and sizes read from its L2 → L1 → CXT_CTL
// chain when it starts, all translated and bounds-checked once, so processing a descriptor
// needs no further table walks.
#pragma once

#include <cstdint>

#include "memory.h"

namespace sdxi {

struct Context {
  uint16_t id = 0;
  uint8_t* ring = nullptr;
  uint64_t entries = 0;
  uint8_t* sts = nullptr;  // CXT_STS: state at byte 0, Read_Index at bytes 8–15
  uint8_t* writeIndex = nullptr;
  uint8_t* akeys = nullptr;
  uint32_t akeyEntries = 0;
  bool pasidValid = false;  // L1.pv: cxt_pasid is the default address space
  uint32_t pasid = 0;
  uint32_t opb = 0;        // L1.opb_000_enb
  uint64_t read = 0;       // Read_Index, owned by the function while the context runs

  uint8_t* slot(uint64_t index) const { return ring + (index % entries) * kDescBytes; }
  void setState(CxtState s) { store<uint8_t>(sts, s); }
  void publishRead() { store<uint64_t>(sts + kStsReadIndexOffset, read); }
};

struct Fault {
  uint8_t step;
  uint8_t subStep;
};

// Loads context `id` through the L2 table at device address `l2`. On failure returns false and
// says which structure failed and how (translation: a pointer leaves device memory;
// validation: a valid bit is clear, a reserved field is set, a size is out of range).
bool loadContext(const DeviceMemory& mem, uint64_t l2, uint16_t id, Context& out, Fault& fault);

}  // namespace sdxi
