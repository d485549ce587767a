// The Engine's life: options, the cuFile driver reference, the consumer and its batch hook.
#include "engine.h"

namespace gds {

// new Engine(ring: Uint8Array, onProgress, { libraries?, cufilePath: 'direct' | 'compat',
//   unalignedViaCufile?, batch?, batchMin?, batchMax?, batchMaxEntryBytes?, ioThreads?, chunkBytes?,
//   bounceBytes?, spinMicros? })
Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array ring = ringArg(info);
  const Napi::Object o = optionsArg(info, false);
  const Api& api = apiArg(env, o.Get("libraries"));
  if (!api.cudaUsable() || !api.cufileUsable()) fail(env, "UNAVAILABLE", "libcufile or the CUDA runtime is not usable here (see probe())");
  auto num = [&](const char* key, int64_t min, int64_t max, uint64_t fallback) {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? fallback : static_cast<uint64_t>(intArg(env, v, min, max, key));
  };
  auto flag = [&](const char* key, bool fallback) {
    Napi::Value v = o.Get(key);
    return v.IsUndefined() ? fallback : boolArg(env, v, key);
  };
  Napi::Value path = o.Get("cufilePath");
  config_.cufilePath = path.IsString() && path.As<Napi::String>().Utf8Value() == "direct" ? kPathDirect : kPathCompat;
  config_.unalignedViaCufile = flag("unalignedViaCufile", false);
  config_.batch = flag("batch", true) && api.batchUsable();
  config_.batchMin = static_cast<unsigned>(num("batchMin", 2, 4096, 2));
  config_.batchMax = static_cast<unsigned>(num("batchMax", 1, 4096, 128));
  config_.batchMaxEntryBytes = num("batchMaxEntryBytes", 1, int64_t{1} << 32, 1 << 20);
  config_.ioThreads = static_cast<unsigned>(num("ioThreads", 1, 64, 4));
  config_.chunkBytes = num("chunkBytes", 4096, int64_t{1} << 32, 8 << 20);
  config_.bounceBytes = num("bounceBytes", 4096, int64_t{1} << 30, 8 << 20);
  const uint32_t spinMicros = spinMicrosOption(env, o);
  if (config_.batchMax < config_.batchMin) config_.batch = false;

  attach(env, ring);

  // The cuFile driver stays open while any engine lives (explicit open keeps first-I/O latency
  // off the data path; cuFile API Reference §3.1).
  const cufile::Error de = acquireDriver(api);
  if (de.err != cufile::kSuccess) failLibrary(env, api, "cufile", de.err, de.cu_err, "cuFileDriverOpen");
  api_ = &api;
  driverHeld_ = true;
  start(env, info[1], "datamover-gds-progress", spinMicros);
  dm::addLiveEngine(this);
}

// A run of ready, unfenced (after the first), mutually independent file <-> GPU copies goes to
// cuFile's batch API as one submission. Returns how many descriptors it settled (0: none taken).
uint64_t Engine::tryBatch(Executor& exec, uint64_t r) {
  std::vector<BatchEntry> group;
  for (uint64_t i = r; group.size() < config_.batchMax && ready(i); ++i) {
    Descriptor d;
    if (!load(i, d)) break;
    if (i != r && (d.nop.opcode & (1u << DM_OPCODE_FENCE)) != 0) break;
    if (heldBack(i, d) || stopsOnError(i)) break;  // the failure rule: these run one by one
    BatchEntry e;
    if (!exec.eligible(d, e)) break;
    if (Executor::hazard(e, group)) {
      exec.unpin(e);
      break;
    }
    group.push_back(e);
  }
  if (group.size() < config_.batchMin) {
    for (auto& e : group) exec.unpin(e);
    return 0;
  }
  // Claim in ring order and stop at the first the producer cancelled: that one, and everything
  // after it, is settled the ordinary way.
  size_t claimed = 0;
  while (claimed < group.size() && claim(r + claimed)) ++claimed;
  for (size_t k = claimed; k < group.size(); ++k) exec.unpin(group[k]);
  group.resize(claimed);
  if (claimed == 0) return 0;
  if (claimed < config_.batchMin) {
    for (size_t k = 0; k < claimed; ++k) {
      exec.unpin(group[k]);
      Descriptor d;
      load(r + k, d);
      complete(r + k, exec.run(d));
    }
    return claimed;
  }
  const std::vector<Outcome> outs = exec.runBatch(group);
  for (size_t k = 0; k < claimed; ++k) complete(r + k, outs[k]);
  return claimed;
}

void Engine::consume() {
  Executor exec(*api_, table_, config_, stats_, log_);
  auto run = [&](const Descriptor& d) { return exec.run(d); };
  if (config_.batch) serve(run, [&](uint64_t r) { return tryBatch(exec, r); });
  else serve(run);
}

void Engine::release() {
  dm::removeLiveEngine(this);
  table_.clear();
  if (driverHeld_) releaseDriver(*api_);
  driverHeld_ = false;
}

}  // namespace gds
