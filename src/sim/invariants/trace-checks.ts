/**
 * Trace-level invariants (docs/invariants.md: I1, I2, I9, I10, I13): what the
 * real allocator returned and what the program freed, read from the trace.
 * Cheap: one map lookup per event. They do not trust the twin's decisions,
 * only its geometry (routing and class sizes), which the trace header fixes.
 */
import type { HakmemConfig } from '../../model/config.js';
import { Router, ROUTE_LARGE, ROUTE_POOL } from '../../model/route.js';
import { RegionKind, type Placement, type PointerRef } from '../../model/types.js';
import type { AddressMap, MappedRegion } from '../address-map.js';
import type { Violation } from './violation.js';
import { LiveTable, type LiveTableSnapshot } from './live-table.js';

export interface TraceChecksSnapshot {
  blocks: LiveTableSnapshot;
  /** The ring slots that still name a remembered freed block: slot, address, free event. */
  ringSlots: Int32Array;
  ringPtrs: Float64Array;
  ringEvents: Float64Array;
  /** The ring's length (it grows by doubling up to MAX_FREED). */
  ringLength: number;
  freedAt: number;
}

const EMPTY_RING = new Float64Array(0);

/** Freed addresses remembered for double-free reports; the oldest are forgotten past this. */
const MAX_FREED = 1 << 16;

export class TraceChecks {
  /** Blocks the program holds, and the freed ones still remembered, by address. */
  readonly blocks = new LiveTable();
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

  /**
   * A checkpoint. Of the ring, only the slots whose freed block is still remembered (its entry
   * freed at that very event) are kept: forgetting any other slot is a no-op, so a checkpoint
   * holds a few KiB instead of the whole 1 MiB ring.
   */
  snapshot(): TraceChecksSnapshot {
    const ring = this.freedRing;
    const blocks = this.blocks;
    const slots: number[] = [];
    for (let i = 0; i < ring.length; i++) {
      const at = blocks.findFreed(ring[i]);
      if (at >= 0 && blocks.freeEventAt(at) === this.freedRingEvent[i]) slots.push(i);
    }
    const ringSlots = Int32Array.from(slots);
    const ringPtrs = new Float64Array(slots.length);
    const ringEvents = new Float64Array(slots.length);
    for (let j = 0; j < slots.length; j++) {
      ringPtrs[j] = ring[slots[j]];
      ringEvents[j] = this.freedRingEvent[slots[j]];
    }
    return { blocks: blocks.snapshot(), ringSlots, ringPtrs, ringEvents, ringLength: ring.length, freedAt: this.freedAt };
  }

  /** As new: no block, nothing freed. */
  reset(): void {
    this.blocks.reset();
    // The ring keeps its size: slots at and past freedAt are only read once the ring has wrapped,
    // by which time they have all been written again. Cleared anyway, for snapshot().
    const used = Math.min(this.freedAt, this.freedRing.length);
    this.freedRing.fill(0, 0, used);
    this.freedRingEvent.fill(0, 0, used);
    this.freedAt = 0;
  }

  /** Done: the block table's arrays go to the next table (LiveTable.release). */
  release(): void {
    this.blocks.release();
  }

  restore(s: TraceChecksSnapshot): void {
    this.blocks.restore(s.blocks);
    if (s.ringLength !== 0) {
      // Address 0 names no block: the other slots forget nothing when they come round.
      this.freedRing = new Float64Array(s.ringLength);
      this.freedRingEvent = new Float64Array(s.ringLength).fill(-1);
      for (let j = 0; j < s.ringSlots.length; j++) {
        this.freedRing[s.ringSlots[j]] = s.ringPtrs[j];
        this.freedRingEvent[s.ringSlots[j]] = s.ringEvents[j];
      }
    } else {
      this.freedRing = EMPTY_RING;
      this.freedRingEvent = EMPTY_RING;
    }
    this.freedAt = s.freedAt;
  }

  /** A successful allocation of `size` bytes aligned to `align` at `ptr`; `placed` is the twin's view of ptr. */
  /**
   * A successful allocation of `size` bytes aligned to `align` at `ptr`; `ref` is the pointer
   * resolved through the trace's regions and `placed` the twin's view of the block there.
   * Hot: nothing is formatted unless something is wrong.
   */
  allocated(event: number, tid: number, ptr: number, region: MappedRegion | undefined, offset: number, size: number, align: number, placed: Placement | null): void {
    const blocks = this.blocks;
    // ptr is not 0 (a failed allocation is not one); the probe's empty slot is where it goes.
    const at = blocks.probe(ptr);
    const prev = at >= 0 && blocks.freeEventAt(at) === -1 ? at : -1;
    if (prev >= 0) {
      this.flag('I1', event, tid, ptr, placed, `the allocator returned a block that is still live`, [
        `allocated at event ${blocks.eventAt(prev)} by thread ${blocks.tidAt(prev)} (${blocks.sizeAt(prev)} bytes), not freed since`,
      ]);
    }
    const code = this.router.code(size, align);
    if (region === undefined) {
      this.flag('I9', event, tid, ptr, placed, `the allocator returned a pointer in no mapped region`);
    } else {
      const kind = region.kind;
      const wantKind = code === ROUTE_LARGE ? RegionKind.Large : code >= ROUTE_POOL ? RegionKind.PoolPage : RegionKind.SuperSlab;
      const wantClass = code === ROUTE_LARGE ? -1 : code >= ROUTE_POOL ? code - ROUTE_POOL : code;
      if (kind !== wantKind) {
        this.flag('I9', event, tid, ptr, placed, `a ${size}-byte request (align ${align}) should be served by the ${kindName(wantKind)} path, but landed in a ${kindName(kind)}`);
      } else if (placed !== null && wantClass >= 0 && placed.classIdx !== wantClass) {
        this.flag('I9', event, tid, ptr, placed, `a ${size}-byte request belongs to class ${wantClass}, but landed in a slab of class ${placed.classIdx}`);
      }
      // When the twin placed a block at this very offset it starts a block of its slab by construction
      // (slab * slab size + block * class size): the two integer divisions below are for the others.
      if (placed !== null && placed.kind !== RegionKind.Large && placed.offset !== offset) {
        const cls = placed.usableBytes;
        const within = placed.kind === RegionKind.SuperSlab ? offset % this.cfg.slabSizeBytes : offset;
        if (cls > 0 && within % cls !== 0) {
          this.flag('I1', event, tid, ptr, placed, `the block starts ${within % cls} bytes inside a ${cls}-byte block of its slab`);
        }
      }
    }
    const alignment = align > this.cfg.minAlignBytes ? align : this.cfg.minAlignBytes;
    if (misalignment(ptr, alignment) !== 0) this.flag('I10', event, tid, ptr, placed, `the block is not aligned to ${alignment} bytes`);
    if (placed !== null && placed.usableBytes < (size > 1 ? size : 1)) {
      this.flag('I10', event, tid, ptr, placed, `usable size ${placed.usableBytes} is below the requested ${size}`);
    }
    // A freed block remembered at ptr is forgotten: the entry becomes the new live block.
    blocks.setLiveAt(at, ptr, size, event, tid);
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
   * A free (or the old pointer of a realloc). Returns the block's size when ptr
   * was a live block, else -1 (and reports why, I2).
   */
  released(event: number, tid: number, ptr: number, op: string): number {
    if (ptr === 0) return -1;
    const blocks = this.blocks;
    const at = blocks.find(ptr);
    if (at >= 0 && blocks.freeEventAt(at) === -1) {
      const size = blocks.sizeAt(at);
      blocks.markFreed(at, event, tid);
      const slot = this.freedAt++ % MAX_FREED;
      if (slot >= this.freedRing.length) this.growFreedRing();
      if (this.freedAt > MAX_FREED) {
        // Forget the oldest free, unless its block was allocated (and maybe freed) again since.
        const old = this.freedRing[slot];
        const o = blocks.find(old);
        if (o >= 0 && blocks.freeEventAt(o) === this.freedRingEvent[slot]) blocks.removeAt(o);
      }
      this.freedRing[slot] = ptr;
      this.freedRingEvent[slot] = event;
      return size;
    }
    const ref = this.addresses.resolve(ptr);
    if (at >= 0) {
      const allocEvent = blocks.eventAt(at);
      const allocTid = blocks.tidAt(at);
      const freeEvent = blocks.freeEventAt(at);
      const freeTid = blocks.freeTidAt(at);
      this.report({
        id: 'I2',
        event,
        tid,
        subject: this.where(ptr),
        message: `double free: ${op} of a block allocated at event ${allocEvent} by thread ${allocTid} and first freed at event ${freeEvent} by thread ${freeTid}`,
        history: [`allocated at event ${allocEvent} by thread ${allocTid}`, `first freed at event ${freeEvent} by thread ${freeTid}`],
      });
      return -1;
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
      return -1;
    }
    const inside = ref.kind === 'region' ? this.containing(ptr) : null;
    if (inside) {
      this.report({
        id: 'I2',
        event,
        tid,
        subject: this.where(ptr),
        message: `interior pointer: ${op} of an address ${ptr - inside.addr} bytes inside a live ${blocks.sizeAt(inside.at)}-byte block`,
        history: [`the block was allocated at event ${blocks.eventAt(inside.at)} by thread ${blocks.tidAt(inside.at)}`],
      });
      return -1;
    }
    this.report({
      id: 'I2',
      event,
      tid,
      subject: this.where(ptr),
      message: `${op} of a pointer the allocator never returned`,
      history: [],
    });
    return -1;
  }

  /** A call that names `ptr` but keeps it (a realloc that failed): it must still be live. */
  mustBeLive(event: number, tid: number, ptr: number, op: string): void {
    if (ptr === 0 || this.blocks.isLive(ptr)) return;
    // Classify it exactly as a free would (it is not live, so nothing changes but the report).
    this.released(event, tid, ptr, op);
  }

  /** The live block whose range holds ptr (searched among blocks of the same region). */
  private containing(ptr: number): { addr: number; at: number } | null {
    const ref = this.addresses.resolve(ptr);
    if (ref.kind !== 'region') return null;
    const region = this.addresses.regions.get(ref.regionId);
    if (!region) return null;
    // Blocks are at most the region's size; scan candidates at class-size steps below ptr.
    if (region.kind === RegionKind.Large) {
      const at = this.blocks.findLive(region.base);
      return at >= 0 ? { addr: region.base, at } : findBelow(this.blocks, ptr, region.base);
    }
    const slabBase = region.kind === RegionKind.SuperSlab ? region.base + Math.floor(ref.offset / this.cfg.slabSizeBytes) * this.cfg.slabSizeBytes : region.base;
    return findBelow(this.blocks, ptr, slabBase);
  }
}

function findBelow(blocks: LiveTable, ptr: number, floor: number): { addr: number; at: number } | null {
  for (let a = ptr - (ptr % 16); a >= floor && ptr - a <= 1 << 16; a -= 16) {
    const at = blocks.findLive(a);
    if (at >= 0) return ptr < a + Math.max(blocks.sizeAt(at), 1) ? { addr: a, at } : null;
  }
  return null;
}

/**
 * ptr % align for an integer ptr below 2^53: a power of two up to 2^30 divides 2^32, so only the
 * low 32 bits matter (an integer remainder instead of a floating-point one on every allocation).
 */
function misalignment(ptr: number, align: number): number {
  if (align > 0 && align <= 0x4000_0000 && (align & (align - 1)) === 0) return (ptr >>> 0) & (align - 1);
  return ptr % align;
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
