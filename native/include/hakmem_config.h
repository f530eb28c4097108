/* hakmem_config.h: the single source of truth for every policy constant.
 *
 * Each field is listed once, in HAKMEM_CONFIG_FIELDS. The list generates the
 * struct, the defaults, the HAKMEM_* environment overrides, and the name/value
 * table the recorder writes into every trace header. The TypeScript twin
 * (src/model/config.ts) reads the values from that header by name; it never
 * keeps a second copy of these numbers (test/config-defaults.test.ts checks
 * that its fallback defaults equal `hakmem-replay --print-config`).
 *
 * Units are in the names: _bytes, _blocks, _ticks, _count.
 */
#ifndef HAKMEM_CONFIG_H
#define HAKMEM_CONFIG_H

#include <stdint.h>

/* X(name, ENV, default, why) */
#define HAKMEM_CONFIG_FIELDS(X)                                                                  \
  X(superslab_size_bytes, "HAKMEM_SUPERSLAB_SIZE", 1048576,                                     \
    "size and alignment of a SuperSlab; 1 MiB keeps the slab bitmap in one word")               \
  X(slab_size_bytes, "HAKMEM_SLAB_SIZE", 65536,                                                 \
    "a slab serves one class at a time; 64 KiB holds 4096 blocks of the smallest class")       \
  X(tiny_max_bytes, "HAKMEM_TINY_MAX", 1024, "largest size served by the tiny path")            \
  X(tiny_class_count, "HAKMEM_TINY_CLASS_COUNT", 20, "number of entries of tiny_class_size")    \
  X(tls_cap_blocks, "HAKMEM_TLS_CAP", 64, "a TLS list spills when it would hold more")          \
  X(tls_refill_blocks, "HAKMEM_TLS_REFILL", 32, "blocks moved from slabs to a TLS list at once") \
  X(tls_spill_blocks, "HAKMEM_TLS_SPILL", 32, "blocks moved from a TLS list to slabs at once")  \
  X(lru_max_count, "HAKMEM_LRU_MAX_COUNT", 8, "most empty SuperSlabs kept mapped")              \
  X(lru_max_bytes, "HAKMEM_LRU_MAX_BYTES", 16777216, "most bytes of empty SuperSlabs kept")     \
  X(lru_ttl_ticks, "HAKMEM_LRU_TTL_TICKS", 4096,                                                \
    "an LRU entry older than this many virtual-clock ticks is evicted")                        \
  X(pool_page_size_bytes, "HAKMEM_POOL_PAGE_SIZE", 65536, "size and alignment of a pool page")  \
  X(pool_max_bytes, "HAKMEM_POOL_MAX", 53248, "largest size served by Pool TLS (52 KiB)")       \
  X(pool_class_count, "HAKMEM_POOL_CLASS_COUNT", 12, "number of entries of pool_class_size")    \
  X(pool_free_pages_max_count, "HAKMEM_POOL_FREE_PAGES_MAX", 256,                                \
    "empty pool pages kept for reuse (16 MiB, the LRU's byte budget); beyond, unmapped")                  \
  X(pool_map_chunk_bytes, "HAKMEM_POOL_MAP_CHUNK", 1048576,                                    \
    "pool page slots are made read-write this many bytes at a time (one mmap for up to 16 pages); mapping only, no decision") \
  X(large_page_bytes, "HAKMEM_LARGE_PAGE", 4096, "large mappings are rounded up to this")       \
  X(heap_reserve_bytes, "HAKMEM_HEAP_RESERVE", 274877906944ULL,                                  \
    "address space reserved at start (PROT_NONE, no memory): a quarter SuperSlabs, a quarter pool pages, half large mappings") \
  X(min_align_bytes, "HAKMEM_MIN_ALIGN", 16, "alignment of every block malloc returns")        \
  X(superslab_max_count, "HAKMEM_SUPERSLAB_MAX", 0,                                             \
    "most SuperSlabs mapped at once (the LRU's included); 0: no bound but the reservation")     \
  X(large_cache_max_count, "HAKMEM_LARGE_CACHE_MAX_COUNT", 16,                                  \
    "freed large mappings kept mapped for a later malloc of the same mapping size; 0: none (at most 64)") \
  X(large_cache_max_bytes, "HAKMEM_LARGE_CACHE_MAX_BYTES", 16777216,                            \
    "most bytes of freed large mappings kept (the same budget as the LRU's); a larger mapping is unmapped at once")

/* Tiny and pool class tables. Overridable as a comma-separated list
 * (HAKMEM_TINY_CLASSES=16,32,...). Every entry is a multiple of min_align_bytes,
 * strictly increasing; the last tiny entry equals tiny_max_bytes and the last
 * pool entry equals pool_max_bytes. */
#define HAKMEM_TINY_CLASS_MAX 32
#define HAKMEM_POOL_CLASS_MAX 32
#define HAKMEM_TINY_CLASS_DEFAULTS                                                              \
  {16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024}
#define HAKMEM_POOL_CLASS_DEFAULTS                                                              \
  {2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 40960, 49152, 53248}

typedef struct hakmem_config {
#define HAKMEM_CONFIG_STRUCT_FIELD(name, env, def, why) uint64_t name;
  HAKMEM_CONFIG_FIELDS(HAKMEM_CONFIG_STRUCT_FIELD)
#undef HAKMEM_CONFIG_STRUCT_FIELD
  uint64_t tiny_class_size[HAKMEM_TINY_CLASS_MAX];
  uint64_t pool_class_size[HAKMEM_POOL_CLASS_MAX];
} hakmem_config_t;

/* One name/value pair of the trace header's config table. */
typedef struct hakmem_config_entry {
  char name[32];
  uint64_t value;
} hakmem_config_entry_t;

#endif
