// Memory registrations (ibv_reg_mr) and the region table the consumer thread pins entries of.
#include "engine.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <cstring>

namespace dm {

Napi::Value Engine::RegMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    fail(env, "INVALID_ARGUMENT", "regMr(view: Uint8Array, remote: 0 | 1 | 2)");
  Napi::Uint8Array view = info[0].As<Napi::Uint8Array>();
  const int remote = static_cast<int>(intArg(env, info[1], 0, 2, "remote"));
  if (view.ByteLength() == 0) fail(env, "INVALID_ARGUMENT", "cannot register an empty range");
  int access = IBV_ACCESS_LOCAL_WRITE;
  if (remote >= 1) access |= IBV_ACCESS_REMOTE_READ;
  if (remote == 2) access |= IBV_ACCESS_REMOTE_WRITE;
  ibv_mr* mr = v_->reg_mr(pd_, view.Data(), view.ByteLength(), access);
  if (mr == nullptr) fail(env, errno == ENOMEM ? "OUT_OF_MEMORY" : "DEVICE_ERROR", std::string("ibv_reg_mr: ") + std::strerror(errno) + (errno == ENOMEM ? " (raise `ulimit -l`, the locked-memory limit)" : ""));
  auto m = std::make_unique<Mr>();
  m->mr = mr;
  m->view = Napi::Persistent(view);
  const uint32_t id = nextMr_++;
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, id);
  out.Set(1u, mr->lkey);
  out.Set(2u, mr->rkey);
  out.Set(3u, Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(view.Data()))));
  std::lock_guard<std::mutex> g(regionMu_);
  mrs_[id] = std::move(m);
  return out;
}

Napi::Value Engine::DeregMr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed()) return Napi::Boolean::New(env, false);
  const auto id = static_cast<uint32_t>(intArg(env, info[0], 0, 0xffffffffLL, "id"));
  std::unique_ptr<Mr> m;
  {
    std::lock_guard<std::mutex> g(regionMu_);
    auto it = mrs_.find(id);
    if (it == mrs_.end()) return Napi::Boolean::New(env, false);
    m = std::move(it->second);
    mrs_.erase(it);
  }
  v_->dereg_mr(m->mr);  // later remote access with its rkey fails at the NIC
  return Napi::Boolean::New(env, true);
}

void Engine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  Napi::Uint8Array view = info[1].As<Napi::Uint8Array>();
  auto r = std::make_unique<Region>();
  r->writable = info[2].ToBoolean();
  r->lkey = static_cast<uint32_t>(intArg(env, info[3], 0, 0xffffffffLL, "lkey"));
  r->base = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  std::lock_guard<std::mutex> g(regionMu_);
  if (regions_[index]) fail(env, "INVALID_ARGUMENT", "region index already registered");
  regions_[index] = std::move(r);
}

void Engine::RegisterRemote(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  auto r = std::make_unique<Region>();
  r->remote = true;
  r->peer = static_cast<uint32_t>(intArg(env, info[1], 0, 0xffffffffLL, "peer"));
  bool lossless = false;
  if (!info[2].IsBigInt()) fail(env, "INVALID_ARGUMENT", "address must be a bigint");
  r->raddr = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
  r->length = static_cast<uint64_t>(intArg(env, info[3], 1, kMaxSafeInteger, "length"));
  r->rkey = static_cast<uint32_t>(intArg(env, info[4], 0, 0xffffffffLL, "rkey"));
  r->writable = info[5].ToBoolean();
  if (!lossless || r->raddr + r->length < r->raddr) fail(env, "INVALID_ARGUMENT", "remote range overflows");
  std::lock_guard<std::mutex> g(regionMu_);
  if (regions_[index]) fail(env, "INVALID_ARGUMENT", "region index already registered");
  regions_[index] = std::move(r);
}

void Engine::RevokeRemote(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  std::lock_guard<std::mutex> g(regionMu_);
  if (regions_[index] && regions_[index]->remote) regions_[index]->revoked = true;
}

void Engine::Deregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto index = static_cast<uint16_t>(intArg(env, info[0], 0, 65535, "index"));
  std::unique_ptr<Region> dead;
  std::lock_guard<std::mutex> g(regionMu_);
  if (!regions_[index]) fail(env, "INVALID_ARGUMENT", "region is not registered");
  if (regions_[index]->busy > 0) fail(env, "REGION_BUSY", "work naming the region is in flight");
  dead = std::move(regions_[index]);
}

bool Engine::holds(const void* p, size_t n) {
  const auto lo = reinterpret_cast<uintptr_t>(p);
  const auto over = [&](const void* base, size_t len) {
    const auto b = reinterpret_cast<uintptr_t>(base);
    return b < lo + n && lo < b + len;
  };
  std::lock_guard<std::mutex> g(regionMu_);
  for (const auto& [id, m] : mrs_)
    if (over(m->mr->addr, m->mr->length)) return true;
  for (const auto& r : regions_)
    if (r && !r->remote && over(r->base, r->length)) return true;
  return false;
}

Region* Engine::acquire(uint16_t idx) {
  std::lock_guard<std::mutex> g(regionMu_);
  Region* r = regions_[idx].get();
  if (r) r->busy++;
  return r;
}

void Engine::releasePins(Pending& p) {
  std::lock_guard<std::mutex> g(regionMu_);
  for (Region*& r : p.pins) {
    if (r) r->busy--;
    r = nullptr;
  }
}

}  // namespace dm
#endif
