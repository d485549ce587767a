// The memory a software SDXI function reaches: its BAR0 register file and the device-memory
// arena holding every SDXI structure (tables, rings, CST_BLKs, the error log). Data buffers are
// not here: they are address spaces reached through AKeys (see processor.cc).
#pragma once

#include <cstdint>

#include "spec.h"

namespace sdxi {

template <class T>
T load(const void* p) {
  return __atomic_load_n(static_cast<const T*>(p), __ATOMIC_ACQUIRE);
}
template <class T>
void store(void* p, T v) {
  __atomic_store_n(static_cast<T*>(p), v, __ATOMIC_RELEASE);
}

// BAR0 as 64-bit registers in shared memory. Software's side of each register's access type
// (read-only, RW1C) is enforced by the TypeScript mmio accessor; the function writes only the
// registers it owns (STS0, CAP*, VERSION, ERR_WRT) and sets ERR_STS bits.
class Registers {
 public:
  explicit Registers(uint8_t* bar0) : bar0_(bar0) {}
  uint64_t read(uint32_t reg) const { return load<uint64_t>(bar0_ + reg); }
  void write(uint32_t reg, uint64_t v) { store<uint64_t>(bar0_ + reg, v); }
  void setBits(uint32_t reg, uint64_t bits) { __atomic_fetch_or(reinterpret_cast<uint64_t*>(bar0_ + reg), bits, __ATOMIC_ACQ_REL); }

 private:
  uint8_t* bar0_;
};

// Device addresses: the arena's byte offsets plus kBase (a stand-in for IOVAs; 0 and small
// values never translate, so an unset pointer is always caught).
class DeviceMemory {
 public:
  static constexpr uint64_t kBase = uint64_t{1} << 40;
  DeviceMemory(uint8_t* host, uint64_t size) : host_(host), size_(size) {}
  // Host pointer of [addr, addr + len), or nullptr when any byte lies outside the arena.
  uint8_t* translate(uint64_t addr, uint64_t len) const {
    if (addr < kBase) return nullptr;
    const uint64_t off = addr - kBase;
    if (off > size_ || len > size_ - off) return nullptr;
    return host_ + off;
  }
  uint8_t* host() const { return host_; }
  uint64_t size() const { return size_; }

 private:
  uint8_t* host_;
  uint64_t size_;
};

}  // namespace sdxi
