#include "function.h"

#include <algorithm>
#include <cstring>

#include "outcome.h"

namespace sdxi {
namespace {
// Descriptors one context runs before the next gets its turn.
constexpr unsigned kBurst = 64;
}  // namespace

Function::Function(uint8_t* bar0, DeviceMemory mem, dm::RegionTable& spaces, InterruptSink& irq)
    : regs_(bar0), mem_(mem), spaces_(spaces), irq_(irq), log_(regs_, mem_) {
  // The function's identity and limits (read-only registers), then STOP.
  regs_.write(kRegCap0, kDbStrideCode << 20 | kMaxRingCode << 24);
  regs_.write(kRegCap1, kMaxBufferCode | kCap1Mmio64 | kMaxErrlogCode << 8 | kMaxAkeyCode << 12 | uint64_t{kMaxCxt} << 16 |
                            uint64_t{kOpbCap} << 32);
  regs_.write(kRegVersion, kVersionMajor << 16 | kVersionMinor);
  // Accesses without a PASID reach device memory (spec.h, kFunctionSpace).
  auto own = std::make_unique<dm::Region>();
  own->writable = true;
  own->base = mem_.host();
  own->length = mem_.size();
  spaces_.add(kFunctionSpace, std::move(own));
  setGsv(kGsvStop);
}

void Function::setGsv(Gsv s) {
  gsv_ = s;
  regs_.write(kRegSts0, s);
}

bool Function::step(dm::Executor& exec) {
  const uint64_t gsr = regs_.read(kRegCtl0) & 3;
  switch (gsv_) {
    case kGsvStop:
      if (gsr != kGsrActive) return false;  // RESET or a stop while stopped: nothing to do
      setGsv(kGsvInit);
      setGsv(activate() ? kGsvActive : kGsvError);
      return true;
    case kGsvActive:
      if (gsr == kGsrActive) return runContexts(exec);
      // Between descriptors nothing is in flight, so a soft stop and a hard stop (or a RESET)
      // end alike; only the transient state differs.
      setGsv(gsr == kGsrStopSf ? kGsvStopgSf : kGsvStopgHd);
      stopAll(kCxtStopFn);
      setGsv(kGsvStop);
      return true;
    case kGsvError:
      if (gsr != kGsrReset) return false;
      stopAll(kCxtStopFn);
      setGsv(kGsvStop);
      return true;
    default:
      return false;  // INIT and the stopping states never outlive a step
  }
}

bool Function::pending() const {
  const uint64_t gsr = regs_.read(kRegCtl0) & 3;
  switch (gsv_) {
    case kGsvStop: return gsr == kGsrActive;
    case kGsvError: return gsr == kGsrReset;
    case kGsvActive:
      if (gsr != kGsrActive) return true;
      if (adminRunning_ && ready(*contexts_[0])) return true;
      return std::any_of(running_.begin(), running_.end(), [&](uint16_t id) { return ready(*contexts_[id]); });
    default: return false;
  }
}

// Activation (§6.2 steps 3–6 as the function sees them): CTL2 within CAP1, the admin context
// loadable through CXT_L2, and its CXT_STS set to RUN by software.
bool Function::activate() {
  const uint64_t ctl2 = regs_.read(kRegCtl2);
  ErrorRecord r;
  r.reaction = kReFunctionStopped;
  r.status = DM_STATUS_BAD_DESCRIPTOR;
  const uint64_t maxCxt = (ctl2 >> 16) & 0xFFFF;
  const auto opb = static_cast<uint32_t>(ctl2 >> 32);
  if ((ctl2 & 0xF) > kMaxBufferCode || (ctl2 & 0xFF0) != 0 || ((ctl2 >> 12) & 0xF) > kMaxAkeyCode || maxCxt > kMaxCxt ||
      (opb & ~kOpbCap) != 0) {
    r.subStep = kSubValidation;
    report(r);
    return false;
  }
  maxCxt_ = static_cast<uint16_t>(maxCxt);
  opbAvailable_ = opb;
  auto admin = std::make_unique<Context>();
  Fault f;
  const bool loaded = loadContext(mem_, regs_.read(kRegCxtL2), 0, *admin, f);
  if (!loaded || (load<uint8_t>(admin->sts) & 0xF) != kCxtRun) {
    r.step = loaded ? uint8_t{kStepCxtSts} : f.step;
    r.subStep = loaded ? uint8_t{kSubValidation} : f.subStep;
    r.hasContext = true;
    report(r);
    return false;
  }
  contexts_[0] = std::move(admin);
  adminRunning_ = true;
  return true;
}

void Function::stopAll(CxtState s) {
  if (adminRunning_) contexts_[0]->setState(s);
  for (uint16_t id : running_) contexts_[id]->setState(s);
  adminRunning_ = false;
  running_.clear();
  for (auto& c : contexts_) c.reset();
}

bool Function::runContexts(dm::Executor& exec) {
  bool worked = adminRunning_ && process(*contexts_[0], exec);
  for (size_t k = 0; k < running_.size();) {
    const uint16_t id = running_[k];
    worked = process(*contexts_[id], exec) || worked;
    if (k < running_.size() && running_[k] == id) ++k;  // else it stopped: k now names the next
  }
  return worked;
}

bool Function::ready(const Context& c) const {
  const uint64_t w = load<uint64_t>(c.writeIndex);
  if (w == c.read) return false;
  if (w - c.read > c.entries) return true;  // a Write_Index fault to report
  return (load<uint32_t>(c.slot(c.read)) & kOpVl) != 0;
}

void Function::detach(const Context& c) {
  if (c.id == 0) adminRunning_ = false;
  else running_.erase(std::remove(running_.begin(), running_.end(), c.id), running_.end());
}

void Function::report(const ErrorRecord& r) {
  if (log_.append(r)) irq_.raise(0);  // vector 0: error-log interrupts [I, as the driver]
}

// Completes a consumed descriptor: CST_BLK (er, vendor result, signal decrement), the slot's
// valid bit cleared (so a stale one is never taken for a new descriptor after the ring wraps),
// then Read_Index.
void Function::retire(Context& c, uint8_t* slot, uint32_t op, uint8_t* cst, const Outcome& o) {
  if (cst != nullptr) {
    if (!o.ok) __atomic_fetch_or(reinterpret_cast<uint32_t*>(cst + kCstFlagsOffset), kCstEr, __ATOMIC_RELAXED);
    if (o.hasResult) store<uint64_t>(cst + kCstVendorResultOffset, o.result);
    // The function decrements signal [I: NOTES §6.1]; the producer armed it with 1.
    __atomic_fetch_sub(reinterpret_cast<uint64_t*>(cst), uint64_t{1}, __ATOMIC_RELEASE);
  }
  store<uint32_t>(slot, op & ~kOpVl);
  ++c.read;
  c.publishRead();
}

bool Function::process(Context& c, dm::Executor& exec) {
  const uint64_t w = load<uint64_t>(c.writeIndex);
  if (w == c.read) return false;
  if (w - c.read > c.entries) {  // behind Read_Index, or more than a ring ahead
    ErrorRecord r;
    r.step = kStepWriteIndex;
    r.subStep = kSubValidation;
    r.hasContext = true;
    r.context = c.id;
    r.status = DM_STATUS_BAD_DESCRIPTOR;
    c.setState(kCxtErrFn);
    detach(c);
    report(r);
    return true;
  }
  for (unsigned n = 0; n < kBurst && c.read != w; ++n) {
    uint8_t* slot = c.slot(c.read);
    const uint32_t op = load<uint32_t>(slot);
    if ((op & kOpVl) == 0) return n > 0;  // not published yet: wait, never skip
    // A private copy: the producer's slot is read once, so what is checked is what runs.
    alignas(8) uint8_t d[kDescBytes];
    std::memcpy(d, slot, kDescBytes);
    std::memcpy(d, &op, sizeof op);
    uint64_t csb;
    std::memcpy(&csb, d + kCsbOffset, sizeof csb);
    uint8_t* cst = nullptr;
    Outcome o;
    if ((csb & kCsbNp) != 0) {
      if (csb != kCsbNp) o = Outcome::fail(kStepCstBlk, kSubValidation, DM_STATUS_BAD_DESCRIPTOR);
    } else if ((csb & kCsbRsvd) != 0) {
      o = Outcome::fail(kStepCstBlk, kSubValidation, DM_STATUS_BAD_DESCRIPTOR);
    } else if ((cst = mem_.translate(csb, kCstBytes)) == nullptr) {
      o = Outcome::fail(kStepCstBlk, kSubTranslation, DM_STATUS_BAD_DESCRIPTOR);
    }
    if (o.ok) o = execute(c, d, exec);
    if (o.ok) {
      retire(c, slot, op, cst, o);
      if (o.vector >= 0) irq_.raise(static_cast<uint32_t>(o.vector));
      continue;
    }
    // The entry is logged and the context state set before the CST_BLK completes, so software
    // that sees `er` finds both.
    ErrorRecord r = o.error;
    r.hasContext = true;
    r.context = c.id;
    r.hasIndex = true;
    r.index = c.read;
    const bool stop = r.reaction != kReInformative;
    const bool irq = log_.append(r);
    if (stop) c.setState(kCxtErrFn);
    retire(c, slot, op, cst, o);
    if (irq) irq_.raise(0);
    if (stop) {
      detach(c);
      return true;
    }
  }
  return true;
}

bool Function::startContext(uint16_t id, Fault& fault) {
  if (std::find(running_.begin(), running_.end(), id) != running_.end()) return true;
  auto c = std::make_unique<Context>();
  if (!loadContext(mem_, regs_.read(kRegCxtL2), id, *c, fault)) return false;
  c->setState(kCxtRun);  // resumes at the Read_Index in its CXT_STS
  contexts_[id] = std::move(c);
  running_.push_back(id);
  return true;
}

bool Function::reloadContext(uint16_t id, Fault& fault) {
  if (std::find(running_.begin(), running_.end(), id) == running_.end()) return true;
  auto c = std::make_unique<Context>();
  Context& old = *contexts_[id];
  if (!loadContext(mem_, regs_.read(kRegCxtL2), id, *c, fault)) {
    // Its configuration is gone while it runs: the context stops in error.
    old.setState(kCxtErrFn);
    detach(old);
    contexts_[id].reset();
    return false;
  }
  c->read = old.read;  // Read_Index is the function's while the context runs
  contexts_[id] = std::move(c);
  return true;
}

void Function::stopContext(uint16_t id) {
  Context* c = contexts_[id].get();
  if (c == nullptr) return;  // never started here: its CXT_STS stays as software left it
  detach(*c);
  c->setState(kCxtStopSw);
  contexts_[id].reset();
}

}  // namespace sdxi
