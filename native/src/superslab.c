/* superslab.c: slab metadata shared by SuperSlab slabs and pool pages, and pointer
 * classification (docs/allocator.md 1 "Classifying a pointer", 4 take/drain).
 *
 * A block's state is told by two bits of its byte in the block state table (g_hk.st):
 *   live   set when handed to the user; cleared by the owner on a local free or at drain;
 *   remote set (atomically) by a remote free; cleared at drain.
 * A free is accepted only for a block that is live and not remote-pending: a second free of a
 * block waiting in a remote queue (by anyone) is INVALID, so a remote queue can never hold a
 * block twice (a cycle) and a block can never be both in a remote queue and a TLS list.
 * Free blocks hold the next pointer of whatever list they are on in their first word; nothing
 * is ever read in front of a block. */
#include "hk_internal.h"

hk_ss_t *hk_ss_of(uintptr_t p) {
  return g_hk.ss_desc[(p - g_hk.ss_base) >> g_hk.ss_shift];
}


/* Classify p (inside the reservation) without changing anything. */
void hk_classify(uintptr_t p, hk_class_ref_t *out) {
  out->verdict = HKT_VERDICT_INVALID;
  out->slab = NULL;
  out->large = NULL;
  out->block_index = 0;
  uint32_t e = hk_owner_get(p);
  if (e == 0) return;
  hk_slab_t *s;
  if (p < g_hk.pool_base) {
    hk_ss_t *ss = hk_ss_of(p);
    if (!ss) return;
    uint32_t i = (uint32_t)((p - ss->r.base) >> g_hk.slab_shift);
    if (!((__atomic_load_n(&ss->bitmap, __ATOMIC_ACQUIRE) >> i) & 1)) return;
    s = &ss->slabs[i];
    out->kind = HK_KIND_SS;
  } else if (p < g_hk.pool_end) {
    hk_ppage_t *pg = g_hk.pp_desc[(p - g_hk.pool_base) >> g_hk.pp_shift];
    if (!pg) return;
    s = &pg->s;
    if (__atomic_load_n(&s->class_idx, __ATOMIC_ACQUIRE) == HK_NONE) return;
    out->kind = HK_KIND_POOL;
  } else {
    hk_large_t *l = hk_large_desc(e);
    if (!l || !__atomic_load_n(&l->in_use, __ATOMIC_ACQUIRE) || p != l->r.base) return;
    out->kind = HK_KIND_LARGE;
    out->large = l;
    out->verdict = HKT_VERDICT_OK;
    return;
  }
  /* Only a block's first granule ever has a non-zero state byte, and only while the block is
   * carved and handed out: an interior pointer, an uncarved block or a free block reads 0
   * (docs/allocator.md 1, "Block state"). */
  if (p & g_hk.align_mask) return;    /* interior pointer */
  uint8_t st = hk_state_get(p);
  if (st != HK_ST_LIVE) return;       /* double free, never handed out, interior pointer, or
                                       * already freed remotely and not drained yet */
  /* (other threads' slabs too: their owner writes carved and block_size, atomically) */
  HK_ASSERT((p - s->base) % __atomic_load_n(&s->block_size, __ATOMIC_RELAXED) == 0 &&
            (p - s->base) / __atomic_load_n(&s->block_size, __ATOMIC_RELAXED) <
                __atomic_load_n(&s->carved, __ATOMIC_RELAXED));
  out->slab = s;
  out->block_index = hk_block_index(s, p);
  out->verdict = HKT_VERDICT_OK;
}

void hk_slab_set_owner(hk_slab_t *s, uint32_t owner) {
  __atomic_store_n(&s->owner, owner, __ATOMIC_RELAXED);
  if (s->is_pool) return;
  uint32_t c = s->class_idx;
  /* owners beyond 2^24 - 2 get no tag: their frees take the full path */
  uint32_t tag = owner >= (1u << 24) - 1 || c == HK_NONE ? 0 : ((owner + 1) << 8) | c;
  HK_ASSERT(c == HK_NONE || c < 256);
  __atomic_store_n(&g_hk.slab_tag[(s->base - g_hk.ss_base) >> g_hk.slab_shift], tag,
                   __ATOMIC_RELAXED);
}

void hk_slab_init(hk_slab_t *s, uint32_t class_idx, uint32_t block_size, uint32_t capacity,
                  uint32_t owner) {
  HK_ASSERT(s->used == 0 && s->freelist_len == 0 && atomic_load(&s->remote) == NULL);
#ifdef HK_SLOW_CHECKS /* the C tests' builds (native/Makefile): reading the state bytes of a
                        * slab never used maps the kernel's zero page there, and the first block
                        * handed out then takes a copy-on-write fault with a TLB shootdown on every
                        * other CPU: ~9% of mid_large_mt's samples (perf) in the library */
  for (uint32_t i = 0; i < capacity; i++) HK_ASSERT(hk_state_get(s->base + (uintptr_t)i * block_size) == 0);
#endif
  __atomic_store_n(&s->block_size, block_size, __ATOMIC_RELAXED);
  s->block_recip = g_hk.cfg.slab_size_bytes <= 65536 && g_hk.cfg.pool_page_size_bytes <= 65536
                       ? (uint32_t)(((1ull << 32) + block_size - 1) / block_size)
                       : 0;
  s->capacity = capacity;
  s->used = 0;
  __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
  s->freelist = NULL;
  s->freelist_len = 0;
  atomic_store_explicit(&s->remote, NULL, memory_order_relaxed);
  s->orphan = 0;
  s->adopted = 0;
  s->onext = s->oprev = NULL;
  __atomic_store_n(&s->class_idx, class_idx, __ATOMIC_RELEASE);
  hk_slab_set_owner(s, owner);
}

/* The slab becomes free: no class, no owner, freelist and remote empty, carved 0. Every block
 * is already free (used == 0), so every block's state byte is 0. */
void hk_slab_reset(hk_slab_t *s) {
  HK_ASSERT(s->used == 0);
  HK_ASSERT(atomic_load(&s->remote) == NULL);
  s->freelist = NULL;
  s->freelist_len = 0;
  __atomic_store_n(&s->carved, 0, __ATOMIC_RELAXED);
  hk_slab_set_owner(s, HK_NONE);
  s->orphan = 0;
  s->adopted = 0;
  s->onext = s->oprev = NULL;
  __atomic_store_n(&s->class_idx, HK_NONE, __ATOMIC_RELEASE);
}

/* drain(s): owner only. The chain comes newest push first and goes on top of the freelist in
 * that order (chain[0] ends on top). */
void hk_drain(hk_slab_t *s, uint16_t tid) {
  hk_block_t *chain = atomic_exchange_explicit(&s->remote, NULL, memory_order_acquire);
  if (!chain) return;
  uint32_t n = 0;
  hk_block_t *last = NULL;
  for (hk_block_t *b = chain; b; b = b->next) {
    HK_ASSERT(hk_block_index(s, (uintptr_t)b) < s->carved &&
              hk_state_get((uintptr_t)b) == (HK_ST_LIVE | HK_ST_REMOTE));
    hk_live_clear((uintptr_t)b); /* clears live and remote together */
    last = b;
    n++;
    if (HK_UNLIKELY(n > s->capacity)) break; /* cannot happen: a block is pushed at most once */
  }
  last->next = s->freelist;
  s->freelist = chain;
  s->freelist_len += n;
  HK_ASSERT(s->used >= n);
#ifdef HAKMEM_VARIANT_DRAIN_LOSES_BLOCK /* seeded bug: one drained block stays counted as used */
  s->used -= n - 1;
#else
  s->used -= n;
#endif
  HK_TCOUNT(drains);
  if (g_trace_internal)
    trace_ev0(HKT_DRAIN, tid, s->region->id, ((uint64_t)s->index << 32) | n);
}

/* take(s, want): blocks come out in this order: freelist, then carving, then (when both are
 * exhausted) a drain of the remote queue. The chain out is linked in order. */
uint32_t hk_take(hk_slab_t *s, uint32_t want, hk_block_t **head, hk_block_t **tail,
                 uint16_t tid) {
  uint32_t n = 0;
  hk_block_t *h = NULL, *t = NULL;
  int drained = 0;
  while (n < want) {
    hk_block_t *b;
    if (s->freelist) {
      b = s->freelist;
      s->freelist = b->next;
      s->freelist_len--;
    } else if (s->carved < s->capacity) {
      b = (hk_block_t *)(s->base + (uintptr_t)s->carved * s->block_size);
      __atomic_store_n(&s->carved, s->carved + 1, __ATOMIC_RELAXED);
    } else if (!drained && atomic_load_explicit(&s->remote, memory_order_relaxed)) {
      /* One drain per take is enough: the owner is the only consumer, and what arrives after
       * it stays for the next take (the loop stays bounded). */
      hk_drain(s, tid);
      drained = 1;
      continue;
    } else {
      break;
    }
    b->next = NULL;
    if (t) t->next = b;
    else h = b;
    t = b;
    n++;
  }
  s->used += n;
  *head = h;
  *tail = t;
  return n;
}

uint32_t hk_remote_len(hk_slab_t *s) {
  uint32_t n = 0;
  for (hk_block_t *b = atomic_load(&s->remote); b && n <= s->capacity; b = b->next) n++;
  return n;
}

int hk_remote_push(hk_slab_t *s, hk_block_t *b) {
  uint8_t old = __atomic_fetch_or(hk_st((uintptr_t)b), HK_ST_REMOTE, __ATOMIC_ACQ_REL);
  if (old & HK_ST_REMOTE) return -1; /* a racing free of the same block won */
  /* read the slab's class and owner now: once b is pushed, the owner may drain it, and the
   * slab may be released (class and owner reset) before this function returns */
  const uint32_t c = __atomic_load_n(&s->class_idx, __ATOMIC_RELAXED);
  const uint32_t owner = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
  hk_block_t *h = atomic_load_explicit(&s->remote, memory_order_relaxed);
  do {
    b->next = h;
  } while (!atomic_compare_exchange_weak_explicit(&s->remote, &h, b, memory_order_release,
                                                  memory_order_relaxed));
  if (!h) { /* empty -> non-empty: tell the owner its scan cursor may be stale */
    hk_notify_t *nt = owner != HK_NONE && c != HK_NONE ? hk_notify_of(owner) : NULL;
    if (nt) {
      _Atomic uint8_t *f = s->is_pool ? &nt->pool[c] : &nt->tiny[c];
      if (!atomic_load_explicit(f, memory_order_relaxed)) atomic_store_explicit(f, 1, memory_order_release);
    }
  }
  HK_TCOUNT(remote_frees);
  return 0;
}
