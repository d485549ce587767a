// A queue pair's life: created on a cm id with its receives posted, put in service, taken down,
// reaped; and the receive thread (immediate data from the peer's WRITE_WITH_IMM).
#include "engine.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <poll.h>
#include <arpa/inet.h>

#include <cstring>

namespace dm {

// Receives posted per QP for incoming WRITE_WITH_IMM (zero-length, re-posted as they complete).
// Deeper than a peer's send queue, so a burst of immediates rarely finds the queue empty.
constexpr int kRecvDepth = 1024;
// The RNR NAK timer this side's QPs advertise (IB encoding 12 = 0.64 ms). rdma_cm leaves it at 0,
// which means 655 ms: every time a burst of immediates outran the re-posting of receives, the
// sender stalled for 0.65 s (the conformance suite's 12,288-immediate batches took minutes).
constexpr uint8_t kMinRnrTimer = 12;

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

}  // namespace dm
#endif
