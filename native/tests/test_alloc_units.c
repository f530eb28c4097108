/* test_alloc_units.c: each part of the allocator against docs/allocator.md, through the
 * introspection API (hakmem_locate, hakmem_stats, hakmem_visit, hakmem_state_digest).
 * Every scenario runs in a fresh process (this binary re-executed) so that the allocator's
 * state, and its configuration, is known. */
#include <setjmp.h>
#include <signal.h>
#include <pthread.h>
#include <stdint.h>
#include "hk_test.h"

static const hakmem_config_t *C;

typedef void *(*thread_fn)(void *);
static void run_thread(thread_fn fn, void *arg) {
  pthread_t th;
  pthread_create(&th, NULL, fn, arg);
  pthread_join(th, NULL);
}

/* ---- tiny path: refill order, LIFO TLS list, spill at the cap, EMPTY ---- */
#define T_SIZE 896 /* a class nothing else in this process uses */
static void *tiny_thread(void *arg) {
  (void)arg;
  const uint32_t refill = (uint32_t)C->tls_refill_blocks, cap = (uint32_t)C->tls_cap_blocks;
  const uint32_t n = cap + 1;
  void *b[4096];
  hakmem_stats_t s0 = stats_now();
  for (uint32_t i = 0; i < n; i++) b[i] = HK(malloc)(T_SIZE);
  hakmem_placement_t p0 = where(b[0]);
  int order_ok = 1;
  for (uint32_t i = 0; i < n; i++) {
    hakmem_placement_t pl = where(b[i]);
    if (pl.region_id != p0.region_id || pl.slab_index != p0.slab_index || pl.block_index != i ||
        pl.kind != 0 || pl.verdict != 0)
      order_ok = 0;
  }
  CHECK(order_ok, "a fresh slab hands out blocks 0, 1, 2, ... (got[0] popped first)");
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.refills - s0.refills == (n + refill - 1) / refill, "refills: %llu",
        (unsigned long long)(s1.refills - s0.refills));
  CHECK(s1.slab_acquires - s0.slab_acquires == 1, "one slab acquired");
  /* frees: the list spills tls_spill_blocks exactly when it would hold more than the cap */
  uint32_t count = (uint32_t)(((n + refill - 1) / refill) * refill - n), spills = 0, maxc = 0;
  for (uint32_t i = 0; i < n; i++) {
    HK(free)(b[i]);
    if (++count > cap) { count -= (uint32_t)C->tls_spill_blocks; spills++; }
    if (count > maxc) maxc = count;
  }
  hakmem_stats_t s3 = stats_now();
  CHECK(s3.spills - s1.spills == spills, "spills %llu, expected %u",
        (unsigned long long)(s3.spills - s1.spills), spills);
  CHECK(maxc <= cap, "the list stays within the cap");
  /* LIFO: the next malloc returns the last freed */
  void *x = HK(malloc)(T_SIZE);
  CHECK(x == b[n - 1], "TLS list is LIFO");
  HK(free)(x);
  /* the remaining free blocks are in the TLS list; a flush returns them and the slab is EMPTY */
  hakmem_thread_flush();
  hakmem_stats_t s4 = stats_now();
  CHECK(s4.slab_releases == s3.slab_releases + 1, "slab released at the flush");
  CHECK(where(b[0]).verdict == 2, "a released slab's blocks are INVALID");
  return NULL;
}

static int scenario_tiny(void) {
  run_thread(tiny_thread, NULL);
  acct_t a = accounting();
  CHECK(a.bad == 0, "accounting");
  return g_fail;
}

/* ---- EMPTY in the same call: spill releases a slab with all blocks free ---- */
static void *empty_thread(void *arg) {
  (void)arg;
  /* 1024-byte class: 64 blocks per slab. Allocate exactly one slab, free all: the spill that
   * brings used to 0 releases it in that free call (I5). */
  const uint32_t per = (uint32_t)(C->slab_size_bytes / 1024);
  void *b[1024];
  for (uint32_t i = 0; i < per; i++) b[i] = HK(malloc)(1024);
  hakmem_stats_t s0 = stats_now();
  uint32_t released_at = 0;
  for (uint32_t i = 0; i < per; i++) {
    HK(free)(b[i]);
    if (!released_at && stats_now().slab_releases > s0.slab_releases) released_at = i + 1;
  }
  /* cap 64 blocks: the 64 frees fill the list; nothing is released until a spill */
  CHECK(released_at == 0 || released_at == per, "release point %u", released_at);
  hakmem_thread_flush();
  CHECK(stats_now().slab_releases > s0.slab_releases, "released by the flush");
  return NULL;
}

/* ---- LRU: bounded by count and bytes, reused before a new mapping, TTL ---- */
static void *fill_thread(void *arg) {
  /* allocate n SuperSlabs' worth of 1024-byte blocks, free them all, exit */
  uint32_t nss = (uint32_t)(uintptr_t)arg;
  uint64_t per_ss = C->superslab_size_bytes / 1024;
  uint64_t total = per_ss * nss;
  static void *v[1 << 16];
  if (total > (1 << 16)) total = 1 << 16;
  for (uint64_t i = 0; i < total; i++) v[i] = HK(malloc)(1024);
  for (uint64_t i = 0; i < total; i++) HK(free)(v[i]);
  return NULL;
}

static int scenario_lru(void) {
  hakmem_stats_t s0 = stats_now();
  run_thread(fill_thread, (void *)(uintptr_t)12);
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.lru_pushes - s0.lru_pushes >= 11, "empty SuperSlabs pushed: %llu",
        (unsigned long long)(s1.lru_pushes - s0.lru_pushes));
  CHECK(s1.superslabs_in_lru <= C->lru_max_count &&
            s1.superslabs_in_lru * C->superslab_size_bytes <= C->lru_max_bytes,
        "LRU within count and bytes: %llu", (unsigned long long)s1.superslabs_in_lru);
  CHECK(s1.lru_evicts > s0.lru_evicts, "LRU evicted beyond its bounds");
  acct_t a = accounting();
  CHECK(a.lru == s1.superslabs_in_lru, "visitor sees the LRU");
  /* reuse before mapping */
  uint64_t mm = s1.mmap_calls;
  run_thread(fill_thread, (void *)(uintptr_t)2);
  hakmem_stats_t s2 = stats_now();
  CHECK(s2.lru_pops > s1.lru_pops, "LRU reused");
  CHECK(s2.mmap_calls == mm, "no new mapping while the LRU holds SuperSlabs (%llu -> %llu)",
        (unsigned long long)mm, (unsigned long long)s2.mmap_calls);
  CHECK(accounting().bad == 0, "accounting");
  return g_fail;
}

static int scenario_ttl(void) {
  /* HAKMEM_LRU_TTL_TICKS=3: a pushed SuperSlab expires after 3 ticks */
  run_thread(fill_thread, (void *)(uintptr_t)2);
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.superslabs_in_lru >= 1, "something in the LRU");
  /* tick the clock: acquire/release slabs of a class in a fresh thread, several times */
  for (int i = 0; i < 6; i++) run_thread(empty_thread, NULL);
  /* the next push or LRU lookup expires what is older than the TTL */
  run_thread(fill_thread, (void *)(uintptr_t)2);
  hakmem_stats_t s2 = stats_now();
  CHECK(s2.lru_evicts > s1.lru_evicts, "TTL expiry evicts (vclock %llu -> %llu)",
        (unsigned long long)s1.vclock, (unsigned long long)s2.vclock);
  return g_fail;
}

/* ---- pool pages: owned pages, free-page stack bounded, reuse ---- */
static int scenario_pool(void) {
  const uint32_t n = (uint32_t)C->pool_free_pages_max_count + 4;
  static void *b[4096 + 4];
  if (n > sizeof b / sizeof b[0]) {
    CHECK(0, "pool_free_pages_max_count %u is beyond this test's table", (unsigned)n - 4);
    return g_fail;
  }
  hakmem_stats_t s0 = stats_now();
  for (uint32_t i = 0; i < n; i++) b[i] = HK(malloc)((size_t)C->pool_max_bytes); /* one per page */
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.pool_pages_live - s0.pool_pages_live == n, "one page per 52 KiB block");
  for (uint32_t i = 1; i < n; i++)
    CHECK(where(b[i]).region_id > where(b[i - 1]).region_id, "pool page ids ascend");
  for (uint32_t i = 0; i < n; i++) HK(free)(b[i]);
  hakmem_stats_t s2 = stats_now();
  CHECK(s2.pool_pages_live - s0.pool_pages_live == C->pool_free_pages_max_count,
        "free-page stack bounded: %llu", (unsigned long long)(s2.pool_pages_live - s0.pool_pages_live));
  CHECK(s2.unmap_calls - s1.unmap_calls == 4, "pages beyond the stack unmapped");
  /* LIFO reuse: the last page pushed comes back first */
  uint32_t last = where(b[C->pool_free_pages_max_count - 1]).region_id;
  (void)last;
  void *c = HK(malloc)(3000);
  hakmem_placement_t pl = where(c);
  CHECK(pl.kind == 1 && s2.mmap_calls == stats_now().mmap_calls, "pool page reused from the stack");
  /* blocks of a page come out in order */
  void *d = HK(malloc)(3000);
  CHECK(where(d).region_id == pl.region_id && where(d).block_index == pl.block_index + 1, "pool take order");
  HK(free)(c);
  HK(free)(d);
  CHECK(accounting().bad == 0, "accounting");
  return g_fail;
}

/* ---- large: ids, alignment, remap, unmap ---- */
static int scenario_large(void) {
  hakmem_stats_t s0 = stats_now();
  void *a = HK(malloc)(100000), *b = HK(malloc)(200000);
  uint32_t ia = where(a).region_id, ib = where(b).region_id;
  CHECK(ia && ib == ia + 1, "large region ids in mapping order (%u, %u)", ia, ib);
  void *c = NULL;
  CHECK(HK(posix_memalign)(&c, 1 << 21, 10) == 0 && (uintptr_t)c % (1 << 21) == 0, "2 MiB alignment");
  CHECK(HK(malloc_usable_size)(c) == 4096 + (1 << 21) - 4096, "aligned large region = size + align - page");
  HK(free)(c);
  memset(b, 0x33, 200000);
  void *b2 = HK(realloc)(b, 4000000);
  CHECK(b2 && where(b2).region_id == ib && ((unsigned char *)b2)[199999] == 0x33, "large grow keeps id and data");
  /* A grow that cannot stay in place (a live mapping right after it) moves: the pages (mremap,
   * no copy), the data and the id go with it. Placement is first fit from wherever the heap's
   * base put the earlier mappings, so four pairs: some second block lands right after its first. */
  unsigned char *keep[8];
  int adjacent = 0;
  for (int k = 0; k < 4; k++) {
    unsigned char *m1 = HK(malloc)(150000), *m2 = HK(malloc)(150000);
    uint32_t i1 = where(m1).region_id;
    int adj = (uintptr_t)m2 == (uintptr_t)m1 + 196608; /* 150000 B take 3 granules of 64 KiB */
    adjacent += adj;
    for (int i = 0; i < 150000; i++) m1[i] = (unsigned char)(i * 7 + k);
    unsigned char *m3 = HK(realloc)(m1, 1000000);
    CHECK(m3 && where(m3).region_id == i1, "grown, same id");
    if (!m3) return g_fail;
    if (adj) CHECK(m3 != m1, "a live mapping right after it: moved (%p %p)", (void *)m1, (void *)m3);
    int bad = 0;
    for (int i = 0; i < 150000; i++) bad += m3[i] != (unsigned char)(i * 7 + k);
    CHECK(bad == 0, "data intact (%d bytes differ)", bad);
    memset(m3 + 150000, 0x11, 1000000 - 150000); /* the grown tail is writable */
    CHECK(HK(malloc_usable_size)(m3) == 1003520, "usable size of the grown block");
    keep[2 * k] = m2;
    keep[2 * k + 1] = m3;
  }
  CHECK(adjacent > 0, "some pair adjacent");
  for (int i = 0; i < 8; i++) HK(free)(keep[i]);
  HK(free)(a);
  HK(free)(b2);
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.large_live == s0.large_live, "no large block live after the frees");
  /* The large cache: the eleven mappings stay; a malloc of the same mapping size takes the most
   * recent one of that size back, with its region id. */
  CHECK(s1.regions_live == s0.regions_live + 11, "freed large mappings kept (%llu, %llu)",
        (unsigned long long)s1.regions_live, (unsigned long long)s0.regions_live);
  uint64_t inv = s1.invalid_frees;
  HK(free)(a); /* a kept mapping holds no block */
  CHECK(stats_now().invalid_frees == inv + 1, "a free of a cached mapping is INVALID");
  void *a2 = HK(malloc)(100000 - 1000); /* the same 100 KiB mapping */
  CHECK(a2 == a && where(a2).region_id == ia, "same mapping size: the cached mapping, same id");
  memset(a2, 0x55, 99000);
  HK(free)(a2);
  unsigned char *z = HK(calloc)(1, 100000);
  CHECK(z == a, "calloc takes it too");
  int nz = 0;
  for (int i = 0; i < 100000; i++) nz += z[i] != 0;
  CHECK(nz == 0, "calloc of a cached mapping is zeroed (%d non-zero bytes)", nz);
  HK(free)(z);
  void *d = HK(malloc)(300000); /* another size: a new mapping */
  CHECK(where(d).region_id > ib, "another size maps anew");
  HK(free)(d);
  /* Bounded by large_cache_max_count (16): the oldest go. */
  void *many[20];
  for (int i = 0; i < 20; i++) many[i] = HK(malloc)(70000 + 8192 * i);
  for (int i = 0; i < 20; i++) HK(free)(many[i]);
  CHECK(stats_now().regions_live == s0.regions_live + 16, "at most 16 mappings kept (%llu)",
        (unsigned long long)(stats_now().regions_live - s0.regions_live));
  CHECK(accounting().bad == 0, "accounting");
  return g_fail;
}

/* The large cache at its largest bound (HAKMEM_LARGE_CACHE_MAX_COUNT=64): a free pushes before
 * it evicts, so the cache briefly holds one more than the bound (review: it used to write past
 * the array there, over the free-descriptor list, and a block was handed out twice). */
static int scenario_lcache64(void) {
  hakmem_stats_t s0 = stats_now();
  void *p[65];
  for (int i = 0; i < 65; i++) p[i] = HK(malloc)(100000);
  for (int i = 0; i < 65; i++) HK(free)(p[i]);
  CHECK(stats_now().regions_live == s0.regions_live + 64, "64 mappings kept (%llu)",
        (unsigned long long)(stats_now().regions_live - s0.regions_live));
  void *a = HK(malloc)(300000), *b = HK(malloc)(300000);
  HK(free)(b);
  void *x = HK(malloc)(300000), *y = HK(malloc)(300000);
  CHECK(a != x && a != y && x != y, "distinct blocks (%p %p %p)", a, x, y);
  CHECK(where(x).region_id != where(y).region_id, "distinct regions");
  void *q[64];
  for (int i = 0; i < 64; i++) q[i] = HK(malloc)(100000);
  int dup = 0;
  for (int i = 0; i < 64; i++)
    for (int j = 0; j < i; j++) dup += q[i] == q[j];
  CHECK(dup == 0, "the 64 kept mappings handed out once each (%d duplicates)", dup);
  CHECK(stats_now().regions_live == s0.regions_live + 67, "all taken back, none mapped anew");
  for (int i = 0; i < 64; i++) HK(free)(q[i]);
  HK(free)(a);
  HK(free)(x);
  HK(free)(y);
  CHECK(accounting().bad == 0, "accounting");
  return g_fail;
}

/* ---- threads: index order, orphans and adoption, remote frees ---- */
static void *volatile g_orphan_blocks[64];
static void *orphan_maker(void *arg) {
  (void)arg;
  for (int i = 0; i < 64; i++) g_orphan_blocks[i] = HK(malloc)(768);
  return NULL; /* exits holding them: the slab becomes an orphan */
}
static hakmem_placement_t g_adopt_pl;
static void *adopter(void *arg) {
  (void)arg;
  void *p = HK(malloc)(768);
  g_adopt_pl = where(p);
  HK(free)(p);
  return NULL;
}
static int scenario_threads(void) {
  run_thread(orphan_maker, NULL);
  hakmem_placement_t op = where((void *)g_orphan_blocks[0]);
  /* main frees them: remote frees into the orphan */
  hakmem_stats_t s0 = stats_now();
  for (int i = 0; i < 64; i++) HK(free)((void *)g_orphan_blocks[i]);
  hakmem_stats_t s1 = stats_now();
  CHECK(s1.remote_frees - s0.remote_frees == 64, "frees into an orphan are remote");
  /* a second free of a block waiting in a remote queue is INVALID */
  HK(free)((void *)g_orphan_blocks[5]);
  CHECK(stats_now().invalid_frees == s1.invalid_frees + 1, "double free of a remote-queued block is INVALID");
  run_thread(adopter, NULL);
  CHECK(g_adopt_pl.region_id == op.region_id && g_adopt_pl.slab_index == op.slab_index,
        "the next thread adopts the orphan first");
  CHECK(stats_now().drains > s1.drains, "the adopter drained the remote queue");
  CHECK(accounting().bad == 0, "accounting");
  return g_fail;
}

/* ---- digest: deterministic and sensitive ---- */
static int scenario_digest(void) {
  uint64_t seed = 42;
  void *v[512] = {0};
  for (int i = 0; i < 20000; i++) {
    uint32_t k = lcg(&seed) % 512;
    if (v[k]) { HK(free)(v[k]); v[k] = NULL; }
    else v[k] = HK(malloc)(16 + lcg(&seed) % 4000);
  }
  printf("digest %llx\n", (unsigned long long)hakmem_state_digest());
  void *x = HK(malloc)(10);
  printf("digest2 %llx\n", (unsigned long long)hakmem_state_digest());
  HK(free)(x);
  return 0;
}

/* ---- seed 003: random mixed workload, slabs become empty, LRU used, mmap flat ---- */
static int scenario_seed003(void) {
  const char *it = getenv("SEED003_ITERS");
  long iters = it ? atol(it) : 100000;
  enum { SLOTS = 256 };
  void *slot[SLOTS] = {0};
  uint64_t seed = 12345;
  for (long i = 0; i < iters; i++) {
    uint32_t k = lcg(&seed) % SLOTS;
    if (slot[k]) HK(free)(slot[k]);
    slot[k] = HK(malloc)(16 + lcg(&seed) % (1024 - 16 + 1));
  }
  for (int k = 0; k < SLOTS; k++) HK(free)(slot[k]);
  hakmem_thread_flush();
  hakmem_stats_t s = stats_now();
  /* a second phase: the LRU is reused */
  for (int k = 0; k < SLOTS; k++) slot[k] = HK(malloc)(16 + (k * 37) % 1000);
  for (int k = 0; k < SLOTS; k++) HK(free)(slot[k]);
  hakmem_thread_flush();
  hakmem_stats_t s2 = stats_now();
  printf("mmap %llu releases %llu pushes %llu pops %llu\n", (unsigned long long)s.mmap_calls,
         (unsigned long long)s.slab_releases, (unsigned long long)s.lru_pushes,
         (unsigned long long)s2.lru_pops);
  CHECK(s.slab_releases > 0, "slabs become empty");
  CHECK(s.lru_pushes > 0, "the LRU is filled");
  CHECK(s2.lru_pops > 0, "the LRU is reused");
  CHECK(s2.mmap_calls == s.mmap_calls, "no mapping in the second phase");
  CHECK(accounting().bad == 0, "accounting");
  return g_fail;
}

/* ---- config ---- */
static int scenario_config(void) {
  const hakmem_config_t *c = hakmem_config();
  CHECK(c->tls_cap_blocks == 8 && c->tls_refill_blocks == 4, "env overrides");
  CHECK(c->tiny_class_count == 4 && c->tiny_class_size[3] == 256 && c->tiny_max_bytes == 256,
        "class list override");
  hakmem_config_entry_t e[96];
  unsigned n = hakmem_config_entries(e, 96);
  int found = 0;
  for (unsigned i = 0; i < n; i++) {
    if (!strcmp(e[i].name, "tls_cap_blocks") && e[i].value == 8) found++;
    if (!strcmp(e[i].name, "tiny_class_size_3") && e[i].value == 256) found++;
    if (!strcmp(e[i].name, "pool_class_size_0")) found++;
  }
  CHECK(found == 3 && n == 21 + 4 + c->pool_class_count, "config entries (%u)", n);
  void *p = HK(malloc)(200);
  CHECK(HK(malloc_usable_size)(p) == 256, "the overridden classes are used");
  void *q = HK(malloc)(300); /* above tiny_max: pool */
  CHECK(where(q).kind == 1, "above the tiny max goes to the pool");
  HK(free)(p);
  HK(free)(q);
  return g_fail;
}
/* superslab_max_count 1, four 16 KiB slabs: four classes get a slab, the fifth finds none
 * (ENOMEM: no second SuperSlab is mapped). */
static int scenario_ssmax(void) {
  const hakmem_config_t *c = hakmem_config();
  CHECK(c->superslab_max_count == 1 && c->slab_size_bytes == 16384, "env overrides");
  void *p[4];
  for (int i = 0; i < 4; i++) {
    p[i] = HK(malloc)(c->tiny_class_size[i]);
    CHECK(p[i] != NULL, "class %d gets a slab", i);
  }
  errno = 0;
  void *q = HK(malloc)(c->tiny_class_size[4]);
  CHECK(q == NULL && errno == ENOMEM, "a fifth class finds no slab: ENOMEM");
  hakmem_stats_t st;
  hakmem_stats(&st);
  CHECK(st.superslabs_live == 1, "one SuperSlab mapped (%llu)", (unsigned long long)st.superslabs_live);
  for (int i = 0; i < 4; i++) HK(free)(p[i]);
  return g_fail;
}

static int scenario_badconfig(void) {
  const hakmem_config_t *c = hakmem_config();
  CHECK(c->tls_cap_blocks == 64 && c->slab_size_bytes == 65536, "invalid config falls back to defaults");
  return g_fail;
}

/* The first block of a fresh heap starts its first region; the byte in front of it must fault
 * (the reservation keeps a PROT_NONE page below the heap), whatever ASLR did. The scenario
 * catches the fault itself (exit 0), so the check also holds under the sanitizers, whose own
 * SIGSEGV report would end the process with an exit code. */
static sigjmp_buf g_guard_jmp;
static void guard_segv(int sig) {
  (void)sig;
  siglongjmp(g_guard_jmp, 1);
}
__attribute__((no_sanitize("address"), noinline)) static char read_front(const char *p) {
  return *(volatile const char *)(p - 1);
}
static int scenario_guard(void) {
  char *p = HK(malloc)(16);
  if (!p || where(p).block_index != 0) return 3;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = guard_segv;
  sigaction(SIGSEGV, &sa, NULL);
  if (sigsetjmp(g_guard_jmp, 1)) return 0; /* it faulted */
  (void)read_front(p);
  return 4;
}

static int child(const char *name) {
  C = hakmem_config();
  if (!strcmp(name, "tiny")) return scenario_tiny();
  if (!strcmp(name, "lru")) return scenario_lru();
  if (!strcmp(name, "ttl")) return scenario_ttl();
  if (!strcmp(name, "pool")) return scenario_pool();
  if (!strcmp(name, "large")) return scenario_large();
  if (!strcmp(name, "threads")) return scenario_threads();
  if (!strcmp(name, "digest")) return scenario_digest();
  if (!strcmp(name, "seed003")) return scenario_seed003();
  if (!strcmp(name, "config")) return scenario_config();
  if (!strcmp(name, "badconfig")) return scenario_badconfig();
  if (!strcmp(name, "ssmax")) return scenario_ssmax();
  if (!strcmp(name, "lcache64")) return scenario_lcache64();
  if (!strcmp(name, "empty")) { run_thread(empty_thread, NULL); return g_fail; }
  if (!strcmp(name, "guard")) return scenario_guard();
  return 100;
}

static void expect_ok(const char *name, const char *const *env) {
  int st = run_scenario(name, env, NULL, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scenario %s: status %d", name, st);
}

int main(int argc, char **argv) {
  self_init();
  if (argc == 3 && !strcmp(argv[1], "scenario")) return child(argv[2]);
  expect_ok("tiny", NULL);
  expect_ok("empty", NULL);
  expect_ok("lru", NULL);
  {
    const char *env[] = {"HAKMEM_LRU_TTL_TICKS=3", NULL};
    expect_ok("ttl", env);
  }
  expect_ok("pool", NULL);
  {
    int faulted = 0;
    for (int i = 0; i < 40; i++) {
      int st = run_scenario("guard", NULL, NULL, 0);
      faulted += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(faulted == 40, "a read in front of the heap's first block faults in every fresh process (%d of 40)", faulted);
  }
  expect_ok("large", NULL);
  expect_ok("threads", NULL);
  {
    const char *env[] = {"HAKMEM_TLS_CAP=8", "HAKMEM_TLS_REFILL=4", "HAKMEM_TINY_CLASSES=32,64,128,256", NULL};
    expect_ok("config", env);
    const char *bad[] = {"HAKMEM_SLAB_SIZE=12345", NULL};
    expect_ok("badconfig", bad);
    const char *ssmax[] = {"HAKMEM_SUPERSLAB_SIZE=65536", "HAKMEM_SLAB_SIZE=16384", "HAKMEM_SUPERSLAB_MAX=1", NULL};
    expect_ok("ssmax", ssmax);
    const char *lcache64[] = {"HAKMEM_LARGE_CACHE_MAX_COUNT=64", NULL};
    expect_ok("lcache64", lcache64);
  }
  {
    char a[256], b[256], c[256];
    run_scenario("digest", NULL, a, sizeof a);
    run_scenario("digest", NULL, b, sizeof b);
    const char *env[] = {"HAKMEM_TLS_REFILL=16", NULL};
    run_scenario("digest", env, c, sizeof c);
    CHECK(a[0] && !strcmp(a, b), "the digest is deterministic: %s vs %s", a, b);
    CHECK(strcmp(a, c) != 0, "the digest sees a policy change");
    char *l2 = strstr(a, "digest2");
    CHECK(l2 && strncmp(a + 7, l2 + 8, 16) != 0, "the digest sees one malloc");
  }
  {
    char a[256], b[256];
    const char *e1[] = {"SEED003_ITERS=100000", NULL};
    const char *e2[] = {"SEED003_ITERS=1000000", NULL};
    int s1 = run_scenario("seed003", e1, a, sizeof a);
    int s2 = run_scenario("seed003", e2, b, sizeof b);
    CHECK(WIFEXITED(s1) && WEXITSTATUS(s1) == 0 && WIFEXITED(s2) && WEXITSTATUS(s2) == 0, "seed003 runs");
    unsigned long long m1 = 0, m2 = 0;
    sscanf(a, "mmap %llu", &m1);
    sscanf(b, "mmap %llu", &m2);
    printf("seed003 100k: %s", a);
    printf("seed003 1M:   %s", b);
    CHECK(m1 && m1 == m2, "mmap calls equal at 100k and 1M iterations (%llu, %llu)", m1, m2);
  }
  return finish();
}
