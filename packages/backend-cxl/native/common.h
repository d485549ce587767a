// What the cxl addon's N-API entry points share: per-environment state, and core's argument
// checks and coded errors (datamover/napi_args.h) under this namespace.
#pragma once

#include <datamover/napi_args.h>
#include <napi.h>

namespace cxl {

// Per-environment state (main thread and each worker thread load the addon separately).
struct AddonData {
  Napi::FunctionReference mappingClass;
};

using dm::boolArg;
using dm::fail;
using dm::intArg;
using dm::kMaxSafeInteger;
using dm::uint8ArrayArg;

}  // namespace cxl
