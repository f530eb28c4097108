/**
 * Slab metadata and the two operations every slab and pool page shares: take
 * (blocks out, in the contract's order) and drain (the remote queue back into
 * the freelist). docs/allocator.md section 4.
 */
import { IN_REMOTE, LIVE, NONE, newSlabMeta, type Heap, type SlabMeta, type SuperSlab } from './state.js';
import { RegionKind } from './types.js';

/** A fresh SuperSlab descriptor (all slabs free). */
export function newSuperSlab(h: Heap, regionId: number): SuperSlab {
  const slabs: SlabMeta[] = [];
  for (let i = 0; i < h.nSlabs; i++) slabs.push(newSlabMeta(regionId, i));
  return {
    kind: RegionKind.SuperSlab,
    regionId,
    sizeBytes: h.cfg.superslabSizeBytes,
    inLru: false,
    pushedAt: 0,
    slabsInUse: 0,
    slabs,
  };
}

/** Give a free slab (or page) its class: used 0, carved 0, freelist and remote empty. */
export function initSlabMeta(s: SlabMeta, classIdx: number, classSize: number, regionBytes: number, owner: number): void {
  s.classIdx = classIdx;
  s.classSize = classSize;
  s.capacityBlocks = Math.floor(regionBytes / classSize);
  s.usedBlocks = 0;
  s.carvedBlocks = 0;
  if (s.freelist.length !== 0) s.freelist.length = 0;
  if (s.remote.length !== 0) s.remote.length = 0;
  s.owner = owner;
  if (s.live.length < s.capacityBlocks) s.live = new Uint8Array(s.capacityBlocks);
  else s.live.fill(0, 0, s.capacityBlocks);
}

/** A released slab (or page): no class, no owner, freelist and remote empty, carved 0. */
export function resetSlabMeta(s: SlabMeta): void {
  s.classIdx = NONE;
  s.classSize = 0;
  s.capacityBlocks = 0;
  s.usedBlocks = 0;
  s.carvedBlocks = 0;
  if (s.freelist.length !== 0) s.freelist.length = 0;
  if (s.remote.length !== 0) s.remote.length = 0;
  s.owner = NONE;
}

/**
 * take(s, want): up to `want` blocks, appended to h.got (which the caller
 * clears), in this order: freelist pops, then uncarved blocks, draining the
 * remote queue when both run out. Returns the number taken.
 */
export function take(h: Heap, s: SlabMeta, want: number): number {
  const out = h.got;
  let n = 0;
  while (n < want) {
    if (s.freelist.length > 0) {
      out.push(s.freelist.pop() as number);
    } else if (s.carvedBlocks < s.capacityBlocks) {
      out.push(s.carvedBlocks++);
    } else if (s.remote.length > 0) {
      drain(h, s);
      continue;
    } else {
      break;
    }
    n++;
  }
  s.usedBlocks += n;
  return n;
}

/**
 * drain(s): the whole remote queue onto the freelist, newest push on top; live
 * bits cleared; used reduced. Emits DRAIN. Owner only.
 */
export function drain(h: Heap, s: SlabMeta): void {
  const chain = s.remote;
  const n = chain.length;
  // chain is oldest-first; pushing in that order leaves the newest on top.
  for (let i = 0; i < n; i++) {
    const b = chain[i];
    s.live[b] = 0;
    s.freelist.push(b);
  }
  if (chain.length !== 0) chain.length = 0;
  s.usedBlocks -= n;
  if (h.internal) h.emit({ op: 'drain', regionId: s.regionId, slabIndex: s.slabIndex, blocks: n });
}

/** Push a block onto a slab's remote queue (a free by a thread that does not own the slab). */
export function pushRemote(s: SlabMeta, block: number): void {
  s.live[block] |= IN_REMOTE;
  s.remote.push(block);
}

export function isLive(s: SlabMeta, block: number): boolean {
  return (s.live[block] & LIVE) !== 0;
}
