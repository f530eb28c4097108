/* hakmem.h: the public and introspection API of libhakmem.
 * The standard allocation API (malloc, free, ...) is exported under its
 * usual names. Everything here is for tools (hakmem-replay) and tests. */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>
#include "hakmem_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The configuration in force (after HAKMEM_* overrides). */
const hakmem_config_t *hakmem_config(void);
/* Fill out[] with the name/value table written into trace headers; returns the count. */
unsigned hakmem_config_entries(hakmem_config_entry_t *out, unsigned max);

typedef struct hakmem_placement {
  uint32_t region_id; /* 0 if the pointer is not a live block of ours */
  uint32_t kind;      /* 0 SuperSlab, 1 pool page, 2 large */
  uint32_t slab_index;
  uint32_t block_index;
  uint32_t class_idx; /* tiny or pool class; 0xFFFF for large */
  uint32_t verdict;   /* HKT_VERDICT_* as free() would classify it */
} hakmem_placement_t;

/* Classify p through the ownership map without changing anything. */
void hakmem_locate(const void *p, hakmem_placement_t *out);

/* The canonical state digest of docs/allocator.md section 9. Only meaningful
 * while no other thread is inside the allocator. */
uint64_t hakmem_state_digest(void);

/* While recording in fast mode with threads: how many events' clocks were fenced (lfence before
 * the TSC read; a FREE of a block that may come from another thread), over all threads. For
 * tests (docs/trace-format.md, "Version 2"). */
uint64_t hakmem_trace_fenced(void);
/* While recording in fast mode with threads: how many events read the clock at all, over all
 * threads (a TLS hit and a free of a block the thread allocated keep the thread's previous
 * clock and read none). For tests. */
uint64_t hakmem_trace_clock_reads(void);

typedef struct hakmem_stats {
  uint64_t mmap_calls, unmap_calls, regions_mapped, regions_live;
  uint64_t mapped_bytes, superslabs_live, superslabs_in_lru, pool_pages_live, large_live;
  uint64_t slab_acquires, slab_releases, lru_pushes, lru_pops, lru_evicts;
  uint64_t refills, spills, drains, remote_frees, foreign_frees, invalid_frees;
  uint64_t vclock;
} hakmem_stats_t;
void hakmem_stats(hakmem_stats_t *out);

/* Visitor over the heap's structure (regions, slabs, TLS lists, pool pages, LRU). */
typedef struct hakmem_visit {
  uint32_t what;      /* HAKMEM_VISIT_* */
  uint32_t region_id;
  uint32_t index;     /* slab index, class, or LRU position */
  uint32_t class_idx;
  uint32_t owner;     /* thread index or 0xFFFF */
  uint64_t used, capacity, carved, freelist, remote;
  uint64_t base, size_bytes;
} hakmem_visit_t;
enum { HAKMEM_VISIT_REGION = 1, HAKMEM_VISIT_SLAB = 2, HAKMEM_VISIT_POOL_PAGE = 3,
       HAKMEM_VISIT_TLS_LIST = 4, HAKMEM_VISIT_LRU = 5 };
typedef void (*hakmem_visitor_fn)(const hakmem_visit_t *v, void *arg);
/* Visit everything; the caller must ensure no other thread is inside the allocator. */
void hakmem_visit(hakmem_visitor_fn fn, void *arg);

/* Return this thread's caches as if it exited (the replay tool calls it on THREAD_EXIT). */
void hakmem_thread_flush(void);

/* Replay bypass (for hakmem-replay): while a thread has it on, its malloc-family calls are
 * served from a private bump arena (never reused), are not recorded, touch no allocator state
 * and assign no thread index. free/realloc/malloc_usable_size of an arena pointer, from any
 * thread, is recognised by a range check (free: a no-op). */
void hakmem_replay_bypass(int on);

#ifdef __cplusplus
}
#endif
#endif
