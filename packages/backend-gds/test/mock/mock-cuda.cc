// A CPU stand-in for libcufile, libcudart and libcuda, for tests on machines without a GPU.
// It implements the functions the gds addon loads with the signatures of native/cuda_abi.h, over
// host memory: "device memory" is malloc'd, cudaMemcpy is memcpy, cuFileRead is pread. It checks
// the way it is called the way the documentation says cuFile does (O_DIRECT descriptors for
// cuFileHandleRegister, bufPtr_offset only with registered buffers, batch sizes within
// io_batchsize) and it can inject failures through environment variables:
//   MOCK_CUDA_DEVICES=n        devices reported (default 1)
//   MOCK_CUDA_MALLOC_FAIL=1    cudaMalloc fails with cudaErrorMemoryAllocation
//   MOCK_CUFILE_OPEN_FAIL=c    cuFileDriverOpen fails with CUfileOpError c
//   MOCK_CUFILE_HANDLE_FAIL=c  cuFileHandleRegister fails with c
//   MOCK_CUFILE_BUFREG_FAIL=c  cuFileBufRegister fails with c
//   MOCK_CUFILE_IO_FAIL=c      cuFileRead/Write return -c (c = 1 means -1 with errno EIO)
//   MOCK_CUFILE_IO_SHORT=n     cuFileRead/Write move at most n bytes per call
//   MOCK_CUFILE_BATCH_FAIL=k   batch entry with cookie k completes CUFILE_FAILED
//   MOCK_CUFILE_BATCHSIZE=n    io_batchsize reported (default 128)
// It is a test double for the engine's logic, not a model of NVIDIA's libraries.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

namespace {

struct Alloc {
  size_t size;
  int device;
};
std::mutex mu;
std::map<uintptr_t, Alloc> allocs;     // device allocations
std::map<uintptr_t, size_t> bufRegs;   // cuFileBufRegister'ed buffers
thread_local int currentDevice = 0;
int opens = 0;

int envInt(const char* name, int fallback) {
  const char* v = getenv(name);
  return v != nullptr && *v != 0 ? atoi(v) : fallback;
}

struct Error {
  int err;
  int cu_err;
};
struct Handle {
  int fd;
};
struct Descr {
  int type;
  union {
    int fd;
    void* handle;
  } handle;
  const void* fs_ops;
};
struct DrvProps {
  struct {
    unsigned int major_version;
    unsigned int minor_version;
    size_t poll_thresh_size;
    size_t max_direct_io_size;
    unsigned int dstatusflags;
    unsigned int dcontrolflags;
  } nvfs;
  unsigned int fflags;
  unsigned int max_device_cache_size;
  unsigned int per_buffer_cache_size;
  unsigned int max_device_pinned_mem_size;
  unsigned int max_batch_io_size;
  unsigned int max_batch_io_timeout_msecs;
};
struct IOParams {
  int mode;
  union {
    struct {
      void* devPtr_base;
      off_t file_offset;
      off_t devPtr_offset;
      size_t size;
    } batch;
  } u;
  void* fh;
  int opcode;
  void* cookie;
};
struct IOEvents {
  void* cookie;
  int status;
  size_t ret;
};
struct Batch {
  unsigned max;
  std::vector<IOEvents> pending;
};

bool isDevice(uintptr_t p, size_t n) {
  auto it = allocs.upper_bound(p);
  if (it == allocs.begin()) return false;
  --it;
  return p >= it->first && n <= it->second.size && p - it->first <= it->second.size - n;
}

// The I/O cuFile would do: on the O_DIRECT descriptor when aligned, else on a buffered reopen.
ssize_t io(Handle* h, bool write, void* base, size_t n, off_t fo, off_t bo) {
  char* p = static_cast<char*>(base);
  {
    std::lock_guard<std::mutex> g(mu);
    if (bo != 0) {
      // bufPtr_offset is for registered buffers only (cuFile API Reference §5.2.3).
      auto it = bufRegs.find(reinterpret_cast<uintptr_t>(base));
      if (it == bufRegs.end()) return -5024;  // CU_FILE_MEMORY_NOT_REGISTERED
      if (static_cast<size_t>(bo) + n > it->second) return -5014;  // CU_FILE_CUDA_POINTER_RANGE_ERROR
    }
    if (!isDevice(reinterpret_cast<uintptr_t>(p + bo), n)) return -5012;  // CU_FILE_CUDA_POINTER_INVALID
  }
  const int fail = envInt("MOCK_CUFILE_IO_FAIL", 0);
  if (fail == 1) {
    errno = EIO;
    return -1;
  }
  if (fail != 0) return -fail;
  const int cap = envInt("MOCK_CUFILE_IO_SHORT", 0);
  if (cap > 0 && n > static_cast<size_t>(cap)) n = static_cast<size_t>(cap);
  const bool aligned = ((reinterpret_cast<uintptr_t>(p + bo) | static_cast<uintptr_t>(fo) | n) & 4095) == 0;
  int fd = h->fd;
  int own = -1;
  if (!aligned) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", h->fd);
    own = fd = open(path, write ? O_WRONLY : O_RDONLY);
    if (fd < 0) return -1;
  }
  const ssize_t k = write ? pwrite(fd, p + bo, n, fo) : pread(fd, p + bo, n, fo);
  const int e = errno;
  if (own >= 0) close(own);
  errno = e;
  return k;
}

}  // namespace

extern "C" {

// ---- CUDA runtime ----
int cudaGetDeviceCount(int* n) {
  *n = envInt("MOCK_CUDA_DEVICES", 1);
  return *n > 0 ? 0 : 100;  // cudaErrorNoDevice
}
int cudaSetDevice(int d) {
  if (d < 0 || d >= envInt("MOCK_CUDA_DEVICES", 1)) return 101;  // cudaErrorInvalidDevice
  currentDevice = d;
  return 0;
}
int cudaMalloc(void** p, size_t n) {
  if (envInt("MOCK_CUDA_MALLOC_FAIL", 0) != 0) return 2;
  const size_t size = (n + 255) & ~size_t{255};
  void* q = aligned_alloc(256, size == 0 ? 256 : size);
  if (q == nullptr) return 2;
  memset(q, 0xcd, size);  // like real device memory: not zeroed
  std::lock_guard<std::mutex> g(mu);
  allocs[reinterpret_cast<uintptr_t>(q)] = Alloc{n, currentDevice};
  *p = q;
  return 0;
}
int cudaFree(void* p) {
  if (p == nullptr) return 0;  // as CUDA: a no-op (used to create the context)
  std::lock_guard<std::mutex> g(mu);
  if (allocs.erase(reinterpret_cast<uintptr_t>(p)) == 0) return 1;
  free(p);
  return 0;
}
int cudaMallocHost(void** p, size_t n) {
  *p = aligned_alloc(4096, (n + 4095) & ~size_t{4095});
  return *p != nullptr ? 0 : 2;
}
int cudaFreeHost(void* p) {
  free(p);
  return 0;
}
int cudaHostRegister(void*, size_t, unsigned) { return 0; }
int cudaHostUnregister(void*) { return 0; }
int cudaMemcpy(void* d, const void* s, size_t n, int) {
  memmove(d, s, n);
  return 0;
}
int cudaMemcpyAsync(void* d, const void* s, size_t n, int, void*) {
  memmove(d, s, n);
  return 0;
}
int cudaMemcpyPeerAsync(void* d, int, const void* s, int, size_t n, void*) {
  memmove(d, s, n);
  return 0;
}
int cudaMemsetAsync(void* p, int v, size_t n, void*) {
  memset(p, v, n);
  return 0;
}
int cudaStreamCreateWithFlags(void** s, unsigned) {
  *s = reinterpret_cast<void*>(0x5157);
  return 0;
}
int cudaStreamSynchronize(void*) { return 0; }
int cudaStreamDestroy(void*) { return 0; }
const char* cudaGetErrorName(int e) {
  switch (e) {
    case 0: return "cudaSuccess";
    case 2: return "cudaErrorMemoryAllocation";
    case 100: return "cudaErrorNoDevice";
    case 101: return "cudaErrorInvalidDevice";
    default: return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(int e) { return e == 2 ? "out of memory (mock)" : "mock CUDA runtime error"; }
int cudaGetLastError() { return 0; }
int cudaRuntimeGetVersion(int* v) {
  *v = 12080;
  return 0;
}
int cudaDriverGetVersion(int* v) {
  *v = 12080;
  return 0;
}
int cudaDeviceGetPCIBusId(char* b, int len, int d) {
  snprintf(b, static_cast<size_t>(len), "0000:%02x:00.0", 0x40 + d);
  return 0;
}
int cudaMemGetInfo(size_t* f, size_t* t) {
  *f = *t = size_t{80} << 30;
  return 0;
}

// ---- CUDA driver ----
int cuInit(unsigned) { return 0; }
int cuDeviceGetCount(int* n) { return cudaGetDeviceCount(n); }
int cuDriverGetVersion(int* v) { return cudaDriverGetVersion(v); }
int cuPointerGetAttribute(void* data, int attr, unsigned long long ptr) {
  std::lock_guard<std::mutex> g(mu);
  auto it = allocs.upper_bound(static_cast<uintptr_t>(ptr));
  if (it == allocs.begin()) return 1;  // CUDA_ERROR_INVALID_VALUE
  --it;
  if (ptr >= it->first + it->second.size) return 1;
  switch (attr) {
    case 2: *static_cast<unsigned*>(data) = 2; return 0;  // CU_MEMORYTYPE_DEVICE
    case 9: *static_cast<int*>(data) = it->second.device; return 0;
    case 11: *static_cast<unsigned long long*>(data) = it->first; return 0;
    case 12: *static_cast<size_t*>(data) = it->second.size; return 0;
    default: return 1;
  }
}
int cuGetErrorName(int e, const char** s) {
  *s = e == 1 ? "CUDA_ERROR_INVALID_VALUE" : "CUDA_ERROR_UNKNOWN";
  return 0;
}
int cuGetErrorString(int, const char** s) {
  *s = "mock CUDA driver error";
  return 0;
}

// ---- cuFile ----
Error cuFileDriverOpen() {
  const int f = envInt("MOCK_CUFILE_OPEN_FAIL", 0);
  if (f != 0) return Error{f, 0};
  std::lock_guard<std::mutex> g(mu);
  ++opens;
  return Error{0, 0};
}
Error cuFileDriverClose_v2() {
  std::lock_guard<std::mutex> g(mu);
  if (opens == 0) return Error{5001, 0};
  --opens;
  return Error{0, 0};
}
Error cuFileDriverGetProperties(DrvProps* p) {
  memset(p, 0, sizeof *p);
  p->nvfs.major_version = 2;
  p->nvfs.minor_version = 17;
  p->nvfs.poll_thresh_size = 4;
  p->nvfs.max_direct_io_size = 16384;
  p->nvfs.dcontrolflags = 1u << 1;  // allow_compat_mode
  p->fflags = 1u << 1;             // batch I/O supported
  p->max_device_cache_size = 131072;
  p->per_buffer_cache_size = 1024;
  p->max_device_pinned_mem_size = 33554432;
  p->max_batch_io_size = 128;
  p->max_batch_io_timeout_msecs = 5;
  return Error{0, 0};
}
Error cuFileGetVersion(int* v) {
  *v = 1150;
  return Error{0, 0};
}
Error cuFileGetParameterSizeT(int param, size_t* v) {
  if (param != 9) return Error{5022, 0};
  *v = static_cast<size_t>(envInt("MOCK_CUFILE_BATCHSIZE", 128));
  return Error{0, 0};
}
Error cuFileGetParameterBool(int, bool* v) {
  *v = false;
  return Error{0, 0};
}
const char* cufileop_status_error(int e) { return e == 5044 ? "mock cufile io error" : "mock cufile error"; }
Error cuFileHandleRegister(void** fh, Descr* d) {
  if (d == nullptr || d->type != 1) return Error{5022, 0};
  const int f = envInt("MOCK_CUFILE_HANDLE_FAIL", 0);
  if (f != 0) return Error{f, 0};
  const int fl = fcntl(d->handle.fd, F_GETFL);
  if (fl < 0) return Error{5022, 0};
  if ((fl & O_DIRECT) == 0) return Error{5020, 0};  // CU_FILE_DIO_NOT_SET (older cuFile)
  *fh = new Handle{d->handle.fd};
  return Error{0, 0};
}
void cuFileHandleDeregister(void* fh) { delete static_cast<Handle*>(fh); }
Error cuFileBufRegister(const void* p, size_t n, int flags) {
  if (flags != 0) return Error{5022, 0};
  const int f = envInt("MOCK_CUFILE_BUFREG_FAIL", 0);
  if (f != 0) return Error{f, f == 5011 ? 2 : 0};
  std::lock_guard<std::mutex> g(mu);
  const auto a = reinterpret_cast<uintptr_t>(p);
  if (!isDevice(a, n)) return Error{5014, 0};
  if (bufRegs.count(a) != 0) return Error{5023, 0};
  bufRegs[a] = n;
  return Error{0, 0};
}
Error cuFileBufDeregister(const void* p) {
  std::lock_guard<std::mutex> g(mu);
  if (bufRegs.erase(reinterpret_cast<uintptr_t>(p)) == 0) return Error{5024, 0};
  return Error{0, 0};
}
ssize_t cuFileRead(void* fh, void* base, size_t n, off_t fo, off_t bo) { return io(static_cast<Handle*>(fh), false, base, n, fo, bo); }
ssize_t cuFileWrite(void* fh, const void* base, size_t n, off_t fo, off_t bo) {
  return io(static_cast<Handle*>(fh), true, const_cast<void*>(base), n, fo, bo);
}
Error cuFileBatchIOSetUp(void** h, unsigned nr) {
  if (nr == 0 || nr > static_cast<unsigned>(envInt("MOCK_CUFILE_BATCHSIZE", 128))) return Error{5022, 0};
  *h = new Batch{nr, {}};
  return Error{0, 0};
}
Error cuFileBatchIOSubmit(void* h, unsigned nr, IOParams* params, unsigned flags) {
  Batch* b = static_cast<Batch*>(h);
  if (nr == 0 || nr > b->max || flags != 0) return Error{5022, 0};
  const int failing = envInt("MOCK_CUFILE_BATCH_FAIL", -1);
  for (unsigned i = 0; i < nr; ++i) {
    const IOParams& p = params[i];
    if (p.mode != 1) return Error{5022, 0};
    IOEvents ev{p.cookie, 0x10, 0};
    if (static_cast<int>(reinterpret_cast<uintptr_t>(p.cookie)) == failing) {
      ev.status = 0x40;  // CUFILE_FAILED
    } else {
      const ssize_t k = io(static_cast<Handle*>(p.fh), p.opcode == 1, p.u.batch.devPtr_base, p.u.batch.size, p.u.batch.file_offset,
                           p.u.batch.devPtr_offset);
      if (k < 0) ev.status = 0x40;
      ev.ret = static_cast<size_t>(k);
    }
    b->pending.push_back(ev);
  }
  return Error{0, 0};
}
Error cuFileBatchIOGetStatus(void* h, unsigned minNr, unsigned* nr, IOEvents* out, struct timespec*) {
  Batch* b = static_cast<Batch*>(h);
  if (minNr > *nr) return Error{5022, 0};
  // Completions come back newest first, two per call: the engine must match them by cookie.
  unsigned k = 0;
  while (k < *nr && k < 2 && !b->pending.empty()) {
    out[k++] = b->pending.back();
    b->pending.pop_back();
  }
  *nr = k;
  return Error{0, 0};
}
Error cuFileBatchIOCancel(void*) { return Error{0, 0}; }
void cuFileBatchIODestroy(void* h) { delete static_cast<Batch*>(h); }

}  // extern "C"
