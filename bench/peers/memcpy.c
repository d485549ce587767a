/*
 * The bench's C peer: how fast this machine copies, fills and checksums with the plain C a user
 * would write (glibc memcpy / memset, the SSE4.2 crc32 instruction) and with non-temporal stores
 * (AVX2 and AVX-512), which bypass the caches: for copies far larger than the LLC that is the
 * machine's practical limit. Built at run time by bench/lib/cpeer.js with `cc -O2`.
 *
 * usage: memcpy <pool-bytes> [<destination-file>]
 *   Allocates two page-aligned pools (source and destination), faults every page in, then reads
 *   commands from stdin, one per line, and answers each with one line of JSON:
 *     info                                   -> {"pool":N,"methods":{"memcpy":true,...}}
 *     run <method> <size> <batch> <iters> [reps]
 *                                            -> {"ns":[...],"reps":R,"cpu_ns":N,"check":N,"verified":B}
 *     quit
 *   `run` takes <iters> samples; a batch is <batch> operations of <size> bytes at offsets
 *   k * size (the same layout the JavaScript contenders use), and "ns" holds each sample's
 *   wall-clock time per batch. A sample times <reps> batches back to back and divides, so that
 *   the clock's own cost (~20 ns) does not swamp a 64-byte copy; reps 0 (the default) picks the
 *   smallest power of two that makes a sample last at least 2 µs, and "reps" says which.
 *   "cpu_ns" is the process CPU time over all of them; "check" is the crc32c of
 *   the first operation (crc32c) or a byte of the destination (the others). Before the timed
 *   loop the first and last operation's destination (at most 1 MiB each) is overwritten, and
 *   after it "verified" says whether they hold the right bytes again.
 *   The source pool holds byte i = (i * 131 + i / 4096) mod 256, as bench/lib/memory.js writes it.
 *   With <destination-file> the destination pool is a MAP_SHARED mapping of the file's first
 *   <pool-bytes> (the file must be that long): the same memory another process maps as a dax
 *   region (bench/kvbench.js's demotion cell), so both write through the same page cache or device.
 *
 * Methods: memcpy, nt-avx2, nt-avx512 (copy); memset, ntfill-avx2, ntfill-avx512 (fill);
 * crc32c-sse42 (crc32c, one stream of 8-byte crc32 instructions); nt-avx2-mt (copy: nt-avx2 split
 * over the online CPUs, at most 4, for copies of 1 MiB and more; its helper threads spin while a
 * `run` of it is timed, so it pays no wake-ups: the machine's multi-core limit). "info" also says
 * "threads", the width of nt-avx2-mt.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define FILL_BYTE 0xa5

/* ---------------------------------------------------------------- non-temporal copies */

__attribute__((target("avx2"))) static void copy_nt_avx2(unsigned char *d, const unsigned char *s, size_t n) {
  size_t head = (32 - ((uintptr_t)d & 31)) & 31;
  if (head > n) head = n;
  memcpy(d, s, head);
  d += head, s += head, n -= head;
  for (; n >= 128; n -= 128, d += 128, s += 128) {
    __m256i a = _mm256_loadu_si256((const __m256i *)s);
    __m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));
    __m256i c = _mm256_loadu_si256((const __m256i *)(s + 64));
    __m256i e = _mm256_loadu_si256((const __m256i *)(s + 96));
    _mm256_stream_si256((__m256i *)d, a);
    _mm256_stream_si256((__m256i *)(d + 32), b);
    _mm256_stream_si256((__m256i *)(d + 64), c);
    _mm256_stream_si256((__m256i *)(d + 96), e);
  }
  for (; n >= 32; n -= 32, d += 32, s += 32) _mm256_stream_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
  _mm_sfence();
  memcpy(d, s, n);
}

__attribute__((target("avx512f"))) static void copy_nt_avx512(unsigned char *d, const unsigned char *s, size_t n) {
  size_t head = (64 - ((uintptr_t)d & 63)) & 63;
  if (head > n) head = n;
  memcpy(d, s, head);
  d += head, s += head, n -= head;
  for (; n >= 256; n -= 256, d += 256, s += 256) {
    __m512i a = _mm512_loadu_si512((const void *)s);
    __m512i b = _mm512_loadu_si512((const void *)(s + 64));
    __m512i c = _mm512_loadu_si512((const void *)(s + 128));
    __m512i e = _mm512_loadu_si512((const void *)(s + 192));
    _mm512_stream_si512((void *)d, a);
    _mm512_stream_si512((void *)(d + 64), b);
    _mm512_stream_si512((void *)(d + 128), c);
    _mm512_stream_si512((void *)(d + 192), e);
  }
  for (; n >= 64; n -= 64, d += 64, s += 64) _mm512_stream_si512((void *)d, _mm512_loadu_si512((const void *)s));
  _mm_sfence();
  memcpy(d, s, n);
}

/* ---------------------------------------------------------------- non-temporal fills */

__attribute__((target("avx2"))) static void fill_nt_avx2(unsigned char *d, int byte, size_t n) {
  size_t head = (32 - ((uintptr_t)d & 31)) & 31;
  if (head > n) head = n;
  memset(d, byte, head);
  d += head, n -= head;
  const __m256i v = _mm256_set1_epi8((char)byte);
  for (; n >= 128; n -= 128, d += 128) {
    _mm256_stream_si256((__m256i *)d, v);
    _mm256_stream_si256((__m256i *)(d + 32), v);
    _mm256_stream_si256((__m256i *)(d + 64), v);
    _mm256_stream_si256((__m256i *)(d + 96), v);
  }
  for (; n >= 32; n -= 32, d += 32) _mm256_stream_si256((__m256i *)d, v);
  _mm_sfence();
  memset(d, byte, n);
}

__attribute__((target("avx512f,avx512bw"))) static void fill_nt_avx512(unsigned char *d, int byte, size_t n) {
  size_t head = (64 - ((uintptr_t)d & 63)) & 63;
  if (head > n) head = n;
  memset(d, byte, head);
  d += head, n -= head;
  const __m512i v = _mm512_set1_epi8((char)byte);
  for (; n >= 256; n -= 256, d += 256) {
    _mm512_stream_si512((void *)d, v);
    _mm512_stream_si512((void *)(d + 64), v);
    _mm512_stream_si512((void *)(d + 128), v);
    _mm512_stream_si512((void *)(d + 192), v);
  }
  for (; n >= 64; n -= 64, d += 64) _mm512_stream_si512((void *)d, v);
  _mm_sfence();
  memset(d, byte, n);
}

/* ---------------------------------------------------------------- crc32c */

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n) {
  uint64_t c = ~crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
  }
  uint32_t c32 = (uint32_t)c;
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}

/* ---------------------------------------------------------------- multi-threaded copy */

#define MT_MAX 4
#define MT_MIN ((size_t)1 << 20)
static unsigned mt_threads = 1;
static struct {
  unsigned char *d;
  const unsigned char *s;
  size_t n;
  atomic_uint gen;    /* bumped once per copy: the helpers' go signal */
  atomic_uint done;   /* helpers finished with the current copy */
  atomic_int active;  /* a run of nt-avx2-mt is being timed: helpers spin instead of sleeping */
  pthread_mutex_t mu;
  pthread_cond_t cv;
} mt = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Part k of mt_threads, split on 64-byte boundaries. */
static void mt_part(unsigned k, unsigned char *d, const unsigned char *s, size_t n) {
  size_t per = (n / mt_threads) & ~(size_t)63;
  size_t b = per * k, e = k + 1 == mt_threads ? n : per * (k + 1);
  copy_nt_avx2(d + b, s + b, e - b);
}

static void *mt_helper(void *arg) {
  unsigned k = (unsigned)(uintptr_t)arg, seen = 0;
  for (;;) {
    pthread_mutex_lock(&mt.mu);
    while (!atomic_load(&mt.active)) pthread_cond_wait(&mt.cv, &mt.mu);
    pthread_mutex_unlock(&mt.mu);
    while (atomic_load(&mt.active)) {
      unsigned g = atomic_load_explicit(&mt.gen, memory_order_acquire);
      if (g == seen) {
        _mm_pause();
        continue;
      }
      seen = g;
      mt_part(k, mt.d, mt.s, mt.n);
      atomic_fetch_add_explicit(&mt.done, 1, memory_order_release);
    }
  }
  return NULL;
}

static void mt_active(int on) {
  pthread_mutex_lock(&mt.mu);
  atomic_store(&mt.active, on);
  pthread_cond_broadcast(&mt.cv);
  pthread_mutex_unlock(&mt.mu);
}

__attribute__((target("avx2"))) static void copy_nt_mt(unsigned char *d, const unsigned char *s, size_t n) {
  if (mt_threads < 2 || n < MT_MIN) {
    copy_nt_avx2(d, s, n);
    return;
  }
  mt.d = d, mt.s = s, mt.n = n;
  atomic_store(&mt.done, 0);
  atomic_fetch_add_explicit(&mt.gen, 1, memory_order_release);
  mt_part(0, d, s, n);
  while (atomic_load_explicit(&mt.done, memory_order_acquire) != mt_threads - 1) _mm_pause();
}

static void mt_start(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned want = cpus < 1 ? 1 : cpus > MT_MAX ? MT_MAX : (unsigned)cpus;
  for (unsigned k = 1; k < want; ++k) {
    pthread_t t;
    if (pthread_create(&t, NULL, mt_helper, (void *)(uintptr_t)k) != 0) break;
    pthread_detach(t);
    mt_threads = k + 1;
  }
}

/* ---------------------------------------------------------------- driver */

enum method { M_MEMCPY, M_NT_AVX2, M_NT_AVX512, M_MEMSET, M_NTFILL_AVX2, M_NTFILL_AVX512, M_CRC32C, M_NT_AVX2_MT, M_COUNT };
static const char *const NAMES[M_COUNT] = {"memcpy", "nt-avx2", "nt-avx512", "memset", "ntfill-avx2", "ntfill-avx512", "crc32c-sse42", "nt-avx2-mt"};
static int supported[M_COUNT];

static unsigned char *src, *dst;
static volatile uint32_t sink;
static size_t pool;

/* Kept out of line and out of interprocedural analysis, so repeated identical batches are never merged. */
#if defined(__clang__)
#define OPAQUE __attribute__((noinline))
#else
#define OPAQUE __attribute__((noipa))
#endif

/* One batch: `batch` operations of `size` bytes at offsets k * size. Returns a check value. */
OPAQUE static uint32_t run_batch(enum method m, size_t size, size_t batch) {
  uint32_t check = 0;
  for (size_t k = 0; k < batch; ++k) {
    size_t off = k * size;
    if (off + size > pool) off = 0;
    unsigned char *d = dst + off;
    const unsigned char *s = src + off;
    switch (m) {
      case M_MEMCPY: memcpy(d, s, size); break;
      case M_NT_AVX2: copy_nt_avx2(d, s, size); break;
      case M_NT_AVX512: copy_nt_avx512(d, s, size); break;
      case M_NT_AVX2_MT: copy_nt_mt(d, s, size); break;
      case M_MEMSET: memset(d, FILL_BYTE, size); break;
      case M_NTFILL_AVX2: fill_nt_avx2(d, FILL_BYTE, size); break;
      case M_NTFILL_AVX512: fill_nt_avx512(d, FILL_BYTE, size); break;
      case M_CRC32C: {
        uint32_t c = crc32c_sse42(0, s, size);
        sink ^= c; /* every checksum is used, so none can be skipped */
        if (k == 0) check = c;
        break;
      }
      default: break;
    }
  }
  if (m != M_CRC32C) check = ((volatile unsigned char *)dst)[size - 1];
  return check;
}

/* The ranges checked after a run: the first and the last operation, at most 1 MiB each. */
static size_t checked(size_t size, size_t batch, size_t which, size_t *off) {
  size_t o = which == 0 ? 0 : (batch - 1) * size;
  if (o + size > pool) o = 0;
  *off = o;
  return size < (1u << 20) ? size : (1u << 20);
}

static void poison(enum method m, size_t size, size_t batch) {
  if (m == M_CRC32C) return;
  for (size_t w = 0; w < 2; ++w) {
    size_t o, n = checked(size, batch, w, &o);
    memset(dst + o, m == M_MEMSET || m == M_NTFILL_AVX2 || m == M_NTFILL_AVX512 ? 0x00 : 0x3c, n);
  }
}

/* 1: the checked ranges hold what the method should have left there; 0: they do not. */
static int verify(enum method m, size_t size, size_t batch) {
  for (size_t w = 0; w < 2; ++w) {
    size_t o, n = checked(size, batch, w, &o);
    if (m == M_MEMCPY || m == M_NT_AVX2 || m == M_NT_AVX512 || m == M_NT_AVX2_MT) {
      if (memcmp(dst + o, src + o, n) != 0) return 0;
    } else if (m != M_CRC32C) {
      for (size_t i = 0; i < n; ++i)
        if (dst[o + i] != FILL_BYTE) return 0;
    }
  }
  return 1;
}

static void run(const char *name, size_t size, size_t batch, int iters, unsigned reps) {
  int m = -1;
  for (int i = 0; i < M_COUNT; ++i)
    if (strcmp(name, NAMES[i]) == 0) m = i;
  if (m < 0 || !supported[m]) {
    printf("{\"error\":\"method %s is %s\"}\n", name, m < 0 ? "unknown" : "not supported by this CPU");
    return;
  }
  if (size == 0 || batch == 0 || iters < 1 || size > pool) {
    printf("{\"error\":\"bad size %zu, batch %zu or iterations %d (pool %zu)\"}\n", size, batch, iters, pool);
    return;
  }
  double *ns = malloc(sizeof(double) * (size_t)iters);
  uint32_t check = 0;
  poison((enum method)m, size, batch);
  if (m == M_NT_AVX2_MT) mt_active(1);
  uint64_t cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  if (reps == 0) {
    /* Calibration (counted as CPU time, not as samples). */
    for (reps = 1; reps < (1u << 20); reps *= 2) {
      uint64_t t0 = now_ns(CLOCK_MONOTONIC);
      for (unsigned r = 0; r < reps; ++r) sink ^= run_batch((enum method)m, size, batch);
      if (now_ns(CLOCK_MONOTONIC) - t0 >= 2000) break;
    }
  }
  for (int i = 0; i < iters; ++i) {
    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    for (unsigned r = 0; r < reps; ++r) {
      check = run_batch((enum method)m, size, batch);
      sink ^= check; /* every batch's result is used: none can be elided */
    }
    ns[i] = (double)(now_ns(CLOCK_MONOTONIC) - t0) / reps;
  }
  uint64_t cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  if (m == M_NT_AVX2_MT) mt_active(0);
  int ok = verify((enum method)m, size, batch);
  printf("{\"ns\":[");
  for (int i = 0; i < iters; ++i) printf("%s%.2f", i ? "," : "", ns[i]);
  printf("],\"reps\":%u,\"cpu_ns\":%llu,\"check\":%u,\"verified\":%s}\n", reps, (unsigned long long)cpu, check, ok ? "true" : "false");
  free(ns);
}

/* The first `n` bytes of `path`, mapped MAP_SHARED for writing; exits with a message on failure. */
static unsigned char *map_file(const char *path, size_t n) {
  int fd = open(path, O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || (size_t)st.st_size < n) {
    fprintf(stderr, "%s: cannot open it read-write, or it is shorter than %zu bytes\n", path, n);
    exit(1);
  }
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    fprintf(stderr, "%s: mmap failed\n", path);
    exit(1);
  }
  return p;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: %s <pool-bytes> [<destination-file>]   (then commands on stdin: info | run <method> <size> <batch> <iterations> | quit)\n", argv[0]);
    return 2;
  }
  pool = strtoull(argv[1], NULL, 10);
  if (pool == 0) {
    fprintf(stderr, "pool size must be positive\n");
    return 2;
  }
  size_t alloc = (pool + 4095) & ~(size_t)4095;
  src = aligned_alloc(4096, alloc);
  dst = argc == 3 ? map_file(argv[2], pool) : aligned_alloc(4096, alloc);
  if (!src || !dst) {
    fprintf(stderr, "cannot allocate 2 x %zu bytes\n", alloc);
    return 1;
  }
  /* Fault every page in before anything is timed; the source holds a non-trivial pattern. */
  for (size_t i = 0; i < alloc; ++i) src[i] = (unsigned char)(i * 131u + (i >> 12));
  memset(dst, 0, alloc);

  __builtin_cpu_init();
  supported[M_MEMCPY] = supported[M_MEMSET] = 1;
  supported[M_NT_AVX2] = supported[M_NTFILL_AVX2] = __builtin_cpu_supports("avx2");
  supported[M_NT_AVX512] = __builtin_cpu_supports("avx512f");
  supported[M_NTFILL_AVX512] = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  supported[M_CRC32C] = __builtin_cpu_supports("sse4.2");
  if (supported[M_NT_AVX2]) mt_start();
  supported[M_NT_AVX2_MT] = supported[M_NT_AVX2] && mt_threads > 1;

  setvbuf(stdout, NULL, _IOLBF, 0);
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    char cmd[32], name[32];
    unsigned long long size, batch;
    int iters;
    unsigned reps = 0;
    if (sscanf(line, "%31s", cmd) != 1) continue;
    if (strcmp(cmd, "quit") == 0) break;
    if (strcmp(cmd, "info") == 0) {
      printf("{\"pool\":%zu,\"methods\":{", pool);
      for (int i = 0; i < M_COUNT; ++i) printf("%s\"%s\":%s", i ? "," : "", NAMES[i], supported[i] ? "true" : "false");
      printf("},\"threads\":%u}\n", mt_threads);
    } else if (strcmp(cmd, "run") == 0 && sscanf(line, "%*s %31s %llu %llu %d %u", name, &size, &batch, &iters, &reps) >= 4) {
      run(name, (size_t)size, (size_t)batch, iters, reps);
    } else {
      printf("{\"error\":\"unknown command\"}\n");
    }
  }
  free(src);
  if (argc == 3) munmap(dst, pool);
  else free(dst);
  return 0;
}
