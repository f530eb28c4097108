/* config.c: the configuration in force.
 *
 * Defaults come from HAKMEM_CONFIG_FIELDS (hakmem_config.h), each overridable by its HAKMEM_*
 * variable; the class tables by HAKMEM_TINY_CLASSES / HAKMEM_POOL_CLASSES (comma lists).
 * Parsing uses getenv and hand-written number parsing only: it runs inside the first malloc.
 * An override that fails validation is reported on stderr and the whole configuration falls
 * back to the defaults (a half-applied configuration would be worse than none). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "hk_internal.h"

static const uint64_t k_tiny_defaults[] = HAKMEM_TINY_CLASS_DEFAULTS;
static const uint64_t k_pool_defaults[] = HAKMEM_POOL_CLASS_DEFAULTS;

/* decimal or 0x hex, optional k/m/g suffix (binary). Returns 0 on a malformed value. */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  int base = 10, digits = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s += 2; }
  for (; *s; s++) {
    unsigned d;
    char ch = *s;
    if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
    else if (base == 16 && ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
    else if (base == 16 && ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
    else break;
    if (v > (UINT64_MAX - d) / (uint64_t)base) return 0;
    v = v * (uint64_t)base + d;
    digits++;
  }
  if (!digits) return 0;
  unsigned shift = 0;
  if (*s == 'k' || *s == 'K') { shift = 10; s++; }
  else if (*s == 'm' || *s == 'M') { shift = 20; s++; }
  else if (*s == 'g' || *s == 'G') { shift = 30; s++; }
  if (*s) return 0;
  if (shift && v > (UINT64_MAX >> shift)) return 0;
  *out = v << shift;
  return 1;
}

/* "16,32,48" -> table; returns count, or -1 if malformed */
static int parse_list(const char *s, uint64_t *tab, int max) {
  int n = 0;
  char buf[32];
  while (*s) {
    int k = 0;
    while (*s && *s != ',') {
      if (k >= (int)sizeof buf - 1) return -1;
      buf[k++] = *s++;
    }
    buf[k] = 0;
    if (*s == ',') s++;
    if (n >= max) return -1;
    if (!parse_u64(buf, &tab[n])) return -1;
    n++;
  }
  return n;
}

static int is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static void say(const char *a, const char *b) {
  char line[256];
  int n = snprintf(line, sizeof line, "hakmem: config: %s%s\n", a, b ? b : "");
  if (n > 0) hk_write_err(line);
}

static int validate(const hakmem_config_t *c) {
#define REQ(cond, msg) do { if (!(cond)) { say(msg, 0); return 0; } } while (0)
  REQ(is_pow2(c->min_align_bytes) && c->min_align_bytes >= 16 && c->min_align_bytes <= 4096,
      "min_align_bytes must be a power of two in [16, 4096]");
  REQ(is_pow2(c->superslab_size_bytes) && c->superslab_size_bytes >= 65536,
      "superslab_size_bytes must be a power of two >= 64 KiB");
  REQ(is_pow2(c->slab_size_bytes) && c->slab_size_bytes >= 1024 &&
          c->slab_size_bytes <= c->superslab_size_bytes,
      "slab_size_bytes must be a power of two in [1 KiB, superslab_size_bytes]");
  REQ(c->superslab_size_bytes / c->slab_size_bytes <= HK_MAX_SLABS, "at most 64 slabs per SuperSlab");
  REQ(c->tiny_class_count >= 1 && c->tiny_class_count <= HAKMEM_TINY_CLASS_MAX,
      "tiny_class_count out of range");
  REQ(c->pool_class_count >= 1 && c->pool_class_count <= HAKMEM_POOL_CLASS_MAX,
      "pool_class_count out of range");
  for (uint64_t i = 0; i < c->tiny_class_count; i++) {
    REQ(c->tiny_class_size[i] % c->min_align_bytes == 0 && c->tiny_class_size[i] > 0,
        "tiny classes must be multiples of min_align_bytes");
    REQ(i == 0 || c->tiny_class_size[i] > c->tiny_class_size[i - 1], "tiny classes must increase");
  }
  REQ(c->tiny_class_size[c->tiny_class_count - 1] == c->tiny_max_bytes,
      "the last tiny class must equal tiny_max_bytes");
  REQ(c->tiny_max_bytes <= c->slab_size_bytes, "tiny_max_bytes must fit a slab");
  REQ(c->tiny_max_bytes / c->min_align_bytes <= 65536, "tiny_max_bytes too large");
  for (uint64_t i = 0; i < c->pool_class_count; i++) {
    REQ(c->pool_class_size[i] % c->min_align_bytes == 0, "pool classes must be multiples of min_align_bytes");
    REQ(i == 0 ? c->pool_class_size[0] > c->tiny_max_bytes
               : c->pool_class_size[i] > c->pool_class_size[i - 1],
        "pool classes must increase and start above tiny_max_bytes");
  }
  REQ(c->pool_class_size[c->pool_class_count - 1] == c->pool_max_bytes,
      "the last pool class must equal pool_max_bytes");
  REQ(is_pow2(c->pool_page_size_bytes) && c->pool_page_size_bytes >= 65536,
      "pool_page_size_bytes must be a power of two >= 64 KiB");
  REQ(c->pool_max_bytes <= c->pool_page_size_bytes, "pool_max_bytes must fit a pool page");
  REQ(is_pow2(c->pool_map_chunk_bytes) && c->pool_map_chunk_bytes >= c->pool_page_size_bytes &&
          c->pool_map_chunk_bytes <= (64ull << 20),
      "pool_map_chunk_bytes must be a power of two in [pool_page_size_bytes, 64 MiB]");
  REQ(c->pool_max_bytes / c->min_align_bytes <= 1u << 20, "pool_max_bytes too large");
  REQ(c->tls_cap_blocks >= 1 && c->tls_refill_blocks >= 1 && c->tls_spill_blocks >= 1,
      "TLS cap/refill/spill must be >= 1");
  REQ(c->tls_cap_blocks <= (1u << 24) && c->tls_refill_blocks <= (1u << 24) &&
          c->tls_spill_blocks <= (1u << 24), "TLS cap/refill/spill too large");
  REQ(is_pow2(c->large_page_bytes) && c->large_page_bytes >= 4096 && c->large_page_bytes <= 65536,
      "large_page_bytes must be a power of two in [4 KiB, 64 KiB]");
  REQ(c->large_cache_max_count <= HK_LARGE_CACHE_MAX, "large_cache_max_count must be at most 64");
  uint64_t q = c->superslab_size_bytes > c->pool_page_size_bytes ? c->superslab_size_bytes
                                                                  : c->pool_page_size_bytes;
  REQ(c->heap_reserve_bytes % (4 * q) == 0 && c->heap_reserve_bytes >= 16 * q &&
          c->heap_reserve_bytes <= (1ull << 46),
      "heap_reserve_bytes must be a multiple of 4 x max(SuperSlab, pool page), at most 64 TiB");
  return 1;
#undef REQ
}

static void set_defaults(hakmem_config_t *c) {
  memset(c, 0, sizeof *c);
#define HK_DEF(name, env, def, why) c->name = (uint64_t)(def);
  HAKMEM_CONFIG_FIELDS(HK_DEF)
#undef HK_DEF
  for (unsigned i = 0; i < sizeof k_tiny_defaults / sizeof k_tiny_defaults[0]; i++)
    c->tiny_class_size[i] = k_tiny_defaults[i];
  for (unsigned i = 0; i < sizeof k_pool_defaults / sizeof k_pool_defaults[0]; i++)
    c->pool_class_size[i] = k_pool_defaults[i];
}

/* Without an explicit list, a changed *_max or *_count derives the table from the defaults:
 * the default entries below the max, then the max itself. */
static void derive_table(uint64_t *tab, uint64_t *count, uint64_t max, const uint64_t *defs,
                         unsigned ndefs, unsigned cap, uint64_t floor_excl) {
  unsigned n = 0;
  for (unsigned i = 0; i < ndefs && n < cap - 1; i++)
    if (defs[i] > floor_excl && defs[i] < max) tab[n++] = defs[i];
  tab[n++] = max;
  for (unsigned i = n; i < cap; i++) tab[i] = 0;
  *count = n;
}

void hk_config_load(hakmem_config_t *cfg) {
  hakmem_config_t c;
  set_defaults(&c);
  int ok = 1;
  const char *v;
  int tiny_count_set = 0, pool_count_set = 0, tiny_max_set = 0, pool_max_set = 0;
#define HK_ENV(name, env, def, why)                                                  \
  if ((v = getenv(env)) != NULL && *v) {                                             \
    if (!parse_u64(v, &c.name)) { say("malformed value of ", env); ok = 0; }        \
    if (&c.name == &c.tiny_class_count) tiny_count_set = 1;                          \
    if (&c.name == &c.pool_class_count) pool_count_set = 1;                          \
    if (&c.name == &c.tiny_max_bytes) tiny_max_set = 1;                              \
    if (&c.name == &c.pool_max_bytes) pool_max_set = 1;                              \
  }
  HAKMEM_CONFIG_FIELDS(HK_ENV)
#undef HK_ENV
  if ((v = getenv("HAKMEM_TINY_CLASSES")) != NULL && *v) {
    int n = parse_list(v, c.tiny_class_size, HAKMEM_TINY_CLASS_MAX);
    if (n <= 0) { say("malformed HAKMEM_TINY_CLASSES", 0); ok = 0; }
    else {
      if (tiny_count_set && c.tiny_class_count != (uint64_t)n) {
        say("HAKMEM_TINY_CLASS_COUNT disagrees with HAKMEM_TINY_CLASSES", 0); ok = 0;
      }
      c.tiny_class_count = (uint64_t)n;
      if (!tiny_max_set) c.tiny_max_bytes = c.tiny_class_size[n - 1];
    }
  } else if (tiny_max_set) {
    derive_table(c.tiny_class_size, &c.tiny_class_count, c.tiny_max_bytes, k_tiny_defaults,
                 sizeof k_tiny_defaults / sizeof k_tiny_defaults[0], HAKMEM_TINY_CLASS_MAX, 0);
  }
  if ((v = getenv("HAKMEM_POOL_CLASSES")) != NULL && *v) {
    int n = parse_list(v, c.pool_class_size, HAKMEM_POOL_CLASS_MAX);
    if (n <= 0) { say("malformed HAKMEM_POOL_CLASSES", 0); ok = 0; }
    else {
      if (pool_count_set && c.pool_class_count != (uint64_t)n) {
        say("HAKMEM_POOL_CLASS_COUNT disagrees with HAKMEM_POOL_CLASSES", 0); ok = 0;
      }
      c.pool_class_count = (uint64_t)n;
      if (!pool_max_set) c.pool_max_bytes = c.pool_class_size[n - 1];
    }
  } else if (pool_max_set || tiny_max_set) {
    derive_table(c.pool_class_size, &c.pool_class_count, c.pool_max_bytes, k_pool_defaults,
                 sizeof k_pool_defaults / sizeof k_pool_defaults[0], HAKMEM_POOL_CLASS_MAX,
                 c.tiny_max_bytes);
  }
  if (ok && !validate(&c)) ok = 0;
  if (!ok) {
    say("invalid HAKMEM_* configuration; using the defaults", 0);
    set_defaults(&c);
  }
  *cfg = c;
}

const hakmem_config_t *hakmem_config(void) __attribute__((visibility("default")));
const hakmem_config_t *hakmem_config(void) {
  hk_ensure_init();
  return &g_hk.cfg;
}

unsigned hakmem_config_entries(hakmem_config_entry_t *out, unsigned max)
    __attribute__((visibility("default")));
unsigned hakmem_config_entries(hakmem_config_entry_t *out, unsigned max) {
  hk_ensure_init();
  const hakmem_config_t *c = &g_hk.cfg;
  unsigned n = 0;
#define HK_ENTRY(fld, env, def, why)                                   \
  if (n < max) {                                                       \
    memset(out[n].name, 0, sizeof out[n].name);                        \
    memcpy(out[n].name, #fld, sizeof(#fld) < 32 ? sizeof(#fld) : 31);  \
    out[n].value = c->fld;                                             \
  }                                                                    \
  n++;
  HAKMEM_CONFIG_FIELDS(HK_ENTRY)
#undef HK_ENTRY
  for (uint64_t i = 0; i < c->tiny_class_count; i++, n++) {
    if (n < max) {
      memset(out[n].name, 0, sizeof out[n].name);
      snprintf(out[n].name, sizeof out[n].name, "tiny_class_size_%u", (unsigned)i);
      out[n].value = c->tiny_class_size[i];
    }
  }
  for (uint64_t i = 0; i < c->pool_class_count; i++, n++) {
    if (n < max) {
      memset(out[n].name, 0, sizeof out[n].name);
      snprintf(out[n].name, sizeof out[n].name, "pool_class_size_%u", (unsigned)i);
      out[n].value = c->pool_class_size[i];
    }
  }
  return n < max ? n : max;
}
