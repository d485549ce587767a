// The RDMA engine: one session consuming core's descriptor ring on its own thread. Copies between
// a local host region and an imported remote region become RDMA WRITE / READ work requests on RC
// queue pairs (large ones split across the peer's QPs); write-immediate to a remote region becomes
// RDMA WRITE_WITH_IMM. Work completions map back to the ring's completion blocks; Read_Index
// advances in ring order. Connection management runs on a second thread (librdmacm events), and
// receive completions (immediate data) on a third. libibverbs and librdmacm are dlopened.
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <datamover/abi.h>
#include <datamover/descriptor.h>
#include <datamover/failure_rule.h>
#include <datamover/memory_address.h>
#include <datamover/napi_args.h>
#include <napi.h>

#include "verbs.h"

namespace dm {

#ifdef DM_HAVE_RDMA_HEADERS

// ---------------------------------------------------------------- run-time loading

const Verbs* loadVerbs(std::string* why) {
  static std::once_flag once;
  static Verbs table;
  static std::string error;
  static bool ok = false;
  std::call_once(once, [] {
    void* ib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (ib == nullptr) {
      error = std::string("no libibverbs: ") + dlerror() + " (install rdma-core's libibverbs1 and ibverbs-providers)";
      return;
    }
    void* cm = dlopen("librdmacm.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (cm == nullptr) {
      error = std::string("no librdmacm: ") + dlerror() + " (install rdma-core's librdmacm1)";
      return;
    }
    std::string missing;
    auto sym = [&](void* lib, const char* name, auto& slot) {
      void* p = dlsym(lib, name);
      if (p == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(p);
    };
    sym(ib, "ibv_get_device_list", table.get_device_list);
    sym(ib, "ibv_free_device_list", table.free_device_list);
    sym(ib, "ibv_get_device_name", table.get_device_name);
    sym(ib, "ibv_open_device", table.open_device);
    sym(ib, "ibv_close_device", table.close_device);
    sym(ib, "ibv_query_device", table.query_device);
    sym(ib, "ibv_query_port", table.query_port);
    sym(ib, "ibv_query_gid", table.query_gid);
    sym(ib, "ibv_alloc_pd", table.alloc_pd);
    sym(ib, "ibv_dealloc_pd", table.dealloc_pd);
    sym(ib, "ibv_reg_mr", table.reg_mr);
    sym(ib, "ibv_dereg_mr", table.dereg_mr);
    sym(ib, "ibv_create_comp_channel", table.create_comp_channel);
    sym(ib, "ibv_destroy_comp_channel", table.destroy_comp_channel);
    sym(ib, "ibv_create_cq", table.create_cq);
    sym(ib, "ibv_destroy_cq", table.destroy_cq);
    sym(ib, "ibv_get_cq_event", table.get_cq_event);
    sym(ib, "ibv_ack_cq_events", table.ack_cq_events);
    sym(ib, "ibv_modify_qp", table.modify_qp);
    sym(ib, "ibv_wc_status_str", table.wc_status_str);
    sym(cm, "rdma_create_event_channel", table.create_event_channel);
    sym(cm, "rdma_destroy_event_channel", table.destroy_event_channel);
    sym(cm, "rdma_create_id", table.create_id);
    sym(cm, "rdma_destroy_id", table.destroy_id);
    sym(cm, "rdma_bind_addr", table.bind_addr);
    sym(cm, "rdma_resolve_addr", table.resolve_addr);
    sym(cm, "rdma_resolve_route", table.resolve_route);
    sym(cm, "rdma_create_qp", table.create_qp);
    sym(cm, "rdma_destroy_qp", table.destroy_qp);
    sym(cm, "rdma_connect", table.connect);
    sym(cm, "rdma_listen", table.listen);
    sym(cm, "rdma_accept", table.accept);
    sym(cm, "rdma_reject", table.reject);
    sym(cm, "rdma_disconnect", table.disconnect);
    sym(cm, "rdma_get_cm_event", table.get_cm_event);
    sym(cm, "rdma_ack_cm_event", table.ack_cm_event);
    sym(cm, "rdma_event_str", table.event_str);
    sym(cm, "rdma_get_devices", table.get_devices);
    sym(cm, "rdma_free_devices", table.free_devices);
    sym(cm, "rdma_migrate_id", table.migrate_id);
    sym(cm, "rdma_set_option", table.set_option);
    sym(cm, "rdma_get_src_port", table.get_src_port);
    if (!missing.empty()) {
      error = "rdma-core libraries lack symbols: " + missing;
      return;
    }
    ok = true;
  });
  if (!ok) {
    if (why) *why = error;
    return nullptr;
  }
  return &table;
}

// probe(): what the machine has, and the first thing missing, in the order a user fixes it.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("headers", true);
  std::string why;
  const Verbs* v = loadVerbs(&why);
  auto missing = [&](const char* what, const std::string& message) {
    out.Set("missing", what);
    out.Set("message", message);
    return out;
  };
  if (v == nullptr) return missing(why.rfind("no librdmacm", 0) == 0 ? "librdmacm" : "libibverbs", why);
  int n = 0;
  ibv_device** list = v->get_device_list(&n);
  Napi::Array devices = Napi::Array::New(env);
  out.Set("devices", devices);
  if (list == nullptr || n == 0) {
    if (list) v->free_device_list(list);
    return missing("device", "no RDMA device: libibverbs found no device (load a driver, e.g. `rdma link add rxe0 type rxe netdev eth0` for Soft-RoCE)");
  }
  bool anyActive = false, anyGid = false;
  for (int i = 0; i < n; i++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", v->get_device_name(list[i]));
    Napi::Array ports = Napi::Array::New(env);
    d.Set("ports", ports);
    devices.Set(i, d);
    ibv_context* ctx = v->open_device(list[i]);
    if (ctx == nullptr) continue;
    ibv_device_attr da;
    if (v->query_device(ctx, &da) == 0) {
      for (uint8_t p = 1; p <= da.phys_port_cnt; p++) {
        ibv_port_attr pa;
        std::memset(&pa, 0, sizeof pa);
        if (v->query_port(ctx, p, &pa) != 0) continue;
        Napi::Object po = Napi::Object::New(env);
        po.Set("port", p);
        po.Set("active", pa.state == IBV_PORT_ACTIVE);
        po.Set("mtu", 128 << pa.active_mtu);
        int gids = 0;
        for (int g = 0; g < pa.gid_tbl_len && g < 64; g++) {
          ibv_gid gid;
          if (v->query_gid(ctx, p, g, &gid) != 0) continue;
          bool zero = true;
          for (uint8_t b : gid.raw) zero = zero && b == 0;
          if (!zero) gids++;
        }
        po.Set("gids", gids);
        ports.Set(ports.Length(), po);
        if (pa.state == IBV_PORT_ACTIVE) {
          anyActive = true;
          if (gids > 0) anyGid = true;
        }
      }
    }
    v->close_device(ctx);
  }
  v->free_device_list(list);
  if (!anyActive) return missing("active-port", "no active port: every RDMA port is down (check the link / the netdev under the rxe device)");
  if (!anyGid) return missing("gid", "no GID: no active port has a GID (give the netdev an IP address)");
  return out;
}

// ---------------------------------------------------------------- the engine

constexpr uint32_t kStatusWc = 64;          // a work completion failed: detail = ibv_wc_status
constexpr uint32_t kStatusDisconnect = 65;  // the peer went away (detail = ibv_wc_status or 0)
constexpr uint32_t kStatusRevoked = 66;     // the import was revoked before the work was posted
constexpr uint32_t kConnMagic = 0x444d5251;  // "DMRQ": private data of our connect requests
// Receives posted per QP for incoming WRITE_WITH_IMM (zero-length, re-posted as they complete).
// Deeper than a peer's send queue, so a burst of immediates rarely finds the queue empty.
constexpr int kRecvDepth = 1024;
// The RNR NAK timer this side's QPs advertise (IB encoding 12 = 0.64 ms). rdma_cm leaves it at 0,
// which means 655 ms: every time a burst of immediates outran the re-posting of receives, the
// sender stalled for 0.65 s (the conformance suite's 12,288-immediate batches took minutes).
constexpr uint8_t kMinRnrTimer = 12;

struct ConnPrivate {
  uint32_t magic;
  uint16_t qpIndex;
  uint16_t reserved;
  uint64_t connKey;
} __attribute__((packed));

struct Qp {
  rdma_cm_id* id = nullptr;
  uint32_t peer = 0;
  uint16_t index = 0;
  uint32_t qpNum = 0;
  std::atomic<bool> up{false};
  std::atomic<bool> disconnected{false};  // down because the peer disconnected
  std::atomic<bool> reported{false};      // qp-down already reported
  std::atomic<int> outstanding{0};        // signalled send WRs not yet completed
};

struct Mr {
  ibv_mr* mr = nullptr;
  Napi::Reference<Napi::Uint8Array> view;  // keeps the pinned memory alive
};

struct Region {
  bool remote = false;
  bool writable = false;
  uint64_t length = 0;
  uint8_t* base = nullptr;
  uint32_t lkey = 0;
  Napi::Reference<Napi::Uint8Array> view;
  uint32_t peer = 0;
  uint64_t raddr = 0;
  uint32_t rkey = 0;
  std::atomic<bool> revoked{false};
  int busy = 0;  // guarded by Engine::regionMu_
};

struct Pending {
  bool active = false;
  bool done = false;
  uint32_t chunksLeft = 0;
  uint32_t status = DM_STATUS_OK;
  int32_t detail = 0;
  uint64_t result = 0;
  Region* pins[2] = {nullptr, nullptr};
  uint64_t imm = 0;  // write-immediate payload (posted inline)
  uint16_t remoteKey = 0;  // the remote region's AKey, reported in `result` on failure
};

struct Event {
  std::string type;
  uint32_t peer = 0;
  int qp = -1;
  uint64_t value = 0;
  uint64_t bytes = 0;
  std::string message;
};

class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod<&Engine::RegMr>("regMr"),
                           InstanceMethod<&Engine::DeregMr>("deregMr"),
                           InstanceMethod<&Engine::RegisterHost>("registerHost"),
                           InstanceMethod<&Engine::RegisterRemote>("registerRemote"),
                           InstanceMethod<&Engine::RevokeRemote>("revokeRemote"),
                           InstanceMethod<&Engine::Deregister>("deregister"),
                           InstanceMethod<&Engine::Listen>("listen"),
                           InstanceMethod<&Engine::ExpectPeer>("expectPeer"),
                           InstanceMethod<&Engine::ConnectQp>("connectQp"),
                           InstanceMethod<&Engine::DropPeer>("dropPeer"),
                           InstanceMethod<&Engine::Doorbell>("doorbell"),
                           InstanceMethod<&Engine::Ref>("ref"),
                           InstanceMethod<&Engine::Unref>("unref"),
                           InstanceMethod<&Engine::Stats>("stats"),
                           InstanceMethod<&Engine::Close>("close"),
                       });
  }
  explicit Engine(const Napi::CallbackInfo& info);
  ~Engine() override { shutdown(false); }

 private:
  Napi::Value RegMr(const Napi::CallbackInfo& info);
  Napi::Value DeregMr(const Napi::CallbackInfo& info);
  void RegisterHost(const Napi::CallbackInfo& info);
  void RegisterRemote(const Napi::CallbackInfo& info);
  void RevokeRemote(const Napi::CallbackInfo& info);
  void Deregister(const Napi::CallbackInfo& info);
  Napi::Value Listen(const Napi::CallbackInfo& info);
  void ExpectPeer(const Napi::CallbackInfo& info);
  void ConnectQp(const Napi::CallbackInfo& info);
  void DropPeer(const Napi::CallbackInfo& info);
  void Doorbell(const Napi::CallbackInfo& info);
  void Ref(const Napi::CallbackInfo& info) { checkOpen(info.Env()); progress_.Ref(info.Env()); }
  void Unref(const Napi::CallbackInfo& info) { checkOpen(info.Env()); progress_.Unref(info.Env()); }
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo&) { shutdown(false); }

  void checkOpen(Napi::Env env) const {
    if (closed_) fail(env, "ENGINE_CLOSED", "the engine is closed");
  }
  uint64_t* h64(uint32_t off) const { return reinterpret_cast<uint64_t*>(ring_ + off); }
  uint32_t* h32(uint32_t off) const { return reinterpret_cast<uint32_t*>(ring_ + off); }
  bool ready(uint64_t i) const;
  void consume();
  bool postOne(uint64_t i);
  void finish(uint64_t i, uint32_t status, int32_t detail, uint64_t result);
  void chunkDone(uint64_t i, uint32_t status, int32_t detail, uint64_t result);
  void pollSend();
  void waitIdle(uint64_t next);
  void cmLoop();
  void recvLoop();
  void handleCmEvent(rdma_cm_event_type type, rdma_cm_id* id, int status, const ConnPrivate* priv);
  bool setupQp(rdma_cm_id* id, Qp* q, std::string* why);
  void install(Qp* q);
  void markDown(Qp* q, bool disconnected, const std::string& why);
  void reapGraveyard(bool all);
  void emit(Event e);
  void connectThread(uint32_t peer, uint16_t index, std::string host, uint16_t port, uint64_t key);
  Region* acquire(uint16_t idx);
  void releasePins(Pending& p);
  void shutdown(bool fromEnvCleanup);
  static void onEnvCleanup(void* self) { static_cast<Engine*>(self)->shutdown(true); }

  napi_env env_;
  const Verbs* v_ = nullptr;
  uint8_t* ring_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t slots_ = 0, completions_ = 0;
  Napi::Reference<Napi::Uint8Array> ringRef_;
  Napi::ThreadSafeFunction progress_;
  Napi::ThreadSafeFunction events_;

  // verbs objects
  ibv_context** devices_ = nullptr;
  ibv_context* ctx_ = nullptr;
  ibv_pd* pd_ = nullptr;
  ibv_cq* scq_ = nullptr;
  ibv_comp_channel* rch_ = nullptr;
  ibv_cq* rcq_ = nullptr;
  rdma_event_channel* ch_ = nullptr;
  rdma_cm_id* listener_ = nullptr;
  std::string deviceName_;

  // options
  uint32_t qpsPerPeer_ = 2;
  uint64_t chunkBytes_ = 1024 * 1024;  // moves larger than this are split across the peer's QPs
  int sendDepth_ = 128;
  uint8_t ackTimeout_ = 14;  // 4.096 us * 2^14 = 67 ms per retry
  uint8_t retryCount_ = 5;

  // regions and memory registrations (JS thread writes, engine thread pins)
  std::mutex regionMu_;
  std::vector<std::unique_ptr<Region>> regions_ = std::vector<std::unique_ptr<Region>>(65536);
  std::unordered_map<uint32_t, std::unique_ptr<Mr>> mrs_;
  uint32_t nextMr_ = 1;

  // connections
  std::mutex qpMu_;
  std::map<uint32_t, std::vector<Qp*>> peers_;      // peer -> QP slots (nullptr = none)
  std::unordered_map<uint32_t, Qp*> byNum_;         // qp_num -> Qp (live and graveyard)
  std::unordered_map<rdma_cm_id*, Qp*> byId_;       // cm id -> Qp
  std::unordered_map<uint64_t, uint32_t> expected_;  // connection key -> peer
  std::vector<Qp*> graveyard_;
  std::vector<std::thread> connectors_;
  std::atomic<uint32_t> rr_{0};

  // engine thread state
  std::vector<Pending> pend_;
  int outstandingWrs_ = 0;
  dm::FailureRule failures_;  // consumer thread only
  std::thread thread_, cmThread_, recvThread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> bells_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stop_{false};
  bool closed_ = false;
  bool hooked_ = false;

  std::mutex evMu_;
  std::deque<Event> evq_;

  // statistics
  std::atomic<uint64_t> statWrites_{0}, statReads_{0}, statImmSent_{0}, statImmRecv_{0}, statBytes_{0}, statWcErrors_{0},
      statConnects_{0}, statQpDown_{0};
};

Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  std::string why;
  v_ = loadVerbs(&why);
  if (v_ == nullptr) fail(env, "BACKEND_UNAVAILABLE", why);
  if (!info[0].IsTypedArray() || !info[1].IsFunction() || !info[2].IsFunction())
    fail(env, "INVALID_ARGUMENT", "Engine(ring: Uint8Array, onProgress, onEvents, options?)");
  Napi::Uint8Array view = info[0].As<Napi::Uint8Array>();
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
  ring_ = view.Data();
  if (view.ByteLength() < DM_RING_BYTES || *h32(DM_RING_MAGIC_OFFSET) != DM_RING_MAGIC) fail(env, "INVALID_ARGUMENT", "ring: bad memory");
  const uint32_t entries = *h32(DM_RING_ENTRIES_OFFSET);
  slots_ = *h32(DM_RING_SLOTS_OFFSET);
  completions_ = *h32(DM_RING_COMPLETIONS_OFFSET);
  if (entries == 0 || (entries & (entries - 1)) != 0 || slots_ + uint64_t{entries} * 64 > view.ByteLength() ||
      completions_ + uint64_t{entries} * 32 > view.ByteLength())
    fail(env, "INVALID_ARGUMENT", "ring: bad layout");
  mask_ = entries - 1;
  pend_.resize(entries);

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

  ringRef_ = Napi::Persistent(view);
  progress_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "datamover-rdma-progress", 0, 1);
  progress_.Unref(env);
  events_ = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "datamover-rdma-events", 0, 1);
  events_.Unref(env);
  thread_ = std::thread(&Engine::consume, this);
  cmThread_ = std::thread(&Engine::cmLoop, this);
  recvThread_ = std::thread(&Engine::recvLoop, this);
  napi_add_env_cleanup_hook(env_, &Engine::onEnvCleanup, this);
  hooked_ = true;
}

// ---- events to JavaScript

void Engine::emit(Event e) {
  {
    std::lock_guard<std::mutex> g(evMu_);
    evq_.push_back(std::move(e));
  }
  events_.NonBlockingCall([this](Napi::Env env, Napi::Function fn) {
    std::deque<Event> q;
    {
      std::lock_guard<std::mutex> g(evMu_);
      q.swap(evq_);
    }
    if (q.empty() || closed_) return;
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

// ---- regions

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
  if (closed_) return Napi::Boolean::New(env, false);
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

// ---- the consumer thread

bool Engine::ready(uint64_t i) const {
  const uint64_t w = __atomic_load_n(h64(DM_RING_WRITE_INDEX_OFFSET), __ATOMIC_ACQUIRE);
  if (static_cast<int64_t>(w - i) <= 0) return false;
  const uint32_t* word0 = reinterpret_cast<const uint32_t*>(ring_ + slots_ + (i & mask_) * DM_DESCRIPTOR_BYTES);
  return (__atomic_load_n(word0, __ATOMIC_ACQUIRE) & (1u << DM_OPCODE_VALID)) != 0;
}

void Engine::finish(uint64_t i, uint32_t status, int32_t detail, uint64_t result) {
  Pending& p = pend_[i & mask_];
  releasePins(p);
  uint8_t* cb = ring_ + completions_ + (i & mask_) * DM_CB_BYTES;
  failures_.settle(__atomic_load_n(reinterpret_cast<const uint64_t*>(cb + DM_CB_RESULT_OFFSET), __ATOMIC_RELAXED), status);
  __atomic_store_n(reinterpret_cast<uint64_t*>(cb + DM_CB_RESULT_OFFSET), result, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<uint32_t*>(cb + DM_CB_STATUS_OFFSET), status, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<int32_t*>(cb + DM_CB_DETAIL_OFFSET), detail, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<uint32_t*>(cb + DM_CB_FLAGS_OFFSET), dm::FailureRule::failed(status) ? DM_CB_FLAG_ERROR : 0u, __ATOMIC_RELAXED);
  __atomic_store_n(reinterpret_cast<uint64_t*>(cb + DM_CB_SIGNAL_OFFSET), uint64_t{0}, __ATOMIC_RELEASE);
  p.done = true;
}

void Engine::chunkDone(uint64_t i, uint32_t status, int32_t detail, uint64_t result) {
  Pending& p = pend_[i & mask_];
  if (status != DM_STATUS_OK && p.status == DM_STATUS_OK) {
    p.status = status;
    p.detail = detail;
    p.result = result;
  }
  if (--p.chunksLeft == 0) finish(i, p.status, p.detail, p.result);
}

// Validates and posts descriptor i. False: it cannot be posted yet (fence, or the send queues are
// full); the caller retries after completions. The producer never rewrites a published slot.
bool Engine::postOne(uint64_t i) {
  Pending& p = pend_[i & mask_];
  uint8_t* cb = ring_ + completions_ + (i & mask_) * DM_CB_BYTES;
  const uint64_t cbOffset = completions_ + (i & mask_) * DM_CB_BYTES;
  Descriptor d;
  std::memcpy(d.bytes, ring_ + slots_ + (i & mask_) * DM_DESCRIPTOR_BYTES, DM_DESCRIPTOR_BYTES);
  const uint32_t op = d.nop.opcode;
  auto claim = [&]() {
    uint32_t expected = DM_CLAIM_PENDING;
    return __atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(cb + DM_CB_CLAIM_OFFSET), &expected, DM_CLAIM_CLAIMED, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  };
  p = Pending{};
  p.active = true;
  // The work tag the producer armed the completion block with (the failure rule).
  const uint64_t tag = __atomic_load_n(reinterpret_cast<const uint64_t*>(cb + DM_CB_RESULT_OFFSET), __ATOMIC_RELAXED);
  // Earlier work must finish first: before a fence, and before each descriptor of a work that
  // stops on error (it must not start until the outcome of the one before it is known).
  if (((op & (1u << DM_OPCODE_FENCE)) != 0 || dm::FailureRule::stopsOnError(tag)) && outstandingWrs_ > 0) return false;
  const uint64_t csb = d.nop.csb_ptr;
  if ((csb & 1) != 0 || (csb & ~uint64_t{0x1f}) != cbOffset) {
    finish(i, DM_STATUS_BAD_DESCRIPTOR, 0, 0);
    return true;
  }
  if (failures_.heldBack(tag, op)) {
    const dm::Outcome& held = dm::FailureRule::kHeldBack;
    if (!claim()) finish(i, DM_STATUS_NOT_RUN, 0, 0);
    else finish(i, held.status, held.detail, held.result);
    return true;
  }
  const uint32_t kind = op & DM_OPCODE_KIND_MASK;
  if ((op & ~kAllowedOpcodeBits) != 0) {
    if (!claim()) finish(i, DM_STATUS_NOT_RUN, 0, 0);
    else finish(i, DM_STATUS_BAD_DESCRIPTOR, 0, 0);
    return true;
  }
  if (kind == DM_OPCODE_NOP) {
    finish(i, claim() ? DM_STATUS_OK : DM_STATUS_NOT_RUN, 0, 0);
    return true;
  }
  // The operands: (local, remote), direction, range.
  Region* local = nullptr;
  Region* remote = nullptr;
  uint64_t loff = 0, roff = 0, len = 0;
  uint16_t remoteKey = 0;
  bool write = true, imm = false;
  uint32_t status = DM_STATUS_OK;
  auto fin = [&](uint32_t s, int32_t detail = 0, uint64_t result = 0) {
    if (!claim()) s = DM_STATUS_NOT_RUN;
    finish(i, s, detail, result);
    return true;
  };
  if (kind == DM_OPCODE_COPY) {
    len = uint64_t{d.copy.size} + 1;
    Region* a = acquire(d.copy.akey0);
    Region* b = acquire(d.copy.akey1);
    p.pins[0] = a;
    p.pins[1] = b;
    if (a == nullptr || b == nullptr) return fin(DM_STATUS_BAD_AKEY);
    if (!(d.copy.addr0 <= a->length && len <= a->length - d.copy.addr0) || !(d.copy.addr1 <= b->length && len <= b->length - d.copy.addr1))
      return fin(DM_STATUS_OUT_OF_BOUNDS);
    if (a->remote && a->revoked) return fin(kStatusRevoked, 0, d.copy.akey0);
    if (b->remote && b->revoked) return fin(kStatusRevoked, 0, d.copy.akey1);
    if (!b->writable) return fin(DM_STATUS_ACCESS_DENIED);
    if (a->remote == b->remote) return fin(DM_STATUS_UNSUPPORTED);
    write = b->remote;
    local = write ? a : b;
    remote = write ? b : a;
    loff = write ? d.copy.addr0 : d.copy.addr1;
    roff = write ? d.copy.addr1 : d.copy.addr0;
    remoteKey = write ? d.copy.akey1 : d.copy.akey0;
  } else if (kind == DM_OPCODE_WRITE_IMM) {
    const uint8_t width = d.writeImm.width;
    if (width != 1 && width != 2 && width != 4 && width != 8) return fin(DM_STATUS_BAD_DESCRIPTOR);
    len = width;
    Region* b = acquire(d.writeImm.akey1);
    p.pins[0] = b;
    if (b == nullptr) return fin(DM_STATUS_BAD_AKEY);
    if (!(d.writeImm.addr1 <= b->length && len <= b->length - d.writeImm.addr1)) return fin(DM_STATUS_OUT_OF_BOUNDS);
    if (!b->writable) return fin(DM_STATUS_ACCESS_DENIED);
    if (!b->remote) return fin(DM_STATUS_UNSUPPORTED);
    remote = b;
    roff = d.writeImm.addr1;
    remoteKey = d.writeImm.akey1;
    imm = true;
    p.imm = d.writeImm.value;
  } else {
    return fin(DM_STATUS_UNSUPPORTED);
  }
  if (remote->revoked) return fin(kStatusRevoked, 0, remoteKey);
  (void)status;
  p.remoteKey = remoteKey;
  // The peer's live QPs, and room on them.
  std::vector<Qp*> qps;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    auto it = peers_.find(remote->peer);
    if (it != peers_.end())
      for (Qp* q : it->second)
        if (q != nullptr && q->up) qps.push_back(q);
  }
  if (qps.empty()) return fin(kStatusDisconnect, 0, remoteKey);
  const uint64_t chunks = imm || len <= chunkBytes_ ? 1 : (len + chunkBytes_ - 1) / chunkBytes_;
  const uint32_t start = rr_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t perQp = (chunks + qps.size() - 1) / qps.size();
  for (Qp* q : qps)
    if (q->outstanding + static_cast<int>(std::min<uint64_t>(perQp, chunks)) > sendDepth_) {
      // Not now: the regions are unpinned and the descriptor re-read when there is room.
      releasePins(p);
      p.active = false;
      return false;
    }
  if (!claim()) {
    finish(i, DM_STATUS_NOT_RUN, 0, 0);
    return true;
  }
  p.chunksLeft = static_cast<uint32_t>(chunks);
  for (uint64_t c = 0; c < chunks; c++) {
    Qp* q = qps[(start + c) % qps.size()];
    const uint64_t off = c * chunkBytes_;
    const uint64_t n = chunks == 1 ? len : std::min<uint64_t>(chunkBytes_, len - off);
    ibv_sge sge;
    ibv_send_wr wr, *bad = nullptr;
    std::memset(&wr, 0, sizeof wr);
    wr.wr_id = i;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.wr.rdma.remote_addr = remote->raddr + roff + off;
    wr.wr.rdma.rkey = remote->rkey;
    if (imm) {
      sge.addr = reinterpret_cast<uintptr_t>(&p.imm);
      sge.length = static_cast<uint32_t>(len);
      sge.lkey = 0;
      wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
      wr.send_flags |= IBV_SEND_INLINE;
      wr.imm_data = htonl(static_cast<uint32_t>(p.imm));
    } else {
      sge.addr = reinterpret_cast<uintptr_t>(local->base + loff + off);
      sge.length = static_cast<uint32_t>(n);
      sge.lkey = local->lkey;
      wr.opcode = write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
    }
    q->outstanding++;
    const int rc = ibv_post_send(q->id->qp, &wr, &bad);
    if (rc != 0) {
      q->outstanding--;
      // This chunk and the ones not posted fail; the posted ones complete (or flush) normally.
      const uint64_t unposted = chunks - c;
      for (uint64_t k = 0; k < unposted; k++) chunkDone(i, q->up ? kStatusWc : kStatusDisconnect, q->up ? IBV_WC_GENERAL_ERR : 0, remoteKey);
      break;
    }
    outstandingWrs_++;
    if (imm) statImmSent_++;
    else if (write) statWrites_++;
    else statReads_++;
  }
  p.result = 0;
  statBytes_ += len;
  (void)remoteKey;
  return true;
}

void Engine::pollSend() {
  ibv_wc wc[32];
  const int n = ibv_poll_cq(scq_, 32, wc);
  for (int k = 0; k < n; k++) {
    Qp* q = nullptr;
    {
      std::lock_guard<std::mutex> g(qpMu_);
      auto it = byNum_.find(wc[k].qp_num);
      if (it != byNum_.end()) q = it->second;
    }
    if (q) q->outstanding--;
    outstandingWrs_--;
    const uint64_t i = wc[k].wr_id;
    const uint16_t remoteKey = pend_[i & mask_].remoteKey;
    if (wc[k].status == IBV_WC_SUCCESS) {
      chunkDone(i, DM_STATUS_OK, 0, 0);
      continue;
    }
    statWcErrors_++;
    const bool gone = (q && q->disconnected) || wc[k].status == IBV_WC_RETRY_EXC_ERR || wc[k].status == IBV_WC_RNR_RETRY_EXC_ERR;
    if (q && wc[k].status != IBV_WC_WR_FLUSH_ERR) markDown(q, gone, std::string("work completion ") + v_->wc_status_str(wc[k].status));
    chunkDone(i, gone ? kStatusDisconnect : kStatusWc, static_cast<int32_t>(wc[k].status), remoteKey);
  }
}

void Engine::waitIdle(uint64_t next) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  while (std::chrono::steady_clock::now() < until) {
    if (ready(next) || stop_) return;
    sched_yield();
  }
  const uint64_t seen = bells_.load();
  sleeping_.store(true);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!ready(next)) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(20), [&] { return bells_.load() != seen || stop_.load(); });
  }
  sleeping_.store(false);
}

void Engine::consume() {
  uint64_t* readIndex = h64(DM_RING_READ_INDEX_OFFSET);
  uint32_t* notifyPending = h32(DM_RING_NOTIFY_PENDING_OFFSET);
  uint64_t r = __atomic_load_n(readIndex, __ATOMIC_ACQUIRE);
  uint64_t next = r;
  const uint64_t entries = mask_ + 1;
  while (!stop_.load(std::memory_order_relaxed)) {
    bool progressed = false;
    while (next - r < entries && ready(next)) {
      if (!postOne(next)) break;
      next++;
      progressed = true;
    }
    if (outstandingWrs_ > 0) pollSend();
    bool retired = false;
    while (r < next && pend_[r & mask_].done) {
      pend_[r & mask_].active = false;
      pend_[r & mask_].done = false;
      r++;
      retired = true;
    }
    if (retired) {
      __atomic_store_n(readIndex, r, __ATOMIC_SEQ_CST);
      if (__atomic_exchange_n(notifyPending, 1u, __ATOMIC_SEQ_CST) == 0) progress_.NonBlockingCall();
      progressed = true;
    }
    if (progressed) continue;
    if (outstandingWrs_ > 0) sched_yield();
    else waitIdle(next);
  }
}

// ---- connections

bool Engine::setupQp(rdma_cm_id* id, Qp* q, std::string* why) {
  if (id->verbs != ctx_) {
    *why = "the connection resolved to another RDMA device than the engine's " + deviceName_;
    return false;
  }
  ibv_qp_init_attr qa;
  std::memset(&qa, 0, sizeof qa);
  qa.send_cq = scq_;
  qa.recv_cq = rcq_;
  qa.qp_type = IBV_QPT_RC;
  qa.cap.max_send_wr = static_cast<uint32_t>(sendDepth_) + 8;
  qa.cap.max_recv_wr = kRecvDepth;
  qa.cap.max_send_sge = 1;
  qa.cap.max_recv_sge = 1;
  qa.cap.max_inline_data = 64;
  if (v_->create_qp(id, pd_, &qa) != 0) {
    *why = std::string("rdma_create_qp: ") + std::strerror(errno);
    return false;
  }
  q->id = id;
  q->qpNum = id->qp->qp_num;
  uint8_t t = ackTimeout_;
  v_->set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &t, sizeof t);
  for (int k = 0; k < kRecvDepth; k++) {
    ibv_recv_wr rw, *bad = nullptr;
    std::memset(&rw, 0, sizeof rw);
    rw.wr_id = q->qpNum;
    if (ibv_post_recv(id->qp, &rw, &bad) != 0) break;
  }
  std::lock_guard<std::mutex> g(qpMu_);
  byNum_[q->qpNum] = q;
  byId_[id] = q;
  return true;
}

void Engine::install(Qp* q) {
  if (q->id && q->id->qp) {
    // RTS -> RTS: only the RNR timer changes (best effort; a device refusing keeps rdma_cm's).
    ibv_qp_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.min_rnr_timer = kMinRnrTimer;
    v_->modify_qp(q->id->qp, &attr, IBV_QP_MIN_RNR_TIMER);
  }
  Qp* old = nullptr;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    auto& slots = peers_[q->peer];
    if (slots.size() < qpsPerPeer_) slots.resize(qpsPerPeer_, nullptr);
    old = slots[q->index];
    slots[q->index] = q;
    q->up = true;
  }
  if (old != nullptr && old != q) markDown(old, false, "replaced by a new connection");
  statConnects_++;
  emit(Event{"established", q->peer, q->index, 0, 0, ""});
}

// Takes a QP out of service: no new work is posted on it, its queued work flushes (to the CQ, so
// every descriptor gets a status), and it is destroyed once nothing of ours is outstanding.
void Engine::markDown(Qp* q, bool disconnected, const std::string& why) {
  if (disconnected) q->disconnected = true;
  const bool wasUp = q->up.exchange(false);
  if (q->reported.exchange(true)) return;
  ibv_qp_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.qp_state = IBV_QPS_ERR;
  if (q->id && q->id->qp) v_->modify_qp(q->id->qp, &attr, IBV_QP_STATE);
  {
    std::lock_guard<std::mutex> g(qpMu_);
    auto it = peers_.find(q->peer);
    if (it != peers_.end())
      for (Qp*& s : it->second)
        if (s == q) s = nullptr;
    graveyard_.push_back(q);
  }
  statQpDown_++;
  (void)wasUp;
  emit(Event{"qp-down", q->peer, q->index, 0, 0, (q->disconnected ? "disconnected: " : "") + why});
}

void Engine::reapGraveyard(bool all) {
  std::vector<Qp*> dead;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    for (auto it = graveyard_.begin(); it != graveyard_.end();) {
      if (all || (*it)->outstanding == 0) {
        dead.push_back(*it);
        byNum_.erase((*it)->qpNum);
        byId_.erase((*it)->id);
        it = graveyard_.erase(it);
      } else
        ++it;
    }
  }
  for (Qp* q : dead) {
    if (q->id) {
      v_->disconnect(q->id);
      if (q->id->qp) v_->destroy_qp(q->id);
      v_->destroy_id(q->id);
    }
    delete q;
  }
}

void Engine::handleCmEvent(rdma_cm_event_type type, rdma_cm_id* id, int status, const ConnPrivate* priv) {
  if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
    uint32_t peer = 0;
    bool known = false;
    if (priv != nullptr && priv->magic == kConnMagic && priv->qpIndex < qpsPerPeer_) {
      std::lock_guard<std::mutex> g(qpMu_);
      auto it = expected_.find(priv->connKey);
      if (it != expected_.end()) {
        peer = it->second;
        known = true;
      }
    }
    if (!known) {
      v_->reject(id, nullptr, 0);
      v_->destroy_id(id);
      emit(Event{"rejected", 0, -1, 0, 0, "connect request with an unknown connection key"});
      return;
    }
    Qp* q = new Qp();
    q->peer = peer;
    q->index = priv->qpIndex;
    std::string why;
    if (!setupQp(id, q, &why)) {
      v_->reject(id, nullptr, 0);
      v_->destroy_id(id);
      delete q;
      emit(Event{"rejected", peer, -1, 0, 0, why});
      return;
    }
    rdma_conn_param cp;
    std::memset(&cp, 0, sizeof cp);
    cp.responder_resources = 16;
    cp.initiator_depth = 16;
    cp.retry_count = retryCount_;
    cp.rnr_retry_count = 7;
    if (v_->accept(id, &cp) != 0) {
      std::lock_guard<std::mutex> g(qpMu_);
      q->reported = true;
      graveyard_.push_back(q);
    }
    return;
  }
  Qp* q = nullptr;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    auto it = byId_.find(id);
    if (it != byId_.end()) q = it->second;
  }
  if (q == nullptr) return;
  switch (type) {
    case RDMA_CM_EVENT_ESTABLISHED:
      install(q);
      break;
    case RDMA_CM_EVENT_DISCONNECTED:
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
    case RDMA_CM_EVENT_CONNECT_ERROR:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_REJECTED:
      markDown(q, true, std::string(v_->event_str(type)) + (status ? " (status " + std::to_string(status) + ")" : ""));
      break;
    default:
      break;
  }
}

void Engine::cmLoop() {
  while (!stop_) {
    pollfd pfd{ch_->fd, POLLIN, 0};
    const int rc = poll(&pfd, 1, 50);
    if (rc > 0) {
      rdma_cm_event* ev = nullptr;
      while (v_->get_cm_event(ch_, &ev) == 0) {
        const rdma_cm_event_type type = ev->event;
        rdma_cm_id* id = ev->id;
        const int status = ev->status;
        ConnPrivate priv;
        bool hasPriv = false;
        if (type == RDMA_CM_EVENT_CONNECT_REQUEST && ev->param.conn.private_data != nullptr &&
            ev->param.conn.private_data_len >= sizeof priv) {
          std::memcpy(&priv, ev->param.conn.private_data, sizeof priv);
          hasPriv = true;
        }
        v_->ack_cm_event(ev);  // acknowledged first: destroying an id waits for its events' acks
        handleCmEvent(type, id, status, hasPriv ? &priv : nullptr);
      }
    }
    reapGraveyard(false);
  }
}

void Engine::recvLoop() {
  while (!stop_) {
    pollfd pfd{rch_->fd, POLLIN, 0};
    if (poll(&pfd, 1, 50) <= 0) continue;
    ibv_cq* cq = nullptr;
    void* ctx = nullptr;
    if (v_->get_cq_event(rch_, &cq, &ctx) != 0) continue;
    v_->ack_cq_events(cq, 1);
    ibv_req_notify_cq(rcq_, 0);
    ibv_wc wc[32];
    int n;
    while ((n = ibv_poll_cq(rcq_, 32, wc)) > 0) {
      for (int k = 0; k < n; k++) {
        Qp* q = nullptr;
        {
          std::lock_guard<std::mutex> g(qpMu_);
          auto it = byNum_.find(wc[k].qp_num);
          if (it != byNum_.end()) q = it->second;
        }
        if (q == nullptr) continue;
        if (wc[k].status != IBV_WC_SUCCESS) {
          if (wc[k].status != IBV_WC_WR_FLUSH_ERR || q->up) markDown(q, false, std::string("receive completion ") + v_->wc_status_str(wc[k].status));
          continue;
        }
        if (wc[k].opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
          statImmRecv_++;
          emit(Event{"imm", q->peer, q->index, ntohl(wc[k].imm_data), wc[k].byte_len, ""});
        }
        if (q->up) {
          ibv_recv_wr rw, *bad = nullptr;
          std::memset(&rw, 0, sizeof rw);
          rw.wr_id = q->qpNum;
          ibv_post_recv(q->id->qp, &rw, &bad);
        }
      }
    }
  }
}

Napi::Value Engine::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  if (listener_ != nullptr) fail(env, "INVALID_ARGUMENT", "already listening");
  const std::string host = info[0].As<Napi::String>().Utf8Value();
  const auto port = static_cast<uint16_t>(intArg(env, info[1], 0, 65535, "port"));
  sockaddr_in sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) fail(env, "INVALID_ARGUMENT", "listen address must be an IPv4 address");
  rdma_cm_id* id = nullptr;
  if (v_->create_id(ch_, &id, nullptr, RDMA_PS_TCP) != 0) fail(env, "DEVICE_ERROR", std::string("rdma_create_id: ") + std::strerror(errno));
  if (v_->bind_addr(id, reinterpret_cast<sockaddr*>(&sa)) != 0 || v_->listen(id, 64) != 0) {
    const int e = errno;
    v_->destroy_id(id);
    fail(env, "DEVICE_ERROR", std::string("rdma_listen on ") + host + ":" + std::to_string(port) + ": " + std::strerror(e));
  }
  listener_ = id;
  return Napi::Number::New(env, ntohs(v_->get_src_port(id)));
}

void Engine::ExpectPeer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  bool lossless = false;
  const uint64_t key = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  const auto peer = static_cast<uint32_t>(intArg(env, info[1], 0, 0xffffffffLL, "peer"));
  std::lock_guard<std::mutex> g(qpMu_);
  expected_[key] = peer;
}

void Engine::connectThread(uint32_t peer, uint16_t index, std::string host, uint16_t port, uint64_t key) {
  std::string why;
  rdma_event_channel* ec = v_->create_event_channel();
  rdma_cm_id* id = nullptr;
  Qp* q = nullptr;
  auto waitFor = [&](rdma_cm_event_type want, int ms) -> bool {
    pollfd pfd{ec->fd, POLLIN, 0};
    if (poll(&pfd, 1, ms) <= 0) {
      why = std::string("timed out waiting for ") + v_->event_str(want);
      return false;
    }
    rdma_cm_event* ev = nullptr;
    if (v_->get_cm_event(ec, &ev) != 0) {
      why = std::string("rdma_get_cm_event: ") + std::strerror(errno);
      return false;
    }
    const rdma_cm_event_type got = ev->event;
    const int status = ev->status;
    v_->ack_cm_event(ev);
    if (got != want) {
      why = std::string(v_->event_str(got)) + " (status " + std::to_string(status) + ") instead of " + v_->event_str(want);
      return false;
    }
    return true;
  };
  bool ok = false;
  do {
    if (ec == nullptr) {
      why = std::string("rdma_create_event_channel: ") + std::strerror(errno);
      break;
    }
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr) {
      why = "cannot resolve " + host;
      break;
    }
    sockaddr_in dst;
    std::memcpy(&dst, res->ai_addr, sizeof dst);
    freeaddrinfo(res);
    if (v_->create_id(ec, &id, nullptr, RDMA_PS_TCP) != 0) {
      why = std::string("rdma_create_id: ") + std::strerror(errno);
      break;
    }
    if (v_->resolve_addr(id, nullptr, reinterpret_cast<sockaddr*>(&dst), 2000) != 0 || !waitFor(RDMA_CM_EVENT_ADDR_RESOLVED, 3000)) {
      if (why.empty()) why = std::string("rdma_resolve_addr: ") + std::strerror(errno);
      break;
    }
    if (v_->resolve_route(id, 2000) != 0 || !waitFor(RDMA_CM_EVENT_ROUTE_RESOLVED, 3000)) {
      if (why.empty()) why = std::string("rdma_resolve_route: ") + std::strerror(errno);
      break;
    }
    q = new Qp();
    q->peer = peer;
    q->index = index;
    if (!setupQp(id, q, &why)) break;
    ConnPrivate priv{kConnMagic, index, 0, key};
    rdma_conn_param cp;
    std::memset(&cp, 0, sizeof cp);
    cp.private_data = &priv;
    cp.private_data_len = sizeof priv;
    cp.responder_resources = 16;
    cp.initiator_depth = 16;
    cp.retry_count = retryCount_;
    cp.rnr_retry_count = 7;
    if (v_->connect(id, &cp) != 0 || !waitFor(RDMA_CM_EVENT_ESTABLISHED, 10000)) {
      if (why.empty()) why = std::string("rdma_connect: ") + std::strerror(errno);
      break;
    }
    if (v_->migrate_id(id, ch_) != 0) {
      why = std::string("rdma_migrate_id: ") + std::strerror(errno);
      break;
    }
    ok = true;
  } while (false);
  if (ok) {
    install(q);
  } else {
    if (q != nullptr && q->id != nullptr) {
      std::lock_guard<std::mutex> g(qpMu_);
      byNum_.erase(q->qpNum);
      byId_.erase(q->id);
    }
    if (id != nullptr) {
      if (id->qp) v_->destroy_qp(id);
      v_->destroy_id(id);
    }
    delete q;
    emit(Event{"connect-failed", peer, index, 0, 0, why});
  }
  if (ec != nullptr) v_->destroy_event_channel(ec);
}

void Engine::ConnectQp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const auto peer = static_cast<uint32_t>(intArg(env, info[0], 0, 0xffffffffLL, "peer"));
  const auto index = static_cast<uint16_t>(intArg(env, info[1], 0, qpsPerPeer_ - 1, "qp index"));
  const std::string host = info[2].As<Napi::String>().Utf8Value();
  const auto port = static_cast<uint16_t>(intArg(env, info[3], 1, 65535, "port"));
  bool lossless = false;
  const uint64_t key = info[4].As<Napi::BigInt>().Uint64Value(&lossless);
  std::lock_guard<std::mutex> g(qpMu_);
  connectors_.emplace_back(&Engine::connectThread, this, peer, index, host, port, key);
}

void Engine::DropPeer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return;
  const auto peer = static_cast<uint32_t>(intArg(env, info[0], 0, 0xffffffffLL, "peer"));
  std::vector<Qp*> qs;
  {
    std::lock_guard<std::mutex> g(qpMu_);
    auto it = peers_.find(peer);
    if (it != peers_.end())
      for (Qp* q : it->second)
        if (q) qs.push_back(q);
    for (auto e = expected_.begin(); e != expected_.end();) e = e->second == peer ? expected_.erase(e) : std::next(e);
  }
  for (Qp* q : qs) markDown(q, true, "peer dropped (its control channel closed)");
}

void Engine::Doorbell(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  bells_.fetch_add(1);
  if (sleeping_.load()) {
    { std::lock_guard<std::mutex> g(mu_); }
    cv_.notify_one();
  }
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

void Engine::shutdown(bool fromEnvCleanup) {
  if (closed_) return;
  closed_ = true;
  stop_ = true;
  { std::lock_guard<std::mutex> g(mu_); }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
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
  progress_.Release();
  events_.Release();
  if (hooked_ && !fromEnvCleanup) napi_remove_env_cleanup_hook(env_, &Engine::onEnvCleanup, this);
  hooked_ = false;
  ringRef_.Reset();
}

#else  // no rdma-core headers at build time

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("headers", false);
  out.Set("missing", "headers");
  out.Set("message", "built without rdma-core headers (install libibverbs-dev and librdmacm-dev, then rebuild: pnpm --filter @datamover/backend-rdma build:native)");
  return out;
}

#endif

}  // namespace dm

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New<dm::Probe>(env, "probe"));
  exports.Set("memoryAddress", Napi::Function::New<dm::MemoryAddress>(env, "memoryAddress"));
#ifdef DM_HAVE_RDMA_HEADERS
  exports.Set("Engine", dm::Engine::Define(env));
#endif
  return exports;
}

NODE_API_MODULE(datamover_rdma, Init)
