/**
 * Every invariant of docs/invariants.md has a trace (or a corrupted twin
 * state) that breaks it, and the checker names it with the right id.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import type { ModelState, SuperSlab } from '../../src/model/state.js';
import { RegionKind } from '../../src/model/types.js';
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
function build(body: (r: SynthRecorder) => void): string {
  const file = path.join(dir, `t${n++}.hkt`);
  const r = new SynthRecorder(file, DEFAULT_CONFIG);
  body(r);
  r.close();
  return file;
}

/** Replay a trace; `corrupt(state, eventIndex)` may damage the twin's state before an event. */
function ids(file: string, corrupt?: (st: ModelState, event: number) => void): string[] {
  const t = TraceFile.open(file);
  const engine = new ReplayEngine(t.header, { checks: 'full', maxDisagreements: 1000 });
  const c = t.cursor();
  const ev = newEvent();
  while (c.next(ev)) {
    corrupt?.(engine.model.state as ModelState, ev.index);
    engine.apply(ev);
  }
  engine.finish(c.eventsRead - 1);
  t.close();
  return engine.violations.map((v) => v.id);
}

function firstSs(st: ModelState): SuperSlab {
  for (const r of st.regions.values()) if (r.kind === RegionKind.SuperSlab) return r;
  throw new Error('no SuperSlab');
}

describe('each invariant is caught with its id', () => {
  it('a clean trace has no violation', () => {
    const f = build((r) => {
      const ps = Array.from({ length: 300 }, (_, i) => r.malloc(i % 2, 16 + (i % 50) * 20));
      ps.forEach((p, i) => r.free((i + 1) % 2, p));
      r.threadExit(1);
      r.threadExit(0);
    });
    expect(ids(f)).toEqual([]);
  });

  it('I1: an allocation returns a block that is still live', () => {
    const f = build((r) => {
      const p = r.malloc(0, 32);
      r.raw(Op.MALLOC, 0, 32, p);
    });
    expect(ids(f)).toContain('I1');
  });

  it('I2: double free, with the allocating and first freeing events', () => {
    const file = build((r) => {
      const p = r.malloc(0, 64);
      r.malloc(0, 64);
      r.free(0, p);
      r.free(0, p);
    });
    const t = TraceFile.open(file);
    const engine = new ReplayEngine(t.header, { checks: 'full' });
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) engine.apply(ev);
    t.close();
    const v = engine.violations.find((x) => x.id === 'I2')!;
    expect(v.message).toMatch(/double free/);
    expect(v.history.join(' ')).toMatch(/allocated at event \d+ by thread 0.*first freed at event \d+ by thread 0/);
  });

  it('I2: double frees are named across the freed-address ring growing and wrapping (bounded memory)', () => {
    const N = (1 << 16) + 4464; // 70,000 frees: past the ring's bound of 65,536 remembered addresses
    const file = build((r) => {
      const ps = Array.from({ length: N }, () => r.malloc(0, 48));
      for (const p of ps) r.free(0, p);
      r.free(0, ps[N - 1]); // freed just now: remembered
      r.free(0, ps[N - 60000]); // freed 60,000 frees ago, after the ring grew from 64: remembered
      r.free(0, ps[0]); // freed 70,000 frees ago: forgotten, so only "never returned"
    });
    const t = TraceFile.open(file);
    const engine = new ReplayEngine(t.header, { checks: 'fast', maxDisagreements: 1000 });
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) engine.apply(ev);
    t.close();
    const msgs = engine.violations.filter((x) => x.id === 'I2').map((v) => v.message);
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toMatch(/^double free/);
    expect(msgs[1]).toMatch(/^double free/);
    const firstFree = (m: string) => Number(/first freed at event (\d+)/.exec(m)![1]);
    expect(firstFree(msgs[0]) - firstFree(msgs[1])).toBe(59999);
    expect(msgs[2]).toMatch(/never returned/);
  });

  it('I2: interior pointer and never-allocated pointer', () => {
    const f = build((r) => {
      const p = r.malloc(0, 64);
      r.free(0, p + 16);
      r.free(0, SYNTH_HEAP_BASE + 0x4000_0000); // in the heap, in no region
    });
    const found = ids(f);
    expect(found.filter((x) => x === 'I2')).toHaveLength(2);
  });

  it('I9: a pool-sized request served from a SuperSlab', () => {
    const f = build((r) => {
      const p = r.malloc(0, 32);
      r.raw(Op.MALLOC, 0, 4000, p + 1024);
    });
    expect(ids(f)).toContain('I9');
  });

  it('I10: an aligned request answered with a misaligned block', () => {
    const f = build((r) => {
      r.malloc(0, 32);
      const q = r.malloc(0, 48);
      r.raw(Op.POSIX_MEMALIGN, 0, 48, q + 16, [[0, 4096]]);
    });
    expect(ids(f)).toContain('I10');
  });

  it('I13: a region mapped twice', () => {
    const f = build((r) => {
      r.malloc(0, 32);
      r.raw(Op.REGION_MAP, 0, 1, SYNTH_HEAP_BASE + 0x10_0000_0000, [[0, 1 << 20]]);
    });
    expect(ids(f)).toContain('I13');
  });

  it('I11: a region the trace shows mapped that the twin never mapped', () => {
    const f = build((r) => {
      r.malloc(0, 32);
      r.raw(Op.REGION_MAP, 0, 99, SYNTH_HEAP_BASE + 0x20_0000_0000, [[RegionKind.Large, 1 << 20]]);
    });
    expect(ids(f)).toContain('I11');
  });

  it('an address past the end of the twin\'s region is described, not a crash', () => {
    // The trace unmaps SuperSlab 1 and maps a 4 MiB large region under the same id; the twin
    // still has SuperSlab 1 (1 MiB), so a free 2 MiB into the trace's region is past its end.
    const big = SYNTH_HEAP_BASE + 0x30_0000_0000;
    const f = build((r) => {
      r.malloc(0, 32);
      r.raw(Op.REGION_UNMAP, 0, 1, 0);
      r.raw(Op.REGION_MAP, 0, 1, big, [[RegionKind.Large, 4 << 20]]);
      r.raw(Op.FREE, 0, 2, big + (2 << 20) + 64);
    });
    const t = TraceFile.open(f);
    const engine = new ReplayEngine(t.header, { checks: 'full' });
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) engine.apply(ev);
    t.close();
    const v = engine.violations.find((x) => x.id === 'I2');
    expect(v?.subject).toBe(`0x${(big + (2 << 20) + 64).toString(16)} (region 1 offset ${(2 << 20) + 64}, past the end of the twin's 1048576-byte SuperSlab)`);
  });

  const many = () =>
    build((r) => {
      const ps: number[] = [];
      for (let i = 0; i < 200; i++) ps.push(r.malloc(0, 64));
      for (const p of ps) r.free(0, p);
      for (let i = 0; i < 10; i++) r.malloc(0, 64);
      r.threadExit(0);
    });

  it('the traces corrupted below are clean without the corruption', () => {
    expect(ids(many())).toEqual([]);
  });

  it('I3: slab accounting broken (used off by one)', () => {
    expect(ids(many(), (st, e) => e === 100 && firstSs(st).slabs[0].usedBlocks++)).toContain('I3');
  });

  it('I4: the bitmap disagrees with the slabs in use', () => {
    expect(ids(many(), (st, e) => e === 100 && firstSs(st).slabsInUse++)).toContain('I4');
  });

  it('I5: a slab in use with no block in use', () => {
    const found = ids(many(), (st, e) => {
      if (e !== 250) return;
      const s = firstSs(st).slabs[0];
      s.freelist.push(...Array.from({ length: s.usedBlocks }, (_, i) => s.carvedBlocks - 1 - i));
      s.usedBlocks = 0;
    });
    expect(found).toContain('I5');
  });

  it('I6: the large cache past its bounds', () => {
    expect(ids(many(), (st, e) => e === 50 && st.largeCache.push(...Array.from({ length: DEFAULT_CONFIG.largeCacheMaxCount + 1 }, (_, i) => 2000 + i)))).toContain('I6');
    expect(ids(many(), (st, e) => e === 50 && (st.largeCacheBytes = DEFAULT_CONFIG.largeCacheMaxBytes + 1))).toContain('I6');
  });

  it('I6: the LRU past its count bound', () => {
    expect(ids(many(), (st, e) => e === 50 && st.lru.push(...Array.from({ length: DEFAULT_CONFIG.lruMaxCount + 1 }, (_, i) => 1000 + i)))).toContain('I6');
  });

  it('I7: a TLS list past its cap', () => {
    const found = ids(many(), (st, e) => {
      if (e !== 150) return;
      const t = st.threads.get(0)!;
      const cls = t.tlsList.findIndex((l) => l.length > 0);
      const list = t.tlsList[cls >= 0 ? cls : 3];
      while (list.length <= DEFAULT_CONFIG.tlsCapBlocks + 1) list.push(list[0] ?? 0);
    });
    expect(found).toContain('I7');
  });

  it('I8: a live block in a remote queue', () => {
    const f = build((r) => {
      const ps: number[] = [];
      for (let i = 0; i < 5; i++) ps.push(r.malloc(0, 64));
      r.malloc(0, 64);
      r.free(0, ps[0]);
    });
    expect(ids(f)).toEqual([]);
    const found = ids(f, (st, e) => {
      if (e !== 8) return;
      const s = firstSs(st).slabs[0];
      s.remote.push(1); // block 1 is still held by the program
      s.usedBlocks++;
    });
    expect(found).toContain('I8');
  });

  it('I12: a dead thread still owning a slab', () => {
    const f = build((r) => {
      const p = r.malloc(1, 64);
      r.malloc(0, 2048);
      r.free(1, p);
      r.threadExit(1);
      r.malloc(0, 64);
    });
    expect(ids(f)).toEqual([]);
    const t = TraceFile.open(f);
    const c = t.cursor();
    const ev = newEvent();
    let exitIndex = -1;
    while (c.next(ev)) if (ev.op === Op.THREAD_EXIT && ev.tid === 1) exitIndex = ev.index;
    t.close();
    expect(exitIndex).toBeGreaterThan(0);
    const found = ids(f, (st, e) => {
      // Just before thread 1 exits, give it a slab behind the twin's back.
      if (e !== exitIndex) return;
      const ss = firstSs(st);
      const free = ss.slabs.find((s) => s.classIdx < 0)!;
      free.classIdx = 5;
      free.classSize = DEFAULT_CONFIG.tinyClassSize[5];
      free.capacityBlocks = 10;
      free.carvedBlocks = 1;
      free.usedBlocks = 1;
      free.owner = 1;
      ss.slabsInUse++;
    });
    expect(found).toContain('I12');
  });
});

describe('a fast-mode race is a disagreement, not a broken invariant', () => {
  /** Replay with the header's mode overridden; returns violation ids and the disagreement count. */
  function replayAs(file: string, exact: boolean): { ids: string[]; disagreements: number } {
    const t = TraceFile.open(file);
    const engine = new ReplayEngine({ ...t.header, exact }, { checks: 'full', maxDisagreements: 1000 });
    const c = t.cursor();
    const ev = newEvent();
    while (c.next(ev)) engine.apply(ev);
    engine.finish(c.eventsRead - 1);
    t.close();
    return { ids: engine.violations.map((v) => v.id), disagreements: engine.disagreementCount };
  }

  it('two threads take fresh slabs at once; the recording shows their calls the other way round', () => {
    // The real order: thread 0 takes slab 1 (60 bytes), then thread 1 takes slab 2 (100 bytes). A
    // fast-mode recording stamps each malloc when it returns, so thread 1's may come first: the
    // twin then gives thread 1 slab 1 and thread 0 slab 2 (as in larson, recorded in fast mode).
    const real = new SynthRecorder(path.join(dir, `real${n}.hkt`), DEFAULT_CONFIG);
    real.malloc(0, 16);
    const a0 = real.malloc(0, 60);
    const a1 = real.malloc(1, 100);
    real.close();
    const f = build((r) => {
      r.malloc(0, 16);
      r.raw(Op.THREAD_START, 1, 0, 1001);
      r.raw(Op.MALLOC, 1, 100, a1);
      r.raw(Op.MALLOC, 0, 60, a0);
      r.raw(Op.FREE, 1, 0, a1);
      r.raw(Op.FREE, 0, 0, a0);
      r.malloc(0, 60);
      r.malloc(1, 100);
    });
    const fast = replayAs(f, false);
    expect(fast.disagreements).toBeGreaterThan(0);
    expect(fast.ids).toEqual([]);
    // In exact mode the same disagreement is a bug of one side, and the twin's view of the real
    // block names it: a 60-byte request in the twin's 100-byte slab.
    expect(replayAs(f, true).ids).toContain('I9');
  });
});
