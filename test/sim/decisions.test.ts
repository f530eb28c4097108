/**
 * Region events and internal decisions: the engine pairs what the trace recorded with what the
 * twin predicts, in order, and reports the first pair that differs with both sides' view.
 */
import fc from 'fast-check';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import { RegionKind } from '../../src/model/types.js';
import { DecisionQueue, type Decision } from '../../src/sim/decision-queue.js';
import { ReplayEngine } from '../../src/sim/engine.js';
import { SynthRecorder, SYNTH_HEAP_BASE } from '../../src/sim/gen/synth-recorder.js';
import { Op } from '../../src/sim/trace/format.js';
import { TraceFile, newEvent } from '../../src/sim/trace/reader.js';
import { tmpDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tmpDir()));
afterAll(() => cleanup());

let n = 0;
function build(body: (r: SynthRecorder) => void, internal = false): string {
  const file = path.join(dir, `d${n++}.hkt`);
  const r = new SynthRecorder(file, DEFAULT_CONFIG, { internal });
  body(r);
  r.close();
  return file;
}

/** Replay with checks off; with `at`, also snapshot before event `at` and replay the rest again from there. */
function replay(file: string, at = -1): { engine: ReplayEngine; again: string | null } {
  const t = TraceFile.open(file);
  const engine = new ReplayEngine(t.header, { checks: 'off' });
  const c = t.cursor();
  const ev = newEvent();
  let snap = null;
  let pos = null;
  for (;;) {
    const before = c.position;
    if (!c.next(ev)) break;
    if (ev.index === at) {
      snap = engine.snapshot();
      pos = before;
    }
    engine.apply(ev);
  }
  engine.finish(c.eventsRead - 1);
  let again: string | null = null;
  if (snap && pos) {
    const first = JSON.stringify({ d: engine.disagreements, c: engine.counts });
    engine.restore(snap);
    c.seek(pos);
    while (c.next(ev)) engine.apply(ev);
    engine.finish(c.eventsRead - 1);
    again = JSON.stringify({ d: engine.disagreements, c: engine.counts });
    expect(JSON.parse(again)).toEqual(JSON.parse(first));
  }
  t.close();
  return { engine, again };
}

describe('DecisionQueue', () => {
  it('is a FIFO: pushes, drops and growth keep the order', () => {
    const step = fc.oneof(fc.record({ push: fc.integer({ min: 1, max: 40 }) }), fc.record({ drop: fc.nat(50) }));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const q = new DecisionQueue();
        const ref: Decision[] = [];
        let k = 0;
        for (const s of steps) {
          if ('push' in s) {
            for (let i = 0; i < s.push; i++, k++) {
              const d = { event: k, tid: k % 7, op: Op.REGION_MAP + (k % 4), a: k * 3, b: 2 ** 40 + k, c: k % 5 };
              q.push(d.event, d.tid, d.op, d.a, d.b, d.c);
              ref.push(d);
            }
          } else {
            const m = Math.min(s.drop, ref.length);
            q.drop(m);
            ref.splice(0, m);
          }
          expect(q.length).toBe(ref.length);
          expect(q.toArray()).toEqual(ref);
          if (ref.length > 0) expect([q.opAt(0), q.aAt(0), q.bAt(0), q.cAt(0), q.eventAt(0), q.tidAt(0)]).toEqual([ref[0].op, ref[0].a, ref[0].b, ref[0].c, ref[0].event, ref[0].tid]);
        }
        const copy = new DecisionQueue();
        copy.load(q.toArray());
        expect(copy.toArray()).toEqual(ref);
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});

describe('region events and internal decisions', () => {
  const large = 1 << 20;

  it('a clean trace with large blocks agrees on every region event', () => {
    const f = build((r) => {
      const ps = [r.malloc(0, large), r.malloc(0, 3 * large), r.malloc(0, 64)];
      for (const p of ps) r.free(0, p);
      // The freed mappings are kept: the same sizes take them back, then the cache's bound
      // (16) unmaps the oldest.
      const qs = [r.malloc(0, 3 * large), r.malloc(0, large)];
      for (const q of qs) r.free(0, q);
      const many = Array.from({ length: 18 }, (_, i) => r.malloc(0, large + 4096 * (i + 1)));
      for (const q of many) r.free(0, q);
    });
    const { engine } = replay(f);
    expect(engine.disagreements).toEqual([]);
    expect(engine.stats.reuses).toBe(2);
    expect(engine.stats.unmaps).toBeGreaterThanOrEqual(4);
    expect(engine.counts.regionEvents).toBeGreaterThanOrEqual(26);
    expect(engine.counts.regionEventsAgreed).toBe(engine.counts.regionEvents);
  });

  it('a region event that differs from the twin\'s is reported with both views', () => {
    const f = build((r) => {
      r.malloc(0, 64);
      // The twin maps a large region of its own size for this call; the trace says another size.
      const id = 2;
      const base = SYNTH_HEAP_BASE + 0x40_0000_0000;
      r.raw(Op.REGION_MAP, 0, id, base, [[RegionKind.Large, 8 * large]]);
      r.raw(Op.MALLOC, 0, large, base);
      r.raw(Op.FREE, 0, 0, base);
      r.raw(Op.REGION_UNMAP, 0, id, base);
    });
    const { engine } = replay(f, 2);
    const d = engine.disagreements.find((x) => x.what === 'region event');
    expect(d).toBeDefined();
    // Events: thread start 0, SuperSlab map 1, malloc 2, the wrong map 3, the malloc 4.
    expect(d!.recorded).toBe('region_map 2 large 8388608 (event 3)');
    expect(d!.model).toMatch(/^region_map 2 large \d+ \(after event 4\)$/);
    expect(d!.model).not.toContain('8388608');
    expect(d!.event).toBe(4);
    expect(engine.counts.regionEventsAgreed).toBeLessThan(engine.counts.regionEvents);
  });

  it('region events only one side has are reported at the end', () => {
    const f = build((r) => {
      r.malloc(0, 64);
      r.raw(Op.REGION_UNMAP, 0, 1, SYNTH_HEAP_BASE);
    });
    const { engine } = replay(f);
    const end = engine.disagreements.filter((x) => x.op === 'end');
    expect(end).toHaveLength(1);
    expect(end[0].recorded).toBe('region_unmap 1 (event 3)');
    expect(end[0].model).toBe('nothing');
  });

  it('more than 4096 unmatched recorded decisions are one "decision stream" disagreement', () => {
    const f = build((r) => {
      r.malloc(0, 64);
      for (let i = 0; i < 4100; i++) r.raw(Op.REGION_REUSE, 0, 1, SYNTH_HEAP_BASE);
    });
    const { engine } = replay(f);
    const s = engine.disagreements.filter((x) => x.what === 'decision stream');
    expect(s).toHaveLength(1);
    expect(s[0].recorded).toBe('4097 unmatched');
    // Past the overflow the queue was emptied: the last three wait for the end.
    expect(engine.disagreements.filter((x) => x.op === 'end')).toHaveLength(3);
  });

  it('internal decisions are compared when the trace recorded them, and a wrong one is named', () => {
    const ok = build((r) => {
      const ps = Array.from({ length: 200 }, (_, i) => r.malloc(i % 2, 32));
      for (const p of ps) r.free(0, p);
    }, true);
    const a = replay(ok).engine;
    expect(a.counts.internalEvents).toBeGreaterThan(0);
    expect(a.disagreements).toEqual([]);
    const bad = build((r) => {
      r.malloc(0, 32);
      r.raw(Op.REFILL, 0, 1, 99);
      r.malloc(0, 32);
    }, true);
    const b = replay(bad, 1).engine;
    const d = b.disagreements.find((x) => x.what === 'internal decision');
    expect(d?.recorded).toMatch(/^refill class 1 blocks 99 \(event \d+\)$/);
  });
});
