// probe(): which libraries load, which GPUs, and cuFile's driver properties.
#include <cstring>
#include <mutex>
#include <set>

#include "addon.h"

namespace gds {

namespace {

Napi::Object libraryInfo(Napi::Env env, const Library& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loaded", Napi::Boolean::New(env, l.loaded()));
  if (l.loaded()) {
    o.Set("name", Napi::String::New(env, l.name));
    o.Set("path", Napi::String::New(env, l.path.empty() ? l.name : l.path));
  }
  Napi::Array attempts = Napi::Array::New(env, l.attempts.size());
  for (uint32_t i = 0; i < l.attempts.size(); ++i) {
    Napi::Object a = Napi::Object::New(env);
    a.Set("name", Napi::String::New(env, l.attempts[i].name));
    a.Set("error", Napi::String::New(env, l.attempts[i].error));
    attempts.Set(i, a);
  }
  o.Set("attempts", attempts);
  o.Set("missing", strings(env, l.missing));
  o.Set("missingOptional", strings(env, l.missingOptional));
  return o;
}

}  // namespace

// probe(libraries?, { openDriver?: boolean }): what loads, what is missing, which GPUs, cuFile's
// driver properties. Never throws for a missing library: that is the answer.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = apiArg(env, info[0]);
  bool openDriver = true;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Value v = info[1].As<Napi::Object>().Get("openDriver");
    if (!v.IsUndefined()) openDriver = boolArg(env, v, "openDriver");
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Object libs = Napi::Object::New(env);
  libs.Set("cufile", libraryInfo(env, api.cufileLib));
  libs.Set("cudart", libraryInfo(env, api.cudartLib));
  libs.Set("cuda", libraryInfo(env, api.cudaLib));
  out.Set("libraries", libs);
  out.Set("batchApi", Napi::Boolean::New(env, api.batchUsable()));

  int deviceCount = 0;
  if (api.cudaUsable()) {
    int v = 0;
    if (api.cudaRuntimeGetVersion(&v) == cudart::kSuccess) out.Set("runtimeVersion", Napi::Number::New(env, v));
    if (api.cudaDriverGetVersion != nullptr && api.cudaDriverGetVersion(&v) == cudart::kSuccess)
      out.Set("driverVersion", Napi::Number::New(env, v));
    Napi::Object devices = Napi::Object::New(env);
    const int e = api.cudaGetDeviceCount(&deviceCount);
    if (e != cudart::kSuccess) {
      deviceCount = 0;
      devices.Set("error", libraryError(env, api, "cudart", e));
      api.cudaGetLastError();
    }
    devices.Set("count", Napi::Number::New(env, deviceCount));
    Napi::Array list = Napi::Array::New(env);
    for (int d = 0; d < deviceCount && d < 64; ++d) {
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("id", Napi::Number::New(env, d));
      char bus[32] = {0};
      if (api.cudaDeviceGetPCIBusId != nullptr && api.cudaDeviceGetPCIBusId(bus, sizeof bus, d) == cudart::kSuccess)
        dev.Set("pciBusId", Napi::String::New(env, bus));
      list.Set(list.Length(), dev);
    }
    devices.Set("list", list);
    out.Set("devices", devices);
  }
  if (api.cudaLib.loaded() && api.cuDriverGetVersion != nullptr) {
    int v = 0;
    if (api.cuDriverGetVersion(&v) == cu::kSuccess) out.Set("cudaDriverVersion", Napi::Number::New(env, v));
  }

  if (api.cufileUsable()) {
    Napi::Object cf = Napi::Object::New(env);
    int version = 0;
    if (api.getVersion != nullptr && api.getVersion(&version).err == cufile::kSuccess) cf.Set("version", Napi::Number::New(env, version));
    if (openDriver && deviceCount > 0) {
      // The first successful probe keeps the driver open for the life of the process, so that
      // probe → Mover.open does not close and reopen it (engines hold their own references).
      static std::mutex heldMu;
      static std::set<const Api*> held;
      std::lock_guard<std::mutex> g(heldMu);
      const bool already = held.count(&api) != 0;
      const cufile::Error e = already ? cufile::Error{cufile::kSuccess, 0} : acquireDriver(api);
      if (e.err == cufile::kSuccess) held.insert(&api);
      cf.Set("opened", Napi::Boolean::New(env, e.err == cufile::kSuccess));
      if (e.err != cufile::kSuccess) {
        cf.Set("error", libraryError(env, api, "cufile", e.err, e.cu_err));
      } else {
        cufile::DrvProps p;
        std::memset(&p, 0, sizeof p);
        const cufile::Error pe = api.driverGetProperties(&p);
        if (pe.err == cufile::kSuccess) {
          Napi::Object props = Napi::Object::New(env);
          props.Set("nvfsMajorVersion", Napi::Number::New(env, p.nvfs.major_version));
          props.Set("nvfsMinorVersion", Napi::Number::New(env, p.nvfs.minor_version));
          props.Set("pollThreshKiB", Napi::Number::New(env, static_cast<double>(p.nvfs.poll_thresh_size)));
          props.Set("maxDirectIoKiB", Napi::Number::New(env, static_cast<double>(p.nvfs.max_direct_io_size)));
          props.Set("dstatusflags", Napi::Number::New(env, p.nvfs.dstatusflags));
          props.Set("dcontrolflags", Napi::Number::New(env, p.nvfs.dcontrolflags));
          props.Set("fflags", Napi::Number::New(env, p.fflags));
          props.Set("maxDeviceCacheKiB", Napi::Number::New(env, p.max_device_cache_size));
          props.Set("perBufferCacheKiB", Napi::Number::New(env, p.per_buffer_cache_size));
          props.Set("maxDevicePinnedMemKiB", Napi::Number::New(env, p.max_device_pinned_mem_size));
          props.Set("maxBatchIoSize", Napi::Number::New(env, p.max_batch_io_size));
          props.Set("maxBatchIoTimeoutMs", Napi::Number::New(env, p.max_batch_io_timeout_msecs));
          cf.Set("props", props);
        } else {
          cf.Set("propsError", libraryError(env, api, "cufile", pe.err, pe.cu_err));
        }
        Napi::Object params = Napi::Object::New(env);
        size_t sz = 0;
        if (api.getParameterSizeT != nullptr && api.getParameterSizeT(cufile::kParamIoBatchSize, &sz).err == cufile::kSuccess)
          params.Set("ioBatchSize", Napi::Number::New(env, static_cast<double>(sz)));
        const std::pair<const char*, int> flags[] = {{"allowCompatMode", cufile::kParamAllowCompatMode},
                                                     {"forceCompatMode", cufile::kParamForceCompatMode},
                                                     {"usePciP2pDma", cufile::kParamUsePciP2pDma}};
        for (const auto& [name, id] : flags) {
          bool b = false;
          if (api.getParameterBool != nullptr && api.getParameterBool(id, &b).err == cufile::kSuccess)
            params.Set(name, Napi::Boolean::New(env, b));
        }
        cf.Set("params", params);
      }
    }
    out.Set("cufile", cf);
  }
  return out;
}

}  // namespace gds
