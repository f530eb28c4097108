/**
 * The TUI's state and actions, independent of React: a ReplaySession for the
 * cursor, a FindingsScanner for the whole-trace scan, filters, the pointer
 * search, and the selection in the SuperSlab map and slab detail.
 *
 * Positions: the session's `position` is the number of events applied; the
 * *current event* is the last one applied (position - 1, or -1 at the start).
 */
import { ReplaySession } from '../sim/session.js';
import { TraceError } from '../sim/trace/errors.js';
import { Op, isAllocOp } from '../sim/trace/format.js';
import { copyEvent, newEvent, type TraceEvent } from '../sim/trace/reader.js';
import { RegionKind } from '../model/types.js';
import { ROUTE_POOL, routeCode } from '../model/route.js';
import type { HakmemConfig } from '../model/config.js';
import { NONE } from '../model/state.js';
import { CLASS_NONE, FindingsScanner, type Finding, type ScanOptions } from './scanner.js';

export const PANELS = ['timeline', 'map', 'slab', 'threads', 'lru', 'stats', 'findings'] as const;
export type PanelId = (typeof PANELS)[number];

export const PANEL_TITLES: Record<PanelId, string> = {
  timeline: 'Timeline',
  map: 'SuperSlab map',
  slab: 'Slab detail',
  threads: 'Threads',
  lru: 'LRU',
  stats: 'Stats',
  findings: 'Findings',
};

/** A selected slab (or pool page, slab 0) and a block in it. */
export interface Selection {
  regionId: number;
  slabIndex: number;
  block: number;
}

export interface PointerSearch {
  ptr: number;
  /** Events touching the pointer, ascending. */
  hits: { event: number; kind: 'alloc' | 'free' }[];
  /** Index in hits of the event we jumped to, -1 before the first jump. */
  at: number;
}

export interface Busy {
  label: string;
  from: number;
  target: number;
}

/** Forward moves longer than this run in slices, with a progress line. */
const SYNC_FORWARD = 5_000;
/** Filtered moves and the timeline look this far for a matching event. */
const FILTER_REACH = 200_000;
const MAX_HITS = 100_000;
/** The warm-up after a jump may block the screen this long at most. */
const WARM_BUDGET_MS = 1500;

export interface ControllerOptions {
  scan?: ScanOptions;
  /** Start the background scan (default true). */
  scanInBackground?: boolean;
}

export class TuiController {
  readonly session: ReplaySession;
  readonly scanner: FindingsScanner;
  readonly cfg: HakmemConfig;
  threadFilter: number | null = null;
  /** Tiny class c, or pool class ROUTE_POOL + j. */
  classFilter: number | null = null;
  selection: Selection | null = null;
  search: PointerSearch | null = null;
  message = '';
  busy: Busy | null = null;
  focus: PanelId = 'timeline';
  /** The last non-timeline panel focused (shown below the timeline when narrow). */
  side: PanelId = 'map';
  /** Selected row in the findings, threads and LRU panels. */
  findingRow = 0;
  threadRow = 0;
  lruRow = 0;
  /** The event the trace ends at when the reader stopped on a corrupt slot. */
  private stoppedAt: number | null = null;
  private onChange: () => void = () => {};
  private busyTimer: NodeJS.Immediate | null = null;
  private warmTimer: NodeJS.Timeout | null = null;
  /** What one engine snapshot costs here (measured once, for the warm-up). */
  private snapshotMs: number | null = null;

  constructor(
    readonly file: string,
    session: ReplaySession,
    opts: ControllerOptions = {},
  ) {
    this.session = session;
    this.cfg = session.engine.cfg;
    this.scanner = new FindingsScanner(file, opts.scan);
    if (opts.scanInBackground ?? true) this.scanner.start(() => this.onChange());
  }

  /** Open a trace: throws TraceError (or ConfigError) for a bad file, before anything is drawn. */
  static open(file: string, opts: ControllerOptions = {}): TuiController {
    const session = ReplaySession.open(file);
    try {
      // Read the first event now, so a file whose events are garbage is refused up front.
      session.peek(0, 1);
      return new TuiController(file, session, opts);
    } catch (err) {
      session.close();
      throw err;
    }
  }

  subscribe(fn: () => void): void {
    this.onChange = fn;
  }

  close(): void {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.cancelBusy();
    this.scanner.stop();
    this.session.close();
  }

  // ------------------------------------------------------------- positions

  get cur(): number {
    return this.session.position - 1;
  }

  /** Events in the trace, if known yet (complete traces say so in the header). */
  get total(): number | null {
    const h = this.session.trace.header;
    if (this.stoppedAt !== null) return this.stoppedAt;
    if (h.complete) return h.eventCount;
    return this.scanner.total;
  }

  /** The current event (a copy), or null at the start. */
  currentEvent(): TraceEvent | null {
    const c = this.cur;
    if (c < 0) return null;
    const e = this.session.current;
    if (e && e.index === c) return copyEvent(e);
    return this.peek(c, 1)[0] ?? null;
  }

  /** session.peek that stops before a corrupt slot instead of throwing. */
  peek(from: number, count: number): TraceEvent[] {
    try {
      return this.session.peek(from, count);
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
      const n = (err.eventIndex ?? from) - from;
      return n > 0 ? this.session.peek(from, Math.min(n, count)) : [];
    }
  }

  /** Move so that `event` is the current event (-1: the start). */
  goTo(event: number): void {
    this.message = '';
    const total = this.total;
    let pos = Math.max(0, Math.floor(event) + 1);
    if (total !== null) pos = Math.min(pos, total);
    this.seekPosition(pos);
  }

  /** Move n events (negative: back), honouring the thread and class filters. */
  step(n: number): void {
    this.message = '';
    if (n === 0) return;
    if (!this.filtered()) {
      this.goTo(this.cur + n);
      return;
    }
    let at = this.cur;
    for (let i = 0; i < Math.abs(n); i++) {
      const next = n > 0 ? this.findForward(at + 1, (e) => this.matches(e), FILTER_REACH) : this.findBackward(at - 1, (e) => this.matches(e), FILTER_REACH);
      if (next === null) {
        if (i === 0) this.message = `no ${n > 0 ? 'later' : 'earlier'} event matches the filter`;
        break;
      }
      at = next;
    }
    if (at !== this.cur) this.goTo(at);
  }

  home(): void {
    if (!this.filtered()) return this.goTo(0);
    const first = this.findForward(0, (e) => this.matches(e), Infinity);
    this.goTo(first ?? 0);
  }

  end(): void {
    const total = this.total;
    if (total !== null) return this.goTo(total - 1);
    this.message = '';
    this.seekPosition(Number.MAX_SAFE_INTEGER);
  }

  private seekPosition(pos: number): void {
    this.cancelBusy();
    const s = this.session;
    if (pos - s.position > SYNC_FORWARD) {
      this.busy = { label: 'seeking', from: s.position, target: pos };
      const run = () => {
        this.busyTimer = null;
        const b = this.busy;
        if (!b) return;
        const t0 = Date.now();
        let ended = false;
        while (Date.now() - t0 < 40 && s.position < b.target) {
          const want = Math.min(1000, b.target - s.position);
          // advance, not forward: the session lays dense checkpoints as it nears the target.
          if (this.guard(() => s.advance(b.target, want)) !== want) {
            ended = true;
            break;
          }
        }
        if (ended || s.position >= b.target) {
          this.busy = null;
          this.follow();
          this.scheduleWarm();
        } else {
          this.busyTimer = setImmediate(run);
        }
        this.onChange();
      };
      this.busyTimer = setImmediate(run);
      return;
    }
    const jumped = Math.abs(pos - s.position) > 64;
    this.guard(() => s.seek(pos));
    this.follow();
    if (jumped) this.scheduleWarm();
  }

  /**
   * After a jump, the first step back makes the session lay down its dense
   * checkpoints near the cursor (one engine snapshot per 64 events): do that
   * while the user reads the screen, so that ← is instant when it comes.
   * Skipped when snapshots are so large that it would freeze the screen.
   */
  private scheduleWarm(): void {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    const at = this.session.position;
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      const s = this.session;
      if (this.busy || s.position !== at || at < 2) return;
      const t0 = performance.now();
      s.engine.snapshot();
      this.snapshotMs = performance.now() - t0;
      if (this.snapshotMs * 64 > WARM_BUDGET_MS) return;
      this.guard(() => {
        s.back(1);
        s.forward(1);
      });
    }, 300);
    this.warmTimer.unref?.();
  }

  /** Stop a long seek where it got to. */
  cancelBusy(): void {
    if (this.busyTimer) clearImmediate(this.busyTimer);
    this.busyTimer = null;
    if (this.busy) {
      this.busy = null;
      this.follow();
    }
  }

  /** Run a session call; a corrupt slot ends the trace there (with a message) instead of throwing. */
  private guard<T>(fn: () => T): T | 0 {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
      this.stoppedAt = this.session.position;
      this.message = `trace ends early: ${err.problem} (event ${err.eventIndex ?? '?'})`;
      return 0;
    }
  }

  // -------------------------------------------------------------- filters

  filtered(): boolean {
    return this.threadFilter !== null || this.classFilter !== null;
  }

  /** Threads seen so far (by the scan and the cursor), ascending. */
  threadList(): number[] {
    const s = new Set<number>(this.scanner.threads);
    for (const t of this.session.engine.threads) s.add(t);
    return [...s].sort((a, b) => a - b);
  }

  /** Class codes: every tiny class, then every pool class. */
  classList(): number[] {
    const out: number[] = [];
    for (let c = 0; c < this.cfg.tinyClassCount; c++) out.push(c);
    for (let j = 0; j < this.cfg.poolClassCount; j++) out.push(ROUTE_POOL + j);
    return out;
  }

  cycleThread(dir: 1 | -1): void {
    this.threadFilter = cycle(this.threadList(), this.threadFilter, dir);
    this.threadRow = 0;
  }

  cycleClass(dir: 1 | -1): void {
    this.classFilter = cycle(this.classList(), this.classFilter, dir);
  }

  classLabel(code: number): string {
    if (code >= ROUTE_POOL) return `p${code - ROUTE_POOL} ${this.cfg.poolClassSize[code - ROUTE_POOL]}B`;
    return `c${code} ${this.cfg.tinyClassSize[code]}B`;
  }

  /** The class an event touched: from the scan when it got there, else by routing its size. */
  eventClass(e: TraceEvent): number {
    const c = this.scanner.classOf(e.index);
    if (c !== CLASS_NONE) return c;
    if (isAllocOp(e.op) && e.op !== Op.REALLOC && e.b !== 0) {
      const align = e.op >= Op.POSIX_MEMALIGN ? e.extB[0] : 0;
      const size = e.op === Op.CALLOC && e.nExt === 2 ? e.extB[0] * e.extB[1] : e.a;
      return routeCode(this.cfg, size, align);
    }
    return CLASS_NONE;
  }

  matches(e: TraceEvent): boolean {
    if (this.threadFilter !== null && e.tid !== this.threadFilter) return false;
    if (this.classFilter !== null && this.eventClass(e) !== this.classFilter) return false;
    return true;
  }

  // ------------------------------------------------------------- scanning

  /** The first event at or after `from` satisfying pred, looking at most `reach` events. */
  findForward(from: number, pred: (e: TraceEvent) => boolean, reach: number): number | null {
    if (from < 0) from = 0;
    const c = this.session.trace.cursor();
    const cur = this.session.current;
    if (cur && cur.index === from - 1) c.seek({ slot: cur.slot + 1 + cur.nExt, index: from });
    const e = newEvent();
    let seen = 0;
    try {
      while (seen < reach && c.next(e)) {
        if (e.index < from) continue;
        seen++;
        if (pred(e)) return e.index;
      }
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
    }
    return null;
  }

  /** The last event at or before `from` satisfying pred, looking at most `reach` events. */
  findBackward(from: number, pred: (e: TraceEvent) => boolean, reach: number): number | null {
    let hi = from;
    const stop = Math.max(0, from - reach);
    while (hi >= stop && hi >= 0) {
      const lo = Math.max(stop, hi - 1023);
      const evs = this.peek(lo, hi - lo + 1);
      for (let i = evs.length - 1; i >= 0; i--) if (pred(evs[i])) return evs[i].index;
      hi = lo - 1;
    }
    return null;
  }

  /** Up to `before` matching events before the current one, it, and up to `after` after it. */
  timelineEvents(before: number, after: number): { events: TraceEvent[]; cursorRow: number } {
    const cur = this.cur;
    if (!this.filtered()) {
      let from = Math.max(0, cur - before);
      let events = this.peek(from, cur - from + 1 + after);
      // Near the end: fill the rows with earlier events instead.
      const missing = cur - from + 1 + after - events.length;
      if (missing > 0 && from > 0) {
        from = Math.max(0, from - missing);
        events = this.peek(from, cur - from + 1 + after);
      }
      return { events, cursorRow: cur - from };
    }
    const back: TraceEvent[] = [];
    let hi = cur - 1;
    const stop = Math.max(0, cur - 20_000);
    while (back.length < before && hi >= stop) {
      const lo = Math.max(stop, hi - 1023);
      const evs = this.peek(lo, hi - lo + 1);
      for (let i = evs.length - 1; i >= 0 && back.length < before; i--) if (this.matches(evs[i])) back.push(evs[i]);
      hi = lo - 1;
    }
    back.reverse();
    const fwd: TraceEvent[] = [];
    const curEv = this.currentEvent();
    if (curEv) fwd.push(curEv);
    const c = this.session.trace.cursor();
    const live = this.session.current;
    if (live && live.index === cur) c.seek({ slot: live.slot + 1 + live.nExt, index: cur + 1 });
    const e = newEvent();
    let seen = 0;
    try {
      while (fwd.length < after + (curEv ? 1 : 0) && seen < 20_000 && c.next(e)) {
        if (e.index <= cur) continue;
        seen++;
        if (this.matches(e)) fwd.push(copyEvent(e));
      }
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
    }
    return { events: [...back, ...fwd], cursorRow: curEv ? back.length : back.length - 1 };
  }

  // ------------------------------------------------------------- findings

  findings(): Finding[] {
    return this.scanner.sortedFindings();
  }

  /** Jump to the next (dir 1) or previous (-1) finding from the current event. */
  nextFinding(dir: 1 | -1): void {
    const fs = this.findings();
    const cur = this.cur;
    let idx = -1;
    if (dir > 0) idx = fs.findIndex((f) => f.event > cur);
    else for (let i = fs.length - 1; i >= 0; i--) if (fs[i].event < cur) { idx = i; break; }
    if (idx < 0) {
      this.message = fs.length === 0 ? (this.scanner.done ? 'no findings in this trace' : 'no findings yet (the scan is running)') : `no ${dir > 0 ? 'later' : 'earlier'} finding`;
      return;
    }
    this.jumpToFinding(idx);
  }

  jumpToFinding(idx: number): void {
    const f = this.findings()[idx];
    if (!f) return;
    this.findingRow = idx;
    this.goTo(f.event);
    this.message = `finding ${idx + 1}/${this.findings().length}: ${f.id} at event ${f.event}`;
  }

  // --------------------------------------------------------------- search

  /** Find a pointer: jump to its allocation (the one live at the cursor, else the next one). */
  findPointer(text: string): void {
    const t = text.trim().toLowerCase().replace(/^0x/, '');
    if (!/^[0-9a-f]{1,16}$/.test(t)) {
      this.message = `not a hex pointer: '${text}'`;
      return;
    }
    const ptr = parseInt(t, 16);
    const hits: PointerSearch['hits'] = [];
    const c = this.session.trace.cursor();
    const e = newEvent();
    try {
      while (hits.length < MAX_HITS && c.next(e)) {
        if (isAllocOp(e.op) && e.b === ptr) hits.push({ event: e.index, kind: 'alloc' });
        else if ((e.op === Op.FREE && e.b === ptr) || (e.op === Op.REALLOC && e.extB[0] === ptr && e.b !== ptr)) hits.push({ event: e.index, kind: 'free' });
      }
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
    }
    if (hits.length === 0) {
      this.search = null;
      this.message = `pointer ${hexp(ptr)} is never allocated or freed in this trace`;
      return;
    }
    this.search = { ptr, hits, at: -1 };
    const cur = this.cur;
    // The allocation live at the cursor: the last alloc at or before it with no free in between.
    let pick = -1;
    for (let i = hits.length - 1; i >= 0; i--) {
      if (hits[i].event > cur) continue;
      if (hits[i].kind === 'alloc') pick = i;
      break;
    }
    if (pick < 0) pick = hits.findIndex((h) => h.kind === 'alloc' && h.event > cur);
    if (pick < 0) pick = hits.findIndex((h) => h.kind === 'alloc');
    if (pick < 0) pick = 0;
    this.searchJump(pick);
  }

  /** Next (or previous) event touching the searched pointer: its free, then its next allocation... */
  searchNext(dir: 1 | -1): void {
    const s = this.search;
    if (!s) return;
    const i = s.at + dir;
    if (i < 0 || i >= s.hits.length) {
      this.message = `${hexp(s.ptr)}: no ${dir > 0 ? 'later' : 'earlier'} event (${s.hits.length} in all)`;
      return;
    }
    this.searchJump(i);
  }

  private searchJump(i: number): void {
    const s = this.search as PointerSearch;
    s.at = i;
    const h = s.hits[i];
    this.goTo(h.event);
    const next = s.hits[i + 1];
    this.message = `${hexp(s.ptr)}: ${h.kind === 'alloc' ? 'allocated' : 'freed'} at event ${h.event} (${i + 1}/${s.hits.length})` + (next ? `; n: ${next.kind === 'alloc' ? 'next allocation' : 'its free'}` : '');
  }

  clearSearch(): void {
    this.search = null;
  }

  // ------------------------------------------------------------- selection

  /** Select the block the current event touched, if it touched one. */
  follow(): void {
    const e = this.currentEvent();
    if (!e) return;
    const sel = this.placementOf(e);
    if (sel) this.selection = sel;
  }

  /** Where an event's block (or slab) sits in the current state, as far as the address map knows. */
  placementOf(e: TraceEvent): Selection | null {
    const eng = this.session.engine;
    let ptr = 0;
    if (isAllocOp(e.op) || e.op === Op.FREE || e.op === Op.USABLE_SIZE) ptr = e.b;
    else if (e.op === Op.DRAIN) return { regionId: e.a, slabIndex: Math.floor(e.b / 0x1_0000_0000), block: 0 };
    else if (e.op === Op.SLAB_EMPTY) return { regionId: e.a, slabIndex: e.b, block: 0 };
    else if (e.op === Op.REGION_MAP || e.op === Op.REGION_REUSE || e.op === Op.LRU_PUSH || e.op === Op.LRU_POP) {
      return this.session.engine.model.state.regions.has(e.a) ? { regionId: e.a, slabIndex: 0, block: 0 } : null;
    }
    if (ptr === 0) return null;
    const ref = eng.addresses.resolve(ptr);
    if (ref.kind !== 'region') return null;
    const r = eng.model.state.regions.get(ref.regionId);
    if (!r) return null;
    if (r.kind === RegionKind.SuperSlab) {
      const slab = Math.floor(ref.offset / this.cfg.slabSizeBytes);
      const s = r.slabs[slab];
      const within = ref.offset - slab * this.cfg.slabSizeBytes;
      return { regionId: r.regionId, slabIndex: slab, block: s && s.classIdx !== NONE && s.classSize ? Math.floor(within / s.classSize) : 0 };
    }
    if (r.kind === RegionKind.PoolPage) {
      const s = r.page;
      return { regionId: r.regionId, slabIndex: 0, block: s.classIdx !== NONE && s.classSize ? Math.floor(ref.offset / s.classSize) : 0 };
    }
    return null;
  }
}

function cycle(list: number[], cur: number | null, dir: 1 | -1): number | null {
  if (list.length === 0) return null;
  if (cur === null) return dir > 0 ? list[0] : list[list.length - 1];
  const i = list.indexOf(cur);
  const j = i + dir;
  if (i < 0 || j < 0 || j >= list.length) return null;
  return list[j];
}

export function hexp(n: number): string {
  return `0x${n.toString(16)}`;
}
