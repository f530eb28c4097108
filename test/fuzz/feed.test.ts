import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRecorder } from '../../src/sim/fuzz/feed.js';
import { presetConfig } from '../../src/sim/fuzz/program.js';
import { SynthRecorder } from '../../src/sim/gen/synth-recorder.js';
import { TraceFile, copyEvent, newEvent, type TraceEvent } from '../../src/sim/trace/reader.js';
import { tmpDir } from '../helpers/tmp.js';

/** The event's meaningful fields (extension slots beyond nExt are left over from earlier events). */
function norm(e: TraceEvent): TraceEvent {
  const c = copyEvent(e);
  for (let i = c.nExt; i < 3; i++) {
    c.extA[i] = 0;
    c.extB[i] = 0;
  }
  return c;
}

function readAll(file: string): TraceEvent[] {
  const t = TraceFile.open(file);
  try {
    const c = t.cursor();
    const ev = newEvent();
    const out: TraceEvent[] = [];
    while (c.next(ev)) out.push(norm(ev));
    return out;
  } finally {
    t.close();
  }
}

interface Calls {
  malloc(t: number, n: number): number;
  calloc(t: number, m: number, n: number): number;
  realloc(t: number, p: number, n: number): number;
  memalign(t: number, fn: 'posix_memalign' | 'valloc', a: number, n: number): number;
  free(t: number, p: number): unknown;
  threadExit(t: number): void;
}

/** A multi-threaded program with remote frees, spills, drains, EMPTY, pool and large blocks. */
function program(r: Calls): void {
  const held: number[] = [];
  for (let i = 0; i < 40; i++) held.push(r.malloc(i % 3, [16, 48, 1000, 3000, 70000][i % 5]));
  held.push(r.calloc(1, 3, 100));
  held.push(r.memalign(2, 'posix_memalign', 64, 200));
  held.push(r.memalign(0, 'valloc', 4096, 5000));
  held[0] = r.realloc(0, held[0], 900);
  for (let i = 0; i < held.length; i += 2) r.free((i + 1) % 3, held[i]);
  r.threadExit(1);
  for (let i = 1; i < held.length; i += 2) r.free(0, held[i]);
  r.threadExit(2);
  r.threadExit(0);
}

describe('MemoryRecorder', () => {
  let dir: string;
  let cleanup: () => void;
  beforeAll(() => ({ dir, cleanup } = tmpDir('hakmem-feed-')));
  afterAll(() => cleanup());

  it('feeds the engine exactly the events SynthRecorder writes', () => {
    const cfg = presetConfig('small');
    const synth = path.join(dir, 'synth.hkt');
    const rec = new SynthRecorder(synth, cfg, { internal: true });
    program(rec);
    rec.close();

    const fed: TraceEvent[] = [];
    const mem = new MemoryRecorder(cfg, (ev) => fed.push(norm(ev)), { internal: true });
    const saved = path.join(dir, 'mem.hkt');
    mem.recordTo(saved);
    program(mem);
    mem.closeTrace();

    const fromSynth = readAll(synth);
    expect(fed.length).toBeGreaterThan(100);
    expect(fed).toEqual(fromSynth);
    expect(readAll(saved)).toEqual(fromSynth);
    // Same bytes after the header's comm field and timestamps (both write 'synthetic'/'fuzz').
    expect(fs.statSync(saved).size).toBe(fs.statSync(synth).size);
  });
});
