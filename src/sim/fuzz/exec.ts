/**
 * Run one fuzz case: decode its program, interleave its threads by the
 * schedule, run every call on the allocator (the twin, or a twin with a
 * planted bug) through MemoryRecorder, and feed each trace event straight into
 * a ReplayEngine with full invariant checks. The first violation,
 * disagreement or exception is the case's finding.
 */
import type { HakmemConfig } from '../../model/config.js';
import { ReplayEngine } from '../engine.js';
import { SYNTH_HEAP_BASE } from '../gen/synth-recorder.js';
import type { TraceEvent } from '../trace/reader.js';
import { MemoryRecorder, syntheticHeader } from './feed.js';
import { N_SLOTS, decodeOp, decodeOpInto, describeOp, swarmTotal, type FuzzCase, type Op } from './program.js';
import { PctScheduler, PickScheduler, type ScheduleMode, type Scheduler } from './schedule.js';
import { checkNative, type NativeServer } from './native.js';
import { installVariant, type ModelVariant } from './variants.js';

export interface ExecEnv {
  cfg: HakmemConfig;
  sizes: readonly number[];
  schedule: ScheduleMode;
  variant: ModelVariant | null;
  misuse: boolean;
  /** --native: each case also runs on this hakmem-replay --serve (native.ts). */
  native?: NativeServer | null;
  /**
   * The engine and recorder the cases of this environment run on, built by the first case and
   * reset by each later one (executeCase). Cases with a model variant build their own: a
   * variant's wrappers keep state of their own across calls.
   */
  twin?: { engine: ReplayEngine; mem: MemoryRecorder } | null;
}

export interface Finding {
  kind: 'violation' | 'disagreement' | 'exception' | 'native';
  /** Invariant id (I1..I13), 'disagreement', 'exception', or native-disagreement / native-crash / native-hang. */
  id: string;
  /** One line. */
  message: string;
  /** Trace event number where it showed. */
  event: number;
  tid: number;
}

export interface ExecResult {
  finding: Finding | null;
  /** Allocator calls made (malloc, free, ..., thread exits). */
  calls: number;
  events: number;
  /** Context switches away from a thread that could have continued. */
  preemptions: number;
  /** Misuse mode: I2 violations seen (the misuse the case committed, detected as it should be). */
  misuseDetected: number;
  /** The calls in the order they ran (only with `log`). */
  log: string[];
}

/** An address outside the reservation (another allocator's block). */
const FOREIGN_PTR = 0x1000_0000;

/**
 * Run the case. With `log`, the calls are recorded as text. With `tracePath`,
 * every event the engine sees is also written to that trace file (the saved
 * reproducer). With `toCompletion`, the case runs to its end after the first
 * finding, with the teardown (every block freed, every thread exited), so the
 * trace also shows the finding's later consequences (a slab that never
 * empties, a spill that never happens) to a replay by the correct twin.
 */
export function executeCase(
  c: FuzzCase,
  env: ExecEnv,
  opts: { log?: boolean; tracePath?: string; toCompletion?: boolean } = {},
): ExecResult {
  const misuse = env.misuse;
  let lastIndex = -1;
  let stopped = false;
  let engine: ReplayEngine;
  let mem: MemoryRecorder;
  const sink = (ev: TraceEvent) => {
    lastIndex = ev.index;
    engine.apply(ev);
  };
  if (!env.variant && env.twin) {
    engine = env.twin.engine;
    mem = env.twin.mem;
    engine.reset();
    mem.resetTo(sink);
  } else {
    engine = new ReplayEngine(syntheticHeader(env.cfg, true), { checks: 'full', maxDisagreements: misuse ? 1 << 20 : 4 });
    mem = new MemoryRecorder(env.cfg, sink, { internal: true });
    if (env.variant) {
      installVariant(mem.model, env.variant);
      installVariant(engine.model, env.variant);
    } else env.twin = { engine, mem };
  }
  const native = env.native ?? null;
  const tracePath = opts.tracePath ?? native?.tracePath;
  if (tracePath) mem.recordTo(tracePath);
  const result: ExecResult = { finding: null, calls: 0, events: 0, preemptions: 0, misuseDetected: 0, log: [] };
  const log = opts.log === true;
  let seenViolations = 0;

  const toCompletion = opts.toCompletion === true;
  const check = (): boolean => {
    if (result.finding !== null) return !toCompletion;
    if (engine.violationCount > seenViolations) {
      for (let i = seenViolations; i < engine.violations.length; i++) {
        const v = engine.violations[i];
        if (misuse && v.id === 'I2') {
          result.misuseDetected++;
          continue;
        }
        result.finding = { kind: 'violation', id: v.id, message: `${v.id} ${v.subject}: ${v.message}`, event: v.event, tid: v.tid };
        return !toCompletion;
      }
      seenViolations = engine.violationCount;
    }
    if (engine.disagreementCount > 0) {
      const d = engine.disagreements[0];
      result.finding = {
        kind: 'disagreement',
        id: 'disagreement',
        message: d ? `${d.what} at event ${d.event} (${d.op}): recorded ${d.recorded}, twin ${d.model}` : 'disagreement',
        event: d?.event ?? lastIndex,
        tid: d?.tid ?? 0,
      };
      return !toCompletion;
    }
    return false;
  };

  const nThreads = c.threads.length;
  // Trace thread indices are handed out in first-call order, as the native allocator numbers
  // its threads (a program thread that calls first is trace thread 0), so a replay of the trace
  // by hakmem-replay has the same threads at every point (fuzz --native compares digests).
  const tmap = new Array<number>(nThreads).fill(-1);
  let nextTid = 0;
  const tr = (t: number): number => (tmap[t] >= 0 ? tmap[t] : (tmap[t] = nextTid++));
  const started = (t: number): boolean => tmap[t] >= 0 && mem.isStarted(tmap[t]);
  const rec = {
    malloc: (t: number, n: number) => mem.malloc(tr(t), n),
    calloc: (t: number, m: number, n: number) => mem.calloc(tr(t), m, n),
    memalign: (t: number, fn: Parameters<typeof mem.memalign>[1], a: number, n: number) => mem.memalign(tr(t), fn, a, n),
    realloc: (t: number, p: number, n: number) => mem.realloc(tr(t), p, n),
    free: (t: number, p: number) => mem.free(tr(t), p),
    threadExit: (t: number) => mem.threadExit(tr(t)),
  };
  // Raw ops are decoded as they run, into one Op (`cur`).
  const ops = c.threads;
  const cur = decodeOp([0, 0, 0], c.swarm, c.palette, env.sizes, misuse);
  const total = swarmTotal(c.swarm, misuse);
  const pc = new Array<number>(nThreads).fill(0);
  const slots = new Array<number>(N_SLOTS).fill(0);
  const stale = new Array<number>(N_SLOTS).fill(0);
  // Blocks whose slot was overwritten by a later allocation: the program leaked them (the
  // teardown frees them too).
  const leaked: number[] = [];
  const put = (slot: number, p: number): void => {
    if (slots[slot] !== 0) leaked.push(slots[slot]);
    slots[slot] = p;
  };
  const runnable: number[] = [];
  let totalSteps = 0;
  for (let t = 0; t < nThreads; t++) {
    if (ops[t].length > 0) runnable.push(t);
    totalSteps += ops[t].length;
  }
  const sched: Scheduler = env.schedule === 'pct' ? new PctScheduler(c.pctSeed, runnable, totalSteps) : new PickScheduler(c.schedule);
  const exited = new Set<number>();

  const run = (tid: number, op: Op): void => {
    if (log) result.log.push(describeOp(tid, op));
    const s = op.slot;
    switch (op.kind) {
      case 'malloc':
        put(s, rec.malloc(tid, op.size));
        break;
      case 'calloc':
        put(s, rec.calloc(tid, op.nmemb, op.size));
        break;
      case 'memalign':
        put(s, rec.memalign(tid, op.fn, op.align, op.size));
        break;
      case 'realloc': {
        const p = slots[s];
        const q = rec.realloc(tid, p, op.size);
        if (op.size === 0 && p !== 0) {
          stale[s] = p;
          slots[s] = 0;
        } else if (q !== 0) slots[s] = q;
        break;
      }
      case 'free':
        rec.free(tid, slots[s]);
        if (slots[s] !== 0) stale[s] = slots[s];
        slots[s] = 0;
        break;
      case 'foreign-free':
        rec.free(tid, FOREIGN_PTR + 16 * s);
        break;
      case 'exit':
        rec.threadExit(tid);
        exited.add(tid);
        break;
      case 'double-free':
        rec.free(tid, stale[s]);
        break;
      case 'interior-free':
        rec.free(tid, slots[s] === 0 ? 0 : slots[s] + op.delta);
        break;
      case 'wild-free':
        rec.free(tid, SYNTH_HEAP_BASE + env.cfg.heapReserveBytes / 4 - 4096 * (1 + s));
        break;
    }
    result.calls++;
  };

  try {
    let step = 0;
    let current = -1;
    while (runnable.length > 0 && !stopped) {
      const i = sched.next(runnable, step++);
      const tid = runnable[i];
      if (current >= 0 && tid !== current && runnable.includes(current)) result.preemptions++;
      current = tid;
      const op = decodeOpInto(cur, ops[tid][pc[tid]++], c.swarm, c.palette, env.sizes, misuse, total);
      // A free of an empty slot, an exit of the main thread or of a thread that has made no call
      // yet, is no call at all.
      const skip =
        ((op.kind === 'free' || op.kind === 'interior-free') && slots[op.slot] === 0) ||
        (op.kind === 'double-free' && stale[op.slot] === 0) ||
        (op.kind === 'exit' && (tid === 0 || !started(tid)));
      if (!skip) {
        run(tid, op);
        if (check()) stopped = true;
      }
      if (pc[tid] >= ops[tid].length || exited.has(tid)) {
        runnable.splice(i, 1);
        // A thread that is done exits (the main thread last, after the teardown).
        if (tid !== 0 && !exited.has(tid) && !stopped && started(tid)) {
          if (log) result.log.push(`t${tid}: thread exit (done)`);
          rec.threadExit(tid);
          exited.add(tid);
          result.calls++;
          if (check()) stopped = true;
        }
      }
    }
    if (!stopped && (c.teardown || toCompletion)) {
      for (let s = 0; s < N_SLOTS && !stopped; s++) {
        if (slots[s] === 0) continue;
        if (log) result.log.push(`t0: free(p${s}) (teardown)`);
        rec.free(0, slots[s]);
        slots[s] = 0;
        result.calls++;
        if (check()) stopped = true;
      }
      for (let i = 0; i < leaked.length && !stopped; i++) {
        if (log) result.log.push(`t0: free(an earlier p) (teardown of a leaked block)`);
        rec.free(0, leaked[i]);
        result.calls++;
        if (check()) stopped = true;
      }
    }
    if (!stopped && toCompletion) {
      // Every thread that is still live exits (the main thread last).
      for (let t = 1; t < nThreads; t++) {
        if (exited.has(t) || !started(t)) continue;
        if (log) result.log.push(`t${t}: thread exit (end)`);
        rec.threadExit(t);
        exited.add(t);
        check();
      }
    }
    if (!stopped) {
      if (log) result.log.push('t0: thread exit (end)');
      rec.threadExit(0);
      result.calls++;
      if (!check()) {
        engine.finish(lastIndex);
        check();
      }
    }
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    result.finding = { kind: 'exception', id: 'exception', message: `${e.name}: ${e.message}`, event: lastIndex, tid: 0 };
  } finally {
    mem.closeTrace();
  }
  result.events = mem.eventCount;
  if (native !== null && tracePath && (result.finding === null || toCompletion)) {
    // The twin ran it clean (with toCompletion: a saved native finding, run again): the real
    // allocator must agree with it event by event.
    const f = checkNative(native, tracePath);
    if (result.finding === null) result.finding = f;
  }
  return result;
}
