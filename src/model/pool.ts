/**
 * The pool path (mid sizes): per-thread owned pool pages, orphan pages and the
 * free-page stack. docs/allocator.md section 5.
 */
import { initSlabMeta, pushRemote, resetSlabMeta, take } from './superslab.js';
import { LIVE, newSlabMeta, type Heap, type PoolPage, type SlabMeta, type ThreadState } from './state.js';
import { RegionKind } from './types.js';

/**
 * pool_malloc(t, j): the first block take(pg, 1) gives over t's owned pages of
 * class j in order, else from newly acquired pages until one gives a block (an
 * adopted orphan may have none free). Returns the page (the block index is
 * h.got[0]) or null (ENOMEM).
 */
export function poolMalloc(h: Heap, t: ThreadState, j: number): SlabMeta | null {
  const got = h.got;
  const owned = t.ownedPages[j];
  // The pages before pageScanFrom[j] give nothing (see ThreadState.pageScanFrom).
  for (let i = t.pageScanFrom[j]; i < owned.length; i++) {
    const pg = h.page(owned[i]);
    // A page with no free, uncarved or remote block gives nothing (take would be a no-op).
    if (pg.freelist.length === 0 && pg.carvedBlocks >= pg.capacityBlocks && pg.remote.length === 0) continue;
    clearGot(got);
    if (take(h, pg, 1) === 1) {
      t.pageScanFrom[j] = i;
      pg.live[got[0]] = LIVE;
      return pg;
    }
  }
  t.pageScanFrom[j] = owned.length;
  for (;;) {
    const pg = poolAcquirePage(h, t, j);
    if (pg === null) return null;
    clearGot(got);
    if (take(h, pg, 1) === 1) {
      pg.live[got[0]] = LIVE;
      return pg;
    }
  }
}

/**
 * Empty h.got, which holds at most the one block of the last take(pg, 1): a pop is inlined
 * where setting the length is a call into the runtime (4% of mid_large_mt's replay).
 */
function clearGot(got: number[]): void {
  while (got.length !== 0) got.pop();
}

/** pool_acquire_page(t, j): orphan (FIFO), else the free-page stack's top, else a new page. */
export function poolAcquirePage(h: Heap, t: ThreadState, j: number): SlabMeta | null {
  const st = h.st;
  const orphans = st.orphanPages[j];
  if (orphans.length > 0) {
    const id = orphans.shift() as number;
    const pg = h.page(id);
    pg.owner = t.tid;
    t.ownedPages[j].push(id);
    return pg;
  }
  let region: PoolPage;
  if (st.freePages.length > 0) {
    const id = st.freePages.pop() as number;
    region = st.regions.get(id) as PoolPage;
    region.onFreeStack = false;
  } else {
    if (st.poolPagesMapped >= h.poolPageSlots) return null;
    const id = h.allocRegionId();
    region = {
      kind: RegionKind.PoolPage,
      regionId: id,
      sizeBytes: h.cfg.poolPageSizeBytes,
      onFreeStack: false,
      page: newSlabMeta(id, 0),
    };
    st.regions.set(id, region);
    st.poolPagesMapped++;
    h.emit({ op: 'region_map', regionId: id, regionKind: RegionKind.PoolPage, sizeBytes: region.sizeBytes });
  }
  initSlabMeta(region.page, j, h.cfg.poolClassSize[j], h.cfg.poolPageSizeBytes, t.tid);
  t.ownedPages[j].push(region.regionId);
  return region.page;
}

/** pool_free(t, b in pg), b already classified valid. */
export function poolFree(h: Heap, t: ThreadState, pg: SlabMeta, block: number): void {
  if (pg.owner === t.tid) {
    pg.live[block] = 0;
    pg.freelist.push(block);
    pg.usedBlocks--;
    if (pg.usedBlocks === 0) poolReleasePage(h, pg);
    else mayGive(t, pg);
  } else {
    pushRemote(pg, block);
    const owner = h.st.threads.get(pg.owner);
    if (owner !== undefined) mayGive(owner, pg);
  }
}

/** Page pg of thread t's owned pages has a block to give again: pool_malloc's walk must reach it. */
function mayGive(t: ThreadState, pg: SlabMeta): void {
  const from = t.pageScanFrom[pg.classIdx];
  if (from === 0) return;
  const at = t.ownedPages[pg.classIdx].indexOf(pg.regionId);
  if (at >= 0 && at < from) t.pageScanFrom[pg.classIdx] = at;
}

/**
 * pool_release_page(pg): remove it from its owner's owned pages; it becomes
 * free; onto the free-page stack if that holds fewer than
 * pool_free_pages_max_count pages, else unmapped.
 */
export function poolReleasePage(h: Heap, pg: SlabMeta): void {
  const st = h.st;
  const owner = st.threads.get(pg.owner);
  if (owner !== undefined) {
    const owned = owner.ownedPages[pg.classIdx];
    const at = owned.indexOf(pg.regionId);
    if (at >= 0) {
      owned.splice(at, 1);
      if (at < owner.pageScanFrom[pg.classIdx]) owner.pageScanFrom[pg.classIdx]--;
    }
  }
  resetSlabMeta(pg);
  const region = st.regions.get(pg.regionId) as PoolPage;
  if (st.freePages.length < h.cfg.poolFreePagesMaxCount) {
    region.onFreeStack = true;
    st.freePages.push(pg.regionId);
  } else {
    h.deleteRegion(pg.regionId);
    st.poolPagesMapped--;
    h.emit({ op: 'region_unmap', regionId: pg.regionId });
  }
}
