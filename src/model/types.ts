/**
 * The twin's public types: what the replay engine (src/sim) hands the model and
 * what the model answers. Names follow native/ (docs/allocator.md).
 *
 * The model never sees addresses. The engine turns a pointer into a BlockRef
 * (region id + byte offset from the region's base) using the trace's region
 * events, and the model resolves the offset with its own slab metadata.
 */

export const enum RegionKind {
  SuperSlab = 0,
  PoolPage = 1,
  Large = 2,
}

/** Verdict of free() on a pointer, as recorded in FREE events (HKT_VERDICT_*). */
export const enum Verdict {
  Ok = 0,
  Foreign = 1,
  Invalid = 2,
  Null = 3,
}

/** Where a block lives: docs/allocator.md section 1. */
export interface Placement {
  regionId: number;
  /** Slab index for SuperSlabs, 0 otherwise. */
  slabIndex: number;
  /** Block index within the slab or pool page, 0 for large. */
  blockIndex: number;
  /** Byte offset of the block from its region's base; -1 where the model cannot know it
   * (a large block aligned inside its mapping, which depends on the base address). */
  offset: number;
  kind: RegionKind;
  /** Tiny or pool class index; -1 for large. */
  classIdx: number;
  /** Usable size in bytes. */
  usableBytes: number;
}

/** A pointer as the engine resolved it: a region id and an offset, or no region at all. */
export type PointerRef =
  | { kind: 'null' }
  | { kind: 'region'; regionId: number; offset: number }
  /** Inside the allocator's reservation but in no live region (never allocated here). */
  | { kind: 'unmapped' }
  /** Outside the reservation: another allocator's pointer. */
  | { kind: 'foreign' };

/** Decisions the model makes that a trace can also record (region and internal events). */
export type ModelEvent =
  | { op: 'region_map'; regionId: number; regionKind: RegionKind; sizeBytes: number }
  | { op: 'region_unmap'; regionId: number }
  | { op: 'region_reuse'; regionId: number }
  | { op: 'region_remap'; regionId: number; sizeBytes: number }
  | { op: 'refill'; classIdx: number; blocks: number }
  | { op: 'spill'; classIdx: number; blocks: number }
  | { op: 'drain'; regionId: number; slabIndex: number; blocks: number }
  | { op: 'slab_empty'; regionId: number; slabIndex: number }
  | { op: 'lru_push'; regionId: number; vclock: number }
  | { op: 'lru_pop'; regionId: number; vclock: number }
  | { op: 'lru_evict'; regionId: number; vclock: number };

export interface AllocOutcome {
  /** null when the call fails (errno says why). */
  placement: Placement | null;
  errno: number;
}

export interface FreeOutcome {
  verdict: Verdict;
}

export interface ReallocOutcome {
  placement: Placement | null;
  /** Verdict on the old pointer (Ok when it was a live block of ours). */
  verdict: Verdict;
  errno: number;
  /** True when the block stayed where it was (same placement; a large remap counts). */
  inPlace: boolean;
}

export const ENOMEM = 12;
export const EINVAL = 22;
