/**
 * The replay engine: feeds trace events to the twin one at a time and checks
 * that the twin agrees with what the real allocator did (placements, free
 * verdicts, region events, and internal decisions when the trace has them).
 *
 * One engine, many front doors: the CLI's replay and diff, the fuzzer, the
 * explorer and the TUI all drive this class.
 */
import { configFromEntries, type HakmemConfig } from '../model/config.js';
import { HakmemModel } from '../model/allocator.js';
import { RegionKind, Verdict, type ModelEvent, type Placement, type PointerRef } from '../model/types.js';
import { AddressMap } from './address-map.js';
import { AddrTable } from './addr-table.js';
import { DecisionQueue, type Decision } from './decision-queue.js';
import { Op, OP_NAMES, SIZE_WIDE } from './trace/format.js';
import type { TraceHeader } from './trace/header.js';
import type { TraceEvent } from './trace/reader.js';
import { TraceChecks } from './invariants/trace-checks.js';
import { ModelChecks } from './invariants/model-checks.js';
import type { ChecksMode, Violation } from './invariants/violation.js';

export interface Disagreement {
  event: number;
  tid: number;
  op: string;
  /** What was compared: placement, verdict, region event, internal decision. */
  what: string;
  recorded: string;
  model: string;
}

export interface AgreementCounts {
  allocations: number;
  allocationsAgreed: number;
  frees: number;
  freesAgreed: number;
  regionEvents: number;
  regionEventsAgreed: number;
  internalEvents: number;
  internalEventsAgreed: number;
}

export interface EngineOptions {
  /** Stop collecting disagreements and violations after this many each (the counts go on). */
  maxDisagreements?: number;
  /** Invariant checks: full (every invariant, incrementally), fast (trace-level only), off. */
  checks?: ChecksMode;
}

/** Everything the engine needs to go back to a point in the trace. */
export interface EngineSnapshot {
  model: ReturnType<HakmemModel['snapshot']>;
  regions: ReturnType<AddressMap['snapshot']>;
  counts: AgreementCounts;
  disagreementCount: number;
  disagreementsKept: number;
  eventsApplied: number;
  calls: number;
  threads: number[];
  recordedDecisions: Decision[];
  modelDecisions: Decision[];
  traceChecks: ReturnType<TraceChecks['snapshot']> | null;
  users: Map<number, number> | null;
  violationCount: number;
  violationsKept: number;
  stats: ReplayEngine['stats'];
  ptrMap: [number, PointerRef][];
}

/**
 * A region or internal event as recorded, normalised for comparison with the model's: the trace
 * op and up to three numbers (compared as numbers; decisionText formats one only for a report).
 */
const MAX_PENDING = 4096;
/** Unmaps and remaps remembered between two calls (refForOld); more are not looked at. */
const MAX_RECENTLY_GONE = 64;

export class ReplayEngine {
  readonly cfg: HakmemConfig;
  readonly model: HakmemModel;
  readonly addresses: AddressMap;
  readonly counts: AgreementCounts = {
    allocations: 0,
    allocationsAgreed: 0,
    frees: 0,
    freesAgreed: 0,
    regionEvents: 0,
    regionEventsAgreed: 0,
    internalEvents: 0,
    internalEventsAgreed: 0,
  };
  readonly disagreements: Disagreement[] = [];
  disagreementCount = 0;
  /** Running totals for views (the TUI's stats panel). */
  readonly stats = { liveBlocks: 0, liveBytes: 0, mappedBytes: 0, maps: 0, unmaps: 0, remaps: 0, reuses: 0 };
  readonly violations: Violation[] = [];
  violationCount = 0;
  readonly checks: ChecksMode;
  private readonly traceChecks: TraceChecks | null;
  private readonly modelChecks: ModelChecks | null;
  /**
   * Recorded pointer -> the twin's own block, for live blocks. Calls name blocks by the pointers
   * the program saw; each side (the twin here, hakmem-replay natively) resolves them to its own
   * blocks, so after a divergence (a race in a fast-mode trace) both keep a consistent heap and
   * can still be compared with each other. While the twin agrees with the recording, this gives
   * the same answer as the trace's own address map.
   */
  private readonly ptrMap = new AddrTable<PointerRef>();
  /** refForFree's answer (reused). */
  private readonly freeRef: { kind: 'region'; regionId: number; offset: number } = { kind: 'region', regionId: 0, offset: 0 };
  /**
   * Regions as they were before the unmaps and remaps recorded since the last call. A realloc
   * that moves a large block records REGION_UNMAP (or REGION_REMAP) of the old mapping before its
   * own REALLOC event, so its old pointer must be resolved against the regions as they were.
   */
  // Entries are reused (a trace with many large blocks unmaps one every few calls): the first
  // recentlyGoneCount are current.
  private readonly recentlyGone: { regionId: number; base: number; sizeBytes: number }[] = [];
  private recentlyGoneCount = 0;
  /**
   * The twin's answer to the last allocating call (null: it failed) and the last free's verdict.
   * Valid until the next event (the model reuses the placement object).
   */
  lastPlacement: Placement | null = null;
  lastVerdict: Verdict = Verdict.Null;
  /** The slab the current event touched (for incremental model checks). */
  private touched: Placement | null = null;
  private lruChanged = false;
  eventsApplied = 0;
  calls = 0;
  readonly threads = new Set<number>();
  private readonly seen = new Uint8Array(65536);
  /** Forked children inherit a heap the trace does not show: nothing can be compared. */
  readonly comparable: boolean;
  private readonly compareInternal: boolean;
  private readonly maxDisagreements: number;
  private readonly recordedDecisions = new DecisionQueue();
  private readonly modelDecisions = new DecisionQueue();

  constructor(
    readonly header: TraceHeader,
    opts: EngineOptions = {},
  ) {
    this.cfg = configFromEntries(header.config);
    // Internal decisions are only compared when the trace recorded them; without them the
    // model need not build an event object per refill, spill and drain.
    // The engine reads each allocation's answer at once (lastPlacement until the next event): the
    // model need not build two objects per allocation.
    this.model = new HakmemModel(this.cfg, { internalEvents: header.internal, reuseOutcomes: true });
    this.addresses = new AddressMap(header.heapBase, header.heapBytes, this.cfg.superslabSizeBytes, this.cfg.poolPageSizeBytes);
    this.comparable = !header.forked;
    this.compareInternal = header.internal;
    this.maxDisagreements = opts.maxDisagreements ?? 100;
    this.checks = opts.checks ?? 'full';
    const report = (v: Violation) => this.violate(v);
    this.traceChecks = this.checks === 'off' ? null : new TraceChecks(this.cfg, this.addresses, report, (p) => this.describeAddress(p));
    const blocks = this.traceChecks?.blocks;
    // Whether the program holds the twin's block at address a: a live pointer a names it unless,
    // after a disagreement, that pointer names another of the twin's blocks (ptrMap).
    const ptrMap = this.ptrMap;
    this.modelChecks =
      this.checks === 'full' && this.comparable
        ? new ModelChecks(this.model, this.cfg, this.addresses, report, (a) => (blocks?.isLive(a) ?? false) && (ptrMap.size === 0 || ptrMap.get(a) === undefined))
        : null;
  }

  private violate(v: Violation): void {
    this.violationCount++;
    if (this.violations.length < this.maxDisagreements) this.violations.push(v);
  }

  /** Apply one event. */
  apply(ev: TraceEvent): void {
    this.eventsApplied++;
    this.touched = null;
    this.lruChanged = false;
    const lruOps = this.model.lruOps;
    const op = ev.op;
    switch (op) {
      case Op.MALLOC: {
        const size = wideSize(ev.a, ev, 0);
        this.alloc(ev, this.model.malloc(ev.tid, size).placement, size, 0);
        break;
      }
      case Op.CALLOC: {
        const [nmemb, size] = ev.a === SIZE_WIDE && ev.nExt === 2 ? [ev.extB[0], ev.extB[1]] : [1, ev.a];
        this.alloc(ev, this.model.calloc(ev.tid, nmemb, size).placement, nmemb * size, 0);
        break;
      }
      case Op.REALLOC: {
        const oldPtr = ev.extB[0];
        const oldRef = this.refForOld(oldPtr);
        const size = ev.a === SIZE_WIDE && ev.nExt === 2 ? ev.extB[1] : ev.a;
        const oldPlaced = this.modelChecks && oldPtr !== 0 ? this.model.locate(oldRef) : null;
        const out = this.model.realloc(ev.tid, oldRef, size);
        if (oldPtr !== 0 && !(ev.b === 0 && size !== 0)) this.ptrMap.delete(oldPtr);
        // The old block goes unless realloc failed (NULL for a non-zero size) and kept it.
        if (this.traceChecks && oldPtr !== 0 && ev.b === 0 && size !== 0) this.traceChecks.mustBeLive(ev.index, ev.tid, oldPtr, 'realloc');
        if (this.traceChecks && oldPtr !== 0 && !(ev.b === 0 && size !== 0)) {
          const was = this.traceChecks.released(ev.index, ev.tid, oldPtr, 'realloc');
          if (was >= 0) this.unlive(was);
          if (was >= 0 && oldPlaced) this.modelChecks?.userFree(oldPlaced);
          this.touched = oldPlaced;
        }
        if (size === 0 && oldPtr !== 0) {
          // realloc(p, 0) frees p and returns NULL.
          this.seeThread(ev.tid);
          this.calls++;
          break;
        }
        this.alloc(ev, out.placement, size, 0);
        break;
      }
      case Op.POSIX_MEMALIGN:
      case Op.ALIGNED_ALLOC:
      case Op.MEMALIGN:
      case Op.VALLOC:
      case Op.PVALLOC: {
        const align = ev.extB[0];
        const size = ev.a === SIZE_WIDE && ev.nExt === 2 ? ev.extB[1] : ev.a;
        this.alloc(ev, this.model.memalign(ev.tid, MEMALIGN_FN[op], align, size).placement, size, align);
        break;
      }
      case Op.FREE: {
        const ref = this.refForFree(ev.b);
        if (this.ptrMap.size !== 0) this.ptrMap.delete(ev.b);
        const placed = this.modelChecks && ref.kind === 'region' ? this.model.locate(ref) : null;
        const out = this.model.free(ev.tid, ref);
        this.lastVerdict = out.verdict;
        if (this.traceChecks) {
          const was = this.traceChecks.released(ev.index, ev.tid, ev.b, 'free');
          if (was >= 0) this.unlive(was);
          if (was >= 0 && placed) this.modelChecks?.userFree(placed);
          this.touched = placed;
        }
        this.seeThread(ev.tid);
        this.calls++;
        if (this.comparable) {
          this.counts.frees++;
          if (out.verdict === ev.a) this.counts.freesAgreed++;
          else this.disagree(ev, 'free verdict', VERDICT_NAMES[ev.a] ?? `verdict ${ev.a}`, VERDICT_NAMES[out.verdict]);
        }
        break;
      }
      case Op.USABLE_SIZE: {
        this.seeThread(ev.tid);
        this.calls++;
        const got = this.model.usableSize(this.refFor(ev.b));
        const ref = this.addresses.resolve(ev.b);
        // Foreign pointers are answered by the next allocator: nothing to compare.
        if (this.comparable && ref.kind !== 'foreign' && got !== ev.extB[0]) {
          this.disagree(ev, 'usable size', String(ev.extB[0]), String(got));
        }
        break;
      }
      case Op.THREAD_START:
        this.seeThread(ev.tid);
        this.model.threadStart(ev.tid);
        break;
      case Op.THREAD_EXIT:
        this.model.threadExit(ev.tid);
        this.modelChecks?.threadExited(ev.index, ev.tid);
        break;
      case Op.FORK:
      case Op.EXEC:
        break;
      case Op.REGION_MAP:
        this.stats.maps++;
        this.stats.mappedBytes += ev.extB[0];
        this.note(ev, this.addresses.map(ev.a, ev.b, ev.extB[0], ev.extA[0] as RegionKind));
        this.recorded(ev, op, ev.a, ev.extA[0], ev.extB[0]);
        break;
      case Op.REGION_UNMAP:
        this.rememberGone(ev.a);
        this.stats.unmaps++;
        this.stats.mappedBytes -= this.addresses.regions.get(ev.a)?.sizeBytes ?? 0;
        this.note(ev, this.addresses.unmap(ev.a));
        this.recorded(ev, op, ev.a, 0, 0);
        break;
      case Op.REGION_REUSE:
        this.stats.reuses++;
        this.recorded(ev, op, ev.a, 0, 0);
        break;
      case Op.REGION_REMAP:
        this.rememberGone(ev.a);
        this.stats.remaps++;
        this.stats.mappedBytes += ev.extB[0] - (this.addresses.regions.get(ev.a)?.sizeBytes ?? 0);
        this.note(ev, this.addresses.remap(ev.a, ev.b, ev.extB[0]));
        this.recorded(ev, op, ev.a, 0, ev.extB[0]);
        break;
      default:
        if (op >= Op.REFILL && op <= Op.LRU_EVICT) {
          if (this.compareInternal) this.recorded(ev, op, ev.a, ev.b, 0);
        }
        break;
    }
    this.lruChanged = this.model.lruOps !== lruOps;
    this.drainModelEvents(ev);
    if (op <= Op.USABLE_SIZE) this.recentlyGoneCount = 0;
    if (this.modelChecks && (op <= Op.THREAD_EXIT || this.lruChanged)) {
      this.modelChecks.afterEvent(ev.index, ev.tid, this.touched, this.lruChanged);
    }
  }

  private rememberGone(regionId: number): void {
    const r = this.addresses.regions.get(regionId);
    if (r === undefined || this.recentlyGoneCount >= MAX_RECENTLY_GONE) return;
    if (this.recentlyGoneCount === this.recentlyGone.length) this.recentlyGone.push({ regionId: 0, base: 0, sizeBytes: 0 });
    const g = this.recentlyGone[this.recentlyGoneCount++];
    g.regionId = regionId;
    g.base = r.base;
    g.sizeBytes = r.sizeBytes;
  }

  /** A realloc's old pointer: against the regions as they were before this call's unmaps. */
  private refForOld(ptr: number): PointerRef {
    if (ptr !== 0 && (this.ptrMap.size === 0 || this.ptrMap.get(ptr) === undefined)) {
      for (let i = 0; i < this.recentlyGoneCount; i++) {
        const g = this.recentlyGone[i];
        if (ptr >= g.base && ptr < g.base + g.sizeBytes) return { kind: 'region', regionId: g.regionId, offset: ptr - g.base };
      }
    }
    return this.refFor(ptr);
  }

  /** The twin's block for a pointer the program used. */
  private refFor(ptr: number): PointerRef {
    if (this.ptrMap.size !== 0) {
      const r = this.ptrMap.get(ptr);
      if (r !== undefined) return r;
    }
    return this.addresses.resolve(ptr);
  }

  /**
   * refFor for a free, without an object per call: a pointer in a region is answered in
   * `freeRef`, overwritten by the next free (the model reads a ref during the call and keeps
   * nothing of it).
   */
  private refForFree(ptr: number): PointerRef {
    if (this.ptrMap.size !== 0) {
      const r = this.ptrMap.get(ptr);
      if (r !== undefined) return r;
    }
    const region = ptr === 0 ? undefined : this.addresses.find(ptr);
    if (region === undefined) return this.addresses.resolve(ptr);
    const ref = this.freeRef;
    ref.regionId = region.regionId;
    ref.offset = ptr - region.base;
    return ref;
  }

  private unlive(size: number): void {
    this.stats.liveBlocks--;
    this.stats.liveBytes -= size;
  }

  private alloc(ev: TraceEvent, predicted: Placement | null, size: number, align: number): void {
    this.lastPlacement = predicted;
    this.seeThread(ev.tid);
    this.calls++;
    const ptr = ev.b;
    let agreed: boolean;
    if (ptr === 0) {
      agreed = predicted === null;
    } else {
      this.stats.liveBlocks++;
      this.stats.liveBytes += size;
      // The recorded pointer's region and offset (addresses.resolve without building a PointerRef).
      const region = this.addresses.find(ptr);
      const offset = region === undefined ? 0 : ptr - region.base;
      agreed = predicted !== null && region !== undefined && region.regionId === predicted.regionId && (predicted.offset < 0 || predicted.offset === offset);
      if (agreed) {
        // A large block aligned inside its mapping: only the pointer tells where it starts.
        if (predicted!.offset < 0) this.model.pinLargeOffset(region!.regionId, offset);
        if (this.ptrMap.size !== 0) this.ptrMap.delete(ptr);
      } else if (predicted !== null) {
        // Diverged: the program's pointer now names the twin's own block.
        this.ptrMap.set(ptr, { kind: 'region', regionId: predicted.regionId, offset: Math.max(0, predicted.offset) });
      }
      if (this.traceChecks) {
        // The trace checks judge the real allocator's block through the twin's view of its slab.
        // While the twin agrees, that view is the real one. After a disagreement in a fast-mode
        // trace (calls of two threads recorded in another order than they took effect) the real
        // block's slab may be in another state in the twin, so only what the trace itself shows
        // is checked (region, alignment, liveness); in exact mode a disagreement is a bug of one
        // side, and the twin's view of the real block is what names it.
        const placed = agreed ? predicted : this.header.exact ? this.model.locate(this.addresses.resolve(ptr)) : null;
        this.traceChecks.allocated(ev.index, ev.tid, ptr, region, offset, size, align, placed);
        // The model checks count the twin's own block: the one a later free of ptr resolves to.
        if (predicted) {
          this.modelChecks?.userAlloc(predicted);
          this.touched = predicted;
        }
      }
    }
    if (!this.comparable) return;
    this.counts.allocations++;
    if (agreed) this.counts.allocationsAgreed++;
    else {
      this.disagree(
        ev,
        'placement',
        ptr === 0 ? 'NULL (failed)' : this.describePtr(ptr, predicted),
        predicted ? describePlacement(predicted) : 'NULL (failed)',
      );
    }
  }

  private seeThread(tid: number): void {
    if (this.seen[tid] === 0) {
      this.seen[tid] = 1;
      this.threads.add(tid);
    }
  }

  /** An address as the twin sees it: region, slab and block, whether or not the block is live. */
  describeAddress(ptr: number): string {
    const hex = `0x${ptr.toString(16)}`;
    const ref = this.addresses.resolve(ptr);
    if (ref.kind === 'foreign') return `${hex} (outside the heap)`;
    if (ref.kind !== 'region') return `${hex} (inside the heap, in no mapped region)`;
    const r = this.model.state.regions.get(ref.regionId);
    if (!r) return `${hex} (region ${ref.regionId}, which the twin has unmapped)`;
    if (r.kind === RegionKind.Large) return `${hex} (large ${ref.regionId}${ref.offset ? ` offset ${ref.offset}` : ''})`;
    // The trace's region can be larger than the twin's (a disagreement, or a corrupt trace): there
    // is no slab there to describe.
    if (ref.offset >= r.sizeBytes) {
      const what = r.kind === RegionKind.SuperSlab ? 'SuperSlab' : 'pool page';
      return `${hex} (region ${ref.regionId} offset ${ref.offset}, past the end of the twin's ${r.sizeBytes}-byte ${what})`;
    }
    const slabIndex = r.kind === RegionKind.SuperSlab ? Math.floor(ref.offset / this.cfg.slabSizeBytes) : 0;
    const s = r.kind === RegionKind.SuperSlab ? r.slabs[slabIndex] : r.page;
    const within = ref.offset - slabIndex * (r.kind === RegionKind.SuperSlab ? this.cfg.slabSizeBytes : 0);
    const name = r.kind === RegionKind.SuperSlab ? `superslab ${ref.regionId} slab ${slabIndex}` : `pool page ${ref.regionId}`;
    if (s.classSize <= 0) return `${hex} (${name}, free)`;
    const block = Math.floor(within / s.classSize);
    const rest = within - block * s.classSize;
    return `${hex} (${name} block ${block}${rest ? ` + ${rest} bytes` : ''}, class ${s.classIdx} of ${s.classSize} bytes)`;
  }

  /** The recorded pointer as a placement, using the model's slab geometry where it applies. */
  private describePtr(ptr: number, predicted: Placement | null): string {
    const ref = this.addresses.resolve(ptr);
    return describeRef(ref, this.addresses.regions.get(ref.kind === 'region' ? ref.regionId : -1)?.kind, this.cfg, predicted);
  }

  private recorded(ev: TraceEvent, op: number, a: number, b: number, c: number): void {
    if (!this.comparable) return;
    this.recordedDecisions.push(ev.index, ev.tid, op, a, b, c);
    this.matchDecisions(ev);
  }

  private drainModelEvents(ev: TraceEvent): void {
    const events = this.model.takeEvents();
    if (events.length === 0 || !this.comparable) return;
    for (const me of events) pushModelDecision(this.modelDecisions, ev.index, ev.tid, me, this.compareInternal);
    this.matchDecisions(ev);
  }

  /** Pair recorded and predicted decisions in order; a mismatch is a disagreement. */
  private matchDecisions(ev: TraceEvent): void {
    const rec = this.recordedDecisions;
    const mod = this.modelDecisions;
    let i = 0;
    while (i < rec.length && i < mod.length) {
      const op = rec.opAt(i);
      const region = isRegionOp(op);
      if (region) this.counts.regionEvents++;
      else this.counts.internalEvents++;
      if (op === mod.opAt(i) && rec.aAt(i) === mod.aAt(i) && rec.bAt(i) === mod.bAt(i) && rec.cAt(i) === mod.cAt(i)) {
        if (region) this.counts.regionEventsAgreed++;
        else this.counts.internalEventsAgreed++;
      } else {
        const r = rec.get(i);
        const m = mod.get(i);
        this.disagree(
          { ...ev, index: Math.max(r.event, m.event), tid: r.tid },
          region ? 'region event' : 'internal decision',
          `${decisionText(r)} (event ${r.event})`,
          `${decisionText(m)} (after event ${m.event})`,
        );
      }
      i++;
    }
    if (i > 0) {
      rec.drop(i);
      mod.drop(i);
    }
    if (rec.length > MAX_PENDING || mod.length > MAX_PENDING) {
      const side = rec.length > MAX_PENDING ? 'recorded' : 'model';
      this.disagree(ev, 'decision stream', side === 'recorded' ? `${rec.length} unmatched` : '-', side === 'model' ? `${mod.length} unmatched` : '-');
      rec.clear();
      mod.clear();
    }
  }

  private note(ev: TraceEvent, problem: string | null): void {
    if (problem) this.traceChecks?.regionProblem(ev.index, ev.tid, problem);
  }

  private disagree(ev: Pick<TraceEvent, 'index' | 'tid' | 'op'>, what: string, recorded: string, model: string): void {
    this.disagreementCount++;
    if (this.disagreements.length < this.maxDisagreements) {
      this.disagreements.push({ event: ev.index, tid: ev.tid, op: OP_NAMES[ev.op] ?? String(ev.op), what, recorded, model });
    }
  }

  snapshot(): EngineSnapshot {
    return {
      model: this.model.snapshot(),
      regions: this.addresses.snapshot(),
      counts: { ...this.counts },
      disagreementCount: this.disagreementCount,
      disagreementsKept: this.disagreements.length,
      eventsApplied: this.eventsApplied,
      calls: this.calls,
      threads: [...this.threads],
      recordedDecisions: this.recordedDecisions.toArray(),
      modelDecisions: this.modelDecisions.toArray(),
      traceChecks: this.traceChecks?.snapshot() ?? null,
      users: this.modelChecks?.snapshot() ?? null,
      violationCount: this.violationCount,
      violationsKept: this.violations.length,
      stats: { ...this.stats },
      ptrMap: [...this.ptrMap.entries()],
    };
  }

  /** Go back to a snapshot. Disagreements found after it are forgotten. */
  restore(s: EngineSnapshot): void {
    this.model.restore(s.model);
    this.addresses.restore(s.regions);
    Object.assign(this.counts, s.counts);
    this.disagreementCount = s.disagreementCount;
    this.disagreements.length = Math.min(this.disagreements.length, s.disagreementsKept);
    this.eventsApplied = s.eventsApplied;
    this.calls = s.calls;
    this.threads.clear();
    this.seen.fill(0);
    for (const t of s.threads) this.seeThread(t);
    this.recordedDecisions.load(s.recordedDecisions);
    this.modelDecisions.load(s.modelDecisions);
    if (s.traceChecks) this.traceChecks?.restore(s.traceChecks);
    if (s.users) this.modelChecks?.restore(s.users);
    this.violationCount = s.violationCount;
    this.violations.length = Math.min(this.violations.length, s.violationsKept);
    Object.assign(this.stats, s.stats);
    this.ptrMap.clear();
    for (const [k, v] of s.ptrMap) this.ptrMap.set(k, v);
  }

  /**
   * Back to the state of a new engine for the same header and options (the fuzzer runs every
   * case of a campaign on one engine: building the engine, its twin and its checks per case was
   * a large share of the fuzzer's time).
   */
  reset(): void {
    this.model.reset();
    this.addresses.reset();
    for (const k of Object.keys(this.counts) as (keyof AgreementCounts)[]) this.counts[k] = 0;
    this.disagreements.length = 0;
    this.disagreementCount = 0;
    for (const k of Object.keys(this.stats) as (keyof ReplayEngine['stats'])[]) this.stats[k] = 0;
    this.violations.length = 0;
    this.violationCount = 0;
    this.traceChecks?.reset();
    this.modelChecks?.reset();
    this.ptrMap.clear();
    this.recentlyGoneCount = 0;
    this.lastPlacement = null;
    this.lastVerdict = Verdict.Null;
    this.touched = null;
    this.lruChanged = false;
    this.eventsApplied = 0;
    this.calls = 0;
    // seen[t] is set exactly for the threads in `threads`.
    for (const t of this.threads) this.seen[t] = 0;
    this.threads.clear();
    this.recordedDecisions.clear();
    this.modelDecisions.clear();
  }

  /**
   * For a driver that is done with the engine once it has read the results (replayFile): the
   * trace checks' block table hands its arrays on to the next engine's (LiveTable.release) and
   * is left empty. Counts, violations and disagreements stay.
   */
  release(): void {
    this.traceChecks?.release();
  }

  /** Call at the end of the trace: unmatched decisions on either side are disagreements. */
  finish(lastEvent: number): void {
    const n = Math.max(this.recordedDecisions.length, this.modelDecisions.length);
    for (let i = 0; i < n; i++) {
      const r = i < this.recordedDecisions.length ? this.recordedDecisions.get(i) : undefined;
      const m = i < this.modelDecisions.length ? this.modelDecisions.get(i) : undefined;
      if (r && m) continue; // matched pairs were consumed already
      this.disagreementCount++;
      if (this.disagreements.length < this.maxDisagreements) {
        const d = r ?? m;
        this.disagreements.push({
          event: d ? d.event : lastEvent,
          tid: d ? d.tid : 0,
          op: 'end',
          what: d && isRegionOp(d.op) ? 'region event' : 'internal decision',
          recorded: r ? `${decisionText(r)} (event ${r.event})` : 'nothing',
          model: m ? `${decisionText(m)} (after event ${m.event})` : 'nothing',
        });
      }
    }
    this.recordedDecisions.clear();
    this.modelDecisions.clear();
    this.modelChecks?.finish(lastEvent);
  }
}

const MEMALIGN_FN: Record<number, 'posix_memalign' | 'aligned_alloc' | 'memalign' | 'valloc' | 'pvalloc'> = {
  [Op.POSIX_MEMALIGN]: 'posix_memalign',
  [Op.ALIGNED_ALLOC]: 'aligned_alloc',
  [Op.MEMALIGN]: 'memalign',
  [Op.VALLOC]: 'valloc',
  [Op.PVALLOC]: 'pvalloc',
};

export const VERDICT_NAMES: Record<number, string> = {
  [Verdict.Ok]: 'freed',
  [Verdict.Foreign]: 'foreign',
  [Verdict.Invalid]: 'invalid',
  [Verdict.Null]: 'null',
};

const KIND_NAMES: Record<number, string> = {
  [RegionKind.SuperSlab]: 'superslab',
  [RegionKind.PoolPage]: 'pool_page',
  [RegionKind.Large]: 'large',
};

function wideSize(a: number, ev: TraceEvent, extIndex: number): number {
  return a === SIZE_WIDE && ev.nExt > extIndex ? ev.extB[extIndex] : a;
}

/**
 * The model's decision in the form of a recorded one (the numbers the trace event would carry),
 * onto the queue; internal decisions only when the trace recorded them (`internal`).
 */
function pushModelDecision(q: DecisionQueue, event: number, tid: number, me: ModelEvent, internal: boolean): void {
  switch (me.op) {
    case 'region_map':
      return q.push(event, tid, Op.REGION_MAP, me.regionId, me.regionKind, me.sizeBytes);
    case 'region_unmap':
      return q.push(event, tid, Op.REGION_UNMAP, me.regionId, 0, 0);
    case 'region_reuse':
      return q.push(event, tid, Op.REGION_REUSE, me.regionId, 0, 0);
    case 'region_remap':
      return q.push(event, tid, Op.REGION_REMAP, me.regionId, 0, me.sizeBytes);
  }
  if (!internal) return;
  switch (me.op) {
    case 'refill':
      return q.push(event, tid, Op.REFILL, me.classIdx, me.blocks, 0);
    case 'spill':
      return q.push(event, tid, Op.SPILL, me.classIdx, me.blocks, 0);
    case 'drain':
      return q.push(event, tid, Op.DRAIN, me.regionId, me.slabIndex * 0x1_0000_0000 + me.blocks, 0);
    case 'slab_empty':
      return q.push(event, tid, Op.SLAB_EMPTY, me.regionId, me.slabIndex, 0);
    case 'lru_push':
      return q.push(event, tid, Op.LRU_PUSH, me.regionId, me.vclock, 0);
    case 'lru_pop':
      return q.push(event, tid, Op.LRU_POP, me.regionId, me.vclock, 0);
    case 'lru_evict':
      return q.push(event, tid, Op.LRU_EVICT, me.regionId, me.vclock, 0);
  }
}

function isRegionOp(op: number): boolean {
  return op >= Op.REGION_MAP && op <= Op.REGION_REMAP;
}

/** A decision as a report shows it. */
function decisionText(d: Decision): string {
  switch (d.op) {
    case Op.REGION_MAP:
      return `region_map ${d.a} ${KIND_NAMES[d.b] ?? d.b} ${d.c}`;
    case Op.REGION_UNMAP:
      return `region_unmap ${d.a}`;
    case Op.REGION_REUSE:
      return `region_reuse ${d.a}`;
    case Op.REGION_REMAP:
      return `region_remap ${d.a} ${d.c}`;
    default:
      return internalText(d.op, d.a, d.b);
  }
}

function internalText(op: number, a: number, b: number): string {
  switch (op) {
    case Op.DRAIN:
      return `drain region ${a} slab ${Math.floor(b / 0x1_0000_0000)} blocks ${b % 0x1_0000_0000}`;
    case Op.SLAB_EMPTY:
      return `slab_empty region ${a} slab ${b}`;
    case Op.REFILL:
    case Op.SPILL:
      return `${OP_NAMES[op]} class ${a} blocks ${b}`;
    default:
      return `${OP_NAMES[op]} region ${a} vclock ${b}`;
  }
}

export function describePlacement(p: Placement): string {
  switch (p.kind) {
    case RegionKind.SuperSlab:
      return `superslab ${p.regionId} slab ${p.slabIndex} block ${p.blockIndex}`;
    case RegionKind.PoolPage:
      return `pool page ${p.regionId} block ${p.blockIndex}`;
    default:
      return `large ${p.regionId}`;
  }
}

function describeRef(ref: PointerRef, kind: RegionKind | undefined, cfg: HakmemConfig, predicted: Placement | null): string {
  switch (ref.kind) {
    case 'null':
      return 'NULL';
    case 'foreign':
      return 'a pointer outside the heap';
    case 'unmapped':
      return 'a pointer in no mapped region';
    case 'region': {
      if (kind === RegionKind.SuperSlab) {
        const slab = Math.floor(ref.offset / cfg.slabSizeBytes);
        const within = ref.offset - slab * cfg.slabSizeBytes;
        const cls = predicted && predicted.kind === RegionKind.SuperSlab ? cfg.tinyClassSize[predicted.classIdx] : 0;
        const block = cls ? `block ${within / cls}` : `offset ${within}`;
        return `superslab ${ref.regionId} slab ${slab} ${block}`;
      }
      if (kind === RegionKind.PoolPage) {
        const cls = predicted && predicted.kind === RegionKind.PoolPage ? cfg.poolClassSize[predicted.classIdx] : 0;
        return `pool page ${ref.regionId} ${cls ? `block ${ref.offset / cls}` : `offset ${ref.offset}`}`;
      }
      return `large ${ref.regionId}${ref.offset ? ` offset ${ref.offset}` : ''}`;
    }
  }
}
