// What the gds addon's files share: the `libraries` argument and the libraries' errors as
// JavaScript sees them (libraries.cc), and the functions module.cc exports, by the file that
// holds each. Layout: docs/gds.md, "Architecture".
#pragma once

#include <string>
#include <vector>

#include <datamover/napi_args.h>
#include <napi.h>

#include "loader.h"

namespace gds {

// The CUDA ABI (cuda_abi.h) by its short names: cufile::, cudart::, cu::.
using namespace gdsabi;
using dm::boolArg;
using dm::fail;
using dm::intArg;
using dm::kMaxSafeInteger;
using dm::uint8ArrayArg;

// libraries.cc
[[noreturn]] void failLibrary(Napi::Env env, const Api& api, const char* library, int code, int cuErr,
                              const std::string& what);
const Api& apiArg(Napi::Env env, const Napi::Value& v);
const Api& usableApi(Napi::Env env, const Napi::Value& v);
Napi::Array strings(Napi::Env env, const std::vector<std::string>& v);
Napi::Object libraryError(Napi::Env env, const Api& api, const char* library, int code, int cuErr = 0);
Napi::Value ErrorText(const Napi::CallbackInfo& info);

// probe.cc
Napi::Value Probe(const Napi::CallbackInfo& info);

// memory.cc
Napi::Value AllocateGpu(const Napi::CallbackInfo& info);
Napi::Value ImportGpu(const Napi::CallbackInfo& info);
Napi::Value AllocatePinned(const Napi::CallbackInfo& info);

// abi_info.cc
Napi::Value AbiLayout(const Napi::CallbackInfo& info);
Napi::Value Constants(const Napi::CallbackInfo& info);

}  // namespace gds
