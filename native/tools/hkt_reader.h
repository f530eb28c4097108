/* hkt_reader.h: a small streaming reader and validator of .hkt traces
 * (docs/trace-format.md), shared by hakmem-replay and the C tests.
 * Header-only, no malloc: the file is mapped read-only and walked once;
 * memory use is the page cache, not the heap.
 *
 * Usage:
 *   hkt_file_t f; char err[512];
 *   if (hkt_open(&f, path, err, sizeof err)) { fputs(err); exit(2); }
 *   hkt_event_t ev; int r;
 *   while ((r = hkt_next(&f, &ev, err, sizeof err)) > 0) ...;   r < 0: err set
 *   hkt_close(&f);
 * Every error message is one line: "FILE: byte OFFSET[: event N]: what".
 *
 * Version 2 (a fast-mode trace left by a crash: docs/trace-format.md) is
 * normalised to the sequence the recorder's merge at close would have
 * written: the ordered prefix, then the per-thread chunks merged by
 * hakmem_trace_merge.h. It always reads as recovered. The merge's cursors
 * live in an anonymous mapping (no malloc: hakmem-replay must not disturb the
 * allocator it replays into).
 */
#ifndef HKT_READER_H
#define HKT_READER_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hakmem_trace_format.h"
#include "hakmem_trace_merge.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"

typedef struct hkt_file {
  const char *path;
  const uint8_t *map;
  uint64_t size;        /* file bytes */
  /* header */
  uint32_t version, flags, config_count;
  uint64_t pid, parent_pid, start_time_ns, end_time_ns, slot_count, event_count;
  uint64_t heap_base, heap_bytes;
  char comm[65];
  /* the slots to read: [0, n_slots) */
  uint64_t n_slots;
  int complete;         /* COMPLETE flag set */
  int recovered;        /* COMPLETE clear: read up to the last non-zero slot */
  /* cursor */
  uint64_t next_slot;
  uint64_t next_event;
  uint64_t holes;       /* op-0 slots skipped (recovered traces) */
  /* version 2 */
  int chunked;          /* a chunk area follows the ordered prefix */
  uint64_t prefix_slots;/* ordered prefix: [0, this) up to its last non-zero slot */
  uint64_t chunk_base;
  int in_chunks;        /* the prefix is done: events come from the merge */
  hkt_merge_t *merge;   /* anonymous mapping: the merge state, cursors and heap */
  size_t merge_bytes;
} hkt_file_t;

typedef struct hkt_event {
  uint64_t number;      /* event number */
  uint64_t slot;        /* index of the main slot */
  uint8_t op;           /* low 6 bits */
  uint8_t n_ext;
  uint16_t thread;      /* c */
  uint32_t a;
  uint64_t b;
  uint32_t ext_a[3];
  uint64_t ext_b[3];
} hkt_event_t;

static inline uint16_t hkt_rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t hkt_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t hkt_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static inline uint32_t hkt_crc32(const uint8_t *p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static inline const char *hkt_op_name(unsigned op) {
  switch (op) {
    case HKT_MALLOC: return "malloc";
    case HKT_FREE: return "free";
    case HKT_CALLOC: return "calloc";
    case HKT_REALLOC: return "realloc";
    case HKT_POSIX_MEMALIGN: return "posix_memalign";
    case HKT_ALIGNED_ALLOC: return "aligned_alloc";
    case HKT_MEMALIGN: return "memalign";
    case HKT_VALLOC: return "valloc";
    case HKT_PVALLOC: return "pvalloc";
    case HKT_USABLE_SIZE: return "usable_size";
    case HKT_THREAD_START: return "thread_start";
    case HKT_THREAD_EXIT: return "thread_exit";
    case HKT_FORK: return "fork";
    case HKT_EXEC: return "exec";
    case HKT_REGION_MAP: return "region_map";
    case HKT_REGION_UNMAP: return "region_unmap";
    case HKT_REGION_REUSE: return "region_reuse";
    case HKT_REGION_REMAP: return "region_remap";
    case HKT_REFILL: return "refill";
    case HKT_SPILL: return "spill";
    case HKT_DRAIN: return "drain";
    case HKT_SLAB_EMPTY: return "slab_empty";
    case HKT_LRU_PUSH: return "lru_push";
    case HKT_LRU_POP: return "lru_pop";
    case HKT_LRU_EVICT: return "lru_evict";
    default: return 0;
  }
}

/* Whether n extension slots is right for an event of this op and a. */
static inline int hkt_ext_ok(unsigned op, uint32_t a, unsigned n) {
  switch (op) {
    case HKT_MALLOC: return n == (a == 0xFFFFFFFFu ? 1u : 0u);
    case HKT_CALLOC: return n == (a == 0xFFFFFFFFu ? 2u : 0u);
    /* realloc and the aligned family: ext1, plus ext2.b = size when a = 0xFFFFFFFF */
    case HKT_REALLOC: case HKT_POSIX_MEMALIGN: case HKT_ALIGNED_ALLOC: case HKT_MEMALIGN:
    case HKT_VALLOC: case HKT_PVALLOC:
      return n == (a == 0xFFFFFFFFu ? 2u : 1u);
    case HKT_USABLE_SIZE: case HKT_REGION_MAP: case HKT_REGION_REMAP:
      return n == 1;
    default: return n == 0;
  }
}

static inline void hkt_err(char *err, size_t cap, const hkt_file_t *f, uint64_t off,
                           int64_t event, const char *what) {
  if (event >= 0)
    snprintf(err, cap, "%s: byte %llu: event %lld: %s", f->path, (unsigned long long)off,
             (long long)event, what);
  else
    snprintf(err, cap, "%s: byte %llu: %s", f->path, (unsigned long long)off, what);
}

/* Look up a config value by name; returns 0 if present. */
static inline int hkt_config(const hkt_file_t *f, const char *name, uint64_t *value) {
  for (uint32_t i = 0; i < f->config_count; i++) {
    const uint8_t *e = f->map + HKT_CONFIG_OFFSET + i * HKT_CONFIG_ENTRY_BYTES;
    if (strncmp((const char *)e, name, 32) == 0) {
      *value = hkt_rd64(e + 32);
      return 0;
    }
  }
  return -1;
}

static inline void hkt_close(hkt_file_t *f) {
  if (f->map && f->size) munmap((void *)f->map, f->size);
  f->map = 0;
  if (f->merge) munmap(f->merge, f->merge_bytes);
  f->merge = 0;
}

/* The last non-zero slot below `end`, plus one. */
static inline uint64_t hkt_last_used(const hkt_file_t *f, uint64_t end) {
  while (end > 0) {
    const uint8_t *s = f->map + HKT_HEADER_BYTES + (end - 1) * HKT_SLOT_BYTES;
    if (hkt_rd64(s) | hkt_rd64(s + 8)) break;
    end--;
  }
  return end;
}

/* Open and validate the header; find the slots to read. */
static inline int hkt_open(hkt_file_t *f, const char *path, char *err, size_t cap) {
  memset(f, 0, sizeof *f);
  f->path = path;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    hkt_err(err, cap, f, 0, -1, fd < 0 ? strerror(errno) : "not a file");
    return -1;
  }
  f->size = (uint64_t)st.st_size;
  if (f->size < HKT_HEADER_BYTES) {
    close(fd);
    hkt_err(err, cap, f, f->size, -1, "shorter than the header (4096 bytes)");
    return -1;
  }
  void *m = mmap(0, f->size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    hkt_err(err, cap, f, 0, -1, "cannot map the file");
    return -1;
  }
  f->map = (const uint8_t *)m;
  madvise(m, f->size, MADV_SEQUENTIAL);
  const uint8_t *h = f->map;
  char msg[160];
  if (memcmp(h, HKT_MAGIC, 8) != 0) {
    hkt_err(err, cap, f, 0, -1, "wrong magic (not a hakmem trace)");
    goto fail;
  }
  f->version = hkt_rd32(h + 8);
  if (f->version != HKT_VERSION && f->version != HKT_VERSION_CHUNKED) {
    snprintf(msg, sizeof msg, "unknown version %u (this reader knows %u and %u)", f->version,
             HKT_VERSION, HKT_VERSION_CHUNKED);
    hkt_err(err, cap, f, 8, -1, msg);
    goto fail;
  }
  if (hkt_rd32(h + 12) != HKT_HEADER_BYTES || hkt_rd32(h + 16) != HKT_SLOT_BYTES) {
    hkt_err(err, cap, f, 12, -1, "header_bytes/slot_bytes are not 4096/16");
    goto fail;
  }
  {
    uint8_t tmp[HKT_HEADER_BYTES];
    memcpy(tmp, h, sizeof tmp);
    memset(tmp + 20, 0, 4);
    memset(tmp + 48, 0, 24);
    memset(tmp + 76, 0, 4);
    uint32_t want = hkt_rd32(h + 76), got = hkt_crc32(tmp, sizeof tmp);
    if (want != got) {
      snprintf(msg, sizeof msg, "header CRC mismatch (stored %08x, computed %08x)", want, got);
      hkt_err(err, cap, f, 76, -1, msg);
      goto fail;
    }
  }
  f->flags = hkt_rd32(h + 20);
  f->pid = hkt_rd64(h + 24);
  f->parent_pid = hkt_rd64(h + 32);
  f->start_time_ns = hkt_rd64(h + 40);
  f->end_time_ns = hkt_rd64(h + 48);
  f->slot_count = hkt_rd64(h + 56);
  f->event_count = hkt_rd64(h + 64);
  f->config_count = hkt_rd32(h + 72);
  memcpy(f->comm, h + 80, 64);
  f->comm[64] = 0;
  f->heap_base = hkt_rd64(h + 144);
  f->heap_bytes = hkt_rd64(h + 152);
  if (f->config_count > HKT_CONFIG_MAX_ENTRIES) {
    hkt_err(err, cap, f, 72, -1, "config_count above 96");
    goto fail;
  }
  f->complete = (f->flags & HKT_FLAG_COMPLETE) != 0;
  if (f->version == HKT_VERSION_CHUNKED) {
    /* never closed (a closed trace is version 1): read as recovered */
    uint64_t ordered = hkt_rd64(h + HKT_ORDERED_OFFSET);
    f->complete = 0;
    f->recovered = 1;
    f->n_slots = hkt_last_used(f, (f->size - HKT_HEADER_BYTES) / HKT_SLOT_BYTES);
    if (ordered == HKT_ORDERED_ALL) {
      f->prefix_slots = f->n_slots;
    } else {
      f->chunked = 1;
      f->chunk_base = hkt_chunk_base(ordered);
      f->prefix_slots = hkt_last_used(f, ordered < f->n_slots ? ordered : f->n_slots);
      f->merge_bytes = sizeof(hkt_merge_t) + 65536 * (sizeof(hkt_mcur_t) + sizeof(uint32_t));
      void *mm = mmap(0, f->merge_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mm == MAP_FAILED) {
        hkt_err(err, cap, f, 0, -1, "cannot map memory for the merge");
        goto fail;
      }
      f->merge = (hkt_merge_t *)mm;
    }
    return 0;
  }
  {
    uint64_t body = (f->size - HKT_HEADER_BYTES) / HKT_SLOT_BYTES;
    if (f->complete) {
      if (f->size != HKT_HEADER_BYTES + f->slot_count * HKT_SLOT_BYTES) {
        snprintf(msg, sizeof msg, "file size %llu disagrees with slot_count %llu (truncated)",
                 (unsigned long long)f->size, (unsigned long long)f->slot_count);
        hkt_err(err, cap, f, f->size, -1, msg);
        goto fail;
      }
      f->n_slots = f->slot_count;
    } else {
      /* events run to the last non-zero slot */
      uint64_t n = body;
      while (n > 0) {
        const uint8_t *s = f->map + HKT_HEADER_BYTES + (n - 1) * HKT_SLOT_BYTES;
        if (hkt_rd64(s) | hkt_rd64(s + 8)) break;
        n--;
      }
      f->n_slots = n;
      f->recovered = 1;
    }
  }
  f->prefix_slots = f->n_slots;
  return 0;
fail:
  hkt_close(f);
  return -1;
}

/* Check that the config holds every entry in names[]; 0 if so. */
static inline int hkt_require_config(const hkt_file_t *f, const char *const *names, unsigned n,
                                     char *err, size_t cap) {
  for (unsigned i = 0; i < n; i++) {
    uint64_t v;
    if (hkt_config(f, names[i], &v)) {
      char msg[96];
      snprintf(msg, sizeof msg, "missing config entry %s", names[i]);
      hkt_err(err, cap, f, HKT_CONFIG_OFFSET, -1, msg);
      return -1;
    }
  }
  return 0;
}

static inline int hkt_parse_at(hkt_file_t *f, uint64_t s, uint64_t limit, int tid,
                                hkt_event_t *ev, char *err, size_t cap);

/* Version 2: start the merge of the chunk area. */
static inline int hkt_merge_start(hkt_file_t *f, char *err, size_t cap) {
  hkt_merge_t *m = f->merge;
  m->body = f->map + HKT_HEADER_BYTES;
  m->n_slots = f->n_slots;
  m->chunk_base = f->chunk_base;
  m->cur = (hkt_mcur_t *)(m + 1);
  m->heap = (uint32_t *)(m->cur + 65536);
  m->cap = 65536;
  f->in_chunks = 1;
  if (hkt_merge_begin(m) < 0) {
    hkt_err(err, cap, f, HKT_HEADER_BYTES + m->err_slot * HKT_SLOT_BYTES, (int64_t)f->next_event, m->err);
    return -1;
  }
  return 0;
}

/* Next event: 1 and *ev filled, 0 at the end, -1 on a format error. */
static inline int hkt_next(hkt_file_t *f, hkt_event_t *ev, char *err, size_t cap) {
  char msg[128];
  if (f->chunked && (f->in_chunks || f->next_slot >= f->prefix_slots)) {
    if (!f->in_chunks && hkt_merge_start(f, err, cap) < 0) return -1;
    uint64_t slot;
    uint16_t tid;
    int r = hkt_merge_next(f->merge, &slot, &tid);
    if (r < 0) {
      hkt_err(err, cap, f, HKT_HEADER_BYTES + f->merge->err_slot * HKT_SLOT_BYTES,
              (int64_t)f->next_event, f->merge->err);
      return -1;
    }
    if (r == 0) {
      f->next_slot = f->n_slots;
      f->holes += f->merge->holes;
      f->merge->holes = 0;
      return 0;
    }
    uint64_t chunk_end = f->chunk_base + (slot - f->chunk_base) / HKT_CHUNK_SLOTS * HKT_CHUNK_SLOTS +
                         HKT_CHUNK_SLOTS;
    return hkt_parse_at(f, slot, chunk_end, tid, ev, err, cap);
  }
  for (;;) {
    if (f->next_slot >= f->prefix_slots) {
      if (f->chunked) return hkt_next(f, ev, err, cap);
      if (f->complete && f->next_event != f->event_count) {
        snprintf(msg, sizeof msg, "event_count %llu in the header, %llu events in the file",
                 (unsigned long long)f->event_count, (unsigned long long)f->next_event);
        hkt_err(err, cap, f, 64, -1, msg);
        return -1;
      }
      return 0;
    }
    uint64_t s = f->next_slot;
    if (f->map[HKT_HEADER_BYTES + s * HKT_SLOT_BYTES] == 0 && f->recovered) {
      /* a slot being written when the process died: skip it, and the
       * extension slots of its event that were already written */
      f->holes++;
      f->next_slot++;
      while (f->next_slot < f->prefix_slots &&
             f->map[HKT_HEADER_BYTES + f->next_slot * HKT_SLOT_BYTES] == HKT_OP_EXT)
        f->next_slot++;
      continue;
    }
    return hkt_parse_at(f, s, f->prefix_slots, -1, ev, err, cap);
  }
}

/* Parse the event whose main slot is s (its slots end before limit); tid >= 0
 * replaces the main slot's c (a version-2 chunk event). Advances the cursor. */
static inline int hkt_parse_at(hkt_file_t *f, uint64_t s, uint64_t limit, int tid,
                               hkt_event_t *ev, char *err, size_t cap) {
  char msg[128];
  {
    uint64_t off = HKT_HEADER_BYTES + s * HKT_SLOT_BYTES;
    const uint8_t *p = f->map + off;
    uint8_t opb = p[0];
    int64_t evno = (int64_t)f->next_event;
    uint16_t c = hkt_rd16(p + 2);
    uint32_t a = hkt_rd32(p + 4);
    uint64_t b = hkt_rd64(p + 8);
    if (p[1] != hkt_check(opb, c, a, b)) {
      hkt_err(err, cap, f, off, evno, "check byte mismatch (corrupt slot)");
      return -1;
    }
    if (opb == HKT_OP_EXT) {
      hkt_err(err, cap, f, off, evno, "extension slot where a main slot was due");
      return -1;
    }
    unsigned op = opb & HKT_OP_MASK, n = opb >> HKT_EXT_SHIFT;
    if (!hkt_op_name(op)) {
      snprintf(msg, sizeof msg, "unknown op %u", op);
      hkt_err(err, cap, f, off, evno, msg);
      return -1;
    }
    if (!hkt_ext_ok(op, a, n)) {
      snprintf(msg, sizeof msg, "%s with %u extension slots", hkt_op_name(op), n);
      hkt_err(err, cap, f, off, evno, msg);
      return -1;
    }
    if (n > 0 && s + n >= limit) {
      hkt_err(err, cap, f, off, evno, "event runs past the last slot");
      return -1;
    }
    ev->number = f->next_event;
    ev->slot = s;
    ev->op = (uint8_t)op;
    ev->n_ext = (uint8_t)n;
    ev->thread = tid >= 0 ? (uint16_t)tid : c;
    ev->a = a;
    ev->b = b;
    for (unsigned i = 0; i < n; i++) {
      uint64_t eoff = off + (i + 1) * HKT_SLOT_BYTES;
      const uint8_t *e = f->map + eoff;
      uint16_t ec = hkt_rd16(e + 2);
      uint32_t ea = hkt_rd32(e + 4);
      uint64_t eb = hkt_rd64(e + 8);
      if (e[0] != HKT_OP_EXT) {
        hkt_err(err, cap, f, eoff, evno,
                e[0] == 0 ? "extension slot never completed" : "main slot where an extension slot was due");
        return -1;
      }
      if (e[1] != hkt_check(e[0], ec, ea, eb)) {
        hkt_err(err, cap, f, eoff, evno, "check byte mismatch (corrupt extension slot)");
        return -1;
      }
      ev->ext_a[i] = ea;
      ev->ext_b[i] = eb;
    }
    if (!f->in_chunks) f->next_slot = s + 1 + n;
    f->next_event++;
    return 1;
  }
}

/* Rewind to the first event. */
static inline void hkt_rewind(hkt_file_t *f) {
  f->next_slot = 0;
  f->next_event = 0;
  f->holes = 0;
  f->in_chunks = 0;
}

#pragma GCC diagnostic pop
#endif
