// The host engine (host_engine.cc): the kit's ring consumer over the kit's executor, with host
// memory and files as regions. An addon exports it under the name it chooses:
//   exports.Set("Engine", dm::defineHostEngine(env, "Engine"));
// JS: new Engine(ring, onProgress, { spinMicros?, ntThreshold? }) with registerHost(index, view,
// writable), registerFile(index, fd, directFd, fileOffset, length, writable), deregister(index),
// stats(), runInline(), doorbell(), ref(), unref(), close(); static info() and abiOffsets(). Core's
// HostEngineSession (src/host-engine.ts) is its EngineSession.
#pragma once

#include <napi.h>

namespace dm {

Napi::Function defineHostEngine(Napi::Env env, const char* name);

// allocateAligned(size, alignment): zeroed memory at an `alignment`-aligned address (a power of
// two) as an external ArrayBuffer, unmapped when collected, after every engine holding it stopped.
Napi::Value AllocateAligned(const Napi::CallbackInfo& info);

}  // namespace dm
