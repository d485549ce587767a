// SDXI 1.0 register offsets, structure layouts and codes, from shared/sdxi/NOTES.md (section
// numbers below are the notes'). The C++ twin of src/spec/*.ts; test/layout.test.ts compares the
// two through the addon's layout() export. All fields are little-endian.
#pragma once

#include <cstdint>

namespace sdxi {

// ---- BAR0 function registers (§7), all 64-bit ----
constexpr uint32_t kRegCtl0 = 0x00000;     // [1:0] fn_gsr, [2] fn_pasid_vl, [4] fn_err_intr_en, [27:8] fn_pasid, [63:32] fn_grp_id
constexpr uint32_t kRegCtl2 = 0x00010;     // [3:0] max_buffer, [15:12] max_akey_sz, [31:16] max_cxt, [63:32] opb_000_avl
constexpr uint32_t kRegSts0 = 0x00100;     // [2:0] fn_gsv
constexpr uint32_t kRegCap0 = 0x00200;     // [15:0] sfunc, [22:20] db_stride, [28:24] max_ds_ring_sz
constexpr uint32_t kRegCap1 = 0x00208;     // [3:0] max_buffer, [4] rkey_cap, [5] rm, [6] mmio64, [11:8] max_errlog_sz, [15:12] max_akey_sz, [31:16] max_cxt, [63:32] opb_000_cap
constexpr uint32_t kRegVersion = 0x00210;  // [7:0] minor, [23:16] major
constexpr uint32_t kRegCxtL2 = 0x10000;    // [63:12] L2 table pointer
constexpr uint32_t kRegRkey = 0x10100;     // [0] en, [4:1] sz, [63:12] ptr
constexpr uint32_t kRegErrCtl = 0x20000;   // [0] intr_en
constexpr uint32_t kRegErrSts = 0x20008;   // [0] sts, [1] ovf, [3] err (RW1C)
constexpr uint32_t kRegErrCfg = 0x20010;   // [0] en, [5:1] sz, [63:12] ptr
constexpr uint32_t kRegErrWrt = 0x20020;
constexpr uint32_t kRegErrRd = 0x20028;
constexpr uint32_t kBar0Bytes = 0x21000;

constexpr uint64_t kErrStsSts = 1, kErrStsOvf = 2, kErrStsErr = 8;

// Function global state (§6.2): STS0.fn_gsv values and CTL0.fn_gsr commands.
enum Gsv : uint64_t { kGsvStop = 0, kGsvInit = 1, kGsvActive = 2, kGsvStopgSf = 3, kGsvStopgHd = 4, kGsvError = 5 };
enum Gsr : uint64_t { kGsrReset = 0, kGsrStopSf = 1, kGsrStopHd = 2, kGsrActive = 3 };

// ---- What this software function reports in CAP0 / CAP1 / VERSION ----
constexpr uint64_t kDbStrideCode = 0;     // doorbell stride 4 KiB << 0
constexpr uint64_t kDbStride = 4096;
constexpr uint64_t kMaxRingCode = 6;      // rings of up to 1024 << 6 entries
constexpr uint64_t kMinRingEntries = 1024;  // Table 3-1: a ring is at least 64 KiB
constexpr uint64_t kMaxRingEntries = kMinRingEntries << kMaxRingCode;
constexpr uint64_t kMaxBufferCode = 11;   // 2^(21+11) = 4 GiB, all a 32-bit size field can say
constexpr uint64_t kMaxAkeyCode = 8;      // AKey tables of up to 256 << 8 entries [I: 4 KiB << n]
// CAP1.mmio64 (bit 6) = 1: BAR0 takes 64-bit accesses only (the TypeScript accessor refuses
// others). CAP1.rm (bit 5) stays 0: no source seen gives its meaning (the driver's mmio.h names
// the bit only), so the function claims nothing there.
constexpr uint64_t kCap1Mmio64 = uint64_t{1} << 6;
constexpr uint64_t kMaxErrlogCode = 4;    // [?] encoding unconfirmed; informative only
constexpr uint16_t kMaxCxt = 255;         // highest context number (two L1 tables)
// opb_000 bitmaps: bit n = operation group n [? §3.2]: DMAB (1), Admin (2), Intr (4).
constexpr uint32_t kOpbCap = (1u << 1) | (1u << 2) | (1u << 4);
constexpr uint64_t kVersionMajor = 1, kVersionMinor = 0;
constexpr uint32_t kVectors = 2048;       // intr_num is 11 bits

// ---- Context tables (§4) ----
constexpr uint32_t kL2Entries = 512, kL1Entries = 128, kL1EntryBytes = 32;
constexpr uint32_t kTableBytes = 4096;
// CXT_L1_ENT
constexpr uint64_t kL1Vl = 1, kL1Ka = 2, kL1Pv = 4, kL1Rsvd0 = 0x38;
constexpr uint32_t kL1AkeyOffset = 8, kL1PasidOffset = 16, kL1OpbOffset = 20;
// CXT_CTL (64 bytes)
constexpr uint32_t kCxtCtlBytes = 64;
constexpr uint64_t kCtlVl = 1, kCtlRsvd0 = 2;  // qos [3:2], se [4], csa [5] are accepted as hints
constexpr uint32_t kCtlRingSizeOffset = 8, kCtlStsPtrOffset = 16, kCtlWiPtrOffset = 24;
// CXT_STS (16 bytes): byte 0 state [3:0], bytes 8–15 read_index
constexpr uint32_t kCxtStsBytes = 16, kStsReadIndexOffset = 8;
enum CxtState : uint8_t {
  kCxtStopSw = 0x0, kCxtRun = 0x1, kCxtStopgSw = 0x2, kCxtStopFn = 0x4, kCxtStopgFn = 0x6, kCxtErrFn = 0xF,
};
// AKEY_ENT (16 bytes)
constexpr uint32_t kAkeyBytes = 16;
constexpr uint16_t kAkeyVl = 1, kAkeyIv = 2, kAkeyPv = 4, kAkeyRsvd = 0x8000;
constexpr uint32_t kAkeyPasidMask = 0xFFFFF;
// The address space an access without a PASID reaches (AKey pv = 0 and L1 pv = 0): the
// function's own, where the driver DMA-maps its buffers. Here that is device memory, bound as
// this reserved slot of the address-space table; descriptor addresses are device addresses.
constexpr uint16_t kFunctionSpace = 0xFFFF;

// ---- Descriptors (§3) ----
constexpr uint32_t kDescBytes = 64;
constexpr uint32_t kOpVl = 1, kOpSe = 2, kOpFe = 4, kOpCh = 8, kOpCsr = 16, kOpRb = 32;
constexpr uint32_t kOpReserved = 0xF80000C0u;  // bits 7:6 and 31:27
constexpr uint32_t kSubtypeShift = 8, kTypeShift = 16;
constexpr uint16_t kGrpDmab = 0x001, kGrpAdmin = 0x002, kGrpIntr = 0x004;
constexpr uint16_t kGrpVendor = 0x700;  // Datamover's vendor group (core's DMV)
constexpr uint8_t kDmabNop = 0x01, kDmabWrtImm = 0x02, kDmabCopy = 0x03;
constexpr uint8_t kAdmCxtUpd = 0x01, kAdmCxtStart = 0x03, kAdmCxtStop = 0x04, kAdmSync = 0x06, kAdmCxtStartRs = 0x08;
constexpr uint8_t kIntr = 0x00;
// csb_ptr (bytes 56–63): bit 0 np, bits 4:1 reserved, bits 63:5 address >> 5
constexpr uint32_t kCsbOffset = 56;
constexpr uint64_t kCsbNp = 1, kCsbRsvd = 0x1E;
// Admin prefix: byte 5 vflags (bit 47 vf, bit 46 dv in CXT_START, bit 45 hs in CXT_STOP [? OLD])
constexpr uint8_t kVflagVf = 0x80, kVflagDv = 0x40, kVflagHs = 0x20;
constexpr uint8_t kSyncFilterMax = 4;  // CXT, STOP, AKEY, RKEY, FN
// DSC_CXT_UPD cflags (byte 4, the 2022 driver's bits 32–34): v2, v1, ct (L2 / L1 / CXT_CTL changed).
constexpr uint8_t kCxtUpdFlags = 0x07;

// ---- CST_BLK (Table 6-4, 32 bytes) ----
constexpr uint32_t kCstBytes = 32, kCstFlagsOffset = 8;
constexpr uint32_t kCstEr = 0x80000000u;
// Bytes 16–23 (reserved in SDXI) carry the result of Datamover vendor operations.
constexpr uint32_t kCstVendorResultOffset = 16;

// ---- Error log (§6.3) ----
constexpr uint32_t kErrEntryBytes = 64;
constexpr uint16_t kErrType = 0x7F7;
enum Step : uint8_t {
  kStepInternal = 1, kStepL2 = 2, kStepL1 = 3, kStepCxtCtl = 4, kStepCxtSts = 5, kStepWriteIndex = 6,
  kStepDescriptor = 7, kStepCstBlk = 8, kStepAtomic = 9, kStepDataBuffer = 10, kStepAkey = 11, kStepRkey = 12,
};
enum SubStep : uint8_t { kSubOther = 0, kSubTranslation = 1, kSubAccess = 2, kSubValidation = 3 };
enum Reaction : uint8_t { kReInformative = 0, kReContextStopped = 1, kReFunctionStopped = 2 };
// Vendor words of an entry (bytes 48–63) this function fills: Datamover completion status, errno.
constexpr uint32_t kErrVendorOffset = 48;

}  // namespace sdxi
