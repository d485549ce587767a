// The consumer thread: descriptors from core's ring become RDMA work requests on the peer's QPs;
// send completions settle the ring's completion blocks; Read_Index advances in ring order.
#include "engine.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <sched.h>
#include <arpa/inet.h>

#include <chrono>
#include <cstring>

#include <datamover/descriptor.h>

namespace dm {

constexpr uint32_t kStatusWc = 64;          // a work completion failed: detail = ibv_wc_status
constexpr uint32_t kStatusDisconnect = 65;  // the peer went away (detail = ibv_wc_status or 0)
constexpr uint32_t kStatusRevoked = 66;     // the import was revoked before the work was posted

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

void Engine::Doorbell(const Napi::CallbackInfo& info) {
  checkOpen(info.Env());
  bells_.fetch_add(1);
  if (sleeping_.load()) {
    { std::lock_guard<std::mutex> g(mu_); }
    cv_.notify_one();
  }
}

}  // namespace dm
#endif
