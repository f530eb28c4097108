/* hk_internal.h: the allocator's internal types, globals and small inline helpers.
 *
 * The policy is docs/allocator.md; every name here is the name used there (and in the
 * TypeScript twin). One concern per file:
 *   config.c      configuration (defaults, HAKMEM_* overrides, validation)
 *   os.c          the address-space reservation (and the block state table after it), slot
 *                 map/unmap, the metadata arena
 *   owner_map.c   the flat granule -> region table, the region list and region ids
 *   superslab.c   SuperSlab/slab metadata: take, drain, block state, slab tags, classification
 *   tls.c         per-thread state: TLS lists, owned slabs/pages, thread index, exit flush
 *   shared_pool.c slab acquire/release, orphans, the virtual clock, the LRU
 *   pool.c        pool pages (mid sizes), the per-thread page vectors, chunked slot mapping
 *   large.c       direct mappings in the large half of the reservation
 *   api.c         malloc & co: the tiny fast paths, routing, recording, errno
 *   stats.c       counters, HAKMEM_STATS, hakmem_visit, hakmem_state_digest, hakmem_locate
 *   init.c        lazy initialisation, constructor/destructor, fork handlers
 *
 * Invariants (asserted with HK_ASSERT in debug builds):
 *   - a slab's used == blocks held by users + in TLS lists + in its remote queue;
 *   - freelist_len == length of freelist; carved <= capacity; used + freelist_len <= carved;
 *   - a SuperSlab is in the LRU exactly when its bitmap is 0 and it is mapped;
 *   - nothing here calls malloc: metadata comes from the metadata arena (os.c).
 */
#ifndef HK_INTERNAL_H
#define HK_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "hakmem.h"
#include "hakmem_config.h"
#include "hakmem_trace_format.h"
#include "trace.h"

#define HK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HK_NOINLINE __attribute__((noinline))
#define HK_INLINE static inline __attribute__((always_inline))
#define HK_HIDDEN __attribute__((visibility("hidden")))

#ifndef NDEBUG
void hk_assert_fail(const char *expr, const char *file, int line);
#define HK_ASSERT(x) ((x) ? (void)0 : hk_assert_fail(#x, __FILE__, __LINE__))
#else
#define HK_ASSERT(x) ((void)0)
#endif

#define HK_NONE 0xFFFFFFFFu   /* no owner / no class (internal); the digest writes 0xFFFF */
#define HK_GRANULE_SHIFT 16u  /* ownership map granule: 64 KiB */
#define HK_MAX_SLABS 64u

enum { HK_KIND_SS = 0, HK_KIND_POOL = 1, HK_KIND_LARGE = 2 };
enum { HK_PATH_TINY = 0, HK_PATH_POOL = 1, HK_PATH_LARGE = 2 };

typedef struct hk_block {
  struct hk_block *next;
} hk_block_t;

/* Every mapped region (SuperSlab, pool page, large mapping) is on one list in ascending id
 * order: ids are handed out in mapping order and a region keeps its id until unmapped, so
 * appending at map time keeps the list sorted (the digest walks it). */
typedef struct hk_region {
  uint32_t id;
  uint32_t kind;
  uintptr_t base;
  uint64_t size_bytes;
  struct hk_region *next, *prev;
} hk_region_t;

struct hk_ss;

/* A slab of a SuperSlab, or a pool page's block area: same fields (docs/allocator.md 4, 5).
 * Three cache lines, so that threads do not share what they write (false sharing):
 *   1. read-mostly: written only when the slab is initialised, reset or changes owner; read by
 *      every free (owner check) and by remote pushers (class, owner);
 *   2. the owner's working fields (freelist, counts, owned-list links): written by the owner on
 *      every refill, spill and pool malloc/free;
 *   3. the remote queue head: written (CAS) by other threads on every remote free.
 * A block's live/remote state is not here: it is the block's byte in the state table (g_hk.st,
 * docs/allocator.md 1 "Block state"), found from the block's address alone. */
typedef struct hk_slab {
  /* line 1: read-mostly */
  uint32_t class_idx;   /* HK_NONE when free */
  uint32_t owner;       /* thread index, HK_NONE for none */
  uint32_t block_size;
  /* ceil(2^32 / block_size): offset * recip >> 32 is offset / block_size exactly for offsets and
   * sizes below 2^16 (slabs and pool pages of at most 64 KiB); 0 means divide. A division on
   * every malloc and free was the fast path's largest cost (perf: ~45% of alloc_route). */
  uint32_t block_recip;
  uint32_t capacity;    /* blocks */
  uint32_t index;       /* slab index within its SuperSlab (0 for a pool page) */
  uintptr_t base;
  hk_region_t *region;
  uint8_t is_pool;
  /* 1 after the slab was adopted from an exited thread's orphans until it is next empty (reset or
   * initialised): its live blocks may have been allocated by another thread, so a FREE of one is
   * recorded with a fenced clock even by the owner (api.c, hk_free_clock) */
  uint8_t adopted;
  /* line 2: the owner's */
  uint32_t used __attribute__((aligned(64))); /* neither in the freelist nor uncarved */
  uint32_t carved;
  uint32_t freelist_len;
  uint8_t touched;
  uint8_t orphan;
  hk_block_t *freelist;
  struct hk_slab *onext, *oprev; /* owned list of the owner, or an orphan queue */
  struct hk_slab *touch_next;    /* spill: slabs touched, in order of first touch */
  uint64_t oseq;                 /* position in the owner's owned list (ascending) */
  uint32_t pv_pos;               /* pool page: its index in the owner's page vector */
  /* line 3: other threads' */
  _Atomic(hk_block_t *) remote __attribute__((aligned(64))); /* MPSC stack, newest first */
} __attribute__((aligned(64))) hk_slab_t;

typedef struct hk_ss {
  hk_region_t r;
  uint32_t slot;
  uint8_t in_lru;
  uint8_t in_use;
  uint64_t bitmap;
  uint64_t pushed_at;
  struct hk_ss *lru_next, *lru_prev;   /* LRU: front = most recently pushed */
  struct hk_ss *use_next, *use_prev;   /* in-use SuperSlabs, ascending region id */
  hk_slab_t slabs[];                   /* n_slabs */
} hk_ss_t;

typedef struct hk_ppage {
  hk_region_t r;
  uint32_t slot;
  uint8_t mapped;
  uint8_t on_stack;
  struct hk_ppage *stack_next;
  hk_slab_t s;
} hk_ppage_t;

typedef struct hk_large {
  hk_region_t r;
  uint32_t desc_idx;
  uint32_t granules;
  uint8_t in_use;
  uint8_t cached; /* freed, kept mapped in the large cache (in_use 0) */
  struct hk_large *free_next;
} hk_large_t;

/* Most entries of the large cache (large_cache_max_count is at most this). */
#define HK_LARGE_CACHE_MAX 64u

/* Per-thread state (initial-exec TLS). */
typedef struct hk_thread {
  uint32_t index;
  uint8_t active;      /* has an index and is registered as live */
  uint8_t registered;
  uint8_t in_flush;
  uint8_t exited_once;
  uint8_t fast;        /* active and not in the replay bypass: the fast paths may serve it */
  hk_block_t *tls_head[HAKMEM_TINY_CLASS_MAX];
  uint32_t tls_count[HAKMEM_TINY_CLASS_MAX];
  hk_slab_t *owned_head[HAKMEM_TINY_CLASS_MAX], *owned_tail[HAKMEM_TINY_CLASS_MAX];
  hk_slab_t *opage_head[HAKMEM_POOL_CLASS_MAX], *opage_tail[HAKMEM_POOL_CLASS_MAX];
  /* Scan cursors (an optimisation that changes no decision): every owned slab (page) before
   * the cursor is exhausted (freelist empty, fully carved, remote queue empty), so a refill
   * (pool_malloc) may start there: the slabs it skips would give nothing. NULL: all are.
   * A slab before the cursor can become non-exhausted only by a spill (owner: moves the cursor
   * back) or a remote free into an empty remote queue (the pusher raises the owner's notify
   * flag for the class: the next scan starts at the head). */
  hk_slab_t *owned_cursor[HAKMEM_TINY_CLASS_MAX];
  /* Pool: per class, the owned pages again in owned order, as a vector with a bitmap of
   * the pages that may have a block (pool.c, "page vector"): pool_malloc finds the first page
   * in owned order that gives a block without walking the exhausted ones. */
  struct hk_pvec {
    hk_slab_t **v;    /* owned order; NULL = a removed page (a hole, compacted later) */
    uint64_t *avail;  /* bit i: v[i] may give a block; clear: v[i] gives none */
    uint32_t n, cap, holes;
  } pvec[HAKMEM_POOL_CLASS_MAX];
  uint64_t owned_seq, opage_seq;
  struct hk_notify *notify;
  /* hot counters, per thread (no shared cache line); folded into g_cnt at the exit flush */
  uint64_t n_refills, n_spills, n_drains, n_remote_frees;
  struct hk_thread *reg_next, *reg_prev;
  uint64_t os_tid;
} hk_thread_t;

/* Per thread index (metadata arena, never freed, so a remote pusher may touch it after the
 * owner is gone): "a remote queue of one of your slabs of this class became non-empty". */
typedef struct hk_notify {
  _Atomic uint8_t tiny[HAKMEM_TINY_CLASS_MAX];
  _Atomic uint8_t pool[HAKMEM_POOL_CLASS_MAX];
} hk_notify_t;
HK_HIDDEN hk_notify_t *hk_notify_of(uint32_t thread_index); /* NULL if none */

/* Global state. */
typedef struct hk_global {
  hakmem_config_t cfg;
  uintptr_t heap_base, heap_end;
  uintptr_t ss_base, ss_end, pool_base, pool_end, large_base, large_end;
  uint32_t *owner_map;
  unsigned ss_shift, slab_shift, pp_shift;
  uint32_t n_slabs;
  uint32_t n_ss_slots, n_pp_slots, n_large_granules;
  /* Block state table (docs/allocator.md 1): one byte per min_align_bytes of the SuperSlab
   * and pool quarters, st[(p - heap_base) >> st_shift]; the byte of a block's first granule
   * holds HK_ST_LIVE / HK_ST_REMOTE, every other byte stays 0. Mapped right after the
   * reservation, in the same reservation (NORESERVE: only touched pages cost memory). */
  uint8_t *st;
  unsigned st_shift;
  /* Slab tag table: one u32 per slab slot of the SuperSlab quarter, tag[(p - ss_base) >>
   * slab_shift] = (owner + 1) << 8 | class of a tiny slab that has an owner, else 0. Written
   * wherever a slab's owner changes (hk_slab_set_owner); read by the free fast path, so it
   * tells "my slab, class c" with one load that does not depend on the descriptor. */
  uint32_t *slab_tag;
  uintptr_t st_bias, tag_bias;  /* the two tables' addresses minus (base >> shift): one add */
  uintptr_t align_mask;     /* min_align_bytes - 1 */
  hk_ss_t **ss_desc;
  hk_ppage_t **pp_desc;
  uint8_t *tiny_class_of;   /* index (size + min_align - 1) / min_align */
  uint8_t *pool_class_of;
  uint64_t *ss_slot_bits, *pp_slot_bits, *large_bits;
  uint64_t *pp_rw_bits;       /* pool slots that are read-write (mapped in chunks, pool.c) */
  uint32_t pp_chunk_slots;    /* pool_map_chunk_bytes / pool_page_size_bytes */
  uint32_t ss_slot_hint, pp_slot_hint, large_hint;
  /* bypass arena (replay tool's own allocations) */
  uintptr_t bypass_base, bypass_end;
  _Atomic uintptr_t bypass_top;
  /* next allocator (foreign pointers) */
  void (*next_free)(void *);
  size_t (*next_usable)(void *);
  void *(*next_realloc)(void *, size_t);
  int abort_on_error;
  int stats_at_exit;
} hk_global_t;

extern HK_HIDDEN hk_global_t g_hk;
extern HK_HIDDEN _Atomic int g_hk_ready;   /* 0 not started, 1 in progress, 2 ready */
extern HK_HIDDEN __thread hk_thread_t hk_tls __attribute__((tls_model("initial-exec")));
extern HK_HIDDEN __thread int hk_bypass __attribute__((tls_model("initial-exec")));

/* Locks (order: exact(trace) -> pool -> large -> region -> arena -> registry). */
extern HK_HIDDEN pthread_mutex_t g_pool_lock, g_large_lock, g_region_lock, g_arena_lock,
    g_registry_lock;

/* Counters. */
typedef struct hk_counters {
  _Atomic uint64_t mmap_calls, unmap_calls, regions_mapped;
  _Atomic uint64_t slab_acquires, slab_releases, lru_pushes, lru_pops, lru_evicts;
  _Atomic uint64_t refills, spills, drains, remote_frees, foreign_frees, invalid_frees;
  _Atomic uint64_t foreign_leaked, mapped_bytes;
} hk_counters_t;
extern HK_HIDDEN hk_counters_t g_cnt;
#define HK_COUNT(f, n) atomic_fetch_add_explicit(&g_cnt.f, (n), memory_order_relaxed)
#define HK_TCOUNT(f) (hk_tls.n_##f++)

/* Shared pool state (under g_pool_lock). */
typedef struct hk_shared {
  uint64_t vclock;
  hk_ss_t *inuse_head, *inuse_tail;
  hk_ss_t *lru_front, *lru_back;
  uint64_t lru_count;
  hk_slab_t *orphan_head[HAKMEM_TINY_CLASS_MAX], *orphan_tail[HAKMEM_TINY_CLASS_MAX];
  hk_slab_t *orphan_page_head[HAKMEM_POOL_CLASS_MAX], *orphan_page_tail[HAKMEM_POOL_CLASS_MAX];
  hk_ppage_t *free_pages;   /* free-page stack, top first */
  uint64_t free_pages_count;
  /* Pool pages past the free-page bound whose PROT_NONE mmap is running outside the lock
   * (hk_pool_release_page): their slots are not free yet, so a new page waits for them. */
  uint64_t pool_unmaps_pending;
  uint64_t superslabs_live, pool_pages_live, large_live;
} hk_shared_t;
extern HK_HIDDEN hk_shared_t g_sp;

/* Region list (under g_region_lock). */
extern HK_HIDDEN hk_region_t *g_region_head, *g_region_tail;
extern HK_HIDDEN uint32_t g_region_next_id;
extern HK_HIDDEN uint64_t g_regions_live;

/* ---- config.c ---- */
HK_HIDDEN void hk_config_load(hakmem_config_t *cfg);

/* ---- os.c ---- */
HK_HIDDEN int hk_os_reserve(void);
HK_HIDDEN int hk_os_map_rw(uintptr_t base, uint64_t bytes);     /* 0 ok */
HK_HIDDEN void hk_os_unmap(uintptr_t base, uint64_t bytes);     /* back to PROT_NONE */
HK_HIDDEN int hk_os_move(uintptr_t from, uintptr_t to, uint64_t bytes); /* 0 ok, -1: copy */
HK_HIDDEN void *hk_meta_alloc(uint64_t bytes);                  /* zeroed, never freed */
HK_HIDDEN void *hk_os_map_anon(uint64_t bytes);                 /* raw anonymous RW or NULL */
HK_HIDDEN void hk_write_err(const char *s);
HK_HIDDEN void hk_bits_set(uint64_t *bits, uint64_t i);
HK_HIDDEN void hk_bits_clear(uint64_t *bits, uint64_t i);
HK_HIDDEN int64_t hk_bits_find_clear(uint64_t *bits, uint64_t nbits, uint64_t from);

/* ---- owner_map.c ---- */
HK_HIDDEN void hk_owner_set(uintptr_t base, uint64_t bytes, uint32_t v);
HK_HIDDEN void hk_region_add(hk_region_t *r, uint32_t kind, uintptr_t base, uint64_t bytes,
                             uint16_t tid);
HK_HIDDEN void hk_region_remove(hk_region_t *r, uint16_t tid);
static inline uint32_t hk_owner_get(uintptr_t p) {
  return __atomic_load_n(&g_hk.owner_map[(p - g_hk.heap_base) >> HK_GRANULE_SHIFT],
                         __ATOMIC_ACQUIRE);
}

/* ---- superslab.c ---- */
typedef struct hk_class_ref {
  int verdict;        /* HKT_VERDICT_* */
  int kind;           /* HK_KIND_* when OK */
  hk_slab_t *slab;    /* tiny or pool */
  hk_large_t *large;
  uint64_t block_index;
} hk_class_ref_t;
HK_HIDDEN void hk_classify(uintptr_t p, hk_class_ref_t *out);
HK_HIDDEN uint32_t hk_take(hk_slab_t *s, uint32_t want, hk_block_t **head, hk_block_t **tail,
                           uint16_t tid);
HK_HIDDEN void hk_drain(hk_slab_t *s, uint16_t tid);
HK_HIDDEN void hk_slab_init(hk_slab_t *s, uint32_t class_idx, uint32_t block_size,
                            uint32_t capacity, uint32_t owner);
HK_HIDDEN void hk_slab_reset(hk_slab_t *s);
HK_HIDDEN uint32_t hk_remote_len(hk_slab_t *s);
HK_HIDDEN hk_ss_t *hk_ss_of(uintptr_t p);
static inline uint64_t hk_block_div(const hk_slab_t *s, uint64_t off) {
  uint32_t r = s->block_recip;
  return HK_LIKELY(r != 0) ? (off * r) >> 32 : off / s->block_size;
}
static inline uint64_t hk_block_index(const hk_slab_t *s, uintptr_t p) {
  return hk_block_div(s, (uint64_t)(p - s->base));
}
/* Block state (one byte per block start, in g_hk.st). The owner writes it with plain
 * (relaxed) stores; a remote free sets HK_ST_REMOTE with an atomic fetch-or. */
enum { HK_ST_LIVE = 1, HK_ST_REMOTE = 2 };
static inline uint8_t *hk_st(uintptr_t p) {
  /* st_bias = st - (heap_base >> st_shift): heap_base is aligned to far more than min_align */
  return (uint8_t *)(g_hk.st_bias + (p >> g_hk.st_shift));
}
static inline void hk_live_set(uintptr_t p) { __atomic_store_n(hk_st(p), HK_ST_LIVE, __ATOMIC_RELAXED); }
static inline void hk_live_clear(uintptr_t p) { __atomic_store_n(hk_st(p), 0, __ATOMIC_RELAXED); }
static inline uint8_t hk_state_get(uintptr_t p) { return __atomic_load_n(hk_st(p), __ATOMIC_RELAXED); }
/* the slab (or pool page) of a block in the SuperSlab or pool quarter: one table load.
 * SuperSlabs are aligned to their size, so the slab index is address bits. */
static inline hk_slab_t *hk_slab_of(uintptr_t p) {
  if (HK_LIKELY(p < g_hk.pool_base))
    return &g_hk.ss_desc[(p - g_hk.ss_base) >> g_hk.ss_shift]
                ->slabs[(p >> g_hk.slab_shift) & (g_hk.n_slabs - 1)];
  return &g_hk.pp_desc[(p - g_hk.pool_base) >> g_hk.pp_shift]->s;
}
static inline uint32_t hk_tag_of(uintptr_t p) {
  /* tag_bias = slab_tag - (ss_base >> slab_shift), in bytes */
  return __atomic_load_n((uint32_t *)(g_hk.tag_bias + (p >> g_hk.slab_shift) * sizeof(uint32_t)),
                         __ATOMIC_RELAXED);
}
/* set s->owner (HK_NONE: none); keeps the slab tag table in step. class_idx must be final. */
HK_HIDDEN void hk_slab_set_owner(hk_slab_t *s, uint32_t owner);
/* remote free of a classified block (any non-owner thread). 0 = accepted, else INVALID. */
HK_HIDDEN int hk_remote_push(hk_slab_t *s, hk_block_t *b);

/* ---- tls.c ---- */
HK_HIDDEN hk_thread_t *hk_thread_slow(void);
static inline hk_thread_t *hk_thread(void) {
  hk_thread_t *t = &hk_tls;
  if (HK_LIKELY(t->active)) return t;
  return hk_thread_slow();
}
/* free-like calls: a thread after its exit flush frees without becoming active again */
static inline hk_thread_t *hk_thread_for_free(void) {
  hk_thread_t *t = &hk_tls;
  if (HK_LIKELY(t->active | t->exited_once)) return t;
  return hk_thread_slow();
}
HK_HIDDEN void *hk_tiny_malloc_slow(hk_thread_t *t, uint32_t c);
HK_HIDDEN void hk_spill(hk_thread_t *t, uint32_t c, uint32_t n);
HK_HIDDEN void hk_thread_exit_flush(hk_thread_t *t);
HK_HIDDEN void hk_owned_append(hk_thread_t *t, hk_slab_t *s);
HK_HIDDEN void hk_owned_remove(hk_thread_t *t, hk_slab_t *s);
HK_HIDDEN void hk_opage_append(hk_thread_t *t, hk_slab_t *s);
HK_HIDDEN void hk_opage_remove(hk_thread_t *t, hk_slab_t *s);
HK_HIDDEN void hk_tls_key_init(void);
extern HK_HIDDEN hk_thread_t *g_thread_head;

/* ---- shared_pool.c ---- */
HK_HIDDEN hk_slab_t *hk_shared_pool_acquire_slab(hk_thread_t *t, uint32_t c);
HK_HIDDEN void hk_release_slab(hk_thread_t *t, hk_slab_t *s);  /* EMPTY: owner's slab */
HK_HIDDEN void hk_orphan_slab(hk_slab_t *s);

/* ---- pool.c ---- */
HK_HIDDEN void *hk_pool_malloc(hk_thread_t *t, uint32_t j);
HK_HIDDEN void hk_pool_free_owner(hk_thread_t *t, hk_slab_t *s, hk_block_t *b);
HK_HIDDEN void hk_pool_release_page(hk_thread_t *t, hk_slab_t *s);
HK_HIDDEN void hk_orphan_page(hk_slab_t *s);
HK_HIDDEN void hk_pvec_remove(hk_thread_t *t, hk_slab_t *s);
HK_HIDDEN void hk_pvec_release(hk_thread_t *t);             /* exit flush: arrays back */

/* ---- large.c ---- */
HK_HIDDEN void *hk_large_malloc(uint16_t tid, uint64_t size, uint64_t align, int zero);
HK_HIDDEN void hk_large_free(uint16_t tid, hk_large_t *l);
HK_HIDDEN void *hk_large_realloc(uint16_t tid, hk_large_t *l, uint64_t size);
HK_HIDDEN hk_large_t *hk_large_desc(uint32_t owner_entry);
HK_HIDDEN int hk_large_init(void);
HK_HIDDEN uint64_t hk_large_map_size(uint64_t size, uint64_t align);

/* ---- init.c ---- */
HK_HIDDEN void hk_init_slow(void);
static inline int hk_ready(void) {
  return HK_LIKELY(atomic_load_explicit(&g_hk_ready, memory_order_acquire) == 2);
}
static inline void hk_ensure_init(void) {
  if (HK_UNLIKELY(!hk_ready())) hk_init_slow();
}
HK_HIDDEN void hk_lock_all(void);
HK_HIDDEN void hk_unlock_all(void);

/* ---- api.c ---- */
HK_HIDDEN void hk_report_invalid(const char *what, const void *p);
HK_HIDDEN void *hk_bypass_alloc(size_t size, size_t align);
static inline int hk_in_bypass_arena(uintptr_t p) {
  /* bypass_end is published last (release), after bypass_base */
  uintptr_t end = __atomic_load_n(&g_hk.bypass_end, __ATOMIC_ACQUIRE);
  return end && p - g_hk.bypass_base < end - g_hk.bypass_base;
}

/* size routing */
typedef struct hk_route {
  int path;
  uint32_t cls;
} hk_route_t;
static inline uint64_t hk_round_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

#endif
