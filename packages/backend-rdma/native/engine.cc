// The Engine's life: opening the device and starting its threads, events to JavaScript, stats,
// and release (after the kit's shutdown stopped the consumer).
#include "engine.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <fcntl.h>

#include <cstring>

namespace dm {

Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
  Napi::Env env = info.Env();
  std::string why;
  v_ = loadVerbs(&why);
  if (v_ == nullptr) fail(env, "BACKEND_UNAVAILABLE", why);
  Napi::Uint8Array view = ringArg(info);
  if (!info[2].IsFunction()) fail(env, "INVALID_ARGUMENT", "Engine(ring: Uint8Array, onProgress, onEvents, options?)");
  std::string wantDevice;
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (o.Get("device").IsString()) wantDevice = o.Get("device").As<Napi::String>().Utf8Value();
    if (!o.Get("qpsPerPeer").IsUndefined()) qpsPerPeer_ = static_cast<uint32_t>(intArg(env, o.Get("qpsPerPeer"), 1, 16, "qpsPerPeer"));
    if (!o.Get("chunkBytes").IsUndefined()) chunkBytes_ = static_cast<uint64_t>(intArg(env, o.Get("chunkBytes"), 4096, int64_t{1} << 32, "chunkBytes"));
    if (!o.Get("sendDepth").IsUndefined()) sendDepth_ = static_cast<int>(intArg(env, o.Get("sendDepth"), 4, 4096, "sendDepth"));
    if (!o.Get("ackTimeout").IsUndefined()) ackTimeout_ = static_cast<uint8_t>(intArg(env, o.Get("ackTimeout"), 1, 31, "ackTimeout"));
    if (!o.Get("retryCount").IsUndefined()) retryCount_ = static_cast<uint8_t>(intArg(env, o.Get("retryCount"), 0, 7, "retryCount"));
  }
  attach(env, view);
  pend_.resize(entries());

  // The device: librdmacm's own contexts, so QPs made on cm ids share our protection domain.
  int n = 0;
  devices_ = v_->get_devices(&n);
  for (int i = 0; devices_ != nullptr && i < n && ctx_ == nullptr; i++) {
    const char* name = devices_[i]->device->name;
    if (!wantDevice.empty() && wantDevice != name) continue;
    ibv_port_attr pa;
    std::memset(&pa, 0, sizeof pa);
    if (v_->query_port(devices_[i], 1, &pa) == 0 && pa.state == IBV_PORT_ACTIVE) {
      ctx_ = devices_[i];
      deviceName_ = name;
    }
  }
  auto undo = [&](const std::string& m) {
    if (scq_) v_->destroy_cq(scq_);
    if (rcq_) v_->destroy_cq(rcq_);
    if (rch_) v_->destroy_comp_channel(rch_);
    if (pd_) v_->dealloc_pd(pd_);
    if (ch_) v_->destroy_event_channel(ch_);
    if (devices_) v_->free_devices(devices_);
    fail(env, "BACKEND_UNAVAILABLE", m);
  };
  if (ctx_ == nullptr) undo(wantDevice.empty() ? "no RDMA device with an active port" : "RDMA device " + wantDevice + " not found or its port is not active");
  pd_ = v_->alloc_pd(ctx_);
  if (pd_ == nullptr) undo(std::string("ibv_alloc_pd: ") + std::strerror(errno));
  scq_ = v_->create_cq(ctx_, 4096, nullptr, nullptr, 0);
  rch_ = v_->create_comp_channel(ctx_);
  rcq_ = rch_ ? v_->create_cq(ctx_, 4096, nullptr, rch_, 0) : nullptr;
  if (scq_ == nullptr || rcq_ == nullptr) undo(std::string("ibv_create_cq: ") + std::strerror(errno));
  fcntl(rch_->fd, F_SETFL, fcntl(rch_->fd, F_GETFL) | O_NONBLOCK);
  ibv_req_notify_cq(rcq_, 0);
  ch_ = v_->create_event_channel();
  if (ch_ == nullptr) undo(std::string("rdma_create_event_channel: ") + std::strerror(errno));
  fcntl(ch_->fd, F_SETFL, fcntl(ch_->fd, F_GETFL) | O_NONBLOCK);

  events_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "datamover-rdma-events", 0, 1);
  events_.Unref(env);
  cmThread_ = std::thread(&Engine::cmLoop, this);
  recvThread_ = std::thread(&Engine::recvLoop, this);
  // Last: the kit's consumer thread (should it fail to start, the kit calls release()).
  start(env, info[1], "datamover-rdma-progress", spinMicrosOption(env, Napi::Object::New(env)));
  // An allocator's finalizer (soft's alloc(), at environment teardown) stops this engine before it
  // frees memory registered here: the memory registrations go before the memory (live_engines.h).
  addLiveEngine(this);
}

// ---- events to JavaScript

void Engine::emit(Event e) {
  {
    std::lock_guard<std::mutex> g(evq_->mu);
    evq_->events.push_back(std::move(e));
  }
  events_.NonBlockingCall([shared = evq_](Napi::Env env, Napi::Function fn) {
    std::deque<Event> q;
    {
      std::lock_guard<std::mutex> g(shared->mu);
      q.swap(shared->events);
    }
    if (q.empty() || shared->closed) return;
    Napi::Array arr = Napi::Array::New(env, q.size());
    uint32_t k = 0;
    for (const Event& e : q) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", e.type);
      o.Set("peer", e.peer);
      if (e.qp >= 0) o.Set("qp", e.qp);
      if (e.type == "imm") {
        o.Set("value", static_cast<double>(e.value));
        o.Set("bytes", static_cast<double>(e.bytes));
      }
      if (!e.message.empty()) o.Set("message", e.message);
      arr.Set(k++, o);
    }
    fn.Call({arr});
  });
}

Napi::Value Engine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("device", deviceName_);
  o.Set("rdmaWrites", static_cast<double>(statWrites_));
  o.Set("rdmaReads", static_cast<double>(statReads_));
  o.Set("immSent", static_cast<double>(statImmSent_));
  o.Set("immReceived", static_cast<double>(statImmRecv_));
  o.Set("bytesPosted", static_cast<double>(statBytes_));
  o.Set("wcErrors", static_cast<double>(statWcErrors_));
  o.Set("qpsConnected", static_cast<double>(statConnects_));
  o.Set("qpsDown", static_cast<double>(statQpDown_));
  uint32_t live = 0;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    for (auto& [p, slots] : peers_)
      for (Qp* q : slots) live += q && q->up ? 1 : 0;
  }
  o.Set("qpsUp", live);
  return o;
}

void Engine::release() {
  removeLiveEngine(this);
  stop_ = true;
  std::vector<std::thread> conns;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    conns.swap(connectors_);
  }
  for (auto& t : conns) t.join();
  if (cmThread_.joinable()) cmThread_.join();
  if (recvThread_.joinable()) recvThread_.join();
  {
    std::lock_guard<std::mutex> g(qpMu_);
    for (auto& [p, slots] : peers_)
      for (Qp*& q : slots)
        if (q) {
          graveyard_.push_back(q);
          q = nullptr;
        }
  }
  reapGraveyard(true);
  if (listener_) v_->destroy_id(listener_);
  {
    std::lock_guard<std::mutex> g(regionMu_);
    for (auto& r : regions_) r.reset();
    for (auto& [id, m] : mrs_) v_->dereg_mr(m->mr);
    mrs_.clear();
  }
  v_->destroy_cq(scq_);
  v_->destroy_cq(rcq_);
  v_->destroy_comp_channel(rch_);
  v_->dealloc_pd(pd_);
  v_->destroy_event_channel(ch_);
  v_->free_devices(devices_);
  evq_->closed = true;
  events_.Release();
}

}  // namespace dm
#endif
