// What processing one descriptor produced: success (with a vendor result or an interrupt to
// raise) or the error record to log.
#pragma once

#include <cstdint>

#include "error_log.h"
#include "function.h"

namespace sdxi {

struct Function::Outcome {
  bool ok = true;
  ErrorRecord error;
  bool hasResult = false;  // Datamover vendor operations: the result goes into the CST_BLK
  uint64_t result = 0;
  int32_t vector = -1;     // DSC_INTR: the vector to raise once the descriptor is retired

  static Outcome fail(uint8_t step, uint8_t subStep, uint32_t status) {
    Outcome o;
    o.ok = false;
    o.error.step = step;
    o.error.subStep = subStep;
    o.error.status = status;
    return o;
  }
  Outcome& at(uint8_t buffer) {
    error.hasBuffer = true;
    error.buffer = buffer;
    return *this;
  }
};

}  // namespace sdxi
