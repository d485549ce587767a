// Engine.registerHost / registerFile / registerGpu: regions (and their CUDA / cuFile registrations).
#include <fcntl.h>
#include <sys/stat.h>

#include <climits>
#include <cstring>

#include "engine.h"
#include "gpu_buffer.h"

namespace gds {

// registerHost(index, view, writable, pin) -> { pinned }
Napi::Value Engine::RegisterHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  Napi::Uint8Array view = uint8ArrayArg(env, info[1], "view");
  auto r = std::make_unique<Region>();
  r->api = api_;
  r->kind = Kind::Host;
  r->writable = boolArg(env, info[2], "writable");
  r->host = view.Data();
  r->length = view.ByteLength();
  r->view = Napi::Persistent(view);
  // Page-locking large host buffers lets cudaMemcpyAsync DMA them directly instead of staging.
  if (boolArg(env, info[3], "pin") && api_->cudaHostRegister != nullptr && r->length > 0) {
    r->pinned = api_->cudaHostRegister(r->host, r->length, cudart::kHostRegisterPortable) == cudart::kSuccess;
    if (!r->pinned) api_->cudaGetLastError();
  }
  const bool pinned = r->pinned;
  add(env, index, std::move(r));
  Napi::Object o = Napi::Object::New(env);
  o.Set("pinned", Napi::Boolean::New(env, pinned));
  return o;
}

// registerFile(index, fd, directFd, fileOffset, length, writable, useCufile)
//   -> { cufile: boolean, reason?: string, error?: { library, code, cuErr? } }
Napi::Value Engine::RegisterFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  const int fd = static_cast<int>(intArg(env, info[1], 0, INT_MAX, "fd"));
  const int directFd = static_cast<int>(intArg(env, info[2], -1, INT_MAX, "directFd"));
  auto r = std::make_unique<Region>();
  r->api = api_;
  r->kind = Kind::File;
  r->fileOffset = static_cast<uint64_t>(intArg(env, info[3], 0, kMaxSafeInteger, "fileOffset"));
  r->length = static_cast<uint64_t>(intArg(env, info[4], 0, kMaxSafeInteger, "length"));
  r->writable = boolArg(env, info[5], "writable");
  const bool useCufile = boolArg(env, info[6], "useCufile");
  auto adopt = [&](int f, const char* what, bool mustBeDirect) {
    struct stat st;
    const int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fstat(f, &st) != 0) fail(env, "INVALID_ARGUMENT", std::string(what) + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) fail(env, "INVALID_ARGUMENT", std::string(what) + " is not a regular file or block device");
    if (r->writable && ((fl & O_ACCMODE) == O_RDONLY || (fl & O_APPEND) != 0))
      fail(env, "INVALID_ARGUMENT", std::string(what) + " is read-only or O_APPEND but the region is writable");
    if (mustBeDirect && (fl & O_DIRECT) == 0) fail(env, "INVALID_ARGUMENT", std::string(what) + " was not opened with O_DIRECT");
    if (r->fd >= 0 && (st.st_dev != r->dev || st.st_ino != r->ino)) fail(env, "INVALID_ARGUMENT", "directFd names a different file than fd");
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    const int dup = fcntl(f, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) fail(env, "INVALID_ARGUMENT", std::string(what) + ": dup: " + std::strerror(errno));
    return dup;
  };
  r->fd = adopt(fd, "fd", false);
  if (directFd >= 0) r->directFd = adopt(directFd, "directFd", true);
  Napi::Object o = Napi::Object::New(env);
  if (r->directFd < 0) {
    r->noCufile = kReasonNoDirectFd;
  } else if (!useCufile) {
    r->noCufile = kReasonNoCufileHandle;
  } else {
    // cuFile's direct path wants an O_DIRECT descriptor (older cuFile refuses any other with
    // CU_FILE_DIO_NOT_SET); the buffered twin serves the bounce path.
    cufile::Descr descr;
    std::memset(&descr, 0, sizeof descr);
    descr.type = cufile::kHandleTypeOpaqueFd;
    descr.handle.fd = r->directFd;
    const cufile::Error e = api_->handleRegister(&r->fh, &descr);
    if (e.err != cufile::kSuccess) {
      r->fh = nullptr;
      r->noCufile = kReasonNoCufileHandle;
      o.Set("error", libraryError(env, *api_, "cufile", e.err, e.cu_err));
    }
  }
  o.Set("cufile", Napi::Boolean::New(env, r->fh != nullptr));
  if (r->fh == nullptr) o.Set("reason", Napi::String::New(env, kReasonNames[r->noCufile]));
  add(env, index, std::move(r));
  return o;
}

// registerGpu(index, gpuBuffer, writable, bufRegister) -> { bufRegistered, error? }
Napi::Value Engine::RegisterGpu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  checkOpen(env);
  const uint16_t index = indexArg(env, info[0]);
  std::shared_ptr<DeviceMemory> mem = GpuBuffer::From(env, info[1]);
  auto r = std::make_unique<Region>();
  r->api = api_;
  r->kind = Kind::Gpu;
  r->writable = boolArg(env, info[2], "writable");
  r->device = mem->device;
  r->gpu = mem->start;
  r->length = mem->size;
  r->mem = std::move(mem);
  Napi::Object o = Napi::Object::New(env);
  if (boolArg(env, info[3], "bufRegister") && r->length > 0) {
    int e = api_->cudaSetDevice(r->device);
    if (e != cudart::kSuccess) {
      o.Set("error", libraryError(env, *api_, "cudart", e));
      api_->cudaGetLastError();
    } else {
      const cufile::Error ce = api_->bufRegister(reinterpret_cast<const void*>(r->gpu), r->length, 0);
      r->bufRegistered = ce.err == cufile::kSuccess;
      if (!r->bufRegistered) o.Set("error", libraryError(env, *api_, "cufile", ce.err, ce.cu_err));
    }
  }
  o.Set("bufRegistered", Napi::Boolean::New(env, r->bufRegistered));
  add(env, index, std::move(r));
  return o;
}

}  // namespace gds
