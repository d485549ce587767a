// The engines running in this process, so that memory an engine may be touching is never freed
// under it. Environment teardown (process exit, worker.terminate()) runs the finalizers of
// external ArrayBuffers (soft's allocateAligned, cxl's allocate, gds's allocatePinned) before any
// addon's cleanup hook, so an engine's own hook comes too late to stop a copy in flight over that
// memory. Such a finalizer calls stopEnginesHolding() first.
#pragma once

#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

namespace dm {

class LiveEngine {
 public:
  // JS thread: whether a registered host region overlaps [p, p + n).
  virtual bool holds(const void* p, size_t n) = 0;
  // JS thread: stop and join the engine's threads for good (its close()).
  virtual void stopForFree() = 0;

 protected:
  ~LiveEngine() = default;
};

struct LiveEngines {
  std::mutex mu;
  std::vector<std::pair<std::thread::id, LiveEngine*>> all;  // with the JS thread each runs for
};

// One list for all addons of the process: GCC emits an inline function's static as a GNU unique
// symbol, which the dynamic loader binds once across separately dlopen()ed addons (soft's
// allocations run under sdxi's engines, cxl's under soft's).
inline LiveEngines& liveEngines() {
  static LiveEngines engines;
  return engines;
}

inline void addLiveEngine(LiveEngine* e) {
  LiveEngines& l = liveEngines();
  std::lock_guard<std::mutex> g(l.mu);
  l.all.emplace_back(std::this_thread::get_id(), e);
}

inline void removeLiveEngine(LiveEngine* e) {
  LiveEngines& l = liveEngines();
  std::lock_guard<std::mutex> g(l.mu);
  for (auto it = l.all.begin(); it != l.all.end(); ++it)
    if (it->second == e) {
      l.all.erase(it);
      return;
    }
}

// JS thread, before freeing [p, p + n): stops every engine of this thread that has it registered.
// A registered region keeps its buffer reachable, so outside teardown this stops nothing.
inline void stopEnginesHolding(const void* p, size_t n) {
  std::vector<LiveEngine*> hit;
  {
    LiveEngines& l = liveEngines();
    std::lock_guard<std::mutex> g(l.mu);
    for (const auto& [thread, e] : l.all)
      if (thread == std::this_thread::get_id() && e->holds(p, n)) hit.push_back(e);
  }
  for (LiveEngine* e : hit) e->stopForFree();  // each removes itself from the list
}

}  // namespace dm
