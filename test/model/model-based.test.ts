/**
 * Model-based test: HakmemModel against a plain multiset of live blocks.
 * Random malloc/calloc/memalign/realloc/free/double free/interior free/thread
 * exit across up to 4 threads; after every step, no two live blocks overlap,
 * every live block is found where it was placed, and slab accounting holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HakmemModel, type MemalignFn } from '../../src/model/allocator.js';
import { EINVAL, RegionKind, Verdict, type AllocOutcome, type Placement, type PointerRef } from '../../src/model/types.js';
import { smallConfig } from './helpers.js';

interface Block {
  tid: number;
  size: number;
  p: Placement;
}

interface Reference {
  live: Block[];
  freed: Placement[];
}

const refOf = (p: Placement): PointerRef => ({ kind: 'region', regionId: p.regionId, offset: p.offset });
const same = (a: Placement, b: Placement) => a.regionId === b.regionId && a.offset === b.offset;

function overlaps(a: Placement, b: Placement): boolean {
  if (a.regionId !== b.regionId) return false;
  if (a.kind === RegionKind.Large || b.kind === RegionKind.Large) return true;
  return a.offset < b.offset + b.usableBytes && b.offset < a.offset + a.usableBytes;
}

function admit(r: Reference, tid: number, size: number, out: AllocOutcome): void {
  // Small requests in a 16 MiB reservation never run out.
  expect(out).toMatchObject({ errno: 0 });
  const p = out.placement as Placement;
  expect(p.usableBytes).toBeGreaterThanOrEqual(Math.max(size, 1));
  for (const b of r.live) expect(overlaps(b.p, p), `overlap with ${JSON.stringify(b.p)}`).toBe(false);
  r.live.push({ tid, size, p });
}

function check(m: HakmemModel, r: Reference): void {
  for (const b of r.live) expect(m.locate(refOf(b.p))).toEqual(b.p);
  const liveBySlab = new Map<string, number>();
  for (const b of r.live) {
    if (b.p.kind === RegionKind.Large) continue;
    const k = `${b.p.regionId}.${b.p.slabIndex}`;
    liveBySlab.set(k, (liveBySlab.get(k) ?? 0) + 1);
  }
  for (const reg of m.regions()) {
    const slabs = reg.kind === RegionKind.SuperSlab ? reg.slabs : reg.kind === RegionKind.PoolPage && reg.page.classIdx >= 0 ? [reg.page] : [];
    for (const s of slabs) {
      // I3: used counts every carved block not in the freelist.
      expect(s.usedBlocks).toBe(s.carvedBlocks - s.freelist.length);
      // Live bits: the user's blocks, plus remote-freed ones not yet drained (native clears at drain).
      expect(s.live.length).toBe((liveBySlab.get(`${s.regionId}.${s.slabIndex}`) ?? 0) + s.remote.length);
      for (const b of s.remote) expect(s.live).toContain(b);
    }
  }
  for (const t of m.threads()) {
    t.tlsList.forEach((list, c) => {
      expect(list.length).toBeLessThanOrEqual(Math.max(m.cfg.tlsCapBlocks, m.cfg.tlsRefillBlocks));
      for (const b of list) {
        const owned = t.ownedSlabs[c].some((s) => s.regionId === b.regionId && s.slabIndex === b.slabIndex);
        expect(owned).toBe(true);
      }
    });
  }
  const lru = m.lru();
  expect(lru.length).toBeLessThanOrEqual(m.cfg.lruMaxCount);
}

type Cmd = fc.Command<Reference, HakmemModel>;

class Malloc implements Cmd {
  constructor(readonly tid: number, readonly size: number, readonly how: 'malloc' | 'calloc') {}
  check = () => true;
  run(r: Reference, m: HakmemModel): void {
    const out = this.how === 'malloc' ? m.malloc(this.tid, this.size) : m.calloc(this.tid, 1, this.size);
    admit(r, this.tid, this.size, out);
    check(m, r);
  }
  toString = () => `${this.how}(t${this.tid}, ${this.size})`;
}

class Memalign implements Cmd {
  constructor(readonly tid: number, readonly fn: MemalignFn, readonly align: number, readonly size: number) {}
  check = () => true;
  run(r: Reference, m: HakmemModel): void {
    const out = m.memalign(this.tid, this.fn, this.align, this.size);
    const pow2 = (this.align & (this.align - 1)) === 0 && this.align > 0;
    const bad = this.fn === 'posix_memalign' ? !pow2 || this.align % 8 !== 0 : this.fn === 'valloc' || this.fn === 'pvalloc' ? false : !pow2;
    if (bad) {
      expect(out).toEqual({ placement: null, errno: EINVAL });
      return;
    }
    admit(r, this.tid, this.size, out);
    const align = this.fn === 'valloc' || this.fn === 'pvalloc' ? 4096 : this.align;
    if (out.placement && out.placement.kind !== RegionKind.Large && align <= m.cfg.slabSizeBytes) {
      const base = out.placement.kind === RegionKind.SuperSlab ? out.placement.offset % m.cfg.slabSizeBytes : out.placement.offset;
      expect(base % align).toBe(0);
    }
    check(m, r);
  }
  toString = () => `${this.fn}(t${this.tid}, ${this.align}, ${this.size})`;
}

class Free implements Cmd {
  constructor(readonly tid: number, readonly pick: number) {}
  check = (r: Readonly<Reference>) => r.live.length > 0;
  run(r: Reference, m: HakmemModel): void {
    const [b] = r.live.splice(this.pick % r.live.length, 1);
    expect(m.free(this.tid, refOf(b.p))).toEqual({ verdict: Verdict.Ok });
    r.freed.push(b.p);
    check(m, r);
  }
  toString = () => `free(t${this.tid}, #${this.pick})`;
}

class DoubleFree implements Cmd {
  constructor(readonly tid: number, readonly pick: number) {}
  check = (r: Readonly<Reference>) => r.freed.length > 0;
  run(r: Reference, m: HakmemModel): void {
    const p = r.freed[this.pick % r.freed.length];
    if (r.live.some((b) => same(b.p, p))) return; // handed out again since: not a double free
    m.threadStart(this.tid);
    const before = m.digest();
    expect(m.free(this.tid, refOf(p))).toEqual({ verdict: Verdict.Invalid });
    expect(m.digest()).toBe(before);
  }
  toString = () => `double_free(t${this.tid}, #${this.pick})`;
}

class InteriorFree implements Cmd {
  constructor(readonly tid: number, readonly pick: number) {}
  check = (r: Readonly<Reference>) => r.live.length > 0;
  run(r: Reference, m: HakmemModel): void {
    const b = r.live[this.pick % r.live.length];
    if (b.p.offset < 0) return;
    m.threadStart(this.tid); // a first call registers the thread; only that may change
    const before = m.digest();
    expect(m.free(this.tid, { kind: 'region', regionId: b.p.regionId, offset: b.p.offset + 8 })).toEqual({ verdict: Verdict.Invalid });
    expect(m.digest()).toBe(before);
  }
  toString = () => `interior_free(t${this.tid}, #${this.pick})`;
}

class Realloc implements Cmd {
  constructor(readonly tid: number, readonly pick: number, readonly size: number) {}
  check = () => true;
  run(r: Reference, m: HakmemModel): void {
    if (r.live.length === 0) {
      const out = m.realloc(this.tid, { kind: 'null' }, this.size);
      expect(out.verdict).toBe(Verdict.Null);
      admit(r, this.tid, this.size, out);
      check(m, r);
      return;
    }
    const i = this.pick % r.live.length;
    const b = r.live[i];
    const out = m.realloc(this.tid, refOf(b.p), this.size);
    expect(out.verdict).toBe(Verdict.Ok);
    if (this.size === 0) {
      expect(out.placement).toBeNull();
      r.live.splice(i, 1);
      r.freed.push(b.p);
    } else if (out.placement !== null) {
      r.live.splice(i, 1);
      if (out.inPlace) expect(out.placement.regionId).toBe(b.p.regionId);
      else r.freed.push(b.p);
      admit(r, this.tid, this.size, out);
    } else {
      expect.unreachable(`realloc failed: errno ${out.errno}`);
    }
    check(m, r);
  }
  toString = () => `realloc(t${this.tid}, #${this.pick}, ${this.size})`;
}

class ThreadExit implements Cmd {
  constructor(readonly tid: number) {}
  check = () => true;
  run(r: Reference, m: HakmemModel): void {
    m.threadExit(this.tid);
    expect(m.threads().some((t) => t.tid === this.tid && t.registered)).toBe(false);
    check(m, r);
  }
  toString = () => `thread_exit(t${this.tid})`;
}

const tid = fc.integer({ min: 0, max: 3 });
const size = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 3, arbitrary: fc.integer({ min: 65, max: 512 }) },
  { weight: 1, arbitrary: fc.integer({ min: 513, max: 3000 }) },
);
const pick = fc.nat(1000);
const commands = [
  fc.tuple(tid, size).map(([t, s]) => new Malloc(t, s, 'malloc')),
  fc.tuple(tid, size).map(([t, s]) => new Malloc(t, s, 'malloc')),
  fc.tuple(tid, size).map(([t, s]) => new Malloc(t, s, 'calloc')),
  fc
    .tuple(tid, fc.constantFrom<MemalignFn>('posix_memalign', 'aligned_alloc', 'memalign', 'valloc', 'pvalloc'), fc.constantFrom(0, 3, 8, 16, 32, 64, 128, 256, 512, 1024, 4096), size)
    .map(([t, fn, a, s]) => new Memalign(t, fn, a, s)),
  fc.tuple(tid, pick).map(([t, p]) => new Free(t, p)),
  fc.tuple(tid, pick).map(([t, p]) => new Free(t, p)),
  fc.tuple(tid, pick).map(([t, p]) => new Free(t, p)),
  fc.tuple(tid, pick).map(([t, p]) => new DoubleFree(t, p)),
  fc.tuple(tid, pick).map(([t, p]) => new InteriorFree(t, p)),
  fc.tuple(tid, pick, fc.oneof(fc.constant(0), size)).map(([t, p, s]) => new Realloc(t, p, s)),
  tid.map((t) => new ThreadExit(t)),
];

describe('HakmemModel against a multiset of live blocks', () => {
  for (const [name, cfg] of [
    ['small geometry, a large cache of two', smallConfig({ largeCacheMaxCount: 2, largeCacheMaxBytes: 2048 })],
    ['one slab per SuperSlab, tiny LRU, no large cache', smallConfig({ superslabSizeBytes: 256, lruMaxCount: 1, lruTtlTicks: 3, largeCacheMaxCount: 0 })],
  ] as const) {
    it(name, () => {
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 120 }), (cmds) => {
          const m = new HakmemModel(cfg);
          const r: Reference = { live: [], freed: [] };
          fc.modelRun(() => ({ model: r, real: m }), cmds);
          // Free what is left (each by the thread that got it) and end every thread:
          // all frees are Ok and no user block, TLS list or owned slab remains.
          for (const b of r.live) expect(m.free(b.tid, refOf(b.p))).toEqual({ verdict: Verdict.Ok });
          for (let t = 0; t < 4; t++) m.threadExit(t);
          const zombies = new Set(m.threads().map((t) => t.tid));
          expect(m.threads().every((t) => !t.registered)).toBe(true);
          for (const reg of m.regions()) {
            // A large mapping left is one the large cache keeps.
            if (reg.kind === RegionKind.Large) {
              expect(reg.cached).toBe(true);
              continue;
            }
            const slabs = reg.kind === RegionKind.SuperSlab ? reg.slabs : reg.kind === RegionKind.PoolPage && reg.page.classIdx >= 0 ? [reg.page] : [];
            for (const s of slabs) {
              // No user block is left: live bits only on remote-freed blocks not yet drained.
              expect([...s.live].sort((a, b) => a - b)).toEqual([...s.remote].sort((a, b) => a - b));
              // What stays in use is an orphan, or held by a thread that called after its exit.
              if (s.owner !== -1) expect(zombies.has(s.owner)).toBe(true);
              else expect(s.usedBlocks).toBe(s.remote.length);
            }
          }
        }),
        { numRuns: Number(process.env.HAKMEM_MODEL_RUNS ?? 150) },
      );
    });
  }
});
