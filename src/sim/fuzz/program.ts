/**
 * Fuzz programs: what a case is, how its raw integers decode into allocator
 * calls, and the size and alignment tables clustered at every boundary of a
 * configuration.
 *
 * A case is plain data (fast-check generates and shrinks it):
 *   - `swarm`: one weight per operation kind (swarm testing: each run enables
 *     a different mix; a zero weight disables a kind for the whole run);
 *   - `palette`: the few sizes this run uses, as indices into the boundary
 *     size table (few sizes per run make same-class collisions, hence full
 *     slabs, spills and drains, likely);
 *   - `threads`: one list of raw ops per thread; a raw op is three integers
 *     [kind roll, palette index, argument] decoded by `decodeOp`, so
 *     shrinking each integer toward 0 moves toward the simplest op (malloc of
 *     the palette's first size into slot 0);
 *   - `schedule`: thread picks (see schedule.ts); an empty schedule runs each
 *     thread to its end before the next, i.e. no preemption at all;
 *   - `pctSeed`: the seed of the PCT scheduler (--schedule pct);
 *   - `teardown`: at the end, the main thread frees every block still held
 *     (in a slot, or leaked: a slot overwritten by a later allocation).
 *
 * Pointers live in a handful of global slots shared by all threads: a block
 * allocated by one thread and freed by another is a remote free
 * (producer/consumer), and a thread that exits leaves its slabs orphaned.
 */
import { DEFAULT_CONFIG, copyConfig, validateConfig, type HakmemConfig } from '../../model/config.js';
import { PAGE_BYTES, type MemalignFn } from '../../model/allocator.js';

export type RawOp = [number, number, number];

export interface FuzzCase {
  swarm: number[];
  /** This run's size palette: indices into the size table (swarm testing for sizes). */
  palette: number[];
  threads: RawOp[][];
  schedule: number[];
  pctSeed: number;
  teardown: boolean;
}

/** Operation kinds, in swarm-weight order. The misuse kinds exist only in misuse mode. */
export const OP_KINDS = ['malloc', 'free', 'calloc', 'memalign', 'realloc', 'exit'] as const;
/**
 * Misuse (misuse mode only): a free of a pointer outside the heap (under
 * LD_PRELOAD no allocator returned it: I2), a double free, an interior free,
 * a free of a heap address never handed out.
 */
export const MISUSE_KINDS = ['foreign-free', 'double-free', 'interior-free', 'wild-free'] as const;
export type OpKind = (typeof OP_KINDS)[number] | (typeof MISUSE_KINDS)[number];

export const N_SLOTS = 8;
export const KIND_ROLLS = 100;
export const ARG_MAX = 0xffff;
export const MAX_WEIGHT = 4;
export const MAX_PALETTE = 4;

export const MEMALIGN_FNS: readonly MemalignFn[] = ['posix_memalign', 'aligned_alloc', 'memalign', 'valloc', 'pvalloc'];

/** Valid powers of two first (shrinking goes to index 0), then invalid ones. */
export const ALIGNS: readonly number[] = [
  16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576, 8, 0, 1, 3, 24, 48, 12288,
];

/** A decoded op. */
export interface Op {
  kind: OpKind;
  slot: number;
  size: number;
  align: number;
  nmemb: number;
  fn: MemalignFn;
  /** Byte offset for an interior free. */
  delta: number;
}

// ------------------------------------------------------------ configurations

/**
 * `small`: the default policy scaled down (small-scope hypothesis) so that a
 * slab fills in a few calls, a TLS list spills after 4 frees, the LRU holds
 * 2 SuperSlabs and the large cache 2 mappings: every protocol is reachable within a few dozen
 * calls.
 * Native accepts the same values through HAKMEM_* variables.
 */
export const SMALL_CONFIG: Readonly<HakmemConfig> = Object.freeze({
  ...DEFAULT_CONFIG,
  superslabSizeBytes: 65536,
  slabSizeBytes: 2048,
  tinyMaxBytes: 1024,
  tinyClassCount: 8,
  tinyClassSize: [16, 32, 48, 64, 128, 256, 512, 1024],
  tlsCapBlocks: 4,
  tlsRefillBlocks: 2,
  tlsSpillBlocks: 2,
  lruMaxCount: 2,
  lruMaxBytes: 131072,
  lruTtlTicks: 64,
  poolPageSizeBytes: 65536,
  poolMaxBytes: 32768,
  poolClassCount: 5,
  poolClassSize: [2048, 4096, 8192, 16384, 32768],
  poolFreePagesMaxCount: 1,
  largeCacheMaxCount: 2,
  largeCacheMaxBytes: 262144,
});

/**
 * `tight`: `small` with 16 KiB slabs and at most one SuperSlab mapped (superslab_max_count 1):
 * four slabs for every thread and class, so a refill fails within a few calls and an allocator
 * that holds on to memory (slabs never released, TLS lists never spilled) runs out where the
 * correct one does not.
 */
export const TIGHT_CONFIG: Readonly<HakmemConfig> = Object.freeze({
  ...SMALL_CONFIG,
  slabSizeBytes: 16384,
  superslabMaxCount: 1,
});

export const CONFIG_PRESETS = { small: SMALL_CONFIG, tight: TIGHT_CONFIG, default: DEFAULT_CONFIG } as const;
export type ConfigPreset = keyof typeof CONFIG_PRESETS;

export function presetConfig(name: ConfigPreset): HakmemConfig {
  const cfg = copyConfig(CONFIG_PRESETS[name]);
  validateConfig(cfg);
  return cfg;
}

/**
 * Sizes clustered at every boundary: 0, 1, each tiny and pool class +-1, the
 * tiny/pool/large thresholds +-1, the large page, slab, page and SuperSlab
 * sizes +-1, and a few large sizes. Ascending (shrinking goes to small sizes).
 */
export function sizeTable(cfg: HakmemConfig): number[] {
  const set = new Set<number>([0, 1]);
  const around = (v: number) => {
    for (const d of [-1, 0, 1]) if (v + d >= 0) set.add(v + d);
  };
  for (const c of cfg.tinyClassSize) around(c);
  for (const p of cfg.poolClassSize) around(p);
  for (const v of [cfg.tinyMaxBytes, cfg.poolMaxBytes, cfg.largePageBytes, 2 * cfg.largePageBytes, cfg.slabSizeBytes, cfg.poolPageSizeBytes, cfg.superslabSizeBytes]) around(v);
  for (const v of [3 * cfg.largePageBytes + 7, 2 * cfg.superslabSizeBytes, 4 * 1048576 + 1]) set.add(v);
  return [...set].filter((v) => v < 2 ** 31).sort((a, b) => a - b);
}

// ------------------------------------------------------------------ decoding

/** Decode a raw op with this run's swarm weights. */
export function decodeOp(raw: RawOp, swarm: readonly number[], palette: readonly number[], sizes: readonly number[], misuse: boolean): Op {
  const op: Op = { kind: 'malloc', slot: 0, size: 0, align: 0, nmemb: 0, fn: 'posix_memalign', delta: 0 };
  return decodeOpInto(op, raw, swarm, palette, sizes, misuse, swarmTotal(swarm, misuse));
}

/** The sum of the swarm weights of the kinds in play (decodeOpInto's `total`). */
export function swarmTotal(swarm: readonly number[], misuse: boolean): number {
  const nKinds = misuse ? OP_KINDS.length + MISUSE_KINDS.length : OP_KINDS.length;
  let total = 0;
  for (let k = 0; k < nKinds; k++) total += swarm[k] ?? 0;
  return total;
}

/**
 * decodeOp into an Op the caller reuses (the executor decodes each op as it runs it, into one
 * object, instead of building an object per op of the case up front).
 */
export function decodeOpInto(
  out: Op,
  raw: RawOp,
  swarm: readonly number[],
  palette: readonly number[],
  sizes: readonly number[],
  misuse: boolean,
  total: number,
): Op {
  const roll = raw[0];
  const sizeIdx = raw[1];
  const arg = raw[2];
  const nKinds = misuse ? OP_KINDS.length + MISUSE_KINDS.length : OP_KINDS.length;
  let kind: OpKind = 'malloc';
  if (total > 0) {
    let r = roll % total;
    for (let k = 0; k < nKinds; k++) {
      const w = swarm[k] ?? 0;
      if (r < w) {
        kind = k < OP_KINDS.length ? OP_KINDS[k] : MISUSE_KINDS[k - OP_KINDS.length];
        break;
      }
      r -= w;
    }
  }
  // A thread exit ends the thread's program: only one in eight exit rolls is one.
  if (kind === 'exit' && (arg & 7) !== 0) kind = 'malloc';
  const fn = MEMALIGN_FNS[(arg >>> 3) % MEMALIGN_FNS.length];
  out.kind = kind;
  out.slot = arg % N_SLOTS;
  out.size = sizes[(palette.length === 0 ? 0 : palette[sizeIdx % palette.length]) % sizes.length];
  // valloc and pvalloc take no alignment: the recorder writes the page size.
  out.align = fn === 'valloc' || fn === 'pvalloc' ? PAGE_BYTES : ALIGNS[(arg >>> 6) % ALIGNS.length];
  out.nmemb = (arg >>> 3) % 4;
  out.fn = fn;
  out.delta = 8 * (1 + ((arg >>> 3) % 4));
  return out;
}

/** One line, as the reproducer prints it. */
export function describeOp(tid: number, op: Op): string {
  const p = `p${op.slot}`;
  switch (op.kind) {
    case 'malloc':
      return `t${tid}: ${p} = malloc(${op.size})`;
    case 'calloc':
      return `t${tid}: ${p} = calloc(${op.nmemb}, ${op.size})`;
    case 'memalign':
      return op.fn === 'valloc' || op.fn === 'pvalloc' ? `t${tid}: ${p} = ${op.fn}(${op.size})` : `t${tid}: ${p} = ${op.fn}(${op.align}, ${op.size})`;
    case 'realloc':
      return `t${tid}: ${p} = realloc(${p}, ${op.size})`;
    case 'free':
      return `t${tid}: free(${p})`;
    case 'foreign-free':
      return `t${tid}: free(<foreign pointer>)`;
    case 'exit':
      return `t${tid}: thread exit`;
    case 'double-free':
      return `t${tid}: free(${p} again)`;
    case 'interior-free':
      return `t${tid}: free(${p} + ${op.delta})`;
    case 'wild-free':
      return `t${tid}: free(<never allocated>)`;
  }
}
