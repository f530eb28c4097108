import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/model/config.js';
import { route, routeCode, Router } from '../../src/model/route.js';
import { smallConfig } from './helpers.js';

const cfg = DEFAULT_CONFIG;

describe('route', () => {
  it('sends plain sizes to tiny, pool and large by the class tables', () => {
    expect(route(cfg, 0, 0)).toEqual({ kind: 'tiny', classIdx: 0 });
    expect(route(cfg, 1, 0)).toEqual({ kind: 'tiny', classIdx: 0 });
    expect(route(cfg, 16, 0)).toEqual({ kind: 'tiny', classIdx: 0 });
    expect(route(cfg, 17, 0)).toEqual({ kind: 'tiny', classIdx: 1 });
    expect(route(cfg, 129, 0)).toEqual({ kind: 'tiny', classIdx: 8 }); // 160
    expect(route(cfg, 1024, 0)).toEqual({ kind: 'tiny', classIdx: 19 });
    expect(route(cfg, 1025, 0)).toEqual({ kind: 'pool', classIdx: 0 }); // 2048
    expect(route(cfg, 4097, 0)).toEqual({ kind: 'pool', classIdx: 3 }); // 6144
    expect(route(cfg, 53248, 0)).toEqual({ kind: 'pool', classIdx: 11 });
    expect(route(cfg, 53249, 0)).toEqual({ kind: 'large', classIdx: -1 });
  });

  it('treats alignments up to min_align_bytes as plain', () => {
    expect(route(cfg, 24, 16)).toEqual(route(cfg, 24, 0));
    expect(route(cfg, 24, 8)).toEqual({ kind: 'tiny', classIdx: 1 });
  });

  it('picks the smallest class that is a multiple of the alignment', () => {
    expect(route(cfg, 24, 32)).toEqual({ kind: 'tiny', classIdx: 1 }); // 32
    expect(route(cfg, 40, 32)).toEqual({ kind: 'tiny', classIdx: 3 }); // 64 (48 % 32 != 0)
    expect(route(cfg, 100, 256)).toEqual({ kind: 'tiny', classIdx: 11 }); // 256
    expect(route(cfg, 100, 1024)).toEqual({ kind: 'tiny', classIdx: 19 });
    expect(route(cfg, 100, 4096)).toEqual({ kind: 'pool', classIdx: 2 }); // 4096
    expect(route(cfg, 5000, 4096)).toEqual({ kind: 'pool', classIdx: 4 }); // 8192 (6144 % 4096 != 0)
    expect(route(cfg, 2000, 2048)).toEqual({ kind: 'pool', classIdx: 0 });
    expect(route(cfg, 100, 65536)).toEqual({ kind: 'large', classIdx: -1 });
    expect(route(cfg, 60000, 4096)).toEqual({ kind: 'large', classIdx: -1 });
    expect(route(cfg, 1025, 1024)).toEqual({ kind: 'pool', classIdx: 0 });
  });

  it('the hot-path router agrees with route everywhere', () => {
    for (const c of [cfg, smallConfig()]) {
      const r = new Router(c);
      for (let size = 0; size <= c.poolMaxBytes + 2; size++) {
        expect(r.plain(size)).toBe(routeCode(c, size, 0));
      }
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 20 }), (size, lg) => {
          const align = lg === 0 ? 0 : 2 ** lg;
          expect(r.code(size, align)).toBe(routeCode(c, size, align));
        }),
      );
    }
  });

  it('every routed block fits the request and is aligned', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 18 }), (size, lg) => {
        const align = 2 ** lg;
        const r = route(cfg, size, align);
        if (r.kind === 'large') return;
        const cls = (r.kind === 'tiny' ? cfg.tinyClassSize : cfg.poolClassSize)[r.classIdx];
        expect(cls).toBeGreaterThanOrEqual(Math.max(size, 1));
        if (align > cfg.minAlignBytes) expect(cls % align).toBe(0);
      }),
    );
  });
});
