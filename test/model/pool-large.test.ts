import { describe, expect, it } from 'vitest';
import { HakmemModel } from '../../src/model/allocator.js';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import { ENOMEM, Verdict } from '../../src/model/types.js';
import { at, mallocAt, ref, smallConfig, take } from './helpers.js';

describe('pool path', () => {
  it('maps a page per class, carves in order, and keeps emptied pages on a LIFO stack', () => {
    const m = new HakmemModel(smallConfig());
    const p = mallocAt(m, 0, 100); // class 0 (128): capacity 8
    const q = mallocAt(m, 0, 128);
    expect([p, q].map(at)).toEqual(['1.0', '1.1']);
    expect(q.offset).toBe(128);
    expect(q.usableBytes).toBe(128);
    const r = mallocAt(m, 0, 300); // class 2 (512): a second page
    expect(at(r)).toBe('2.0');
    expect(take(m)).toEqual(['map 1 k1 1024', 'map 2 k1 1024']);
    m.free(0, ref(q));
    m.free(0, ref(p)); // page 1 empty: onto the free-page stack
    m.free(0, ref(r)); // page 2 empty: the stack is full (max 1): unmapped
    expect(take(m)).toEqual(['unmap 2']);
    expect(m.shared().freePages).toEqual([1]);
    // The stack's page comes back for another class, keeping its id.
    const s = mallocAt(m, 1, 200);
    expect(at(s)).toBe('1.0');
    expect(s.classIdx).toBe(1);
    expect(take(m)).toEqual([]);
  });

  it('walks owned pages in order; a remote free is drained by the owner when the page runs dry', () => {
    const m = new HakmemModel(smallConfig());
    const a = mallocAt(m, 0, 512);
    const b = mallocAt(m, 0, 512);
    const c = mallocAt(m, 0, 512); // page 1 full (capacity 2): page 2
    expect([a, b, c].map(at)).toEqual(['1.0', '1.1', '2.0']);
    expect(m.free(1, ref(a)).verdict).toBe(Verdict.Ok); // remote
    take(m);
    expect(at(mallocAt(m, 0, 512))).toBe('1.0'); // page 1 first: drains a back
    expect(take(m)).toEqual(['drain 1.0 1']);
    expect(at(mallocAt(m, 0, 512))).toBe('2.1');
  });

  it('default geometry: 52 KiB blocks, one per page', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    expect(at(mallocAt(m, 0, 53248))).toBe('1.0');
    expect(at(mallocAt(m, 0, 50000))).toBe('2.0');
  });
});

describe('large path', () => {
  it('maps round_up(size, large page); free unmaps (no large cache)', () => {
    const m = new HakmemModel({ ...DEFAULT_CONFIG, largeCacheMaxCount: 0 });
    const p = mallocAt(m, 0, 100_000);
    expect(p).toMatchObject({ regionId: 1, kind: 2, offset: 0, classIdx: -1, usableBytes: 102_400 });
    expect(take(m)).toEqual(['map 1 k2 102400']);
    expect(m.usableSize(ref(p))).toBe(102_400);
    expect(m.free(0, ref(p)).verdict).toBe(Verdict.Ok);
    expect(take(m)).toEqual(['unmap 1']);
    expect(m.free(0, ref(p)).verdict).toBe(Verdict.Invalid);
  });

  it('keeps freed mappings in the large cache; a malloc of the same mapping size takes the most recent back', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const a = mallocAt(m, 0, 100_000); // 102400
    const b = mallocAt(m, 0, 101_000); // 102400 too
    const c = mallocAt(m, 0, 200_000); // 200704
    take(m);
    for (const p of [a, b, c]) expect(m.free(0, ref(p)).verdict).toBe(Verdict.Ok);
    expect(take(m)).toEqual([]);
    // A kept mapping holds no block.
    expect(m.free(0, ref(b)).verdict).toBe(Verdict.Invalid);
    expect(m.usableSize(ref(a))).toBe(0);
    // Same mapping size: the most recent (b), then a; another size maps anew.
    expect(mallocAt(m, 1, 99_000)).toMatchObject({ regionId: b.regionId, offset: 0, usableBytes: 102_400 });
    expect(take(m)).toEqual([`reuse ${b.regionId}`]);
    expect(m.calloc(0, 1, 102_400).placement).toMatchObject({ regionId: a.regionId });
    expect(take(m)).toEqual([`reuse ${a.regionId}`]);
    expect(mallocAt(m, 0, 150_000).regionId).toBe(4);
    expect(take(m)).toEqual(['map 4 k2 151552']);
    // An alignment above the large page never takes a kept mapping (its base may not suit).
    expect(m.memalign(0, 'posix_memalign', 1 << 16, 200_000).placement?.regionId).toBe(5);
  });

  it('bounds the large cache by count and bytes, unmapping the oldest', () => {
    const m = new HakmemModel({ ...DEFAULT_CONFIG, largeCacheMaxCount: 3, largeCacheMaxBytes: 1 << 20 });
    const ps = [1, 2, 3, 4].map((i) => mallocAt(m, 0, 100_000 * i));
    take(m);
    for (const p of ps) m.free(0, ref(p));
    // Four kept would be one too many: the oldest (the first freed) goes.
    expect(take(m)).toEqual([`unmap ${ps[0].regionId}`]);
    // Past the byte bound: 684 KiB more pushes out the oldest until the rest fits in 1 MiB
    // (196 + 296 + 392 + 684 KiB, then 296 + 392 + 684, then 392 + 684, then 684 alone).
    const big = mallocAt(m, 0, 700_000);
    take(m);
    m.free(0, ref(big));
    expect(take(m)).toEqual([`unmap ${ps[1].regionId}`, `unmap ${ps[2].regionId}`, `unmap ${ps[3].regionId}`]);
    // A mapping above the byte bound is unmapped at once.
    const huge = mallocAt(m, 0, 2 << 20);
    take(m);
    m.free(0, ref(huge));
    expect(take(m)).toEqual([`unmap ${huge.regionId}`]);
    expect(m.digest()).not.toBe(new HakmemModel({ ...DEFAULT_CONFIG, largeCacheMaxCount: 3, largeCacheMaxBytes: 1 << 20 }).digest());
  });

  it('aligned beyond a large page: the mapping carries align - large page extra; the block starts it', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    const out = m.memalign(0, 'memalign', 1 << 20, 100);
    const size = 4096 + (1 << 20) - 4096;
    expect(out.placement).toMatchObject({ kind: 2, offset: 0, usableBytes: size });
    expect(take(m)).toEqual([`map 1 k2 ${size}`]);
    expect(m.usableSize({ kind: 'region', regionId: 1, offset: 0 })).toBe(size);
    expect(m.free(0, { kind: 'region', regionId: 1, offset: 4096 }).verdict).toBe(Verdict.Invalid);
    // realloc to a size whose rounding differs from the mapping: remap to round_up(n) alone.
    expect(m.realloc(0, { kind: 'region', regionId: 1, offset: 0 }, 60000).placement).toMatchObject({ regionId: 1, usableBytes: 61440 });
    expect(take(m)).toEqual(['remap 1 61440']);
    expect(m.free(0, { kind: 'region', regionId: 1, offset: 0 }).verdict).toBe(Verdict.Ok);
  });

  it('a request beyond the large area fails with ENOMEM and maps nothing', () => {
    const m = new HakmemModel(DEFAULT_CONFIG);
    expect(m.malloc(0, 2 ** 40)).toEqual({ placement: null, errno: ENOMEM });
    expect(m.malloc(0, 2 ** 64)).toEqual({ placement: null, errno: ENOMEM });
    expect(take(m)).toEqual([]);
    // The next region still gets id 1.
    expect(mallocAt(m, 0, 60000).regionId).toBe(1);
  });
});
