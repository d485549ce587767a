// The consumer thread's rdma part, under the kit's pipelined loop (RingConsumer::servePipelined):
// descriptors become RDMA work requests on the peer's QPs, and send completions settle their slots.
#include "engine.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <arpa/inet.h>

#include <cstring>

#include <datamover/descriptor.h>

namespace dm {

constexpr uint32_t kStatusWc = 64;          // a work completion failed: detail = ibv_wc_status
constexpr uint32_t kStatusDisconnect = 65;  // the peer went away (detail = ibv_wc_status or 0)
constexpr uint32_t kStatusRevoked = 66;     // the import was revoked before the work was posted

void Engine::settle(uint64_t i, uint32_t status, int32_t detail, uint64_t result) {
  releasePins(pend_[i & (entries() - 1)]);
  settlePosted(i, Outcome{status, result, detail});
}

void Engine::chunkDone(uint64_t i, uint32_t status, int32_t detail, uint64_t result) {
  Pending& p = pend_[i & (entries() - 1)];
  if (status != DM_STATUS_OK && p.status == DM_STATUS_OK) {
    p.status = status;
    p.detail = detail;
    p.result = result;
  }
  if (--p.chunksLeft == 0) settle(i, p.status, p.detail, p.result);
}

// Validates descriptor i (the kit checked its csb_ptr, fence and failure rule), claims it and
// posts what of it fits; the rest waits in unposted_. False: no send slot is free, or an earlier
// descriptor still waits for slots; the kit offers it again after completions.
bool Engine::post(uint64_t i, const Descriptor& d) {
  Pending& p = pend_[i & (entries() - 1)];
  const uint32_t op = d.nop.opcode;
  p = Pending{};
  const uint32_t kind = op & DM_OPCODE_KIND_MASK;
  auto fin = [&](uint32_t s, int32_t detail = 0, uint64_t result = 0) {
    settle(i, claim(i) ? s : DM_STATUS_NOT_RUN, detail, result);
    return true;
  };
  if ((op & ~kAllowedOpcodeBits) != 0) return fin(DM_STATUS_BAD_DESCRIPTOR);
  if (kind == DM_OPCODE_NOP) return fin(DM_STATUS_OK);
  // The operands: (local, remote), direction, range.
  if (kind == DM_OPCODE_COPY) {
    p.len = uint64_t{d.copy.size} + 1;
    Region* a = acquire(d.copy.akey0);
    Region* b = acquire(d.copy.akey1);
    p.pins[0] = a;
    p.pins[1] = b;
    if (a == nullptr || b == nullptr) return fin(DM_STATUS_BAD_AKEY);
    if (!(d.copy.addr0 <= a->length && p.len <= a->length - d.copy.addr0) || !(d.copy.addr1 <= b->length && p.len <= b->length - d.copy.addr1))
      return fin(DM_STATUS_OUT_OF_BOUNDS);
    if (a->remote && a->revoked) return fin(kStatusRevoked, 0, d.copy.akey0);
    if (b->remote && b->revoked) return fin(kStatusRevoked, 0, d.copy.akey1);
    if (!b->writable) return fin(DM_STATUS_ACCESS_DENIED);
    if (a->remote == b->remote) return fin(DM_STATUS_UNSUPPORTED);
    p.write = b->remote;
    p.local = p.write ? a : b;
    p.remote = p.write ? b : a;
    p.loff = p.write ? d.copy.addr0 : d.copy.addr1;
    p.roff = p.write ? d.copy.addr1 : d.copy.addr0;
    p.remoteKey = p.write ? d.copy.akey1 : d.copy.akey0;
  } else if (kind == DM_OPCODE_WRITE_IMM) {
    const uint8_t width = d.writeImm.width;
    if (width != 1 && width != 2 && width != 4 && width != 8) return fin(DM_STATUS_BAD_DESCRIPTOR);
    p.len = width;
    Region* b = acquire(d.writeImm.akey1);
    p.pins[0] = b;
    if (b == nullptr) return fin(DM_STATUS_BAD_AKEY);
    if (!(d.writeImm.addr1 <= b->length && p.len <= b->length - d.writeImm.addr1)) return fin(DM_STATUS_OUT_OF_BOUNDS);
    if (!b->writable) return fin(DM_STATUS_ACCESS_DENIED);
    if (!b->remote) return fin(DM_STATUS_UNSUPPORTED);
    p.remote = b;
    p.roff = d.writeImm.addr1;
    p.remoteKey = d.writeImm.akey1;
    p.imm = true;
    p.immValue = d.writeImm.value;
  } else {
    return fin(DM_STATUS_UNSUPPORTED);
  }
  if (p.remote->revoked) return fin(kStatusRevoked, 0, p.remoteKey);
  // The peer's live QPs, and room on one of them.
  const std::vector<Qp*> qps = liveQps(p.remote->peer);
  if (qps.empty()) return fin(kStatusDisconnect, 0, p.remoteKey);
  bool room = false;
  for (Qp* q : qps) room = room || q->outstanding < sendDepth_;
  if (!room || unposted_) {
    // Not now: the regions are unpinned and the descriptor re-read when there is room.
    releasePins(p);
    return false;
  }
  if (!claim(i)) {
    settle(i, DM_STATUS_NOT_RUN, 0, 0);
    return true;
  }
  p.chunks = p.imm || p.len <= chunkBytes_ ? 1 : static_cast<uint32_t>((p.len + chunkBytes_ - 1) / chunkBytes_);
  p.chunksLeft = p.chunks;
  p.start = rr_.fetch_add(1, std::memory_order_relaxed);
  statBytes_ += p.len;
  if (!postChunks(i)) unposted_ = i;
  return true;
}

std::vector<Qp*> Engine::liveQps(uint32_t peer) {
  std::vector<Qp*> qps;
  std::lock_guard<std::mutex> g(qpMu_);
  auto it = peers_.find(peer);
  if (it != peers_.end())
    for (Qp* q : it->second)
      if (q != nullptr && q->up) qps.push_back(q);
  return qps;
}

// Posts claimed slot i's next chunks, each on the next QP in its rotation with a free send slot.
// True once none is left to post (all posted, or the rest failed); false: every QP is full.
bool Engine::postChunks(uint64_t i) {
  Pending& p = pend_[i & (entries() - 1)];
  // The chunks not posted fail (a chunk already failed, the import was revoked, the peer is gone);
  // the posted ones complete (or flush) normally.
  auto failRest = [&](uint32_t status, int32_t detail) {
    const uint32_t rest = p.chunks - p.posted;
    p.posted = p.chunks;
    for (uint32_t k = 0; k < rest; k++) chunkDone(i, status, detail, p.remoteKey);
    return true;
  };
  if (p.status != DM_STATUS_OK) return failRest(p.status, p.detail);
  if (p.remote->revoked) return failRest(kStatusRevoked, 0);
  const std::vector<Qp*> qps = liveQps(p.remote->peer);
  if (qps.empty()) return failRest(kStatusDisconnect, 0);
  while (p.posted < p.chunks) {
    Qp* q = nullptr;
    for (size_t k = 0; k < qps.size() && q == nullptr; k++) {
      Qp* c = qps[(p.start + p.posted + k) % qps.size()];
      if (c->outstanding < sendDepth_) q = c;
    }
    if (q == nullptr) return false;
    const uint64_t off = uint64_t{p.posted} * chunkBytes_;
    const uint64_t n = p.chunks == 1 ? p.len : std::min<uint64_t>(chunkBytes_, p.len - off);
    ibv_sge sge;
    ibv_send_wr wr, *bad = nullptr;
    std::memset(&wr, 0, sizeof wr);
    wr.wr_id = i;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.wr.rdma.remote_addr = p.remote->raddr + p.roff + off;
    wr.wr.rdma.rkey = p.remote->rkey;
    if (p.imm) {
      sge.addr = reinterpret_cast<uintptr_t>(&p.immValue);
      sge.length = static_cast<uint32_t>(p.len);
      sge.lkey = 0;
      wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
      wr.send_flags |= IBV_SEND_INLINE;
      wr.imm_data = htonl(static_cast<uint32_t>(p.immValue));
    } else {
      sge.addr = reinterpret_cast<uintptr_t>(p.local->base + p.loff + off);
      sge.length = static_cast<uint32_t>(n);
      sge.lkey = p.local->lkey;
      wr.opcode = p.write ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
    }
    q->outstanding++;
    if (ibv_post_send(q->id->qp, &wr, &bad) != 0) {
      q->outstanding--;
      return failRest(q->up ? kStatusWc : kStatusDisconnect, q->up ? IBV_WC_GENERAL_ERR : 0);
    }
    p.posted++;
    if (p.imm) statImmSent_++;
    else if (p.write) statWrites_++;
    else statReads_++;
  }
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
    const uint64_t i = wc[k].wr_id;
    const uint16_t remoteKey = pend_[i & (entries() - 1)].remoteKey;
    if (wc[k].status == IBV_WC_SUCCESS) {
      chunkDone(i, DM_STATUS_OK, 0, 0);
      continue;
    }
    statWcErrors_++;
    const bool gone = (q && q->disconnected) || wc[k].status == IBV_WC_RETRY_EXC_ERR || wc[k].status == IBV_WC_RNR_RETRY_EXC_ERR;
    if (q && wc[k].status != IBV_WC_WR_FLUSH_ERR) markDown(q, gone, std::string("work completion ") + v_->wc_status_str(wc[k].status));
    chunkDone(i, gone ? kStatusDisconnect : kStatusWc, static_cast<int32_t>(wc[k].status), remoteKey);
  }
  // Completions freed send slots: the unposted chunks go first.
  if (n > 0 && unposted_ && postChunks(*unposted_)) unposted_.reset();
}

void Engine::consume() {
  unposted_.reset();
  servePipelined([this](uint64_t i, const Descriptor& d) { return post(i, d); }, [this] { pollSend(); });
}

}  // namespace dm
#endif
