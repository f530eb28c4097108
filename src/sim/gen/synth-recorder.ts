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

const MEMALIGN_OP: Record<MemalignFn, number> = {
  posix_memalign: Op.POSIX_MEMALIGN,
  aligned_alloc: Op.ALIGNED_ALLOC,
  memalign: Op.MEMALIGN,
  valloc: Op.VALLOC,
  pvalloc: Op.PVALLOC,
};

export class SynthRecorder {
  readonly model: HakmemModel;
  private readonly writer: TraceWriter;
  private readonly addresses: AddressMap;
  private readonly started = new Set<number>();
  private nextSs = 0;
  private nextPage = 0;
  private largeCursor: number;
  private readonly heapBytes: number;

  constructor(
    path: string,
    readonly cfg: HakmemConfig,
    opts: { internal?: boolean; comm?: string } = {},
  ) {
    this.model = new HakmemModel(cfg, { internalEvents: opts.internal ?? false });
    this.heapBytes = cfg.heapReserveBytes;
    this.largeCursor = SYNTH_HEAP_BASE + this.heapBytes / 2;
    this.addresses = new AddressMap(SYNTH_HEAP_BASE, this.heapBytes, cfg.superslabSizeBytes, cfg.poolPageSizeBytes);
    this.writer = new TraceWriter(path, {
      config: configEntries(cfg),
      flags: FLAG_EXACT | (opts.internal ? FLAG_INTERNAL : 0),
      comm: opts.comm ?? 'synthetic',
      heapBase: SYNTH_HEAP_BASE,
      heapBytes: this.heapBytes,
    });
  }

  get eventCount(): number {
    return this.writer.eventCount;
  }

  close(): void {
    this.writer.close();
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
    this.writer.event(Op.THREAD_START, tid, 0, 1000 + tid);
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
        this.writer.event(Op.REGION_MAP, tid, e.regionId, base, [[e.regionKind, e.sizeBytes]]);
        break;
      }
      case 'region_unmap': {
        const base = this.addresses.regions.get(e.regionId)?.base ?? 0;
        this.addresses.unmap(e.regionId);
        this.writer.event(Op.REGION_UNMAP, tid, e.regionId, base);
        break;
      }
      case 'region_reuse':
        this.writer.event(Op.REGION_REUSE, tid, e.regionId, this.addresses.regions.get(e.regionId)?.base ?? 0);
        break;
      case 'region_remap': {
        const base = this.placeRegion(RegionKind.Large, e.sizeBytes);
        this.addresses.remap(e.regionId, base, e.sizeBytes);
        this.writer.event(Op.REGION_REMAP, tid, e.regionId, base, [[0, e.sizeBytes]]);
        break;
      }
      case 'refill':
        this.writer.event(Op.REFILL, tid, e.classIdx, e.blocks);
        break;
      case 'spill':
        this.writer.event(Op.SPILL, tid, e.classIdx, e.blocks);
        break;
      case 'drain':
        this.writer.event(Op.DRAIN, tid, e.regionId, e.slabIndex * 0x1_0000_0000 + e.blocks);
        break;
      case 'slab_empty':
        this.writer.event(Op.SLAB_EMPTY, tid, e.regionId, e.slabIndex);
        break;
      case 'lru_push':
        this.writer.event(Op.LRU_PUSH, tid, e.regionId, e.vclock);
        break;
      case 'lru_pop':
        this.writer.event(Op.LRU_POP, tid, e.regionId, e.vclock);
        break;
      case 'lru_evict':
        this.writer.event(Op.LRU_EVICT, tid, e.regionId, e.vclock);
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
    this.writer.event(op, tid, a, b, ext);
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
    if (size >= SIZE_WIDE) this.writer.event(Op.MALLOC, tid, SIZE_WIDE, ptr, [[0, size]]);
    else this.writer.event(Op.MALLOC, tid, size, ptr);
    return ptr;
  }

  calloc(tid: number, nmemb: number, size: number): number {
    this.ensureThread(tid);
    const ptr = this.finishAlloc(tid, this.model.calloc(tid, nmemb, size).placement);
    const total = nmemb * size;
    if (Number.isSafeInteger(total) && total < 0xffffffff) this.writer.event(Op.CALLOC, tid, total, ptr);
    else this.writer.event(Op.CALLOC, tid, 0xffffffff, ptr, [[0, nmemb], [0, size]]);
    return ptr;
  }

  memalign(tid: number, fn: MemalignFn, align: number, size: number): number {
    this.ensureThread(tid);
    const out = this.model.memalign(tid, fn, align, size);
    const ptr = this.finishAlloc(tid, out.placement);
    if (size >= SIZE_WIDE) this.writer.event(MEMALIGN_OP[fn], tid, SIZE_WIDE, ptr, [[out.errno, align], [0, size]]);
    else this.writer.event(MEMALIGN_OP[fn], tid, size, ptr, [[out.errno, align]]);
    return ptr;
  }

  realloc(tid: number, old: number, size: number): number {
    this.ensureThread(tid);
    const out = this.model.realloc(tid, this.resolve(old), size);
    const ptr = this.finishAlloc(tid, out.placement);
    if (size >= SIZE_WIDE) this.writer.event(Op.REALLOC, tid, SIZE_WIDE, ptr, [[out.errno, old], [0, size]]);
    else this.writer.event(Op.REALLOC, tid, size, ptr, [[out.errno, old]]);
    return ptr;
  }

  free(tid: number, ptr: number): Verdict {
    this.ensureThread(tid);
    const ref = this.resolve(ptr);
    // The verdict is decided before the record is written, and the record comes before the work.
    const located = ref.kind === 'null' ? Verdict.Null : ref.kind === 'foreign' ? Verdict.Foreign : null;
    const out = this.model.free(tid, ref);
    this.writer.event(Op.FREE, tid, located ?? out.verdict, ptr);
    this.flushModelEvents(tid);
    return out.verdict;
  }

  threadExit(tid: number): void {
    if (!this.started.has(tid)) return;
    this.model.threadExit(tid);
    this.flushModelEvents(tid);
    this.writer.event(Op.THREAD_EXIT, tid, 0, 0);
    this.started.delete(tid);
  }
}
