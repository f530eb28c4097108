/* shared_pool.c: the shared pool of slabs, under one lock (docs/allocator.md 4 "Shared pool").
 *
 * It owns the virtual clock (one tick at the start of every acquire and release), the in-use
 * SuperSlabs (ascending region id), the orphan queues (FIFO) and the LRU of empty SuperSlabs
 * (front = most recently pushed; bounded by lru_max_count, lru_max_bytes and lru_ttl_ticks,
 * always reused before a new mapping). */
#include "hk_internal.h"

hk_shared_t g_sp;

/* ---- SuperSlab descriptors and mapping ---- */

static hk_ss_t *ss_desc_get(uint32_t slot) {
  hk_ss_t *ss = g_hk.ss_desc[slot];
  if (ss) return ss;
  const uint32_t ns = g_hk.n_slabs;
  ss = hk_meta_alloc(sizeof(hk_ss_t) + (uint64_t)ns * sizeof(hk_slab_t));
  if (!ss) return NULL;
  ss->slot = slot;
  ss->r.base = g_hk.ss_base + ((uintptr_t)slot << g_hk.ss_shift);
  for (uint32_t i = 0; i < ns; i++) {
    hk_slab_t *s = &ss->slabs[i];
    s->class_idx = HK_NONE;
    s->owner = HK_NONE;
    s->index = i;
    s->base = ss->r.base + ((uintptr_t)i << g_hk.slab_shift);
    s->region = &ss->r;
  }
  g_hk.ss_desc[slot] = ss;
  return ss;
}

static void inuse_insert(hk_ss_t *ss) { /* ascending region id */
  hk_ss_t *cur = g_sp.inuse_tail;
  while (cur && cur->r.id > ss->r.id) cur = cur->use_prev;
  ss->use_prev = cur;
  ss->use_next = cur ? cur->use_next : g_sp.inuse_head;
  if (ss->use_next) ss->use_next->use_prev = ss;
  else g_sp.inuse_tail = ss;
  if (cur) cur->use_next = ss;
  else g_sp.inuse_head = ss;
  ss->in_use = 1;
}

static void inuse_remove(hk_ss_t *ss) {
  if (ss->use_prev) ss->use_prev->use_next = ss->use_next;
  else g_sp.inuse_head = ss->use_next;
  if (ss->use_next) ss->use_next->use_prev = ss->use_prev;
  else g_sp.inuse_tail = ss->use_prev;
  ss->use_next = ss->use_prev = NULL;
  ss->in_use = 0;
}

static hk_ss_t *ss_map_new(uint16_t tid) {
  if (g_hk.cfg.superslab_max_count && g_sp.superslabs_live >= g_hk.cfg.superslab_max_count) return NULL;
  int64_t slot = hk_bits_find_clear(g_hk.ss_slot_bits, g_hk.n_ss_slots, g_hk.ss_slot_hint);
  if (slot < 0) return NULL;
  hk_ss_t *ss = ss_desc_get((uint32_t)slot);
  if (!ss) return NULL;
  if (hk_os_map_rw(ss->r.base, g_hk.cfg.superslab_size_bytes) != 0) return NULL;
  hk_bits_set(g_hk.ss_slot_bits, (uint64_t)slot);
  g_hk.ss_slot_hint = (uint32_t)slot + 1;
  ss->bitmap = 0;
  ss->in_lru = 0;
  hk_region_add(&ss->r, HK_KIND_SS, ss->r.base, g_hk.cfg.superslab_size_bytes, tid);
  hk_owner_set(ss->r.base, g_hk.cfg.superslab_size_bytes, 1);
  g_sp.superslabs_live++;
  inuse_insert(ss);
  return ss;
}

/* ---- LRU ---- */

static void lru_remove(hk_ss_t *ss) {
  if (ss->lru_prev) ss->lru_prev->lru_next = ss->lru_next;
  else g_sp.lru_front = ss->lru_next;
  if (ss->lru_next) ss->lru_next->lru_prev = ss->lru_prev;
  else g_sp.lru_back = ss->lru_prev;
  ss->lru_next = ss->lru_prev = NULL;
  ss->in_lru = 0;
  g_sp.lru_count--;
}

static void lru_evict(hk_ss_t *ss, uint16_t tid) {
  lru_remove(ss);
  HK_COUNT(lru_evicts, 1);
  if (g_trace_internal) trace_ev0(HKT_LRU_EVICT, tid, ss->r.id, g_sp.vclock);
  hk_os_unmap(ss->r.base, g_hk.cfg.superslab_size_bytes);
  hk_region_remove(&ss->r, tid);
  hk_bits_clear(g_hk.ss_slot_bits, ss->slot);
  if (ss->slot < g_hk.ss_slot_hint) g_hk.ss_slot_hint = ss->slot;
  g_sp.superslabs_live--;
}

static void lru_expire(uint16_t tid) {
  while (g_sp.lru_back && g_sp.vclock - g_sp.lru_back->pushed_at > g_hk.cfg.lru_ttl_ticks)
    lru_evict(g_sp.lru_back, tid);
}

static void lru_push(hk_ss_t *ss, uint16_t tid) {
  lru_expire(tid);
  ss->lru_prev = NULL;
  ss->lru_next = g_sp.lru_front;
  if (g_sp.lru_front) g_sp.lru_front->lru_prev = ss;
  else g_sp.lru_back = ss;
  g_sp.lru_front = ss;
  ss->in_lru = 1;
  ss->pushed_at = g_sp.vclock;
  g_sp.lru_count++;
  HK_COUNT(lru_pushes, 1);
  if (g_trace_internal) trace_ev0(HKT_LRU_PUSH, tid, ss->r.id, g_sp.vclock);
  while (g_sp.lru_back && (g_sp.lru_count > g_hk.cfg.lru_max_count ||
                           g_sp.lru_count * g_hk.cfg.superslab_size_bytes > g_hk.cfg.lru_max_bytes))
    lru_evict(g_sp.lru_back, tid);
}

/* ---- acquire / release ---- */

static hk_slab_t *init_slab(hk_ss_t *ss, uint32_t i, hk_thread_t *t, uint32_t c) {
  HK_ASSERT(!((ss->bitmap >> i) & 1));
  __atomic_store_n(&ss->bitmap, ss->bitmap | (1ull << i), __ATOMIC_RELEASE);
  hk_slab_t *s = &ss->slabs[i];
  uint32_t bs = (uint32_t)g_hk.cfg.tiny_class_size[c];
  hk_slab_init(s, c, bs, (uint32_t)(g_hk.cfg.slab_size_bytes / bs), t->index);
  return s;
}

hk_slab_t *hk_shared_pool_acquire_slab(hk_thread_t *t, uint32_t c) {
  uint16_t tid = (uint16_t)t->index;
  hk_slab_t *s = NULL;
  pthread_mutex_lock(&g_pool_lock);
  g_sp.vclock++;
  HK_COUNT(slab_acquires, 1);
  /* 1. an orphan of this class, FIFO */
  if ((s = g_sp.orphan_head[c]) != NULL) {
    g_sp.orphan_head[c] = s->onext;
    if (!s->onext) g_sp.orphan_tail[c] = NULL;
    s->onext = s->oprev = NULL;
    s->orphan = 0;
    s->adopted = 1;
    hk_slab_set_owner(s, t->index);
    goto out;
  }
  /* 2. the lowest free slab of the in-use SuperSlab with the lowest region id */
  const uint64_t full = g_hk.n_slabs == 64 ? ~0ull : ((1ull << g_hk.n_slabs) - 1);
  for (hk_ss_t *ss = g_sp.inuse_head; ss; ss = ss->use_next) {
    if (ss->bitmap != full) {
      s = init_slab(ss, (uint32_t)__builtin_ctzll(~ss->bitmap & full), t, c);
      goto out;
    }
  }
  /* 3. the LRU's most recently pushed SuperSlab */
  lru_expire(tid);
  if (g_sp.lru_front) {
    hk_ss_t *ss = g_sp.lru_front;
    lru_remove(ss);
    HK_COUNT(lru_pops, 1);
    if (g_trace_internal) trace_ev0(HKT_LRU_POP, tid, ss->r.id, g_sp.vclock);
    trace_ev0(HKT_REGION_REUSE, tid, ss->r.id, ss->r.base);
    hk_owner_set(ss->r.base, g_hk.cfg.superslab_size_bytes, 1);
    inuse_insert(ss);
    s = init_slab(ss, 0, t, c);
    goto out;
  }
  /* 4. a new SuperSlab */
  hk_ss_t *ss = ss_map_new(tid);
  if (ss) s = init_slab(ss, 0, t, c);
out:
  pthread_mutex_unlock(&g_pool_lock);
  if (s) hk_owned_append(t, s);
  return s;
}

/* release_slab(s): EMPTY. s belongs to t and has used == 0. */
void hk_release_slab(hk_thread_t *t, hk_slab_t *s) {
  uint16_t tid = (uint16_t)t->index;
  hk_ss_t *ss = (hk_ss_t *)((char *)s->region - offsetof(hk_ss_t, r));
  HK_ASSERT(s->used == 0 && s->owner == t->index);
  if (g_trace_internal) trace_ev0(HKT_SLAB_EMPTY, tid, ss->r.id, s->index);
  hk_owned_remove(t, s);
  hk_slab_reset(s);
  pthread_mutex_lock(&g_pool_lock);
  g_sp.vclock++;
  HK_COUNT(slab_releases, 1);
  __atomic_store_n(&ss->bitmap, ss->bitmap & ~(1ull << s->index), __ATOMIC_RELEASE);
  if (ss->bitmap == 0) {
    inuse_remove(ss);
    hk_owner_set(ss->r.base, g_hk.cfg.superslab_size_bytes, 0);
    lru_push(ss, tid);
  }
  pthread_mutex_unlock(&g_pool_lock);
}

void hk_orphan_slab(hk_slab_t *s) {
  uint32_t c = s->class_idx;
  pthread_mutex_lock(&g_pool_lock);
  hk_slab_set_owner(s, HK_NONE);
  s->orphan = 1;
  s->onext = NULL;
  s->oprev = g_sp.orphan_tail[c];
  if (g_sp.orphan_tail[c]) g_sp.orphan_tail[c]->onext = s;
  else g_sp.orphan_head[c] = s;
  g_sp.orphan_tail[c] = s;
  pthread_mutex_unlock(&g_pool_lock);
}
