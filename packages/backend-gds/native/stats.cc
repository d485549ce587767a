// Engine.stats() and Engine.transfers(): the counters and the transfer log, for JavaScript.
#include "engine.h"

namespace gds {

Napi::Value Engine::StatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = consumerStats(env);
  auto n = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Object transfers = Napi::Object::New(env), bytes = Napi::Object::New(env), fallbacks = Napi::Object::New(env);
  for (int p = 1; p < 5; ++p) {
    transfers.Set(kPathNames[p], n(stats_.transfers[p].load()));
    bytes.Set(kPathNames[p], n(stats_.bytes[p].load()));
  }
  for (int k = 1; k < 7; ++k) fallbacks.Set(kReasonNames[k], n(stats_.fallbacks[k].load()));
  o.Set("transfers", transfers);
  o.Set("bytes", bytes);
  o.Set("fallbacks", fallbacks);
  o.Set("batches", n(stats_.batches.load()));
  o.Set("batchEntries", n(stats_.batchEntries.load()));
  o.Set("batchRetries", n(stats_.batchRetries.load()));
  o.Set("unaligned", n(stats_.unaligned.load()));
  o.Set("failed", n(stats_.failed.load()));
  o.Set("chunks", n(stats_.chunks.load()));
  o.Set("batch", Napi::Boolean::New(env, config_.batch));
  o.Set("cufilePath", Napi::String::New(env, kPathNames[config_.cufilePath]));
  return o;
}

Napi::Value Engine::Transfers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<TransferRecord> recs = log_.snapshot();
  Napi::Array a = Napi::Array::New(env, recs.size());
  static const char* const kinds[] = {"host", "file", "gpu"};
  for (uint32_t i = 0; i < recs.size(); ++i) {
    const TransferRecord& t = recs[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("seq", Napi::Number::New(env, static_cast<double>(t.seq)));
    o.Set("op", Napi::String::New(env, t.op == DM_OPCODE_COPY ? "copy" : t.op == DM_OPCODE_FILL ? "fill" : t.op == DM_OPCODE_WRITE_IMM ? "writeImm" : "other"));
    if (t.src < 3) o.Set("src", Napi::String::New(env, kinds[t.src]));
    if (t.dst < 3) o.Set("dst", Napi::String::New(env, kinds[t.dst]));
    o.Set("path", Napi::String::New(env, kPathNames[t.path < 5 ? t.path : 0]));
    o.Set("reason", Napi::String::New(env, kReasonNames[t.reason < 7 ? t.reason : 0]));
    o.Set("batched", Napi::Boolean::New(env, t.batched));
    o.Set("status", Napi::Number::New(env, t.status));
    o.Set("detail", Napi::Number::New(env, t.detail));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(t.bytes)));
    o.Set("micros", Napi::Number::New(env, static_cast<double>(t.nanos) / 1000.0));
    a.Set(i, o);
  }
  return a;
}

}  // namespace gds
