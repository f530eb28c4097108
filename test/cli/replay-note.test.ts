/**
 * A fast-mode trace of several threads that disagrees with the twin gets a note saying the
 * disagreement may be the recording's race (docs/trace-format.md, "Order"); an exact-mode one
 * does not.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import { formatSummary } from '../../src/cli/replay.js';
import { SynthRecorder, syntheticWriterOptions } from '../../src/sim/gen/synth-recorder.js';
import { replayFile } from '../../src/sim/replay.js';
import { FLAG_EXACT, Op } from '../../src/sim/trace/format.js';
import { TraceFile, newEvent } from '../../src/sim/trace/reader.js';
import { TraceWriter } from '../../src/sim/trace/writer.js';
import { tmpDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tmpDir()));
afterAll(() => cleanup());

/** Two threads' first mallocs recorded the other way round (as a fast-mode race leaves them). */
function racedTrace(exact: boolean): string {
  const real = new SynthRecorder(path.join(dir, 'real.hkt'), DEFAULT_CONFIG);
  real.malloc(0, 16);
  const a0 = real.malloc(0, 60);
  const a1 = real.malloc(1, 100);
  real.close();
  const synth = path.join(dir, 'synth.hkt');
  const r = new SynthRecorder(synth, DEFAULT_CONFIG);
  r.malloc(0, 16);
  r.raw(Op.THREAD_START, 1, 0, 1001);
  r.raw(Op.MALLOC, 1, 100, a1);
  r.raw(Op.MALLOC, 0, 60, a0);
  r.close();
  // The same events under a header of the mode asked for.
  const out = path.join(dir, exact ? 'exact.hkt' : 'fast.hkt');
  const opts = syntheticWriterOptions(DEFAULT_CONFIG, false, 'raced');
  const w = new TraceWriter(out, { ...opts, flags: exact ? FLAG_EXACT : 0 });
  const t = TraceFile.open(synth);
  const c = t.cursor();
  const ev = newEvent();
  while (c.next(ev)) {
    const ext: [number, number][] = [];
    for (let i = 0; i < ev.nExt; i++) ext.push([ev.extA[i], ev.extB[i]]);
    w.event(ev.op, ev.tid, ev.a, ev.b, ext);
  }
  t.close();
  w.close();
  return out;
}

describe('replay: the fast-mode race note', () => {
  it('is printed for a fast-mode trace of two threads that disagrees', () => {
    const s = replayFile(racedTrace(false), { checks: 'full' });
    expect(s.disagreements).toBeGreaterThan(0);
    expect(s.violations).toBe(0);
    expect(formatSummary(s)).toMatch(/^note {8}a fast-mode trace orders the calls of different threads/m);
  });

  it('is not printed for the same events recorded in exact mode', () => {
    const s = replayFile(racedTrace(true), { checks: 'full' });
    expect(s.disagreements).toBeGreaterThan(0);
    expect(formatSummary(s)).not.toMatch(/^note /m);
  });
});
