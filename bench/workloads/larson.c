/* A larson-style server workload: each thread owns CHUNKS slots; each round it
 * frees a random slot and allocates a random size in [MIN, MAX] into it. After
 * every ROUNDS rounds a thread hands its slots to a freshly started successor
 * and exits, so blocks allocated by one thread are freed by another (the
 * property that separates allocators on server loads).
 * usage: larson THREADS CHUNKS MIN MAX ROUNDS GENERATIONS SEED */
#include "common.h"
#include <pthread.h>

typedef struct {
  void **slots;
  long chunks, min, max, rounds, generations;
  uint64_t seed;
  long ops;
} larson_arg_t;

static void *worker(void *p) {
  larson_arg_t *a = p;
  for (long g = 0; g < a->generations; g++) {
    rng_t r;
    rng_seed(&r, a->seed + (uint64_t)g * 7919);
    for (long i = 0; i < a->rounds; i++) {
      long k = (long)(rng_next(&r) % (uint64_t)a->chunks);
      free(a->slots[k]);
      size_t n = (size_t)rng_range(&r, (uint64_t)a->min, (uint64_t)a->max);
      a->slots[k] = malloc(n);
      CHECK_ALLOC(a->slots[k]);
      touch(a->slots[k], n);
      a->ops += 2;
    }
    if (g + 1 < a->generations) {
      /* hand the slots to a successor thread and let it continue */
      pthread_t next;
      larson_arg_t *b = malloc(sizeof *b);
      CHECK_ALLOC(b);
      *b = *a;
      b->generations = a->generations - g - 1;
      b->seed = a->seed + 104729 * (uint64_t)(g + 1);
      b->ops = 0;
      if (pthread_create(&next, NULL, worker, b) != 0) exit(4);
      pthread_join(next, NULL);
      a->ops += b->ops;
      free(b);
      return NULL;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  long threads = arg_long(argc, argv, 1, 4);
  long chunks = arg_long(argc, argv, 2, 1024);
  long min = arg_long(argc, argv, 3, 8);
  long max = arg_long(argc, argv, 4, 128);
  long rounds = arg_long(argc, argv, 5, 20000);
  long gens = arg_long(argc, argv, 6, 4);
  long seed = arg_long(argc, argv, 7, 12345);
  if (threads < 1 || chunks < 1 || min < 1 || max < min || gens < 1) {
    fprintf(stderr, "usage: larson THREADS CHUNKS MIN MAX ROUNDS GENERATIONS SEED\n");
    return 2;
  }
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  larson_arg_t *args = calloc((size_t)threads, sizeof *args);
  CHECK_ALLOC(tids);
  CHECK_ALLOC(args);
  /* the main thread allocates every slot: the workers free blocks they did not allocate */
  rng_t r;
  rng_seed(&r, (uint64_t)seed);
  for (long t = 0; t < threads; t++) {
    args[t] = (larson_arg_t){calloc((size_t)chunks, sizeof(void *)), chunks, min, max, rounds, gens,
                             (uint64_t)seed + (uint64_t)t * 31, 0};
    CHECK_ALLOC(args[t].slots);
    for (long k = 0; k < chunks; k++) {
      size_t n = (size_t)rng_range(&r, (uint64_t)min, (uint64_t)max);
      args[t].slots[k] = malloc(n);
      CHECK_ALLOC(args[t].slots[k]);
      touch(args[t].slots[k], n);
    }
  }
  double t0 = now_s();
  for (long t = 0; t < threads; t++)
    if (pthread_create(&tids[t], NULL, worker, &args[t]) != 0) return 4;
  long ops = 0;
  for (long t = 0; t < threads; t++) {
    pthread_join(tids[t], NULL);
    ops += args[t].ops;
  }
  double dt = now_s() - t0;
  for (long t = 0; t < threads; t++) {
    for (long k = 0; k < chunks; k++) free(args[t].slots[k]);
    free(args[t].slots);
  }
  free(args);
  free(tids);
  printf("larson: %ld threads, %ld chunks, %ld..%ld bytes: %.0f ops/s\n", threads, chunks, min, max, (double)ops / (dt > 0 ? dt : 1e-9));
  return 0;
}
