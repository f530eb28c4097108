/**
 * The shared pool (one lock in native): acquires and releases slabs, owns the
 * virtual clock, the orphan lists and the in-use SuperSlabs.
 * docs/allocator.md section 4, "Shared pool".
 */
import { lruExpire, lruPopFront, lruPush } from './lru.js';
import { initSlabMeta, newSuperSlab } from './superslab.js';
import { NONE, slabKey, type Heap, type SlabMeta, type SuperSlab, type ThreadState } from './state.js';
import { RegionKind } from './types.js';

/**
 * shared_pool_acquire_slab(t, c): vclock += 1, then the first of
 * 1. the front orphan of class c (adopted, keeps its blocks);
 * 2. the lowest clear slab of the in-use SuperSlab with the lowest region id;
 * 3. (after lru_expire) the LRU's most recent entry, slab 0;
 * 4. a new SuperSlab, slab 0.
 * Returns null when no SuperSlab slot is left (ENOMEM).
 */
export function acquireSlab(h: Heap, t: ThreadState, c: number): SlabMeta | null {
  const st = h.st;
  st.vclock += 1;
  const orphans = st.orphanSlabs[c];
  if (orphans.length > 0) {
    const key = orphans.shift() as number;
    const s = h.slab(key);
    s.owner = t.tid;
    t.ownedSlabs[c].push(key);
    return s;
  }
  if (st.nonFull.length > 0) {
    const ss = h.superslab(st.nonFull[0]);
    let i = 0;
    while (ss.slabs[i].classIdx !== NONE) i++;
    return initSlab(h, ss, i, t, c);
  }
  lruExpire(h);
  const reused = lruPopFront(h);
  if (reused !== null) {
    syncNonFull(h, reused);
    return initSlab(h, reused, 0, t, c);
  }
  if (st.superslabsMapped >= h.superslabSlots) return null;
  if (h.cfg.superslabMaxCount > 0 && st.superslabsMapped >= h.cfg.superslabMaxCount) return null;
  const id = h.allocRegionId();
  const ss = newSuperSlab(h, id);
  st.regions.set(id, ss);
  st.superslabsMapped++;
  h.emit({ op: 'region_map', regionId: id, regionKind: RegionKind.SuperSlab, sizeBytes: ss.sizeBytes });
  syncNonFull(h, ss);
  return initSlab(h, ss, 0, t, c);
}

/** init_slab(ss, i, t, c): set bit i, class c, empty, owner t, appended to t's owned_slabs[c]. */
function initSlab(h: Heap, ss: SuperSlab, i: number, t: ThreadState, c: number): SlabMeta {
  const s = ss.slabs[i];
  initSlabMeta(s, c, h.cfg.tinyClassSize[c], h.cfg.slabSizeBytes, t.tid);
  ss.slabsInUse++;
  syncNonFull(h, ss);
  t.ownedSlabs[c].push(slabKey(ss.regionId, i));
  return s;
}

/** shared_pool_release_slab(ss, i): vclock += 1; clear bit i; an all-clear SuperSlab goes to the LRU. */
export function releaseSharedSlab(h: Heap, ss: SuperSlab): void {
  h.st.vclock += 1;
  ss.slabsInUse--;
  if (ss.slabsInUse === 0) {
    removeNonFull(h, ss.regionId);
    lruPush(h, ss);
  } else {
    syncNonFull(h, ss);
  }
}

/** Keep st.nonFull (ascending ids of in-use SuperSlabs with a clear bit) in step with ss. */
function syncNonFull(h: Heap, ss: SuperSlab): void {
  const want = !ss.inLru && ss.slabsInUse < h.nSlabs;
  const list = h.st.nonFull;
  const at = lowerBound(list, ss.regionId);
  const has = at < list.length && list[at] === ss.regionId;
  if (want && !has) list.splice(at, 0, ss.regionId);
  else if (!want && has) list.splice(at, 1);
}

function removeNonFull(h: Heap, id: number): void {
  const list = h.st.nonFull;
  const at = lowerBound(list, id);
  if (at < list.length && list[at] === id) list.splice(at, 1);
}

function lowerBound(list: readonly number[], v: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
