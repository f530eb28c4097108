/* os.c: the operating-system layer.
 *
 * - The reservation: heap_reserve_bytes of PROT_NONE, MAP_NORESERVE address space, aligned to
 *   superslab_size_bytes by over-reserving one SuperSlab and a page (the slack is simply never
 *   used: there is no trimming munmap, seed 000; at least a page of it lies below the heap). First quarter SuperSlabs, second quarter pool pages,
 *   second half large mappings.
 * - Mapping a slot is one mmap(MAP_FIXED) of read-write memory; unmapping is one
 *   mmap(MAP_FIXED) of PROT_NONE over it, so the range stays ours.
 * - The metadata arena: bump allocation from anonymous chunks, never freed. Nothing in the
 *   allocator calls malloc.
 */
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>
#include "hk_internal.h"

void hk_write_err(const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

void *hk_os_map_anon(uint64_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  HK_COUNT(mmap_calls, 1);
  return p == MAP_FAILED ? NULL : p;
}

int hk_os_map_rw(uintptr_t base, uint64_t bytes) {
  HK_ASSERT(base >= g_hk.heap_base && base + bytes <= g_hk.heap_end);
  void *p = mmap((void *)base, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  HK_COUNT(mmap_calls, 1);
  if (p == MAP_FAILED) return -1;
  HK_COUNT(mapped_bytes, bytes);
  return 0;
}

/* Move the pages of [from, from + bytes) to [to, to + bytes) (a reserved PROT_NONE range) without
 * copying them: a large realloc that cannot grow in place. mremap with MREMAP_DONTUNMAP leaves
 * the old range mapped (and empty), so the reservation never has a hole another thread's mmap
 * could take; the caller puts it back to PROT_NONE. Pages never touched stay untouched (a copy
 * faulted every page of the new range in). -1 where the kernel cannot (before Linux 5.7): copy. */
int hk_os_move(uintptr_t from, uintptr_t to, uint64_t bytes) {
  HK_ASSERT(from >= g_hk.heap_base && from + bytes <= g_hk.heap_end);
  HK_ASSERT(to >= g_hk.heap_base && to + bytes <= g_hk.heap_end);
#ifdef MREMAP_DONTUNMAP
  void *p = mremap((void *)from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
                   (void *)to);
  HK_COUNT(mmap_calls, 1);
  if (p != MAP_FAILED) {
    HK_COUNT(mapped_bytes, bytes);
    return 0;
  }
#else
  (void)from, (void)to, (void)bytes;
#endif
  return -1;
}

void hk_os_unmap(uintptr_t base, uint64_t bytes) {
  HK_ASSERT(base >= g_hk.heap_base && base + bytes <= g_hk.heap_end);
  void *p = mmap((void *)base, bytes, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  HK_COUNT(unmap_calls, 1);
  if (p == MAP_FAILED) {
    /* Cannot happen for a range we own; make sure the memory is at least returned. */
    madvise((void *)base, bytes, MADV_DONTNEED);
  }
  atomic_fetch_sub_explicit(&g_cnt.mapped_bytes, bytes, memory_order_relaxed);
}

/* The block state table's size for a reservation of `want` bytes: one byte per
 * min_align_bytes of the SuperSlab and pool quarters (the first half). */
static uint64_t st_bytes(uint64_t want) {
  return hk_round_up((want / 2) / g_hk.cfg.min_align_bytes, 1u << 16);
}

int hk_os_reserve(void) {
  uint64_t want = g_hk.cfg.heap_reserve_bytes;
  uint64_t align = g_hk.cfg.superslab_size_bytes > g_hk.cfg.pool_page_size_bytes
                       ? g_hk.cfg.superslab_size_bytes
                       : g_hk.cfg.pool_page_size_bytes;
  /* A smaller address-space limit (ulimit -v) halves the reservation until it fits; the
   * config (and so the trace header) then says what was really reserved. The block state
   * table follows the heap in the same reservation, so it shrinks with it. */
  for (int tries = 0; tries < 16; tries++) {
    uint64_t tb = st_bytes(want);
    /* One page more than the alignment needs: the heap starts at least a page into the
     * reservation, so the address just below it is always PROT_NONE, never a neighbouring
     * mapping. A read in front of the first block (seed 001's header read, the header-read
     * variant) then faults on every run, not only when ASLR left a gap there (about 1 run in
     * 20 did not fault when the reservation happened to be aligned already). */
    const uint64_t guard = 4096;
    void *p = mmap(NULL, want + tb + align + guard, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    HK_COUNT(mmap_calls, 1);
    if (p != MAP_FAILED) {
      uintptr_t base = hk_round_up((uintptr_t)p + guard, align);
      /* the table: read-write, but NORESERVE and untouched, so it costs memory only where
       * blocks have been handed out */
      void *st = mmap((void *)(base + want), tb, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
      HK_COUNT(mmap_calls, 1);
      if (st == MAP_FAILED) return -1;
      g_hk.heap_base = base;
      g_hk.heap_end = base + want;
      g_hk.st = (uint8_t *)st;
      g_hk.cfg.heap_reserve_bytes = want;
      return 0;
    }
    if (want <= 16 * 4 * align) break;
    want = (want / 2) / (4 * align) * (4 * align);
  }
  return -1;
}

/* ---- metadata arena ---- */
#define HK_ARENA_CHUNK (64ull << 20)
static uintptr_t g_arena_cur, g_arena_end;

void *hk_meta_alloc(uint64_t bytes) {
  bytes = hk_round_up(bytes ? bytes : 1, 64);
  pthread_mutex_lock(&g_arena_lock);
  if (g_arena_cur + bytes > g_arena_end || g_arena_cur == 0) {
    uint64_t chunk = bytes > HK_ARENA_CHUNK ? hk_round_up(bytes, 1 << 20) : HK_ARENA_CHUNK;
    void *p = hk_os_map_anon(chunk);
    if (!p) {
      pthread_mutex_unlock(&g_arena_lock);
      return NULL;
    }
    g_arena_cur = (uintptr_t)p;
    g_arena_end = (uintptr_t)p + chunk;
  }
  void *r = (void *)g_arena_cur;
  g_arena_cur += bytes;
  pthread_mutex_unlock(&g_arena_lock);
  return r; /* fresh anonymous memory: zero */
}

/* ---- bitmaps used for slot choice (lowest free slot first) ---- */
void hk_bits_set(uint64_t *bits, uint64_t i) { bits[i >> 6] |= 1ull << (i & 63); }
void hk_bits_clear(uint64_t *bits, uint64_t i) { bits[i >> 6] &= ~(1ull << (i & 63)); }
int64_t hk_bits_find_clear(uint64_t *bits, uint64_t nbits, uint64_t from) {
  for (uint64_t w = from >> 6; w < (nbits + 63) >> 6; w++) {
    uint64_t x = ~bits[w];
    if (w == from >> 6) x &= ~0ull << (from & 63);
    if (x) {
      uint64_t i = (w << 6) + (uint64_t)__builtin_ctzll(x);
      return i < nbits ? (int64_t)i : -1;
    }
  }
  return -1;
}
