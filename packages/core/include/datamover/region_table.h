// dm::RegionTableOf<Region>: the AKey table every native engine keeps, indexed by the 16-bit
// region index a descriptor names. The JS thread adds and removes entries; the consumer thread
// pins one for the span of a descriptor (acquire/release), and a pinned entry cannot be removed
// (deregister answers REGION_BUSY). Region is the engine's own struct with an `int busy` field,
// guarded by the table's mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace dm {

// Where a region's host bytes start, or nullptr for a file (the kit's Region: isFile and base). An
// engine whose Region differs declares its own hostBytes(const Region&) beside it.
template <class Region>
const uint8_t* hostBytes(const Region& r) {
  return r.isFile ? nullptr : r.base;
}

template <class Region>
class RegionTableOf {
 public:
  static constexpr size_t kSize = 65536;
  RegionTableOf() : slots_(kSize) {}

  // JS thread. add: false if the index is taken. remove: 1 removed, 0 not registered, -1 busy.
  bool add(uint16_t index, std::unique_ptr<Region> r) {
    std::lock_guard<std::mutex> g(mu_);
    if (slots_[index]) return false;
    slots_[index] = std::move(r);
    return true;
  }
  int remove(uint16_t index) {
    std::unique_ptr<Region> dead;  // destroyed after the lock is dropped
    std::lock_guard<std::mutex> g(mu_);
    if (!slots_[index]) return 0;
    if (slots_[index]->busy > 0) return -1;
    dead = std::move(slots_[index]);
    return 1;
  }
  void clear() {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& s : slots_) s.reset();
  }

  // JS thread: whether a host entry overlaps [p, p + n) (hostBytes() above; length bytes from there).
  bool holds(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& s : slots_) {
      const uint8_t* h = s ? hostBytes(*s) : nullptr;
      if (h != nullptr && h < b + n && b < h + s->length) return true;
    }
    return false;
  }
  // Consumer thread: pin an entry for the duration of one descriptor (nullptr if free).
  Region* acquire(uint16_t index) {
    std::lock_guard<std::mutex> g(mu_);
    Region* r = slots_[index].get();
    if (r != nullptr) ++r->busy;
    return r;
  }
  void release(Region* r) {
    std::lock_guard<std::mutex> g(mu_);
    --r->busy;
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Region>> slots_;
};

}  // namespace dm
