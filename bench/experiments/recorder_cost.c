/* Recorder cost per event, by CPU time (bench/experiments/recorder_cost.sh runs it).
 * THREADS threads each do N rounds of free + malloc (16..315 bytes) on a ring of 64 blocks:
 * 2 allocator calls (2 events) per round, nothing else. Prints the sum of the threads' own CPU
 * time over the events ("loop"): run with and without HAKMEM_TRACE, the difference is the cost
 * the recorder adds inside the program's work. (Work after main returns, such as the merge of
 * fast-mode chunks at close, shows in the process's user+sys time instead: the script reports
 * both.)
 * build: gcc -O2 -pthread -o recorder_cost recorder_cost.c
 * usage: recorder_cost THREADS ROUNDS_PER_THREAD */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static long N;
static double g_cpu[256];
static double thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}
static void *work(void *arg) {
  long id = (long)arg;
  double t0 = thread_cpu_ns();
  void *ring[64] = {0};
  for (long i = 0; i < N; i++) {
    unsigned k = i & 63;
    free(ring[k]);
    ring[k] = malloc(16 + (size_t)(i % 300));
  }
  for (int k = 0; k < 64; k++) free(ring[k]);
  g_cpu[id] = thread_cpu_ns() - t0;
  return arg;
}
int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: recorder_cost THREADS ROUNDS_PER_THREAD\n");
    return 2;
  }
  int t = atoi(argv[1]);
  N = atol(argv[2]);
  if (t < 1 || t > 256 || N < 1) return 2;
  pthread_t th[256];
  for (long i = 0; i < t; i++) pthread_create(&th[i], 0, work, (void *)i);
  double sum = 0;
  for (int i = 0; i < t; i++) {
    pthread_join(th[i], 0);
    sum += g_cpu[i];
  }
  printf("loop %.2f ns/event cpu\n", sum / (2.0 * (double)(N + 32) * t));
  return 0;
}
