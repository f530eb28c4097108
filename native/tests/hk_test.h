/* hk_test.h: helpers shared by the allocator tests (test_alloc_*.c).
 *
 * HK(malloc) names the allocator's malloc: plain `malloc` in the normal build (the test links
 * libhakmem.so, whose malloc interposes libc's), `hak_malloc` in the ASan build (make asan),
 * where the allocator's sources are compiled into the test with -DHAKMEM_PREFIX=hak_ so that
 * ASan keeps its own malloc for the test's libc and we test ours by name.
 *
 * Scenarios that need a fresh allocator (or other HAKMEM_* settings) re-execute the test binary
 * with "scenario NAME" and the environment they need; the child prints its CHECK failures and
 * exits with the number of failures. */
#ifndef HK_TEST_H
#define HK_TEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hakmem.h"

/* The tests misuse the API on purpose (double frees, huge sizes). */
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#pragma GCC diagnostic ignored "-Wunused-result"
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"

#define HK_CAT2(a, b) a##b
#define HK_CAT(a, b) HK_CAT2(a, b)
#ifdef HAKMEM_PREFIX
#define HK(n) HK_CAT(HAKMEM_PREFIX, n)
void *HK(malloc)(size_t);
void HK(free)(void *);
void *HK(calloc)(size_t, size_t);
void *HK(realloc)(void *, size_t);
int HK(posix_memalign)(void **, size_t, size_t);
void *HK(aligned_alloc)(size_t, size_t);
void *HK(memalign)(size_t, size_t);
void *HK(valloc)(size_t);
void *HK(pvalloc)(size_t);
size_t HK(malloc_usable_size)(void *);
#else
#include <malloc.h>
#define HK(n) n
#endif

#include "check.h"

static char g_self[4096];
static __attribute__((unused)) void self_init(void) {
  ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (n <= 0) { perror("readlink"); exit(2); }
  g_self[n] = 0;
}

/* Run "self scenario NAME" with extra environment entries (NULL-terminated, "K=V").
 * Returns the child's wait status. out (optional) receives its stdout. */
static __attribute__((unused)) int run_scenario(const char *name, const char *const *env,
                                                char *out, size_t outsz) {
  int fds[2];
  if (out && pipe(fds) != 0) return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (out) { dup2(fds[1], 1); close(fds[0]); close(fds[1]); }
    for (const char *const *e = env; e && *e; e++) putenv((char *)*e);
    execl(g_self, g_self, "scenario", name, (char *)0);
    _exit(127);
  }
  if (out) {
    close(fds[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < outsz && (k = read(fds[0], out + got, outsz - 1 - got)) > 0) got += (size_t)k;
    out[got] = 0;
    close(fds[0]);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

static __attribute__((unused)) hakmem_stats_t stats_now(void) {
  hakmem_stats_t s;
  hakmem_stats(&s);
  return s;
}

static __attribute__((unused)) hakmem_placement_t where(const void *p) {
  hakmem_placement_t pl;
  hakmem_locate(p, &pl);
  return pl;
}

/* The accounting invariant over every slab and pool page: used = carved - freelist, the remote
 * queue within used, carved within capacity. Returns the number of violations. */
typedef struct { int bad; uint64_t slabs, pages, regions, lru; } acct_t;
static __attribute__((unused)) void acct_visit(const hakmem_visit_t *v, void *arg) {
  acct_t *a = arg;
  if (v->what == HAKMEM_VISIT_SLAB || v->what == HAKMEM_VISIT_POOL_PAGE) {
    if (v->what == HAKMEM_VISIT_SLAB) a->slabs++;
    else a->pages++;
    if (v->class_idx == 0xFFFF) {
      if (v->used || v->carved || v->freelist || v->remote) a->bad++;
      return;
    }
    if (v->carved > v->capacity || v->used != v->carved - v->freelist || v->remote > v->used) {
      fprintf(stderr, "accounting: region %u index %u class %u used %llu carved %llu freelist "
              "%llu remote %llu cap %llu\n", v->region_id, v->index, v->class_idx,
              (unsigned long long)v->used, (unsigned long long)v->carved,
              (unsigned long long)v->freelist, (unsigned long long)v->remote,
              (unsigned long long)v->capacity);
      a->bad++;
    }
  } else if (v->what == HAKMEM_VISIT_REGION) {
    a->regions++;
  } else if (v->what == HAKMEM_VISIT_LRU) {
    a->lru++;
  }
}
static __attribute__((unused)) acct_t accounting(void) {
  acct_t a;
  memset(&a, 0, sizeof a);
  hakmem_visit(acct_visit, &a);
  return a;
}

/* fixed LCG (Numerical Recipes constants) */
static __attribute__((unused)) uint32_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*s >> 33);
}

#endif
