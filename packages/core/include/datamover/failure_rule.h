// dm::FailureRule: after a descriptor of a work fails, that work's later fenced descriptors (all
// of its later ones when the work stops on error) complete NOT_RUN, detail
// DM_NOT_RUN_AFTER_FAILURE, without running (docs/engine-abi.md, "After a failure"). The work
// tag is what the producer armed the completion block's `result` with: read it after the slot is
// seen published and before the completion is written. One instance per ring, on its consumer
// thread; the TypeScript engines use core's FailureRule class, the same rule.
#pragma once

#include <cstdint>

#include <datamover/abi.h>
#include <datamover/descriptor.h>

namespace dm {

class FailureRule {
 public:
  static constexpr Outcome kHeldBack{DM_STATUS_NOT_RUN, 0, DM_NOT_RUN_AFTER_FAILURE};

  // Failed: anything but OK and NOT_RUN (a descriptor cancelled or held back did not fail).
  static bool failed(uint32_t status) { return status != DM_STATUS_OK && status != DM_STATUS_NOT_RUN; }
  // Each descriptor of such a work must see the outcome of the one before it, so an engine that
  // runs several at once (gds's cuFile batches, rdma's pipeline) starts these one by one.
  static bool stopsOnError(uint64_t tag) { return (tag & DM_WORK_TAG_STOP_ON_ERROR) != 0; }

  bool heldBack(uint64_t tag, uint32_t opcode) const {
    const uint32_t work = static_cast<uint32_t>(tag & DM_WORK_TAG_WORK_MASK);
    if (work == 0 || work != failedWork_) return false;
    return (opcode & (1u << DM_OPCODE_FENCE)) != 0 || stopsOnError(tag);
  }
  void settle(uint64_t tag, uint32_t status) {
    const uint32_t work = static_cast<uint32_t>(tag & DM_WORK_TAG_WORK_MASK);
    if (failed(status) && work != 0) failedWork_ = work;
  }

 private:
  // The work whose descriptor failed last (0: none). Works follow one another on a ring, so the
  // latest failure is the only one a later descriptor can belong to.
  uint32_t failedWork_ = 0;
};

}  // namespace dm
