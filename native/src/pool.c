/* pool.c: pool pages for mid sizes (docs/allocator.md 5).
 *
 * A pool page has the fields of a slab; a thread's owned pages are its pool (no TLS list).
 * Pages come from the orphans of the class (FIFO), then the free-page stack (LIFO, at most
 * pool_free_pages_max_count pages kept mapped), then a new mapping (lowest free slot of the
 * second quarter of the reservation). The orphan queues and the free-page stack live under
 * the shared pool lock. */
#include "hk_internal.h"

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

static void page_init(hk_ppage_t *pg, hk_thread_t *t, uint32_t j) {
  uint32_t bs = (uint32_t)g_hk.cfg.pool_class_size[j];
  hk_slab_init(&pg->s, j, bs, (uint32_t)(g_hk.cfg.pool_page_size_bytes / bs), t->index);
  hk_owner_set(pg->r.base, g_hk.cfg.pool_page_size_bytes, 1);
}

static hk_slab_t *pool_acquire_page(hk_thread_t *t, uint32_t j) {
  uint16_t tid = (uint16_t)t->index;
  hk_slab_t *s = NULL;
  pthread_mutex_lock(&g_pool_lock);
  if ((s = g_sp.orphan_page_head[j]) != NULL) {                 /* 1. orphan, FIFO */
    g_sp.orphan_page_head[j] = s->onext;
    if (!s->onext) g_sp.orphan_page_tail[j] = NULL;
    s->onext = s->oprev = NULL;
    s->orphan = 0;
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
    if (pg && hk_os_map_rw(pg->r.base, g_hk.cfg.pool_page_size_bytes) == 0) {
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
  if (s) hk_opage_append(t, s);
  return s;
}

void *hk_pool_malloc(hk_thread_t *t, uint32_t j) {
  uint16_t tid = (uint16_t)t->index;
  hk_block_t *b, *tl;
  hk_slab_t *s = t->opage_cursor[j];
  if (!t->notify || atomic_exchange_explicit(&t->notify->pool[j], 0, memory_order_acquire))
    s = t->opage_head[j];
#ifdef HK_FULL_SCAN
  s = t->opage_head[j];
#endif
  for (; s; s = s->onext) {
    if (hk_take(s, 1, &b, &tl, tid)) {
      t->opage_cursor[j] = s; /* every page before s is exhausted */
      hk_live_set((uintptr_t)b);
      return b;
    }
  }
  t->opage_cursor[j] = NULL;
  for (;;) { /* bounded: each pass adopts an orphan or gets a page with a free block */
    hk_slab_t *s = pool_acquire_page(t, j);
    if (!s) return NULL;
    if (hk_take(s, 1, &b, &tl, tid)) {
      hk_live_set((uintptr_t)b);
      return b;
    }
  }
}

void hk_pool_free_owner(hk_thread_t *t, hk_slab_t *s, hk_block_t *b) {
  hk_live_clear((uintptr_t)b);
  b->next = s->freelist;
  s->freelist = b;
  s->freelist_len++;
  if (!t->opage_cursor[s->class_idx] || s->oseq < t->opage_cursor[s->class_idx]->oseq)
    t->opage_cursor[s->class_idx] = s;
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
  } else {
    hk_os_unmap(pg->r.base, g_hk.cfg.pool_page_size_bytes);
    hk_region_remove(&pg->r, tid);
    pg->mapped = 0;
    hk_bits_clear(g_hk.pp_slot_bits, pg->slot);
    if (pg->slot < g_hk.pp_slot_hint) g_hk.pp_slot_hint = pg->slot;
    g_sp.pool_pages_live--;
  }
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
