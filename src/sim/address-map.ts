/**
 * Pointers to regions, from the trace's own region events. This is how the
 * engine turns an address into a PointerRef (region id + offset) for the model,
 * which never sees addresses (design rule: placement, not addresses).
 */
import { RegionKind, type PointerRef } from '../model/types.js';

export interface MappedRegion {
  regionId: number;
  base: number;
  sizeBytes: number;
  kind: RegionKind;
}

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

  constructor(
    private readonly heapBase: number,
    private readonly heapBytes: number,
    private readonly superslabBytes: number,
    private readonly poolPageBytes: number,
  ) {
    this.superslabOrigin = Math.floor(heapBase / superslabBytes);
    this.poolOrigin = Math.floor(heapBase / poolPageBytes);
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
      this.granules(r.kind).set(this.granuleKey(r.kind, r.base), r);
    }
  }

  private unindex(r: MappedRegion): void {
    if (r.kind === RegionKind.Large) {
      const i = this.large.indexOf(r);
      if (i >= 0) this.large.splice(i, 1);
    } else {
      this.granules(r.kind).delete(this.granuleKey(r.kind, r.base));
    }
  }

  /** The region holding `addr`, if any. */
  find(addr: number): MappedRegion | undefined {
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

  snapshot(): MappedRegion[] {
    return [...this.regions.values()].map((r) => ({ ...r }));
  }

  /** No region mapped (as new). */
  reset(): void {
    this.restore([]);
  }

  restore(regions: MappedRegion[]): void {
    this.regions.clear();
    this.large = [];
    this.superslabGranules.clear();
    this.poolGranules.clear();
    for (const r of regions) {
      const copy = { ...r };
      this.regions.set(copy.regionId, copy);
      this.index(copy);
    }
  }
}
