/* Producer/consumer (xmalloc style): PRODUCERS threads allocate blocks and hand
 * them through a bounded queue to CONSUMERS threads, which free them. Every
 * free is a cross-thread (remote) free.
 * usage: prodcons [PRODUCERS=1] [CONSUMERS=1] [ITEMS=100000] [MIN=16] [MAX=512] [SEED=7] */
#include "common.h"
#include <pthread.h>

#define QUEUE_CAP 1024

static struct {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  void *items[QUEUE_CAP];
  long head, count, producers_left;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

typedef struct { long items, min, max; uint64_t seed; } prod_arg_t;

static void *producer(void *p) {
  prod_arg_t *a = p;
  rng_t r;
  rng_seed(&r, a->seed);
  for (long i = 0; i < a->items; i++) {
    size_t n = (size_t)rng_range(&r, (uint64_t)a->min, (uint64_t)a->max);
    void *b = malloc(n);
    CHECK_ALLOC(b);
    memset(b, (int)(i & 0xff), n);
    pthread_mutex_lock(&q.lock);
    while (q.count == QUEUE_CAP) pthread_cond_wait(&q.not_full, &q.lock);
    q.items[(q.head + q.count) % QUEUE_CAP] = b;
    q.count++;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
  }
  pthread_mutex_lock(&q.lock);
  q.producers_left--;
  pthread_cond_broadcast(&q.not_empty);
  pthread_mutex_unlock(&q.lock);
  return NULL;
}

static void *consumer(void *p) {
  (void)p;
  for (;;) {
    pthread_mutex_lock(&q.lock);
    while (q.count == 0 && q.producers_left > 0) pthread_cond_wait(&q.not_empty, &q.lock);
    if (q.count == 0) {
      pthread_mutex_unlock(&q.lock);
      return NULL;
    }
    void *b = q.items[q.head];
    q.head = (q.head + 1) % QUEUE_CAP;
    q.count--;
    pthread_cond_signal(&q.not_full);
    pthread_mutex_unlock(&q.lock);
    free(b);
  }
}

int main(int argc, char **argv) {
  long producers = arg_long(argc, argv, 1, 1);
  long consumers = arg_long(argc, argv, 2, 1);
  long items = arg_long(argc, argv, 3, 100000);
  long min = arg_long(argc, argv, 4, 16);
  long max = arg_long(argc, argv, 5, 512);
  long seed = arg_long(argc, argv, 6, 7);
  if (producers < 1 || consumers < 1 || producers > 32 || consumers > 32 || min < 1 || max < min) return 2;
  pthread_t pt[32], ct[32];
  prod_arg_t pa[32];
  q.producers_left = producers;
  double t0 = now_s();
  for (long i = 0; i < consumers; i++)
    if (pthread_create(&ct[i], NULL, consumer, NULL) != 0) return 4;
  for (long i = 0; i < producers; i++) {
    pa[i] = (prod_arg_t){items, min, max, (uint64_t)seed + (uint64_t)i};
    if (pthread_create(&pt[i], NULL, producer, &pa[i]) != 0) return 4;
  }
  for (long i = 0; i < producers; i++) pthread_join(pt[i], NULL);
  for (long i = 0; i < consumers; i++) pthread_join(ct[i], NULL);
  double dt = now_s() - t0;
  printf("prodcons: %ld producers, %ld consumers, %ld items each: %.0f ops/s\n", producers, consumers, items,
         (double)(2 * producers * items) / (dt > 0 ? dt : 1e-9));
  return 0;
}
