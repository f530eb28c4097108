/** Shared fixtures for the twin's tests. */
import { copyConfig, DEFAULT_CONFIG, validateConfig, type HakmemConfig } from '../../src/model/config.js';
import { HakmemModel } from '../../src/model/allocator.js';
import type { ModelEvent, Placement, PointerRef } from '../../src/model/types.js';

/**
 * A small geometry that makes every boundary easy to reach:
 * SuperSlab 1024 = 4 slabs of 256; tiny classes 16/32/64 (capacities 16, 8, 4);
 * TLS cap 4, refill 2, spill 2; pool pages of 1024 with classes 128/256/512
 * (capacities 8, 4, 2), at most 1 free page kept; LRU 2 SuperSlabs, TTL 20.
 */
export function smallConfig(over: Partial<HakmemConfig> = {}): HakmemConfig {
  const cfg: HakmemConfig = {
    ...copyConfig(DEFAULT_CONFIG),
    superslabSizeBytes: 1024,
    slabSizeBytes: 256,
    tinyMaxBytes: 64,
    tinyClassCount: 3,
    tinyClassSize: [16, 32, 64],
    tlsCapBlocks: 4,
    tlsRefillBlocks: 2,
    tlsSpillBlocks: 2,
    lruMaxCount: 2,
    lruMaxBytes: 2048,
    lruTtlTicks: 20,
    poolPageSizeBytes: 1024,
    poolMaxBytes: 512,
    poolClassCount: 3,
    poolClassSize: [128, 256, 512],
    poolFreePagesMaxCount: 1,
    largePageBytes: 256,
    heapReserveBytes: 1 << 24,
    minAlignBytes: 16,
    ...over,
  };
  validateConfig(cfg);
  return cfg;
}

export function ref(p: Placement | null): PointerRef {
  if (p === null) throw new Error('expected a placement');
  return { kind: 'region', regionId: p.regionId, offset: p.offset };
}

/** A compact text form of events, for readable expectations. */
export function ev(e: ModelEvent): string {
  switch (e.op) {
    case 'region_map':
      return `map ${e.regionId} k${e.regionKind} ${e.sizeBytes}`;
    case 'region_unmap':
    case 'region_reuse':
      return `${e.op.slice(7)} ${e.regionId}`;
    case 'region_remap':
      return `remap ${e.regionId} ${e.sizeBytes}`;
    case 'refill':
    case 'spill':
      return `${e.op} c${e.classIdx} ${e.blocks}`;
    case 'drain':
      return `drain ${e.regionId}.${e.slabIndex} ${e.blocks}`;
    case 'slab_empty':
      return `empty ${e.regionId}.${e.slabIndex}`;
    case 'lru_push':
    case 'lru_pop':
    case 'lru_evict':
      return `${e.op} ${e.regionId} @${e.vclock}`;
  }
}

export function take(m: HakmemModel): string[] {
  return m.takeEvents().map(ev);
}

/** "region.slab.block" for a tiny placement, "region.block" for pool, "region" for large. */
export function at(p: Placement | null): string {
  if (p === null) return 'null';
  if (p.kind === 0) return `${p.regionId}.${p.slabIndex}.${p.blockIndex}`;
  if (p.kind === 1) return `${p.regionId}.${p.blockIndex}`;
  return `${p.regionId}`;
}

export function mallocAt(m: HakmemModel, tid: number, size: number): Placement {
  const out = m.malloc(tid, size);
  if (out.placement === null) throw new Error(`malloc(${size}) failed: errno ${out.errno}`);
  return out.placement;
}
