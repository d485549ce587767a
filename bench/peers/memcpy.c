/*
 * The bench's C peer: how fast this machine copies `size` bytes with glibc memcpy, and with
 * non-temporal AVX2 stores (which bypass the caches: for copies far larger than the LLC this is
 * the machine's practical limit). Built by bench/lib/peers.js with `cc -O2`.
 *
 * usage: memcpy <size-bytes> <iterations>
 * prints one JSON object: per method, the GB/s (10^9 bytes/s) of every timed copy and their median.
 * Methods are sampled alternately so drift on a noisy machine hits both alike.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keeps the compiler from proving the copies dead. */
static void touch(volatile unsigned char *p) { (void)*p; }

__attribute__((target("avx2"))) static void copy_nt_avx2(unsigned char *dst, const unsigned char *src, size_t n) {
  size_t i = 0;
  /* dst and src are 4096-aligned and n is a multiple of 128 here; a tail is handled anyway. */
  for (; i + 128 <= n; i += 128) {
    __m256i a = _mm256_load_si256((const __m256i *)(src + i));
    __m256i b = _mm256_load_si256((const __m256i *)(src + i + 32));
    __m256i c = _mm256_load_si256((const __m256i *)(src + i + 64));
    __m256i d = _mm256_load_si256((const __m256i *)(src + i + 96));
    _mm256_stream_si256((__m256i *)(dst + i), a);
    _mm256_stream_si256((__m256i *)(dst + i + 32), b);
    _mm256_stream_si256((__m256i *)(dst + i + 64), c);
    _mm256_stream_si256((__m256i *)(dst + i + 96), d);
  }
  _mm_sfence();
  if (i < n) memcpy(dst + i, src + i, n - i);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(const double *v, int n) {
  double *s = malloc(sizeof(double) * (size_t)n);
  memcpy(s, v, sizeof(double) * (size_t)n);
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  free(s);
  return m;
}

static void print_method(const char *name, const double *gbps, int n, int last) {
  printf("\"%s\":{\"median_gbps\":%.4f,\"samples_gbps\":[", name, median(gbps, n));
  for (int i = 0; i < n; i++) printf("%s%.4f", i ? "," : "", gbps[i]);
  printf("]}%s", last ? "" : ",");
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <size-bytes> <iterations>\n", argv[0]);
    return 2;
  }
  size_t size = strtoull(argv[1], NULL, 10);
  int iterations = atoi(argv[2]);
  if (size == 0 || iterations < 1) {
    fprintf(stderr, "size and iterations must be positive\n");
    return 2;
  }
  size_t alloc = (size + 4095) & ~(size_t)4095;
  unsigned char *src = aligned_alloc(4096, alloc);
  unsigned char *dst = aligned_alloc(4096, alloc);
  if (!src || !dst) {
    fprintf(stderr, "cannot allocate 2 x %zu bytes\n", alloc);
    return 1;
  }
  /* Fault every page in before timing anything. */
  memset(src, 0x5a, alloc);
  memset(dst, 0, alloc);
  int nt = __builtin_cpu_supports("avx2");

  double *plain = calloc((size_t)iterations, sizeof(double));
  double *stream = calloc((size_t)iterations, sizeof(double));
  memcpy(dst, src, size); /* warm-up */
  if (nt) copy_nt_avx2(dst, src, size);
  for (int i = 0; i < iterations; i++) {
    double t0 = now_s();
    memcpy(dst, src, size);
    double t1 = now_s();
    touch(dst + size - 1);
    plain[i] = (double)size / (t1 - t0) / 1e9;
    if (nt) {
      t0 = now_s();
      copy_nt_avx2(dst, src, size);
      t1 = now_s();
      touch(dst + size - 1);
      stream[i] = (double)size / (t1 - t0) / 1e9;
    }
  }
  printf("{\"size\":%zu,\"iterations\":%d,", size, iterations);
  print_method("memcpy", plain, iterations, !nt);
  if (nt) print_method("nt_avx2", stream, iterations, 1);
  printf("}\n");
  free(plain);
  free(stream);
  free(src);
  free(dst);
  return 0;
}
