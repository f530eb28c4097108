/**
 * Writes a trace from calls executed on the twin, with synthetic addresses:
 * regions get bases in the layout docs/allocator.md describes (SuperSlabs in
 * the first quarter of the reservation, pool pages in the second, large
 * mappings in the second half), and events are ordered exactly as the native
 * recorder orders them (region events of a call before an allocation's record,
 * after a free's record). Used by `hakmem-sim gen`, the fuzzer and tests.
 */
import { configEntries, type HakmemConfig } from '../../model/config.js';
import { HakmemModel, type MemalignFn } from '../../model/allocator.js';
import { RegionKind, Verdict, type ModelEvent, type Placement, type PointerRef } from '../../model/types.js';
import { FLAG_EXACT, FLAG_INTERNAL, Op, SIZE_WIDE } from '../trace/format.js';
import { TraceWriter } from '../trace/writer.js';
import { AddressMap } from '../address-map.js';

export const SYNTH_HEAP_BASE = 0x7e00_0000_0000;

/**
 * Where a recorder's events go: one event at a time, as scalars (a main slot and up to two
 * extension slots), so the in-memory sink of the fuzzer allocates nothing per event.
 */
export interface TraceSink {
  emit(op: number, tid: number, a: number, b: number, nExt: number, ea0: number, eb0: number, ea1: number, eb1: number): void;
  close(): void;
}

/** The header fields a synthetic trace of `cfg` carries. */
export function syntheticWriterOptions(cfg: HakmemConfig, internal: boolean, comm: string) {
  return {
    config: configEntries(cfg),
    flags: FLAG_EXACT | (internal ? FLAG_INTERNAL : 0),
    comm,
    heapBase: SYNTH_HEAP_BASE,
    heapBytes: cfg.heapReserveBytes,
  };
}

/** A sink writing a trace file. */
export class FileSink implements TraceSink {
  private readonly writer: TraceWriter;
  constructor(path: string, cfg: HakmemConfig, internal: boolean, comm: string) {
    this.writer = new TraceWriter(path, syntheticWriterOptions(cfg, internal, comm));
  }
  emit(op: number, tid: number, a: number, b: number, nExt: number, ea0: number, eb0: number, ea1: number, eb1: number): void {
    if (nExt === 0) this.writer.event(op, tid, a, b);
    else if (nExt === 1) this.writer.event(op, tid, a, b, [[ea0, eb0]]);
    else this.writer.event(op, tid, a, b, [[ea0, eb0], [ea1, eb1]]);
  }
  close(): void {
    this.writer.close();
  }
}

const MEMALIGN_OP: Record<MemalignFn, number> = {
  posix_memalign: Op.POSIX_MEMALIGN,
  aligned_alloc: Op.ALIGNED_ALLOC,
  memalign: Op.MEMALIGN,
  valloc: Op.VALLOC,
  pvalloc: Op.PVALLOC,
};

export class SynthRecorder {
  readonly model: HakmemModel;
  protected readonly sink: TraceSink;
  private events = 0;
  protected readonly addresses: AddressMap;
  protected readonly started = new Set<number>();
  private nextSs = 0;
  private nextPage = 0;
  private largeCursor: number;
  private readonly heapBytes: number;

  /** `target`: a trace file to write, or a sink. */
  constructor(
    target: string | TraceSink,
    readonly cfg: HakmemConfig,
    opts: { internal?: boolean; comm?: string } = {},
  ) {
    this.model = new HakmemModel(cfg, { internalEvents: opts.internal ?? false });
    this.heapBytes = cfg.heapReserveBytes;
    this.largeCursor = SYNTH_HEAP_BASE + this.heapBytes / 2;
    this.addresses = new AddressMap(SYNTH_HEAP_BASE, this.heapBytes, cfg.superslabSizeBytes, cfg.poolPageSizeBytes);
    this.sink = typeof target === 'string' ? new FileSink(target, cfg, opts.internal ?? false, opts.comm ?? 'synthetic') : target;
  }

  /** Back to a new recorder's state (same sink; the fuzzer reuses one recorder across cases). */
  reset(): void {
    this.model.reset();
    this.events = 0;
    this.addresses.reset();
    this.started.clear();
    this.nextSs = 0;
    this.nextPage = 0;
    this.largeCursor = SYNTH_HEAP_BASE + this.heapBytes / 2;
  }

  get eventCount(): number {
    return this.events;
  }

  close(): void {
    this.sink.close();
  }

  protected emit(op: number, tid: number, a: number, b: number, nExt = 0, ea0 = 0, eb0 = 0, ea1 = 0, eb1 = 0): void {
    this.events++;
    this.sink.emit(op, tid, a, b, nExt, ea0, eb0, ea1, eb1);
  }

  isStarted(tid: number): boolean {
    return this.started.has(tid);
  }

  /** The synthetic base of a mapped region (for misuse pointers), or 0. */
  regionBase(regionId: number): number {
    return this.addresses.regions.get(regionId)?.base ?? 0;
  }

  /** The synthetic address of a placement. */
  address(p: Placement): number {
    const r = this.addresses.regions.get(p.regionId);
    if (!r) throw new Error(`synthetic recorder: region ${p.regionId} has no base`);
    if (p.offset >= 0) return r.base + p.offset;
    // A large block aligned beyond the page: its offset depends on the base, as natively.
    return r.base;
  }

  resolve(ptr: number): PointerRef {
    return this.addresses.resolve(ptr);
  }

  private ensureThread(tid: number): void {
    if (this.started.has(tid)) return;
    this.started.add(tid);
    this.model.threadStart(tid);
    this.emit(Op.THREAD_START, tid, 0, 1000 + tid);
  }

  /** Write the region (and internal) events the model emitted. */
  private flushModelEvents(tid: number): void {
    for (const e of this.model.takeEvents()) this.writeModelEvent(tid, e);
  }

  private writeModelEvent(tid: number, e: ModelEvent): void {
    switch (e.op) {
      case 'region_map': {
        const large = e.regionKind === RegionKind.Large ? this.model.state.regions.get(e.regionId) : undefined;
        const base = this.placeRegion(e.regionKind, e.sizeBytes, large && large.kind === RegionKind.Large ? large.alignBytes : 0);
        this.addresses.map(e.regionId, base, e.sizeBytes, e.regionKind);
        this.emit(Op.REGION_MAP, tid, e.regionId, base, 1, e.regionKind, e.sizeBytes);
        break;
      }
      case 'region_unmap': {
        const base = this.addresses.regions.get(e.regionId)?.base ?? 0;
        this.addresses.unmap(e.regionId);
        this.emit(Op.REGION_UNMAP, tid, e.regionId, base);
        break;
      }
      case 'region_reuse':
        this.emit(Op.REGION_REUSE, tid, e.regionId, this.addresses.regions.get(e.regionId)?.base ?? 0);
        break;
      case 'region_remap': {
        const base = this.placeRegion(RegionKind.Large, e.sizeBytes);
        this.addresses.remap(e.regionId, base, e.sizeBytes);
        this.emit(Op.REGION_REMAP, tid, e.regionId, base, 1, 0, e.sizeBytes);
        break;
      }
      case 'refill':
        this.emit(Op.REFILL, tid, e.classIdx, e.blocks);
        break;
      case 'spill':
        this.emit(Op.SPILL, tid, e.classIdx, e.blocks);
        break;
      case 'drain':
        this.emit(Op.DRAIN, tid, e.regionId, e.slabIndex * 0x1_0000_0000 + e.blocks);
        break;
      case 'slab_empty':
        this.emit(Op.SLAB_EMPTY, tid, e.regionId, e.slabIndex);
        break;
      case 'lru_push':
        this.emit(Op.LRU_PUSH, tid, e.regionId, e.vclock);
        break;
      case 'lru_pop':
        this.emit(Op.LRU_POP, tid, e.regionId, e.vclock);
        break;
      case 'lru_evict':
        this.emit(Op.LRU_EVICT, tid, e.regionId, e.vclock);
        break;
    }
  }

  /** Region bases as native places them: slots of their size; large mappings aligned to max(align, 64 KiB). */
  private placeRegion(kind: RegionKind, sizeBytes: number, alignBytes = 0): number {
    if (kind === RegionKind.SuperSlab) return SYNTH_HEAP_BASE + this.nextSs++ * this.cfg.superslabSizeBytes;
    if (kind === RegionKind.PoolPage) return SYNTH_HEAP_BASE + this.heapBytes / 4 + this.nextPage++ * this.cfg.poolPageSizeBytes;
    const align = Math.max(65536, alignBytes);
    const base = Math.ceil(this.largeCursor / align) * align;
    this.largeCursor = base + Math.ceil(sizeBytes / 65536) * 65536 + 65536;
    return base;
  }

  /** Write an arbitrary event (tests and fuzz findings that need a trace the twin would not produce). */
  raw(op: number, tid: number, a: number, b: number, ext: ReadonlyArray<readonly [number, number]> = []): void {
    const [e0, e1] = ext;
    this.emit(op, tid, a, b, ext.length, e0?.[0] ?? 0, e0?.[1] ?? 0, e1?.[0] ?? 0, e1?.[1] ?? 0);
  }

  /** Allocating calls: region events first, then the call's record (as natively). */
  private finishAlloc(tid: number, placement: Placement | null): number {
    this.flushModelEvents(tid);
    if (!placement) return 0;
    const addr = this.address(placement);
    if (placement.offset < 0) {
      const r = this.addresses.regions.get(placement.regionId)!;
      this.model.pinLargeOffset(placement.regionId, addr - r.base);
    }
    return addr;
  }

  malloc(tid: number, size: number): number {
    this.ensureThread(tid);
    const ptr = this.finishAlloc(tid, this.model.malloc(tid, size).placement);
    if (size >= SIZE_WIDE) this.emit(Op.MALLOC, tid, SIZE_WIDE, ptr, 1, 0, size);
    else this.emit(Op.MALLOC, tid, size, ptr);
    return ptr;
  }

  calloc(tid: number, nmemb: number, size: number): number {
    this.ensureThread(tid);
    const ptr = this.finishAlloc(tid, this.model.calloc(tid, nmemb, size).placement);
    const total = nmemb * size;
    if (Number.isSafeInteger(total) && total < 0xffffffff) this.emit(Op.CALLOC, tid, total, ptr);
    else this.emit(Op.CALLOC, tid, 0xffffffff, ptr, 2, 0, nmemb, 0, size);
    return ptr;
  }

  memalign(tid: number, fn: MemalignFn, align: number, size: number): number {
    this.ensureThread(tid);
    const out = this.model.memalign(tid, fn, align, size);
    const ptr = this.finishAlloc(tid, out.placement);
    if (size >= SIZE_WIDE) this.emit(MEMALIGN_OP[fn], tid, SIZE_WIDE, ptr, 2, out.errno, align, 0, size);
    else this.emit(MEMALIGN_OP[fn], tid, size, ptr, 1, out.errno, align);
    return ptr;
  }

  realloc(tid: number, old: number, size: number): number {
    this.ensureThread(tid);
    const out = this.model.realloc(tid, this.resolve(old), size);
    const ptr = this.finishAlloc(tid, out.placement);
    if (size >= SIZE_WIDE) this.emit(Op.REALLOC, tid, SIZE_WIDE, ptr, 2, out.errno, old, 0, size);
    else this.emit(Op.REALLOC, tid, size, ptr, 1, out.errno, old);
    return ptr;
  }

  free(tid: number, ptr: number): Verdict {
    this.ensureThread(tid);
    const ref = this.resolve(ptr);
    // The verdict is decided before the record is written, and the record comes before the work.
    const located = ref.kind === 'null' ? Verdict.Null : ref.kind === 'foreign' ? Verdict.Foreign : null;
    const out = this.model.free(tid, ref);
    this.emit(Op.FREE, tid, located ?? out.verdict, ptr);
    this.flushModelEvents(tid);
    return out.verdict;
  }

  threadExit(tid: number): void {
    if (!this.started.has(tid)) return;
    this.model.threadExit(tid);
    this.flushModelEvents(tid);
    this.emit(Op.THREAD_EXIT, tid, 0, 0);
    this.started.delete(tid);
  }
}
