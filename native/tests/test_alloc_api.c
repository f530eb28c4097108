/* test_alloc_api.c: API conformance of the allocator (docs/allocator.md 2, 7).
 * Alignment for every power of two up to 1 MiB, usable sizes, calloc zeroing, realloc contents,
 * errno values, posix_memalign leaving its output untouched, ENOMEM on huge sizes (never a
 * fallback), misuse counting (double free, interior pointer, never allocated), foreign pointers,
 * HAKMEM_ABORT_ON_ERROR. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include "hk_test.h"

static const hakmem_config_t *C;

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}
static int same(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

/* a pointer from the next allocator */
static void *foreign_malloc(size_t n) {
#ifdef HAKMEM_PREFIX
  return malloc(n); /* ASan's */
#else
  static void *(*libc_malloc)(size_t);
  if (!libc_malloc) {
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    libc_malloc = h ? (void *(*)(size_t))dlsym(h, "malloc") : NULL;
  }
  return libc_malloc ? libc_malloc(n) : NULL;
#endif
}

static void test_alignment(void) {
  int bad = 0, checked = 0;
  for (size_t a = 1; a <= (1u << 20); a <<= 1) {
    const size_t sizes[] = {1, a / 2 + 1, a, 3 * a + 5, 100, 5000};
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
      size_t n = sizes[k];
      if (n > (8u << 20)) continue;
      void *p = (void *)0x1;
      int rc = HK(posix_memalign)(&p, a, n);
      if (a < sizeof(void *)) {
        if (rc != EINVAL || p != (void *)0x1) bad++;
        checked++;
        continue;
      }
      if (rc != 0 || !p || (uintptr_t)p % a || HK(malloc_usable_size)(p) < n) {
        fprintf(stderr, "posix_memalign(%zu, %zu) -> %d %p usable %zu\n", a, n, rc, p,
                p ? HK(malloc_usable_size)(p) : 0);
        bad++;
      } else {
        memset(p, 0x5A, n);
        HK(free)(p);
      }
      void *q = HK(aligned_alloc)(a, n);
      void *r = HK(memalign)(a, n);
      if (!q || (uintptr_t)q % a || HK(malloc_usable_size)(q) < n) bad++;
      if (!r || (uintptr_t)r % a || HK(malloc_usable_size)(r) < n) bad++;
      if (q) memset(q, 1, n);
      if (r) memset(r, 2, n);
      HK(free)(q);
      HK(free)(r);
      checked += 3;
    }
  }
  CHECK(bad == 0, "alignment: %d of %d checks failed", bad, checked);
  /* every block of the plain path is min_align aligned */
  bad = 0;
  for (size_t n = 0; n < 70000; n += (n < 2048 ? 1 : 997)) {
    void *p = HK(malloc)(n);
    if (!p || (uintptr_t)p % C->min_align_bytes || HK(malloc_usable_size)(p) < (n ? n : 1)) bad++;
    HK(free)(p);
  }
  CHECK(bad == 0, "malloc alignment/usable: %d bad", bad);
}

static void test_routing_and_usable(void) {
  for (uint64_t i = 0; i < C->tiny_class_count; i++) {
    size_t n = (size_t)C->tiny_class_size[i];
    void *p = HK(malloc)(n);
    hakmem_placement_t pl = where(p);
    CHECK(pl.kind == 0 && pl.class_idx == i && HK(malloc_usable_size)(p) == n,
          "tiny %zu: kind %u class %u usable %zu", n, pl.kind, pl.class_idx, HK(malloc_usable_size)(p));
    HK(free)(p);
    void *q = HK(malloc)(n - C->min_align_bytes + 1);
    CHECK(HK(malloc_usable_size)(q) == n, "tiny round up to %zu", n);
    HK(free)(q);
  }
  for (uint64_t j = 0; j < C->pool_class_count; j++) {
    size_t n = (size_t)C->pool_class_size[j];
    void *p = HK(malloc)(n);
    hakmem_placement_t pl = where(p);
    CHECK(pl.kind == 1 && pl.class_idx == j && HK(malloc_usable_size)(p) == n,
          "pool %zu: kind %u class %u", n, pl.kind, pl.class_idx);
    HK(free)(p);
  }
  void *z = HK(malloc)(0), *z2 = HK(malloc)(0);
  CHECK(z && z2 && z != z2 && HK(malloc_usable_size)(z) == C->tiny_class_size[0], "malloc(0)");
  HK(free)(z);
  HK(free)(z2);
  size_t big = (size_t)C->pool_max_bytes + 1;
  void *l = HK(malloc)(big);
  hakmem_placement_t pl = where(l);
  CHECK(pl.kind == 2 && HK(malloc_usable_size)(l) == ((big + C->large_page_bytes - 1) & ~(C->large_page_bytes - 1)),
        "large usable %zu", HK(malloc_usable_size)(l));
  HK(free)(l);
  CHECK(HK(malloc_usable_size)(NULL) == 0, "usable(NULL)");
  /* aligned routing: 64-aligned 100 bytes -> the tiny class 128 (first multiple of 64 >= 100) */
  void *a = HK(memalign)(64, 100);
  CHECK(where(a).kind == 0 && HK(malloc_usable_size)(a) == 128, "memalign(64,100) -> tiny 128");
  HK(free)(a);
  void *b = HK(memalign)(4096, 100);
  CHECK(where(b).kind == 1 && HK(malloc_usable_size)(b) == 4096, "memalign(4096,100) -> pool 4096");
  HK(free)(b);
  void *v = HK(valloc)(10), *pv = HK(pvalloc)(5000);
  CHECK(v && (uintptr_t)v % 4096 == 0, "valloc aligned");
  CHECK(pv && (uintptr_t)pv % 4096 == 0 && HK(malloc_usable_size)(pv) >= 8192, "pvalloc rounds up");
  HK(free)(v);
  HK(free)(pv);
}

static void test_calloc_realloc(void) {
  const size_t sizes[] = {1, 24, 200, 1000, 3000, 20000, 53248, 70000, 1 << 20};
  for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t n = sizes[k];
    for (int round = 0; round < 3; round++) {
      unsigned char *p = HK(malloc)(n);
      memset(p, 0xAA, n);
      HK(free)(p);
      unsigned char *q = HK(calloc)(1, n);
      size_t nz = 0;
      for (size_t i = 0; i < n; i++) nz += q[i] != 0;
      CHECK(nz == 0, "calloc(%zu) has %zu non-zero bytes", n, nz);
      HK(free)(q);
    }
  }
  /* realloc keeps contents through every path */
  const size_t chain[] = {10, 100, 1000, 5000, 60000, 200000, 5u << 20, 300000, 40000, 100, 7};
  size_t cur = chain[0];
  unsigned char *p = HK(malloc)(cur);
  fill(p, cur, 3);
  for (unsigned k = 1; k < sizeof chain / sizeof chain[0]; k++) {
    size_t n = chain[k];
    unsigned char *q = HK(realloc)(p, n);
    size_t keep = cur < n ? cur : n;
    CHECK(q && same(q, keep, 3), "realloc %zu -> %zu keeps contents", cur, n);
    fill(q, n, 3);
    p = q;
    cur = n;
  }
  HK(free)(p);
  /* same class: the same pointer */
  void *s = HK(malloc)(100);
  CHECK(HK(realloc)(s, 110) == s, "realloc within the class returns p");
  HK(free)(s);
  /* large to large keeps the region id */
  void *l = HK(malloc)(100000);
  uint32_t id = where(l).region_id;
  void *l2 = HK(realloc)(l, 3000000);
  CHECK(l2 && where(l2).region_id == id && where(l2).kind == 2, "large realloc keeps region id");
  void *l3 = HK(realloc)(l2, 90000);
  CHECK(l3 && where(l3).region_id == id, "large shrink keeps region id");
  HK(free)(l3);
  /* realloc(NULL, n) and realloc(p, 0) */
  void *r = HK(realloc)(NULL, 50);
  CHECK(r && HK(malloc_usable_size)(r) >= 50, "realloc(NULL)");
  uint64_t inv = stats_now().invalid_frees;
  CHECK(HK(realloc)(r, 0) == NULL && stats_now().invalid_frees == inv, "realloc(p, 0) frees");
}

static void test_errors(void) {
  void *out = (void *)0x1234;
  CHECK(HK(posix_memalign)(&out, 3, 8) == EINVAL && out == (void *)0x1234, "posix_memalign(3) EINVAL untouched");
  CHECK(HK(posix_memalign)(&out, 4, 8) == EINVAL && out == (void *)0x1234, "posix_memalign(4) EINVAL untouched");
  CHECK(HK(posix_memalign)(&out, 0, 8) == EINVAL && out == (void *)0x1234, "posix_memalign(0) EINVAL");
  CHECK(HK(posix_memalign)(&out, 64, SIZE_MAX) == ENOMEM && out == (void *)0x1234, "posix_memalign huge ENOMEM");
  errno = 0;
  CHECK(HK(aligned_alloc)(24, 8) == NULL && errno == EINVAL, "aligned_alloc(24) EINVAL");
  errno = 0;
  CHECK(HK(memalign)(3, 8) == NULL && errno == EINVAL, "memalign(3) EINVAL");
  errno = 0;
  CHECK(HK(malloc)(SIZE_MAX) == NULL && errno == ENOMEM, "malloc(SIZE_MAX) ENOMEM");
  errno = 0;
  CHECK(HK(malloc)((size_t)PTRDIFF_MAX + 1) == NULL && errno == ENOMEM, "malloc(PTRDIFF_MAX+1)");
  errno = 0;
  CHECK(HK(malloc)((size_t)1 << 46) == NULL && errno == ENOMEM, "malloc(64 TiB) ENOMEM, no fallback");
  errno = 0;
  CHECK(HK(calloc)(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM, "calloc overflow ENOMEM");
  errno = 0;
  CHECK(HK(calloc)((size_t)1 << 40, (size_t)1 << 30) == NULL && errno == ENOMEM, "calloc overflow 2");
  void *p = HK(malloc)(64);
  memset(p, 7, 64);
  errno = 0;
  CHECK(HK(realloc)(p, SIZE_MAX) == NULL && errno == ENOMEM, "realloc huge ENOMEM");
  CHECK(((unsigned char *)p)[63] == 7 && where(p).region_id != 0, "realloc failure leaves p");
  HK(free)(p);
  errno = 0;
  CHECK(HK(valloc)(SIZE_MAX) == NULL && errno == ENOMEM, "valloc huge");
  errno = 0;
  CHECK(HK(pvalloc)(SIZE_MAX) == NULL && errno == ENOMEM, "pvalloc huge");
  /* success leaves errno alone */
  errno = 1234;
  void *q = HK(malloc)(10);
  CHECK(q && errno == 1234, "success keeps errno");
  HK(free)(q);
  HK(free)(NULL);
}

static void test_misuse(void) {
  uint64_t inv0 = stats_now().invalid_frees;
  char *p = HK(malloc)(100);
  HK(free)(p);
  CHECK(where(p).verdict == 2, "freed block locates INVALID");
  HK(free)(p); /* double free */
  CHECK(stats_now().invalid_frees == inv0 + 1, "double free counted");
  char *q = HK(malloc)(100);
  HK(free)(q + 16); /* interior */
  CHECK(stats_now().invalid_frees == inv0 + 2 && where(q).verdict == 0, "interior free counted, block intact");
  /* misaligned interior: its granule's state byte is the block's own (live), so only the
   * alignment test tells it apart (the free fast path and hk_classify both make it) */
  HK(free)(q + 8);
  CHECK(stats_now().invalid_frees == inv0 + 3 && where(q).verdict == 0,
        "misaligned interior free counted, block intact");
  HK(free)(q);
  inv0++;
  const hakmem_config_t *c = hakmem_config();
  (void)c;
  hakmem_placement_t pl;
  char *l = HK(malloc)(1 << 20);
  HK(free)(l);
  hakmem_locate(l, &pl);
  CHECK(pl.verdict == 2, "unmapped large slot is INVALID");
  HK(free)(l); /* never allocated any more: unmapped */
  CHECK(stats_now().invalid_frees == inv0 + 3, "free of an unmapped slot counted");
  errno = 0;
  CHECK(HK(realloc)(l, 10) == NULL && errno == EINVAL, "realloc of invalid: EINVAL");
  CHECK(HK(malloc_usable_size)(l) == 0, "usable of invalid: 0");
  /* remote double free: a block freed by another thread, then again by its owner */
  /* (covered in test_alloc_units: remote bit) */
  /* foreign pointers */
  uint64_t f0 = stats_now().foreign_frees;
  char *f = foreign_malloc(300);
  if (f) {
    memset(f, 9, 300);
    CHECK(where(f).verdict == 1, "foreign pointer locates FOREIGN");
    CHECK(HK(malloc_usable_size)(f) >= 300, "usable of foreign via the next allocator");
    char *g = HK(realloc)(f, 1000);
    CHECK(g && where(g).verdict == 0 && g[299] == 9 && stats_now().foreign_frees == f0 + 1,
          "realloc of foreign copies and frees it");
    HK(free)(g);
    char *h = foreign_malloc(50);
    HK(free)(h);
    CHECK(stats_now().foreign_frees == f0 + 2, "foreign free passed on");
  }
}

static void test_bypass(void) {
  hakmem_stats_t s0 = stats_now();
  uint64_t d0 = hakmem_state_digest();
  hakmem_replay_bypass(1);
  char *p = HK(malloc)(100), *q = HK(calloc)(10, 10), *r = NULL;
  int rc = HK(posix_memalign)((void **)&r, 256, 1000);
  memset(p, 4, 100);
  char *p2 = HK(realloc)(p, 5000);
  size_t u = HK(malloc_usable_size)(p2);
  HK(free)(q);
  hakmem_replay_bypass(0);
  int zero = 1;
  for (int i = 0; i < 100; i++) zero &= q[i] == 0;
  CHECK(p && zero && rc == 0 && (uintptr_t)r % 256 == 0 && p2 && p2[99] == 4 && u >= 5000,
        "bypass arena serves the malloc family");
  CHECK(where(p).verdict == 1 && where(p2).verdict == 1, "bypass blocks are not heap blocks");
  HK(free)(p2); /* from a thread with bypass off: recognised, a no-op */
  HK(free)(r);
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.regions_mapped == s0.regions_mapped && s1.foreign_frees == s0.foreign_frees &&
            s1.invalid_frees == s0.invalid_frees && hakmem_state_digest() == d0,
        "bypass touches no allocator state");
}

/* fork while another thread allocates: the child of a multi-threaded parent can allocate */
static atomic_int g_fork_stop;
static void *fork_busy(void *arg) {
  for (long i = 0; !g_fork_stop && i < 50000000; i++) {
    void *volatile p = HK(malloc)(64 + (size_t)(i % 3000));
    HK(free)(p);
  }
  return arg;
}
static void test_fork(void) {
  pthread_t th;
  pthread_create(&th, NULL, fork_busy, NULL);
  int ok = 0;
  for (int k = 0; k < 20; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < 2000; i++) {
        void *volatile p = HK(malloc)((size_t)(i * 37) % 70000 + 1);
        HK(free)(p);
      }
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  g_fork_stop = 1;
  pthread_join(th, NULL);
  CHECK(ok == 20, "fork children allocate (%d of 20)", ok);
}

static int scenario_abort(void) {
  char *volatile p = HK(malloc)(40);
  HK(free)(p);
  HK(free)(p);
  return 0; /* not reached with HAKMEM_ABORT_ON_ERROR=1 */
}

int main(int argc, char **argv) {
  self_init();
  if (argc == 3 && !strcmp(argv[1], "scenario") && !strcmp(argv[2], "abort")) return scenario_abort();
  C = hakmem_config();
  test_alignment();
  test_routing_and_usable();
  test_calloc_realloc();
  test_errors();
  test_misuse();
  test_bypass();
  test_fork();
  {
    const char *env[] = {"HAKMEM_ABORT_ON_ERROR=1", NULL};
    int fds[2];
    (void)fds;
    int st = run_scenario("abort", env, NULL, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "HAKMEM_ABORT_ON_ERROR=1 aborts on a double free (status %d)", st);
  }
  return finish();
}
