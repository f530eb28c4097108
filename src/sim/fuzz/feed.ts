/**
 * An in-memory twin of SynthRecorder (src/sim/gen/synth-recorder.ts): runs
 * calls on a HakmemModel and hands the trace events they produce, one at a
 * time, to a sink (the fuzzer's ReplayEngine) instead of writing a file.
 *
 * Synthetic addresses and event order are exactly SynthRecorder's (region
 * events of an allocating call before its record, after a free's record), so
 * the events a case feeds the engine are the events `SynthRecorder` would
 * write (test/fuzz/feed.test.ts checks that byte for byte), with one
 * deliberate difference: a large block aligned beyond 64 KiB gets a base
 * aligned to its alignment, as native maps it (SynthRecorder places every
 * large mapping at the next 64 KiB, which breaks I10 for such blocks).
 * `recordTo(path)` writes the same events to a trace file with TraceWriter:
 * the saved reproducer is exactly what the engine checked.
 */
import { configEntries, type HakmemConfig } from '../../model/config.js';
import { HakmemModel, type MemalignFn } from '../../model/allocator.js';
import { RegionKind, Verdict, type ModelEvent, type Placement, type PointerRef } from '../../model/types.js';
import { AddressMap } from '../address-map.js';
import { SYNTH_HEAP_BASE } from '../gen/synth-recorder.js';
import { FLAG_COMPLETE, FLAG_EXACT, FLAG_INTERNAL, HKT_VERSION, Op } from '../trace/format.js';
import type { TraceHeader } from '../trace/header.js';
import { newEvent, type TraceEvent } from '../trace/reader.js';
import { TraceWriter } from '../trace/writer.js';

const MEMALIGN_OP: Record<MemalignFn, number> = {
  posix_memalign: Op.POSIX_MEMALIGN,
  aligned_alloc: Op.ALIGNED_ALLOC,
  memalign: Op.MEMALIGN,
  valloc: Op.VALLOC,
  pvalloc: Op.PVALLOC,
};

/** The header a synthetic trace of `cfg` carries (as SynthRecorder writes it, complete). */
export function syntheticHeader(cfg: HakmemConfig, internal: boolean): TraceHeader {
  return {
    version: HKT_VERSION,
    flags: FLAG_EXACT | FLAG_COMPLETE | (internal ? FLAG_INTERNAL : 0),
    complete: true,
    exact: true,
    internal,
    forked: false,
    pid: 0,
    parentPid: 0,
    startTimeNs: 0n,
    endTimeNs: 0n,
    slotCount: 0,
    eventCount: 0,
    comm: 'fuzz',
    heapBase: SYNTH_HEAP_BASE,
    heapBytes: cfg.heapReserveBytes,
    config: configEntries(cfg),
  };
}

export type EventSink = (ev: TraceEvent) => void;

export class MemoryRecorder {
  readonly model: HakmemModel;
  private readonly addresses: AddressMap;
  private readonly started = new Set<number>();
  private nextSs = 0;
  private nextPage = 0;
  private largeCursor: number;
  private readonly heapBytes: number;
  /** One event object, refilled for every event (the sink must not keep it). */
  private readonly ev: TraceEvent = newEvent();
  private events = 0;
  private slots = 0;
  /** The alignment of the call in progress (a large mapping for it is placed aligned to it). */
  private callAlign = 0;
  /** Also write every event here (the saved reproducer). */
  private writer: TraceWriter | null = null;

  constructor(
    readonly cfg: HakmemConfig,
    private readonly sink: EventSink,
    opts: { internal?: boolean } = {},
  ) {
    this.model = new HakmemModel(cfg, { internalEvents: opts.internal ?? false });
    this.heapBytes = cfg.heapReserveBytes;
    this.largeCursor = SYNTH_HEAP_BASE + this.heapBytes / 2;
    this.addresses = new AddressMap(SYNTH_HEAP_BASE, this.heapBytes, cfg.superslabSizeBytes, cfg.poolPageSizeBytes);
  }

  get eventCount(): number {
    return this.events;
  }

  private emit(op: number, tid: number, a: number, b: number, nExt = 0, ea0 = 0, eb0 = 0, ea1 = 0, eb1 = 0): void {
    const ev = this.ev;
    ev.index = this.events++;
    ev.slot = this.slots;
    this.slots += 1 + nExt;
    ev.op = op;
    ev.tid = tid;
    ev.a = a;
    ev.b = b;
    ev.nExt = nExt;
    ev.extA[0] = ea0;
    ev.extB[0] = eb0;
    ev.extA[1] = ea1;
    ev.extB[1] = eb1;
    if (this.writer !== null) {
      if (nExt === 0) this.writer.event(op, tid, a, b);
      else if (nExt === 1) this.writer.event(op, tid, a, b, [[ea0, eb0]]);
      else this.writer.event(op, tid, a, b, [[ea0, eb0], [ea1, eb1]]);
    }
    this.sink(ev);
  }

  address(p: Placement): number {
    const r = this.addresses.regions.get(p.regionId);
    if (!r) throw new Error(`fuzz recorder: region ${p.regionId} has no base`);
    return p.offset >= 0 ? r.base + p.offset : r.base;
  }

  resolve(ptr: number): PointerRef {
    return this.addresses.resolve(ptr);
  }

  /** The synthetic base of a mapped region (for misuse pointers), or 0. */
  regionBase(regionId: number): number {
    return this.addresses.regions.get(regionId)?.base ?? 0;
  }

  private ensureThread(tid: number): void {
    if (this.started.has(tid)) return;
    this.started.add(tid);
    this.model.threadStart(tid);
    this.emit(Op.THREAD_START, tid, 0, 1000 + tid);
  }

  private flushModelEvents(tid: number): void {
    const events = this.model.takeEvents();
    for (let i = 0; i < events.length; i++) this.writeModelEvent(tid, events[i]);
  }

  private writeModelEvent(tid: number, e: ModelEvent): void {
    switch (e.op) {
      case 'region_map': {
        const base = this.placeRegion(e.regionKind, e.sizeBytes);
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

  private placeRegion(kind: RegionKind, sizeBytes: number): number {
    if (kind === RegionKind.SuperSlab) return SYNTH_HEAP_BASE + this.nextSs++ * this.cfg.superslabSizeBytes;
    if (kind === RegionKind.PoolPage) return SYNTH_HEAP_BASE + this.heapBytes / 4 + this.nextPage++ * this.cfg.poolPageSizeBytes;
    // Native maps an aligned large block at an aligned base (offset 0 in its mapping).
    const granule = Math.max(65536, this.callAlign);
    const base = Math.ceil(this.largeCursor / granule) * granule;
    this.largeCursor = base + Math.ceil(sizeBytes / 65536) * 65536 + 65536;
    return base;
  }

  private finishAlloc(tid: number, placement: Placement | null): number {
    this.flushModelEvents(tid);
    if (!placement) return 0;
    const addr = this.address(placement);
    if (placement.offset < 0) {
      const r = this.addresses.regions.get(placement.regionId);
      if (r) this.model.pinLargeOffset(placement.regionId, addr - r.base);
    }
    return addr;
  }

  malloc(tid: number, size: number): number {
    this.ensureThread(tid);
    const ptr = this.finishAlloc(tid, this.model.malloc(tid, size).placement);
    this.emit(Op.MALLOC, tid, size, ptr);
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
    this.callAlign = align;
    const ptr = this.finishAlloc(tid, out.placement);
    this.callAlign = 0;
    this.emit(MEMALIGN_OP[fn], tid, size, ptr, 1, out.errno, align);
    return ptr;
  }

  realloc(tid: number, old: number, size: number): number {
    this.ensureThread(tid);
    const out = this.model.realloc(tid, this.resolve(old), size);
    const ptr = this.finishAlloc(tid, out.placement);
    this.emit(Op.REALLOC, tid, size, ptr, 1, out.errno, old);
    return ptr;
  }

  free(tid: number, ptr: number): Verdict {
    this.ensureThread(tid);
    const ref = this.resolve(ptr);
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

  /** Write every event from now on to a trace file as well (close with `closeTrace`). */
  recordTo(path: string): void {
    this.writer = new TraceWriter(path, {
      config: configEntries(this.cfg),
      flags: FLAG_EXACT | FLAG_INTERNAL,
      comm: 'fuzz',
      heapBase: SYNTH_HEAP_BASE,
      heapBytes: this.heapBytes,
    });
  }

  closeTrace(): void {
    this.writer?.close();
    this.writer = null;
  }

  isStarted(tid: number): boolean {
    return this.started.has(tid);
  }
}
