/**
 * The tiny path: per-thread TLS lists, refill, spill and EMPTY detection.
 * docs/allocator.md sections 3 and 4.
 *
 * A TLS list holds *block keys* (slab key * blockSpan + block index); every
 * block in thread t's lists belongs to a slab t owns.
 */
import { acquireSlab, releaseSharedSlab } from './shared-pool.js';
import { pushRemote, resetSlabMeta, take } from './superslab.js';
import { LIVE, emptyLists, slabKey, type Heap, type SlabMeta, type ThreadState } from './state.js';

export function newThreadState(h: Heap, tid: number, registered: boolean): ThreadState {
  const cfg = h.cfg;
  return {
    tid,
    registered,
    tlsList: emptyLists(cfg.tinyClassCount),
    ownedSlabs: emptyLists(cfg.tinyClassCount),
    ownedPages: emptyLists(cfg.poolClassCount),
    pageScanFrom: new Array<number>(cfg.poolClassCount).fill(0),
  };
}

/**
 * tiny_malloc(t, c): the block key handed out, or -1 (ENOMEM). Sets the block's live bit and
 * leaves its slab in h.gotSlab and its index there in h.gotBlock.
 */
export function tinyMalloc(h: Heap, t: ThreadState, c: number): number {
  const list = t.tlsList[c];
  if (list.length === 0 && !refill(h, t, c)) return -1;
  const key = list.pop() as number;
  const sk = Math.floor(key / h.blockSpan);
  const s = h.slab(sk);
  const b = key - sk * h.blockSpan;
  s.live[b] = LIVE;
  h.gotSlab = s;
  h.gotBlock = b;
  return key;
}

/**
 * refill(t, c): take up to tls_refill_blocks from t's owned slabs of class c in
 * order; if none, acquire slabs from the shared pool until one gives blocks (an
 * adopted orphan may have none free; it stays owned). got[0] ends on top of the
 * TLS list. Emits REFILL(c, n) after the blocks are moved. Returns false (ENOMEM)
 * when an acquire fails.
 */
export function refill(h: Heap, t: ThreadState, c: number): boolean {
  const want = h.cfg.tlsRefillBlocks;
  const got = h.got;
  if (got.length !== 0) got.length = 0;
  const owned = t.ownedSlabs[c];
  for (let i = 0; i < owned.length && got.length < want; i++) {
    takeKeys(h, owned[i], want - got.length);
  }
  // Bounded: each pass adopts one orphan (finitely many) or gets a fresh, non-empty slab.
  while (got.length === 0) {
    const s = acquireSlab(h, t, c);
    if (s === null) return false;
    takeKeys(h, slabKey(s.regionId, s.slabIndex), want);
  }
  const n = got.length;
  const list = t.tlsList[c];
  for (let i = n - 1; i >= 0; i--) list.push(got[i]);
  if (n > 0 && h.internal) h.emit({ op: 'refill', classIdx: c, blocks: n });
  return n > 0;
}

/** take() from one slab, turning the block indices appended to h.got into block keys. */
function takeKeys(h: Heap, sk: number, want: number): void {
  const got = h.got;
  const start = got.length;
  take(h, h.slab(sk), want);
  const base = sk * h.blockSpan;
  for (let i = start; i < got.length; i++) got[i] += base;
}

/** tiny_free(t, b in s), b already classified valid. */
export function tinyFree(h: Heap, t: ThreadState, s: SlabMeta, block: number): void {
  if (s.owner === t.tid) {
    s.live[block] = 0;
    const list = t.tlsList[s.classIdx];
    list.push(slabKey(s.regionId, s.slabIndex) * h.blockSpan + block);
    if (list.length > h.cfg.tlsCapBlocks) spill(h, t, s.classIdx, h.cfg.tlsSpillBlocks);
  } else {
    pushRemote(s, block);
  }
}

/**
 * spill(t, c, n): pop n blocks (or all, if fewer) from the top of tls_list[c]
 * onto their slabs' freelists; emit SPILL(c, n); then, for each slab touched
 * in order of first touch, release it if its used count is 0.
 */
export function spill(h: Heap, t: ThreadState, c: number, n: number): void {
  const list = t.tlsList[c];
  if (n > list.length) n = list.length;
  if (n === 0) return;
  const touched = h.touched;
  if (touched.length !== 0) touched.length = 0;
  const span = h.blockSpan;
  for (let i = 0; i < n; i++) {
    const key = list.pop() as number;
    const sk = Math.floor(key / span);
    const s = h.slab(sk);
    s.freelist.push(key - sk * span);
    s.usedBlocks--;
    if (touched.indexOf(sk) < 0) touched.push(sk);
  }
  if (h.internal) h.emit({ op: 'spill', classIdx: c, blocks: n });
  // releaseSlab never uses h.touched, so iterating it in place is safe.
  for (let i = 0; i < touched.length; i++) {
    const s = h.slab(touched[i]);
    if (s.usedBlocks === 0) releaseSlab(h, s);
  }
}

/**
 * release_slab(s): emit SLAB_EMPTY; remove s from its owner's owned_slabs;
 * s becomes free; shared_pool_release_slab.
 */
export function releaseSlab(h: Heap, s: SlabMeta): void {
  if (h.internal) h.emit({ op: 'slab_empty', regionId: s.regionId, slabIndex: s.slabIndex });
  const owner = h.st.threads.get(s.owner);
  if (owner !== undefined) {
    const owned = owner.ownedSlabs[s.classIdx];
    const at = owned.indexOf(slabKey(s.regionId, s.slabIndex));
    if (at >= 0) owned.splice(at, 1);
  }
  resetSlabMeta(s);
  releaseSharedSlab(h, h.superslab(s.regionId));
}
