/* Shared helpers of the workload programs: a seeded xorshift generator (no
 * libc rand, so every allocator sees the same sequence), timing, and argument
 * parsing. The workloads call only the standard allocation API. */
#ifndef WORKLOAD_COMMON_H
#define WORKLOAD_COMMON_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { uint64_t s; } rng_t;

static inline uint64_t rng_next(rng_t *r) {
  uint64_t x = r->s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return r->s = x;
}
static inline void rng_seed(rng_t *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; rng_next(r); }
/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi) { return lo + rng_next(r) % (hi - lo + 1); }

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline long arg_long(int argc, char **argv, int i, long def) {
  if (i >= argc) return def;
  char *end;
  long v = strtol(argv[i], &end, 10);
  if (*end != '\0' || v < 0) {
    fprintf(stderr, "%s: argument %d must be a non-negative integer, got '%s'\n", argv[0], i, argv[i]);
    exit(2);
  }
  return v;
}

/* Touch a block so the allocator cannot hand out memory nobody may write. */
static inline void touch(void *p, size_t n) {
  if (n) {
    ((volatile char *)p)[0] = 1;
    ((volatile char *)p)[n - 1] = 2;
  }
}

#define CHECK_ALLOC(p)                                                   \
  do {                                                                   \
    if (!(p)) {                                                          \
      fprintf(stderr, "allocation failed at %s:%d\n", __FILE__, __LINE__); \
      exit(3);                                                           \
    }                                                                    \
  } while (0)

#endif
