// Connections over rdma_cm: the listener and its connect requests (checked against the keys
// JavaScript expects), outgoing connects on their own threads, and dropping a peer.
#include "engine.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <netdb.h>
#include <poll.h>
#include <arpa/inet.h>

#include <cstring>

namespace dm {

constexpr uint32_t kConnMagic = 0x444d5251;  // "DMRQ": private data of our connect requests

struct ConnPrivate {
  uint32_t magic;
  uint16_t qpIndex;
  uint16_t reserved;
  uint64_t connKey;
} __attribute__((packed));

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
  if (closed()) return;
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

}  // namespace dm
#endif
