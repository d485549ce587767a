// Module entry of datamover_cxl.node: the Engine and Mapping classes, NUMA placement, and the
// CPU facts the backend reports.
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <datamover/memory_address.h>

#include "common.h"
#include "engine.h"
#include "mapping.h"
#include "memops.h"
#include "numa.h"
#include "persist.h"

namespace cxl {
namespace {

// The bytes a view covers, after checking it is a Uint8Array over live memory.
struct Span {
  const uint8_t* p;
  size_t n;
};
Span spanArg(Napi::Env env, const Napi::Value& v) {
  Napi::Uint8Array a = uint8ArrayArg(env, v, "view");
  return Span{a.Data(), a.ByteLength()};
}

int nodeArg(Napi::Env env, const Napi::Value& v) { return static_cast<int>(intArg(env, v, 0, kMaxNodes - 1, "node")); }

[[noreturn]] void failErrno(Napi::Env env, const char* code, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

// allocate(size, alignment, node): zeroed anonymous memory as an external ArrayBuffer, bound to
// `node` (node >= 0, pages faulted in there) or unbound (node -1); unmapped when collected.
Napi::Value Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto size = static_cast<size_t>(intArg(env, info[0], 0, kMaxSafeInteger, "size"));
  const auto alignment = static_cast<size_t>(intArg(env, info[1], 1, int64_t{1} << 30, "alignment"));
  if ((alignment & (alignment - 1)) != 0) fail(env, "INVALID_ARGUMENT", "alignment must be a power of two");
  const int node = static_cast<int>(intArg(env, info[2], -1, kMaxNodes - 1, "node"));
  struct Mapped {
    void* base;
    size_t length;
  };
  void* base = nullptr;
  size_t length = 0;
  int err = 0;
  uint8_t* p = allocate(size, alignment, node, &base, &length, &err);
  if (p == nullptr) {
    const std::string where = node >= 0 ? "allocate on node " + std::to_string(node) : std::string("allocate");
    failErrno(env, err == EINVAL ? "INVALID_ARGUMENT" : "OUT_OF_MEMORY", where, err);
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(length));
  return Napi::ArrayBuffer::New(
      env, p, size,
      [](Napi::Env e, void*, Mapped* m) {
        dm::stopEnginesHolding(m->base, m->length);  // at teardown a copy may still run over it
        Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(m->length));
        munmap(m->base, m->length);
        delete m;
      },
      new Mapped{base, length});
}

Napi::Object counts(Napi::Env env, const std::map<int, uint64_t>& m) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [k, v] : m) o.Set(std::to_string(k), Napi::Number::New(env, static_cast<double>(v)));
  return o;
}

// movePages(view, node): { pages, moved, absent, failed, errors: { errno: pages } }.
Napi::Value MovePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span s = spanArg(env, info[0]);
  const int node = nodeArg(env, info[1]);
  MoveReport r;
  if (const int e = movePages(s.p, s.n, node, &r)) failErrno(env, e == ENODEV || e == EINVAL ? "INVALID_ARGUMENT" : "IO_ERROR", "move_pages", e);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pages", Napi::Number::New(env, static_cast<double>(r.pages)));
  o.Set("moved", Napi::Number::New(env, static_cast<double>(r.moved)));
  o.Set("absent", Napi::Number::New(env, static_cast<double>(r.absent)));
  o.Set("failed", Napi::Number::New(env, static_cast<double>(r.failed)));
  o.Set("errors", counts(env, r.errors));
  return o;
}

// pageNodes(view): { nodes: { node: pages }, absent }.
Napi::Value PageNodes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Span s = spanArg(env, info[0]);
  std::map<int, uint64_t> nodes;
  uint64_t absent = 0;
  if (const int e = pageNodes(s.p, s.n, &nodes, &absent)) failErrno(env, "IO_ERROR", "move_pages (query)", e);
  Napi::Object o = Napi::Object::New(env);
  o.Set("nodes", counts(env, nodes));
  o.Set("absent", Napi::Number::New(env, static_cast<double>(absent)));
  return o;
}

Napi::Value CurrentNode(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), currentNode()); }

// A mapping's bytes at [offset, offset + length) of the mapping, or undefined after close().
Span mappingRange(Napi::Env env, const Napi::CallbackInfo& info, std::shared_ptr<MapState>* keep) {
  Mapping* m = Mapping::from(env, info[0]);
  if (m == nullptr) fail(env, "INVALID_ARGUMENT", "not a Mapping");
  *keep = m->state();
  if (!*keep) fail(env, "INVALID_ARGUMENT", "the mapping was closed");
  const auto offset = static_cast<uint64_t>(intArg(env, info[1], 0, kMaxSafeInteger, "offset"));
  return Span{(*keep)->base + offset, static_cast<size_t>(offset)};
}

// peek(mapping, offset, length) → Uint8Array copy; poke(mapping, offset, bytes). Out-of-band
// access for tests and tools (conformance fixtures): a CPU copy through the mapping, never an engine.
Napi::Value Peek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<MapState> keep;
  const Span at = mappingRange(env, info, &keep);
  const auto length = static_cast<uint64_t>(intArg(env, info[2], 0, kMaxSafeInteger, "length"));
  if (at.n > keep->length || length > keep->length - at.n) fail(env, "OUT_OF_BOUNDS", "peek past the end of the mapping");
  Napi::Uint8Array out = Napi::Uint8Array::New(env, length);
  if (length > 0) std::memcpy(out.Data(), at.p, length);
  return out;
}

void Poke(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<MapState> keep;
  const Span at = mappingRange(env, info, &keep);
  Napi::Uint8Array data = uint8ArrayArg(env, info[2], "bytes");
  if (!keep->writable) fail(env, "ACCESS_DENIED", "the mapping is read-only");
  if (at.n > keep->length || data.ByteLength() > keep->length - at.n) fail(env, "OUT_OF_BOUNDS", "poke past the end of the mapping");
  if (data.ByteLength() > 0) std::memcpy(const_cast<uint8_t*>(at.p), data.Data(), data.ByteLength());
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dm::CpuInfo& c = dm::cpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("flush", Napi::String::New(env, flushName(flushInsn())));
  o.Set("ntThreshold", Napi::Number::New(env, static_cast<double>(c.ntThreshold)));
  o.Set("llcBytes", Napi::Number::New(env, static_cast<double>(c.llcBytes)));
  o.Set("avx2", Napi::Boolean::New(env, c.avx2));
  o.Set("crc32c", Napi::String::New(env, c.sse42 ? "sse4.2" : "table"));
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(c.pageSize)));
  return o;
}

}  // namespace
}  // namespace cxl

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new cxl::AddonData();
  Napi::Function mapping = cxl::Mapping::Define(env);
  data->mappingClass = Napi::Persistent(mapping);
  env.SetInstanceData(data);
  exports.Set("Engine", cxl::Engine::Define(env));
  exports.Set("Mapping", mapping);
  exports.Set("allocate", Napi::Function::New<cxl::Allocate>(env, "allocate"));
  exports.Set("movePages", Napi::Function::New<cxl::MovePages>(env, "movePages"));
  exports.Set("pageNodes", Napi::Function::New<cxl::PageNodes>(env, "pageNodes"));
  exports.Set("currentNode", Napi::Function::New<cxl::CurrentNode>(env, "currentNode"));
  exports.Set("peek", Napi::Function::New<cxl::Peek>(env, "peek"));
  exports.Set("poke", Napi::Function::New<cxl::Poke>(env, "poke"));
  exports.Set("info", Napi::Function::New<cxl::Info>(env, "info"));
  exports.Set("memoryAddress", Napi::Function::New<dm::MemoryAddress>(env, "memoryAddress"));
  return exports;
}

NODE_API_MODULE(datamover_cxl, Init)
