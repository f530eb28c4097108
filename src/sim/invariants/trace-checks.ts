/**
 * Trace-level invariants (docs/invariants.md: I1, I2, I9, I10, I13): what the
 * real allocator returned and what the program freed, read from the trace.
 * Cheap: one map lookup per event. They do not trust the twin's decisions,
 * only its geometry (routing and class sizes), which the trace header fixes.
 */
import type { HakmemConfig } from '../../model/config.js';
import { route } from '../../model/route.js';
import { RegionKind, type Placement, type PointerRef } from '../../model/types.js';
import type { AddressMap } from '../address-map.js';
import type { Violation } from './violation.js';

export interface LiveBlock {
  size: number;
  event: number;
  tid: number;
  /** Region id at allocation, for slab bookkeeping. */
  regionId: number;
}

interface FreedBlock {
  allocEvent: number;
  allocTid: number;
  freeEvent: number;
  freeTid: number;
}

export interface TraceChecksSnapshot {
  live: Map<number, LiveBlock>;
  freed: Map<number, FreedBlock>;
}

/** Freed addresses remembered for double-free reports; the oldest are forgotten past this. */
const MAX_FREED = 1 << 16;

const KIND_OF_ROUTE: Record<string, RegionKind> = {
  tiny: RegionKind.SuperSlab,
  pool: RegionKind.PoolPage,
  large: RegionKind.Large,
};

export class TraceChecks {
  /** Live blocks by address. */
  readonly live = new Map<number, LiveBlock>();
  private readonly freed = new Map<number, FreedBlock>();

  constructor(
    private readonly cfg: HakmemConfig,
    private readonly addresses: AddressMap,
    private readonly report: (v: Violation) => void,
  ) {}

  /** I13: a region event that contradicts the regions mapped so far. */
  regionProblem(event: number, tid: number, problem: string): void {
    this.report({ id: 'I13', event, tid, subject: 'regions', message: problem, history: [] });
  }

  snapshot(): TraceChecksSnapshot {
    return { live: new Map(this.live), freed: new Map(this.freed) };
  }

  restore(s: TraceChecksSnapshot): void {
    this.live.clear();
    for (const [k, v] of s.live) this.live.set(k, v);
    this.freed.clear();
    for (const [k, v] of s.freed) this.freed.set(k, v);
  }

  /** A successful allocation of `size` bytes aligned to `align` at `ptr`; `placed` is the twin's view of ptr. */
  allocated(event: number, tid: number, ptr: number, size: number, align: number, placed: Placement | null): void {
    const where = describe(ptr, placed);
    const prev = this.live.get(ptr);
    if (prev) {
      this.report({
        id: 'I1',
        event,
        tid,
        subject: where,
        message: `the allocator returned a block that is still live`,
        history: [`allocated at event ${prev.event} by thread ${prev.tid} (${prev.size} bytes), not freed since`],
      });
    }
    const ref = this.addresses.resolve(ptr);
    const want = route(this.cfg, size, align);
    if (ref.kind !== 'region') {
      this.report({ id: 'I9', event, tid, subject: where, message: `the allocator returned a pointer in no mapped region`, history: [] });
    } else {
      const region = this.addresses.regions.get(ref.regionId)!;
      if (region.kind !== KIND_OF_ROUTE[want.kind]) {
        this.report({
          id: 'I9',
          event,
          tid,
          subject: where,
          message: `a ${size}-byte request (align ${align}) should be served by the ${want.kind} path, but landed in a ${kindName(region.kind)}`,
          history: [],
        });
      } else if (placed && want.kind !== 'large' && placed.classIdx !== want.classIdx) {
        this.report({
          id: 'I9',
          event,
          tid,
          subject: where,
          message: `a ${size}-byte request belongs to ${want.kind} class ${want.classIdx}, but landed in a slab of class ${placed.classIdx}`,
          history: [],
        });
      }
    }
    const alignment = Math.max(this.cfg.minAlignBytes, align);
    if (ptr % alignment !== 0) {
      this.report({ id: 'I10', event, tid, subject: where, message: `the block is not aligned to ${alignment} bytes`, history: [] });
    }
    if (placed && placed.usableBytes < Math.max(size, 1)) {
      this.report({ id: 'I10', event, tid, subject: where, message: `usable size ${placed.usableBytes} is below the requested ${size}`, history: [] });
    }
    if (placed && placed.kind !== RegionKind.Large && ref.kind === 'region') {
      const cls = placed.usableBytes;
      const within = placed.kind === RegionKind.SuperSlab ? ref.offset % this.cfg.slabSizeBytes : ref.offset;
      if (cls > 0 && within % cls !== 0) {
        this.report({ id: 'I1', event, tid, subject: where, message: `the block starts ${within % cls} bytes inside a ${cls}-byte block of its slab`, history: [] });
      }
    }
    this.freed.delete(ptr);
    this.live.set(ptr, { size, event, tid, regionId: ref.kind === 'region' ? ref.regionId : 0 });
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
      if (this.freed.size >= MAX_FREED) this.freed.delete(this.freed.keys().next().value as number);
      this.freed.set(ptr, { allocEvent: blk.event, allocTid: blk.tid, freeEvent: event, freeTid: tid });
      return blk;
    }
    const ref = this.addresses.resolve(ptr);
    const earlier = this.freed.get(ptr);
    if (earlier) {
      this.report({
        id: 'I2',
        event,
        tid,
        subject: describeRef(ptr, ref),
        message: `double free: ${op} of a block that was already freed`,
        history: [
          `allocated at event ${earlier.allocEvent} by thread ${earlier.allocTid}`,
          `first freed at event ${earlier.freeEvent} by thread ${earlier.freeTid}`,
        ],
      });
      return null;
    }
    if (ref.kind === 'foreign') return null; // another allocator's pointer: passed on, not ours to judge
    const inside = ref.kind === 'region' ? this.containing(ptr) : null;
    if (inside) {
      this.report({
        id: 'I2',
        event,
        tid,
        subject: describeRef(ptr, ref),
        message: `interior pointer: ${op} of an address ${ptr - inside.addr} bytes inside a live ${inside.blk.size}-byte block`,
        history: [`the block was allocated at event ${inside.blk.event} by thread ${inside.blk.tid}`],
      });
      return null;
    }
    this.report({
      id: 'I2',
      event,
      tid,
      subject: describeRef(ptr, ref),
      message: `${op} of a pointer the allocator never returned`,
      history: [],
    });
    return null;
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

function findBelow(live: Map<number, LiveBlock>, ptr: number, floor: number): { addr: number; blk: LiveBlock } | null {
  for (let a = ptr - (ptr % 16); a >= floor && ptr - a <= 1 << 16; a -= 16) {
    const blk = live.get(a);
    if (blk) return ptr < a + Math.max(blk.size, 1) ? { addr: a, blk } : null;
  }
  return null;
}

function kindName(k: RegionKind): string {
  return k === RegionKind.SuperSlab ? 'SuperSlab' : k === RegionKind.PoolPage ? 'pool page' : 'large mapping';
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
