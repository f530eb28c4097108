/* stats.c: introspection for tools and tests: counters (HAKMEM_STATS=1 prints them at exit),
 * the visitor, the canonical state digest (docs/allocator.md 9) and hakmem_locate.
 * The visitor and the digest take the allocator's locks but read per-thread state: they are
 * meaningful only while no other thread is inside the allocator. */
#include <stdio.h>
#include <string.h>
#include "hk_internal.h"

#define HK_API __attribute__((visibility("default")))

static uint64_t ld(_Atomic uint64_t *x) { return atomic_load_explicit(x, memory_order_relaxed); }

HK_API void hakmem_stats(hakmem_stats_t *o) {
  hk_ensure_init();
  memset(o, 0, sizeof *o);
  o->mmap_calls = ld(&g_cnt.mmap_calls);
  o->unmap_calls = ld(&g_cnt.unmap_calls);
  o->regions_mapped = ld(&g_cnt.regions_mapped);
  pthread_mutex_lock(&g_pool_lock);
  o->superslabs_live = g_sp.superslabs_live;
  o->superslabs_in_lru = g_sp.lru_count;
  o->pool_pages_live = g_sp.pool_pages_live;
  o->vclock = g_sp.vclock;
  pthread_mutex_unlock(&g_pool_lock);
  o->large_live = __atomic_load_n(&g_sp.large_live, __ATOMIC_RELAXED);
  pthread_mutex_lock(&g_region_lock);
  o->regions_live = g_regions_live;
  pthread_mutex_unlock(&g_region_lock);
  o->mapped_bytes = ld(&g_cnt.mapped_bytes);
  o->slab_acquires = ld(&g_cnt.slab_acquires);
  o->slab_releases = ld(&g_cnt.slab_releases);
  o->lru_pushes = ld(&g_cnt.lru_pushes);
  o->lru_pops = ld(&g_cnt.lru_pops);
  o->lru_evicts = ld(&g_cnt.lru_evicts);
  pthread_mutex_lock(&g_registry_lock);
  o->refills = ld(&g_cnt.refills);
  o->spills = ld(&g_cnt.spills);
  o->drains = ld(&g_cnt.drains);
  o->remote_frees = ld(&g_cnt.remote_frees);
  for (hk_thread_t *t = g_thread_head; t; t = t->reg_next) {
    o->refills += __atomic_load_n(&t->n_refills, __ATOMIC_RELAXED);
    o->spills += __atomic_load_n(&t->n_spills, __ATOMIC_RELAXED);
    o->drains += __atomic_load_n(&t->n_drains, __ATOMIC_RELAXED);
    o->remote_frees += __atomic_load_n(&t->n_remote_frees, __ATOMIC_RELAXED);
  }
  /* a thread that is not registered (not started, or after its flush) counts here */
  if (!hk_tls.registered) {
    o->refills += hk_tls.n_refills;
    o->spills += hk_tls.n_spills;
    o->drains += hk_tls.n_drains;
    o->remote_frees += hk_tls.n_remote_frees;
  }
  pthread_mutex_unlock(&g_registry_lock);
  o->foreign_frees = ld(&g_cnt.foreign_frees);
  o->invalid_frees = ld(&g_cnt.invalid_frees);
}

HK_HIDDEN void hk_print_stats(void);
void hk_print_stats(void) {
  hakmem_stats_t s;
  hakmem_stats(&s);
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "hakmem stats: mmap_calls=%llu unmap_calls=%llu regions_mapped=%llu "
                   "regions_live=%llu mapped_bytes=%llu\n"
                   "hakmem stats: superslabs_live=%llu superslabs_in_lru=%llu pool_pages_live=%llu "
                   "large_live=%llu vclock=%llu\n"
                   "hakmem stats: slab_acquires=%llu slab_releases=%llu lru_pushes=%llu "
                   "lru_pops=%llu lru_evicts=%llu\n"
                   "hakmem stats: refills=%llu spills=%llu drains=%llu remote_frees=%llu "
                   "foreign_frees=%llu invalid_frees=%llu foreign_leaked=%llu\n",
                   (unsigned long long)s.mmap_calls, (unsigned long long)s.unmap_calls,
                   (unsigned long long)s.regions_mapped, (unsigned long long)s.regions_live,
                   (unsigned long long)s.mapped_bytes, (unsigned long long)s.superslabs_live,
                   (unsigned long long)s.superslabs_in_lru, (unsigned long long)s.pool_pages_live,
                   (unsigned long long)s.large_live, (unsigned long long)s.vclock,
                   (unsigned long long)s.slab_acquires, (unsigned long long)s.slab_releases,
                   (unsigned long long)s.lru_pushes, (unsigned long long)s.lru_pops,
                   (unsigned long long)s.lru_evicts, (unsigned long long)s.refills,
                   (unsigned long long)s.spills, (unsigned long long)s.drains,
                   (unsigned long long)s.remote_frees, (unsigned long long)s.foreign_frees,
                   (unsigned long long)s.invalid_frees, (unsigned long long)ld(&g_cnt.foreign_leaked));
  if (n > 0) hk_write_err(buf);
}

/* ---- digest ---- */

typedef struct { uint64_t h; } fnv_t;
static void feed(fnv_t *f, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    f->h ^= (v >> (8 * i)) & 0xFF;
    f->h *= 0x100000001b3ull;
  }
}
static uint64_t own16(uint32_t o) { return o == HK_NONE ? 0xFFFF : o; }

static void digest_slab(fnv_t *f, hk_slab_t *s) {
  feed(f, s->class_idx == HK_NONE ? 0xFFFF : s->class_idx);
  feed(f, own16(s->owner));
  feed(f, s->used);
  feed(f, s->carved);
  feed(f, s->freelist_len);
  feed(f, hk_remote_len(s));
}

HK_API uint64_t hakmem_state_digest(void) {
  hk_ensure_init();
  fnv_t f = {0xcbf29ce484222325ull};
  pthread_mutex_lock(&g_pool_lock);
  pthread_mutex_lock(&g_large_lock);
  pthread_mutex_lock(&g_region_lock);
  feed(&f, g_sp.vclock);
  for (hk_region_t *r = g_region_head; r; r = r->next) {
    feed(&f, r->id);
    feed(&f, r->kind);
    if (r->kind == HK_KIND_SS) {
      hk_ss_t *ss = (hk_ss_t *)r;
      feed(&f, ss->in_lru);
      feed(&f, ss->bitmap);
      for (uint32_t i = 0; i < g_hk.n_slabs; i++) {
        if (!((ss->bitmap >> i) & 1)) continue;
        feed(&f, i);
        digest_slab(&f, &ss->slabs[i]);
      }
    } else if (r->kind == HK_KIND_POOL) {
      hk_ppage_t *pg = (hk_ppage_t *)r;
      feed(&f, pg->on_stack);
      digest_slab(&f, &pg->s);
    } else {
      feed(&f, ((hk_large_t *)r)->cached);
      feed(&f, r->size_bytes);
    }
  }
  pthread_mutex_unlock(&g_region_lock);
  pthread_mutex_unlock(&g_large_lock);
  pthread_mutex_unlock(&g_pool_lock);
  pthread_mutex_lock(&g_registry_lock);
  for (hk_thread_t *t = g_thread_head; t; t = t->reg_next) {
    feed(&f, t->index);
    for (uint32_t c = 0; c < g_hk.cfg.tiny_class_count; c++) feed(&f, t->tls_count[c]);
  }
  pthread_mutex_unlock(&g_registry_lock);
  return f.h;
}

/* ---- visitor ---- */

static void visit_slab(hakmem_visitor_fn fn, void *arg, uint32_t what, uint32_t id, hk_slab_t *s) {
  hakmem_visit_t v;
  memset(&v, 0, sizeof v);
  v.what = what;
  v.region_id = id;
  v.index = s->index;
  v.class_idx = s->class_idx == HK_NONE ? 0xFFFF : s->class_idx;
  v.owner = (uint32_t)own16(s->owner);
  v.used = s->used;
  v.capacity = s->capacity;
  v.carved = s->carved;
  v.freelist = s->freelist_len;
  v.remote = hk_remote_len(s);
  v.base = s->base;
  v.size_bytes = what == HAKMEM_VISIT_SLAB ? g_hk.cfg.slab_size_bytes : g_hk.cfg.pool_page_size_bytes;
  fn(&v, arg);
}

HK_API void hakmem_visit(hakmem_visitor_fn fn, void *arg) {
  hk_ensure_init();
  hakmem_visit_t v;
  pthread_mutex_lock(&g_pool_lock);
  pthread_mutex_lock(&g_large_lock);
  pthread_mutex_lock(&g_region_lock);
  for (hk_region_t *r = g_region_head; r; r = r->next) {
    memset(&v, 0, sizeof v);
    v.what = HAKMEM_VISIT_REGION;
    v.region_id = r->id;
    v.index = r->kind;
    v.class_idx = 0xFFFF;
    v.owner = 0xFFFF;
    v.base = r->base;
    v.size_bytes = r->size_bytes;
    if (r->kind == HK_KIND_SS) {
      hk_ss_t *ss = (hk_ss_t *)r;
      v.used = ss->bitmap;       /* the slab bitmap */
      v.capacity = g_hk.n_slabs;
      v.remote = ss->in_lru;
      fn(&v, arg);
      for (uint32_t i = 0; i < g_hk.n_slabs; i++)
        if ((ss->bitmap >> i) & 1) visit_slab(fn, arg, HAKMEM_VISIT_SLAB, r->id, &ss->slabs[i]);
    } else if (r->kind == HK_KIND_POOL) {
      hk_ppage_t *pg = (hk_ppage_t *)r;
      v.remote = pg->on_stack;
      fn(&v, arg);
      visit_slab(fn, arg, HAKMEM_VISIT_POOL_PAGE, r->id, &pg->s);
    } else {
      v.remote = ((hk_large_t *)r)->cached;
      fn(&v, arg);
    }
  }
  uint32_t pos = 0;
  for (hk_ss_t *ss = g_sp.lru_front; ss; ss = ss->lru_next, pos++) {
    memset(&v, 0, sizeof v);
    v.what = HAKMEM_VISIT_LRU;
    v.region_id = ss->r.id;
    v.index = pos;
    v.class_idx = 0xFFFF;
    v.owner = 0xFFFF;
    v.used = ss->pushed_at;
    v.base = ss->r.base;
    v.size_bytes = ss->r.size_bytes;
    fn(&v, arg);
  }
  pthread_mutex_unlock(&g_region_lock);
  pthread_mutex_unlock(&g_large_lock);
  pthread_mutex_unlock(&g_pool_lock);
  pthread_mutex_lock(&g_registry_lock);
  for (hk_thread_t *t = g_thread_head; t; t = t->reg_next) {
    for (uint32_t c = 0; c < g_hk.cfg.tiny_class_count; c++) {
      memset(&v, 0, sizeof v);
      v.what = HAKMEM_VISIT_TLS_LIST;
      v.index = c;
      v.class_idx = c;
      v.owner = t->index;
      v.used = t->tls_count[c];
      v.capacity = g_hk.cfg.tls_cap_blocks;
      fn(&v, arg);
    }
  }
  pthread_mutex_unlock(&g_registry_lock);
}

/* ---- locate ---- */

HK_API void hakmem_locate(const void *ptr, hakmem_placement_t *out) {
  uintptr_t p = (uintptr_t)ptr;
  memset(out, 0, sizeof *out);
  out->class_idx = 0xFFFF;
  if (!ptr) { out->verdict = HKT_VERDICT_NULL; return; }
  hk_ensure_init();
  if (p - g_hk.heap_base >= g_hk.heap_end - g_hk.heap_base || hk_in_bypass_arena(p)) {
    out->verdict = HKT_VERDICT_FOREIGN;
    return;
  }
  hk_class_ref_t ref;
  hk_classify(p, &ref);
  out->verdict = (uint32_t)ref.verdict;
  if (ref.verdict != HKT_VERDICT_OK) return;
  out->kind = (uint32_t)ref.kind;
  if (ref.kind == HK_KIND_LARGE) {
    out->region_id = ref.large->r.id;
    return;
  }
  out->region_id = ref.slab->region->id;
  out->slab_index = ref.slab->index;
  out->block_index = (uint32_t)ref.block_index;
  out->class_idx = ref.slab->class_idx;
}
