/**
 * Model-level seeded bugs ("variants"): each plants one known bug into a
 * HakmemModel instance, so the fuzzer can prove it finds that class of bug.
 *
 * src/model is not touched. A variant wraps the instance's public API methods
 * (malloc, calloc, memalign, realloc, free, threadExit) and mutates the model's
 * state (`model.state`, read-only by contract, writable in fact) just before or
 * just after the real call, in a controlled way that has exactly the effect of
 * the bug. The same variant is installed on both models of a fuzz case (the
 * one that plays the allocator and writes the trace, and the ReplayEngine's
 * twin), so they agree event by event and only the invariants can tell.
 *
 * | name              | the bug                                      | caught by |
 * |-------------------|----------------------------------------------|-----------|
 * | tls-leak          | a TLS list never spills (blocks freed into it never return to their slab) | I7 |
 * | no-empty          | EMPTY is never detected: a slab (or pool page) whose last block is freed stays in use | I5 |
 * | double-refill     | refill hands the same block out twice        | I1 |
 * | drain-loses-block | a remote drain subtracts one block too few from used: the block is lost to accounting | I3 |
 */
import type { HakmemModel, MemalignFn } from '../../model/allocator.js';
import { NONE, slabKey, type SlabMeta } from '../../model/state.js';
import { routeCode } from '../../model/route.js';
import { RegionKind, type AllocOutcome, type PointerRef } from '../../model/types.js';

export const MODEL_VARIANTS = ['tls-leak', 'no-empty', 'double-refill', 'drain-loses-block'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** The invariant each variant is expected to break (tests and docs). */
export const VARIANT_INVARIANT: Record<ModelVariant, string> = {
  'tls-leak': 'I7',
  'no-empty': 'I5',
  'double-refill': 'I1',
  'drain-loses-block': 'I3',
};

export function isModelVariant(name: string): name is ModelVariant {
  return (MODEL_VARIANTS as readonly string[]).includes(name);
}

/** Plant `variant` into `m` (instance-level method wrappers; src/model is untouched). */
export function installVariant(m: HakmemModel, variant: ModelVariant): void {
  switch (variant) {
    case 'tls-leak':
      return tlsLeak(m);
    case 'no-empty':
      return noEmpty(m);
    case 'double-refill':
      return doubleRefill(m);
    case 'drain-loses-block':
      return drainLosesBlock(m);
  }
}

/** The slab (or pool page) metadata of a mapped region's slab, or null. */
function slabMeta(m: HakmemModel, regionId: number, slabIndex: number): SlabMeta | null {
  const r = m.state.regions.get(regionId);
  if (r === undefined) return null;
  if (r.kind === RegionKind.SuperSlab) return r.slabs[slabIndex];
  if (r.kind === RegionKind.PoolPage) return r.page;
  return null;
}

/**
 * tls-leak: before an owner's free of a tiny block, the blocks of that class's
 * TLS list beyond cap - 1 are lifted off its bottom, so the free's push never
 * crosses the cap and never spills; they are put back afterwards. The list
 * grows past tls_cap_blocks (I7).
 */
function tlsLeak(m: HakmemModel): void {
  const cap = m.cfg.tlsCapBlocks;
  const hide = (tid: number, ref: PointerRef): (() => void) | null => {
    const p = m.locate(ref);
    if (p === null || p.kind !== RegionKind.SuperSlab) return null;
    const s = slabMeta(m, p.regionId, p.slabIndex);
    const t = m.state.threads.get(tid);
    if (s === null || t === undefined || s.owner !== tid) return null;
    const list = t.tlsList[p.classIdx];
    const excess = list.length - (cap - 1);
    if (excess <= 0) return null;
    const hidden = list.splice(0, excess);
    return () => list.unshift(...hidden);
  };
  const free = m.free.bind(m);
  m.free = (tid, ref) => {
    const back = hide(tid, ref);
    try {
      return free(tid, ref);
    } finally {
      back?.();
    }
  };
  const realloc = m.realloc.bind(m);
  m.realloc = (tid, old, size) => {
    const back = hide(tid, old);
    try {
      return realloc(tid, old, size);
    } finally {
      back?.();
    }
  };
}

/**
 * no-empty: during every free, realloc and thread exit, every slab and pool
 * page in use counts one extra used block, so none reaches 0 and none is
 * released; the extra count is taken back afterwards. A slab whose blocks are
 * all free stays in use (I5).
 */
function noEmpty(m: HakmemModel): void {
  const bump = (): SlabMeta[] => {
    const out: SlabMeta[] = [];
    for (const r of m.state.regions.values()) {
      if (r.kind === RegionKind.SuperSlab) {
        if (r.inLru) continue;
        for (const s of r.slabs) if (s.classIdx !== NONE) out.push(s);
      } else if (r.kind === RegionKind.PoolPage && r.page.classIdx !== NONE) out.push(r.page);
    }
    for (const s of out) s.usedBlocks++;
    return out;
  };
  const unbump = (list: SlabMeta[]) => {
    for (const s of list) s.usedBlocks--;
  };
  const free = m.free.bind(m);
  m.free = (tid, ref) => {
    const b = bump();
    try {
      return free(tid, ref);
    } finally {
      unbump(b);
    }
  };
  const realloc = m.realloc.bind(m);
  m.realloc = (tid, old, size) => {
    const b = bump();
    try {
      return realloc(tid, old, size);
    } finally {
      unbump(b);
    }
  };
  const threadExit = m.threadExit.bind(m);
  m.threadExit = (tid) => {
    const b = bump();
    try {
      threadExit(tid);
    } finally {
      unbump(b);
    }
  };
}

/**
 * double-refill: after an allocation whose refill moved at least two blocks,
 * the block just handed out is remembered; just before that thread's next
 * plain tiny allocation of the same class, the top of the TLS list is
 * overwritten with it, so refill's batch held that block twice and it is
 * handed out again while still live (I1).
 */
function doubleRefill(m: HakmemModel): void {
  const pending = new Map<number, { classIdx: number; key: number }>();
  const span = m.blockSpan;
  const before = (tid: number, size: number): void => {
    const p = pending.get(tid);
    if (p === undefined || routeCode(m.cfg, size, 0) !== p.classIdx) return;
    const t = m.state.threads.get(tid);
    const list = t?.tlsList[p.classIdx];
    if (list === undefined || list.length === 0) return;
    list[list.length - 1] = p.key;
    pending.delete(tid);
  };
  const after = (tid: number, out: AllocOutcome): void => {
    const pl = out.placement;
    if (pl === null || pl.kind !== RegionKind.SuperSlab) return;
    for (const e of m.events) {
      if (e.op === 'refill' && e.blocks >= 2 && e.classIdx === pl.classIdx) {
        pending.set(tid, { classIdx: pl.classIdx, key: slabKey(pl.regionId, pl.slabIndex) * span + pl.blockIndex });
      }
    }
  };
  const malloc = m.malloc.bind(m);
  m.malloc = (tid, size) => {
    before(tid, size);
    const out = malloc(tid, size);
    after(tid, out);
    return out;
  };
  const calloc = m.calloc.bind(m);
  m.calloc = (tid, nmemb, size) => {
    before(tid, nmemb * size);
    const out = calloc(tid, nmemb, size);
    after(tid, out);
    return out;
  };
  const memalign = m.memalign.bind(m);
  m.memalign = (tid: number, fn: MemalignFn, align: number, size: number) => {
    const out = memalign(tid, fn, align, size);
    after(tid, out);
    return out;
  };
}

/**
 * drain-loses-block: a remote drain of n >= 1 blocks subtracts n - 1 from the
 * slab's used count instead of n: the block is moved but stays counted as
 * used, so it is lost to accounting (I3) and the slab can never become empty.
 * Drains inside take (an allocation): after the call, each drained slab counts
 * one more used block. Drains at thread exit (where a slab whose count reaches
 * 0 is released at once): before the call, each slab or pool page the thread
 * owns with a non-empty remote queue counts one more used block, so the drain
 * leaves it one too high and the slab is orphaned instead of released.
 */
function drainLosesBlock(m: HakmemModel): void {
  const after = (): void => {
    for (const e of m.events) {
      if (e.op !== 'drain' || e.blocks < 1) continue;
      const s = slabMeta(m, e.regionId, e.slabIndex);
      if (s !== null && s.classIdx !== NONE) s.usedBlocks++;
    }
  };
  // realloc calls the instance's malloc and free itself: only the outermost call counts.
  let depth = 0;
  const wrap = <A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) => {
    return (...args: A): R => {
      depth++;
      try {
        return fn(...args);
      } finally {
        if (--depth === 0) after();
      }
    };
  };
  m.malloc = wrap(m.malloc.bind(m));
  m.calloc = wrap(m.calloc.bind(m));
  m.memalign = wrap(m.memalign.bind(m));
  m.realloc = wrap(m.realloc.bind(m));
  m.free = wrap(m.free.bind(m));
  const threadExit = m.threadExit.bind(m);
  m.threadExit = (tid) => {
    const t = m.state.threads.get(tid);
    if (t !== undefined && t.registered) {
      for (const owned of t.ownedSlabs) {
        for (const key of owned) {
          const s = slabMeta(m, Math.floor(key / 64), key % 64);
          if (s !== null && s.remote.length > 0) s.usedBlocks++;
        }
      }
      for (const owned of t.ownedPages) {
        for (const id of owned) {
          const pg = slabMeta(m, id, 0);
          if (pg !== null && pg.remote.length > 0) pg.usedBlocks++;
        }
      }
    }
    threadExit(tid);
  };
}
