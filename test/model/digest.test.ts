import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HakmemModel } from '../../src/model/allocator.js';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import { Fnv64, fnv1a64Words } from '../../src/model/digest.js';
import { RegionKind } from '../../src/model/types.js';
import { mallocAt, ref, smallConfig } from './helpers.js';

/** The words of docs/allocator.md section 9, rebuilt from the public views. */
function words(m: HakmemModel): bigint[] {
  const w: bigint[] = [BigInt(m.vclock)];
  const u16 = (v: number) => BigInt(v < 0 ? 0xffff : v);
  for (const r of m.regions()) {
    w.push(BigInt(r.regionId), BigInt(r.kind));
    if (r.kind === RegionKind.SuperSlab) {
      w.push(r.inLru ? 1n : 0n, r.bitmap);
      for (const s of r.slabs) {
        w.push(BigInt(s.slabIndex), u16(s.classIdx), u16(s.owner), BigInt(s.usedBlocks), BigInt(s.carvedBlocks));
        w.push(BigInt(s.freelist.length), BigInt(s.remote.length));
      }
    } else if (r.kind === RegionKind.PoolPage) {
      const s = r.page;
      w.push(r.onFreeStack ? 1n : 0n, u16(s.classIdx), u16(s.owner), BigInt(s.usedBlocks), BigInt(s.carvedBlocks));
      w.push(BigInt(s.freelist.length), BigInt(s.remote.length));
    } else {
      w.push(r.cached ? 1n : 0n, BigInt(r.sizeBytes));
    }
  }
  for (const t of m.threads()) {
    w.push(BigInt(t.tid));
    for (const list of t.tlsList) w.push(BigInt(list.length));
  }
  return w;
}

describe('digest', () => {
  it('FNV-1a 64 on 32-bit halves equals the BigInt definition', () => {
    expect(fnv1a64Words([])).toBe(0xcbf29ce484222325n);
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 20 }), (ws) => {
        const f = new Fnv64();
        for (const w of ws) f.u64Halves(Number(w >> 32n), Number(w & 0xffffffffn));
        expect(f.value()).toBe(fnv1a64Words(ws));
        const g = new Fnv64();
        for (const w of ws) g.u64(Number(w & ((1n << 53n) - 1n)));
        expect(g.value()).toBe(fnv1a64Words(ws.map((x) => x & ((1n << 53n) - 1n))));
      }),
    );
  });

  it('a fresh heap digests vclock 0 alone', () => {
    expect(new HakmemModel(DEFAULT_CONFIG).digest()).toBe(fnv1a64Words([0n]));
    const m = new HakmemModel(DEFAULT_CONFIG);
    m.threadStart(0);
    expect(m.digest()).toBe(fnv1a64Words([0n, 0n, ...new Array<bigint>(20).fill(0n)]));
  });

  it('follows section 9 word for word on a busy heap', () => {
    const m = new HakmemModel(smallConfig({ superslabSizeBytes: 256 * 40 }));
    const live = [];
    for (let i = 0; i < 200; i++) {
      const t = i % 3;
      const size = [8, 30, 60, 100, 300, 700, 5000][i % 7];
      live.push({ t, p: mallocAt(m, t, size) });
      if (i % 4 === 1) {
        const v = live.splice((i * 7) % live.length, 1)[0];
        m.free((v.t + (i % 2)) % 3, ref(v.p));
      }
    }
    m.threadExit(1);
    for (let t = 3; t < 40; t++) mallocAt(m, t, 16); // slab indices beyond 32: the bitmap's high word
    const w = words(m);
    expect(m.regions().some((r) => r.kind === RegionKind.SuperSlab && r.slabs.length > 32)).toBe(true);
    expect(m.digest()).toBe(fnv1a64Words(w));
  });

  it('is stable across identical runs and moves with the state', () => {
    const run = (n: number) => {
      const m = new HakmemModel(DEFAULT_CONFIG);
      for (let i = 0; i < n; i++) mallocAt(m, i % 2, 16 + (i % 50) * 20);
      return m.digest();
    };
    expect(run(100)).toBe(run(100));
    expect(run(100)).not.toBe(run(101));
  });
});

describe('snapshot and restore', () => {
  it('restores the exact state; later decisions repeat', () => {
    const m = new HakmemModel(smallConfig());
    const ps = Array.from({ length: 30 }, (_, i) => mallocAt(m, i % 2, [16, 40, 100, 600][i % 4]));
    for (let i = 0; i < 30; i += 3) m.free((i + 1) % 2, ref(ps[i]));
    m.takeEvents();
    const snap = m.snapshot();
    const d0 = m.digest();
    const script = () => {
      const out: string[] = [];
      for (let i = 0; i < 40; i++) {
        const a = m.malloc(i % 3, [16, 64, 200, 900][i % 4]);
        out.push(JSON.stringify(a));
        if (i % 3 === 0 && a.placement) m.free(0, ref(a.placement));
      }
      m.threadExit(0);
      out.push(JSON.stringify(m.takeEvents()), m.digest().toString());
      return out;
    };
    const first = script();
    expect(m.digest()).not.toBe(d0);
    m.restore(snap);
    expect(m.digest()).toBe(d0);
    expect(script()).toEqual(first);
    m.restore(snap); // a snapshot survives being restored
    expect(m.digest()).toBe(d0);
    expect(script()).toEqual(first);
  });
});
