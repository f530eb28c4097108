/**
 * The allocator's configuration, as the twin reads it from a trace header.
 *
 * native/include/hakmem_config.h is the single source of truth: every field
 * there (HAKMEM_CONFIG_FIELDS) has a camelCase twin here, and the trace header
 * carries them all by their snake_case names, followed by the class tables as
 * `tiny_class_size_N` and `pool_class_size_N`. DEFAULT_CONFIG is only for
 * synthetic traces; test/config-defaults.test.ts checks it against the native
 * build (`hakmem-replay --print-config`).
 */

export interface HakmemConfig {
  superslabSizeBytes: number;
  slabSizeBytes: number;
  tinyMaxBytes: number;
  tinyClassCount: number;
  tlsCapBlocks: number;
  tlsRefillBlocks: number;
  tlsSpillBlocks: number;
  lruMaxCount: number;
  lruMaxBytes: number;
  lruTtlTicks: number;
  poolPageSizeBytes: number;
  poolMaxBytes: number;
  poolClassCount: number;
  poolFreePagesMaxCount: number;
  /** Native mapping granularity of pool page slots; no decision of the model depends on it. */
  poolMapChunkBytes: number;
  largePageBytes: number;
  heapReserveBytes: number;
  minAlignBytes: number;
  /** 0: no bound but the reservation. Absent from traces older than it: read as 0. */
  superslabMaxCount: number;
  /** Freed large mappings kept for reuse (0: none; at most 64). Absent from older traces: read as 0. */
  largeCacheMaxCount: number;
  /** Most bytes the large cache holds; a larger mapping is unmapped at once. */
  largeCacheMaxBytes: number;
  /** tiny_class_size[0 .. tinyClassCount) */
  tinyClassSize: number[];
  /** pool_class_size[0 .. poolClassCount) */
  poolClassSize: number[];
}

/** The scalar fields, in the order of HAKMEM_CONFIG_FIELDS: [snake_case name, camelCase key]. */
export const CONFIG_FIELDS = [
  ['superslab_size_bytes', 'superslabSizeBytes'],
  ['slab_size_bytes', 'slabSizeBytes'],
  ['tiny_max_bytes', 'tinyMaxBytes'],
  ['tiny_class_count', 'tinyClassCount'],
  ['tls_cap_blocks', 'tlsCapBlocks'],
  ['tls_refill_blocks', 'tlsRefillBlocks'],
  ['tls_spill_blocks', 'tlsSpillBlocks'],
  ['lru_max_count', 'lruMaxCount'],
  ['lru_max_bytes', 'lruMaxBytes'],
  ['lru_ttl_ticks', 'lruTtlTicks'],
  ['pool_page_size_bytes', 'poolPageSizeBytes'],
  ['pool_max_bytes', 'poolMaxBytes'],
  ['pool_class_count', 'poolClassCount'],
  ['pool_free_pages_max_count', 'poolFreePagesMaxCount'],
  ['pool_map_chunk_bytes', 'poolMapChunkBytes'],
  ['large_page_bytes', 'largePageBytes'],
  ['heap_reserve_bytes', 'heapReserveBytes'],
  ['min_align_bytes', 'minAlignBytes'],
  ['superslab_max_count', 'superslabMaxCount'],
  ['large_cache_max_count', 'largeCacheMaxCount'],
  ['large_cache_max_bytes', 'largeCacheMaxBytes'],
] as const satisfies ReadonlyArray<readonly [string, keyof HakmemConfig]>;

type ScalarKey = (typeof CONFIG_FIELDS)[number][1];

/** HAKMEM_TINY_CLASS_MAX and HAKMEM_POOL_CLASS_MAX. */
export const TINY_CLASS_MAX = 32;
export const POOL_CLASS_MAX = 32;
/** HK_LARGE_CACHE_MAX: the most entries large_cache_max_count may allow. */
export const LARGE_CACHE_MAX = 64;
/** A SuperSlab's slab bitmap is one 64-bit word. */
export const MAX_SLABS_PER_SUPERSLAB = 64;

/** The native defaults (hakmem_config.h). */
export const DEFAULT_CONFIG: Readonly<HakmemConfig> = Object.freeze({
  superslabSizeBytes: 1048576,
  slabSizeBytes: 65536,
  tinyMaxBytes: 1024,
  tinyClassCount: 20,
  tlsCapBlocks: 64,
  tlsRefillBlocks: 32,
  tlsSpillBlocks: 32,
  lruMaxCount: 8,
  lruMaxBytes: 16777216,
  lruTtlTicks: 4096,
  poolPageSizeBytes: 65536,
  poolMaxBytes: 53248,
  poolClassCount: 12,
  poolFreePagesMaxCount: 256,
  poolMapChunkBytes: 1048576,
  largePageBytes: 4096,
  heapReserveBytes: 274877906944,
  minAlignBytes: 16,
  superslabMaxCount: 0,
  largeCacheMaxCount: 16,
  largeCacheMaxBytes: 16777216,
  tinyClassSize: [16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024],
  poolClassSize: [2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 40960, 49152, 53248],
});

export class ConfigError extends Error {
  constructor(
    /** The snake_case entry at fault. */
    readonly entry: string,
    message: string,
  ) {
    super(`config entry ${entry}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** A fresh, mutable copy of a configuration (class tables copied too). */
export function copyConfig(cfg: Readonly<HakmemConfig>): HakmemConfig {
  return { ...cfg, tinyClassSize: [...cfg.tinyClassSize], poolClassSize: [...cfg.poolClassSize] };
}

/**
 * Entries added after traces were first recorded, with the value the native side had before
 * they existed: a trace without one was recorded by that earlier build. pool_map_chunk_bytes:
 * pool slots used to be mapped one page at a time; superslab_max_count: there was no bound (0);
 * large_cache_max_count and _bytes: every freed large mapping was unmapped (no cache).
 */
const ADDED_LATER: ReadonlyMap<string, (entries: ReadonlyMap<string, bigint>) => bigint | undefined> = new Map([
  ['pool_map_chunk_bytes', (e: ReadonlyMap<string, bigint>) => e.get('pool_page_size_bytes')],
  ['superslab_max_count', () => 0n],
  ['large_cache_max_count', () => 0n],
  ['large_cache_max_bytes', () => 0n],
]);

function readEntry(entries: ReadonlyMap<string, bigint>, name: string): number {
  const v = entries.get(name) ?? ADDED_LATER.get(name)?.(entries);
  if (v === undefined) throw new ConfigError(name, 'missing');
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConfigError(name, `value ${v} out of range`);
  return Number(v);
}

/** Build a configuration from a trace header's name/value table; throws ConfigError. */
export function configFromEntries(entries: ReadonlyMap<string, bigint>): HakmemConfig {
  // Every field is read from the entries below; DEFAULT_CONFIG only lends its shape. Built from
  // one literal's copy, every configuration has the same hidden class: the spread of an object
  // filled key by key made a new one per call, so each replay's model (which reads its cfg on
  // every call) threw away the optimised code of the one before (V8 deopts, "wrong map").
  const cfg = copyConfig(DEFAULT_CONFIG);
  for (const [name, key] of CONFIG_FIELDS) cfg[key] = readEntry(entries, name);
  cfg.tinyClassSize = [];
  cfg.poolClassSize = [];
  if (cfg.tinyClassCount < 1 || cfg.tinyClassCount > TINY_CLASS_MAX) {
    throw new ConfigError('tiny_class_count', `must be 1..${TINY_CLASS_MAX}, is ${cfg.tinyClassCount}`);
  }
  if (cfg.poolClassCount < 1 || cfg.poolClassCount > POOL_CLASS_MAX) {
    throw new ConfigError('pool_class_count', `must be 1..${POOL_CLASS_MAX}, is ${cfg.poolClassCount}`);
  }
  for (let i = 0; i < cfg.tinyClassCount; i++) cfg.tinyClassSize.push(readEntry(entries, `tiny_class_size_${i}`));
  for (let j = 0; j < cfg.poolClassCount; j++) cfg.poolClassSize.push(readEntry(entries, `pool_class_size_${j}`));
  validateConfig(cfg);
  return cfg;
}

/** The inverse of configFromEntries: X-macro order, then the tiny and pool class tables. */
export function configEntries(cfg: Readonly<HakmemConfig>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, key] of CONFIG_FIELDS) out.set(name, BigInt(cfg[key]));
  for (let i = 0; i < cfg.tinyClassCount; i++) out.set(`tiny_class_size_${i}`, BigInt(cfg.tinyClassSize[i]));
  for (let j = 0; j < cfg.poolClassCount; j++) out.set(`pool_class_size_${j}`, BigInt(cfg.poolClassSize[j]));
  return out;
}

function isPow2(v: number): boolean {
  return v > 0 && Number.isInteger(v) && 2 ** Math.round(Math.log2(v)) === v;
}

/**
 * The rules the model relies on (and hakmem_config.h states for the class
 * tables). Throws ConfigError naming the first entry at fault.
 */
export function validateConfig(cfg: Readonly<HakmemConfig>): void {
  const positive: ScalarKey[] = [
    'superslabSizeBytes',
    'slabSizeBytes',
    'tinyMaxBytes',
    'tlsRefillBlocks',
    'tlsSpillBlocks',
    'poolPageSizeBytes',
    'poolMaxBytes',
    'largePageBytes',
    'heapReserveBytes',
    'minAlignBytes',
  ];
  for (const key of positive) {
    if (!(cfg[key] > 0)) throw new ConfigError(snake(key), 'must be positive');
  }
  if (!isPow2(cfg.minAlignBytes)) throw new ConfigError('min_align_bytes', 'must be a power of two');
  if (cfg.largeCacheMaxCount > LARGE_CACHE_MAX) throw new ConfigError('large_cache_max_count', `must be at most ${LARGE_CACHE_MAX}`);
  if (cfg.superslabSizeBytes % cfg.slabSizeBytes !== 0) {
    throw new ConfigError('superslab_size_bytes', 'must be a multiple of slab_size_bytes');
  }
  const nSlabs = cfg.superslabSizeBytes / cfg.slabSizeBytes;
  if (nSlabs > MAX_SLABS_PER_SUPERSLAB) {
    throw new ConfigError('superslab_size_bytes', `holds ${nSlabs} slabs (at most ${MAX_SLABS_PER_SUPERSLAB})`);
  }
  if (cfg.tinyClassSize.length !== cfg.tinyClassCount) throw new ConfigError('tiny_class_count', 'table length differs');
  if (cfg.poolClassSize.length !== cfg.poolClassCount) throw new ConfigError('pool_class_count', 'table length differs');
  checkTable(cfg.tinyClassSize, 'tiny_class_size', cfg.minAlignBytes, cfg.slabSizeBytes);
  checkTable(cfg.poolClassSize, 'pool_class_size', cfg.minAlignBytes, cfg.poolPageSizeBytes);
  if (cfg.tinyClassSize[cfg.tinyClassCount - 1] !== cfg.tinyMaxBytes) {
    throw new ConfigError(`tiny_class_size_${cfg.tinyClassCount - 1}`, 'last tiny class must equal tiny_max_bytes');
  }
  if (cfg.poolClassSize[cfg.poolClassCount - 1] !== cfg.poolMaxBytes) {
    throw new ConfigError(`pool_class_size_${cfg.poolClassCount - 1}`, 'last pool class must equal pool_max_bytes');
  }
}

function checkTable(table: readonly number[], name: string, minAlign: number, limit: number): void {
  for (let i = 0; i < table.length; i++) {
    const v = table[i];
    if (!(v > 0) || v % minAlign !== 0) throw new ConfigError(`${name}_${i}`, `${v} is not a positive multiple of min_align_bytes`);
    if (i > 0 && v <= table[i - 1]) throw new ConfigError(`${name}_${i}`, 'classes must be strictly increasing');
    if (v > limit) throw new ConfigError(`${name}_${i}`, `${v} does not fit one block per slab or page`);
  }
}

function snake(key: ScalarKey): string {
  for (const [name, k] of CONFIG_FIELDS) if (k === key) return name;
  return key;
}
