// SIGBUS from a file-backed mapping turned into an error for the descriptor that hit it.
//
// A MAP_SHARED mapping of a file or a device-DAX device raises SIGBUS when a page has no backing
// any more (the file was truncated by another process) or its media is poisoned. An engine that
// runs a descriptor over such mappings arms a Watch naming their spans (Armed, on its thread);
// the memory primitives (memops.cc) and the stripe helpers (stripes.cc) run under guarded(): a
// SIGBUS whose address lies in a watched span of the faulting thread jumps back there, marks the
// watch, and the operation returns early. The engine then fails the descriptor with IO_ERROR.
// Any other SIGBUS goes to the handler installed before ours, or to the default action.
//
// Header-only, so every addon that compiles memops/stripes gets it without a build change; each
// addon's copy has its own handler and thread-locals, and the handlers chain. An addon that never
// arms a watch never installs a handler, and guarded() costs it one thread-local load.
#pragma once

#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace dm::fault {

// The spans one descriptor may fault on (at most two operands), and the first fault on them.
struct Watch {
  uintptr_t begin[2] = {0, 0}, end[2] = {0, 0};
  unsigned count = 0;
  std::atomic<int> hit{-1};  // index of the span a SIGBUS hit, or -1 (lock-free: set in the handler)
  std::atomic<int> err{0};   // EIO for a media error, EFAULT for a page without backing

  void add(const void* base, size_t len) {
    begin[count] = reinterpret_cast<uintptr_t>(base);
    end[count] = begin[count] + len;
    ++count;
  }
  int find(uintptr_t a) const {
    for (unsigned i = 0; i < count; ++i)
      if (a >= begin[i] && a < end[i]) return static_cast<int>(i);
    return -1;
  }
};

namespace detail {

struct Frame {
  sigjmp_buf jump;
  Watch* watch;
};
// initial-exec: the handler reads these, and a dlopen()ed module's default TLS model may
// allocate on a thread's first access, which a signal handler must not do.
__attribute__((tls_model("initial-exec"))) inline thread_local Watch* tlsWatch = nullptr;
__attribute__((tls_model("initial-exec"))) inline thread_local Frame* tlsFrame = nullptr;
inline struct sigaction previous;

inline void onSigbus(int sig, siginfo_t* info, void* ctx) {
  Frame* f = tlsFrame;
  if (f != nullptr && info->si_code > 0) {  // > 0: raised by the kernel for a fault, not sent
    const int i = f->watch->find(reinterpret_cast<uintptr_t>(info->si_addr));
    if (i >= 0) {
      f->watch->err.store(info->si_code == BUS_MCEERR_AR || info->si_code == BUS_MCEERR_AO ? EIO : EFAULT, std::memory_order_relaxed);
      f->watch->hit.store(i, std::memory_order_release);
      siglongjmp(f->jump, 1);
    }
  }
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(sig, info, ctx);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else if (previous.sa_handler == SIG_DFL || info->si_code > 0) {  // a fault cannot be ignored
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
    // A fault re-executes the instruction on return and dies there (the core shows where); a
    // SIGBUS sent by kill() is raised again.
    if (info->si_code <= 0) raise(sig);
  }
}

}  // namespace detail

// Installs the process-wide handler once (call before arming a watch). SA_NODEFER leaves SIGBUS
// unblocked inside the handler, so jumping out of it leaves the signal mask as it was and
// guarded() need not save and restore the mask (a system call) on every operation.
inline void install() {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_sigaction = detail::onSigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &detail::previous) == 0;
  }();
  (void)installed;
}

// The watch armed on this thread, or nullptr.
inline Watch* current() { return detail::tlsWatch; }

// Arms `w` on this thread for the span of one descriptor (a watch with no spans arms nothing).
class Armed {
 public:
  explicit Armed(Watch& w) : outer_(detail::tlsWatch) {
    if (w.count > 0) detail::tlsWatch = &w;
  }
  ~Armed() { detail::tlsWatch = outer_; }
  Armed(const Armed&) = delete;
  Armed& operator=(const Armed&) = delete;

 private:
  Watch* outer_;
};

// Runs fn(); a SIGBUS in one of w's spans on this thread ends it early and marks w. fn must own
// nothing that needs a destructor (the jump skips them): plain loads and stores, memcpy.
template <class F>
void guarded(Watch* w, F&& fn) {
  if (w == nullptr) {
    fn();
    return;
  }
  detail::Frame frame;
  frame.watch = w;
  detail::Frame* const outerFrame = detail::tlsFrame;
  Watch* const outerWatch = detail::tlsWatch;
  if (sigsetjmp(frame.jump, 0) == 0) {
    detail::tlsFrame = &frame;
    detail::tlsWatch = w;
    std::atomic_signal_fence(std::memory_order_seq_cst);  // armed before fn's first access
    fn();
    std::atomic_signal_fence(std::memory_order_seq_cst);  // and until its last
  }
  detail::tlsFrame = outerFrame;
  detail::tlsWatch = outerWatch;
}

// Under this thread's armed watch, if any.
template <class F>
void guarded(F&& fn) {
  guarded(current(), static_cast<F&&>(fn));
}

}  // namespace dm::fault
