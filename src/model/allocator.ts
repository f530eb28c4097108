/**
 * HakmemModel: the TypeScript twin of the hakmem allocator.
 *
 * It follows docs/allocator.md decision for decision and predicts where the
 * real allocator places every block: (region id, slab index, block index).
 * It never sees addresses: pointers arrive as PointerRefs (region id + offset)
 * that the engine resolved from the trace's region events.
 *
 * Events: every decision that a trace can also record (region map, unmap,
 * reuse, remap, and with `internalEvents` the internal ones) is appended to
 * `events` in the order native would record it. The engine calls
 * `takeEvents()` after each call; it returns the events so far and starts a
 * new list (when there are none it returns a shared, frozen empty array).
 *
 * API failures follow section 7: a failed call returns a null placement and
 * errno ENOMEM or EINVAL; an INVALID or FOREIGN pointer leaves the state alone.
 */
import { type HakmemConfig } from './config.js';
import { digest } from './digest.js';
import { largeFree, largeMalloc, largeRealloc, roundUp } from './large.js';
import { poolFree, poolMalloc, poolReleasePage } from './pool.js';
import { ROUTE_LARGE, ROUTE_POOL, Router } from './route.js';
import {
  Heap,
  LIVE,
  NONE,
  newModelState,
  type LargeRegion,
  type ModelState,
  type SlabMeta,
  type ThreadState,
} from './state.js';
import { drain } from './superslab.js';
import { newThreadState, releaseSlab, spill, tinyFree, tinyMalloc } from './tls.js';
import {
  EINVAL,
  ENOMEM,
  RegionKind,
  Verdict,
  type AllocOutcome,
  type FreeOutcome,
  type ModelEvent,
  type Placement,
  type PointerRef,
  type ReallocOutcome,
} from './types.js';
import {
  regionViews,
  sharedView,
  threadViews,
  type LruEntryView,
  type RegionView,
  type SharedView,
  type ThreadView,
} from './view.js';

export type MemalignFn = 'posix_memalign' | 'aligned_alloc' | 'memalign' | 'valloc' | 'pvalloc';

/** valloc and pvalloc use this page size (docs/allocator.md section 7). */
export const PAGE_BYTES = 4096;
/** PTRDIFF_MAX on LP64 (as a double it rounds to 2^63; anything that large fails anyway). */
const PTRDIFF_MAX = 2 ** 63 - 1;
/** sizeof(void *) for posix_memalign. */
const POINTER_BYTES = 8;

export interface ModelOptions {
  /** Record internal decisions (refill, spill, drain, slab_empty, lru_*). Default true. */
  internalEvents?: boolean;
  /**
   * malloc, calloc, memalign and a moving realloc answer a successful call with the same two
   * objects (the outcome and its placement), overwritten by the next such call. For a caller
   * that reads the answer at once and keeps none of it: the replay engine, which made two
   * objects per allocation otherwise. Default false (fresh objects).
   */
  reuseOutcomes?: boolean;
}

/** A deep copy of the twin's state. */
export interface ModelSnapshot {
  readonly state: ModelState;
}

const enum Cls {
  Invalid = 0,
  Tiny = 1,
  Pool = 2,
  Large = 3,
}

const NO_EVENTS: ModelEvent[] = Object.freeze([]) as unknown as ModelEvent[];
const FREE_OK: FreeOutcome = Object.freeze({ verdict: Verdict.Ok });
const FREE_NULL: FreeOutcome = Object.freeze({ verdict: Verdict.Null });
const FREE_FOREIGN: FreeOutcome = Object.freeze({ verdict: Verdict.Foreign });
const FREE_INVALID: FreeOutcome = Object.freeze({ verdict: Verdict.Invalid });

function failed(errno: number): AllocOutcome {
  return { placement: null, errno };
}

function blankPlacement(): Placement {
  return { regionId: 0, slabIndex: 0, blockIndex: 0, offset: 0, kind: RegionKind.SuperSlab, classIdx: 0, usableBytes: 0 };
}

function isPow2(v: number): boolean {
  return v > 0 && Number.isInteger(v) && 2 ** Math.round(Math.log2(v)) === v;
}

export class HakmemModel {
  readonly cfg: Readonly<HakmemConfig>;
  private readonly h: Heap;
  private readonly router: Router;
  // Result registers of classify() (no allocation per call).
  private cSlab: SlabMeta | null = null;
  private cBlock = 0;
  private cLarge: LargeRegion | null = null;
  /** thread()'s last answer (a memo of st.threads.get; only threadExit deletes from it). */
  private lastTid = -1;
  private lastThread: ThreadState | null = null;
  private lastTidSt: ModelState | null = null;
  /** With reuseOutcomes: what allocate() answers with (null: fresh objects per call). */
  private readonly reused: { outcome: AllocOutcome; placement: Placement } | null;

  constructor(cfg: Readonly<HakmemConfig>, opts: ModelOptions = {}) {
    this.cfg = cfg;
    this.reused = opts.reuseOutcomes ? { outcome: { placement: null, errno: 0 }, placement: blankPlacement() } : null;
    this.h = new Heap(cfg, newModelState(cfg), opts.internalEvents ?? true);
    this.router = new Router(cfg);
  }

  // ---------------------------------------------------------------- events

  /** Events since the last takeEvents()/clearEvents(), oldest first. */
  get events(): readonly ModelEvent[] {
    return this.h.events;
  }

  /** The events so far; the model starts a new list. */
  takeEvents(): ModelEvent[] {
    const e = this.h.events;
    if (e.length === 0) return NO_EVENTS;
    this.h.events = [];
    return e;
  }

  clearEvents(): void {
    this.h.events.length = 0;
  }

  // --------------------------------------------------------------- threads

  /**
   * THREAD_START: the thread becomes live (empty TLS lists). A no-op if it
   * already has state, or (unregistered) if its exit flush has run.
   */
  threadStart(tid: number): void {
    this.thread(tid);
  }

  /**
   * Thread exit (section 8), in this order: (1) each tiny class ascending, the
   * whole TLS list back to its slabs as in spill, then the EMPTY checks; (2) each
   * tiny class ascending, each owned slab in order: drain if its remote queue
   * is not empty, release if used == 0, else orphan; (3) the same for each pool
   * class's owned pages. The thread is then no longer live. A thread whose exit
   * flush already ran (it called again afterwards) is not flushed again.
   */
  threadExit(tid: number): void {
    const h = this.h;
    const t = h.st.threads.get(tid);
    if (t === undefined || !t.registered) return;
    const cfg = this.cfg;
    for (let c = 0; c < cfg.tinyClassCount; c++) spill(h, t, c, t.tlsList[c].length);
    for (let c = 0; c < cfg.tinyClassCount; c++) {
      const keys = t.ownedSlabs[c].slice();
      for (const key of keys) {
        const s = h.slab(key);
        if (s.remote.length > 0) drain(h, s);
        if (s.usedBlocks === 0) {
          releaseSlab(h, s);
        } else {
          s.owner = NONE;
          h.st.orphanSlabs[c].push(key);
        }
      }
      if (t.ownedSlabs[c].length !== 0) t.ownedSlabs[c].length = 0;
    }
    for (let j = 0; j < cfg.poolClassCount; j++) {
      const ids = t.ownedPages[j].slice();
      for (const id of ids) {
        const pg = h.page(id);
        if (pg.remote.length > 0) drain(h, pg);
        if (pg.usedBlocks === 0) {
          poolReleasePage(h, pg);
        } else {
          pg.owner = NONE;
          h.st.orphanPages[j].push(id);
        }
      }
      if (t.ownedPages[j].length !== 0) t.ownedPages[j].length = 0;
    }
    h.st.threads.delete(tid);
    h.st.exited.set(tid, 1);
    if (tid === this.lastTid) this.lastTidSt = null;
  }

  private thread(tid: number): ThreadState {
    const st = this.h.st;
    // Consecutive calls are mostly one thread's: the last answer, while st and its entry stand.
    if (tid === this.lastTid && st === this.lastTidSt) return this.lastThread as ThreadState;
    let t = st.threads.get(tid);
    if (t === undefined) {
      t = newThreadState(this.h, tid, !st.exited.has(tid));
      st.threads.set(tid, t);
    }
    this.lastTid = tid;
    this.lastThread = t;
    this.lastTidSt = st;
    return t;
  }

  // ------------------------------------------------------------ allocation

  malloc(tid: number, size: number): AllocOutcome {
    const t = this.thread(tid);
    if (!(size <= PTRDIFF_MAX)) return failed(ENOMEM);
    return this.allocate(t, size, 0);
  }

  /** calloc(m, n): m * n overflowing (or beyond any mapping) is ENOMEM. */
  calloc(tid: number, nmemb: number, size: number): AllocOutcome {
    const t = this.thread(tid);
    const total = nmemb * size;
    if (!(total <= Number.MAX_SAFE_INTEGER)) return failed(ENOMEM);
    return this.allocate(t, total, 0);
  }

  /**
   * The aligned family. posix_memalign's errno field carries its return code.
   * valloc and pvalloc ignore `align` and use PAGE_BYTES.
   */
  memalign(tid: number, fn: MemalignFn, align: number, size: number): AllocOutcome {
    const t = this.thread(tid);
    switch (fn) {
      case 'posix_memalign':
        if (!isPow2(align) || align % POINTER_BYTES !== 0) return failed(EINVAL);
        break;
      case 'aligned_alloc':
      case 'memalign':
        if (!isPow2(align)) return failed(EINVAL);
        break;
      case 'valloc':
        align = PAGE_BYTES;
        break;
      case 'pvalloc':
        align = PAGE_BYTES;
        size = roundUp(Math.max(size, 1), PAGE_BYTES);
        break;
    }
    if (!(size <= PTRDIFF_MAX)) return failed(ENOMEM);
    return this.allocate(t, size, align);
  }

  /** route, then the tiny, pool or large path for thread t. */
  private allocate(t: ThreadState, size: number, align: number): AllocOutcome {
    if (size === 0) size = 1;
    const code = this.router.code(size, align);
    const h = this.h;
    const into = this.reused === null ? blankPlacement() : this.reused.placement;
    let placement: Placement;
    if (code === ROUTE_LARGE) {
      const r = largeMalloc(h, size, align);
      if (r === null) return failed(ENOMEM);
      placement = this.largePlacement(r, into);
    } else if (code >= ROUTE_POOL) {
      const pg = poolMalloc(h, t, code - ROUTE_POOL);
      if (pg === null) return failed(ENOMEM);
      placement = this.poolPlacement(pg, h.got[0], into);
    } else {
      const key = tinyMalloc(h, t, code);
      if (key < 0) return failed(ENOMEM);
      placement = this.tinyPlacement(h.gotSlab as SlabMeta, h.gotBlock, into);
    }
    if (this.reused === null) return { placement, errno: 0 };
    const out = this.reused.outcome;
    out.placement = placement;
    out.errno = 0;
    return out;
  }

  // ------------------------------------------------------------------ free

  free(tid: number, ref: PointerRef): FreeOutcome {
    const t = this.thread(tid);
    switch (ref.kind) {
      case 'null':
        return FREE_NULL;
      case 'foreign':
        return FREE_FOREIGN;
      case 'unmapped':
        return FREE_INVALID;
      case 'region': {
        const cls = this.classify(ref.regionId, ref.offset);
        if (cls === Cls.Invalid) return FREE_INVALID;
        this.freeClassified(t, cls);
        return FREE_OK;
      }
    }
  }

  /** Free the block classify() found. */
  private freeClassified(t: ThreadState, cls: Cls): void {
    if (cls === Cls.Tiny) tinyFree(this.h, t, this.cSlab as SlabMeta, this.cBlock);
    else if (cls === Cls.Pool) poolFree(this.h, t, this.cSlab as SlabMeta, this.cBlock);
    else largeFree(this.h, this.cLarge as LargeRegion);
  }

  // --------------------------------------------------------------- realloc

  /**
   * realloc (section 7): NULL old = malloc; size 0 = free, null result; FOREIGN =
   * malloc (+ the next allocator's free); INVALID = EINVAL; a tiny or pool block
   * whose class route(size) picks stays; large to large keeps the region (remap
   * when the rounded size changes); else malloc, then free of the old block.
   */
  realloc(tid: number, old: PointerRef, size: number): ReallocOutcome {
    const t = this.thread(tid);
    if (old.kind === 'null') {
      const a = this.malloc(tid, size);
      return { placement: a.placement, verdict: Verdict.Null, errno: a.errno, inPlace: false };
    }
    if (size === 0) {
      return { placement: null, verdict: this.free(tid, old).verdict, errno: 0, inPlace: false };
    }
    if (old.kind === 'foreign') {
      const a = this.malloc(tid, size);
      return { placement: a.placement, verdict: Verdict.Foreign, errno: a.errno, inPlace: false };
    }
    if (old.kind === 'unmapped') return { placement: null, verdict: Verdict.Invalid, errno: EINVAL, inPlace: false };
    const cls = this.classify(old.regionId, old.offset);
    if (cls === Cls.Invalid) return { placement: null, verdict: Verdict.Invalid, errno: EINVAL, inPlace: false };
    const done = (placement: Placement | null, errno: number, inPlace: boolean): ReallocOutcome => ({
      placement,
      verdict: Verdict.Ok,
      errno,
      inPlace,
    });
    if (!(size <= PTRDIFF_MAX)) return done(null, ENOMEM, false);
    const code = this.router.plain(size);
    const slab = this.cSlab as SlabMeta;
    if (cls === Cls.Tiny && code === slab.classIdx) return done(this.tinyPlacement(slab, this.cBlock), 0, true);
    if (cls === Cls.Pool && code === ROUTE_POOL + slab.classIdx) return done(this.poolPlacement(slab, this.cBlock), 0, true);
    if (cls === Cls.Large && code === ROUTE_LARGE) {
      const r = this.cLarge as LargeRegion;
      if (!largeRealloc(this.h, r, size)) return done(null, ENOMEM, false);
      return done(this.largePlacement(r), 0, true);
    }
    // Move: keep what classify found, since malloc reuses the registers.
    const oldSlab = this.cSlab;
    const oldBlock = this.cBlock;
    const oldLarge = this.cLarge;
    const a = this.allocate(t, size, 0);
    if (a.placement === null) return done(null, a.errno, false);
    this.cSlab = oldSlab;
    this.cBlock = oldBlock;
    this.cLarge = oldLarge;
    this.freeClassified(t, cls);
    return done(a.placement, 0, false);
  }

  // --------------------------------------------------------- introspection

  /** malloc_usable_size: the usable size of a live block; 0 for NULL and INVALID; -1 (unknown) for FOREIGN. */
  usableSize(ref: PointerRef): number {
    if (ref.kind === 'foreign') return -1;
    if (ref.kind !== 'region') return 0;
    const cls = this.classify(ref.regionId, ref.offset);
    if (cls === Cls.Invalid) return 0;
    if (cls === Cls.Large) return (this.cLarge as LargeRegion).sizeBytes;
    return (this.cSlab as SlabMeta).classSize;
  }

  /** The placement of a live block, or null; no state change. */
  locate(ref: PointerRef): Placement | null {
    if (ref.kind !== 'region') return null;
    const cls = this.classify(ref.regionId, ref.offset);
    switch (cls) {
      case Cls.Invalid:
        return null;
      case Cls.Tiny:
        return this.tinyPlacement(this.cSlab as SlabMeta, this.cBlock);
      case Cls.Pool:
        return this.poolPlacement(this.cSlab as SlabMeta, this.cBlock);
      case Cls.Large:
        return this.largePlacement(this.cLarge as LargeRegion);
    }
  }

  /**
   * Kept for the engine: native starts every large block at its mapping's base
   * (it aligns the mapping itself), so the offset is always 0 and there is
   * nothing to pin. A no-op.
   */
  pinLargeOffset(regionId: number, offset: number): void {
    void regionId;
    void offset;
  }

  /**
   * Classify a pointer (section 1, steps 3-5) from the model's own state.
   * Sets cSlab/cBlock (tiny, pool) or cLarge.
   */
  private classify(regionId: number, offset: number): Cls {
    const r = this.h.region(regionId);
    if (r === undefined) return Cls.Invalid;
    if (r.kind === RegionKind.Large) {
      // A mapping in the large cache holds no block.
      if (offset !== 0 || r.cached) return Cls.Invalid;
      this.cLarge = r;
      return Cls.Large;
    }
    if (!Number.isInteger(offset) || offset < 0 || offset >= r.sizeBytes) return Cls.Invalid;
    let s: SlabMeta;
    let within: number;
    let cls: Cls;
    if (r.kind === RegionKind.SuperSlab) {
      if (r.inLru) return Cls.Invalid;
      const i = Math.floor(offset / this.cfg.slabSizeBytes);
      s = r.slabs[i];
      within = offset - i * this.cfg.slabSizeBytes;
      cls = Cls.Tiny;
    } else {
      if (r.onFreeStack) return Cls.Invalid;
      s = r.page;
      within = offset;
      cls = Cls.Pool;
    }
    if (s.classIdx === NONE) return Cls.Invalid;
    const b = within / s.classSize;
    if (!Number.isInteger(b) || b >= s.carvedBlocks) return Cls.Invalid;
    // Live and not already freed remotely (waiting in the remote queue): else a double free.
    if (s.live[b] !== LIVE) return Cls.Invalid;
    this.cSlab = s;
    this.cBlock = b;
    return cls;
  }

  // The placement of a block, written into `p` (a new object unless the caller passes one).

  private tinyPlacement(s: SlabMeta, b: number, p: Placement = blankPlacement()): Placement {
    p.regionId = s.regionId;
    p.slabIndex = s.slabIndex;
    p.blockIndex = b;
    p.offset = s.slabIndex * this.cfg.slabSizeBytes + b * s.classSize;
    p.kind = RegionKind.SuperSlab;
    p.classIdx = s.classIdx;
    p.usableBytes = s.classSize;
    return p;
  }

  private poolPlacement(pg: SlabMeta, b: number, p: Placement = blankPlacement()): Placement {
    p.regionId = pg.regionId;
    p.slabIndex = 0;
    p.blockIndex = b;
    p.offset = b * pg.classSize;
    p.kind = RegionKind.PoolPage;
    p.classIdx = pg.classIdx;
    p.usableBytes = pg.classSize;
    return p;
  }

  private largePlacement(r: LargeRegion, p: Placement = blankPlacement()): Placement {
    p.regionId = r.regionId;
    p.slabIndex = 0;
    p.blockIndex = 0;
    p.offset = 0;
    p.kind = RegionKind.Large;
    p.classIdx = -1;
    p.usableBytes = r.sizeBytes;
    return p;
  }

  // ------------------------------------------------- digest and snapshots

  /** The canonical state digest of docs/allocator.md section 9. */
  digest(): bigint {
    return digest(this.h);
  }

  /** A deep copy of the state (events are not part of it). */
  snapshot(): ModelSnapshot {
    return { state: structuredClone(this.h.st) };
  }

  /**
   * Back to the state of a new model (the fuzzer reuses one model for many cases instead of
   * building one per case). Clears events; the LRU operation counter goes on (it is only ever
   * compared before and after a call).
   */
  reset(): void {
    this.h.st = newModelState(this.cfg);
    this.h.events = [];
    this.h.gotSlab = null;
    this.h.got.length = 0;
    this.h.touched.length = 0;
    this.cSlab = null;
    this.cLarge = null;
  }

  /** Return to a snapshot (copied again, so the snapshot can be restored more than once). Clears events. */
  restore(s: ModelSnapshot): void {
    this.h.st = structuredClone(s.state);
    this.h.events = [];
  }

  // ----------------------------------------------------------------- views

  /** Every mapped region by ascending id, with its slabs (or page). */
  regions(): RegionView[] {
    return regionViews(this.h);
  }

  /** Every live thread by ascending index: TLS lists, owned slabs and pages. */
  threads(): ThreadView[] {
    return threadViews(this.h);
  }

  /** The LRU, front (most recently pushed) first. */
  lru(): LruEntryView[] {
    return sharedView(this.h).lru;
  }

  /** The shared pool: vclock, LRU, orphans, free-page stack. */
  shared(): SharedView {
    return sharedView(this.h);
  }

  /** LRU pushes, pops and evictions so far: changes exactly when an lru_* event is (or would be) emitted. */
  get lruOps(): number {
    return this.h.lruOps;
  }

  get vclock(): number {
    return this.h.st.vclock;
  }

  /** The raw state, read-only by contract (for fast invariant checks). */
  get state(): Readonly<ModelState> {
    return this.h.st;
  }

  /** Stride of block keys in TLS lists (block key = (regionId * 64 + slabIndex) * blockSpan + blockIndex). */
  get blockSpan(): number {
    return this.h.blockSpan;
  }
}
