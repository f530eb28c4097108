/**
 * The fuzzer's recorder: SynthRecorder (src/sim/gen/synth-recorder.ts), the one
 * place that knows how calls on the twin become trace events, with a sink that
 * hands each event straight to the fuzzer's ReplayEngine instead of a file.
 * `recordTo(path)` also writes the same events to a trace file: the saved
 * reproducer is exactly what the engine checked (test/fuzz/feed.test.ts).
 */
import type { HakmemConfig } from '../../model/config.js';
import { configEntries } from '../../model/config.js';
import { FileSink, SynthRecorder, SYNTH_HEAP_BASE, type TraceSink } from '../gen/synth-recorder.js';
import { FLAG_COMPLETE, FLAG_EXACT, FLAG_INTERNAL, HKT_VERSION } from '../trace/format.js';
import type { TraceHeader } from '../trace/header.js';
import { newEvent, type TraceEvent } from '../trace/reader.js';

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
    orderedSlots: null,
    config: configEntries(cfg),
  };
}

export type EventSink = (ev: TraceEvent) => void;

/** Hands every event to `onEvent` in one reused TraceEvent (the callee must not keep it). */
class FeedSink implements TraceSink {
  private readonly ev: TraceEvent = newEvent();
  private events = 0;
  private slots = 0;
  /** Also write every event here (the saved reproducer). */
  file: FileSink | null = null;

  constructor(public onEvent: EventSink) {}

  reset(onEvent: EventSink): void {
    this.close();
    this.onEvent = onEvent;
    this.events = 0;
    this.slots = 0;
  }

  emit(op: number, tid: number, a: number, b: number, nExt: number, ea0: number, eb0: number, ea1: number, eb1: number): void {
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
    this.file?.emit(op, tid, a, b, nExt, ea0, eb0, ea1, eb1);
    this.onEvent(ev);
  }

  close(): void {
    this.file?.close();
    this.file = null;
  }
}

export class MemoryRecorder extends SynthRecorder {
  private readonly feed: FeedSink;

  constructor(cfg: HakmemConfig, sink: EventSink, opts: { internal?: boolean } = {}) {
    const feed = new FeedSink(sink);
    super(feed, cfg, { internal: opts.internal, comm: 'fuzz' });
    this.feed = feed;
  }

  /** Back to a new recorder's state, handing events to `sink` from now on. */
  resetTo(sink: EventSink): void {
    super.reset();
    this.feed.reset(sink);
  }

  /** Write every event from now on to a trace file as well (close with `closeTrace`). */
  recordTo(path: string): void {
    this.feed.file = new FileSink(path, this.cfg, true, 'fuzz');
  }

  closeTrace(): void {
    this.feed.close();
  }
}
