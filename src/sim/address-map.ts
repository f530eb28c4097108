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
  /** SuperSlabs and pool pages by base / their (aligned) size. */
  private readonly byGranule = new Map<number, MappedRegion>();

  constructor(
    private readonly heapBase: number,
    private readonly heapBytes: number,
    private readonly superslabBytes: number,
    private readonly poolPageBytes: number,
  ) {}

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

  private granuleKey(kind: RegionKind, addr: number): number {
    return kind === RegionKind.SuperSlab
      ? Math.floor(addr / this.superslabBytes) * 2
      : Math.floor(addr / this.poolPageBytes) * 2 + 1;
  }

  private index(r: MappedRegion): void {
    if (r.kind === RegionKind.Large) {
      let i = this.large.length;
      while (i > 0 && this.large[i - 1].base > r.base) i--;
      this.large.splice(i, 0, r);
    } else {
      this.byGranule.set(this.granuleKey(r.kind, r.base), r);
    }
  }

  private unindex(r: MappedRegion): void {
    if (r.kind === RegionKind.Large) {
      const i = this.large.indexOf(r);
      if (i >= 0) this.large.splice(i, 1);
    } else {
      this.byGranule.delete(this.granuleKey(r.kind, r.base));
    }
  }

  /** The region holding `addr`, if any. */
  find(addr: number): MappedRegion | undefined {
    let r = this.byGranule.get(this.granuleKey(RegionKind.SuperSlab, addr));
    if (r && addr >= r.base && addr < r.base + r.sizeBytes) return r;
    r = this.byGranule.get(this.granuleKey(RegionKind.PoolPage, addr));
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

  restore(regions: MappedRegion[]): void {
    this.regions.clear();
    this.large = [];
    this.byGranule.clear();
    for (const r of regions) {
      const copy = { ...r };
      this.regions.set(copy.regionId, copy);
      this.index(copy);
    }
  }
}
