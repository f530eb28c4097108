import { describe, expect, it } from 'vitest';
import { HakmemModel } from '../../src/model/allocator.js';
import { at, mallocAt, ref, smallConfig, take } from './helpers.js';

describe('shared pool: acquire order', () => {
  it('lowest clear slab of the lowest in-use SuperSlab, before the LRU and before a new mapping', () => {
    const m = new HakmemModel(smallConfig());
    const a = mallocAt(m, 0, 16);
    const b = mallocAt(m, 1, 16);
    const c = mallocAt(m, 0, 32);
    const d = mallocAt(m, 0, 64);
    const e = mallocAt(m, 1, 32);
    expect([a, b, c, d, e].map(at)).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '2.0.0']);
    expect(m.vclock).toBe(5);
    take(m);
    m.free(1, ref(b));
    m.free(1, ref(e));
    m.threadExit(1);
    expect(take(m)).toEqual(['spill c0 2', 'empty 1.1', 'spill c1 2', 'empty 2.0', 'lru_push 2 @7']);
    // Slab 1 of SuperSlab 1 is clear: it wins over the LRU entry.
    expect(at(mallocAt(m, 2, 64))).toBe('1.1.0');
    expect(take(m)).toEqual(['refill c2 2']);
    // SuperSlab 1 is full now: the LRU's entry comes back with its id.
    expect(at(mallocAt(m, 3, 16))).toBe('2.0.0');
    expect(take(m)).toEqual(['lru_pop 2 @9', 'reuse 2', 'refill c0 2']);
    expect(at(mallocAt(m, 3, 32))).toBe('2.1.0');
  });

  it('the LRU gives back its most recently pushed SuperSlab; count bound evicts the oldest', () => {
    const m = new HakmemModel(smallConfig({ superslabSizeBytes: 256 })); // one slab per SuperSlab
    const ps = [0, 1, 2].map((t) => mallocAt(m, t, 16));
    expect(ps.map(at)).toEqual(['1.0.0', '2.0.0', '3.0.0']);
    take(m);
    for (const t of [0, 1, 2]) {
      m.free(t, ref(ps[t]));
      m.threadExit(t);
    }
    expect(take(m)).toEqual([
      'spill c0 2',
      'empty 1.0',
      'lru_push 1 @4',
      'spill c0 2',
      'empty 2.0',
      'lru_push 2 @5',
      'spill c0 2',
      'empty 3.0',
      'lru_push 3 @6',
      'lru_evict 1 @6',
      'unmap 1',
    ]);
    expect(m.lru()).toEqual([
      { regionId: 3, pushedAt: 6 },
      { regionId: 2, pushedAt: 5 },
    ]);
    expect(at(mallocAt(m, 3, 16))).toBe('3.0.0');
    expect(at(mallocAt(m, 4, 16))).toBe('2.0.0');
    expect(at(mallocAt(m, 5, 16))).toBe('4.0.0');
    expect(take(m)).toEqual([
      'lru_pop 3 @7',
      'reuse 3',
      'refill c0 2',
      'lru_pop 2 @8',
      'reuse 2',
      'refill c0 2',
      'map 4 k0 256',
      'refill c0 2',
    ]);
  });

  it('the byte bound evicts too', () => {
    const m = new HakmemModel(smallConfig({ superslabSizeBytes: 256, lruMaxCount: 8, lruMaxBytes: 256 }));
    const ps = [0, 1].map((t) => mallocAt(m, t, 16));
    take(m);
    for (const t of [0, 1]) {
      m.free(t, ref(ps[t]));
      m.threadExit(t);
    }
    expect(take(m).filter((e) => e.startsWith('lru') || e.startsWith('unmap'))).toEqual([
      'lru_push 1 @3',
      'lru_push 2 @4',
      'lru_evict 1 @4',
      'unmap 1',
    ]);
  });

  it('TTL: an entry older than lru_ttl_ticks is evicted at the next push', () => {
    const m = new HakmemModel(smallConfig({ lruTtlTicks: 2 }));
    const a = mallocAt(m, 0, 16);
    const bs = [16, 32, 64].map((s) => mallocAt(m, 1, s));
    const c = mallocAt(m, 2, 16);
    expect([a, ...bs, c].map(at)).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '2.0.0']);
    m.free(2, ref(c));
    m.threadExit(2); // release @6 -> lru_push 2 @6
    for (const b of bs) m.free(1, ref(b));
    m.threadExit(1); // releases @7, @8, @9
    take(m);
    m.free(0, ref(a));
    m.threadExit(0); // release @10: expire (10 - 6 > 2) before the push
    expect(take(m)).toEqual(['spill c0 2', 'empty 1.0', 'lru_evict 2 @10', 'unmap 2', 'lru_push 1 @10']);
  });

  it('TTL: an expired entry is evicted rather than reused at acquire', () => {
    const m = new HakmemModel(smallConfig({ lruTtlTicks: 0 }));
    const a = mallocAt(m, 0, 16);
    m.free(0, ref(a));
    m.threadExit(0); // lru_push 1 @2
    take(m);
    expect(at(mallocAt(m, 1, 16))).toBe('2.0.0'); // @3: 3 - 2 > 0
    expect(take(m)).toEqual(['lru_evict 1 @3', 'unmap 1', 'map 2 k0 1024', 'refill c0 2']);
  });
});
