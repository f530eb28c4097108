/**
 * The LRU cache of empty SuperSlabs, bounded by count, bytes and TTL (I6).
 * docs/allocator.md section 4 (lru_push, lru_expire, lru_evict).
 *
 * The array `st.lru` keeps the back (oldest) at index 0 and the front (most
 * recently pushed) at the end.
 */
import type { Heap, SuperSlab } from './state.js';

/** lru_push(ss): expire, put ss at the front with pushed_at = vclock, then evict from the back to the bounds. */
export function lruPush(h: Heap, ss: SuperSlab): void {
  lruExpire(h);
  const st = h.st;
  ss.inLru = true;
  ss.pushedAt = st.vclock;
  st.lru.push(ss.regionId);
  h.lruOps++;
  if (h.internal) h.emit({ op: 'lru_push', regionId: ss.regionId, vclock: st.vclock });
  const cfg = h.cfg;
  while (st.lru.length > cfg.lruMaxCount || st.lru.length * cfg.superslabSizeBytes > cfg.lruMaxBytes) {
    lruEvictBack(h);
  }
}

/** lru_expire(): evict from the back while the back entry is older than lru_ttl_ticks. */
export function lruExpire(h: Heap): void {
  const st = h.st;
  while (st.lru.length > 0 && st.vclock - h.superslab(st.lru[0]).pushedAt > h.cfg.lruTtlTicks) lruEvictBack(h);
}

/** lru_evict(back): remove it and unmap it (LRU_EVICT, REGION_UNMAP). */
export function lruEvictBack(h: Heap): void {
  const st = h.st;
  const id = st.lru.shift() as number;
  const ss = h.superslab(id);
  ss.inLru = false;
  h.lruOps++;
  if (h.internal) h.emit({ op: 'lru_evict', regionId: id, vclock: st.vclock });
  h.deleteRegion(id);
  st.superslabsMapped--;
  h.emit({ op: 'region_unmap', regionId: id });
}

/** Take the most recently pushed entry out (LRU_POP, REGION_REUSE); null if the LRU is empty. */
export function lruPopFront(h: Heap): SuperSlab | null {
  const st = h.st;
  if (st.lru.length === 0) return null;
  const id = st.lru.pop() as number;
  const ss = h.superslab(id);
  ss.inLru = false;
  h.lruOps++;
  if (h.internal) h.emit({ op: 'lru_pop', regionId: id, vclock: st.vclock });
  h.emit({ op: 'region_reuse', regionId: id });
  return ss;
}

/** Bytes held by the LRU. */
export function lruBytes(h: Heap): number {
  return h.st.lru.length * h.cfg.superslabSizeBytes;
}
