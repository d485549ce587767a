#include "stripes.h"

#include "fault_guard.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dm {
namespace {

unsigned threadsFromEnv() {
  if (const char* env = std::getenv("DATAMOVER_COPY_THREADS")) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(env, &end, 10);
    if (end != env && *end == 0 && v >= 1) return static_cast<unsigned>(std::min<unsigned long>(v, 64));
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<unsigned>(std::clamp<long>(cpus, 1, 4));
}

// Waits for another thread's progress: pause, and give the CPU away now and then (with more
// runnable threads than cores the thread we wait for may be queued behind us).
inline void backOff(unsigned& i) {
#if defined(__x86_64__)
  _mm_pause();
#endif
  if (++i % 64 == 0) sched_yield();
}

constexpr int kHelperNice = 10;

struct Job {
  StripeFn fn;
  void* ctx;
  fault::Watch* watch;  // the starting thread's: each thread guards its own stripes with it
  size_t n, firstEnd, stripe, count;
  std::atomic<size_t> next{0};  // next unclaimed stripe
  std::atomic<size_t> left;     // stripes not finished yet

  size_t start(size_t i) const { return i == 0 ? 0 : std::min(n, firstEnd + (i - 1) * stripe); }
  // Claims and runs stripes until none is left.
  void work() {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < count;) {
      // Guarded here, on the thread that runs the stripe: a fault jumps back to this frame, so the
      // stripe is still counted and the job's bookkeeping never unwinds.
      if (start(i) < start(i + 1)) fault::guarded(watch, [&] { fn(ctx, start(i), start(i + 1)); });
      left.fetch_sub(1, std::memory_order_release);
    }
  }
};

// Helper threads live for the rest of the process and sleep when there is no job. The pool is
// never destroyed (see pool()), so exit never joins or tears down a thread that is asleep in it.
class Pool {
 public:
  explicit Pool(unsigned helpers) {
    for (unsigned i = 0; i < helpers; ++i) {
      try {
        std::thread t(&Pool::helper, this);
        pthread_setname_np(t.native_handle(), "dm-stripes");
        t.detach();
      } catch (const std::system_error&) {
        break;  // fewer helpers: the caller still does whatever they do not take
      }
    }
  }

  void run(Job& job) {
    std::unique_lock<std::mutex> exclusive(busy_, std::try_to_lock);
    if (!exclusive) {  // another engine's operation has the helpers: do not queue behind it
      job.work();
      return;
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = &job;
      ++gen_;
    }
    cv_.notify_all();
    job.work();
    unsigned spins = 0;
    while (job.left.load(std::memory_order_acquire) != 0) backOff(spins);
    {
      std::lock_guard<std::mutex> g(mu_);
      job_ = nullptr;  // no helper joins from here on...
    }
    while (inside_.load(std::memory_order_acquire) != 0) backOff(spins);  // ...and all have left
  }

 private:
  void helper() {
    // Helpers take what the JS thread and the engines leave of the CPU: a waking JS thread
    // preempts them at once rather than sharing a core with a striped copy.
    const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(nice + kHelperNice, 19));
    uint64_t seen = 0;
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_ != seen; });
        seen = gen_;
        job = job_;
        if (job == nullptr) continue;  // woke after the job was over
        inside_.fetch_add(1, std::memory_order_relaxed);  // under mu_: run() sees it before clearing job_
      }
      job->work();
      inside_.fetch_sub(1, std::memory_order_release);  // the last touch of *job
    }
  }

  std::mutex busy_;  // one striped operation at a time
  std::mutex mu_;    // guards job_ and gen_
  std::condition_variable cv_;
  Job* job_ = nullptr;
  uint64_t gen_ = 0;
  std::atomic<unsigned> inside_{0};  // helpers inside job_->work()
};

Pool& pool() {
  static Pool* p = new Pool(stripeThreads() - 1);  // intentionally leaked, see Pool
  return *p;
}

}  // namespace

unsigned stripeThreads() {
  static const unsigned n = threadsFromEnv();
  return n;
}

void runStriped(size_t n, size_t firstEnd, size_t stripe, StripeFn fn, void* ctx) {
  firstEnd = std::min(firstEnd, n);
  if (stripeThreads() < 2 || stripe == 0 || n - firstEnd < stripe) {
    fn(ctx, 0, n);
    return;
  }
  Job job;
  job.fn = fn;
  job.ctx = ctx;
  job.watch = fault::current();
  job.n = n;
  job.firstEnd = firstEnd;
  job.stripe = stripe;
  job.count = 1 + (n - firstEnd + stripe - 1) / stripe;
  job.left.store(job.count, std::memory_order_relaxed);
  pool().run(job);
}

}  // namespace dm
