/* hakmem_trace_format.h: the on-disk trace format, versions 1 and 2.
 * docs/trace-format.md is the prose description; src/sim/trace/format.ts is
 * its TypeScript twin. Little-endian throughout.
 *
 * File = header (HKT_HEADER_BYTES) + slots of HKT_SLOT_BYTES.
 * An event is one main slot followed by 0..3 extension slots (count in the
 * top two bits of the main slot's op byte). Event numbers count events, not
 * slots, starting at 0.
 */
#ifndef HAKMEM_TRACE_FORMAT_H
#define HAKMEM_TRACE_FORMAT_H

#include <stdint.h>

#define HKT_MAGIC "HKMTRACE"          /* 8 bytes, no NUL */
#define HKT_VERSION 1u          /* one global order: every closed trace, every exact-mode trace */
#define HKT_VERSION_CHUNKED 2u  /* a fast-mode trace still being written (or left by a crash):
                                   an ordered prefix, then per-thread chunks (hakmem_trace_merge.h) */
#define HKT_HEADER_BYTES 4096u
#define HKT_SLOT_BYTES 16u
#define HKT_CONFIG_MAX_ENTRIES 96u

/* header flags */
#define HKT_FLAG_COMPLETE 0x1u  /* closed cleanly: slot_count and end_time are valid */
#define HKT_FLAG_EXACT 0x2u     /* exact mode: calls serialised, order is the true order */
#define HKT_FLAG_INTERNAL 0x4u  /* internal decision events recorded */
#define HKT_FLAG_FORKED 0x8u    /* written by a forked child: the heap was inherited */

typedef struct hkt_header {
  char magic[8];              /*   0: "HKMTRACE" */
  uint32_t version;           /*   8 */
  uint32_t header_bytes;      /*  12: 4096 */
  uint32_t slot_bytes;        /*  16: 16 */
  uint32_t flags;             /*  20: HKT_FLAG_* (mutable: COMPLETE set at close) */
  uint64_t pid;               /*  24 */
  uint64_t parent_pid;        /*  32 */
  uint64_t start_time_ns;     /*  40: CLOCK_REALTIME at open */
  uint64_t end_time_ns;       /*  48: mutable, set at close */
  uint64_t slot_count;        /*  56: mutable, set at close */
  uint64_t event_count;       /*  64: mutable, set at close */
  uint32_t config_count;      /*  72: entries used in config[] */
  uint32_t header_crc32;      /*  76: CRC-32 (IEEE) of bytes [0,4096) with the mutable fields
                                      (bytes 20..23 and 48..71) and this field taken as zero */
  char comm[64];              /*  80: program name, NUL padded */
  uint64_t heap_base;         /* 144: the allocator's address-space reservation */
  uint64_t heap_bytes;        /* 152 */
  uint64_t ordered_slots;     /* 160: version 2 only (zero in version 1): slots [0, this) are in
                                      global order; chunks start at this rounded up to 64.
                                      HKT_ORDERED_ALL: no chunk yet (every slot is in order) */
  uint8_t reserved[88];       /* 168 */
} hkt_header_t;               /* 256 bytes; the config table follows */

/* The config table starts at HKT_CONFIG_OFFSET and holds config_count entries
 * of 40 bytes each (char name[32] NUL padded, uint64_t value). */
#define HKT_CONFIG_OFFSET 256u
#define HKT_CONFIG_ENTRY_BYTES 40u
/* 256 + 96 * 40 = 4096 */

/* Slot layout (16 bytes):
 *   byte 0     op      (0 = empty: the slot was never completed)
 *   byte 1     check   (XOR of bytes 2..15 and of op, see hkt_check)
 *   bytes 2-3  u16 c   (thread index for a main slot)
 *   bytes 4-7  u32 a
 *   bytes 8-15 u64 b
 * A writer stores bytes 8..15 first, then bytes 0..7 as one aligned 8-byte
 * store, so a slot is either complete or has op == 0. */
#define HKT_OP_MASK 0x3Fu
#define HKT_EXT_SHIFT 6u
#define HKT_OP_EXT 0x3Fu /* op byte of an extension slot */

/* Version 2 (fast mode while recording): see docs/trace-format.md, "Version 2". */
#define HKT_ORDERED_OFFSET 160u
#define HKT_ORDERED_ALL UINT64_MAX
#define HKT_CHUNK_SLOTS 64u
#define HKT_OP_CHUNK 48u /* chunk header: c = thread index, a = the thread's next chunk number
                            (0: none yet), b = clock base */
#define HKT_OP_CLOCK 49u /* inside a chunk: b = new clock base (c = 0, a = 0) */

enum hkt_op {
  /* allocator calls */
  HKT_MALLOC = 1,          /* a=size, b=result                                     ext: [size64] */
  HKT_FREE = 2,            /* a=verdict (HKT_VERDICT_*), b=ptr                                    */
  HKT_CALLOC = 3,          /* a=nmemb*size, b=result                  ext: [nmemb][size] if wide */
  HKT_REALLOC = 4,         /* a=size, b=result; ext1: b=old ptr, a=errno        ext2: [size64] */
  HKT_POSIX_MEMALIGN = 5,  /* a=size, b=result; ext1: b=alignment, a=return code (0/EINVAL/ENOMEM) */
  HKT_ALIGNED_ALLOC = 6,   /* a=size, b=result; ext1: b=alignment, a=errno                       */
  HKT_MEMALIGN = 7,        /* a=size, b=result; ext1: b=alignment, a=errno                       */
  HKT_VALLOC = 8,          /* a=size, b=result; ext1: b=alignment (page), a=errno                */
  HKT_PVALLOC = 9,         /* a=size, b=result; ext1: b=alignment (page), a=errno                */
  HKT_USABLE_SIZE = 10,    /* a=0, b=ptr; ext1: b=result                                         */
  /* process and thread structure */
  HKT_THREAD_START = 16,   /* c=thread index, b=OS thread id */
  HKT_THREAD_EXIT = 17,    /* c=thread index */
  HKT_FORK = 18,           /* b=child pid (recorded in the parent after fork() returns) */
  HKT_EXEC = 19,           /* a=0: an exec is attempted (the file is closed after it);
                              a=errno: it failed, and recording went on in the same file */
  /* regions */
  HKT_REGION_MAP = 20,     /* a=region id, b=base; ext1: b=size bytes, a=kind (HKT_REGION_*) */
  HKT_REGION_UNMAP = 21,   /* a=region id, b=base */
  HKT_REGION_REUSE = 22,   /* a=region id, b=base: an LRU SuperSlab or a large-cache mapping taken back */
  HKT_REGION_REMAP = 23,   /* a=region id, b=new base; ext1: b=new size bytes */
  /* internal decisions (only with HAKMEM_TRACE_INTERNAL=1) */
  HKT_REFILL = 32,         /* a=class, b=blocks moved to the TLS list */
  HKT_SPILL = 33,          /* a=class, b=blocks moved back to slabs */
  HKT_DRAIN = 34,          /* a=region id, b=(slab index << 32) | blocks drained */
  HKT_SLAB_EMPTY = 35,     /* a=region id, b=slab index */
  HKT_LRU_PUSH = 36,       /* a=region id, b=virtual clock */
  HKT_LRU_POP = 37,        /* a=region id, b=virtual clock */
  HKT_LRU_EVICT = 38,      /* a=region id, b=virtual clock */
};

enum hkt_region_kind { HKT_REGION_SUPERSLAB = 0, HKT_REGION_POOL_PAGE = 1, HKT_REGION_LARGE = 2 };

enum hkt_free_verdict {
  HKT_VERDICT_OK = 0,      /* a block of ours was freed */
  HKT_VERDICT_FOREIGN = 1, /* not ours: passed to the next allocator's free */
  HKT_VERDICT_INVALID = 2, /* ours but not a live block start: double free or interior pointer */
  HKT_VERDICT_NULL = 3,    /* free(NULL) */
};

static inline uint8_t hkt_check(uint8_t op, uint16_t c, uint32_t a, uint64_t b) {
  uint64_t x = b ^ ((uint64_t)a << 16) ^ (uint64_t)c ^ ((uint64_t)op << 40);
  x ^= x >> 32;
  x ^= x >> 16;
  x ^= x >> 8;
  return (uint8_t)x;
}

#endif
