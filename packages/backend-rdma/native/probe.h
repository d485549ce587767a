// probe(): what this machine offers the rdma backend (probe.cc).
#pragma once

#include <napi.h>

namespace dm {

Napi::Value Probe(const Napi::CallbackInfo& info);

}  // namespace dm
