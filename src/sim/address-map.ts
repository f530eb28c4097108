/**
 * Pointers to regions, from the trace's own region events. This is how the
 * engine turns an address into a PointerRef (region id + offset) for the model,
 * which never sees addresses (design rule: placement, not addresses).
 */
import { RegionKind, type PointerRef } from '../model/types.js';

/**
 * A checkpoint of an AddressMap. With regions that overlap (a corrupt trace) which one a lookup
 * names depends on the order of past events, not on the set of regions, so the granule maps and
 * the large list are kept as they stand, by region id.
 */
export interface AddressMapSnapshot {
  regions: MappedRegion[];
  /** Pairs (granule key, region id), flattened. */
  superslabGranules: number[];
  poolGranules: number[];
  /** Large region ids in the list's order. */
  large: number[];
}

export interface MappedRegion {
  regionId: number;
  base: number;
  sizeBytes: number;
  kind: RegionKind;
}

/** Pool granules per leaf of AddressMap's granule table (256 MiB of address space at 64 KiB). */
const LEAF_SHIFT = 12;
const LEAF_GRANULES = 1 << LEAF_SHIFT;
/** The table covers at most this many pool granules (1 TiB at 64 KiB); the rest use the maps. */
const MAX_TABLE_GRANULES = 1 << 24;
/** A SuperSlab of more pool granules than this is not put in the table (retable's loop). */
const MAX_POOL_PER_SUPERSLAB = 1024;
/** The top level's placeholder for a leaf not made yet (shared, never written). */
const EMPTY_LEAF: (MappedRegion | undefined)[] = new Array<MappedRegion | undefined>(LEAF_GRANULES).fill(undefined);

export class AddressMap {
  /** Regions by id. */
  readonly regions = new Map<number, MappedRegion>();
  /** Large regions sorted by base, for range lookups. */
  private large: MappedRegion[] = [];
  /**
   * SuperSlabs and pool pages by granule: base / their (aligned) size, counted from the heap's
   * first granule so that keys are small integers (a Map keyed by 2^32 and beyond boxes every key).
   */
  private readonly superslabGranules = new Map<number, MappedRegion>();
  private readonly poolGranules = new Map<number, MappedRegion>();
  private readonly superslabOrigin: number;
  private readonly poolOrigin: number;
  /**
   * find's fast path: a two-level table by pool granule (relative to poolOrigin), whose entry is
   * what the two granule maps answer for that granule, superslabs first:
   *   granuleTable[g] = superslabGranules.get(superslab key of g) ?? poolGranules.get(g).
   * A Map lookup with a key beyond the small integers, twice for a pool page, was a seventh of the
   * mid-size replay's time; two array loads replace it. Leaves (LEAF_GRANULES entries) are made
   * when a region is first indexed in them; granules outside [0, tableGranules) and configurations
   * where a SuperSlab is not a whole number of pool granules use the maps alone (findSlow).
   */
  private readonly granuleTable: (MappedRegion | undefined)[][] = [];
  private readonly tableGranules: number;
  /** Pool granules per SuperSlab granule (0: the table is not used). */
  private readonly poolPerSuperslab: number;
  /**
   * 1 / poolPageBytes when that is a power of two (then addr * it is exactly addr / poolPageBytes,
   * and a multiplication is a fraction of a division's latency), else 0 (the table is not used).
   */
  private readonly poolScale: number;

  constructor(
    private readonly heapBase: number,
    private readonly heapBytes: number,
    private readonly superslabBytes: number,
    private readonly poolPageBytes: number,
  ) {
    this.superslabOrigin = Math.floor(heapBase / superslabBytes);
    this.poolOrigin = Math.floor(heapBase / poolPageBytes);
    const per = superslabBytes / poolPageBytes;
    const pow2 = Number.isInteger(Math.log2(poolPageBytes));
    this.poolScale = pow2 ? 1 / poolPageBytes : 0;
    this.poolPerSuperslab = pow2 && Number.isInteger(per) && per >= 1 && per <= MAX_POOL_PER_SUPERSLAB ? per : 0;
    const heapGranules = Math.floor((heapBase + heapBytes) / poolPageBytes) - this.poolOrigin + 1;
    this.tableGranules = this.poolPerSuperslab === 0 ? 0 : Math.max(0, Math.min(heapGranules, MAX_TABLE_GRANULES));
  }

  map(regionId: number, base: number, sizeBytes: number, kind: RegionKind): string | null {
    if (this.regions.has(regionId)) return `region ${regionId} mapped twice`;
    const r: MappedRegion = { regionId, base, sizeBytes, kind };
    this.regions.set(regionId, r);
    this.index(r);
    return null;
  }

  unmap(regionId: number): string | null {
    const r = this.regions.get(regionId);
    if (!r) return `unmap of region ${regionId}, which is not mapped`;
    this.unindex(r);
    this.regions.delete(regionId);
    return null;
  }

  remap(regionId: number, base: number, sizeBytes: number): string | null {
    const r = this.regions.get(regionId);
    if (!r) return `remap of region ${regionId}, which is not mapped`;
    this.unindex(r);
    r.base = base;
    r.sizeBytes = sizeBytes;
    this.index(r);
    return null;
  }

  private granules(kind: RegionKind): Map<number, MappedRegion> {
    return kind === RegionKind.SuperSlab ? this.superslabGranules : this.poolGranules;
  }

  private granuleKey(kind: RegionKind, addr: number): number {
    return kind === RegionKind.SuperSlab
      ? Math.floor(addr / this.superslabBytes) - this.superslabOrigin
      : Math.floor(addr / this.poolPageBytes) - this.poolOrigin;
  }

  private index(r: MappedRegion): void {
    if (r.kind === RegionKind.Large) {
      let i = this.large.length;
      while (i > 0 && this.large[i - 1].base > r.base) i--;
      this.large.splice(i, 0, r);
    } else {
      const key = this.granuleKey(r.kind, r.base);
      this.granules(r.kind).set(key, r);
      this.retable(r.kind, key);
    }
  }

  private unindex(r: MappedRegion): void {
    if (r.kind === RegionKind.Large) {
      const i = this.large.indexOf(r);
      if (i >= 0) this.large.splice(i, 1);
    } else {
      const key = this.granuleKey(r.kind, r.base);
      this.granules(r.kind).delete(key);
      this.retable(r.kind, key);
    }
  }

  /** Bring granuleTable up to date after the granule maps changed at `key` of `kind`. */
  private retable(kind: RegionKind, key: number): void {
    if (this.tableGranules === 0) return;
    if (kind === RegionKind.SuperSlab) {
      // The superslab key's pool granules, relative to poolOrigin.
      const first = (key + this.superslabOrigin) * this.poolPerSuperslab - this.poolOrigin;
      const s = this.superslabGranules.get(key);
      for (let g = first; g < first + this.poolPerSuperslab; g++) this.setTable(g, s ?? this.poolGranules.get(g));
    } else {
      const ssKey = Math.floor((key + this.poolOrigin) / this.poolPerSuperslab) - this.superslabOrigin;
      this.setTable(key, this.superslabGranules.get(ssKey) ?? this.poolGranules.get(key));
    }
  }

  private setTable(g: number, r: MappedRegion | undefined): void {
    if (g < 0 || g >= this.tableGranules) return;
    const hi = Math.floor(g / LEAF_GRANULES);
    let leaf = this.granuleTable[hi];
    if (leaf === undefined) {
      if (r === undefined) return;
      // Fill the top level densely so that it stays a packed array.
      while (this.granuleTable.length < hi) this.granuleTable.push(EMPTY_LEAF);
      leaf = new Array<MappedRegion | undefined>(LEAF_GRANULES).fill(undefined);
      this.granuleTable[hi] = leaf;
    } else if (leaf === EMPTY_LEAF) {
      if (r === undefined) return;
      leaf = new Array<MappedRegion | undefined>(LEAF_GRANULES).fill(undefined);
      this.granuleTable[hi] = leaf;
    }
    leaf[g - hi * LEAF_GRANULES] = r;
  }

  /** The region holding `addr`, if any. */
  find(addr: number): MappedRegion | undefined {
    const g = Math.floor(addr * this.poolScale) - this.poolOrigin;
    if (g >= 0 && g < this.tableGranules) {
      // g < MAX_TABLE_GRANULES (2^24): integer operations (a float modulus is a call to fmod).
      const leaf = this.granuleTable[g >> LEAF_SHIFT];
      if (leaf !== undefined) {
        const r = leaf[g & (LEAF_GRANULES - 1)];
        // What findSlow answers first, when it holds addr.
        if (r !== undefined && addr >= r.base && addr < r.base + r.sizeBytes) return r;
      }
    }
    return this.findSlow(addr);
  }

  /** find by the granule maps and the large regions (superslab, then pool page, then large). */
  findSlow(addr: number): MappedRegion | undefined {
    let r = this.superslabGranules.get(Math.floor(addr / this.superslabBytes) - this.superslabOrigin);
    if (r && addr >= r.base && addr < r.base + r.sizeBytes) return r;
    r = this.poolGranules.get(Math.floor(addr / this.poolPageBytes) - this.poolOrigin);
    if (r && addr >= r.base && addr < r.base + r.sizeBytes) return r;
    let lo = 0;
    let hi = this.large.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = this.large[mid];
      if (addr < m.base) hi = mid - 1;
      else if (addr >= m.base + m.sizeBytes) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  resolve(addr: number): PointerRef {
    if (addr === 0) return { kind: 'null' };
    const r = this.find(addr);
    if (r) return { kind: 'region', regionId: r.regionId, offset: addr - r.base };
    if (addr >= this.heapBase && addr < this.heapBase + this.heapBytes) return { kind: 'unmapped' };
    return { kind: 'foreign' };
  }

  snapshot(): AddressMapSnapshot {
    const pairs = (m: Map<number, MappedRegion>) => {
      const out: number[] = [];
      for (const [k, r] of m) out.push(k, r.regionId);
      return out;
    };
    return {
      regions: [...this.regions.values()].map((r) => ({ ...r })),
      superslabGranules: pairs(this.superslabGranules),
      poolGranules: pairs(this.poolGranules),
      large: this.large.map((r) => r.regionId),
    };
  }

  /** No region mapped (as new). */
  reset(): void {
    this.regions.clear();
    this.large = [];
    this.superslabGranules.clear();
    this.poolGranules.clear();
    this.granuleTable.length = 0;
  }

  /** Back to a snapshot (it can be restored more than once). */
  restore(s: AddressMapSnapshot): void {
    this.reset();
    for (const r of s.regions) this.regions.set(r.regionId, { ...r });
    // Every entry names a mapped region: an unmap or remap removes its region's entries.
    const region = (id: number) => this.regions.get(id) as MappedRegion;
    for (let i = 0; i < s.superslabGranules.length; i += 2) this.superslabGranules.set(s.superslabGranules[i], region(s.superslabGranules[i + 1]));
    for (let i = 0; i < s.poolGranules.length; i += 2) this.poolGranules.set(s.poolGranules[i], region(s.poolGranules[i + 1]));
    this.large = s.large.map(region);
    for (const k of this.superslabGranules.keys()) this.retable(RegionKind.SuperSlab, k);
    for (const k of this.poolGranules.keys()) this.retable(RegionKind.PoolPage, k);
  }
}
