// GpuBuffer: the JavaScript handle on device memory, allocated or imported by memory.cc.
#pragma once

#include <memory>

#include <napi.h>

#include "addon.h"
#include "executor.h"

namespace gds {

// Per-environment data: the GpuBuffer class, for Wrap and the InstanceOf check in From.
struct AddonData {
  Napi::FunctionReference gpuBuffer;
};

class GpuBuffer : public Napi::ObjectWrap<GpuBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "GpuBuffer",
                       {
                           InstanceMethod<&GpuBuffer::Read>("read"),
                           InstanceMethod<&GpuBuffer::Write>("write"),
                           InstanceMethod<&GpuBuffer::Release>("release"),
                           InstanceAccessor<&GpuBuffer::Size>("size"),
                           InstanceAccessor<&GpuBuffer::Device>("device"),
                           InstanceAccessor<&GpuBuffer::Owned>("owned"),
                           InstanceAccessor<&GpuBuffer::Released>("released"),
                           InstanceAccessor<&GpuBuffer::Pointer>("pointer"),
                       });
  }
  explicit GpuBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GpuBuffer>(info) {}

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<DeviceMemory> mem) {
    Napi::Object o = env.GetInstanceData<AddonData>()->gpuBuffer.New({});
    Unwrap(o)->mem_ = std::move(mem);
    return o;
  }
  // The device memory behind a JS value, after checking it is one of ours and still alive.
  static std::shared_ptr<DeviceMemory> From(Napi::Env env, const Napi::Value& v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->gpuBuffer.Value()))
      fail(env, "INVALID_ARGUMENT", "expected a GpuBuffer of this addon");
    GpuBuffer* b = Unwrap(v.As<Napi::Object>());
    if (!b->mem_) fail(env, "REGION_RELEASED", "the GpuBuffer was released");
    return b->mem_;
  }

 private:
  DeviceMemory& live(Napi::Env env) {
    if (!mem_) fail(env, "REGION_RELEASED", "the GpuBuffer was released");
    return *mem_;
  }
  // Out-of-band access (tests, fixtures, interop): a synchronous cudaMemcpy on this thread.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DeviceMemory& m = live(env);
    const auto off = static_cast<uint64_t>(intArg(env, info[0], 0, static_cast<int64_t>(m.size), "offset"));
    const auto len = static_cast<uint64_t>(intArg(env, info[1], 0, static_cast<int64_t>(m.size - off), "length"));
    Napi::Uint8Array out = Napi::Uint8Array::New(env, len);
    if (len == 0) return out;
    int e = m.api->cudaSetDevice(m.device);
    if (e == cudart::kSuccess) e = m.api->cudaMemcpy(out.Data(), reinterpret_cast<const void*>(m.start + off), len, cudart::kMemcpyDeviceToHost);
    if (e != cudart::kSuccess) failLibrary(env, *m.api, "cudart", e, 0, "GpuBuffer.read: cudaMemcpy");
    return out;
  }
  void Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DeviceMemory& m = live(env);
    Napi::Uint8Array data = uint8ArrayArg(env, info[0], "data");
    const auto off = static_cast<uint64_t>(intArg(env, info[1], 0, static_cast<int64_t>(m.size), "offset"));
    if (data.ByteLength() > m.size - off) fail(env, "OUT_OF_BOUNDS", "GpuBuffer.write: data runs past the buffer");
    if (data.ByteLength() == 0) return;
    int e = m.api->cudaSetDevice(m.device);
    if (e == cudart::kSuccess)
      e = m.api->cudaMemcpy(reinterpret_cast<void*>(m.start + off), data.Data(), data.ByteLength(), cudart::kMemcpyHostToDevice);
    if (e != cudart::kSuccess) failLibrary(env, *m.api, "cudart", e, 0, "GpuBuffer.write: cudaMemcpy");
  }
  // Drops this handle's reference: an owned allocation is freed once no engine region holds it.
  void Release(const Napi::CallbackInfo&) { mem_.reset(); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mem_ ? static_cast<double>(mem_->size) : 0); }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mem_ ? mem_->device : -1); }
  Napi::Value Owned(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), mem_ && mem_->owned); }
  Napi::Value Released(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !mem_); }
  // The device address, for handing this memory to another framework (reading a pointer out is
  // harmless; the only pointer ever taken *in* is importGpu's, and that one is validated).
  Napi::Value Pointer(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(mem_ ? mem_->start : 0));
  }

  std::shared_ptr<DeviceMemory> mem_;
};

}  // namespace gds
