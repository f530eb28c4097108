/* Recorder cost per event, by CPU time (bench/experiments/recorder_cost.sh runs it).
 * THREADS threads each do N rounds of free + malloc (16..315 bytes) on a ring of 64 blocks:
 * 2 allocator calls (2 events) per round, nothing else. Prints the sum of the threads' own CPU
 * time over the events ("loop"): run with and without HAKMEM_TRACE, the difference is the cost
 * the recorder adds inside the program's work. (Work after main returns, such as the merge of
 * fast-mode chunks at close, shows in the process's user+sys time instead: the script reports
 * both.) A second line, loop_sys, is the part of it spent in the kernel (getrusage
 * RUSAGE_THREAD): the recorder's page faults on the trace file's mapping.
 * build: gcc -O2 -pthread -o recorder_cost recorder_cost.c
 * usage: recorder_cost THREADS ROUNDS_PER_THREAD */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
static long N;
static double g_cpu[256], g_sys[256];
/* this thread's system time so far (page faults of the trace mapping land here) */
static double thread_sys_ns(void) {
  struct rusage u;
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_stime.tv_sec * 1e9 + u.ru_stime.tv_usec * 1e3;
}
static double thread_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}
static void *work(void *arg) {
  long id = (long)arg;
  double t0 = thread_cpu_ns(), s0 = thread_sys_ns();
  void *ring[64] = {0};
  for (long i = 0; i < N; i++) {
    unsigned k = i & 63;
    free(ring[k]);
    ring[k] = malloc(16 + (size_t)(i % 300));
  }
  for (int k = 0; k < 64; k++) free(ring[k]);
  g_cpu[id] = thread_cpu_ns() - t0;
  g_sys[id] = thread_sys_ns() - s0;
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
  double sum = 0, sys = 0;
  for (int i = 0; i < t; i++) {
    pthread_join(th[i], 0);
    sum += g_cpu[i];
    sys += g_sys[i];
  }
  double ev = 2.0 * (double)(N + 32) * t;
  printf("loop %.2f ns/event cpu\n", sum / ev);
  printf("loop_sys %.2f ns/event\n", sys / ev); /* of which in the kernel (rusage, us granularity) */
  return 0;
}
