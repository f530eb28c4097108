/**
 * The large path: one direct mapping per block. docs/allocator.md section 6.
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

/** large_malloc(size, align): a new region (REGION_MAP kind large), or null when it cannot fit the large area. */
export function largeMalloc(h: Heap, size: number, align: number): LargeRegion | null {
  const bytes = largeRegionBytes(h, size, align);
  if (!(bytes <= h.largeAreaBytes)) return null;
  const id = h.allocRegionId();
  const r: LargeRegion = { kind: RegionKind.Large, regionId: id, sizeBytes: bytes, requestedBytes: size, alignBytes: align };
  h.st.regions.set(id, r);
  h.emit({ op: 'region_map', regionId: id, regionKind: RegionKind.Large, sizeBytes: bytes });
  return r;
}

/** large_free: unmap (REGION_UNMAP). */
export function largeFree(h: Heap, r: LargeRegion): void {
  h.deleteRegion(r.regionId);
  h.emit({ op: 'region_unmap', regionId: r.regionId });
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
