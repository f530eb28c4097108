/* What a clock read costs on this machine: the floor under the fast-mode recorder's
 * per-event cost with threads (each event is stamped with the TSC, lfence first for a FREE;
 * docs/trace-format.md, "Version 2").
 * gcc -O2 -o /tmp/clock_cost bench/experiments/clock_cost.c && /tmp/clock_cost */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(void) {
  enum { N = 20000000 };
  uint64_t s = 0;
  struct timespec ts;
  unsigned aux;
  double t0 = now();
  for (int i = 0; i < N; i++) s += __rdtsc();
  double t1 = now();
  for (int i = 0; i < N; i++) {
    _mm_lfence();
    s += __rdtsc();
  }
  double t2 = now();
  for (int i = 0; i < N; i++) s += __rdtscp(&aux);
  double t3 = now();
  for (int i = 0; i < N; i++) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s += (uint64_t)ts.tv_nsec;
  }
  double t4 = now();
  printf("rdtsc %.1f ns, lfence+rdtsc %.1f ns, rdtscp %.1f ns, clock_gettime(MONOTONIC) %.1f ns (checksum %lu)\n",
         (t1 - t0) / N, (t2 - t1) / N, (t3 - t2) / N, (t4 - t3) / N, (unsigned long)(s & 1));
  return 0;
}
