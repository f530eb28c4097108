/* api.c: the exported allocation API (docs/allocator.md 2, 7).
 *
 * Every call: (bypass? serve from the bypass arena) -> lazy init -> this thread's state ->
 * (exact mode: take the trace's exact lock for the whole call) -> work -> record.
 * Free-like calls classify first, record the verdict, then act; allocating calls record after
 * the work. Errors set errno and never fall back to another allocator (seed 002).
 *
 * With -DHAKMEM_PREFIX=hak_ the names become hak_malloc, ... (the ASan test build links the
 * allocator into the test binary next to ASan's own malloc), and the __libc_* aliases are not
 * defined. */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "hk_internal.h"

#define HK_CAT2(a, b) a##b
#define HK_CAT(a, b) HK_CAT2(a, b)
#ifdef HAKMEM_PREFIX
#define HK_NAME(n) HK_CAT(HAKMEM_PREFIX, n)
#else
#define HK_NAME(n) n
#endif
#define HK_API __attribute__((visibility("default")))

#define HK_PAGE 4096u

/* ---------------------------------------------------------------- errors */

/* An allocating call (realloc) records after its work, so when it meets an invalid pointer
 * with HAKMEM_ABORT_ON_ERROR=1 the abort waits until the call is recorded: a recorded event is
 * never lost, and the trace shows the call that died. free records before its work and aborts
 * at once. */
static __thread int hk_defer_abort, hk_abort_pending;

void hk_report_invalid(const char *what, const void *p) {
  HK_COUNT(invalid_frees, 1);
  if (g_hk.abort_on_error) {
    char line[160];
    int n = snprintf(line, sizeof line, "hakmem: %s of invalid pointer %p (double free, interior "
                     "pointer or never allocated)\n", what, p);
    if (n > 0) hk_write_err(line);
    if (hk_defer_abort) {
      hk_abort_pending = 1;
      return;
    }
    abort();
  }
}

/* ---------------------------------------------------------------- bypass arena */

#define HK_BYPASS_HDR 16u
static pthread_mutex_t g_bypass_lock = PTHREAD_MUTEX_INITIALIZER;
#define HK_BYPASS_ARENA_BYTES (1ull << 30)
static HK_NOINLINE int bypass_map(void) { /* mapped at the first bypass call only */
  pthread_mutex_lock(&g_bypass_lock);
  if (!__atomic_load_n(&g_hk.bypass_end, __ATOMIC_ACQUIRE)) {
    void *arena = hk_os_map_anon(HK_BYPASS_ARENA_BYTES);
    if (arena) {
      atomic_store(&g_hk.bypass_top, (uintptr_t)arena);
      g_hk.bypass_base = (uintptr_t)arena;
      __atomic_store_n(&g_hk.bypass_end, (uintptr_t)arena + HK_BYPASS_ARENA_BYTES, __ATOMIC_RELEASE);
    }
  }
  pthread_mutex_unlock(&g_bypass_lock);
  return g_hk.bypass_end ? 0 : -1;
}

void *hk_bypass_alloc(size_t size, size_t align) {
  hk_ensure_init();
  if (HK_UNLIKELY(!__atomic_load_n(&g_hk.bypass_end, __ATOMIC_ACQUIRE)) && bypass_map() != 0) {
    errno = ENOMEM;
    return NULL;
  }
  if (align < 16) align = 16;
  if (size > (1ull << 40)) { errno = ENOMEM; return NULL; }
  uintptr_t cur = atomic_load_explicit(&g_hk.bypass_top, memory_order_relaxed), blk, top;
  do {
    blk = hk_round_up(cur + HK_BYPASS_HDR, align);
    top = hk_round_up(blk + (size ? size : 1), 16);
    if (top > g_hk.bypass_end) { errno = ENOMEM; return NULL; }
  } while (!atomic_compare_exchange_weak_explicit(&g_hk.bypass_top, &cur, top,
                                                  memory_order_relaxed, memory_order_relaxed));
  ((uint64_t *)blk)[-1] = size;
  return (void *)blk;
}
static size_t bypass_usable(void *p) { return (size_t)((uint64_t *)p)[-1]; }
static void *bypass_realloc(void *p, size_t n) {
  void *q = hk_bypass_alloc(n, 16);
  if (q && p) {
    size_t o = bypass_usable(p);
    memcpy(q, p, o < n ? o : n);
  }
  return q;
}

/* ---------------------------------------------------------------- routing */

static inline hk_route_t route_plain(uint64_t size) {
  hk_route_t r;
  const hakmem_config_t *c = &g_hk.cfg;
  if (size == 0) size = 1;
  if (size <= c->tiny_max_bytes) {
    r.path = HK_PATH_TINY;
    r.cls = g_hk.tiny_class_of[(size + c->min_align_bytes - 1) / c->min_align_bytes];
  } else if (size <= c->pool_max_bytes) {
    r.path = HK_PATH_POOL;
    r.cls = g_hk.pool_class_of[(size + c->min_align_bytes - 1) / c->min_align_bytes];
  } else {
    r.path = HK_PATH_LARGE;
    r.cls = HK_NONE;
  }
  return r;
}

static hk_route_t route_aligned(uint64_t size, uint64_t align) {
  const hakmem_config_t *c = &g_hk.cfg;
  if (align <= c->min_align_bytes) return route_plain(size);
  if (size == 0) size = 1;
  hk_route_t r;
  if (align <= c->slab_size_bytes)
    for (uint32_t i = 0; i < c->tiny_class_count; i++)
      if (c->tiny_class_size[i] >= size && c->tiny_class_size[i] % align == 0) {
        r.path = HK_PATH_TINY;
        r.cls = i;
        return r;
      }
  if (align <= c->pool_page_size_bytes)
    for (uint32_t j = 0; j < c->pool_class_count; j++)
      if (c->pool_class_size[j] >= size && c->pool_class_size[j] % align == 0) {
        r.path = HK_PATH_POOL;
        r.cls = j;
        return r;
      }
  r.path = HK_PATH_LARGE;
  r.cls = HK_NONE;
  return r;
}

/* ---------------------------------------------------------------- core paths */

static inline void *tiny_malloc(hk_thread_t *t, uint32_t c) {
  hk_block_t *b = t->tls_head[c];
  if (HK_LIKELY(b != NULL)) {
    t->tls_head[c] = b->next;
    t->tls_count[c]--;
  } else {
    b = hk_tiny_malloc_slow(t, c);
    if (HK_UNLIKELY(!b)) return NULL;
  }
  hk_live_set((uintptr_t)b);
  return b;
}

/* A local free of a tiny block: onto the TLS list, and spill when over the cap. The one place
 * that decides when to spill (the fast path below and free_ok both come here). */
static inline void tiny_free_local(hk_thread_t *t, uint32_t c, hk_block_t *b) {
  b->next = t->tls_head[c];
  t->tls_head[c] = b;
  if (HK_UNLIKELY(++t->tls_count[c] > g_hk.cfg.tls_cap_blocks))
    hk_spill(t, c, (uint32_t)g_hk.cfg.tls_spill_blocks);
}

/* allocate on route r; NULL with errno ENOMEM on failure */
static void *alloc_route(hk_thread_t *t, hk_route_t r, uint64_t size, uint64_t align) {
  void *p;
  if (HK_UNLIKELY(size > (uint64_t)PTRDIFF_MAX)) p = NULL;
  else if (r.path == HK_PATH_TINY) p = tiny_malloc(t, r.cls);
  else if (r.path == HK_PATH_POOL) p = hk_pool_malloc(t, r.cls);
  else p = hk_large_malloc((uint16_t)t->index, size, align, 0);
  if (HK_UNLIKELY(!p)) errno = ENOMEM;
  return p;
}

static inline void *alloc_plain(hk_thread_t *t, uint64_t size) {
  return alloc_route(t, route_plain(size), size, g_hk.cfg.min_align_bytes);
}

/* free a block classified OK (ref) */
static void free_ok(hk_thread_t *t, uintptr_t p, const hk_class_ref_t *ref) {
  if (ref->kind == HK_KIND_LARGE) {
    hk_large_free((uint16_t)t->index, ref->large);
    return;
  }
  hk_slab_t *s = ref->slab;
  hk_block_t *b = (hk_block_t *)p;
  if (__atomic_load_n(&s->owner, __ATOMIC_RELAXED) == t->index) {
    if (ref->kind == HK_KIND_SS) {
      hk_live_clear(p);
      tiny_free_local(t, s->class_idx, b);
    } else {
      hk_pool_free_owner(t, s, b);
    }
  } else if (hk_remote_push(s, b) != 0) {
    HK_COUNT(invalid_frees, 1); /* a racing free of the same block won */
  }
}

/* Recording a FREE in fast mode with threads: which clock (docs/trace-format.md, "Version 2")?
 * When the block was certainly allocated by this thread, none: its MALLOC is earlier in this
 * thread's own order, which the merge keeps, and nothing another thread did since this thread's
 * last event can have changed the call, so the event keeps that event's clock (HKT_CLK_PREV).
 * That holds for a tiny or pool block whose slab this thread owns and did not adopt: only the
 * owner allocates from a slab, and a slab changes owner only when empty (every block free)
 * except by adoption of an exited thread's orphans. Everything else reads the clock fenced: a
 * remote free, a block of an adopted slab, a large block (any thread may free it and nothing
 * records who allocated it), and any verdict but OK. Reads the slab's first line, which free_ok
 * reads anyway. */
static inline int hk_free_clock_slab(const hk_slab_t *s, int owned) {
  return owned && !s->adopted ? HKT_CLK_PREV : HKT_CLK_FENCED;
}
static inline int hk_free_clock(const hk_thread_t *t, const hk_class_ref_t *ref) {
  if (ref->verdict != HKT_VERDICT_OK || ref->kind == HK_KIND_LARGE) return HKT_CLK_FENCED;
  return hk_free_clock_slab(ref->slab, __atomic_load_n(&ref->slab->owner, __ATOMIC_RELAXED) == t->index);
}

static uint64_t usable_of(const hk_class_ref_t *ref) {
  if (ref->kind == HK_KIND_LARGE) return ref->large->r.size_bytes; /* block at offset 0 */
  return ref->slab->block_size;
}

static inline int in_heap(uintptr_t p) { return p - g_hk.heap_base < g_hk.heap_end - g_hk.heap_base; }

static void foreign_free(void *p) {
  HK_COUNT(foreign_frees, 1);
  if (g_hk.next_free) g_hk.next_free(p);
  else HK_COUNT(foreign_leaked, 1);
}

/* ---------------------------------------------------------------- recording helpers */

/* an allocating call's event; clk: trace.h's clock mode (a wide size is never a TLS hit) */
static inline void rec_alloc(uint8_t op, hk_thread_t *t, uint64_t size, void *res, int clk) {
  if (!trace_on()) return;
  if (size < 0xFFFFFFFFull) trace_event_clk(op, (uint16_t)t->index, (uint32_t)size, (uint64_t)(uintptr_t)res, clk);
  else {
    uint32_t ea = 0;
    uint64_t eb = size;
    trace_event(op, (uint16_t)t->index, 0xFFFFFFFFu, (uint64_t)(uintptr_t)res, 1, &ea, &eb);
  }
}

/* realloc and the aligned family: ext1 (b, a); ext2.b = size when a = 0xFFFFFFFF */
static inline void rec_ext(uint8_t op, hk_thread_t *t, uint64_t size, void *res, uint64_t e1b,
                           uint32_t e1a) {
  if (!trace_on()) return;
  uint32_t ea[2] = {e1a, 0};
  uint64_t eb[2] = {e1b, size};
  int wide = size >= 0xFFFFFFFFull;
  trace_event(op, (uint16_t)t->index, wide ? 0xFFFFFFFFu : (uint32_t)size,
              (uint64_t)(uintptr_t)res, wide ? 2 : 1, ea, eb);
}

#define EXACT_LOCK() do { if (HK_UNLIKELY(g_trace_exact)) trace_exact_lock(); } while (0)
#define EXACT_UNLOCK() do { if (HK_UNLIKELY(g_trace_exact)) trace_exact_unlock(); } while (0)

/* ---------------------------------------------------------------- fast paths
 *
 * malloc of a tiny size whose TLS list is not empty, and free of a live tiny block whose slab
 * has an owner (the caller: onto the TLS list; another thread: its remote queue, through
 * hk_remote_push), are served here without the rest of the call: only while the thread is set
 * up (active), not in the replay bypass, and not recording in exact mode (whose lock wraps the
 * whole call). They make the same decisions as the full path (docs/allocator.md 4, tiny_malloc
 * and tiny_free) and call the same slow-path functions (hk_tiny_malloc_slow for refill,
 * hk_spill) whenever the TLS list is empty or over its cap; anything else (pool, large, remote,
 * invalid, foreign, NULL) falls through to the full path. Recording in fast mode, they record
 * what the full path would (a MALLOC after the call, a FREE with verdict OK before it, with the
 * clock malloc_full and hk_free_clock would choose; internal decisions are recorded where they
 * are made, as in the full path). */

static inline int fast_ok(const hk_thread_t *t) {
  /* t->fast == active && !hk_bypass (kept by hk_thread_slow, the exit flush and the bypass) */
  return HK_LIKELY(t->fast) & !g_trace_exact;
}

static HK_NOINLINE void *malloc_full(size_t n);

/* The fast path's free of a live tiny block whose slab has an owner (tag: the slab's tag). */
static inline void tiny_free_fast(hk_thread_t *t, uintptr_t p, uint8_t *st, uint32_t tag) {
  if (HK_LIKELY((tag >> 8) == t->index + 1)) {
    /* (hk_spill asserts owner and class of every block it moves) */
    __atomic_store_n(st, 0, __ATOMIC_RELAXED);
    tiny_free_local(t, tag & 0xFF, (hk_block_t *)p);
  } else if (hk_remote_push(hk_slab_of(p), (hk_block_t *)p) != 0) {
    HK_COUNT(invalid_frees, 1); /* a racing free of the same block won (as free_ok) */
  }
}

/* The same, recording: the FREE first, with verdict OK and hk_free_clock's rule (the thread's
 * previous clock for a slab it owns and did not adopt, else fenced; the tag names the owner). Out of line,
 * so the fast path saves no register for the call. */
static HK_NOINLINE void free_fast_rec(hk_thread_t *t, uintptr_t p, uint8_t *st, uint32_t tag) {
  trace_free((uint16_t)t->index, HKT_VERDICT_OK, p,
             hk_free_clock_slab(hk_slab_of(p), (tag >> 8) == t->index + 1));
  tiny_free_fast(t, p, st, tag);
}

/* Recording a TLS hit of the fast path: the thread's previous clock (as malloc_full). Out of line
 * and called last, so the fast path saves no register for it. */
static HK_NOINLINE void *malloc_fast_rec(hk_thread_t *t, size_t n, hk_block_t *b) {
  trace_event_clk(HKT_MALLOC, (uint16_t)t->index, (uint32_t)n, (uint64_t)(uintptr_t)b, HKT_CLK_PREV);
  return b;
}
static HK_NOINLINE void free_full(void *ptr);

/* ---------------------------------------------------------------- the API */

HK_API void *HK_NAME(malloc)(size_t n) {
  hk_thread_t *t = &hk_tls;
  if (HK_LIKELY(n <= g_hk.cfg.tiny_max_bytes) && fast_ok(t)) {
    uint32_t c = g_hk.tiny_class_of[(n + g_hk.align_mask) >> g_hk.st_shift];
    hk_block_t *b = t->tls_head[c];
    if (HK_LIKELY(b != NULL)) {
      t->tls_head[c] = b->next;
      t->tls_count[c]--;
      hk_live_set((uintptr_t)b);
      if (HK_UNLIKELY(trace_on())) return malloc_fast_rec(t, n, b);
      return b;
    }
  }
  return malloc_full(n);
}

HK_API void HK_NAME(free)(void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  hk_thread_t *t = &hk_tls;
  /* before initialisation ss_end == ss_base == 0: the range check fails */
  if (HK_LIKELY(p - g_hk.ss_base < g_hk.ss_end - g_hk.ss_base) && !(p & g_hk.align_mask) &&
      fast_ok(t)) {
#ifdef HAKMEM_VARIANT_HEADER_READ /* seeded bug: a header read in front of the pointer, unchecked */
    (void)*((volatile const uint64_t *)ptr - 1);
#endif
    uint8_t *st = hk_st(p);
    uint32_t tag = hk_tag_of(p);
    if (HK_LIKELY(__atomic_load_n(st, __ATOMIC_RELAXED) == HK_ST_LIVE) && HK_LIKELY(tag != 0)) {
      if (HK_UNLIKELY(trace_on())) free_fast_rec(t, p, st, tag);
      else tiny_free_fast(t, p, st, tag);
      return;
    }
  }
  free_full(ptr);
}

static HK_NOINLINE void *malloc_full(size_t n) {
  if (HK_UNLIKELY(hk_bypass)) return hk_bypass_alloc(n, 16);
  hk_ensure_init();
  hk_thread_t *t = hk_thread();
  EXACT_LOCK();
  hk_route_t r = route_plain(n);
  /* a TLS hit reads only this thread's own list: its event keeps the thread's last clock (see
   * hk_free_clock); a refill (the list empty) may take blocks other threads freed */
  int clk = r.path == HK_PATH_TINY && t->tls_head[r.cls] ? HKT_CLK_PREV : HKT_CLK_NOW;
  void *p = alloc_route(t, r, n, g_hk.cfg.min_align_bytes);
  rec_alloc(HKT_MALLOC, t, n, p, clk);
  EXACT_UNLOCK();
  return p;
}

static HK_NOINLINE void free_full(void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  if (!hk_ready()) {
    if (!ptr) return;           /* free(NULL) before initialisation */
    hk_ensure_init();
  }
  if (HK_UNLIKELY(hk_in_bypass_arena(p))) return;
  if (HK_UNLIKELY(hk_bypass)) { /* touch no allocator state */
    if (ptr && !in_heap(p) && g_hk.next_free) g_hk.next_free(ptr);
    return;
  }
#ifdef HAKMEM_VARIANT_HEADER_READ /* seeded bug: a header read in front of the pointer, unchecked */
  if (ptr) {
    volatile const uint64_t *hdr = (volatile const uint64_t *)ptr - 1;
    (void)*hdr;
  }
#endif
  hk_thread_t *t = hk_thread_for_free();
  EXACT_LOCK();
  hk_class_ref_t ref;
  if (!ptr) ref.verdict = HKT_VERDICT_NULL;
  else if (HK_LIKELY(in_heap(p))) hk_classify(p, &ref);
  else ref.verdict = HKT_VERDICT_FOREIGN;
  trace_free((uint16_t)t->index, (uint32_t)ref.verdict, p,
             trace_on() ? hk_free_clock(t, &ref) : HKT_CLK_NOW);
  if (HK_LIKELY(ref.verdict == HKT_VERDICT_OK)) free_ok(t, p, &ref);
  else if (ref.verdict == HKT_VERDICT_FOREIGN) foreign_free(ptr);
  else if (ref.verdict == HKT_VERDICT_INVALID) hk_report_invalid("free", ptr);
  EXACT_UNLOCK();
}

HK_API void *HK_NAME(calloc)(size_t m, size_t n) {
  size_t total;
  int ovf = __builtin_mul_overflow(m, n, &total);
  if (HK_UNLIKELY(hk_bypass)) {
    if (ovf) { errno = ENOMEM; return NULL; }
    return hk_bypass_alloc(total, 16); /* fresh arena memory is zero */
  }
  hk_ensure_init();
  hk_thread_t *t = hk_thread();
  EXACT_LOCK();
  void *p = NULL;
  if (ovf) errno = ENOMEM;
  else {
    hk_route_t r = route_plain(total);
    if (r.path == HK_PATH_LARGE && total <= (uint64_t)PTRDIFF_MAX) {
      /* a fresh mapping is zero; one taken from the large cache is zeroed there */
      p = hk_large_malloc((uint16_t)t->index, total, g_hk.cfg.min_align_bytes, 1);
      if (!p) errno = ENOMEM;
    } else {
      p = alloc_route(t, r, total, g_hk.cfg.min_align_bytes);
      if (p) memset(p, 0, total);
    }
  }
  if (trace_on()) {
    if (!ovf && total < 0xFFFFFFFFull)
      trace_event(HKT_CALLOC, (uint16_t)t->index, (uint32_t)total, (uint64_t)(uintptr_t)p, 0, 0, 0);
    else {
      uint32_t ea[2] = {0, 0};
      uint64_t eb[2] = {m, n};
      trace_event(HKT_CALLOC, (uint16_t)t->index, 0xFFFFFFFFu, (uint64_t)(uintptr_t)p, 2, ea, eb);
    }
  }
  EXACT_UNLOCK();
  return p;
}

static void *realloc_core(hk_thread_t *t, void *ptr, size_t n, int *err) {
  uintptr_t p = (uintptr_t)ptr;
  *err = 0;
  if (!ptr) {
    void *q = alloc_plain(t, n);
    if (!q) *err = ENOMEM;
    return q;
  }
  hk_class_ref_t ref;
  if (in_heap(p)) hk_classify(p, &ref);
  else ref.verdict = HKT_VERDICT_FOREIGN;
  if (n == 0) {
    if (ref.verdict == HKT_VERDICT_OK) free_ok(t, p, &ref);
    else if (ref.verdict == HKT_VERDICT_FOREIGN) foreign_free(ptr);
    else hk_report_invalid("realloc", ptr);
    return NULL;
  }
  if (ref.verdict == HKT_VERDICT_FOREIGN) {
    void *q = alloc_plain(t, n);
    if (!q) { *err = ENOMEM; return NULL; }
    size_t old = g_hk.next_usable ? g_hk.next_usable(ptr) : 0;
    memcpy(q, ptr, old < n ? old : n);
    foreign_free(ptr);
    return q;
  }
  if (ref.verdict != HKT_VERDICT_OK) {
    hk_report_invalid("realloc", ptr);
    *err = EINVAL;
    errno = EINVAL;
    return NULL;
  }
  hk_route_t r = route_plain(n);
  if (ref.kind == HK_KIND_LARGE) {
    if (r.path == HK_PATH_LARGE) {
      void *q = n > (size_t)PTRDIFF_MAX ? NULL : hk_large_realloc((uint16_t)t->index, ref.large, n);
      if (!q) { *err = ENOMEM; errno = ENOMEM; }
      return q;
    }
  } else if ((ref.kind == HK_KIND_SS && r.path == HK_PATH_TINY && r.cls == ref.slab->class_idx) ||
             (ref.kind == HK_KIND_POOL && r.path == HK_PATH_POOL && r.cls == ref.slab->class_idx)) {
    return ptr;
  }
  uint64_t old = usable_of(&ref);
  void *q = alloc_route(t, r, n, g_hk.cfg.min_align_bytes);
  if (!q) { *err = ENOMEM; return NULL; }
  memcpy(q, ptr, old < n ? old : n);
  /* ptr is still valid: only this call could have changed it, and it did not */
  free_ok(t, p, &ref);
  return q;
}

HK_API void *HK_NAME(realloc)(void *ptr, size_t n) {
  if (HK_UNLIKELY(hk_in_bypass_arena((uintptr_t)ptr) && ptr)) return bypass_realloc(ptr, n);
  if (HK_UNLIKELY(hk_bypass)) {
    if (!ptr) return hk_bypass_alloc(n, 16);
    hk_ensure_init();
    if (!in_heap((uintptr_t)ptr)) return g_hk.next_realloc ? g_hk.next_realloc(ptr, n) : NULL;
    hk_class_ref_t ref;
    hk_classify((uintptr_t)ptr, &ref);
    void *q = hk_bypass_alloc(n, 16);
    if (q && ref.verdict == HKT_VERDICT_OK) {
      uint64_t o = usable_of(&ref);
      memcpy(q, ptr, o < n ? o : n);
    }
    return q; /* the heap block is left alone: bypass touches no allocator state */
  }
  hk_ensure_init();
  hk_thread_t *t = hk_thread();
  EXACT_LOCK();
  int err;
  hk_defer_abort = 1;
  void *q = realloc_core(t, ptr, n, &err);
  hk_defer_abort = 0;
  rec_ext(HKT_REALLOC, t, n, q, (uint64_t)(uintptr_t)ptr, (uint32_t)err);
  EXACT_UNLOCK();
  if (HK_UNLIKELY(hk_abort_pending)) abort(); /* recorded first (see hk_report_invalid) */
  return q;
}

HK_API void *HK_NAME(reallocarray)(void *ptr, size_t m, size_t n) {
  size_t total;
  if (__builtin_mul_overflow(m, n, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return HK_NAME(realloc)(ptr, total);
}

static inline int is_pow2(size_t a) { return a && !(a & (a - 1)); }

/* the aligned family: returns 0, EINVAL or ENOMEM */
static int aligned_core(hk_thread_t *t, size_t align, size_t n, void **out) {
  if (n > (size_t)PTRDIFF_MAX) return ENOMEM;
#ifdef HAKMEM_VARIANT_ALIGN_REENTERS /* seeded bug: the helper calls back into the wrapped malloc */
  if (align > g_hk.cfg.min_align_bytes && n <= (size_t)PTRDIFF_MAX - align) {
    EXACT_UNLOCK();
    uintptr_t raw = (uintptr_t)HK_NAME(malloc)(n + align);
    EXACT_LOCK();
    if (!raw) return ENOMEM;
    *out = (void *)((raw + align - 1) & ~(uintptr_t)(align - 1));
    return 0;
  }
#endif
  hk_route_t r = route_aligned(n, align);
  void *q = alloc_route(t, r, n, align);
  if (!q) return ENOMEM;
  *out = q;
  return 0;
}

static void *aligned_api(uint8_t op, size_t align, size_t n, size_t rec_n) {
  if (HK_UNLIKELY(hk_bypass)) {
    if (!is_pow2(align)) { errno = EINVAL; return NULL; }
    return hk_bypass_alloc(n, align);
  }
  hk_ensure_init();
  hk_thread_t *t = hk_thread();
  EXACT_LOCK();
  void *q = NULL;
  int rc = is_pow2(align) ? aligned_core(t, align, n, &q) : EINVAL;
  if (rc) errno = rc;
  rec_ext(op, t, rec_n, q, align, (uint32_t)rc);
  EXACT_UNLOCK();
  return q;
}

HK_API int HK_NAME(posix_memalign)(void **out, size_t align, size_t n) {
  if (HK_UNLIKELY(hk_bypass)) {
    if (!is_pow2(align) || align % sizeof(void *)) return EINVAL;
    void *q = hk_bypass_alloc(n, align);
    if (!q) return ENOMEM;
    *out = q;
    return 0;
  }
  hk_ensure_init();
  hk_thread_t *t = hk_thread();
  EXACT_LOCK();
  int saved = errno;
  void *q = NULL;
  int rc = (!is_pow2(align) || align % sizeof(void *)) ? EINVAL : aligned_core(t, align, n, &q);
  if (rc == 0) *out = q;
  errno = saved; /* posix_memalign reports through its return value only */
  rec_ext(HKT_POSIX_MEMALIGN, t, n, q, align, (uint32_t)rc);
  EXACT_UNLOCK();
  return rc;
}

HK_API void *HK_NAME(aligned_alloc)(size_t align, size_t n) {
  return aligned_api(HKT_ALIGNED_ALLOC, align, n, n);
}

HK_API void *HK_NAME(memalign)(size_t align, size_t n) {
  return aligned_api(HKT_MEMALIGN, align, n, n);
}

HK_API void *HK_NAME(valloc)(size_t n) { return aligned_api(HKT_VALLOC, HK_PAGE, n, n); }

HK_API void *HK_NAME(pvalloc)(size_t n) {
  size_t r = n ? n : 1;
  if (r > (size_t)PTRDIFF_MAX) r = SIZE_MAX & ~(size_t)(HK_PAGE - 1); /* fails with ENOMEM */
  else r = hk_round_up(r, HK_PAGE);
  return aligned_api(HKT_PVALLOC, HK_PAGE, r, n);
}

HK_API size_t HK_NAME(malloc_usable_size)(void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  if (!ptr) return 0;
  if (!hk_ready()) hk_ensure_init();
  if (hk_in_bypass_arena(p)) return bypass_usable(ptr);
  if (HK_UNLIKELY(hk_bypass)) {
    if (!in_heap(p)) return g_hk.next_usable ? g_hk.next_usable(ptr) : 0;
    hk_class_ref_t ref;
    hk_classify(p, &ref);
    return ref.verdict == HKT_VERDICT_OK ? (size_t)usable_of(&ref) : 0;
  }
  hk_thread_t *t = hk_thread_for_free();
  EXACT_LOCK();
  size_t r = 0;
  if (in_heap(p)) {
    hk_class_ref_t ref;
    hk_classify(p, &ref);
    if (ref.verdict == HKT_VERDICT_OK) r = (size_t)usable_of(&ref);
  } else if (g_hk.next_usable) {
    r = g_hk.next_usable(ptr);
  }
  if (trace_on()) {
    uint32_t ea = 0;
    uint64_t eb = r;
    trace_event(HKT_USABLE_SIZE, (uint16_t)t->index, 0, p, 1, &ea, &eb);
  }
  EXACT_UNLOCK();
  return r;
}

#ifndef HAKMEM_PREFIX
/* The __libc_* names are the same functions. */
HK_API void *__libc_malloc(size_t n) __attribute__((alias("malloc"), copy(malloc)));
HK_API void __libc_free(void *p) __attribute__((alias("free"), copy(free)));
HK_API void *__libc_calloc(size_t m, size_t n) __attribute__((alias("calloc"), copy(calloc)));
HK_API void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc"), copy(realloc)));
HK_API void *__libc_memalign(size_t a, size_t n) __attribute__((alias("memalign"), copy(memalign)));
HK_API void *__libc_valloc(size_t n) __attribute__((alias("valloc"), copy(valloc)));
HK_API void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc"), copy(pvalloc)));
HK_API void cfree(void *p) __attribute__((alias("free"), copy(free)));
#endif

/* Replay bypass: while on, this thread's calls are served from the bypass arena. */
HK_API void hakmem_replay_bypass(int on) {
  hk_bypass = on ? 1 : 0;
  hk_tls.fast = !hk_bypass && hk_tls.active;
}
