/**
 * Model-level invariants (docs/invariants.md: I3-I8, I11, I12), checked on the
 * twin's state after each event, incrementally: only the slab, thread and
 * caches the event touched, so a check costs about one TLS list's length.
 */
import type { HakmemConfig } from '../../model/config.js';
import type { HakmemModel } from '../../model/allocator.js';
import { LIVE, NONE, slabKey, type SlabMeta, type SuperSlab } from '../../model/state.js';
import { RegionKind, type Placement } from '../../model/types.js';
import type { AddressMap } from '../address-map.js';
import type { Violation } from './violation.js';

export class ModelChecks {
  /** Blocks held by users, per slab key (pool pages: page id as region, slab 0). */
  private readonly users = new Map<number, number>();

  constructor(
    private readonly model: HakmemModel,
    private readonly cfg: HakmemConfig,
    private readonly addresses: AddressMap,
    private readonly report: (v: Violation) => void,
    /** Whether the program holds the block at this address (the trace-level live set). */
    private readonly userLive: (addr: number) => boolean,
  ) {}

  snapshot(): Map<number, number> {
    return new Map(this.users);
  }

  /** As new. */
  reset(): void {
    this.users.clear();
  }

  restore(users: Map<number, number>): void {
    this.users.clear();
    for (const [k, v] of users) this.users.set(k, v);
  }

  userAlloc(p: Placement): void {
    if (p.kind === RegionKind.Large) return;
    const k = slabKey(p.regionId, p.slabIndex);
    this.users.set(k, (this.users.get(k) ?? 0) + 1);
  }

  userFree(p: Placement): void {
    if (p.kind === RegionKind.Large) return;
    const k = slabKey(p.regionId, p.slabIndex);
    const n = (this.users.get(k) ?? 0) - 1;
    if (n <= 0) this.users.delete(k);
    else this.users.set(k, n);
  }

  /** The slab (or pool page) metadata of a mapped region's slab, or null. */
  private metaOf(regionId: number, slabIndex: number): SlabMeta | null {
    const r = this.model.state.regions.get(regionId);
    if (!r) return null;
    if (r.kind === RegionKind.SuperSlab) return r.slabs[slabIndex];
    if (r.kind === RegionKind.PoolPage) return r.page;
    return null;
  }

  /** Checks after an event that touched the slab of `p` (if any) on thread `tid`. */
  afterEvent(event: number, tid: number, p: Placement | null, lruChanged: boolean): void {
    if (p && p.kind !== RegionKind.Large) this.checkSlab(event, tid, p.regionId, p.slabIndex);
    this.checkThread(event, tid, p);
    this.checkCaches(event, tid, lruChanged);
  }

  private reportSlab(id: string, event: number, tid: number, kind: RegionKind, regionId: number, slabIndex: number, message: string): void {
    this.report({ id, event, tid, subject: kind === RegionKind.SuperSlab ? `superslab ${regionId} slab ${slabIndex}` : `pool page ${regionId}`, message, history: [] });
  }

  /**
   * I3, I4, I5, I8 on one slab or pool page. Runs after every event: nothing is
   * allocated or formatted unless something is wrong.
   */
  checkSlab(event: number, tid: number, regionId: number, slabIndex: number): void {
    const r = this.model.state.regions.get(regionId);
    if (!r || r.kind === RegionKind.Large) return;
    const kind = r.kind;
    const s = r.kind === RegionKind.SuperSlab ? r.slabs[slabIndex] : r.page;
    if (r.kind === RegionKind.SuperSlab) {
      let inUse = 0;
      const slabs = r.slabs;
      for (let i = 0; i < slabs.length; i++) if (slabs[i].classIdx !== NONE) inUse++;
      if (inUse !== r.slabsInUse) this.reportSlab('I4', event, tid, kind, regionId, slabIndex, `the bitmap counts ${r.slabsInUse} slabs in use but ${inUse} slabs have a class`);
      if (r.inLru && inUse > 0) this.reportSlab('I6', event, tid, kind, regionId, slabIndex, `a SuperSlab in the LRU has ${inUse} slabs in use`);
    }
    if (s.classIdx === NONE) return;
    if (s.usedBlocks === 0) this.reportSlab('I5', event, tid, kind, regionId, slabIndex, `a slab in use has no block in use: it should have been released (EMPTY) in the same call`);
    if (s.freelist.length + s.usedBlocks + (s.capacityBlocks - s.carvedBlocks) !== s.capacityBlocks) {
      this.reportSlab('I3', event, tid, kind, regionId, slabIndex, `freelist ${s.freelist.length} + used ${s.usedBlocks} + uncarved ${s.capacityBlocks - s.carvedBlocks} != capacity ${s.capacityBlocks}`);
    }
    const key = slabKey(regionId, slabIndex);
    const users = this.users.get(key) ?? 0;
    let tls = 0;
    if (kind === RegionKind.SuperSlab && s.owner !== NONE) {
      const t = this.model.state.threads.get(s.owner);
      if (t) {
        // Block keys of this slab are [key * span, (key + 1) * span).
        const span = this.model.blockSpan;
        const lo = key * span;
        const hi = lo + span;
        const list = t.tlsList[s.classIdx];
        for (let i = 0; i < list.length; i++) {
          const b = list[i];
          if (b >= lo && b < hi) tls++;
        }
      }
    }
    if (s.usedBlocks !== users + tls + s.remote.length) {
      this.reportSlab('I3', event, tid, kind, regionId, slabIndex, `used ${s.usedBlocks} != ${users} held by users + ${tls} in the owner's TLS list + ${s.remote.length} in the remote queue`);
    }
    // Blocks enter a remote queue only by a push onto its top, so checking the top after every
    // event checks every block once, in O(1).
    const top = s.remote.length ? s.remote[s.remote.length - 1] : -1;
    if (top >= s.carvedBlocks) this.reportSlab('I8', event, tid, kind, regionId, slabIndex, `remote-queue block ${top} is not a carved block of this slab (carved ${s.carvedBlocks})`);
    if (top >= 0) {
      const region = this.addresses.regions.get(regionId);
      if (region) {
        const slabBase = region.base + (kind === RegionKind.SuperSlab ? slabIndex * this.cfg.slabSizeBytes : 0);
        if (this.userLive(slabBase + top * s.classSize)) this.reportSlab('I8', event, tid, kind, regionId, slabIndex, `remote-queue block ${top} is still held by the program`);
      }
    }
  }

  /** I7: the thread's TLS lists within cap; the touched class's list holds free blocks of its class it owns. */
  checkThread(event: number, tid: number, p: Placement | null): void {
    const t = this.model.state.threads.get(tid);
    if (!t) return;
    const cap = this.cfg.tlsCapBlocks;
    for (let c = 0; c < t.tlsList.length; c++) {
      if (t.tlsList[c].length > cap) {
        this.report({ id: 'I7', event, tid, subject: `thread ${tid} class ${c}`, message: `TLS list holds ${t.tlsList[c].length} blocks, cap ${cap}`, history: [] });
      }
    }
    if (!p || p.kind !== RegionKind.SuperSlab || p.classIdx < 0) return;
    const span = this.model.blockSpan;
    const list = t.tlsList[p.classIdx];
    // Neighbouring blocks of a TLS list mostly share a slab: look each slab up once per run.
    // (Nothing changes during the check, so the cached slab is the one a fresh lookup would give.)
    let lo = 0;
    let hi = 0;
    let s: SlabMeta | null = null;
    let slabBad: string | null = null;
    for (let i = 0; i < list.length; i++) {
      const b = list[i];
      if (!(b >= lo && b < hi)) {
        const key = Math.floor(b / span);
        lo = key * span;
        hi = lo + span;
        s = this.metaOf(Math.floor(key / 64), key % 64);
        slabBad = !s
          ? 'a block of no mapped slab'
          : s.classIdx !== p.classIdx
            ? `a block of a class-${s.classIdx} slab`
            : s.owner !== tid
              ? `a block of a slab owned by thread ${s.owner}`
              : null;
      }
      let bad = slabBad;
      if (bad === null && ((s as SlabMeta).live[b - lo] & LIVE) !== 0) bad = `live block ${b - lo}`;
      if (bad) {
        this.report({ id: 'I7', event, tid, subject: `thread ${tid} class ${p.classIdx}`, message: `the TLS list holds ${bad}`, history: [] });
        return;
      }
    }
  }

  /** I6: LRU, free-page and large-cache bounds. */
  checkCaches(event: number, tid: number, lruChanged: boolean): void {
    const st = this.model.state;
    const cfg = this.cfg;
    if (st.lru.length > cfg.lruMaxCount || st.lru.length * cfg.superslabSizeBytes > cfg.lruMaxBytes) {
      this.report({ id: 'I6', event, tid, subject: 'LRU', message: `the LRU holds ${st.lru.length} SuperSlabs (max ${cfg.lruMaxCount}, ${cfg.lruMaxBytes} bytes)`, history: [] });
    }
    if (st.largeCache.length !== 0 || st.largeCacheBytes !== 0) {
      // The bytes are summed again (at most large_cache_max_count + 1 entries), not taken from the
      // model's running total, and every entry must be a kept large mapping.
      let bytes = 0;
      let bad: string | null = null;
      for (const id of st.largeCache) {
        const r = st.regions.get(id);
        if (r === undefined || r.kind !== RegionKind.Large || !r.cached) bad ??= `region ${id} in the large cache is not a kept large mapping`;
        else bytes += r.sizeBytes;
      }
      if (bad === null && (st.largeCache.length > cfg.largeCacheMaxCount || bytes > cfg.largeCacheMaxBytes || bytes !== st.largeCacheBytes)) {
        bad = `the large cache holds ${st.largeCache.length} mappings, ${bytes} bytes (counted ${st.largeCacheBytes}; max ${cfg.largeCacheMaxCount}, ${cfg.largeCacheMaxBytes} bytes)`;
      }
      if (bad !== null) this.report({ id: 'I6', event, tid, subject: 'large cache', message: bad, history: [] });
    }
    if (st.freePages.length > cfg.poolFreePagesMaxCount) {
      this.report({ id: 'I6', event, tid, subject: 'free pool pages', message: `${st.freePages.length} free pool pages kept (max ${cfg.poolFreePagesMaxCount})`, history: [] });
    }
    if (lruChanged) {
      for (const id of st.lru) {
        const ss = st.regions.get(id) as SuperSlab | undefined;
        if (ss && st.vclock - ss.pushedAt > cfg.lruTtlTicks) {
          this.report({ id: 'I6', event, tid, subject: `superslab ${id}`, message: `cached for ${st.vclock - ss.pushedAt} ticks, past the TTL of ${cfg.lruTtlTicks}`, history: [] });
        }
      }
    }
  }

  /** I12: after THREAD_EXIT the thread holds nothing. */
  threadExited(event: number, tid: number): void {
    const st = this.model.state;
    const t = st.threads.get(tid);
    if (t) {
      const held = t.tlsList.reduce((n, l) => n + l.length, 0);
      const owned = t.ownedSlabs.reduce((n, l) => n + l.length, 0) + t.ownedPages.reduce((n, l) => n + l.length, 0);
      if (held || owned) {
        this.report({ id: 'I12', event, tid, subject: `thread ${tid}`, message: `after exit the thread still holds ${held} TLS blocks and ${owned} slabs or pages`, history: [] });
      }
    }
    for (const r of st.regions.values()) {
      const metas = r.kind === RegionKind.SuperSlab ? r.slabs : r.kind === RegionKind.PoolPage ? [r.page] : [];
      for (const s of metas) {
        if (s.classIdx !== NONE && s.owner === tid) {
          this.report({ id: 'I12', event, tid, subject: `region ${r.regionId} slab ${s.slabIndex}`, message: `still owned by thread ${tid} after it exited`, history: [] });
          return;
        }
      }
    }
  }

  /** At the end: I11 (the same regions on both sides) and I5 on every slab. */
  finish(event: number): void {
    const st = this.model.state;
    const mine = new Map<number, number>();
    for (const r of st.regions.values()) mine.set(r.regionId, r.sizeBytes);
    for (const [id, r] of this.addresses.regions) {
      const size = mine.get(id);
      if (size === undefined) {
        this.report({ id: 'I11', event, tid: 0, subject: `region ${id}`, message: `the trace shows region ${id} mapped; the twin has unmapped it or never mapped it`, history: [] });
      } else if (size !== r.sizeBytes) {
        this.report({ id: 'I11', event, tid: 0, subject: `region ${id}`, message: `mapped with ${r.sizeBytes} bytes in the trace, ${size} in the twin`, history: [] });
      }
      mine.delete(id);
    }
    for (const id of mine.keys()) {
      this.report({ id: 'I11', event, tid: 0, subject: `region ${id}`, message: `the twin has region ${id} mapped; the trace shows it unmapped or never mapped`, history: [] });
    }
    for (const r of st.regions.values()) {
      if (r.kind === RegionKind.SuperSlab) for (const s of r.slabs) if (s.classIdx !== NONE) this.checkSlab(event, 0, r.regionId, s.slabIndex);
      if (r.kind === RegionKind.PoolPage && r.page.classIdx !== NONE) this.checkSlab(event, 0, r.regionId, 0);
    }
  }
}
