// The RDMA engine: one session consuming core's descriptor ring on its own thread. Copies between
// a local host region and an imported remote region become RDMA WRITE / READ work requests on RC
// queue pairs (large ones split across the peer's QPs); write-immediate to a remote region becomes
// RDMA WRITE_WITH_IMM. Work completions map back to the ring's completion blocks; Read_Index
// advances in ring order. Connection management runs on a second thread (librdmacm events), and
// receive completions (immediate data) on a third. libibverbs and librdmacm are dlopened.
//
// The ring itself (its checks, the consumer thread, completion blocks, the failure rule, sleep and
// wake-up, doorbell/ref/unref/close) is core's kit, dm::RingConsumer, in its pipelined mode.
// The Engine's methods live in files named by concern: engine.cc (open, events to JavaScript,
// stats, release), regions.cc (memory registrations and the region table), consumer.cc (the kit's
// post and poll: posting work requests, polling send completions), queue_pairs.cc (a QP's setup,
// receives and teardown), connections.cc (rdma_cm: listening, accepting, connecting).
#pragma once

#ifdef DM_HAVE_RDMA_HEADERS
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <datamover/abi.h>
#include <datamover/live_engines.h>
#include <datamover/ring_consumer.h>
#include <napi.h>

#include "verbs.h"

namespace dm {

struct ConnPrivate;  // the private data of our connect requests (connections.cc)

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

// A claimed descriptor's work requests: `chunks` of them, posted in windows as send slots free
// up (posted so far: `posted`), settled once all `chunks` completed or failed.
struct Pending {
  uint32_t chunks = 0;
  uint32_t posted = 0;
  uint32_t chunksLeft = 0;  // not yet completed (or failed)
  uint32_t status = DM_STATUS_OK;
  int32_t detail = 0;
  uint64_t result = 0;
  Region* pins[2] = {nullptr, nullptr};
  Region* local = nullptr;   // nullptr for write-immediate
  Region* remote = nullptr;
  uint64_t loff = 0, roff = 0, len = 0;
  uint32_t start = 0;  // the QP rotation's starting point
  bool write = true, imm = false;
  uint64_t immValue = 0;  // write-immediate payload (posted inline)
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

// What the events ThreadSafeFunction's calls share with the engine. Each queued call holds a
// reference: the engine may be finalized (its TSFN released) with calls still queued, and those run
// later on the JS thread, so they must not touch the engine itself.
struct EventQueue {
  std::mutex mu;
  std::deque<Event> events;
  bool closed = false;  // JS thread only: release() ran, later calls deliver nothing
};

class Engine : public Napi::ObjectWrap<Engine>, public RingConsumer, public LiveEngine {
 public:
  static Napi::Function Define(Napi::Env env) {
    return defineEngine<Engine>(env, "Engine",
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
                           InstanceMethod<&Engine::Stats>("stats"),
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
  Napi::Value Stats(const Napi::CallbackInfo& info);

  // The kit's engine part: consume() runs servePipelined(post, pollSend) on the consumer thread;
  // release() (after the consumer stopped) stops the other threads and frees the verbs objects.
  void consume() override;
  void release() override;
  // LiveEngine: a local region or memory registration over [p, p + n); stop before it is freed.
  bool holds(const void* p, size_t n) override;
  void stopForFree() override { shutdown(false); }
  bool post(uint64_t i, const Descriptor& d);
  bool postChunks(uint64_t i);
  std::vector<Qp*> liveQps(uint32_t peer);
  void settle(uint64_t i, uint32_t status, int32_t detail, uint64_t result);
  void chunkDone(uint64_t i, uint32_t status, int32_t detail, uint64_t result);
  void pollSend();
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

  const Verbs* v_ = nullptr;
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

  // threads: the kit's consumer (pend_, per slot) and the connection and receive threads
  std::vector<Pending> pend_;
  // The claimed slot with chunks still to post; at most one, later descriptors wait behind it.
  std::optional<uint64_t> unposted_;
  std::thread cmThread_, recvThread_;
  std::atomic<bool> stop_{false};  // the connection and receive threads

  std::shared_ptr<EventQueue> evq_ = std::make_shared<EventQueue>();

  // statistics
  std::atomic<uint64_t> statWrites_{0}, statReads_{0}, statImmSent_{0}, statImmRecv_{0}, statBytes_{0}, statWcErrors_{0},
      statConnects_{0}, statQpDown_{0};
};

}  // namespace dm
#endif
