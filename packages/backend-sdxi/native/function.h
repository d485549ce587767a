// The software SDXI function's behaviour, free of threads and N-API: the GSV/GSR state machine
// (NOTES §6.2), context scheduling, descriptor processing (processor.cc) and error reporting.
// The addon drives it from one thread; nothing here ever touches memory outside BAR0, the
// device-memory arena and the bound address spaces, whatever bytes those hold.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "context.h"
#include "error_log.h"
#include "executor.h"
#include "memory.h"

namespace sdxi {

// Where interrupts go (the addon: a thread-safe call into JavaScript).
class InterruptSink {
 public:
  virtual void raise(uint32_t vector) = 0;

 protected:
  ~InterruptSink() = default;
};

class Function {
 public:
  // `spaces`: the address spaces (PASID-indexed region table) data buffers are reached through.
  Function(uint8_t* bar0, DeviceMemory mem, dm::RegionTable& spaces, InterruptSink& irq);

  // One scheduling pass: acts on CTL0, then runs a burst of each running context. True when it
  // changed state or consumed a descriptor (the caller then calls it again without sleeping).
  bool step(dm::Executor& exec);
  // Whether step() would do anything now; cheap, for the idle loop.
  bool pending() const;

  struct Outcome;  // outcome.h

 private:
  // One buffer of a data operation: the address space it resolved to and the range it spans.
  struct Operand {
    bool used;
    uint16_t space;
    uint64_t addr;
    uint64_t len;
    bool write;
  };
  void setGsv(Gsv s);
  bool activate();
  void stopAll(CxtState s);
  bool runContexts(dm::Executor& exec);
  bool process(Context& c, dm::Executor& exec);
  bool ready(const Context& c) const;
  void retire(Context& c, uint8_t* slot, uint32_t op, uint8_t* cst, const Outcome& o);
  void detach(const Context& c);

  // processor.cc
  Outcome execute(Context& c, const uint8_t* d, dm::Executor& exec);
  Outcome dataOp(Context& c, const uint8_t* d, uint8_t subtype, dm::Executor& exec);
  Outcome vendorOp(Context& c, const uint8_t* d, uint8_t subtype, dm::Executor& exec);
  Outcome interrupt(Context& c, const uint8_t* d);
  Outcome admin(const uint8_t* d, uint8_t subtype);
  Outcome resolve(const Context& c, uint16_t akey, uint8_t b, Operand& op) const;
  Outcome run(const dm::Descriptor& x, dm::Executor& exec, const Operand (&ops)[2]);
  bool startContext(uint16_t id, Fault& fault);
  // CXT_UPD: a running context re-reads its L2 → L1 → CXT_CTL chain (false: it stopped in error).
  bool reloadContext(uint16_t id, Fault& fault);
  void stopContext(uint16_t id);
  void report(const ErrorRecord& r);

  Registers regs_;
  DeviceMemory mem_;
  dm::RegionTable& spaces_;
  InterruptSink& irq_;
  ErrorLog log_;
  Gsv gsv_ = kGsvStop;
  uint16_t maxCxt_ = 0;         // CTL2.max_cxt, read at activation
  uint32_t opbAvailable_ = 0;   // CTL2.opb_000_avl
  std::array<std::unique_ptr<Context>, kMaxCxt + 1> contexts_;  // loaded contexts, by number
  std::vector<uint16_t> running_;                               // client contexts in RUN
  bool adminRunning_ = false;
};

}  // namespace sdxi
