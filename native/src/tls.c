/* tls.c: per-thread state (docs/allocator.md 3, 4, 8).
 *
 * Each thread has, per tiny class, a TLS list (LIFO of free blocks, with a count) and an owned
 * slab list (oldest first); per pool class an owned page list. The thread index is given at the
 * thread's first allocator call, from one atomic counter, and THREAD_START is recorded then.
 * At thread exit (a pthread key destructor; the main thread: the library destructor) the thread
 * returns everything it holds, in the documented order, and THREAD_EXIT is recorded. */
#include <unistd.h>
#include <sys/syscall.h>
#include "hk_internal.h"

__thread hk_thread_t hk_tls __attribute__((tls_model("initial-exec")));
__thread int hk_bypass __attribute__((tls_model("initial-exec")));

hk_thread_t *g_thread_head;            /* live threads, ascending index (g_registry_lock) */
static _Atomic uint32_t g_next_thread_index;
static pthread_key_t g_exit_key;
static int g_exit_key_ok;

#define NOTIFY_CHUNK 1024u
#define NOTIFY_DIR 64u /* thread indices below 65536 have a notify record */
static hk_notify_t *g_notify_dir[NOTIFY_DIR];

hk_notify_t *hk_notify_of(uint32_t i) {
  if (i >= NOTIFY_CHUNK * NOTIFY_DIR) return NULL;
  hk_notify_t *chunk = __atomic_load_n(&g_notify_dir[i / NOTIFY_CHUNK], __ATOMIC_ACQUIRE);
  return chunk ? &chunk[i % NOTIFY_CHUNK] : NULL;
}

static hk_notify_t *notify_make(uint32_t i) {
  if (i >= NOTIFY_CHUNK * NOTIFY_DIR) return NULL;
  hk_notify_t **slot = &g_notify_dir[i / NOTIFY_CHUNK];
  if (!__atomic_load_n(slot, __ATOMIC_ACQUIRE)) {
    /* no lock: two threads racing for the same chunk both allocate, one wins (the loser's
     * 64 KiB stays in the arena) */
    hk_notify_t *chunk = hk_meta_alloc(sizeof(hk_notify_t) * NOTIFY_CHUNK), *none = NULL;
    if (chunk)
      __atomic_compare_exchange_n(slot, &none, chunk, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  }
  return hk_notify_of(i);
}

static void registry_insert(hk_thread_t *t) {
  pthread_mutex_lock(&g_registry_lock);
  hk_thread_t *prev = NULL, *cur = g_thread_head;
  while (cur && cur->index < t->index) {
    prev = cur;
    cur = cur->reg_next;
  }
  t->reg_prev = prev;
  t->reg_next = cur;
  if (cur) cur->reg_prev = t;
  if (prev) prev->reg_next = t;
  else g_thread_head = t;
  t->registered = 1;
  pthread_mutex_unlock(&g_registry_lock);
}

static void registry_remove(hk_thread_t *t) {
  pthread_mutex_lock(&g_registry_lock);
  if (t->registered) {
    if (t->reg_prev) t->reg_prev->reg_next = t->reg_next;
    else g_thread_head = t->reg_next;
    if (t->reg_next) t->reg_next->reg_prev = t->reg_prev;
    t->reg_next = t->reg_prev = NULL;
    t->registered = 0;
  }
  pthread_mutex_unlock(&g_registry_lock);
}

static void thread_key_destructor(void *arg) {
  hk_thread_t *t = &hk_tls;
  (void)arg;
  if (!t->active || t->in_flush) return;
  if (g_trace_exact) trace_exact_lock();
  hk_thread_exit_flush(t);
  if (g_trace_exact) trace_exact_unlock();
}

void hk_tls_key_init(void) {
  if (pthread_key_create(&g_exit_key, thread_key_destructor) == 0) g_exit_key_ok = 1;
}

/* First allocator call of this thread. A thread whose exit flush has run (its key destructor,
 * or hakmem_thread_flush) and allocates again (a later TLS destructor, glibc's thread teardown)
 * keeps its index but is not registered again: its stack and TLS are about to go away, so the
 * live-thread list must not point at them; what it caches from then on is not returned. */
HK_NOINLINE hk_thread_t *hk_thread_slow(void) {
  hk_thread_t *t = &hk_tls;
  if (t->active) return t;
  t->active = 1;
  t->fast = !hk_bypass;
  if (t->exited_once) return t;
  /* exact mode: the index, THREAD_START and the registry entry under the exact lock, so thread
   * indices appear in the trace in the order they were handed out. */
  int exact = g_trace_exact;
  if (exact) trace_exact_lock();
  t->index = atomic_fetch_add_explicit(&g_next_thread_index, 1, memory_order_relaxed);
  /* a second thread that was not created through pthread_create (raw clone) */
  if (t->index > 0 && HK_UNLIKELY(g_trace_single)) trace_threads_begin();
  t->os_tid = (uint64_t)syscall(SYS_gettid);
  t->notify = notify_make(t->index);
  trace_ev0(HKT_THREAD_START, (uint16_t)t->index, 0, t->os_tid);
  registry_insert(t);
  if (exact) trace_exact_unlock();
  /* pthread_setspecific may allocate (a key beyond the first level): t is active by now,
   * so that allocation is served normally. */
  if (g_exit_key_ok) pthread_setspecific(g_exit_key, t);
  return t;
}

void hk_owned_append(hk_thread_t *t, hk_slab_t *s) {
  uint32_t c = s->class_idx;
  s->oseq = ++t->owned_seq;
  if (!t->owned_cursor[c]) t->owned_cursor[c] = s;
  s->onext = NULL;
  s->oprev = t->owned_tail[c];
  if (t->owned_tail[c]) t->owned_tail[c]->onext = s;
  else t->owned_head[c] = s;
  t->owned_tail[c] = s;
}

void hk_owned_remove(hk_thread_t *t, hk_slab_t *s) {
  uint32_t c = s->class_idx;
  if (t->owned_cursor[c] == s) t->owned_cursor[c] = s->onext;
  if (s->oprev) s->oprev->onext = s->onext;
  else t->owned_head[c] = s->onext;
  if (s->onext) s->onext->oprev = s->oprev;
  else t->owned_tail[c] = s->oprev;
  s->onext = s->oprev = NULL;
}

void hk_opage_append(hk_thread_t *t, hk_slab_t *s) {
  uint32_t j = s->class_idx;
  s->oseq = ++t->opage_seq;
  s->onext = NULL;
  s->oprev = t->opage_tail[j];
  if (t->opage_tail[j]) t->opage_tail[j]->onext = s;
  else t->opage_head[j] = s;
  t->opage_tail[j] = s;
}

void hk_opage_remove(hk_thread_t *t, hk_slab_t *s) {
  uint32_t j = s->class_idx;
  hk_pvec_remove(t, s);
  if (s->oprev) s->oprev->onext = s->onext;
  else t->opage_head[j] = s->onext;
  if (s->onext) s->onext->oprev = s->oprev;
  else t->opage_tail[j] = s->oprev;
  s->onext = s->oprev = NULL;
}

/* refill(t, c): take from the owned slabs in order, then (only if that gave nothing) acquire
 * slabs from the shared pool until one gives blocks (an adopted orphan may have none free).
 * got[0] ends on top of the TLS list. Returns the number of blocks moved (0: ENOMEM). */
static uint32_t refill(hk_thread_t *t, uint32_t c) {
  const uint32_t want = (uint32_t)g_hk.cfg.tls_refill_blocks;
  uint16_t tid = (uint16_t)t->index;
  hk_block_t *head = NULL, *tail = NULL;
  uint32_t n = 0;
  /* the owned slabs in order; those before the cursor are exhausted and are skipped */
  hk_slab_t *s = t->owned_cursor[c];
  if (!t->notify || (atomic_load_explicit(&t->notify->tiny[c], memory_order_relaxed) &&
                     atomic_exchange_explicit(&t->notify->tiny[c], 0, memory_order_acquire)))
    s = t->owned_head[c];
#ifdef HK_FULL_SCAN /* check: the cursor changes no decision */
  s = t->owned_head[c];
#endif
  hk_slab_t *stop = NULL;
  for (; s; s = s->onext) {
    hk_block_t *h, *tl;
    uint32_t k = hk_take(s, want - n, &h, &tl, tid);
    if (k) {
      if (tail) tail->next = h;
      else head = h;
      tail = tl;
      n += k;
    }
    if (n == want) { stop = s; break; } /* s may have more; every slab before it is exhausted */
  }
  t->owned_cursor[c] = stop;
  while (n == 0) { /* bounded: each pass adopts an orphan or gets a fresh (non-empty) slab */
    hk_slab_t *s = hk_shared_pool_acquire_slab(t, c);
    if (!s) return 0;
    n = hk_take(s, want, &head, &tail, tid);
  }
  tail->next = t->tls_head[c];
  t->tls_head[c] = head;
  t->tls_count[c] += n;
  HK_TCOUNT(refills);
  if (g_trace_internal) trace_ev0(HKT_REFILL, tid, c, n);
  return n;
}

HK_NOINLINE void *hk_tiny_malloc_slow(hk_thread_t *t, uint32_t c) {
#ifdef HAKMEM_VARIANT_REFILL_FALLBACK /* seeded bug: on refill failure, the next allocator */
  if (!refill(t, c)) return g_hk.next_realloc ? g_hk.next_realloc(NULL, g_hk.cfg.tiny_class_size[c]) : NULL;
#else
  if (!refill(t, c)) return NULL;
#endif
  hk_block_t *b = t->tls_head[c];
#ifdef HAKMEM_VARIANT_DOUBLE_REFILL /* seeded bug: the refilled block stays on the list too */
  if (t->tls_count[c] >= 2) return b;
#endif
  t->tls_head[c] = b->next;
  t->tls_count[c]--;
  return b;
}

/* spill(t, c, n): pop n blocks (or all) from the top of the TLS list back to their slabs'
 * freelists, then the EMPTY checks in order of first touch. */
HK_NOINLINE void hk_spill(hk_thread_t *t, uint32_t c, uint32_t n) {
#ifdef HAKMEM_VARIANT_TLS_LEAK /* seeded bug (docs/fuzzing.md): a full TLS list never spills */
  if (!t->in_flush) return;
#endif
  hk_slab_t *touched = NULL, *touched_tail = NULL;
  uint32_t k = 0;
  if (n > t->tls_count[c]) n = t->tls_count[c];
  while (k < n) {
    hk_block_t *b = t->tls_head[c];
    HK_ASSERT(b);
    t->tls_head[c] = b->next;
    t->tls_count[c]--;
    hk_slab_t *s = hk_slab_of((uintptr_t)b);
    HK_ASSERT(s->owner == t->index && s->class_idx == c && s->used > 0);
    b->next = s->freelist;
    s->freelist = b;
    s->freelist_len++;
    s->used--;
    if (!t->owned_cursor[c] || s->oseq < t->owned_cursor[c]->oseq) t->owned_cursor[c] = s;
    if (!s->touched) {
      s->touched = 1;
      s->touch_next = NULL;
      if (touched_tail) touched_tail->touch_next = s;
      else touched = s;
      touched_tail = s;
    }
    k++;
  }
  if (k) {
    HK_TCOUNT(spills);
    if (g_trace_internal) trace_ev0(HKT_SPILL, (uint16_t)t->index, c, k);
  }
  for (hk_slab_t *s = touched; s;) {
    hk_slab_t *next = s->touch_next;
    s->touched = 0;
    s->touch_next = NULL;
#ifdef HAKMEM_VARIANT_NO_EMPTY /* seeded bug: EMPTY is never detected */
    s = next;
    continue;
#endif
    if (s->used == 0) hk_release_slab(t, s);
    s = next;
  }
}

/* Thread exit: docs/allocator.md 8, steps 1-3, then THREAD_EXIT. */
void hk_thread_exit_flush(hk_thread_t *t) {
  if (!t->active || t->in_flush || t->exited_once) return;
  t->in_flush = 1;
  uint16_t tid = (uint16_t)t->index;
  const uint32_t ntiny = (uint32_t)g_hk.cfg.tiny_class_count;
  const uint32_t npool = (uint32_t)g_hk.cfg.pool_class_count;
  for (uint32_t c = 0; c < ntiny; c++)
    if (t->tls_count[c]) hk_spill(t, c, t->tls_count[c]);
  for (uint32_t c = 0; c < ntiny; c++) {
    for (hk_slab_t *s = t->owned_head[c]; s;) {
      hk_slab_t *next = s->onext;
      if (atomic_load_explicit(&s->remote, memory_order_acquire)) hk_drain(s, tid);
#ifdef HAKMEM_VARIANT_NO_EMPTY /* seeded bug: an empty slab is orphaned, not released */
      if (0) {
#else
      if (s->used == 0) {
#endif
        hk_release_slab(t, s);
      } else {
        hk_owned_remove(t, s);
        hk_orphan_slab(s);
      }
      s = next;
    }
  }
  for (uint32_t j = 0; j < npool; j++) {
    for (hk_slab_t *s = t->opage_head[j]; s;) {
      hk_slab_t *next = s->onext;
      if (atomic_load_explicit(&s->remote, memory_order_acquire)) hk_drain(s, tid);
      if (s->used == 0) hk_pool_release_page(t, s);
      else {
        hk_opage_remove(t, s);
        hk_orphan_page(s);
      }
      s = next;
    }
  }
  hk_pvec_release(t);
  trace_ev0(HKT_THREAD_EXIT, tid, 0, 0);
  pthread_mutex_lock(&g_registry_lock); /* fold the counters in while still registered */
  HK_COUNT(refills, t->n_refills);
  HK_COUNT(spills, t->n_spills);
  HK_COUNT(drains, t->n_drains);
  HK_COUNT(remote_frees, t->n_remote_frees);
  t->n_refills = t->n_spills = t->n_drains = t->n_remote_frees = 0;
  pthread_mutex_unlock(&g_registry_lock);
  registry_remove(t);
  t->exited_once = 1;
  t->active = 0;
  t->fast = 0;
  t->in_flush = 0;
}

void hakmem_thread_flush(void) __attribute__((visibility("default")));
void hakmem_thread_flush(void) {
  if (!hk_ready()) return; /* an explicit request: done even with the bypass on */
  hk_thread_t *t = &hk_tls;
  if (!t->active) return;
  if (g_trace_exact) trace_exact_lock();
  hk_thread_exit_flush(t);
  if (g_trace_exact) trace_exact_unlock();
}
