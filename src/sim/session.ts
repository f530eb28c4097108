/**
 * A replay session: the engine over one trace file, with a step / back / seek
 * API. Going back restores the nearest checkpoint and re-applies events, so it
 * costs at most one checkpoint interval of replay whatever the trace's length.
 *
 * Memory is bounded: at most MAX_SPARSE sparse checkpoints (their spacing
 * doubles when they would exceed it) plus a small dense window of recent
 * checkpoints for stepping back event by event.
 */
import { ReplayEngine, type EngineSnapshot } from './engine.js';
import { TraceFile, copyEvent, newEvent, type TraceCursor, type TraceEvent } from './trace/reader.js';

interface Checkpoint {
  /** Events applied when it was taken. */
  applied: number;
  slot: number;
  engine: EngineSnapshot;
}

const MAX_SPARSE = 256;
const DENSE_SPACING = 64;
const MAX_DENSE = 64;
/**
 * Dense checkpoints a move forward lays before its target: enough that the first steps back are
 * instant, few enough that a jump costs little more than the replay (each is an engine snapshot).
 * Further back, back() lays the whole dense window from the nearest sparse checkpoint.
 */
const FORWARD_DENSE = 4;

export class ReplaySession {
  readonly trace: TraceFile;
  readonly engine: ReplayEngine;
  private readonly cursor: TraceCursor;
  private readonly ev: TraceEvent = newEvent();
  private sparse: Checkpoint[] = [];
  private sparseSpacing = 4096;
  private dense: Checkpoint[] = [];
  /** The last event applied (null before the first). */
  private last: TraceEvent | null = null;
  private total: number | null = null;

  private constructor(trace: TraceFile) {
    this.trace = trace;
    this.engine = new ReplayEngine(trace.header);
    this.cursor = trace.cursor();
    this.sparse.push(this.checkpoint());
  }

  static open(path: string): ReplaySession {
    const trace = TraceFile.open(path);
    try {
      return new ReplaySession(trace);
    } catch (err) {
      trace.close();
      throw err;
    }
  }

  close(): void {
    this.trace.close();
  }

  /** Events applied so far: the next event to apply has this number. */
  get position(): number {
    return this.cursor.eventsRead;
  }

  /** The most recently applied event. */
  get current(): TraceEvent | null {
    return this.last;
  }

  /** Total events in the trace (scans once, lazily, if the header does not say). */
  get length(): number {
    if (this.total === null) {
      if (this.trace.header.complete) this.total = this.trace.header.eventCount;
      else {
        const c = this.trace.cursor();
        const e = newEvent();
        while (c.next(e));
        this.total = c.eventsRead;
      }
    }
    return this.total;
  }

  /** Apply the next event; false at the end. */
  step(): boolean {
    if (!this.cursor.next(this.ev)) return false;
    this.engine.apply(this.ev);
    this.last = this.ev;
    const applied = this.cursor.eventsRead;
    if (applied % this.sparseSpacing === 0) this.addSparse();
    return true;
  }

  /** Apply up to n events; returns how many were applied. */
  forward(n: number): number {
    return this.advance(this.position + n, n);
  }

  /**
   * Apply up to `maxEvents` events towards `target` (a move in slices, as the TUI does, passes
   * the same target every time); returns how many were applied. Within the last
   * DENSE_SPACING * FORWARD_DENSE events before the target it lays dense checkpoints, so that
   * the first steps back after a long move forward restore one of them instead of replaying
   * from a sparse checkpoint up to `sparseSpacing` events back.
   */
  advance(target: number, maxEvents: number): number {
    let i = 0;
    const denseFrom = target - DENSE_SPACING * FORWARD_DENSE;
    while (i < maxEvents && this.position < target && this.step()) {
      i++;
      const p = this.position;
      if (p % DENSE_SPACING === 0 && p > denseFrom) this.addDense();
    }
    return i;
  }

  private addDense(): void {
    const p = this.position;
    const last = this.dense[this.dense.length - 1];
    if (last && last.applied >= p) return;
    this.dense.push(this.checkpoint());
    if (this.dense.length > MAX_DENSE) this.dense.shift();
  }

  back(n = 1): void {
    this.seek(Math.max(0, this.position - n));
  }

  /** Move so that exactly `target` events have been applied. */
  seek(target: number): void {
    target = Math.max(0, Math.floor(target));
    if (target >= this.position) {
      this.advance(target, target - this.position);
      return;
    }
    const cp = this.best(target);
    this.engine.restore(cp.engine);
    this.cursor.seek({ slot: cp.slot, index: cp.applied });
    this.last = null;
    // Re-apply, keeping dense checkpoints near the target for the next step back.
    const dense: Checkpoint[] = this.dense.filter((d) => d.applied <= cp.applied);
    while (this.position < target) {
      if (!this.step()) break;
      const p = this.position;
      if (p % DENSE_SPACING === 0 && target - p < DENSE_SPACING * MAX_DENSE) dense.push(this.checkpoint());
    }
    this.dense = dense.slice(-MAX_DENSE);
    if (this.last) this.last = copyEvent(this.last);
  }

  /** Read events [from, from + count) without moving the session (for a timeline). */
  peek(from: number, count: number): TraceEvent[] {
    const out: TraceEvent[] = [];
    if (count <= 0) return out;
    from = Math.max(0, from);
    let start: Checkpoint = this.sparse[0];
    for (const cp of [...this.sparse, ...this.dense]) if (cp.applied <= from && cp.applied > start.applied) start = cp;
    const c = this.trace.cursor();
    c.seek({ slot: start.slot, index: start.applied });
    const e = newEvent();
    while (out.length < count && c.next(e)) if (e.index >= from) out.push(copyEvent(e));
    return out;
  }

  private best(target: number): Checkpoint {
    let best = this.sparse[0];
    for (const cp of this.sparse) if (cp.applied <= target && cp.applied > best.applied) best = cp;
    for (const cp of this.dense) if (cp.applied <= target && cp.applied > best.applied) best = cp;
    return best;
  }

  private checkpoint(): Checkpoint {
    const pos = this.cursor.position;
    return { applied: pos.index, slot: pos.slot, engine: this.engine.snapshot() };
  }

  private addSparse(): void {
    const applied = this.cursor.eventsRead;
    if (this.sparse.some((c) => c.applied === applied)) return;
    this.sparse.push(this.checkpoint());
    this.sparse.sort((a, b) => a.applied - b.applied);
    if (this.sparse.length > MAX_SPARSE) {
      // Double the spacing: keep every other checkpoint (always the first).
      this.sparseSpacing *= 2;
      this.sparse = this.sparse.filter((c) => c.applied % this.sparseSpacing === 0);
    }
  }
}
