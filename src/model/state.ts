/**
 * The twin's state, plain and serialisable: numbers, arrays, typed arrays and
 * Maps keyed by numbers, so snapshot is a structuredClone and the digest a walk.
 *
 * Cross references are by number, never by object: a slab is named by its
 * *slab key* (region id * 64 + slab index), a block in a TLS list by its
 * *block key* (slab key * blockSpan + block index), a pool page by its region id.
 *
 * Stacks (freelist, remote queue, TLS list, free-page stack) keep their top at
 * the end of the array. The LRU keeps its back (oldest) at index 0 and its
 * front (most recently pushed) at the end.
 */
import type { HakmemConfig } from './config.js';
import { RegionKind, type ModelEvent } from './types.js';

/** No owner / no class. */
export const NONE = -1;
/** The digest's encoding of "none". */
export const NONE_U16 = 0xffff;

/** Per-block bits in SlabMeta.live. */
export const LIVE = 1;
/** The block sits in its slab's remote queue (native: the rbits word). A free of such a block is INVALID. */
export const IN_REMOTE = 2;

/** Metadata of a slab in a SuperSlab, or of a pool page (same fields). */
export interface SlabMeta {
  regionId: number;
  slabIndex: number;
  /** Tiny or pool class; NONE when the slab (page) is free. */
  classIdx: number;
  classSize: number;
  capacityBlocks: number;
  /** Blocks neither in the freelist nor uncarved: held by users, in TLS lists, or in the remote queue. */
  usedBlocks: number;
  carvedBlocks: number;
  /** Block indices, LIFO, top at the end. */
  freelist: number[];
  /** Block indices, LIFO (newest push at the end). */
  remote: number[];
  /** Thread index, or NONE. */
  owner: number;
  /** Per block: LIVE | IN_REMOTE. Length >= capacityBlocks. */
  live: Uint8Array;
}

export interface SuperSlab {
  kind: RegionKind.SuperSlab;
  regionId: number;
  sizeBytes: number;
  inLru: boolean;
  /** vclock at lru_push (meaningful while inLru). */
  pushedAt: number;
  /** Number of slabs whose bitmap bit is set. */
  slabsInUse: number;
  /** n_slabs entries; a slab's bitmap bit is set exactly when its classIdx != NONE. */
  slabs: SlabMeta[];
}

export interface PoolPage {
  kind: RegionKind.PoolPage;
  regionId: number;
  sizeBytes: number;
  onFreeStack: boolean;
  page: SlabMeta;
}

export interface LargeRegion {
  kind: RegionKind.Large;
  regionId: number;
  /** The whole mapping. */
  sizeBytes: number;
  requestedBytes: number;
  alignBytes: number;
  /** Freed and kept mapped in the large cache (no block: a free of it is INVALID). */
  cached: boolean;
}

export type Region = SuperSlab | PoolPage | LargeRegion;

export interface ThreadState {
  tid: number;
  /**
   * In the live-thread registry (digest, exit flush). A thread that calls again
   * after its exit flush keeps its index but is not registered again (native:
   * its TLS is about to go away); what it caches from then on is never returned.
   */
  registered: boolean;
  /** Per tiny class: block keys, LIFO, top at the end. */
  tlsList: number[][];
  /** Per tiny class: slab keys, oldest first. */
  ownedSlabs: number[][];
  /** Per pool class: page region ids, oldest first. */
  ownedPages: number[][];
  /**
   * Per pool class: the owned pages before this index give no block (freelist empty, fully
   * carved, remote queue empty), so pool_malloc's walk starts here. A lower bound kept by
   * poolMalloc, poolFree and poolReleasePage: it only skips pages that would give nothing, so the
   * page the policy names is unchanged (native keeps the same knowledge as one bit per owned
   * page, native/src/pool.c). Not part of the digest.
   */
  pageScanFrom: number[];
}

export interface ModelState {
  nextRegionId: number;
  vclock: number;
  /** Mapped regions; insertion order is ascending id (ids are never reused). */
  regions: Map<number, Region>;
  /** Threads with state, by index (registered ones are the live threads of the digest). */
  threads: Map<number, ThreadState>;
  /** Indices whose exit flush has run (value 1). A later call from one makes an unregistered thread. */
  exited: Map<number, number>;
  /** Ascending ids of in-use SuperSlabs that have a clear bitmap bit. */
  nonFull: number[];
  /** SuperSlab ids; index 0 is the back (oldest), the end is the front (most recent). */
  lru: number[];
  /** The large cache: region ids of freed large mappings kept mapped, oldest first. */
  largeCache: number[];
  /** The sum of their sizes. */
  largeCacheBytes: number;
  /** Per tiny class: slab keys, FIFO (front at index 0). */
  orphanSlabs: number[][];
  /** Per pool class: page ids, FIFO. */
  orphanPages: number[][];
  /** Free pool pages, LIFO, top at the end. */
  freePages: number[];
  /** Mapped SuperSlabs (in use or in the LRU) and pool pages (in use or free), for slot limits. */
  superslabsMapped: number;
  poolPagesMapped: number;
}

/** n empty lists (a plain loop: Array.from with a map function is slow on this path, built per thread). */
export function emptyLists(n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < n; i++) out.push([]);
  return out;
}

export function newModelState(cfg: Readonly<HakmemConfig>): ModelState {
  return {
    nextRegionId: 1,
    vclock: 0,
    regions: new Map(),
    threads: new Map(),
    exited: new Map(),
    nonFull: [],
    lru: [],
    largeCache: [],
    largeCacheBytes: 0,
    orphanSlabs: emptyLists(cfg.tinyClassCount),
    orphanPages: emptyLists(cfg.poolClassCount),
    freePages: [],
    superslabsMapped: 0,
    poolPagesMapped: 0,
  };
}

export function newSlabMeta(regionId: number, slabIndex: number): SlabMeta {
  return {
    regionId,
    slabIndex,
    classIdx: NONE,
    classSize: 0,
    capacityBlocks: 0,
    usedBlocks: 0,
    carvedBlocks: 0,
    freelist: [],
    remote: [],
    owner: NONE,
    live: EMPTY_BITS,
  };
}

const EMPTY_BITS = new Uint8Array(0);

/** Entries of Heap's region memo (a power of two). */
const REGION_MEMO = 256;

/**
 * What the parts share: the configuration, derived constants, the state and
 * the event sink. Not part of a snapshot (only `st` is).
 */
export class Heap {
  readonly nSlabs: number;
  /** Largest capacity of any tiny slab: the stride of block keys. */
  readonly blockSpan: number;
  /** Address-space slots (docs/allocator.md section 1: quarters and half of the reservation). */
  readonly superslabSlots: number;
  readonly poolPageSlots: number;
  readonly largeAreaBytes: number;
  events: ModelEvent[] = [];
  /** Scratch for take(): block indices. */
  readonly got: number[] = [];
  /** LRU pushes, pops and evictions so far (the engine's cue to check the LRU, with or without internal events). */
  lruOps = 0;
  /** Result register of tinyMalloc(): the slab of the block it handed out. */
  gotSlab: SlabMeta | null = null;
  /** The block index in gotSlab of tinyMalloc's block. */
  gotBlock = 0;
  /** Scratch for spill(): slab keys in order of first touch. */
  readonly touched: number[] = [];
  /**
   * A direct-mapped memo of st.regions.get (entry id % REGION_MEMO: the id and its region), so
   * that the hot lookups (pool_malloc's walk of the owned pages, a free's classify) are an array
   * read instead of a Map lookup: those were 7-8% of a replay of mid-large-mt.hkt (CPU profile).
   * Exact: an entry is only made from a successful lookup, region ids are never reused, a
   * region's entry goes when it is deleted (deleteRegion, the only way regions are deleted), and the
   * whole memo goes when st is replaced (restore, reset).
   */
  private readonly memoIds = new Float64Array(REGION_MEMO).fill(-1);
  private readonly memoRegions: (Region | undefined)[] = new Array<Region | undefined>(REGION_MEMO).fill(undefined);
  private memoSt: ModelState | null = null;

  constructor(
    readonly cfg: Readonly<HakmemConfig>,
    public st: ModelState,
    /** Record internal decisions (refill, spill, drain, slab_empty, lru_*). */
    readonly internal: boolean,
  ) {
    this.nSlabs = cfg.superslabSizeBytes / cfg.slabSizeBytes;
    this.blockSpan = Math.floor(cfg.slabSizeBytes / cfg.tinyClassSize[0]);
    const quarter = Math.floor(cfg.heapReserveBytes / 4);
    this.superslabSlots = Math.floor(quarter / cfg.superslabSizeBytes);
    this.poolPageSlots = Math.floor(quarter / cfg.poolPageSizeBytes);
    this.largeAreaBytes = cfg.heapReserveBytes - 2 * quarter;
  }

  emit(e: ModelEvent): void {
    this.events.push(e);
  }

  /** st.regions.get(id), through the memo. */
  region(id: number): Region | undefined {
    if (this.memoSt !== this.st) {
      this.memoIds.fill(-1);
      this.memoRegions.fill(undefined);
      this.memoSt = this.st;
    }
    const i = id & (REGION_MEMO - 1);
    if (this.memoIds[i] === id) return this.memoRegions[i];
    const r = this.st.regions.get(id);
    if (r !== undefined) {
      this.memoIds[i] = id;
      this.memoRegions[i] = r;
    }
    return r;
  }

  /** st.regions.delete(id), and the memo forgets it. */
  deleteRegion(id: number): void {
    this.st.regions.delete(id);
    const i = id & (REGION_MEMO - 1);
    if (this.memoIds[i] === id) {
      this.memoIds[i] = -1;
      this.memoRegions[i] = undefined;
    }
  }

  superslab(id: number): SuperSlab {
    const r = this.region(id);
    if (r === undefined || r.kind !== RegionKind.SuperSlab) throw new Error(`model: region ${id} is not a SuperSlab`);
    return r;
  }

  slab(key: number): SlabMeta {
    return this.superslab(Math.floor(key / 64)).slabs[key % 64];
  }

  page(id: number): SlabMeta {
    const r = this.region(id);
    if (r === undefined || r.kind !== RegionKind.PoolPage) throw new Error(`model: region ${id} is not a pool page`);
    return r.page;
  }

  allocRegionId(): number {
    return this.st.nextRegionId++;
  }
}

export function slabKey(regionId: number, slabIndex: number): number {
  return regionId * 64 + slabIndex;
}
