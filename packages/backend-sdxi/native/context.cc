#include "context.h"

namespace sdxi {

bool loadContext(const DeviceMemory& mem, uint64_t l2, uint16_t id, Context& out, Fault& fault) {
  auto fail = [&](uint8_t step, uint8_t sub) {
    fault = Fault{step, sub};
    return false;
  };
  // Context number: bits 15:7 index the L2 table, bits 6:0 the L1 table (§4.1).
  const uint8_t* l2t = mem.translate(l2 & ~uint64_t{0xFFF}, kTableBytes);
  if (l2t == nullptr) return fail(kStepL2, kSubTranslation);
  const uint64_t l2e = load<uint64_t>(l2t + (id >> 7) * 8);
  if ((l2e & 1) == 0 || (l2e & 0xFFE) != 0) return fail(kStepL2, kSubValidation);

  const uint8_t* l1t = mem.translate(l2e & ~uint64_t{0xFFF}, kTableBytes);
  if (l1t == nullptr) return fail(kStepL1, kSubTranslation);
  const uint8_t* l1 = l1t + (id & 0x7F) * kL1EntryBytes;
  const uint64_t l1q0 = load<uint64_t>(l1);
  const uint64_t l1q1 = load<uint64_t>(l1 + kL1AkeyOffset);
  const uint32_t l1pasid = load<uint32_t>(l1 + kL1PasidOffset);
  const uint64_t l1q3 = load<uint64_t>(l1 + 24);
  if ((l1q0 & kL1Vl) == 0 || (l1q0 & kL1Rsvd0) != 0 || (l1q1 & 0xFF0) != 0 || (l1pasid >> 24) != 0 || l1q3 != 0)
    return fail(kStepL1, kSubValidation);
  const uint64_t akeySz = l1q1 & 0xF;
  if (akeySz > kMaxAkeyCode) return fail(kStepL1, kSubValidation);
  const uint32_t akeyEntries = 256u << akeySz;
  uint8_t* akeys = mem.translate(l1q1 & ~uint64_t{0xFFF}, uint64_t{akeyEntries} * kAkeyBytes);
  if (akeys == nullptr) return fail(kStepL1, kSubTranslation);

  const uint8_t* ctl = mem.translate(l1q0 & ~uint64_t{0x3F}, kCxtCtlBytes);
  if (ctl == nullptr) return fail(kStepCxtCtl, kSubTranslation);
  const uint64_t c0 = load<uint64_t>(ctl);
  const uint32_t ringSize = load<uint32_t>(ctl + kCtlRingSizeOffset);
  const uint32_t c12 = load<uint32_t>(ctl + 12);
  const uint64_t stsPtr = load<uint64_t>(ctl + kCtlStsPtrOffset);
  const uint64_t wiPtr = load<uint64_t>(ctl + kCtlWiPtrOffset);
  bool reservedClear = (c0 & kCtlRsvd0) == 0 && c12 == 0 && (stsPtr & 0xF) == 0 && (wiPtr & 0x7) == 0;
  for (uint32_t off = 32; off < kCxtCtlBytes; off += 8) reservedClear = reservedClear && load<uint64_t>(ctl + off) == 0;
  if ((c0 & kCtlVl) == 0 || !reservedClear || ringSize < kMinRingEntries || ringSize > kMaxRingEntries)
    return fail(kStepCxtCtl, kSubValidation);
  uint8_t* ring = mem.translate(c0 & ~uint64_t{0x3F}, uint64_t{ringSize} * kDescBytes);
  if (ring == nullptr) return fail(kStepCxtCtl, kSubTranslation);
  uint8_t* sts = mem.translate(stsPtr, kCxtStsBytes);
  if (sts == nullptr) return fail(kStepCxtSts, kSubTranslation);
  uint8_t* wi = mem.translate(wiPtr, 8);
  if (wi == nullptr) return fail(kStepWriteIndex, kSubTranslation);

  out.id = id;
  out.ring = ring;
  out.entries = ringSize;
  out.sts = sts;
  out.writeIndex = wi;
  out.akeys = akeys;
  out.akeyEntries = akeyEntries;
  out.pasidValid = (l1q0 & kL1Pv) != 0;
  out.pasid = l1pasid & kAkeyPasidMask;
  out.opb = load<uint32_t>(l1 + kL1OpbOffset);
  out.read = load<uint64_t>(sts + kStsReadIndexOffset);
  return true;
}

}  // namespace sdxi
