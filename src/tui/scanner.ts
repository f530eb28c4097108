/**
 * The findings scan: a second ReplayEngine runs over the whole trace in the
 * background, a time slice at a time (setImmediate between slices), and
 * collects every invariant violation and every disagreement with the real
 * allocator. It also notes, per event, the slab class the event touched (for
 * the class filter) and the threads the trace holds.
 */
import { ReplayEngine } from '../sim/engine.js';
import { TraceError } from '../sim/trace/errors.js';
import { Op, isAllocOp } from '../sim/trace/format.js';
import { TraceFile, newEvent, type TraceCursor, type TraceEvent } from '../sim/trace/reader.js';
import { RegionKind } from '../model/types.js';
import { ROUTE_POOL } from '../model/route.js';

export interface Finding {
  event: number;
  tid: number;
  /** 'violation' (an invariant broke) or 'disagreement' (twin and real allocator differ), or 'trace'. */
  kind: 'violation' | 'disagreement' | 'trace';
  /** I1..I13, or what was compared. */
  id: string;
  text: string;
}

/** Class codes per event: tiny class c, pool class ROUTE_POOL + j; these two mean none / not known. */
export const CLASS_NONE = 255;
export const CLASS_LARGE = 254;
const CHUNK_EVENTS = 1 << 16;

export interface ScanOptions {
  /** Stop a slice after this many events (default 20000). */
  sliceEvents?: number;
  /** ... or after this many milliseconds (default 8: keys wait at most that long). */
  sliceMs?: number;
}

export class FindingsScanner {
  readonly findings: Finding[] = [];
  /** Event numbers with a finding, and what kind ('!' violation, '*' disagreement). */
  readonly marks = new Map<number, string>();
  readonly threads = new Set<number>();
  eventsScanned = 0;
  done = false;
  error: string | null = null;
  readonly totalHint: number | null;
  private readonly trace: TraceFile;
  private readonly cursor: TraceCursor;
  private readonly engine: ReplayEngine;
  private readonly ev: TraceEvent = newEvent();
  private readonly classes: Uint8Array[] = [];
  private readonly ptrClass = new Map<number, number>();
  private vKept = 0;
  private dKept = 0;
  private timer: NodeJS.Immediate | null = null;
  private stopped = false;
  private sorted = true;
  private readonly sliceEvents: number;
  private readonly sliceMs: number;

  constructor(path: string, opts: ScanOptions = {}) {
    this.trace = TraceFile.open(path);
    this.cursor = this.trace.cursor();
    this.engine = new ReplayEngine(this.trace.header, { maxDisagreements: 1_000_000, checks: 'full' });
    this.totalHint = this.trace.header.complete ? this.trace.header.eventCount : null;
    this.sliceEvents = opts.sliceEvents ?? 20_000;
    this.sliceMs = opts.sliceMs ?? 8;
  }

  get violationCount(): number {
    return this.engine.violationCount;
  }

  get disagreementCount(): number {
    return this.engine.disagreementCount;
  }

  /** Fraction done, 0..1 (by slots when the event count is unknown). */
  get progress(): number {
    if (this.done) return 1;
    if (this.totalHint) return Math.min(1, this.eventsScanned / this.totalHint);
    return this.trace.slotLimit ? Math.min(1, this.cursor.position.slot / this.trace.slotLimit) : 1;
  }

  /** Events in the trace, once known. */
  get total(): number | null {
    return this.totalHint ?? (this.done ? this.eventsScanned : null);
  }

  /** Start scanning in the background; `onUpdate` is called after every slice. */
  start(onUpdate: () => void): void {
    const run = () => {
      this.timer = null;
      if (this.stopped) return;
      this.slice();
      onUpdate();
      if (!this.done && !this.stopped) this.timer = setImmediate(run);
    };
    this.timer = setImmediate(run);
  }

  /** Scan everything now (tests, small traces). */
  runToEnd(): void {
    while (!this.done) this.slice();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearImmediate(this.timer);
    this.timer = null;
    this.trace.close();
  }

  /** Findings sorted by event. */
  sortedFindings(): Finding[] {
    if (!this.sorted) {
      this.findings.sort((a, b) => a.event - b.event);
      this.sorted = true;
    }
    return this.findings;
  }

  /** The class code the event touched, or CLASS_NONE when unknown (not scanned, or no block). */
  classOf(event: number): number {
    const chunk = this.classes[Math.floor(event / CHUNK_EVENTS)];
    return chunk ? chunk[event % CHUNK_EVENTS] : CLASS_NONE;
  }

  private setClass(event: number, code: number): void {
    const i = Math.floor(event / CHUNK_EVENTS);
    while (this.classes.length <= i) this.classes.push(new Uint8Array(CHUNK_EVENTS).fill(CLASS_NONE));
    this.classes[i][event % CHUNK_EVENTS] = code;
  }

  private slice(): void {
    if (this.done) return;
    const t0 = Date.now();
    const ev = this.ev;
    const eng = this.engine;
    let n = 0;
    try {
      for (;;) {
        if (!this.cursor.next(ev)) {
          eng.finish(this.cursor.eventsRead - 1);
          this.done = true;
          break;
        }
        this.scanEvent(ev);
        n++;
        if (n >= this.sliceEvents || ((n & 127) === 0 && Date.now() - t0 >= this.sliceMs)) break;
      }
    } catch (err) {
      if (!(err instanceof TraceError)) throw err;
      this.error = err.problem;
      this.add({ event: this.cursor.eventsRead, tid: 0, kind: 'trace', id: 'trace', text: err.problem });
      this.done = true;
    }
    this.eventsScanned = this.cursor.eventsRead;
    this.collect();
  }

  private scanEvent(ev: TraceEvent): void {
    const eng = this.engine;
    const op = ev.op;
    let freedClass = -1;
    if (op === Op.FREE) freedClass = this.takePtr(ev.b);
    else if (op === Op.REALLOC && ev.extB[0] !== 0) freedClass = this.takePtr(ev.extB[0]);
    eng.apply(ev);
    if (op <= Op.USABLE_SIZE) this.threads.add(ev.tid);
    if (isAllocOp(op) && ev.b !== 0) {
      const p = eng.model.locate(eng.addresses.resolve(ev.b));
      const code = p === null ? CLASS_NONE : p.kind === RegionKind.SuperSlab ? p.classIdx : p.kind === RegionKind.PoolPage ? ROUTE_POOL + p.classIdx : CLASS_LARGE;
      this.ptrClass.set(ev.b, code);
      this.setClass(ev.index, code);
    } else if (freedClass >= 0) {
      this.setClass(ev.index, freedClass);
    }
    if (eng.violations.length !== this.vKept || eng.disagreements.length !== this.dKept) this.collect();
  }

  private takePtr(ptr: number): number {
    const c = this.ptrClass.get(ptr);
    if (c === undefined) return -1;
    this.ptrClass.delete(ptr);
    return c;
  }

  private collect(): void {
    const eng = this.engine;
    while (this.vKept < eng.violations.length) {
      const v = eng.violations[this.vKept++];
      this.add({ event: v.event, tid: v.tid, kind: 'violation', id: v.id, text: `${v.message} (${v.subject})` });
    }
    while (this.dKept < eng.disagreements.length) {
      const d = eng.disagreements[this.dKept++];
      this.add({ event: d.event, tid: d.tid, kind: 'disagreement', id: d.what, text: `recorded ${d.recorded}, twin ${d.model}` });
    }
  }

  private add(f: Finding): void {
    const last = this.findings[this.findings.length - 1];
    if (last && last.event > f.event) this.sorted = false;
    this.findings.push(f);
    const prev = this.marks.get(f.event);
    const mark = f.kind === 'disagreement' ? '*' : '!';
    this.marks.set(f.event, prev && prev !== mark ? '!' : mark);
  }
}
