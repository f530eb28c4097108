/* test_alloc_stress.c: a larson-style stress with cross-thread frees.
 * Four threads share an array of slots; each repeatedly allocates a block of a random size
 * (mostly tiny, some pool, a few large), stamps it, swaps it into a random slot and frees
 * what was there (usually a block another thread allocated: a remote free). Threads exit
 * holding blocks, so their slabs become orphans that later threads adopt. 20 rounds; every
 * stamp is checked, and the slab accounting (used = carved - freelist) after each round. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "hk_test.h"

enum { THREADS = 4, SLOTS = 4096, OPS = 40000, ROUNDS = 20 };
static _Atomic(uintptr_t) g_slot[SLOTS];
static atomic_int g_corrupt;

static size_t pick_size(uint64_t *seed) {
  uint32_t r = lcg(seed) % 1000;
  if (r < 900) return 1 + lcg(seed) % 1024;
  if (r < 998) return 1025 + lcg(seed) % 52000;
  return 60000 + lcg(seed) % 300000;
}

static void stamp(unsigned char *p, size_t n) {
  uint64_t tag = (uintptr_t)p ^ 0x9E3779B97F4A7C15ull;
  memcpy(p, &n, sizeof n < n ? sizeof n : n);
  if (n >= 16) memcpy(p + 8, &tag, 8);
  p[n - 1] = (unsigned char)(tag >> 8);
}

static atomic_int g_reported;
static void report(unsigned char *p, size_t n, size_t u, const char *why) {
  if (atomic_fetch_add(&g_reported, 1) < 5) {
    hakmem_placement_t pl = where(p);
    fprintf(stderr, "corrupt %s: %p n=%zu usable=%zu kind=%u region=%u slab=%u block=%u class=%u verdict=%u\n",
            why, (void *)p, n, u, pl.kind, pl.region_id, pl.slab_index, pl.block_index, pl.class_idx, pl.verdict);
  }
}
static void verify_and_free(unsigned char *p) {
  size_t n;
  size_t u = HK(malloc_usable_size)(p);
  memcpy(&n, p, sizeof n);
  uint64_t tag = (uintptr_t)p ^ 0x9E3779B97F4A7C15ull, t2;
  if (u < 8) { atomic_fetch_add(&g_corrupt, 1); report(p, 0, u, "usable"); return; }
  if (n > u || n < 8) { atomic_fetch_add(&g_corrupt, 1); report(p, n, u, "size"); HK(free)(p); return; }
  if (n >= 16) {
    memcpy(&t2, p + 8, 8);
    if (t2 != tag) { atomic_fetch_add(&g_corrupt, 1); report(p, n, u, "tag"); }
  }
  if (p[n - 1] != (unsigned char)(tag >> 8)) { atomic_fetch_add(&g_corrupt, 1); report(p, n, u, "tail"); }
  HK(free)(p);
}

static void *worker(void *arg) {
  uint64_t seed = (uintptr_t)arg * 7919 + 1;
  for (int i = 0; i < OPS; i++) {
    size_t n = pick_size(&seed);
    if (n < 17) n = 17; /* length, tag and tail byte do not overlap */
    unsigned char *p = HK(malloc)(n);
    if (!p) { atomic_fetch_add(&g_corrupt, 1); continue; }
    stamp(p, n);
    uint32_t k = lcg(&seed) % SLOTS;
    uintptr_t old = atomic_exchange(&g_slot[k], (uintptr_t)p);
    if (old) verify_and_free((unsigned char *)old);
    if ((i & 1023) == 0) { /* a realloc now and then */
      uint32_t k2 = lcg(&seed) % SLOTS;
      uintptr_t q = atomic_exchange(&g_slot[k2], 0);
      if (q) verify_and_free((unsigned char *)q);
    }
  }
  return NULL;
}

int main(void) {
  self_init();
  uint64_t inv0 = stats_now().invalid_frees;
  for (int round = 0; round < ROUNDS; round++) {
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
      pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(round * THREADS + t + 1));
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    acct_t a = accounting();
    CHECK(a.bad == 0, "round %d: slab accounting (%d bad)", round, a.bad);
    if (round % 5 == 4) { /* free everything now and then: orphans drain into adopters later */
      for (int k = 0; k < SLOTS; k++) {
        uintptr_t p = atomic_exchange(&g_slot[k], 0);
        if (p) verify_and_free((unsigned char *)p);
      }
    }
  }
  for (int k = 0; k < SLOTS; k++) {
    uintptr_t p = atomic_exchange(&g_slot[k], 0);
    if (p) verify_and_free((unsigned char *)p);
  }
  hakmem_thread_flush();
  hakmem_stats_t s = stats_now();
  CHECK(atomic_load(&g_corrupt) == 0, "%d corrupt blocks", atomic_load(&g_corrupt));
  CHECK(s.invalid_frees == inv0, "no invalid frees (%llu)", (unsigned long long)(s.invalid_frees - inv0));
  CHECK(s.remote_frees > 0 && s.drains > 0, "remote frees %llu drains %llu",
        (unsigned long long)s.remote_frees, (unsigned long long)s.drains);
  CHECK(accounting().bad == 0, "final accounting");
  printf("stress: %d rounds x %d threads x %d ops; remote frees %llu, drains %llu, slab acquires %llu, "
         "lru pushes %llu, mmap calls %llu\n", ROUNDS, THREADS, OPS,
         (unsigned long long)s.remote_frees, (unsigned long long)s.drains,
         (unsigned long long)s.slab_acquires, (unsigned long long)s.lru_pushes,
         (unsigned long long)s.mmap_calls);
  return finish();
}
