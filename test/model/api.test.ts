import { describe, expect, it } from 'vitest';
import { HakmemModel } from '../../src/model/allocator.js';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import { EINVAL, ENOMEM, Verdict, type PointerRef } from '../../src/model/types.js';
import { at, mallocAt, ref, smallConfig, take } from './helpers.js';

describe('realloc', () => {
  it('NULL old is malloc', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const out = m.realloc(0, { kind: 'null' }, 24);
    expect(out).toMatchObject({ verdict: Verdict.Null, errno: 0, inPlace: false });
    expect(at(out.placement)).toBe('1.0.0');
    expect(out.placement?.classIdx).toBe(1);
  });

  it('size 0 frees and returns no placement', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 24);
    expect(m.realloc(0, ref(p), 0)).toEqual({ placement: null, verdict: Verdict.Ok, errno: 0, inPlace: false });
    expect(m.locate(ref(p))).toBeNull();
    expect(m.realloc(0, ref(p), 0).verdict).toBe(Verdict.Invalid);
  });

  it('a foreign old pointer: malloc here, the next allocator frees it', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const out = m.realloc(0, { kind: 'foreign' }, 24);
    expect(out.verdict).toBe(Verdict.Foreign);
    expect(at(out.placement)).toBe('1.0.0');
  });

  it('an invalid old pointer: EINVAL, nothing changes', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 24);
    take(m);
    const before = m.digest();
    const bad: PointerRef[] = [{ kind: 'unmapped' }, { kind: 'region', regionId: 1, offset: p.offset + 16 }, { kind: 'region', regionId: 7, offset: 0 }];
    for (const r of bad) expect(m.realloc(0, r, 100)).toEqual({ placement: null, verdict: Verdict.Invalid, errno: EINVAL, inPlace: false });
    expect(m.digest()).toBe(before);
    expect(take(m)).toEqual([]);
  });

  it('same tiny or pool class stays in place', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 20); // class 1 (32)
    for (const n of [17, 32, 1 + 16]) {
      const out = m.realloc(0, ref(p), n);
      expect(out).toMatchObject({ verdict: Verdict.Ok, errno: 0, inPlace: true });
      expect(out.placement).toEqual(p);
    }
    const q = mallocAt(m, 0, 5000); // pool 6144
    expect(m.realloc(0, ref(q), 6144)).toMatchObject({ placement: q, inPlace: true });
    // A block memalign put in a bigger class stays when realloc's route picks that class.
    const r = m.memalign(0, 'memalign', 64, 20).placement; // class 3 (64)
    expect(r?.classIdx).toBe(3);
    expect(m.realloc(0, ref(r), 50).inPlace).toBe(true);
    expect(m.realloc(0, ref(r), 20).inPlace).toBe(false); // route(20) is class 1
  });

  it('otherwise malloc, then free the old block, in that order', () => {
    const m = new HakmemModel(smallConfig({ tlsCapBlocks: 1 }));
    const p = mallocAt(m, 0, 16);
    take(m);
    const out = m.realloc(0, ref(p), 40);
    expect(out).toMatchObject({ verdict: Verdict.Ok, errno: 0, inPlace: false });
    expect(at(out.placement)).toBe('1.1.0');
    expect(take(m)).toEqual(['refill c2 2', 'spill c0 2', 'empty 1.0']);
    expect(m.locate(ref(p))).toBeNull();
  });

  it('a move by a thread that does not own the block frees it remotely', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 16);
    const out = m.realloc(1, ref(p), 100);
    expect(at(out.placement)).toBe('1.1.0');
    const r = m.regions()[0];
    expect(r.kind === 0 && r.slabs[0].remote).toEqual([0]);
  });

  it('large to large keeps the region, remapping only when the rounded size changes', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 100_000); // 102400
    take(m);
    expect(m.realloc(0, ref(p), 100_001)).toMatchObject({ placement: p, inPlace: true });
    expect(take(m)).toEqual([]);
    const out = m.realloc(0, ref(p), 200_000);
    expect(out).toMatchObject({ inPlace: true, verdict: Verdict.Ok });
    expect(out.placement).toMatchObject({ regionId: 1, offset: 0, usableBytes: 200_704 });
    expect(take(m)).toEqual(['remap 1 200704']);
    const shrink = m.realloc(0, ref(p), 60_000);
    expect(shrink.placement).toMatchObject({ regionId: 1, usableBytes: 61_440 });
    expect(take(m)).toEqual(['remap 1 61440']);
    // Large to tiny: malloc, then the old mapping goes to the large cache (no event).
    const t = m.realloc(0, ref(p), 10);
    expect(at(t.placement)).toBe('2.0.0');
    expect(take(m)).toEqual(['map 2 k0 1048576', 'refill c0 32']);
    expect(m.free(0, ref(p)).verdict).toBe(Verdict.Invalid);
  });

  it('a failed move is ENOMEM and leaves the old block alone', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 16);
    expect(m.realloc(0, ref(p), 2 ** 45)).toMatchObject({ placement: null, errno: ENOMEM, verdict: Verdict.Ok });
    expect(m.locate(ref(p))).toEqual(p);
    const q = mallocAt(m, 0, 100_000);
    expect(m.realloc(0, ref(q), 2 ** 45)).toMatchObject({ placement: null, errno: ENOMEM });
    expect(m.locate(ref(q))).toEqual(q);
  });
});

describe('free classification', () => {
  it('NULL, foreign and unmapped', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    expect(m.free(0, { kind: 'null' }).verdict).toBe(Verdict.Null);
    expect(m.free(0, { kind: 'foreign' }).verdict).toBe(Verdict.Foreign);
    expect(m.free(0, { kind: 'unmapped' }).verdict).toBe(Verdict.Invalid);
    expect(m.usableSize({ kind: 'null' })).toBe(0);
    expect(m.usableSize({ kind: 'unmapped' })).toBe(0);
    expect(m.usableSize({ kind: 'foreign' })).toBe(-1);
  });

  it('every invalid pointer of ours is INVALID and changes nothing', () => {
    const m = new HakmemModel(smallConfig({ superslabSizeBytes: 512 })); // 2 slabs
    const p = mallocAt(m, 0, 16); // 1.0.0, TLS holds 1.0.1
    const q = mallocAt(m, 1, 16); // 1.1.0
    const gone = mallocAt(m, 2, 64); // SuperSlab 2
    m.free(2, ref(gone));
    m.threadExit(2); // SuperSlab 2 into the LRU
    const pg = mallocAt(m, 0, 200); // pool page 3
    take(m);
    const snap = m.snapshot();
    const before = m.digest();
    const cases: PointerRef[] = [
      { kind: 'region', regionId: 99, offset: 0 }, // region not live
      ref(gone), // SuperSlab in the LRU
      { kind: 'region', regionId: 1, offset: p.offset + 8 }, // misaligned
      { kind: 'region', regionId: 1, offset: 16 * 5 }, // beyond carved
      { kind: 'region', regionId: 1, offset: 16 }, // carved, in a TLS list: live bit clear
      { kind: 'region', regionId: 1, offset: 1024 }, // beyond the region
      { kind: 'region', regionId: 3, offset: 100 }, // pool: misaligned
      { kind: 'region', regionId: 3, offset: 256 }, // pool: beyond carved
    ];
    for (const c of cases) {
      expect(m.free(0, c).verdict).toBe(Verdict.Invalid);
      expect(m.free(1, c).verdict).toBe(Verdict.Invalid);
      expect(m.usableSize(c)).toBe(0);
      expect(m.locate(c)).toBeNull();
    }
    expect(m.digest()).toBe(before);
    expect(m.snapshot()).toEqual(snap);
    expect(take(m)).toEqual([]);
    expect(m.usableSize(ref(q))).toBe(16);
    expect(m.usableSize(ref(pg))).toBe(256);
  });

  it('a slab whose bit is clear is INVALID', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    mallocAt(m, 0, 16);
    expect(m.free(0, { kind: 'region', regionId: 1, offset: 65536 * 3 }).verdict).toBe(Verdict.Invalid);
  });

  it('a double free is INVALID, also while the first free waits in a remote queue', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const p = mallocAt(m, 0, 16);
    const q = mallocAt(m, 0, 16);
    expect(m.free(0, ref(p))).toEqual({ verdict: Verdict.Ok });
    expect(m.free(0, ref(p))).toEqual({ verdict: Verdict.Invalid });
    expect(m.free(1, ref(q))).toEqual({ verdict: Verdict.Ok });
    m.threadStart(2);
    const before = m.digest();
    expect(m.free(2, ref(q))).toEqual({ verdict: Verdict.Invalid });
    expect(m.free(0, ref(q))).toEqual({ verdict: Verdict.Invalid });
    expect(m.free(1, ref(q))).toEqual({ verdict: Verdict.Invalid });
    expect(m.usableSize(ref(q))).toBe(0);
    expect(m.realloc(0, ref(q), 8)).toMatchObject({ verdict: Verdict.Invalid, errno: EINVAL });
    expect(m.digest()).toBe(before);
  });
});

describe('calloc and the aligned family', () => {
  it('calloc overflow is ENOMEM; calloc(0, n) is a minimal block', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    expect(m.calloc(0, 2 ** 33, 2 ** 33)).toEqual({ placement: null, errno: ENOMEM });
    expect(m.calloc(0, 0, 5).placement?.usableBytes).toBe(16);
    expect(m.calloc(0, 10, 10).placement?.usableBytes).toBe(112);
  });

  it('EINVAL rules', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    expect(m.memalign(0, 'posix_memalign', 4, 10).errno).toBe(EINVAL);
    expect(m.memalign(0, 'posix_memalign', 24, 10).errno).toBe(EINVAL);
    expect(m.memalign(0, 'posix_memalign', 0, 10).errno).toBe(EINVAL);
    expect(m.memalign(0, 'aligned_alloc', 3, 10).errno).toBe(EINVAL);
    expect(m.memalign(0, 'memalign', 0, 10).errno).toBe(EINVAL);
    expect(take(m)).toEqual([]);
    expect(m.memalign(0, 'posix_memalign', 8, 10)).toMatchObject({ errno: 0, placement: { classIdx: 0 } });
    expect(m.memalign(0, 'aligned_alloc', 4, 10)).toMatchObject({ errno: 0, placement: { classIdx: 0 } });
  });

  it('valloc and pvalloc use 4096-byte pages', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const v = m.memalign(0, 'valloc', 0, 100).placement;
    expect(v).toMatchObject({ kind: 1, classIdx: 2, usableBytes: 4096 });
    const pv = m.memalign(0, 'pvalloc', 0, 0).placement;
    expect(pv).toMatchObject({ kind: 1, classIdx: 2 });
    const pv2 = m.memalign(0, 'pvalloc', 0, 4097).placement;
    expect(pv2).toMatchObject({ kind: 1, classIdx: 4, usableBytes: 8192 });
    for (const p of [v, pv, pv2]) expect((p?.offset ?? 1) % 4096).toBe(0);
  });

  it('malloc beyond PTRDIFF_MAX is ENOMEM', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    expect(m.malloc(0, 2 ** 63)).toEqual({ placement: null, errno: ENOMEM });
  });
});
