/* owner_map.c: the ownership map and the region list.
 *
 * The ownership map is a flat table, one u32 per 64 KiB granule of the reservation, naming
 * what covers the granule: 0 nothing (unmapped, a SuperSlab in the LRU, a free pool page);
 * for SuperSlabs and pool pages 1 (the slot index follows from the address); for large
 * mappings the descriptor index + 1. free/realloc/malloc_usable_size classify a pointer by a
 * range check and one load of this table, then the descriptor's metadata (seed 001).
 *
 * Region ids come from one counter starting at 1, in mapping order; the list of mapped regions
 * is kept in that order (ascending id) for the digest and the visitor. */
#include "hk_internal.h"

hk_region_t *g_region_head, *g_region_tail;
uint32_t g_region_next_id = 1;
uint64_t g_regions_live;

void hk_owner_set(uintptr_t base, uint64_t bytes, uint32_t v) {
  uint64_t first = (base - g_hk.heap_base) >> HK_GRANULE_SHIFT;
  uint64_t n = (bytes + (1u << HK_GRANULE_SHIFT) - 1) >> HK_GRANULE_SHIFT;
  for (uint64_t i = 0; i < n; i++) __atomic_store_n(&g_hk.owner_map[first + i], v, __ATOMIC_RELEASE);
}

void hk_region_add(hk_region_t *r, uint32_t kind, uintptr_t base, uint64_t bytes, uint16_t tid) {
  pthread_mutex_lock(&g_region_lock);
  r->id = g_region_next_id++;
  r->kind = kind;
  r->base = base;
  r->size_bytes = bytes;
  r->next = NULL;
  r->prev = g_region_tail;
  if (g_region_tail) g_region_tail->next = r;
  else g_region_head = r;
  g_region_tail = r;
  g_regions_live++;
  HK_COUNT(regions_mapped, 1);
  trace_ev1(HKT_REGION_MAP, tid, r->id, base, kind, bytes);
  pthread_mutex_unlock(&g_region_lock);
}

void hk_region_remove(hk_region_t *r, uint16_t tid) {
  pthread_mutex_lock(&g_region_lock);
  if (r->prev) r->prev->next = r->next;
  else g_region_head = r->next;
  if (r->next) r->next->prev = r->prev;
  else g_region_tail = r->prev;
  r->next = r->prev = NULL;
  g_regions_live--;
  trace_ev0(HKT_REGION_UNMAP, tid, r->id, r->base);
  pthread_mutex_unlock(&g_region_lock);
}
