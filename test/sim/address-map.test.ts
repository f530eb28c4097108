import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressMap } from '../../src/sim/address-map.js';
import { RegionKind } from '../../src/model/types.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SS = 1 * MiB;
const PAGE = 64 * KiB;

// find's table (by pool granule) must answer exactly what the granule maps and the large list
// answer (findSlow), whatever the trace maps: overlapping, duplicated, unaligned or corrupt
// regions included.
describe('AddressMap.find', () => {
  // A heap that does not start on a SuperSlab boundary and spans several of the table's leaves
  // (a leaf covers 4,096 pool granules: 256 MiB at 64 KiB).
  const heapBase = 0x7f00_0001_0000;
  const heapBytes = 2048 * MiB;
  const kinds = [RegionKind.SuperSlab, RegionKind.PoolPage, RegionKind.Large] as const;
  // The defaults; a SuperSlab of three pool granules on a heap base off every boundary; a
  // SuperSlab of one granule.
  const configs = [
    { ss: SS, page: PAGE, heapBase },
    { ss: 48 * KiB, page: 16 * KiB, heapBase: 0x7f00_0000_0200 },
    { ss: PAGE, page: PAGE, heapBase: 0x7f00_0000_1000 },
  ];

  for (const { ss, page, heapBase: hb } of configs) {
    it(`answers what the granule maps answer, after any sequence of maps, unmaps, remaps and a restore (SuperSlab ${ss / KiB} KiB, pool page ${page / KiB} KiB)`, () => {
      // Bases near a few spots (a leaf boundary, the heap's ends, just outside it) so that
      // regions collide often.
      const spots = [hb, hb + 4096 * page - ss, hb + heapBytes - 2 * ss, hb - ss, hb + heapBytes];
      const base = fc.tuple(fc.constantFrom(...spots), fc.integer({ min: 0, max: 48 }), fc.constantFrom(0, 4 * KiB, 100)).map(([s, n, odd]) => s + n * page + odd);
      const size = fc.constantFrom(ss, page, ss / 2, 2 * ss, 3 * page + 8, 4 * KiB);
      const op = fc.oneof(
        fc.record({ t: fc.constant('map' as const), id: fc.integer({ min: 1, max: 12 }), base, size, kind: fc.constantFrom(...kinds) }),
        fc.record({ t: fc.constant('unmap' as const), id: fc.integer({ min: 1, max: 12 }) }),
        fc.record({ t: fc.constant('remap' as const), id: fc.integer({ min: 1, max: 12 }), base, size }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), fc.array(fc.tuple(base, fc.integer({ min: 0, max: 2 * ss })), { minLength: 1, maxLength: 30 }), (ops, probes) => {
          const m = new AddressMap(hb, heapBytes, ss, page);
          const check = () => {
            for (const [b, d] of probes) expect(m.find(b + d)).toBe(m.findSlow(b + d));
            for (const r of m.regions.values()) {
              for (const a of [r.base, r.base + r.sizeBytes - 1, r.base + r.sizeBytes]) expect(m.find(a)).toBe(m.findSlow(a));
            }
          };
          for (const o of ops) {
            if (o.t === 'map') m.map(o.id, o.base, o.size, o.kind);
            else if (o.t === 'unmap') m.unmap(o.id);
            else m.remap(o.id, o.base, o.size);
            check();
          }
          const answers = [...probes.map(([b, d]) => b + d), ...[...m.regions.values()].map((r) => r.base)].map((a) => m.find(a)?.regionId);
          const saved = m.snapshot();
          m.reset();
          for (const [b, d] of probes) expect(m.find(b + d)).toBeUndefined();
          m.restore(saved);
          check();
          m.restore(saved);
          expect([...probes.map(([b, d]) => b + d), ...saved.regions.map((r) => r.base)].map((a) => m.find(a)?.regionId)).toEqual(answers);
        }),
        { numRuns: 200, seed: 5 },
      );
    });
  }

  it('answers after restore(snapshot()) what it answered before, overlapping regions included', () => {
    // Two SuperSlabs at one base: which one the lookup names depends on the order of past
    // events (the last indexed), not on the set of regions; a checkpoint must keep it.
    const ss = heapBase + 15 * PAGE;
    const m = new AddressMap(heapBase, heapBytes, SS, PAGE);
    m.map(1, ss, SS, RegionKind.SuperSlab);
    m.map(2, ss, SS, RegionKind.SuperSlab);
    m.remap(1, ss, SS);
    expect(m.find(ss + 8)?.regionId).toBe(1);
    m.restore(m.snapshot());
    expect(m.find(ss + 8)?.regionId).toBe(1);
    // Unmapping one of them empties the key even though the other is still mapped.
    m.unmap(1);
    expect(m.find(ss + 8)).toBeUndefined();
    m.restore(m.snapshot());
    expect(m.find(ss + 8)).toBeUndefined();
    // Large regions at one base: the first indexed is found.
    const big = heapBase + 512 * MiB;
    m.map(3, big, 4 * SS, RegionKind.Large);
    m.map(4, big, 4 * SS, RegionKind.Large);
    m.remap(3, big, 4 * SS);
    const before = m.find(big + 8)?.regionId;
    m.restore(m.snapshot());
    expect(m.find(big + 8)?.regionId).toBe(before);
  });

  it('prefers a SuperSlab to a pool page mapped over it, and finds the page again once it goes', () => {
    const m = new AddressMap(heapBase, heapBytes, SS, PAGE);
    const ss = heapBase + 15 * PAGE; // the first SuperSlab boundary above the heap's base
    expect(ss % SS).toBe(0);
    m.map(1, ss + 2 * PAGE, PAGE, RegionKind.PoolPage);
    expect(m.find(ss + 2 * PAGE + 8)?.regionId).toBe(1);
    m.map(2, ss, SS, RegionKind.SuperSlab);
    expect(m.find(ss + 2 * PAGE + 8)?.regionId).toBe(2);
    m.unmap(2);
    expect(m.find(ss + 2 * PAGE + 8)?.regionId).toBe(1);
    m.unmap(1);
    expect(m.find(ss + 2 * PAGE + 8)).toBeUndefined();
    expect(m.resolve(ss + 2 * PAGE + 8)).toEqual({ kind: 'unmapped' });
  });

  it('finds regions outside the heap and past the table through the maps', () => {
    // A SuperSlab size that is not a whole number of pool granules: no table at all.
    const odd = new AddressMap(heapBase, heapBytes, SS + PAGE / 2, PAGE);
    odd.map(3, heapBase, SS + PAGE / 2, RegionKind.SuperSlab);
    expect(odd.find(heapBase + 100)?.regionId).toBe(3);
    const m = new AddressMap(heapBase, heapBytes, SS, PAGE);
    m.map(4, heapBase + heapBytes + 5 * SS, PAGE, RegionKind.PoolPage);
    expect(m.find(heapBase + heapBytes + 5 * SS + 1)?.regionId).toBe(4);
    m.map(5, heapBase - 16 * SS, SS, RegionKind.SuperSlab);
    expect(m.find(heapBase - 16 * SS + 1)?.regionId).toBe(5);
  });
});
