/**
 * Read-only views of the twin's state, for invariant checks and the TUI.
 * Built on demand (they allocate); never used on the hot path.
 */
import { IN_REMOTE, LIVE, NONE, type Heap, type SlabMeta } from './state.js';
import { RegionKind } from './types.js';

export interface SlabView {
  regionId: number;
  /** Slab index; 0 for a pool page. */
  slabIndex: number;
  /** Tiny or pool class; -1 when free. */
  classIdx: number;
  classSize: number;
  capacityBlocks: number;
  usedBlocks: number;
  carvedBlocks: number;
  /** Block indices, top (next popped) first. */
  freelist: number[];
  /** Block indices, newest push first (the order drain puts on the freelist). */
  remote: number[];
  /** Thread index, or -1. */
  owner: number;
  /** Block indices whose live bit is set, ascending. */
  live: number[];
  /** An orphan: in use, no owner. */
  orphan: boolean;
}

export type RegionView =
  | { kind: RegionKind.SuperSlab; regionId: number; sizeBytes: number; inLru: boolean; pushedAt: number; bitmap: bigint; slabs: SlabView[] }
  | { kind: RegionKind.PoolPage; regionId: number; sizeBytes: number; onFreeStack: boolean; page: SlabView }
  | { kind: RegionKind.Large; regionId: number; sizeBytes: number; requestedBytes: number; alignBytes: number; cached: boolean };

export interface BlockView {
  regionId: number;
  slabIndex: number;
  blockIndex: number;
}

export interface ThreadView {
  tid: number;
  /** False for a thread that called again after its exit flush (not in the digest, never flushed). */
  registered: boolean;
  /** Per tiny class: the TLS list, top first. */
  tlsList: BlockView[][];
  /** Per tiny class: owned slabs, oldest first. */
  ownedSlabs: { regionId: number; slabIndex: number }[][];
  /** Per pool class: owned page ids, oldest first. */
  ownedPages: number[][];
}

export interface LruEntryView {
  regionId: number;
  pushedAt: number;
}

export interface SharedView {
  vclock: number;
  nextRegionId: number;
  /** Front (most recently pushed) first. */
  lru: LruEntryView[];
  /** Per tiny class, front first. */
  orphanSlabs: { regionId: number; slabIndex: number }[][];
  /** Per pool class, front first. */
  orphanPages: number[][];
  /** Top first. */
  freePages: number[];
  /** The large cache's region ids, most recently freed first. */
  largeCache: number[];
}

export function slabView(s: SlabMeta): SlabView {
  const live: number[] = [];
  for (let b = 0; b < s.carvedBlocks; b++) if (s.live[b] & LIVE) live.push(b);
  return {
    regionId: s.regionId,
    slabIndex: s.slabIndex,
    classIdx: s.classIdx,
    classSize: s.classSize,
    capacityBlocks: s.capacityBlocks,
    usedBlocks: s.usedBlocks,
    carvedBlocks: s.carvedBlocks,
    freelist: [...s.freelist].reverse(),
    remote: [...s.remote].reverse(),
    owner: s.owner,
    live,
    orphan: s.classIdx !== NONE && s.owner === NONE,
  };
}

export function regionViews(h: Heap): RegionView[] {
  const out: RegionView[] = [];
  for (const r of h.st.regions.values()) {
    if (r.kind === RegionKind.SuperSlab) {
      let bitmap = 0n;
      const slabs: SlabView[] = [];
      r.slabs.forEach((s, i) => {
        if (s.classIdx === NONE) return;
        bitmap |= 1n << BigInt(i);
        slabs.push(slabView(s));
      });
      out.push({ kind: r.kind, regionId: r.regionId, sizeBytes: r.sizeBytes, inLru: r.inLru, pushedAt: r.pushedAt, bitmap, slabs });
    } else if (r.kind === RegionKind.PoolPage) {
      out.push({ kind: r.kind, regionId: r.regionId, sizeBytes: r.sizeBytes, onFreeStack: r.onFreeStack, page: slabView(r.page) });
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

export function threadViews(h: Heap): ThreadView[] {
  const span = h.blockSpan;
  const tids = [...h.st.threads.keys()].sort((a, b) => a - b);
  return tids.map((tid) => {
    const t = h.st.threads.get(tid)!;
    return {
      tid,
      registered: t.registered,
      tlsList: t.tlsList.map((list) =>
        [...list].reverse().map((key) => {
          const sk = Math.floor(key / span);
          return { regionId: Math.floor(sk / 64), slabIndex: sk % 64, blockIndex: key - sk * span };
        }),
      ),
      ownedSlabs: t.ownedSlabs.map((keys) => keys.map(slabRef)),
      ownedPages: t.ownedPages.map((ids) => [...ids]),
    };
  });
}

export function sharedView(h: Heap): SharedView {
  const st = h.st;
  return {
    vclock: st.vclock,
    nextRegionId: st.nextRegionId,
    lru: [...st.lru].reverse().map((id) => ({ regionId: id, pushedAt: h.superslab(id).pushedAt })),
    orphanSlabs: st.orphanSlabs.map((keys) => keys.map(slabRef)),
    orphanPages: st.orphanPages.map((ids) => [...ids]),
    freePages: [...st.freePages].reverse(),
    largeCache: [...st.largeCache].reverse(),
  };
}

function slabRef(key: number): { regionId: number; slabIndex: number } {
  return { regionId: Math.floor(key / 64), slabIndex: key % 64 };
}

/** True when the block sits in its slab's remote queue (model-only knowledge). */
export function inRemote(s: SlabMeta, block: number): boolean {
  return (s.live[block] & IN_REMOTE) !== 0;
}
