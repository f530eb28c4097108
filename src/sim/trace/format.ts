/**
 * The .hkt trace format, versions 1 and 2: the TypeScript twin of
 * native/include/hakmem_trace_format.h. docs/trace-format.md is the prose.
 */

export const HKT_MAGIC = 'HKMTRACE';
export const HKT_VERSION = 1;
/** A fast-mode trace never closed (left by a crash): ordered prefix, then per-thread chunks. */
export const HKT_VERSION_CHUNKED = 2;
/** Header offset of ordered_slots (version 2). */
export const HKT_ORDERED_OFFSET = 160;
export const HKT_CHUNK_SLOTS = 64;
/** Version-2 records inside the chunk area (never in a version-1 trace). */
export const OP_CHUNK = 48;
export const OP_CLOCK = 49;
export const HKT_HEADER_BYTES = 4096;
export const HKT_SLOT_BYTES = 16;
export const HKT_CONFIG_OFFSET = 256;
export const HKT_CONFIG_ENTRY_BYTES = 40;
export const HKT_CONFIG_MAX_ENTRIES = 96;

export const FLAG_COMPLETE = 0x1;
export const FLAG_EXACT = 0x2;
export const FLAG_INTERNAL = 0x4;
export const FLAG_FORKED = 0x8;

export const OP_MASK = 0x3f;
export const EXT_SHIFT = 6;
export const OP_EXT = 0x3f;

/** Operation codes (low 6 bits of a main slot's op byte). */
export const Op = {
  MALLOC: 1,
  FREE: 2,
  CALLOC: 3,
  REALLOC: 4,
  POSIX_MEMALIGN: 5,
  ALIGNED_ALLOC: 6,
  MEMALIGN: 7,
  VALLOC: 8,
  PVALLOC: 9,
  USABLE_SIZE: 10,
  THREAD_START: 16,
  THREAD_EXIT: 17,
  FORK: 18,
  EXEC: 19,
  REGION_MAP: 20,
  REGION_UNMAP: 21,
  REGION_REUSE: 22,
  REGION_REMAP: 23,
  REFILL: 32,
  SPILL: 33,
  DRAIN: 34,
  SLAB_EMPTY: 35,
  LRU_PUSH: 36,
  LRU_POP: 37,
  LRU_EVICT: 38,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

export const OP_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Op).map(([name, code]) => [code, name.toLowerCase()]),
);

/** Extension slots each op may carry: [min, max]. */
export const EXT_RANGE: Readonly<Record<number, readonly [number, number]>> = {
  [Op.MALLOC]: [0, 1],
  [Op.FREE]: [0, 0],
  [Op.CALLOC]: [0, 2],
  [Op.REALLOC]: [1, 2],
  [Op.POSIX_MEMALIGN]: [1, 1],
  [Op.ALIGNED_ALLOC]: [1, 1],
  [Op.MEMALIGN]: [1, 1],
  [Op.VALLOC]: [1, 1],
  [Op.PVALLOC]: [1, 1],
  [Op.USABLE_SIZE]: [1, 1],
  [Op.THREAD_START]: [0, 0],
  [Op.THREAD_EXIT]: [0, 0],
  [Op.FORK]: [0, 0],
  [Op.EXEC]: [0, 0],
  [Op.REGION_MAP]: [1, 1],
  [Op.REGION_UNMAP]: [0, 0],
  [Op.REGION_REUSE]: [0, 0],
  [Op.REGION_REMAP]: [1, 1],
  [Op.REFILL]: [0, 0],
  [Op.SPILL]: [0, 0],
  [Op.DRAIN]: [0, 0],
  [Op.SLAB_EMPTY]: [0, 0],
  [Op.LRU_PUSH]: [0, 0],
  [Op.LRU_POP]: [0, 0],
  [Op.LRU_EVICT]: [0, 0],
};

export const SIZE_WIDE = 0xffffffff;

export function isAllocOp(op: number): boolean {
  return op === Op.MALLOC || op === Op.CALLOC || op === Op.REALLOC || (op >= Op.POSIX_MEMALIGN && op <= Op.PVALLOC);
}

export function isRegionOp(op: number): boolean {
  return op >= Op.REGION_MAP && op <= Op.REGION_REMAP;
}

export function isInternalOp(op: number): boolean {
  return op >= Op.REFILL && op <= Op.LRU_EVICT;
}

/** The slot check byte: docs/trace-format.md. Operates on the slot's fields as 32-bit halves. */
export function slotCheck(op: number, c: number, a: number, bLo: number, bHi: number): number {
  // x = b ^ (a << 16) ^ c ^ (op << 40), folded to one byte by XOR.
  const lo = (bLo ^ ((a << 16) >>> 0) ^ c) >>> 0;
  const hi = (bHi ^ (a >>> 16) ^ (op << 8)) >>> 0;
  let x = (lo ^ hi) >>> 0;
  x ^= x >>> 16;
  x ^= x >>> 8;
  return x & 0xff;
}

/** CRC-32 (IEEE 802.3, as zlib's crc32). */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The header CRC: bytes 20..23, 48..71 and 76..79 count as zero. */
export function headerCrc(header: Uint8Array): number {
  const copy = Uint8Array.from(header.subarray(0, HKT_HEADER_BYTES));
  copy.fill(0, 20, 24);
  copy.fill(0, 48, 72);
  copy.fill(0, 76, 80);
  return crc32(copy);
}
