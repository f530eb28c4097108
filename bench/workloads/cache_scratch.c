/* cache-scratch (false sharing): each thread repeatedly allocates a small
 * object, writes it many times and frees it. An allocator that hands threads
 * blocks from the same cache line makes the writes contend.
 * usage: cache_scratch [THREADS=2] [ITERS=1000] [SIZE=8] [WRITES=1000] */
#include "common.h"
#include <pthread.h>

typedef struct { long iters, size, writes; void *first; } scratch_arg_t;

static void *worker(void *p) {
  scratch_arg_t *a = p;
  /* free a block the main thread allocated for us, as the original does */
  free(a->first);
  for (long i = 0; i < a->iters; i++) {
    volatile char *b = malloc((size_t)a->size);
    CHECK_ALLOC(b);
    for (long w = 0; w < a->writes; w++)
      for (long k = 0; k < a->size; k++) b[k] = (char)(b[k] + 1);
    free((void *)b);
  }
  return NULL;
}

int main(int argc, char **argv) {
  long threads = arg_long(argc, argv, 1, 2);
  long iters = arg_long(argc, argv, 2, 1000);
  long size = arg_long(argc, argv, 3, 8);
  long writes = arg_long(argc, argv, 4, 1000);
  if (threads < 1 || threads > 64 || size < 1) return 2;
  pthread_t t[64];
  scratch_arg_t a[64];
  double t0 = now_s();
  for (long i = 0; i < threads; i++) {
    a[i] = (scratch_arg_t){iters, size, writes, malloc((size_t)size)};
    CHECK_ALLOC(a[i].first);
  }
  for (long i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, worker, &a[i]) != 0) return 4;
  for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double dt = now_s() - t0;
  printf("cache_scratch: %ld threads: %.3f s\n", threads, dt);
  return 0;
}
