// The struct layouts and the names / statuses the TypeScript side checks itself against.
#include <cstddef>

#include "addon.h"
#include "executor.h"

namespace gds {

// The layouts of the declared cuFile structs, for test/abi.test.ts.
Napi::Value AbiLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto obj = [&](std::initializer_list<std::pair<const char*, size_t>> fields) {
    Napi::Object o = Napi::Object::New(env);
    for (const auto& [name, value] : fields) o.Set(name, Napi::Number::New(env, static_cast<double>(value)));
    return o;
  };
  Napi::Object o = Napi::Object::New(env);
  using P = cufile::IOParams;
  o.Set("ioParams", obj({{"size", sizeof(P)}, {"mode", offsetof(P, mode)}, {"devPtrBase", offsetof(P, u.batch.devPtr_base)},
                         {"fileOffset", offsetof(P, u.batch.file_offset)}, {"devPtrOffset", offsetof(P, u.batch.devPtr_offset)},
                         {"length", offsetof(P, u.batch.size)}, {"fh", offsetof(P, fh)}, {"opcode", offsetof(P, opcode)},
                         {"cookie", offsetof(P, cookie)}}));
  using E = cufile::IOEvents;
  o.Set("ioEvents", obj({{"size", sizeof(E)}, {"cookie", offsetof(E, cookie)}, {"status", offsetof(E, status)}, {"ret", offsetof(E, ret)}}));
  using D = cufile::Descr;
  o.Set("descr", obj({{"size", sizeof(D)}, {"type", offsetof(D, type)}, {"fd", offsetof(D, handle)}, {"fsOps", offsetof(D, fs_ops)}}));
  using R = cufile::Error;
  o.Set("error", obj({{"size", sizeof(R)}, {"err", offsetof(R, err)}, {"cuErr", offsetof(R, cu_err)}}));
  using Q = cufile::DrvProps;
  o.Set("drvProps", obj({{"size", sizeof(Q)}, {"majorVersion", offsetof(Q, nvfs.major_version)}, {"minorVersion", offsetof(Q, nvfs.minor_version)},
                         {"pollThreshSize", offsetof(Q, nvfs.poll_thresh_size)}, {"maxDirectIoSize", offsetof(Q, nvfs.max_direct_io_size)},
                         {"dstatusflags", offsetof(Q, nvfs.dstatusflags)}, {"dcontrolflags", offsetof(Q, nvfs.dcontrolflags)},
                         {"fflags", offsetof(Q, fflags)}, {"maxDeviceCacheSize", offsetof(Q, max_device_cache_size)},
                         {"perBufferCacheSize", offsetof(Q, per_buffer_cache_size)}, {"maxDevicePinnedMemSize", offsetof(Q, max_device_pinned_mem_size)},
                         {"maxBatchIoSize", offsetof(Q, max_batch_io_size)}, {"maxBatchIoTimeoutMsecs", offsetof(Q, max_batch_io_timeout_msecs)}}));
  return o;
}

Napi::Value Constants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  std::vector<std::string> paths(std::begin(kPathNames), std::end(kPathNames));
  std::vector<std::string> reasons(std::begin(kReasonNames), std::end(kReasonNames));
  o.Set("paths", strings(env, paths));
  o.Set("reasons", strings(env, reasons));
  Napi::Object st = Napi::Object::New(env);
  st.Set("cufile", Napi::Number::New(env, kStatusCufile));
  st.Set("cudart", Napi::Number::New(env, kStatusCudart));
  st.Set("cuda", Napi::Number::New(env, kStatusCuda));
  o.Set("statuses", st);
  o.Set("alignment", Napi::Number::New(env, static_cast<double>(kAlign)));
  return o;
}

}  // namespace gds
