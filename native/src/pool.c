/* pool.c: pool pages for mid sizes (docs/allocator.md 5).
 *
 * A pool page has the fields of a slab; a thread's owned pages are its pool (no TLS list).
 * Pages come from the orphans of the class (FIFO), then the free-page stack (LIFO, at most
 * pool_free_pages_max_count pages kept mapped), then a new mapping (lowest free slot of the
 * second quarter of the reservation). The orphan queues and the free-page stack live under
 * the shared pool lock. */
#include <sched.h>
#include <string.h>
#include "hk_internal.h"

/* ---- the page vector (per thread, per class) ----
 *
 * pool_malloc takes from the first owned page, in owned order, that gives a block
 * (docs/allocator.md 5). Walking the owned list to find it cost a cache miss per exhausted page
 * (perf on mid_large_mt: hk_take 38%, the walk). The vector keeps the owned pages in owned order
 * with one bit per page: clear means the page gives no block (freelist empty, fully carved,
 * remote queue empty when last looked at). A bit is set when the page is appended, when its
 * owner frees into it, and, for the pages with a non-empty remote queue, when the thread's
 * notify flag for the class says a remote queue became non-empty. It is cleared only after a
 * take from the page gave nothing. So the first set bit whose page gives a block is the page
 * the policy names; the bits only skip pages that would give nothing (HK_FULL_SCAN: all set).
 *
 * Arrays come from the metadata arena (no malloc inside malloc) and go back to per-size free
 * lists at thread exit. Removing a page leaves a hole; holes are compacted (order kept) when
 * the vector is full. */
#define PV_MIN_CAP 64u
#define PV_SIZES 32u
static struct pv_free { struct pv_free *next; } *g_pv_free[PV_SIZES]; /* by log2(cap) */

static int pv_alloc(struct hk_pvec *pv, uint32_t cap) {
  unsigned k = (unsigned)__builtin_ctz(cap);
  if (k >= PV_SIZES) return -1;
  uint64_t bytes = (uint64_t)cap * sizeof(hk_slab_t *) + (uint64_t)cap / 8;
  void *mem = NULL;
  pthread_mutex_lock(&g_arena_lock);
  if (g_pv_free[k]) {
    mem = g_pv_free[k];
    g_pv_free[k] = g_pv_free[k]->next;
  }
  pthread_mutex_unlock(&g_arena_lock);
  if (mem) memset(mem, 0, bytes);
  else mem = hk_meta_alloc(bytes);
  if (!mem) return -1;
  hk_slab_t **v = mem;
  uint64_t *avail = (uint64_t *)(v + cap);
  for (uint32_t i = 0; i < pv->n; i++) v[i] = pv->v[i];
  for (uint32_t w = 0; w < (pv->n + 63) / 64; w++) avail[w] = pv->avail[w];
  struct hk_pvec old = *pv;
  pv->v = v;
  pv->avail = avail;
  pv->cap = cap;
  if (old.v) {
    struct pv_free *f = (struct pv_free *)old.v;
    unsigned ko = (unsigned)__builtin_ctz(old.cap);
    pthread_mutex_lock(&g_arena_lock);
    f->next = g_pv_free[ko];
    g_pv_free[ko] = f;
    pthread_mutex_unlock(&g_arena_lock);
  }
  return 0;
}

static inline void pv_set(struct hk_pvec *pv, uint32_t i) { pv->avail[i >> 6] |= 1ull << (i & 63); }
static inline void pv_clear(struct hk_pvec *pv, uint32_t i) { pv->avail[i >> 6] &= ~(1ull << (i & 63)); }

static void pv_compact(struct hk_pvec *pv) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < pv->n; i++) {
    hk_slab_t *s = pv->v[i];
    if (!s) continue;
    int bit = (int)((pv->avail[i >> 6] >> (i & 63)) & 1);
    pv->v[k] = s;
    s->pv_pos = k;
    if (bit) pv_set(pv, k);
    else pv_clear(pv, k);
    k++;
  }
  for (uint32_t i = k; i < pv->n; i++) {
    pv->v[i] = NULL;
    pv_clear(pv, i);
  }
  pv->n = k;
  pv->holes = 0;
}

/* room for one more page in the vector of class j (before acquiring it): 0 ok, -1 ENOMEM */
static int pv_reserve(hk_thread_t *t, uint32_t j) {
  struct hk_pvec *pv = &t->pvec[j];
  if (pv->n < pv->cap) return 0;
  if (pv->holes) {
    pv_compact(pv);
    return 0;
  }
  return pv_alloc(pv, pv->cap ? pv->cap * 2 : PV_MIN_CAP);
}

static void pv_append(hk_thread_t *t, hk_slab_t *s) {
  struct hk_pvec *pv = &t->pvec[s->class_idx];
  HK_ASSERT(pv->n < pv->cap);
  s->pv_pos = pv->n++;
  pv->v[s->pv_pos] = s;
  pv_set(pv, s->pv_pos); /* a new or adopted page may give blocks */
}

void hk_pvec_remove(hk_thread_t *t, hk_slab_t *s) {
  struct hk_pvec *pv = &t->pvec[s->class_idx];
  HK_ASSERT(s->pv_pos < pv->n && pv->v[s->pv_pos] == s);
  pv->v[s->pv_pos] = NULL;
  pv_clear(pv, s->pv_pos);
  if (s->pv_pos + 1 == pv->n) pv->n--;
  else pv->holes++;
  while (pv->n && !pv->v[pv->n - 1]) { /* trailing holes */
    pv->n--;
    pv->holes--;
  }
}

void hk_pvec_release(hk_thread_t *t) {
  for (uint32_t j = 0; j < HAKMEM_POOL_CLASS_MAX; j++) {
    struct hk_pvec *pv = &t->pvec[j];
    if (!pv->v) continue;
    HK_ASSERT(pv->n == 0);
    struct pv_free *f = (struct pv_free *)pv->v;
    unsigned k = (unsigned)__builtin_ctz(pv->cap);
    pthread_mutex_lock(&g_arena_lock);
    f->next = g_pv_free[k];
    g_pv_free[k] = f;
    pthread_mutex_unlock(&g_arena_lock);
    memset(pv, 0, sizeof *pv);
  }
}

static hk_ppage_t *pp_desc_get(uint32_t slot) {
  hk_ppage_t *pg = g_hk.pp_desc[slot];
  if (pg) return pg;
  pg = hk_meta_alloc(sizeof(hk_ppage_t));
  if (!pg) return NULL;
  pg->slot = slot;
  pg->r.base = g_hk.pool_base + ((uintptr_t)slot << g_hk.pp_shift);
  pg->s.class_idx = HK_NONE;
  pg->s.owner = HK_NONE;
  pg->s.index = 0;
  pg->s.base = pg->r.base;
  pg->s.region = &pg->r;
  pg->s.is_pool = 1;
  g_hk.pp_desc[slot] = pg;
  return pg;
}

/* Make pool slot `slot` read-write. Slots are made read-write pool_map_chunk_bytes at a time:
 * one mmap over the run of slots from `slot` that are not read-write yet, up to the end of its
 * chunk (an mmap per 64 KiB page was 1,800 system calls on mid_large_mt 2 400000 2048 42).
 * A read-write slot with no page in it has no ownership-map entry, so pointers into it are
 * INVALID as before; untouched, it costs no memory. Unmapping stays per page (section 5). */
static int pp_make_rw(uint32_t slot) {
  uint64_t *rw = g_hk.pp_rw_bits;
  if ((rw[slot >> 6] >> (slot & 63)) & 1) return 0;
  uint32_t end = (slot / g_hk.pp_chunk_slots + 1) * g_hk.pp_chunk_slots, n = 1;
  if (end > g_hk.n_pp_slots) end = g_hk.n_pp_slots;
  while (slot + n < end && !((rw[(slot + n) >> 6] >> ((slot + n) & 63)) & 1)) n++;
  uintptr_t base = g_hk.pool_base + ((uintptr_t)slot << g_hk.pp_shift);
  if (hk_os_map_rw(base, (uint64_t)n << g_hk.pp_shift) != 0) return -1;
  for (uint32_t i = 0; i < n; i++) hk_bits_set(rw, slot + i);
  return 0;
}

static void page_init(hk_ppage_t *pg, hk_thread_t *t, uint32_t j) {
  uint32_t bs = (uint32_t)g_hk.cfg.pool_class_size[j];
  hk_slab_init(&pg->s, j, bs, (uint32_t)(g_hk.cfg.pool_page_size_bytes / bs), t->index);
  hk_owner_set(pg->r.base, g_hk.cfg.pool_page_size_bytes, 1);
}

static hk_slab_t *pool_acquire_page(hk_thread_t *t, uint32_t j) {
  uint16_t tid = (uint16_t)t->index;
  hk_slab_t *s = NULL;
  if (pv_reserve(t, j) != 0) return NULL;
  pthread_mutex_lock(&g_pool_lock);
  /* A new page takes the lowest free slot, so it waits for unmaps in flight (a few
   * microseconds each) to free theirs: the slot chosen is the one the policy names. */
  while (g_sp.pool_unmaps_pending && !g_sp.orphan_page_head[j] && !g_sp.free_pages) {
    pthread_mutex_unlock(&g_pool_lock);
    sched_yield();
    pthread_mutex_lock(&g_pool_lock);
  }
  if ((s = g_sp.orphan_page_head[j]) != NULL) {                 /* 1. orphan, FIFO */
    g_sp.orphan_page_head[j] = s->onext;
    if (!s->onext) g_sp.orphan_page_tail[j] = NULL;
    s->onext = s->oprev = NULL;
    s->orphan = 0;
    s->adopted = 1;
    hk_slab_set_owner(s, t->index);
  } else if (g_sp.free_pages) {                                  /* 2. free-page stack top */
    hk_ppage_t *pg = g_sp.free_pages;
    g_sp.free_pages = pg->stack_next;
    g_sp.free_pages_count--;
    pg->stack_next = NULL;
    pg->on_stack = 0;
    page_init(pg, t, j);
    s = &pg->s;
  } else {                                                       /* 3. a new page */
    int64_t slot = hk_bits_find_clear(g_hk.pp_slot_bits, g_hk.n_pp_slots, g_hk.pp_slot_hint);
    hk_ppage_t *pg = slot >= 0 ? pp_desc_get((uint32_t)slot) : NULL;
    if (pg && pp_make_rw((uint32_t)slot) == 0) {
      hk_bits_set(g_hk.pp_slot_bits, (uint64_t)slot);
      g_hk.pp_slot_hint = (uint32_t)slot + 1;
      pg->mapped = 1;
      hk_region_add(&pg->r, HK_KIND_POOL, pg->r.base, g_hk.cfg.pool_page_size_bytes, tid);
      g_sp.pool_pages_live++;
      page_init(pg, t, j);
      s = &pg->s;
    }
  }
  pthread_mutex_unlock(&g_pool_lock);
  if (s) {
    hk_opage_append(t, s);
    pv_append(t, s);
  }
  return s;
}

void *hk_pool_malloc(hk_thread_t *t, uint32_t j) {
  uint16_t tid = (uint16_t)t->index;
  hk_block_t *b, *tl;
  struct hk_pvec *pv = &t->pvec[j];
  /* load before exchanging: the flag's line is written by remote freers, and a locked
   * exchange on every pool malloc was a quarter of it (perf, mid_large_mt) */
  int full = !t->notify || (atomic_load_explicit(&t->notify->pool[j], memory_order_relaxed) &&
                            atomic_exchange_explicit(&t->notify->pool[j], 0, memory_order_acquire));
#ifdef HK_FULL_SCAN /* check: the bits change no decision */
  full = 2;
#endif
  if (full) /* a remote queue became non-empty: those pages may give blocks again */
    for (uint32_t i = 0; i < pv->n; i++)
      if (pv->v[i] && (full == 2 || atomic_load_explicit(&pv->v[i]->remote, memory_order_relaxed)))
        pv_set(pv, i);
  /* the owned pages in order, skipping those whose bit is clear; bounded by pv->n */
  for (uint32_t w = 0; w < (pv->n + 63) / 64; w++) {
    while (pv->avail[w]) {
      uint32_t i = (w << 6) + (uint32_t)__builtin_ctzll(pv->avail[w]);
      hk_slab_t *s = pv->v[i];
      HK_ASSERT(s && s->pv_pos == i);
      if (hk_take(s, 1, &b, &tl, tid)) {
        hk_live_set((uintptr_t)b);
        return b;
      }
      pv_clear(pv, i);
    }
  }
  for (;;) { /* bounded: each pass adopts an orphan or gets a page with a free block */
    hk_slab_t *s = pool_acquire_page(t, j);
    if (!s) return NULL;
    if (hk_take(s, 1, &b, &tl, tid)) {
      hk_live_set((uintptr_t)b);
      return b;
    }
    pv_clear(pv, s->pv_pos);
  }
}

void hk_pool_free_owner(hk_thread_t *t, hk_slab_t *s, hk_block_t *b) {
  hk_live_clear((uintptr_t)b);
  b->next = s->freelist;
  s->freelist = b;
  s->freelist_len++;
  pv_set(&t->pvec[s->class_idx], s->pv_pos);
  HK_ASSERT(s->used > 0);
  s->used--;
  if (s->used == 0) hk_pool_release_page(t, s);
}

void hk_pool_release_page(hk_thread_t *t, hk_slab_t *s) {
  uint16_t tid = (uint16_t)t->index;
  hk_ppage_t *pg = (hk_ppage_t *)((char *)s - offsetof(hk_ppage_t, s));
  hk_opage_remove(t, s);
  hk_slab_reset(s);
  pthread_mutex_lock(&g_pool_lock);
  hk_owner_set(pg->r.base, g_hk.cfg.pool_page_size_bytes, 0);
  if (g_sp.free_pages_count < g_hk.cfg.pool_free_pages_max_count) {
    pg->on_stack = 1;
    pg->stack_next = g_sp.free_pages;
    g_sp.free_pages = pg;
    g_sp.free_pages_count++;
    pthread_mutex_unlock(&g_pool_lock);
    return;
  }
  /* Past the bound: the page leaves (its region event now, in order), but the system call that
   * returns it to PROT_NONE runs outside g_pool_lock, and only then is its slot free for a new
   * page. Holding the lock across that mmap made the other thread sleep on it (1,824 futex calls
   * on mid_large_mt 2 400000 2048 42, against 2 under glibc). In the window the slot is still
   * taken; a new page waits for it (pool_acquire_page), so no decision can see the window. */
  hk_region_remove(&pg->r, tid);
  pg->mapped = 0;
  g_sp.pool_pages_live--;
  g_sp.pool_unmaps_pending++;
  pthread_mutex_unlock(&g_pool_lock);
  hk_os_unmap(pg->r.base, g_hk.cfg.pool_page_size_bytes);
  pthread_mutex_lock(&g_pool_lock);
  g_sp.pool_unmaps_pending--;
  hk_bits_clear(g_hk.pp_rw_bits, pg->slot);
  hk_bits_clear(g_hk.pp_slot_bits, pg->slot);
  if (pg->slot < g_hk.pp_slot_hint) g_hk.pp_slot_hint = pg->slot;
  pthread_mutex_unlock(&g_pool_lock);
}

void hk_orphan_page(hk_slab_t *s) {
  uint32_t j = s->class_idx;
  pthread_mutex_lock(&g_pool_lock);
  hk_slab_set_owner(s, HK_NONE);
  s->orphan = 1;
  s->onext = NULL;
  s->oprev = g_sp.orphan_page_tail[j];
  if (g_sp.orphan_page_tail[j]) g_sp.orphan_page_tail[j]->onext = s;
  else g_sp.orphan_page_head[j] = s;
  g_sp.orphan_page_tail[j] = s;
  pthread_mutex_unlock(&g_pool_lock);
}
