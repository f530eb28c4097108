/* Phases: each round fills many blocks of one size band, then frees them all in
 * a shuffled order, so slabs become EMPTY, whole SuperSlabs go to the LRU, and
 * the next round takes them back (or the LRU evicts them by count, bytes or
 * TTL). The workload that exercises EMPTY detection and the LRU hardest.
 * usage: phases [ROUNDS=40] [BLOCKS=20000] [THREADS=1] [SEED=3] */
#include "common.h"
#include <pthread.h>

typedef struct { long rounds, blocks; uint64_t seed; } phase_arg_t;

static void *run(void *p) {
  phase_arg_t *a = p;
  void **v = malloc(sizeof(void *) * (size_t)a->blocks);
  CHECK_ALLOC(v);
  rng_t r;
  rng_seed(&r, a->seed);
  for (long round = 0; round < a->rounds; round++) {
    /* size bands cycle through tiny classes, pool sizes and the odd large block */
    size_t lo = round % 5 == 4 ? 2048 : (size_t)(16 << (round % 6));
    size_t hi = round % 5 == 4 ? 60000 : lo * 2;
    long n = round % 5 == 4 ? a->blocks / 64 : a->blocks;
    for (long i = 0; i < n; i++) {
      v[i] = malloc((size_t)rng_range(&r, lo, hi));
      CHECK_ALLOC(v[i]);
      touch(v[i], lo);
    }
    for (long i = n - 1; i > 0; i--) { /* shuffle, then free all */
      long j = (long)(rng_next(&r) % (uint64_t)(i + 1));
      void *t = v[i];
      v[i] = v[j];
      v[j] = t;
    }
    for (long i = 0; i < n; i++) free(v[i]);
  }
  free(v);
  return NULL;
}

int main(int argc, char **argv) {
  long rounds = arg_long(argc, argv, 1, 40);
  long blocks = arg_long(argc, argv, 2, 20000);
  long threads = arg_long(argc, argv, 3, 1);
  long seed = arg_long(argc, argv, 4, 3);
  if (blocks < 64 || threads < 1 || threads > 16) return 2;
  pthread_t t[16];
  phase_arg_t a[16];
  double t0 = now_s();
  for (long i = 0; i < threads; i++) {
    a[i] = (phase_arg_t){rounds, blocks, (uint64_t)seed + (uint64_t)i};
    if (threads == 1) run(&a[0]);
    else if (pthread_create(&t[i], NULL, run, &a[i]) != 0) return 4;
  }
  if (threads > 1)
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double dt = now_s() - t0;
  printf("phases: %ld rounds x %ld blocks, %ld threads: %.0f ops/s\n", rounds, blocks, threads, (double)(2 * rounds * blocks * threads) / (dt > 0 ? dt : 1e-9));
  return 0;
}
