/* init.c: lazy initialisation, the library constructor and destructor, fork handlers.
 *
 * Initialisation runs inside the first allocator call (or the constructor, whichever comes
 * first) and uses only getenv, mmap and the metadata arena, so it never re-enters malloc
 * (seed 000). Phase 1 (config, reservation, metadata, the exit key, trace_init) makes the heap
 * usable; then g_hk_ready = 2; phase 2 does what may allocate (pthread_atfork, dlsym for the
 * next allocator), and those allocations are served by the ready heap. Another thread arriving
 * during phase 1 waits; the initialising thread itself never recurses into phase 1. */

#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hk_internal.h"

hk_global_t g_hk;
_Atomic int g_hk_ready;
hk_counters_t g_cnt;
pthread_mutex_t g_pool_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
pthread_mutex_t g_large_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_region_lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
pthread_mutex_t g_arena_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_registry_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread int hk_initializing __attribute__((tls_model("initial-exec")));


#ifndef NDEBUG
void hk_assert_fail(const char *expr, const char *file, int line) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "hakmem: assertion failed: %s (%s:%d)\n", expr, file, line);
  if (n > 0) hk_write_err(buf);
  abort();
}
#endif

static void die(const char *msg) {
  hk_write_err("hakmem: fatal: ");
  hk_write_err(msg);
  hk_write_err("\n");
  abort();
}

static int env_flag(const char *name) {
  const char *v = getenv(name);
  return v && *v && *v != '0';
}

static void init_phase1(void) {
  hk_config_load(&g_hk.cfg);
  g_hk.abort_on_error = env_flag("HAKMEM_ABORT_ON_ERROR");
  g_hk.stats_at_exit = env_flag("HAKMEM_STATS");
  if (hk_os_reserve() != 0) die("cannot reserve the heap's address space");
  const hakmem_config_t *c = &g_hk.cfg;
  const uint64_t R = c->heap_reserve_bytes;
  g_hk.ss_base = g_hk.heap_base;
  g_hk.ss_end = g_hk.pool_base = g_hk.heap_base + R / 4;
  g_hk.pool_end = g_hk.large_base = g_hk.heap_base + R / 2;
  g_hk.large_end = g_hk.heap_end;
  g_hk.ss_shift = (unsigned)__builtin_ctzll(c->superslab_size_bytes);
  g_hk.slab_shift = (unsigned)__builtin_ctzll(c->slab_size_bytes);
  g_hk.pp_shift = (unsigned)__builtin_ctzll(c->pool_page_size_bytes);
  g_hk.n_slabs = (uint32_t)(c->superslab_size_bytes / c->slab_size_bytes);
  g_hk.n_ss_slots = (uint32_t)((R / 4) >> g_hk.ss_shift);
  g_hk.n_pp_slots = (uint32_t)((R / 4) >> g_hk.pp_shift);
  g_hk.n_large_granules = (uint32_t)((R / 2) >> HK_GRANULE_SHIFT);
  g_hk.st_shift = (unsigned)__builtin_ctzll(c->min_align_bytes);
  g_hk.align_mask = c->min_align_bytes - 1;
  g_hk.owner_map = hk_os_map_anon((R >> HK_GRANULE_SHIFT) * sizeof(uint32_t));
  g_hk.slab_tag = hk_os_map_anon(hk_round_up(((R / 4) >> g_hk.slab_shift) * sizeof(uint32_t), 4096));
  g_hk.st_bias = (uintptr_t)g_hk.st - (g_hk.heap_base >> g_hk.st_shift);
  g_hk.tag_bias = (uintptr_t)g_hk.slab_tag - (g_hk.ss_base >> g_hk.slab_shift) * sizeof(uint32_t);
  g_hk.ss_desc = hk_meta_alloc((uint64_t)g_hk.n_ss_slots * sizeof(void *));
  g_hk.pp_desc = hk_meta_alloc((uint64_t)g_hk.n_pp_slots * sizeof(void *));
  g_hk.ss_slot_bits = hk_meta_alloc(((uint64_t)g_hk.n_ss_slots + 63) / 64 * 8);
  g_hk.pp_slot_bits = hk_meta_alloc(((uint64_t)g_hk.n_pp_slots + 63) / 64 * 8);
  g_hk.pp_rw_bits = hk_meta_alloc(((uint64_t)g_hk.n_pp_slots + 63) / 64 * 8);
  g_hk.pp_chunk_slots = (uint32_t)(c->pool_map_chunk_bytes / c->pool_page_size_bytes);
  g_hk.large_bits = hk_meta_alloc(((uint64_t)g_hk.n_large_granules + 63) / 64 * 8);
  uint64_t nt = c->tiny_max_bytes / c->min_align_bytes + 1;
  uint64_t np = c->pool_max_bytes / c->min_align_bytes + 1;
  g_hk.tiny_class_of = hk_meta_alloc(nt);
  g_hk.pool_class_of = hk_meta_alloc(np);
  if (!g_hk.owner_map || !g_hk.slab_tag || !g_hk.ss_desc || !g_hk.pp_desc || !g_hk.ss_slot_bits ||
      !g_hk.pp_slot_bits || !g_hk.pp_rw_bits || !g_hk.large_bits || !g_hk.tiny_class_of || !g_hk.pool_class_of ||
      hk_large_init() != 0)
    die("cannot map the allocator's metadata");
  /* class lookup tables, indexed by ceil(size / min_align) */
  for (uint64_t k = 0, i = 0; k < nt; k++) {
    uint64_t size = k * c->min_align_bytes;
    while (i + 1 < c->tiny_class_count && c->tiny_class_size[i] < size) i++;
    g_hk.tiny_class_of[k] = (uint8_t)i;
  }
  for (uint64_t k = 0, j = 0; k < np; k++) {
    uint64_t size = k * c->min_align_bytes;
    while (j + 1 < c->pool_class_count && c->pool_class_size[j] < size) j++;
    g_hk.pool_class_of[k] = (uint8_t)j;
  }
  hk_tls_key_init();
  trace_init(&g_hk.cfg, g_hk.heap_base, R);
}

static int g_fork_exact;
static void atfork_prepare(void) {
  g_fork_exact = g_trace_exact;
  if (g_fork_exact) trace_exact_lock();
  hk_lock_all();
  trace_atfork_prepare();
}
static void atfork_parent(void) {
  trace_atfork_parent();
  hk_unlock_all();
  if (g_fork_exact) trace_exact_unlock();
}
static void atfork_child(void) {
  /* Only the forking thread survives: the others' states leave the live-thread list (their
   * slabs stay owned by nobody who will ever free into them, as with any allocator). */
  hk_thread_t *self = &hk_tls;
  hk_thread_t *keep = NULL;
  for (hk_thread_t *t = g_thread_head; t; t = t->reg_next)
    if (t == self) keep = t;
  g_thread_head = keep;
  if (keep) keep->reg_next = keep->reg_prev = NULL;
  trace_atfork_child();
  hk_unlock_all();
  if (g_fork_exact) trace_exact_unlock();
}

void hk_lock_all(void) {
  pthread_mutex_lock(&g_pool_lock);
  pthread_mutex_lock(&g_large_lock);
  pthread_mutex_lock(&g_region_lock);
  pthread_mutex_lock(&g_arena_lock);
  pthread_mutex_lock(&g_registry_lock);
}

void hk_unlock_all(void) {
  pthread_mutex_unlock(&g_registry_lock);
  pthread_mutex_unlock(&g_arena_lock);
  pthread_mutex_unlock(&g_region_lock);
  pthread_mutex_unlock(&g_large_lock);
  pthread_mutex_unlock(&g_pool_lock);
}

static void init_phase2(void) {
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  g_hk.next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
  g_hk.next_usable = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
  g_hk.next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
}

HK_NOINLINE void hk_init_slow(void) {
  if (hk_initializing) return; /* a call made by initialisation itself */
  int expected = 0;
  if (atomic_compare_exchange_strong(&g_hk_ready, &expected, 1)) {
    hk_initializing = 1;
    init_phase1();
    atomic_store_explicit(&g_hk_ready, 2, memory_order_release);
    init_phase2();
    hk_initializing = 0;
    return;
  }
  for (unsigned spins = 0; atomic_load_explicit(&g_hk_ready, memory_order_acquire) != 2; spins++)
    sched_yield();
}

__attribute__((constructor(101))) static void hk_constructor(void) { hk_ensure_init(); }

HK_HIDDEN void hk_print_stats(void);

__attribute__((destructor(101))) static void hk_destructor(void) {
  if (!hk_ready()) return;
  hakmem_thread_flush();
  if (g_hk.stats_at_exit) hk_print_stats();
  trace_close();
}
