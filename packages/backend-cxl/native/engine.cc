// The cxl engine: one consumer thread per ring, executing descriptors in ring order with the soft
// backend's Executor (compiled in from @datamover/backend-soft). A dax region is registered with
// that executor as a plain pointer range into a mapping this addon made; on top the engine adds
// the Datamover `durable` flag (write-back + fence, or msync), the alias check between two
// mappings of one device or file, and the fault watch that turns a SIGBUS on a mapping into
// IO_ERROR (fault_guard.h).
#include "engine.h"

#include <string>

#include "checks.h"
#include "common.h"
#include "fault_guard.h"
#include "memops.h"
#include "persist.h"

namespace cxl {
namespace {

constexpr uint32_t kDurable = 1u << DM_OPCODE_DURABLE;

dm::Outcome status(uint32_t s, int32_t detail = 0) { return dm::Outcome{s, 0, detail}; }

using Pin = dm::Pin<dm::Region>;

// The region indexes a descriptor's operands name (-1: no such operand).
void operandKeys(const dm::Descriptor& d, int keys[2]) {
  keys[0] = keys[1] = -1;
  switch (d.nop.opcode & DM_OPCODE_KIND_MASK) {
    case DM_OPCODE_COPY: keys[0] = d.copy.akey0, keys[1] = d.copy.akey1; break;
    case DM_OPCODE_COMPARE: keys[0] = d.compare.akey0, keys[1] = d.compare.akey1; break;
    case DM_OPCODE_FILL: keys[0] = d.fill.akey1; break;
    case DM_OPCODE_CRC32C: keys[0] = d.crc32c.akey0; break;
    case DM_OPCODE_WRITE_IMM: keys[0] = d.writeImm.akey1; break;
    case DM_OPCODE_COPY_STRIDED: keys[0] = d.copyStrided.akey0, keys[1] = d.copyStrided.akey1; break;
    case DM_OPCODE_COMPARE_STRIDED: keys[0] = d.compareStrided.akey0, keys[1] = d.compareStrided.akey1; break;
    case DM_OPCODE_FILL_STRIDED: keys[0] = d.fillStrided.akey1; break;
    case DM_OPCODE_CRC32C_STRIDED: keys[0] = d.crc32cStrided.akey0; break;
    default: break;
  }
}

}  // namespace

Napi::Function Engine::Define(Napi::Env env) {
  return defineEngine<Engine>(env, "Engine",
                              {
                                  InstanceMethod<&Engine::RegisterHost>("registerHost"),
                                  InstanceMethod<&Engine::RegisterDax>("registerDax"),
                                  InstanceMethod<&Engine::Deregister>("deregister"),
                                  InstanceMethod<&Engine::Stats>("stats"),
                                  InstanceMethod<&Engine::RunInline>("runInline"),
                              });
}

Napi::Value Engine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = consumerStats(env);
  o.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(nt_)));
  o.Set("durableWrites", Napi::Number::New(env, static_cast<double>(durableOps_.load(std::memory_order_relaxed))));
  return o;
}

Engine::Engine(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<Engine>(info), meta_(dm::RegionTable::kSize), registered_(dm::RegionTable::kSize) {
  Napi::Env env = info.Env();
  Napi::Uint8Array ring = ringArg(info);
  nt_ = dm::cpu().ntThreshold;
  const Napi::Object options = optionsArg(info, true);
  const uint32_t spinMicros = spinMicrosOption(env, options);
  const Napi::Value nt = options.Get("ntThreshold");
  if (!nt.IsUndefined()) nt_ = static_cast<size_t>(intArg(env, nt, 0, kMaxSafeInteger, "ntThreshold"));
  attach(env, ring);
  start(env, info[1], "datamover-cxl-progress", spinMicros);
  dm::addLiveEngine(this);
}

Engine::~Engine() { shutdown(false); }

dm::Outcome Engine::execute(dm::Executor& exec, const dm::Descriptor& in) {
  // Reserved bits first, as the kit's executor: the fault, alias and persistence checks come later.
  if ((in.nop.opcode & ~(dm::kAllowedOpcodeBits | kDurable)) != 0) return status(DM_STATUS_BAD_DESCRIPTOR);
  // A SIGBUS on one of the descriptor's mappings (the file was truncated, the media is poisoned)
  // ends the memory operation early (fault_guard.h): the descriptor fails IO_ERROR, and so does
  // every later one naming that mapping, whose bytes are no longer all there. Host operands are
  // not watched: a fault there is not ours and still kills the process.
  int keys[2];
  operandKeys(in, keys);
  const Pin pins[2] = {Pin(table_, keys[0]), Pin(table_, keys[1])};  // meta_ holds still while pinned
  dm::Region* const regions[2] = {pins[0].get(), pins[1].get()};
  dm::fault::Watch watch;
  MapState* watched[2] = {nullptr, nullptr};
  for (int i = 0; i < 2; ++i) {
    MapState* m = regions[i] != nullptr ? meta_[keys[i]].map.get() : nullptr;
    if (m == nullptr) continue;
    if (const int e = m->fault.load(std::memory_order_acquire)) return status(DM_STATUS_IO_ERROR, e);
    watched[watch.count] = m;
    watch.add(m->base, m->length);
  }
  dm::Outcome o;
  {
    const dm::fault::Armed armed(watch);
    o = run(exec, in, regions);
  }
  const int hit = watch.hit.load(std::memory_order_acquire);
  if (hit < 0) return o;
  const int e = watch.err.load(std::memory_order_relaxed);
  watched[hit]->fault.store(e, std::memory_order_release);
  return status(DM_STATUS_IO_ERROR, e);
}

dm::Outcome Engine::run(dm::Executor& exec, const dm::Descriptor& in, dm::Region* const regions[2]) {
  dm::Descriptor d = in;
  const uint32_t op = in.nop.opcode;
  const uint32_t kind = op & DM_OPCODE_KIND_MASK;
  d.nop.opcode = op & ~kDurable;  // the executor knows only SDXI's flags

  if (kind == DM_OPCODE_COPY || kind == DM_OPCODE_COPY_STRIDED) {
    // Two mappings of the same device or file alias at different addresses: compare file offsets
    // (a strided copy's spans, first block's start to last block's end, as the executor judges them).
    const bool strided = kind == DM_OPCODE_COPY_STRIDED;
    const dm_desc_copy_strided_t& c = d.copyStrided;
    const uint16_t k0 = strided ? c.akey0 : d.copy.akey0, k1 = strided ? c.akey1 : d.copy.akey1;
    const uint64_t a0 = strided ? c.addr0 : d.copy.addr0, a1 = strided ? c.addr1 : d.copy.addr1;
    const uint64_t n = uint64_t{strided ? c.size : d.copy.size} + 1;
    const uint32_t count = strided ? c.count : 1;
    const dm::Region *a = regions[0], *b = regions[1];
    uint64_t spanA, spanB;
    if (a != nullptr && b != nullptr && meta_[k0].map && meta_[k1].map && b->writable && a->dev == b->dev && a->ino == b->ino &&
        dm::exec::blocksInBounds(*a, a0, n, count, strided ? c.stride0 : 0, &spanA) &&
        dm::exec::blocksInBounds(*b, a1, n, count, strided ? c.stride1 : 0, &spanB)) {
      const uint64_t x = a->fileOffset + a0, y = b->fileOffset + a1;
      if (x < y + spanB && y < x + spanA) return status(DM_STATUS_OVERLAP);
    }
  }
  if ((op & kDurable) == 0) return exec.run(d);

  // The written blocks: one for the contiguous writes, `count` at `stride` for the strided ones.
  uint16_t key;
  uint64_t addr, n, stride = 0;
  uint32_t count = 1;
  switch (kind) {
    case DM_OPCODE_COPY: key = d.copy.akey1, addr = d.copy.addr1, n = uint64_t{d.copy.size} + 1; break;
    case DM_OPCODE_FILL: key = d.fill.akey1, addr = d.fill.addr1, n = uint64_t{d.fill.size} + 1; break;
    case DM_OPCODE_WRITE_IMM: key = d.writeImm.akey1, addr = d.writeImm.addr1, n = d.writeImm.width; break;
    case DM_OPCODE_COPY_STRIDED:
      key = d.copyStrided.akey1, addr = d.copyStrided.addr1, n = uint64_t{d.copyStrided.size} + 1;
      count = d.copyStrided.count, stride = d.copyStrided.stride1;
      break;
    case DM_OPCODE_FILL_STRIDED:
      key = d.fillStrided.akey1, addr = d.fillStrided.addr1, n = uint64_t{d.fillStrided.size} + 1;
      count = d.fillStrided.count, stride = d.fillStrided.stride1;
      break;
    default: return status(DM_STATUS_BAD_DESCRIPTOR);  // durable is a flag of writes only
  }
  const bool twoOperands = kind == DM_OPCODE_COPY || kind == DM_OPCODE_COPY_STRIDED;
  const dm::Region* dst = regions[twoOperands ? 1 : 0];
  if (dst != nullptr && dm::inBounds(*dst, addr, n) && dst->writable && meta_[key].persist == Persist::None)
    return status(DM_STATUS_NOT_PERSISTENT);  // refused before anything is written (first block in range)
  const dm::Outcome o = exec.run(d);
  if (o.status != DM_STATUS_OK) return o;  // the executor checked every block: the span below lies in dst
  const Persist how = meta_[key].persist;
  if (how == Persist::WriteBack) {
    dm::fault::guarded([&] { writeBack(dst->base + addr, n, count, stride); });
  } else if (how == Persist::Msync) {
    // One msync over the blocks' span: it writes back only dirty pages, so the gaps cost nothing
    // unless something else dirtied them, and it is one system call instead of `count`.
    const uint64_t span = (uint64_t{count} - 1) * stride + n;
    if (const int e = syncRange(dst->base + addr, span)) return status(DM_STATUS_IO_ERROR, e);
  }
  durableOps_.fetch_add(1, std::memory_order_relaxed);
  return o;
}

Napi::Value Engine::RunInline(const Napi::CallbackInfo& info) {
  dm::Executor exec(table_, nt_);
  const auto count = static_cast<uint64_t>(dm::intArg(info.Env(), info[0], 0, dm::kMaxSafeInteger, "count"));
  const int64_t n = runInline(info.Env(), count, [&](const dm::Descriptor& d) { return execute(exec, d); });
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

void Engine::consume() {
  dm::Executor exec(table_, nt_);
  serve([&](const dm::Descriptor& d) { return execute(exec, d); });
}

void Engine::release() {
  dm::removeLiveEngine(this);
  table_.clear();
  for (auto& m : meta_) m = Meta{};  // unmaps mappings no JS handle holds any more
}

uint16_t Engine::freeIndex(Napi::Env env, const Napi::Value& v) {
  checkOpen(env);
  const uint16_t index = indexArg(env, v);
  if (registered_[index]) fail(env, "INVALID_ARGUMENT", "region index already registered");
  return index;
}

void Engine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t index = freeIndex(env, info[0]);
  Napi::Uint8Array view = uint8ArrayArg(env, info[1], "view");
  auto r = std::make_unique<dm::Region>();
  r->writable = boolArg(env, info[2], "writable");
  r->base = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  meta_[index] = Meta{};
  if (!table_.add(index, std::move(r))) fail(env, "INVALID_ARGUMENT", "region index already registered");
  registered_[index] = true;
}

void Engine::RegisterDax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint16_t index = freeIndex(env, info[0]);
  dm::fault::install();  // before the consumer can touch a mapping
  Mapping* m = Mapping::from(env, info[1]);
  if (m == nullptr) fail(env, "INVALID_ARGUMENT", "mapping must be a Mapping made by this addon");
  std::shared_ptr<MapState> s = m->state();
  if (!s) fail(env, "INVALID_ARGUMENT", "the mapping was closed");
  const auto offset = static_cast<uint64_t>(intArg(env, info[2], 0, kMaxSafeInteger, "mapOffset"));
  const auto length = static_cast<uint64_t>(intArg(env, info[3], 0, kMaxSafeInteger, "length"));
  const bool writable = boolArg(env, info[4], "writable");
  if (offset > s->length || length > s->length - offset) fail(env, "OUT_OF_BOUNDS", "region runs past the end of its mapping");
  if (writable && !s->writable) fail(env, "ACCESS_DENIED", "a read-only mapping cannot back a writable region");

  auto r = std::make_unique<dm::Region>();
  r->writable = writable;
  r->base = length == 0 ? s->base : s->base + offset;
  r->length = length;
  // Not a file for the executor (it addresses the bytes directly); dev/ino/fileOffset identify
  // the mapped object for this engine's alias check.
  r->dev = static_cast<dev_t>(s->dev);
  r->ino = static_cast<ino_t>(s->ino);
  r->fileOffset = s->fileOffset + offset;
  meta_[index] = Meta{s, s->persist};
  if (!table_.add(index, std::move(r))) {
    meta_[index] = Meta{};
    fail(env, "INVALID_ARGUMENT", "region index already registered");
  }
  registered_[index] = true;
}

void Engine::Deregister(const Napi::CallbackInfo& info) {
  const uint16_t index = deregister(info.Env(), table_, info[0]);
  registered_[index] = false;
  meta_[index] = Meta{};  // the last reference unmaps (no descriptor can be using it: it was not busy)
}

}  // namespace cxl
