/**
 * Delta debugging of a failing trace: `hakmem-sim minimize FILE --out MIN`.
 *
 * The trace becomes a *program*: its calls, each naming blocks by identity (the
 * call that returned them, plus an offset) rather than by address. A candidate
 * is a subset of calls closed under "a kept call keeps the call that made each
 * block it names", so frees always follow their allocation and thread order is
 * kept. Each candidate is re-executed on the twin (SynthRecorder), which writes
 * a fresh, self-consistent trace; the candidate still fails when that trace
 * fails the same way (the same first invariant id) or, for a native failure,
 * when hakmem-replay dies of the same signal on it.
 *
 * Strategy: cut after the failure; try the slice of calls touching the failing
 * block; then ddmin (remove chunks, halving) under a budget.
 *
 * Re-execution reproduces a failure of the *program* (a double free, say), not
 * one of the *allocator*: the twin is a correct allocator, so a trace recorded
 * under a broken build (a block handed out twice, I1) stops failing when its
 * calls are re-executed. For those the candidates are written "as recorded":
 * the kept calls with the results the real allocator gave, with the original
 * header and every thread and region event kept (internal decisions dropped).
 * The mode is chosen once, by which of the two reproduces the whole trace's
 * failure, and reported; when neither does, minimize says so and writes nothing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configFromEntries, type HakmemConfig } from '../model/config.js';
import type { MemalignFn } from '../model/allocator.js';
import { ReplayEngine } from './engine.js';
import { SynthRecorder, SYNTH_HEAP_BASE } from './gen/synth-recorder.js';
import { FLAG_INTERNAL, Op, SIZE_WIDE } from './trace/format.js';
import { TraceFile, newEvent } from './trace/reader.js';
import { TraceWriter } from './trace/writer.js';
import { AddrTable } from './addr-table.js';

/** A pointer argument: a block made by call `id` (+ offset), or a raw address. */
type Arg = { id: number; offset: number } | { raw: number; inHeap: boolean };

interface Call {
  /** Index in the original trace. */
  event: number;
  tid: number;
  op: number;
  size: number;
  nmemb: number;
  align: number;
  arg: Arg | null;
  /** True when the call returns a block (a new identity = this call's index in the program). */
  makes: boolean;
}

export interface Failure {
  kind: 'violation' | 'native-signal';
  /** Invariant id, or signal name. */
  what: string;
  event: number;
  message: string;
}

export interface MinimizeResult {
  failure: Failure;
  /** How candidates were written: the calls re-executed on the twin, or kept with their recorded results. */
  mode: 'reexecuted' | 'recorded';
  originalEvents: number;
  originalCalls: number;
  calls: number;
  events: number;
  runs: number;
  seconds: number;
}

const MEMALIGN: Record<number, MemalignFn> = {
  [Op.POSIX_MEMALIGN]: 'posix_memalign',
  [Op.ALIGNED_ALLOC]: 'aligned_alloc',
  [Op.MEMALIGN]: 'memalign',
  [Op.VALLOC]: 'valloc',
  [Op.PVALLOC]: 'pvalloc',
};

/** The first invariant violation of a trace under full checks, if any. */
export function firstViolation(file: string): Failure | null {
  const t = TraceFile.open(file);
  try {
    const engine = new ReplayEngine(t.header, { checks: 'full', maxDisagreements: 1 });
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) {
      engine.apply(ev);
      if (engine.violationCount > 0) break;
    }
    if (engine.violationCount === 0) engine.finish(c.eventsRead - 1);
    const v = engine.violations[0];
    return v ? { kind: 'violation', what: v.id, event: v.event, message: v.message } : null;
  } finally {
    t.close();
  }
}

/** The signal hakmem-replay dies of on a trace, if it dies of one. */
export function nativeSignal(file: string, replayBin: string): Failure | null {
  const r = spawnSync(replayBin, ['--quiet', '--digest-every', '0', file], { encoding: 'utf8', timeout: 60_000 });
  if (!r.signal) return null;
  const m = (r.stderr || '').match(/event (\d+)/);
  return { kind: 'native-signal', what: r.signal, event: m ? Number(m[1]) : -1, message: `hakmem-replay died of ${r.signal}` };
}

/** Read the program: calls with block identities. */
function extract(file: string): { calls: Call[]; cfg: HakmemConfig; events: number; heapBase: number; heapBytes: number } {
  const t = TraceFile.open(file);
  try {
    const cfg = configFromEntries(t.header.config);
    const { heapBase, heapBytes } = t.header;
    const c = t.cursor();
    const ev = newEvent();
    const calls: Call[] = [];
    /** Address of a block start -> the call that made it (kept after a free, for double frees). */
    const madeAt = new AddrTable<number>();
    /** Block starts with their sizes, for interior pointers: address -> [id, size]. */
    const sizes = new AddrTable<number>();
    const argOf = (addr: number): Arg | null => {
      if (addr === 0) return null;
      const id = madeAt.get(addr);
      if (id !== undefined) return { id, offset: 0 };
      // An interior pointer: search back for a block start within 64 KiB.
      for (let a = addr - (addr % 16); a >= 0 && addr - a <= 1 << 16; a -= 16) {
        const k = madeAt.get(a);
        if (k !== undefined) return addr - a < (sizes.get(a) ?? 0) ? { id: k, offset: addr - a } : { raw: addr, inHeap: inHeap(addr) };
      }
      return { raw: addr, inHeap: inHeap(addr) };
    };
    const inHeap = (a: number) => a >= heapBase && a < heapBase + heapBytes;
    while (c.next(ev)) {
      const op = ev.op;
      let call: Call | null = null;
      switch (op) {
        case Op.MALLOC:
          call = { event: ev.index, tid: ev.tid, op, size: ev.a === SIZE_WIDE && ev.nExt ? ev.extB[0] : ev.a, nmemb: 1, align: 0, arg: null, makes: true };
          break;
        case Op.CALLOC: {
          const wide = ev.a === SIZE_WIDE && ev.nExt === 2;
          call = { event: ev.index, tid: ev.tid, op, size: wide ? ev.extB[1] : ev.a, nmemb: wide ? ev.extB[0] : 1, align: 0, arg: null, makes: true };
          break;
        }
        case Op.REALLOC:
          call = { event: ev.index, tid: ev.tid, op, size: ev.a === SIZE_WIDE && ev.nExt === 2 ? ev.extB[1] : ev.a, nmemb: 1, align: 0, arg: argOf(ev.extB[0]), makes: true };
          break;
        case Op.POSIX_MEMALIGN:
        case Op.ALIGNED_ALLOC:
        case Op.MEMALIGN:
        case Op.VALLOC:
        case Op.PVALLOC:
          call = { event: ev.index, tid: ev.tid, op, size: ev.a === SIZE_WIDE && ev.nExt === 2 ? ev.extB[1] : ev.a, nmemb: 1, align: ev.extB[0], arg: null, makes: true };
          break;
        case Op.FREE:
          call = { event: ev.index, tid: ev.tid, op, size: 0, nmemb: 0, align: 0, arg: argOf(ev.b), makes: false };
          break;
        case Op.THREAD_EXIT:
          call = { event: ev.index, tid: ev.tid, op, size: 0, nmemb: 0, align: 0, arg: null, makes: false };
          break;
        default:
          break;
      }
      if (!call) continue;
      const id = calls.length;
      calls.push(call);
      if (call.makes && ev.b !== 0) {
        madeAt.set(ev.b, id);
        sizes.set(ev.b, Math.max(1, call.size * call.nmemb));
      }
    }
    return { calls, cfg, events: c.eventsRead, heapBase, heapBytes };
  } finally {
    t.close();
  }
}

/** Close a set of call indices under "keep the maker of every block a kept call names". */
function closure(calls: Call[], keep: Set<number>): number[] {
  const stack = [...keep];
  while (stack.length) {
    const i = stack.pop()!;
    const a = calls[i].arg;
    if (a && 'id' in a && !keep.has(a.id)) {
      keep.add(a.id);
      stack.push(a.id);
    }
  }
  return [...keep].sort((x, y) => x - y);
}

/** Re-execute calls on the twin and write the trace. Returns its event count. */
function materialize(calls: Call[], idx: number[], cfg: HakmemConfig, out: string): number {
  const rec = new SynthRecorder(out, cfg, { comm: 'minimized' });
  const ptr = new Map<number, number>();
  const resolve = (a: Arg | null): number => {
    if (!a) return 0;
    if ('id' in a) {
      const p = ptr.get(a.id);
      return p ? p + a.offset : 0;
    }
    // A never-allocated pointer inside the heap keeps that property in the new trace.
    return a.inHeap ? SYNTH_HEAP_BASE + cfg.heapReserveBytes - 4096 : a.raw;
  };
  for (const i of idx) {
    const c = calls[i];
    let p = 0;
    switch (c.op) {
      case Op.MALLOC:
        p = rec.malloc(c.tid, c.size);
        break;
      case Op.CALLOC:
        p = rec.calloc(c.tid, c.nmemb, c.size);
        break;
      case Op.REALLOC:
        p = rec.realloc(c.tid, resolve(c.arg), c.size);
        break;
      case Op.FREE:
        rec.free(c.tid, resolve(c.arg));
        break;
      case Op.THREAD_EXIT:
        rec.threadExit(c.tid);
        break;
      default:
        p = rec.memalign(c.tid, MEMALIGN[c.op], c.align, c.size);
    }
    if (c.makes) ptr.set(i, p);
  }
  const n = rec.eventCount;
  rec.close();
  return n;
}

const CALL_OPS = new Set<number>([
  Op.MALLOC, Op.FREE, Op.CALLOC, Op.REALLOC, Op.POSIX_MEMALIGN, Op.ALIGNED_ALLOC, Op.MEMALIGN, Op.VALLOC, Op.PVALLOC, Op.THREAD_EXIT,
]);
/** Kept whatever the candidate: the events that say which threads and regions exist. */
const STRUCTURE_OPS = new Set<number>([Op.THREAD_START, Op.FORK, Op.EXEC, Op.REGION_MAP, Op.REGION_UNMAP, Op.REGION_REUSE, Op.REGION_REMAP]);

/**
 * Write the kept calls with their recorded results (and every structure event) to `out`,
 * streaming the original trace. Returns the event count.
 */
function materializeRecorded(file: string, calls: Call[], idx: number[], out: string): number {
  const keep = new Set<number>();
  for (const i of idx) keep.add(calls[i].event);
  const t = TraceFile.open(file);
  try {
    const h = t.header;
    const w = new TraceWriter(out, {
      flags: h.flags & ~FLAG_INTERNAL,
      pid: h.pid,
      parentPid: h.parentPid,
      comm: 'minimized',
      heapBase: h.heapBase,
      heapBytes: h.heapBytes,
      startTimeNs: h.startTimeNs,
      config: h.config,
    });
    const c = t.cursor();
    const ev = newEvent();
    const ext: [number, number][] = [];
    while (c.next(ev)) {
      if (CALL_OPS.has(ev.op) ? !keep.has(ev.index) : !STRUCTURE_OPS.has(ev.op)) continue;
      ext.length = 0;
      for (let i = 0; i < ev.nExt; i++) ext.push([ev.extA[i], ev.extB[i]]);
      w.event(ev.op, ev.tid, ev.a, ev.b, ext);
    }
    const n = w.eventCount;
    w.close({ complete: true });
    return n;
  } finally {
    t.close();
  }
}

export interface MinimizeOptions {
  out: string;
  /** Native replay binary: minimise a native crash instead of a twin violation. */
  native?: string;
  maxRuns?: number;
  maxSeconds?: number;
}

/** The trace's failure cannot be reproduced by any candidate (the CLI prints it, exit 2). */
export class MinimizeError extends Error {}

export function minimize(file: string, opts: MinimizeOptions): MinimizeResult | null {
  const t0 = Date.now();
  const failure = opts.native ? nativeSignal(file, opts.native) : firstViolation(file);
  if (!failure) return null;
  const { calls, cfg, events } = extract(file);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hakmem-min-'));
  const candidate = path.join(dir, 'candidate.hkt');
  let runs = 0;
  const maxRuns = opts.maxRuns ?? 2000;
  const deadline = t0 + (opts.maxSeconds ?? 120) * 1000;
  let mode: MinimizeResult['mode'] = 'reexecuted';
  const write = (idx: number[], out: string): number =>
    mode === 'reexecuted' ? materialize(calls, idx, cfg, out) : materializeRecorded(file, calls, idx, out);
  const fails = (idx: number[]): boolean => {
    runs++;
    write(idx, candidate);
    const f = opts.native ? nativeSignal(candidate, opts.native) : firstViolation(candidate);
    return f !== null && f.kind === failure.kind && f.what === failure.what;
  };
  try {
    // 0. The mode: re-execution when it reproduces the failure, else the recorded results.
    const all = calls.map((_, i) => i);
    if (!fails(all)) {
      mode = 'recorded';
      if (!fails(all)) throw new MinimizeError('the failure does not reproduce, neither with the calls re-executed on the twin nor with their recorded results');
    }
    // 1. Everything up to the failing event.
    const lastCall = failure.event >= 0 ? calls.findIndex((c) => c.event > failure.event) : -1;
    let current = Array.from({ length: lastCall < 0 ? calls.length : lastCall }, (_, i) => i);
    if (!fails(current)) current = all;
    // 2. The failing call and the calls naming the same blocks (its history), closed.
    const failing = current[current.length - 1];
    const ids = new Set<number>();
    const f = calls[failing];
    if (f.arg && 'id' in f.arg) ids.add(f.arg.id);
    if (f.makes) ids.add(failing);
    const slice = new Set<number>([failing]);
    for (const i of current) {
      const a = calls[i].arg;
      if ((a && 'id' in a && ids.has(a.id)) || ids.has(i)) slice.add(i);
    }
    const sliced = closure(calls, slice);
    if (sliced.length < current.length && fails(sliced)) current = sliced;
    // 3. ddmin: remove chunks, halving their size, within the budget.
    let chunk = Math.max(1, current.length >> 1);
    while (chunk >= 1 && runs < maxRuns && Date.now() < deadline) {
      let removed = false;
      for (let start = 0; start < current.length && runs < maxRuns && Date.now() < deadline; ) {
        const drop = new Set(current.slice(start, start + chunk));
        const rest = current.filter((i) => !drop.has(i));
        // A kept call may need a dropped maker: close, and skip if nothing would go.
        const cand = closure(calls, new Set(rest));
        if (cand.length < current.length && fails(cand)) {
          current = cand;
          removed = true;
        } else start += chunk;
      }
      if (!removed) chunk >>= 1;
    }
    const outEvents = write(current, opts.out);
    return {
      failure,
      mode,
      originalEvents: events,
      originalCalls: calls.length,
      calls: current.length,
      events: outEvents,
      runs,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
