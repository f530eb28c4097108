/**
 * The large path: one direct mapping per block, and the large cache of freed mappings.
 * docs/allocator.md section 6.
 *
 * Native places a large mapping at an address aligned to the requested
 * alignment (first fit by address in the large half), so the block always
 * starts its mapping: offset 0, usable size = the mapping's size.
 */
import type { Heap, LargeRegion } from './state.js';
import { RegionKind } from './types.js';

export function roundUp(v: number, unit: number): number {
  return Math.ceil(v / unit) * unit;
}

/** The mapping size of a large block: round_up(size, large page) (+ align - large page when align > large page). */
export function largeRegionBytes(h: Heap, size: number, align: number): number {
  const lp = h.cfg.largePageBytes;
  return roundUp(size === 0 ? 1 : size, lp) + (align > lp ? align - lp : 0);
}

/**
 * large_cache_take(m): the most recent cached mapping of exactly m bytes, taken out of the
 * cache; null if none (only for align <= large_page_bytes, which every mapping's base suits).
 */
function largeCacheTake(h: Heap, bytes: number): LargeRegion | null {
  const st = h.st;
  for (let i = st.largeCache.length - 1; i >= 0; i--) {
    const r = h.region(st.largeCache[i]) as LargeRegion;
    if (r.sizeBytes !== bytes) continue;
    st.largeCache.splice(i, 1);
    st.largeCacheBytes -= bytes;
    r.cached = false;
    return r;
  }
  return null;
}

/**
 * large_malloc(size, align): for align <= large_page_bytes, the most recently cached mapping of
 * exactly the mapping size (REGION_REUSE); else a new region (REGION_MAP kind large), or null
 * when it cannot fit the large area.
 */
export function largeMalloc(h: Heap, size: number, align: number): LargeRegion | null {
  const bytes = largeRegionBytes(h, size, align);
  if (align <= h.cfg.largePageBytes && h.st.largeCache.length > 0) {
    const r = largeCacheTake(h, bytes);
    if (r !== null) {
      r.requestedBytes = size;
      r.alignBytes = align;
      h.emit({ op: 'region_reuse', regionId: r.regionId });
      return r;
    }
  }
  if (!(bytes <= h.largeAreaBytes)) return null;
  const id = h.allocRegionId();
  const r: LargeRegion = { kind: RegionKind.Large, regionId: id, sizeBytes: bytes, requestedBytes: size, alignBytes: align, cached: false };
  h.st.regions.set(id, r);
  h.emit({ op: 'region_map', regionId: id, regionKind: RegionKind.Large, sizeBytes: bytes });
  return r;
}

/**
 * large_free: into the large cache when it takes mappings of this size (at most
 * large_cache_max_bytes), evicting the oldest (REGION_UNMAP) while it holds more than
 * large_cache_max_count mappings or large_cache_max_bytes bytes; else unmap (REGION_UNMAP).
 */
export function largeFree(h: Heap, r: LargeRegion): void {
  const cfg = h.cfg;
  if (cfg.largeCacheMaxCount === 0 || r.sizeBytes > cfg.largeCacheMaxBytes) {
    largeUnmap(h, r.regionId);
    return;
  }
  const st = h.st;
  r.cached = true;
  st.largeCache.push(r.regionId);
  st.largeCacheBytes += r.sizeBytes;
  // Bounded: each pass removes one entry.
  while (st.largeCache.length > cfg.largeCacheMaxCount || st.largeCacheBytes > cfg.largeCacheMaxBytes) {
    const old = h.region(st.largeCache.shift() as number) as LargeRegion;
    st.largeCacheBytes -= old.sizeBytes;
    largeUnmap(h, old.regionId);
  }
}

/** large_unmap: the region goes for good (REGION_UNMAP). */
function largeUnmap(h: Heap, id: number): void {
  h.deleteRegion(id);
  h.emit({ op: 'region_unmap', regionId: id });
}

/**
 * realloc large -> large: keep the region id; when round_up(size, large page)
 * differs from the mapping's size, grow, shrink or move it (REGION_REMAP with
 * the new size). Returns false when the new size cannot fit (ENOMEM).
 */
export function largeRealloc(h: Heap, r: LargeRegion, size: number): boolean {
  const bytes = largeRegionBytes(h, size, 0);
  if (bytes === r.sizeBytes) return true;
  if (!(bytes <= h.largeAreaBytes)) return false;
  r.sizeBytes = bytes;
  r.requestedBytes = size;
  r.alignBytes = 0;
  h.emit({ op: 'region_remap', regionId: r.regionId, sizeBytes: bytes });
  return true;
}
