// A MAP_SHARED mapping of a device-DAX character device or a file, made and owned by native code.
// JavaScript holds a Mapping object (an opaque handle); engines hold the MapState through a
// shared_ptr, so the memory stays mapped until the last registration naming it is gone.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace cxl {

// How a durable write to the mapping reaches the persistence domain.
enum class Persist : uint8_t {
  None,       // volatile memory (DRAM-backed, tmpfs, volatile CXL): durable writes are refused
  WriteBack,  // CPU cache write-back + fence (device-DAX on pmem, MAP_SYNC mappings of fs-dax files)
  Msync,      // msync(MS_SYNC) of the range (a page-cache file on a persistent filesystem)
};

struct MapState {
  uint8_t* base = nullptr;  // first mapped byte (nullptr for an empty mapping)
  size_t length = 0;        // mapped bytes
  uint64_t fileOffset = 0;  // offset in the device or file of `base`
  uint64_t dev = 0;         // identity of the mapped object (device-DAX: rdev, ino 0)
  uint64_t ino = 0;
  Persist persist = Persist::None;
  bool writable = false;
  // errno of the first SIGBUS an engine caught on it (EFAULT: a page past the file's end, EIO:
  // poisoned media), or 0. Once set, engines fail every descriptor naming the mapping.
  std::atomic<int> fault{0};

  MapState() = default;
  MapState(const MapState&) = delete;
  MapState& operator=(const MapState&) = delete;
  ~MapState();
};

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new Mapping(path, offset, length, writable, persistence): persistence -1 detect, 0 volatile
  // (durable writes refused), 1 persistent (the caller vouches for a device-DAX device).
  explicit Mapping(const Napi::CallbackInfo& info);

  // The mapping, or nullptr once close() dropped this handle's reference.
  std::shared_ptr<MapState> state() const { return state_; }
  // The Mapping behind a JS value, or nullptr when it is not one of ours.
  static Mapping* from(Napi::Env env, const Napi::Value& v);

 private:
  Napi::Value Describe(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  std::shared_ptr<MapState> state_;
  std::string path_, via_;
  uint64_t offset_ = 0, length_ = 0, mapOffset_ = 0, alignment_ = 0, objectSize_ = 0;
  uint64_t dev_ = 0, ino_ = 0;
  bool writable_ = false, mapSync_ = false;
  Persist persist_ = Persist::None;
};

}  // namespace cxl
