// memoryAddress(view: Uint8Array): number — the address of the view's first byte, which an engine
// session offers as EngineSession.memoryAddress so the Mover judges overlap by address before
// anything is queued (two SharedArrayBuffer objects over one memory alias). Only ever compared in
// JS: no native call takes an address from JS. A user-space address fits a double exactly.
#pragma once

#include <napi.h>

#include <cstdint>

#include <datamover/napi_args.h>

namespace dm {

inline Napi::Value MemoryAddress(const Napi::CallbackInfo& info) {
  const Napi::Uint8Array view = uint8ArrayArg(info.Env(), info[0], "view");
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(view.Data())));
}

}  // namespace dm
