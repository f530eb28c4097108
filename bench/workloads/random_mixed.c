/* Seed 003's random mixed workload: ITERS iterations over WS slots; each picks
 * a random slot, frees what is there, and allocates a random size in 16..1024
 * bytes into it; then everything is freed.
 * usage: random_mixed [ITERS=100000] [WS=256] [SEED=42] */
#include "common.h"

int main(int argc, char **argv) {
  long iters = arg_long(argc, argv, 1, 100000);
  long ws = arg_long(argc, argv, 2, 256);
  long seed = arg_long(argc, argv, 3, 42);
  if (ws == 0) ws = 1;
  void **slots = calloc((size_t)ws, sizeof(void *));
  CHECK_ALLOC(slots);
  rng_t r;
  rng_seed(&r, (uint64_t)seed);
  double t0 = now_s();
  for (long i = 0; i < iters; i++) {
    long k = (long)(rng_next(&r) % (uint64_t)ws);
    free(slots[k]);
    size_t n = (size_t)rng_range(&r, 16, 1024);
    slots[k] = malloc(n);
    CHECK_ALLOC(slots[k]);
    touch(slots[k], n);
  }
  for (long k = 0; k < ws; k++) free(slots[k]);
  double dt = now_s() - t0;
  free(slots);
  printf("random_mixed: %ld iterations, ws %ld: %.0f ops/s\n", iters, ws, (double)(2 * iters) / (dt > 0 ? dt : 1e-9));
  return 0;
}
