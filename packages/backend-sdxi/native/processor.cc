// Descriptor processing: validation of every opcode bit and reserved field, AKey resolution,
// and execution. Data movement runs through the soft backend's Executor (executor.cc), which
// checks every byte range against the bound address space it names; admin descriptors start,
// stop and synchronise contexts; DSC_INTR raises an interrupt.
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <utility>

#include "outcome.h"

namespace sdxi {
namespace {

template <class T>
T field(const uint8_t* d, unsigned offset) {
  T v;
  std::memcpy(&v, d + offset, sizeof v);
  return v;
}

// Whether every byte range [from, to) listed is zero (reserved fields must be written as 0).
bool clear(const uint8_t* d, std::initializer_list<std::pair<unsigned, unsigned>> ranges) {
  static constexpr uint8_t kZeros[kDescBytes] = {};
  for (const auto& [from, to] : ranges)
    if (std::memcmp(d + from, kZeros, to - from) != 0) return false;
  return true;
}

using Outcome = Function::Outcome;

Outcome invalid(uint8_t step = kStepDescriptor) { return Outcome::fail(step, kSubValidation, DM_STATUS_BAD_DESCRIPTOR); }

// A target context of an admin command whose structures are unusable: the admin context
// carries on (re = 0). The entry names the admin descriptor (cxt_num 0, its dsc_index); the
// target's number is in the detail word.
Outcome targetFault(uint16_t id, const Fault& f) {
  Outcome o = Outcome::fail(f.step, f.subStep, DM_STATUS_BAD_DESCRIPTOR);
  o.error.reaction = kReInformative;
  o.error.detail = id;
  return o;
}

}  // namespace

Outcome Function::execute(Context& c, const uint8_t* d, dm::Executor& exec) {
  const uint32_t op = field<uint32_t>(d, 0);
  const auto subtype = static_cast<uint8_t>(op >> kSubtypeShift);
  const auto group = static_cast<uint16_t>((op >> kTypeShift) & 0x7FF);
  // se asks for ordering this function always gives (one descriptor at a time, in ring order,
  // which also honours fe). csr selects the completion-status mode, atomic or simple (issue 18,
  // from the driver sources): both are accepted and retire() decrements signal either way,
  // which for a block armed with 1, as the driver arms it, is the value both modes leave.
  // ch and rb are not implemented, so they are refused.
  if ((op & (kOpReserved | kOpCh | kOpRb)) != 0) return invalid();
  if (group == kGrpVendor) return vendorOp(c, d, subtype, exec);
  if (group >= 32 || (c.opb & opbAvailable_ & (1u << group)) == 0) return invalid();
  switch (group) {
    case kGrpDmab: return dataOp(c, d, subtype, exec);
    case kGrpIntr: return subtype == kIntr ? interrupt(c, d) : invalid();
    case kGrpAdmin: return c.id == 0 ? admin(d, subtype) : invalid();
    default: return invalid();
  }
}

// Maps an AKey of context `c` to the address space buffer `b` is reached through (Table 3-7):
// the AKey's PASID when pv = 1, else the context's default: L1.cxt_pasid when L1.pv = 1, else
// no PASID, the function's own address space (what the Linux driver's transfer AKey, vl only,
// asks for). Without a PASID the address is a device address, rebased here to device memory.
Outcome Function::resolve(const Context& c, uint16_t akey, uint8_t b, Operand& op) const {
  if (akey >= c.akeyEntries) return Outcome::fail(kStepAkey, kSubTranslation, DM_STATUS_BAD_AKEY).at(b);
  const uint8_t* e = c.akeys + size_t{akey} * kAkeyBytes;
  const uint64_t lo = load<uint64_t>(e), hi = load<uint64_t>(e + 8);
  const auto flags = static_cast<uint16_t>(lo);
  const auto tgtSfunc = static_cast<uint16_t>(lo >> 16);
  const auto pasidWord = static_cast<uint32_t>(lo >> 32);
  // Reserved: flags bit 15, pasid bits 28:20, bytes 10–11 and 14–15. Only local targets: this
  // function has no RKey table (CAP1.rkey_cap = 0).
  const bool valid = (flags & kAkeyVl) != 0 && (flags & kAkeyRsvd) == 0 && tgtSfunc == 0 &&
                     (pasidWord & 0x1FF00000u) == 0 && static_cast<uint16_t>(hi >> 16) == 0 &&
                     static_cast<uint16_t>(hi >> 48) == 0;
  if (!valid) return Outcome::fail(kStepAkey, kSubValidation, DM_STATUS_BAD_AKEY).at(b);
  const bool hasPasid = (flags & kAkeyPv) != 0 || c.pasidValid;
  if (!hasPasid) {
    if (op.addr < DeviceMemory::kBase) return Outcome::fail(kStepDataBuffer, kSubTranslation, DM_STATUS_OUT_OF_BOUNDS).at(b);
    op.space = kFunctionSpace;
    op.addr -= DeviceMemory::kBase;
    return Outcome{};
  }
  const uint32_t pasid = (flags & kAkeyPv) != 0 ? pasidWord & kAkeyPasidMask : c.pasid;
  // Only PASIDs inside the address-space table, below the function's own slot, are ever bound.
  if (pasid >= kFunctionSpace) return Outcome::fail(kStepDataBuffer, kSubTranslation, DM_STATUS_BAD_AKEY).at(b);
  op.space = static_cast<uint16_t>(pasid);
  return Outcome{};
}

// Runs a descriptor (in the executor's format, AKeys replaced by address spaces) and maps a
// failure to the processing step and buffer it belongs to.
Outcome Function::run(const dm::Descriptor& x, dm::Executor& exec, const Operand (&ops)[2]) {
  const dm::Outcome o = exec.run(x);
  if (o.status == DM_STATUS_OK) {
    Outcome ok;
    ok.result = o.result;
    return ok;
  }
  uint8_t step = kStepDataBuffer, sub;
  switch (o.status) {
    case DM_STATUS_BAD_AKEY:  // no address space bound to that PASID
    case DM_STATUS_OUT_OF_BOUNDS: sub = kSubTranslation; break;
    case DM_STATUS_ACCESS_DENIED:
    case DM_STATUS_IO_ERROR:
    case DM_STATUS_SHORT_IO: sub = kSubAccess; break;
    case DM_STATUS_OVERLAP: sub = kSubValidation; break;
    default: step = kStepDescriptor, sub = kSubValidation; break;
  }
  Outcome f = Outcome::fail(step, sub, o.status);
  f.error.detail = o.detail;
  if (step != kStepDataBuffer || o.status == DM_STATUS_OVERLAP) return f;
  // Which buffer: the first operand, in the executor's checking order, whose range fails.
  for (uint8_t b = 0; b < 2; ++b) {
    if (!ops[b].used) continue;
    dm::Region* r = spaces_.acquire(ops[b].space);
    const bool bad = r == nullptr || ops[b].addr > r->length || ops[b].len > r->length - ops[b].addr ||
                     (ops[b].write && !r->writable);
    if (r != nullptr) spaces_.release(r);
    if (bad) return f.at(b);
  }
  return f;
}

Outcome Function::dataOp(Context& c, const uint8_t* d, uint8_t subtype, dm::Executor& exec) {
  dm::Descriptor x{};
  Operand ops[2] = {};
  switch (subtype) {
    case kDmabNop:  // Table 6-6: bytes 4–55 reserved
      return clear(d, {{4, 56}}) ? Outcome{} : invalid();
    case kDmabCopy: {  // Table 6-8; attr (byte 8) is a hint this function ignores
      if (!clear(d, {{9, 12}, {32, 56}})) return invalid();
      const uint64_t n = uint64_t{field<uint32_t>(d, 4)} + 1;
      ops[0] = Operand{true, 0, field<uint64_t>(d, 16), n, false};
      ops[1] = Operand{true, 0, field<uint64_t>(d, 24), n, true};
      for (uint8_t b = 0; b < 2; ++b) {
        Outcome o = resolve(c, field<uint16_t>(d, 12 + 2 * b), b, ops[b]);
        if (!o.ok) return o;
      }
      x.copy.opcode = DM_OPCODE_COPY | kOpVl;
      x.copy.size = field<uint32_t>(d, 4);
      x.copy.akey0 = ops[0].space;
      x.copy.akey1 = ops[1].space;
      x.copy.addr0 = ops[0].addr;
      x.copy.addr1 = ops[1].addr;
      return run(x, exec, ops);
    }
    case kDmabWrtImm: {  // assumed layout (docs/sdxi.md): size−1 @4, akey @12, addr @16, imm @24
      if (!clear(d, {{9, 12}, {14, 16}, {32, 56}})) return invalid();
      const uint64_t n = uint64_t{field<uint32_t>(d, 4)} + 1;
      if (n != 1 && n != 2 && n != 4 && n != 8) return invalid();
      ops[0] = Operand{true, 0, field<uint64_t>(d, 16), n, true};
      Outcome o = resolve(c, field<uint16_t>(d, 12), 0, ops[0]);
      if (!o.ok) return o;
      x.writeImm.opcode = DM_OPCODE_WRITE_IMM | kOpVl;
      x.writeImm.width = static_cast<uint8_t>(n);
      x.writeImm.akey1 = ops[0].space;
      x.writeImm.addr1 = ops[0].addr;
      x.writeImm.value = field<uint64_t>(d, 24);
      return run(x, exec, ops);
    }
    default: return invalid();  // REP_COPY and unknown subtypes
  }
}

// Datamover's vendor group: fill, compare, crc32c and write-immediate in core's layout
// (docs/engine-abi.md), executed exactly as the soft engine executes them.
Outcome Function::vendorOp(Context& c, const uint8_t* d, uint8_t subtype, dm::Executor& exec) {
  dm::Descriptor x{};
  std::memcpy(x.bytes, d, kDescBytes);
  x.nop.opcode = (field<uint32_t>(d, 0) & DM_OPCODE_KIND_MASK) | kOpVl;
  Operand ops[2] = {};
  const uint64_t n = uint64_t{field<uint32_t>(d, 4)} + 1;
  bool reservedClear;
  switch (x.nop.opcode & DM_OPCODE_KIND_MASK) {
    case DM_OPCODE_FILL:
      reservedClear = clear(d, {{9, 14}, {16, 24}, {40, 56}});
      ops[1] = Operand{true, 0, x.fill.addr1, n, true};
      break;
    case DM_OPCODE_COMPARE:
      reservedClear = clear(d, {{8, 12}, {32, 56}});
      ops[0] = Operand{true, 0, x.compare.addr0, n, false};
      ops[1] = Operand{true, 0, x.compare.addr1, n, false};
      break;
    case DM_OPCODE_CRC32C:
      reservedClear = clear(d, {{8, 12}, {14, 16}, {24, 32}, {36, 56}});
      ops[0] = Operand{true, 0, x.crc32c.addr0, n, false};
      break;
    case DM_OPCODE_WRITE_IMM:
      reservedClear = clear(d, {{4, 8}, {9, 14}, {16, 24}, {40, 56}});
      ops[1] = Operand{true, 0, x.writeImm.addr1, x.writeImm.width, true};
      break;
    default: return invalid();
  }
  if (!reservedClear) return invalid();
  for (uint8_t b = 0; b < 2; ++b) {
    if (!ops[b].used) continue;
    Outcome o = resolve(c, field<uint16_t>(d, 12 + 2 * b), b, ops[b]);
    if (!o.ok) return o;
  }
  // akey0 / akey1 and addr0 / addr1 sit at the same offsets in every vendor layout.
  if (ops[0].used) x.copy.akey0 = ops[0].space, x.copy.addr0 = ops[0].addr;
  if (ops[1].used) x.copy.akey1 = ops[1].space, x.copy.addr1 = ops[1].addr;
  Outcome o = run(x, exec, ops);
  o.hasResult = o.ok;
  return o;
}

// DSC_INTR (Table 6-12): raise the vector named by the AKey entry (vl, iv, intr_num).
Outcome Function::interrupt(Context& c, const uint8_t* d) {
  if (!clear(d, {{4, 12}, {14, 56}})) return invalid();
  const uint16_t akey = field<uint16_t>(d, 12);
  if (akey >= c.akeyEntries) return Outcome::fail(kStepAkey, kSubTranslation, DM_STATUS_BAD_AKEY);
  const uint8_t* e = c.akeys + size_t{akey} * kAkeyBytes;
  const uint16_t flags = load<uint16_t>(e);
  // intr_num is meaningful only for a local target (tgt_sfunc 0).
  if ((flags & (kAkeyVl | kAkeyIv)) != (kAkeyVl | kAkeyIv) || (flags & kAkeyRsvd) != 0 || load<uint16_t>(e + 2) != 0)
    return Outcome::fail(kStepAkey, kSubValidation, DM_STATUS_BAD_AKEY);
  Outcome o;
  o.vector = (flags >> 4) & 0x7FF;
  return o;
}

// Admin group (§3.6), on context 0 only.
Outcome Function::admin(const uint8_t* d, uint8_t subtype) {
  const uint8_t vflags = d[5];
  const uint16_t first = field<uint16_t>(d, 8), last = field<uint16_t>(d, 10);
  // No SR-IOV: vf must be clear and vf_num zero. Context 0 is started and stopped by the
  // function's state, never by CXT_START / CXT_STOP; CXT_UPD and SYNC may name it.
  const bool span = (vflags & kVflagVf) == 0 && field<uint16_t>(d, 6) == 0 && first <= last && last <= maxCxt_;
  const bool clients = span && first >= 1;
  switch (subtype) {
    case kAdmCxtStart:
    case kAdmCxtStartRs: {  // Table 6-14; the "RS" start is treated as a normal start [?]
      if (!clients || d[4] != 0 || (vflags & ~(kVflagVf | kVflagDv)) != 0 || !clear(d, {{12, 16}, {24, 56}})) return invalid();
      for (uint32_t id = first; id <= last; ++id) {
        Fault f;
        if (!startContext(static_cast<uint16_t>(id), f)) return targetFault(static_cast<uint16_t>(id), f);
      }
      return Outcome{};
    }
    case kAdmCxtStop:  // Table 6-15
      if (!clients || d[4] != 0 || (vflags & ~(kVflagVf | kVflagHs)) != 0 || !clear(d, {{12, 56}})) return invalid();
      for (uint32_t id = first; id <= last; ++id) stopContext(static_cast<uint16_t>(id));
      return Outcome{};
    case kAdmCxtUpd: {  // the 2022 driver's layout: v2 / v1 / ct in byte 4, the context range
      if (!span || (d[4] & ~kCxtUpdFlags) != 0 || (vflags & ~kVflagVf) != 0 || !clear(d, {{12, 56}})) return invalid();
      // A stopped context is read afresh at its CXT_START, so only running client contexts
      // hold copies to drop. The admin context's own tables are read once, at activation.
      for (uint32_t id = std::max<uint32_t>(first, 1); id <= last; ++id) {
        Fault f;
        if (!reloadContext(static_cast<uint16_t>(id), f)) return targetFault(static_cast<uint16_t>(id), f);
      }
      return Outcome{};
    }
    case kAdmSync: {  // Table 6-22
      const uint8_t filter = d[4] & 7;
      const bool keys = field<uint16_t>(d, 12) <= field<uint16_t>(d, 14);
      if (!span || (d[4] & ~7) != 0 || filter > kSyncFilterMax || (vflags & ~kVflagVf) != 0 || !keys || !clear(d, {{16, 56}}))
        return invalid();
      // Nothing is cached that a SYNC must flush: AKey entries are read for every descriptor, a
      // context's configuration at its CXT_START or CXT_UPD, and a stop finishes within
      // CXT_STOP. Being processed in ring order is what makes it a barrier.
      return Outcome{};
    }
    default: return invalid();  // FN_UPD, AKEY_UPD, admin INTR: layouts unknown
  }
}

}  // namespace sdxi
