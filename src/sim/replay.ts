/**
 * Replay a trace file through the engine: the driver behind `hakmem-sim replay`.
 */
import { ReplayEngine, type AgreementCounts, type Disagreement } from './engine.js';
import type { ChecksMode, Violation } from './invariants/violation.js';
import { describeFlags } from './trace/header.js';
import { TraceFile, newEvent, type TraceCursor } from './trace/reader.js';

export interface ReplaySummary {
  file: string;
  mode: string;
  complete: boolean;
  holes: number;
  events: number;
  calls: number;
  threads: number;
  comparable: boolean;
  agreement: AgreementCounts;
  /** Agreed / compared over allocations, frees and region events, in percent. */
  agreementPercent: number;
  disagreements: number;
  firstDisagreement: Disagreement | null;
  disagreementSamples: Disagreement[];
  checks: ChecksMode;
  violations: number;
  firstViolation: Violation | null;
  violationSamples: Violation[];
}

export interface ReplayOptions {
  /** Called every `progressEvery` events with (events done, total slots, slots done). */
  onProgress?: (slotsDone: number, slotsTotal: number) => void;
  progressEvery?: number;
  checks?: ChecksMode;
}

export function replayFile(path: string, opts: ReplayOptions = {}): ReplaySummary {
  const trace = TraceFile.open(path);
  try {
    const engine = new ReplayEngine(trace.header, { checks: opts.checks ?? 'full' });
    const cursor = trace.cursor();
    applyAll(engine, cursor, opts.onProgress ?? null, opts.progressEvery ?? 1 << 16, trace.slotLimit);
    engine.finish(cursor.eventsRead - 1);
    opts.onProgress?.(trace.slotLimit, trace.slotLimit);
    const c = engine.counts;
    // Nothing reads the block table past this point (the summary is made of counts and reports).
    engine.release();
    const compared = c.allocations + c.frees + c.regionEvents + c.internalEvents;
    const agreed = c.allocationsAgreed + c.freesAgreed + c.regionEventsAgreed + c.internalEventsAgreed;
    return {
      file: path,
      mode: describeFlags(trace.header),
      complete: trace.header.complete,
      holes: cursor.holes,
      events: cursor.eventsRead,
      calls: engine.calls,
      threads: engine.threads.size,
      comparable: engine.comparable,
      agreement: { ...c },
      agreementPercent: compared === 0 ? 100 : (100 * agreed) / compared,
      disagreements: engine.disagreementCount,
      firstDisagreement: engine.disagreements[0] ?? null,
      disagreementSamples: engine.disagreements.slice(0, 10),
      checks: engine.checks,
      violations: engine.violationCount,
      firstViolation: engine.violations[0] ?? null,
      violationSamples: engine.violations.slice(0, 10),
    };
  } finally {
    trace.close();
  }
}

/**
 * The event loop, in a function of its own: V8 optimises it once and keeps it. Inside
 * replayFile it was compiled on stack replacement and that code was thrown away at the end of
 * every replay (the code after the loop had never run), so each replay of a short trace began
 * its loop unoptimised again.
 */
function applyAll(engine: ReplayEngine, cursor: TraceCursor, onProgress: ((slotsDone: number, slotsTotal: number) => void) | null, every: number, slotLimit: number): void {
  const ev = newEvent();
  let n = 0;
  while (cursor.next(ev)) {
    engine.apply(ev);
    if (onProgress !== null && ++n % every === 0) onProgress(ev.slot, slotLimit);
  }
}
