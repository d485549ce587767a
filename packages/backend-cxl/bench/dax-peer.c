// The C peer of bench/dax.js: copies between page-aligned anonymous memory and a MAP_SHARED
// mapping of the same device or file range the cxl engine maps, with AVX2 non-temporal stores
// (the machine's best plain copy into memory that is not re-read soon), timed per iteration.
//   dax-peer PATH OFFSET LENGTH
// Long-lived, so its samples interleave with the engine's: after "ready" it answers each line
// "up" (host→dax) or "down" (dax→host) with the nanoseconds one copy took; "quit" ends it.
#define _GNU_SOURCE
#include <fcntl.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// Non-temporal copy: head to a 32-byte destination boundary with memcpy, 128-byte blocks of
// unaligned loads and streaming stores, SFENCE, tail with memcpy.
__attribute__((target("avx2"))) static void nt_copy(uint8_t* d, const uint8_t* s, size_t n) {
  size_t head = (32 - ((uintptr_t)d & 31)) & 31;
  if (head > n) head = n;
  memcpy(d, s, head);
  d += head, s += head, n -= head;
  for (; n >= 128; n -= 128, d += 128, s += 128) {
    __m256i a = _mm256_loadu_si256((const __m256i*)s);
    __m256i b = _mm256_loadu_si256((const __m256i*)(s + 32));
    __m256i c = _mm256_loadu_si256((const __m256i*)(s + 64));
    __m256i e = _mm256_loadu_si256((const __m256i*)(s + 96));
    _mm256_stream_si256((__m256i*)d, a);
    _mm256_stream_si256((__m256i*)(d + 32), b);
    _mm256_stream_si256((__m256i*)(d + 64), c);
    _mm256_stream_si256((__m256i*)(d + 96), e);
  }
  _mm_sfence();
  memcpy(d, s, n);
}

static uint64_t read_u64(const char* path) {
  FILE* f = fopen(path, "r");
  unsigned long long v = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lli", (long long*)&v) != 1) v = 0;
  fclose(f);
  return v;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PATH OFFSET LENGTH\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];
  const uint64_t offset = strtoull(argv[2], NULL, 0), length = strtoull(argv[3], NULL, 0);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return perror(path), 1;
  struct stat st;
  if (fstat(fd, &st) != 0) return perror("fstat"), 1;
  uint64_t align = (uint64_t)sysconf(_SC_PAGESIZE);
  if (S_ISCHR(st.st_mode)) {  // device-DAX: map at the device's alignment, as the engine does
    char p[128];
    snprintf(p, sizeof p, "/sys/dev/char/%u:%u/align", major(st.st_rdev), minor(st.st_rdev));
    const uint64_t a = read_u64(p);
    align = a ? a : 2u << 20;
  }
  const uint64_t start = offset & ~(align - 1), end = (offset + length + align - 1) & ~(align - 1);
  uint8_t* map = mmap(NULL, end - start, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
  if (map == MAP_FAILED) return perror("mmap"), 1;
  uint8_t* dax = map + (offset - start);
  uint8_t* host = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (host == MAP_FAILED) return perror("mmap host"), 1;
  memset(host, 0x5a, length);  // fault both in before timing
  nt_copy(dax, host, length);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready\n");
  char line[64];
  while (fgets(line, sizeof line, stdin) != NULL) {
    const int up = strncmp(line, "up", 2) == 0;
    if (!up && strncmp(line, "down", 4) != 0) break;
    const uint64_t t0 = now_ns();
    if (up) nt_copy(dax, host, length);
    else nt_copy(host, dax, length);
    printf("%llu\n", (unsigned long long)(now_ns() - t0));
  }
  munmap(map, end - start);
  munmap(host, length);
  close(fd);
  return 0;
}
