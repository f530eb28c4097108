/**
 * Trace-level invariants (docs/invariants.md: I1, I2, I9, I10, I13): what the
 * real allocator returned and what the program freed, read from the trace.
 * Cheap: one map lookup per event. They do not trust the twin's decisions,
 * only its geometry (routing and class sizes), which the trace header fixes.
 */
import type { HakmemConfig } from '../../model/config.js';
import { Router, ROUTE_LARGE, ROUTE_POOL } from '../../model/route.js';
import { RegionKind, type Placement, type PointerRef } from '../../model/types.js';
import type { AddressMap } from '../address-map.js';
import type { Violation } from './violation.js';
import { AddrTable } from '../addr-table.js';

export interface LiveBlock {
  size: number;
  event: number;
  tid: number;
  /** Region id at allocation, for slab bookkeeping. */
  regionId: number;
  /** Set when the block is freed (the same object then serves the double-free history). */
  freeEvent: number;
  freeTid: number;
}

export interface TraceChecksSnapshot {
  live: AddrTable<LiveBlock>;
  freed: AddrTable<LiveBlock>;
  freedRing: Float64Array;
  freedRingEvent: Float64Array;
  freedAt: number;
}

const EMPTY_RING = new Float64Array(0);

/** Freed addresses remembered for double-free reports; the oldest are forgotten past this. */
const MAX_FREED = 1 << 16;

export class TraceChecks {
  /** Live blocks by address. */
  readonly live = new AddrTable<LiveBlock>();
  private freed = new AddrTable<LiveBlock>();
  /** Addresses in the order they were freed, to forget the oldest past MAX_FREED. */
  // Empty until the first free, then grown by doubling (growFreedRing).
  private freedRing = EMPTY_RING;
  private freedRingEvent = EMPTY_RING;
  private freedAt = 0;
  private readonly router: Router;

  constructor(
    private readonly cfg: HakmemConfig,
    private readonly addresses: AddressMap,
    private readonly report: (v: Violation) => void,
    /** Describes an address with the twin's slab geometry, live or not (for reports). */
    private readonly where: (ptr: number) => string = (ptr) => `0x${ptr.toString(16)}`,
  ) {
    this.router = new Router(cfg);
  }

  /** I13: a region event that contradicts the regions mapped so far. */
  regionProblem(event: number, tid: number, problem: string): void {
    this.report({ id: 'I13', event, tid, subject: 'regions', message: problem, history: [] });
  }

  snapshot(): TraceChecksSnapshot {
    return { live: this.live.copy(), freed: this.freed.copy(), freedRing: this.freedRing.slice(), freedRingEvent: this.freedRingEvent.slice(), freedAt: this.freedAt };
  }

  restore(s: TraceChecksSnapshot): void {
    this.live.clear();
    for (const [k, v] of s.live.entries()) this.live.set(k, v);
    this.freed = s.freed.copy();
    this.freedRing = s.freedRing.slice();
    this.freedRingEvent = s.freedRingEvent.slice();
    this.freedAt = s.freedAt;
  }

  /** A successful allocation of `size` bytes aligned to `align` at `ptr`; `placed` is the twin's view of ptr. */
  /**
   * A successful allocation of `size` bytes aligned to `align` at `ptr`; `ref` is the pointer
   * resolved through the trace's regions and `placed` the twin's view of the block there.
   * Hot: nothing is formatted unless something is wrong.
   */
  allocated(event: number, tid: number, ptr: number, ref: PointerRef, size: number, align: number, placed: Placement | null): void {
    const prev = this.live.get(ptr);
    if (prev !== undefined) {
      this.flag('I1', event, tid, ptr, placed, `the allocator returned a block that is still live`, [
        `allocated at event ${prev.event} by thread ${prev.tid} (${prev.size} bytes), not freed since`,
      ]);
    }
    const code = this.router.code(size, align);
    if (ref.kind !== 'region') {
      this.flag('I9', event, tid, ptr, placed, `the allocator returned a pointer in no mapped region`);
    } else {
      const kind = this.addresses.regions.get(ref.regionId)!.kind;
      const wantKind = code === ROUTE_LARGE ? RegionKind.Large : code >= ROUTE_POOL ? RegionKind.PoolPage : RegionKind.SuperSlab;
      const wantClass = code === ROUTE_LARGE ? -1 : code >= ROUTE_POOL ? code - ROUTE_POOL : code;
      if (kind !== wantKind) {
        this.flag('I9', event, tid, ptr, placed, `a ${size}-byte request (align ${align}) should be served by the ${kindName(wantKind)} path, but landed in a ${kindName(kind)}`);
      } else if (placed !== null && wantClass >= 0 && placed.classIdx !== wantClass) {
        this.flag('I9', event, tid, ptr, placed, `a ${size}-byte request belongs to class ${wantClass}, but landed in a slab of class ${placed.classIdx}`);
      }
      if (placed !== null && placed.kind !== RegionKind.Large) {
        const cls = placed.usableBytes;
        const within = placed.kind === RegionKind.SuperSlab ? ref.offset % this.cfg.slabSizeBytes : ref.offset;
        if (cls > 0 && within % cls !== 0) {
          this.flag('I1', event, tid, ptr, placed, `the block starts ${within % cls} bytes inside a ${cls}-byte block of its slab`);
        }
      }
    }
    const alignment = align > this.cfg.minAlignBytes ? align : this.cfg.minAlignBytes;
    if (ptr % alignment !== 0) this.flag('I10', event, tid, ptr, placed, `the block is not aligned to ${alignment} bytes`);
    if (placed !== null && placed.usableBytes < (size > 1 ? size : 1)) {
      this.flag('I10', event, tid, ptr, placed, `usable size ${placed.usableBytes} is below the requested ${size}`);
    }
    if (this.freed.size !== 0) this.freed.delete(ptr);
    this.live.set(ptr, { size, event, tid, regionId: ref.kind === 'region' ? ref.regionId : 0, freeEvent: -1, freeTid: -1 });
  }

  /**
   * The ring starts small and doubles up to MAX_FREED: a fuzz case frees a few hundred blocks, and
   * allocating the whole 1 MiB ring for each of them was most of the fuzzer's time (profile).
   * Until the ring wraps, slot i holds the i-th free, so growing is a copy.
   */
  private growFreedRing(): void {
    const n = Math.min(MAX_FREED, Math.max(64, this.freedRing.length * 2));
    const ring = new Float64Array(n);
    const ringEvent = new Float64Array(n);
    ring.set(this.freedRing);
    ringEvent.set(this.freedRingEvent);
    this.freedRing = ring;
    this.freedRingEvent = ringEvent;
  }

  private flag(id: string, event: number, tid: number, ptr: number, placed: Placement | null, message: string, history: string[] = []): void {
    this.report({ id, event, tid, subject: describe(ptr, placed), message, history });
  }

  /**
   * A free (or the old pointer of a realloc). Returns the block when ptr was a
   * live block, else null (and reports why, I2).
   */
  released(event: number, tid: number, ptr: number, op: string): LiveBlock | null {
    if (ptr === 0) return null;
    const blk = this.live.get(ptr);
    if (blk) {
      this.live.delete(ptr);
      blk.freeEvent = event;
      blk.freeTid = tid;
      const slot = this.freedAt++ % MAX_FREED;
      if (slot >= this.freedRing.length) this.growFreedRing();
      if (this.freedAt > MAX_FREED) {
        const old = this.freedRing[slot];
        const oldBlk = this.freed.get(old);
        if (oldBlk !== undefined && oldBlk.freeEvent === this.freedRingEvent[slot]) this.freed.delete(old);
      }
      this.freedRing[slot] = ptr;
      this.freedRingEvent[slot] = event;
      this.freed.set(ptr, blk);
      return blk;
    }
    const ref = this.addresses.resolve(ptr);
    const earlier = this.freed.get(ptr);
    if (earlier) {
      this.report({
        id: 'I2',
        event,
        tid,
        subject: this.where(ptr),
        message: `double free: ${op} of a block allocated at event ${earlier.event} by thread ${earlier.tid} and first freed at event ${earlier.freeEvent} by thread ${earlier.freeTid}`,
        history: [
          `allocated at event ${earlier.event} by thread ${earlier.tid}`,
          `first freed at event ${earlier.freeEvent} by thread ${earlier.freeTid}`,
        ],
      });
      return null;
    }
    if (ref.kind === 'foreign') {
      // Under LD_PRELOAD every block of the process comes from hakmem, so a pointer outside the
      // heap was never returned by any allocator (a static or stack address, or garbage). It is
      // passed to the next allocator's free, which usually aborts on it.
      this.report({
        id: 'I2',
        event,
        tid,
        subject: this.where(ptr),
        message: `${op} of a pointer outside the heap that no allocator in this process returned (passed on to the next allocator)`,
        history: [],
      });
      return null;
    }
    const inside = ref.kind === 'region' ? this.containing(ptr) : null;
    if (inside) {
      this.report({
        id: 'I2',
        event,
        tid,
        subject: this.where(ptr),
        message: `interior pointer: ${op} of an address ${ptr - inside.addr} bytes inside a live ${inside.blk.size}-byte block`,
        history: [`the block was allocated at event ${inside.blk.event} by thread ${inside.blk.tid}`],
      });
      return null;
    }
    this.report({
      id: 'I2',
      event,
      tid,
      subject: this.where(ptr),
      message: `${op} of a pointer the allocator never returned`,
      history: [],
    });
    return null;
  }

  /** A call that names `ptr` but keeps it (a realloc that failed): it must still be live. */
  mustBeLive(event: number, tid: number, ptr: number, op: string): void {
    if (ptr === 0 || this.live.has(ptr)) return;
    // Classify it exactly as a free would, then keep it out of the freed history.
    const blk = this.released(event, tid, ptr, op);
    if (blk) this.live.set(ptr, blk);
  }

  /** The live block whose range holds ptr (searched among blocks of the same region). */
  private containing(ptr: number): { addr: number; blk: LiveBlock } | null {
    const ref = this.addresses.resolve(ptr);
    if (ref.kind !== 'region') return null;
    const region = this.addresses.regions.get(ref.regionId);
    if (!region) return null;
    // Blocks are at most the region's size; scan candidates at class-size steps below ptr.
    if (region.kind === RegionKind.Large) {
      const blk = this.live.get(region.base) ?? null;
      return blk ? { addr: region.base, blk } : findBelow(this.live, ptr, region.base);
    }
    const slabBase = region.kind === RegionKind.SuperSlab ? region.base + Math.floor(ref.offset / this.cfg.slabSizeBytes) * this.cfg.slabSizeBytes : region.base;
    return findBelow(this.live, ptr, slabBase);
  }
}

function findBelow(live: AddrTable<LiveBlock>, ptr: number, floor: number): { addr: number; blk: LiveBlock } | null {
  for (let a = ptr - (ptr % 16); a >= floor && ptr - a <= 1 << 16; a -= 16) {
    const blk = live.get(a);
    if (blk) return ptr < a + Math.max(blk.size, 1) ? { addr: a, blk } : null;
  }
  return null;
}

function kindName(k: RegionKind): string {
  return k === RegionKind.SuperSlab ? 'SuperSlab (tiny)' : k === RegionKind.PoolPage ? 'pool page' : 'large mapping';
}

function describe(ptr: number, p: Placement | null): string {
  const addr = `0x${ptr.toString(16)}`;
  if (!p) return addr;
  if (p.kind === RegionKind.SuperSlab) return `${addr} (superslab ${p.regionId} slab ${p.slabIndex} block ${p.blockIndex})`;
  if (p.kind === RegionKind.PoolPage) return `${addr} (pool page ${p.regionId} block ${p.blockIndex})`;
  return `${addr} (large ${p.regionId})`;
}

function describeRef(ptr: number, ref: PointerRef): string {
  const addr = `0x${ptr.toString(16)}`;
  switch (ref.kind) {
    case 'region':
      return `${addr} (region ${ref.regionId} offset ${ref.offset})`;
    case 'unmapped':
      return `${addr} (inside the heap, in no mapped region)`;
    case 'foreign':
      return `${addr} (outside the heap)`;
    default:
      return addr;
  }
}
