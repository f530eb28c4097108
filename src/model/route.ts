/**
 * Routing: which path (tiny, pool, large) and which class serve a request.
 * docs/allocator.md section 2.
 */
import type { HakmemConfig } from './config.js';

export type RouteKind = 'tiny' | 'pool' | 'large';

export interface Route {
  kind: RouteKind;
  /** Tiny or pool class index; -1 for large. */
  classIdx: number;
}

/**
 * route(size, align). `size == 0` is treated as 1; alignments of at most
 * min_align_bytes are plain. Aligned requests take the smallest tiny class that
 * is >= size and a multiple of align (align <= slab size), else the smallest
 * such pool class (align <= pool page size), else large.
 */
export function route(cfg: Readonly<HakmemConfig>, size: number, align: number): Route {
  const code = routeCode(cfg, size, align);
  if (code === ROUTE_LARGE) return { kind: 'large', classIdx: -1 };
  if (code >= ROUTE_POOL) return { kind: 'pool', classIdx: code - ROUTE_POOL };
  return { kind: 'tiny', classIdx: code };
}

/** Encoded route: a tiny class c is c, a pool class j is ROUTE_POOL + j, large is ROUTE_LARGE. */
export const ROUTE_POOL = 64;
export const ROUTE_LARGE = -1;

export function routeCode(cfg: Readonly<HakmemConfig>, size: number, align: number): number {
  if (size === 0) size = 1;
  if (align <= cfg.minAlignBytes) {
    if (size <= cfg.tinyMaxBytes) return smallest(cfg.tinyClassSize, size, 1);
    if (size <= cfg.poolMaxBytes) return ROUTE_POOL + smallest(cfg.poolClassSize, size, 1);
    return ROUTE_LARGE;
  }
  if (align <= cfg.slabSizeBytes) {
    const c = smallest(cfg.tinyClassSize, size, align);
    if (c >= 0) return c;
  }
  if (align <= cfg.poolPageSizeBytes) {
    const j = smallest(cfg.poolClassSize, size, align);
    if (j >= 0) return ROUTE_POOL + j;
  }
  return ROUTE_LARGE;
}

/** Smallest index i with table[i] >= size and table[i] % align == 0, or -1. */
function smallest(table: readonly number[], size: number, align: number): number {
  for (let i = 0; i < table.length; i++) {
    const v = table[i];
    if (v >= size && v % align === 0) return i;
  }
  return -1;
}

/**
 * A precomputed router for the hot path: plain tiny and pool sizes go through tables indexed by
 * ceil(size / min_align) (a shift: min_align_bytes is a power of two, and both bounds keep the
 * index small); everything else through routeCode.
 */
export class Router {
  private readonly tinyTable: Uint8Array;
  private readonly poolTable: Uint8Array;
  private readonly shift: number;
  private readonly tinyMax: number;
  private readonly poolMax: number;

  constructor(private readonly cfg: Readonly<HakmemConfig>) {
    const granule = cfg.minAlignBytes;
    this.shift = Math.round(Math.log2(granule));
    this.tinyMax = cfg.tinyMaxBytes;
    this.poolMax = cfg.poolMaxBytes;
    const n = Math.ceil(cfg.tinyMaxBytes / granule);
    this.tinyTable = new Uint8Array(n + 1);
    for (let g = 0; g <= n; g++) this.tinyTable[g] = smallest(cfg.tinyClassSize, Math.max(1, g * granule), 1);
    const m = Math.ceil(cfg.poolMaxBytes / granule);
    this.poolTable = new Uint8Array(m + 1);
    // Entries for sizes the tiny path serves are never read.
    for (let g = n; g <= m; g++) this.poolTable[g] = Math.max(0, smallest(cfg.poolClassSize, Math.max(1, g * granule), 1));
  }

  /** The encoded route of a plain request. */
  plain(size: number): number {
    if (size <= this.tinyMax) return this.tinyTable[((size === 0 ? 1 : size) + (1 << this.shift) - 1) >> this.shift];
    if (size <= this.poolMax) return ROUTE_POOL + this.poolTable[(size + (1 << this.shift) - 1) >> this.shift];
    return ROUTE_LARGE;
  }

  code(size: number, align: number): number {
    return align <= this.cfg.minAlignBytes ? this.plain(size) : routeCode(this.cfg, size, align);
  }
}
