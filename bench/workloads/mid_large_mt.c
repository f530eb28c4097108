/* Seed 001's mid-size multi-threaded workload: THREADS threads, each ITERS
 * iterations over a working set of WS slots with sizes 8192..34815 bytes.
 * usage: mid_large_mt [THREADS=2] [ITERS=200000] [WS=2048] [SEED=42] */
#include "common.h"
#include <pthread.h>

typedef struct { long iters, ws; uint64_t seed; } mid_arg_t;

static void *worker(void *p) {
  mid_arg_t *a = p;
  void **slots = calloc((size_t)a->ws, sizeof(void *));
  CHECK_ALLOC(slots);
  rng_t r;
  rng_seed(&r, a->seed);
  for (long i = 0; i < a->iters; i++) {
    long k = (long)(rng_next(&r) % (uint64_t)a->ws);
    if (slots[k]) {
      free(slots[k]);
      slots[k] = NULL;
    } else {
      size_t n = (size_t)rng_range(&r, 8192, 34815);
      slots[k] = malloc(n);
      CHECK_ALLOC(slots[k]);
      touch(slots[k], n);
    }
  }
  for (long k = 0; k < a->ws; k++) free(slots[k]);
  free(slots);
  return NULL;
}

int main(int argc, char **argv) {
  long threads = arg_long(argc, argv, 1, 2);
  long iters = arg_long(argc, argv, 2, 200000);
  long ws = arg_long(argc, argv, 3, 2048);
  long seed = arg_long(argc, argv, 4, 42);
  if (threads < 1 || ws < 1) return 2;
  pthread_t tids[64];
  mid_arg_t args[64];
  if (threads > 64) threads = 64;
  double t0 = now_s();
  for (long t = 0; t < threads; t++) {
    args[t] = (mid_arg_t){iters, ws, (uint64_t)seed + (uint64_t)t};
    if (pthread_create(&tids[t], NULL, worker, &args[t]) != 0) return 4;
  }
  for (long t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  double dt = now_s() - t0;
  printf("mid_large_mt: %ld threads x %ld iterations, ws %ld: %.0f ops/s\n", threads, iters, ws, (double)(threads * iters) / (dt > 0 ? dt : 1e-9));
  return 0;
}
