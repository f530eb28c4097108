/**
 * The session's step / back / seek API: going back through checkpoints gives
 * exactly the state a straight replay reaches (digest, counts, findings, and
 * the freed-block history that double-free reports need), and the first step
 * back after a long move forward replays at most one dense interval.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, copyConfig } from '../../src/model/config.js';
import { ReplayEngine } from '../../src/sim/engine.js';
import { generate } from '../../src/sim/gen/workloads.js';
import { SynthRecorder } from '../../src/sim/gen/synth-recorder.js';
import { ReplaySession } from '../../src/sim/session.js';
import { TraceFile, newEvent } from '../../src/sim/trace/reader.js';
import { tmpDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tmpDir()));
afterAll(() => cleanup());

/** What a position looks like: everything a step back must restore. */
function state(e: ReplayEngine): unknown {
  return {
    digest: e.model.digest(),
    counts: { ...e.counts },
    stats: { ...e.stats },
    calls: e.calls,
    violations: e.violations.map((v) => ({ ...v })),
    disagreements: e.disagreementCount,
  };
}

/** The state after `n` events, by a straight replay. */
function straight(file: string, n: number): unknown {
  const t = TraceFile.open(file);
  const e = new ReplayEngine(t.header);
  const c = t.cursor();
  const ev = newEvent();
  for (let i = 0; i < n && c.next(ev); i++) e.apply(ev);
  t.close();
  return state(e);
}

/**
 * A trace with more frees than the freed-block history remembers (65,536), then a
 * double free of a block freed early (forgotten: "never returned") and of one freed
 * late (remembered: "double free").
 */
function doubleFrees(): { file: string; total: number } {
  const file = path.join(dir, 'double-frees.hkt');
  const r = new SynthRecorder(file, copyConfig(DEFAULT_CONFIG));
  const early = r.malloc(0, 2000); // a class the loop never uses: its address is not reused
  r.free(0, early);
  let late = 0;
  for (let i = 0; i < 70_000; i++) {
    late = r.malloc(0, 32 + (i % 7) * 16);
    r.free(0, late);
  }
  r.raw(2, 0, 0, early);
  r.raw(2, 0, 0, late);
  r.close();
  const t = TraceFile.open(file);
  const total = t.header.eventCount;
  t.close();
  return { file, total };
}

describe('session checkpoints', () => {
  it('back and seek give the state of a straight replay, with the freed-block history', () => {
    const { file, total } = doubleFrees();
    const s = ReplaySession.open(file);
    try {
      s.seek(total);
      const end = state(s.engine) as { violations: { id: string; message: string }[] };
      expect(end).toEqual(straight(file, total));
      expect(end.violations.map((v) => v.id)).toEqual(['I2', 'I2']);
      expect(end.violations[0].message).toMatch(/never returned/);
      expect(end.violations[1].message).toMatch(/double free/);
      for (const target of [total - 1, total - 2, 100_000, 70_001, 5, total]) {
        s.seek(target);
        expect(s.position).toBe(target);
        expect(state(s.engine)).toEqual(straight(file, target));
      }
    } finally {
      s.close();
    }
  });

  it('the first step back after a long move forward replays at most one dense interval', () => {
    const file = path.join(dir, 'larson.hkt');
    generate({ workload: 'larson', seed: '3', events: 300_000, out: file, cfg: copyConfig(DEFAULT_CONFIG), internal: true });
    const s = ReplaySession.open(file);
    try {
      const target = 280_000;
      // In slices, as the TUI moves: the same target each time.
      while (s.position < target) s.advance(target, 1000);
      let applied = 0;
      const apply = s.engine.apply.bind(s.engine);
      s.engine.apply = (ev) => {
        applied++;
        apply(ev);
      };
      s.back(1);
      expect(s.position).toBe(target - 1);
      expect(applied).toBeLessThan(64);
      expect(state(s.engine)).toEqual(straight(file, target - 1));
      applied = 0;
      s.back(1);
      expect(applied).toBeLessThan(64);
      expect(state(s.engine)).toEqual(straight(file, target - 2));
    } finally {
      s.close();
    }
  });
});
