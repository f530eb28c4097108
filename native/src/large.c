/* large.c: large blocks, one direct mapping each, in the second half of the reservation
 * (docs/allocator.md 6).
 *
 * A freed mapping of at most large_cache_max_bytes stays mapped in the large cache (at most
 * large_cache_max_count, most recent last): a later malloc with the same mapping size takes it
 * back (REGION_REUSE) instead of a new mapping; the oldest beyond the bounds are unmapped. Without
 * it, every large malloc and free was a system call (git pack-objects: 12,047 mmap calls against
 * glibc's 35).
 *
 * Placement is first fit by address at 64 KiB granularity, starting at an address aligned to
 * the requested alignment, so a large block always starts at its mapping's base (offset 0,
 * usable size = mapping size). The mapping size is round_up(size, large_page_bytes), plus
 * align - large_page_bytes when align > large_page_bytes (as the contract says). A large-to-large
 * realloc keeps the region id: it shrinks or grows in place when the granules after it are free,
 * else moves to a new range: its pages go with mremap(MREMAP_DONTUNMAP), which leaves the old
 * range mapped (a plain mremap would leave a hole in the reservation another mmap could take)
 * and copies nothing, and the old range goes back to PROT_NONE (map and copy where the kernel
 * lacks the flag). All under g_large_lock. */
#include <string.h>
#include "hk_internal.h"

#define DIR_SHIFT 12u
#define DIR_SIZE (1u << DIR_SHIFT)

static hk_large_t **g_dir;      /* descriptor directory: g_dir[i >> 12][i & 4095] */
static uint32_t g_dir_n;        /* chunks allocated */
static uint32_t g_desc_next;    /* descriptors handed out so far */
static hk_large_t *g_desc_free; /* recycled descriptors */

/* The large cache, oldest first; g_large_cache_bytes is the sum of their sizes. Under g_large_lock.
 * One slot more than the bound: a free pushes before it evicts. */
static hk_large_t *g_large_cache[HK_LARGE_CACHE_MAX + 1];
static uint32_t g_large_cache_n;
static uint64_t g_large_cache_bytes;

int hk_large_init(void) {
  uint32_t max_chunks = (g_hk.n_large_granules + DIR_SIZE - 1) / DIR_SIZE + 1;
  g_dir = hk_meta_alloc((uint64_t)max_chunks * sizeof(hk_large_t *));
  return g_dir ? 0 : -1;
}

hk_large_t *hk_large_desc(uint32_t e) {
  uint32_t i = e - 1;
  if ((i >> DIR_SHIFT) >= g_dir_n) return NULL;
  return &g_dir[i >> DIR_SHIFT][i & (DIR_SIZE - 1)];
}

static hk_large_t *desc_alloc(void) {
  hk_large_t *l = g_desc_free;
  if (l) {
    g_desc_free = l->free_next;
    return l;
  }
  if ((g_desc_next >> DIR_SHIFT) >= g_dir_n) {
    hk_large_t *chunk = hk_meta_alloc((uint64_t)DIR_SIZE * sizeof(hk_large_t));
    if (!chunk) return NULL;
    g_dir[g_dir_n++] = chunk;
  }
  uint32_t i = g_desc_next++;
  l = &g_dir[i >> DIR_SHIFT][i & (DIR_SIZE - 1)];
  l->desc_idx = i;
  return l;
}

uint64_t hk_large_map_size(uint64_t size, uint64_t align) {
  uint64_t pg = g_hk.cfg.large_page_bytes;
  uint64_t m = hk_round_up(size ? size : 1, pg);
  if (align > pg) m += align - pg;
  return m;
}

static uint64_t granules_of(uint64_t bytes) {
  return (bytes + (1u << HK_GRANULE_SHIFT) - 1) >> HK_GRANULE_SHIFT;
}

static int run_free(uint64_t g, uint64_t n) {
  for (uint64_t i = g; i < g + n; i++)
    if ((g_hk.large_bits[i >> 6] >> (i & 63)) & 1) return 0;
  return 1;
}

/* first fit: lowest granule index g with (large_base + g * 64K) % align == 0 and n free granules */
static int64_t find_run(uint64_t n, uint64_t align) {
  const uint64_t total = g_hk.n_large_granules;
  uint64_t step = align > (1u << HK_GRANULE_SHIFT) ? align >> HK_GRANULE_SHIFT : 1;
  uint64_t g = g_hk.large_hint;
  for (;;) {
    int64_t f = hk_bits_find_clear(g_hk.large_bits, total, g);
    if (f < 0) return -1;
    g = (uint64_t)f;
    uintptr_t addr = g_hk.large_base + (g << HK_GRANULE_SHIFT);
    uintptr_t aligned = hk_round_up(addr, step << HK_GRANULE_SHIFT);
    g += (aligned - addr) >> HK_GRANULE_SHIFT;
    if (g + n > total) return -1;
    uint64_t i = g;
    while (i < g + n && !((g_hk.large_bits[i >> 6] >> (i & 63)) & 1)) i++;
    if (i == g + n) return (int64_t)g;
    g = i + 1; /* the run is broken at i: continue after it */
  }
}

static void bits_range(uint64_t g, uint64_t n, int set) {
  for (uint64_t i = g; i < g + n; i++) {
    if (set) hk_bits_set(g_hk.large_bits, i);
    else hk_bits_clear(g_hk.large_bits, i);
  }
}

/* The most recent cached mapping of exactly m bytes, taken out of the cache; NULL if none. Only
 * for align <= large_page_bytes: every mapping's base is aligned to that (64 KiB, in fact). */
static hk_large_t *large_cache_take(uint64_t m) {
  for (uint32_t i = g_large_cache_n; i-- > 0;) {
    hk_large_t *l = g_large_cache[i];
    if (l->r.size_bytes != m) continue;
    memmove(&g_large_cache[i], &g_large_cache[i + 1], (g_large_cache_n - i - 1) * sizeof g_large_cache[0]);
    g_large_cache_n--;
    g_large_cache_bytes -= m;
    l->cached = 0;
    return l;
  }
  return NULL;
}

/* Unmap a large mapping for good: its granules, owner entries and descriptor are freed. */
static void large_unmap(uint16_t tid, hk_large_t *l) {
  uint64_t g = (l->r.base - g_hk.large_base) >> HK_GRANULE_SHIFT;
  hk_owner_set(l->r.base, l->r.size_bytes, 0);
  hk_os_unmap(l->r.base, l->r.size_bytes);
  hk_region_remove(&l->r, tid);
  bits_range(g, l->granules, 0);
  if (g < g_hk.large_hint) g_hk.large_hint = (uint32_t)g;
  l->free_next = g_desc_free;
  g_desc_free = l;
}

void *hk_large_malloc(uint16_t tid, uint64_t size, uint64_t align, int zero) {
  uint64_t m = hk_large_map_size(size, align);
  uint64_t n = granules_of(m);
  void *res = NULL;
  pthread_mutex_lock(&g_large_lock);
  if (align <= g_hk.cfg.large_page_bytes && g_large_cache_n > 0) {
    hk_large_t *l = large_cache_take(m);
    if (l) {
      trace_ev0(HKT_REGION_REUSE, tid, l->r.id, l->r.base);
      __atomic_fetch_add(&g_sp.large_live, 1, __ATOMIC_RELAXED);
      if (!zero) {
        l->in_use = 1;
        pthread_mutex_unlock(&g_large_lock);
        return (void *)l->r.base;
      }
      /* A fresh mapping is zero; a kept one holds what its last block left. It is zeroed out of
       * the lock and becomes a block only then: a stale free of it meanwhile is INVALID. */
      pthread_mutex_unlock(&g_large_lock);
      memset((void *)l->r.base, 0, size);
      __atomic_store_n(&l->in_use, 1, __ATOMIC_RELEASE);
      return (void *)l->r.base;
    }
  }
  int64_t g = find_run(n, align);
  if (g >= 0) {
    uintptr_t base = g_hk.large_base + ((uintptr_t)g << HK_GRANULE_SHIFT);
    hk_large_t *l = desc_alloc();
    if (l && hk_os_map_rw(base, m) == 0) {
      bits_range((uint64_t)g, n, 1);
      if ((uint64_t)g == g_hk.large_hint) g_hk.large_hint = (uint32_t)(g + n);
      l->granules = (uint32_t)n;
      l->in_use = 1;
      hk_region_add(&l->r, HK_KIND_LARGE, base, m, tid);
      hk_owner_set(base, m, l->desc_idx + 1);
      __atomic_fetch_add(&g_sp.large_live, 1, __ATOMIC_RELAXED);
      res = (void *)base;
    } else if (l) {
      l->free_next = g_desc_free;
      g_desc_free = l;
    }
  }
  pthread_mutex_unlock(&g_large_lock);
  return res;
}

void hk_large_free(uint16_t tid, hk_large_t *l) {
  pthread_mutex_lock(&g_large_lock);
  if (!l->in_use) { /* a racing second free of the same block lost */
    pthread_mutex_unlock(&g_large_lock);
    HK_COUNT(invalid_frees, 1);
    return;
  }
  l->in_use = 0;
  __atomic_fetch_sub(&g_sp.large_live, 1, __ATOMIC_RELAXED);
  if (g_hk.cfg.large_cache_max_count == 0 || l->r.size_bytes > g_hk.cfg.large_cache_max_bytes) {
    large_unmap(tid, l);
  } else {
    /* Kept: its owner entries stay, so a free of it classifies INVALID (in_use is 0). */
    l->cached = 1;
    g_large_cache[g_large_cache_n++] = l;
    g_large_cache_bytes += l->r.size_bytes;
    while (g_large_cache_n > g_hk.cfg.large_cache_max_count || g_large_cache_bytes > g_hk.cfg.large_cache_max_bytes) {
      hk_large_t *old = g_large_cache[0];
      memmove(&g_large_cache[0], &g_large_cache[1], (g_large_cache_n - 1) * sizeof g_large_cache[0]);
      g_large_cache_n--;
      g_large_cache_bytes -= old->r.size_bytes;
      old->cached = 0;
      large_unmap(tid, old);
    }
  }
  pthread_mutex_unlock(&g_large_lock);
}

void *hk_large_realloc(uint16_t tid, hk_large_t *l, uint64_t size) {
  uint64_t m = hk_large_map_size(size, 0);
  if (m == l->r.size_bytes) return (void *)l->r.base;
  uint64_t n = granules_of(m);
  void *res = NULL;
  pthread_mutex_lock(&g_large_lock);
  uintptr_t base = l->r.base;
  uint64_t old = l->r.size_bytes, on = l->granules;
  uint64_t g = (base - g_hk.large_base) >> HK_GRANULE_SHIFT;
  if (n <= on || (g + n <= g_hk.n_large_granules && run_free(g + on, n - on))) {
    /* in place */
    int ok = 1;
    if (m > old) ok = hk_os_map_rw(base + old, m - old) == 0;
    else hk_os_unmap(base + m, old - m);
    if (ok) {
      if (n > on) bits_range(g + on, n - on, 1);
      if (n < on) {
        hk_owner_set(base + (n << HK_GRANULE_SHIFT), (on - n) << HK_GRANULE_SHIFT, 0);
        bits_range(g + n, on - n, 0);
        if (g + n < g_hk.large_hint) g_hk.large_hint = (uint32_t)(g + n);
      }
      hk_owner_set(base, m, l->desc_idx + 1);
      l->granules = (uint32_t)n;
      l->r.size_bytes = m;
      trace_ev1(HKT_REGION_REMAP, tid, l->r.id, base, 0, m);
      res = (void *)base;
    }
  } else {
    int64_t ng = find_run(n, 0);
    if (ng >= 0) {
      uintptr_t nb = g_hk.large_base + ((uintptr_t)ng << HK_GRANULE_SHIFT);
      uint64_t keep = old < m ? old : m;
      int ok;
      if (hk_os_move(base, nb, keep) == 0) {
        ok = keep == m || hk_os_map_rw(nb + keep, m - keep) == 0;
        if (!ok) { /* cannot happen in the reservation: the data back (the old range is mapped) */
          memcpy((void *)base, (void *)nb, keep);
          hk_os_unmap(nb, keep);
        }
      } else if ((ok = hk_os_map_rw(nb, m) == 0)) {
        memcpy((void *)nb, (void *)base, keep);
      }
      if (ok) {
        bits_range((uint64_t)ng, n, 1);
        if ((uint64_t)ng == g_hk.large_hint) g_hk.large_hint = (uint32_t)(ng + n);
        hk_owner_set(nb, m, l->desc_idx + 1);
        hk_owner_set(base, old, 0);
        hk_os_unmap(base, old);
        bits_range(g, on, 0);
        if (g < g_hk.large_hint) g_hk.large_hint = (uint32_t)g;
        l->r.base = nb;
        l->r.size_bytes = m;
        l->granules = (uint32_t)n;
        trace_ev1(HKT_REGION_REMAP, tid, l->r.id, nb, 0, m);
        res = (void *)nb;
      }
    }
  }
  pthread_mutex_unlock(&g_large_lock);
  return res;
}
