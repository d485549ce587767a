// What an engine's executor takes and gives back: a private copy of one ring slot, and the
// fields it writes into the slot's completion block (docs/engine-abi.md).
#pragma once

#include <cstdint>

#include <datamover/abi.h>

namespace dm {

// A descriptor's result: status (DM_STATUS_*, or a backend's own from 64 up), result, detail.
struct Outcome {
  uint32_t status;
  uint64_t result;
  int32_t detail;
};

// A private copy of one ring slot: the producer's memory is never read twice (no TOCTOU), and the
// union lets the abi.h structs be read in place (GCC defines union type punning).
union Descriptor {
  uint8_t bytes[DM_DESCRIPTOR_BYTES];
  dm_desc_nop_t nop;
  dm_desc_copy_t copy;
  dm_desc_fill_t fill;
  dm_desc_compare_t compare;
  dm_desc_crc32c_t crc32c;
  dm_desc_write_imm_t writeImm;
  dm_desc_copy_strided_t copyStrided;
  dm_desc_fill_strided_t fillStrided;
  dm_desc_compare_strided_t compareStrided;
  dm_desc_crc32c_strided_t crc32cStrided;
};

// Opcode bits a descriptor may set: valid, fence, subtype, type. The rest (se, ch, csr, rb,
// bits 7:6 and 31:27) are unsupported or reserved, and every engine refuses them first (before any
// check of its own), so a malformed record gets the same status everywhere.
constexpr uint32_t kAllowedOpcodeBits = 0x07ffff05u;

}  // namespace dm
