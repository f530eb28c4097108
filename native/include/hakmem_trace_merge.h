/* hakmem_trace_merge.h: the version-2 merge rule (docs/trace-format.md,
 * "Version 2"), shared by the recorder (trace.c, which merges a fast-mode
 * trace into version 1 when it closes) and the C reader (tools/hkt_reader.h,
 * which normalises a version-2 file left by a crash). src/sim/trace/chunks.ts
 * is the TypeScript twin; both must produce the same sequence.
 *
 * The chunk area starts at slot P (ordered_slots rounded up to 64) and is cut
 * into chunks of 64 slots; chunk k is slots [P + 64k, P + 64k + 64). A chunk
 * belongs to one thread: its first slot is a CHUNK record (c = thread index,
 * a = the number of the thread's next chunk, 0 while there is none, b = clock
 * base). Then events, whose main slot's c is the clock minus the base (16
 * bits), and CLOCK records (b = a new base). A thread's events are its chunks
 * in link order; the first chunk of a thread is the lowest-numbered chunk
 * whose header names it. A chunk's events end at its first op-0 slot (or its
 * end); an op-0 slot directly followed by extension slots is an event that
 * was being written when the process died (a hole).
 *
 * Merge: repeatedly take the thread whose next event has the smallest
 * (clock, thread index). Each thread's own order is kept whatever its clocks.
 *
 * No allocation: the caller provides the cursor and heap arrays. Pure
 * functions of the bytes; no stdio. */
#ifndef HAKMEM_TRACE_MERGE_H
#define HAKMEM_TRACE_MERGE_H

#include <stdint.h>
#include <string.h>

#include "hakmem_trace_format.h"

typedef struct hkt_mcur {
  uint64_t chunk;  /* slot of the current chunk's header */
  uint64_t slot;   /* next slot to look at */
  uint64_t base;   /* clock base */
  uint64_t key;    /* clock of the head event */
  uint32_t number; /* chunk number of the current chunk */
  uint16_t tid;
} hkt_mcur_t;

typedef struct hkt_merge {
  const uint8_t *body; /* slot 0 (the byte after the header) */
  uint64_t n_slots;    /* slots that may be read */
  uint64_t chunk_base; /* P */
  hkt_mcur_t *cur;     /* cap entries */
  uint32_t *heap;      /* cap entries: a min-heap of cursor indices on (key, tid) */
  uint32_t cap, n_cur, n_heap;
  int trusted;         /* skip check-byte verification (the recorder merging its own slots) */
  uint64_t holes;      /* events lost mid-write (op-0 main slot after written extensions) */
  uint64_t chunks;     /* chunk headers found */
  const char *err;     /* set on a format error, with err_slot */
  uint64_t err_slot;
  uint64_t seen[65536 / 64]; /* thread indices that have a cursor */
} hkt_merge_t;

static inline uint64_t hkt_m_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t hkt_m_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t hkt_m_rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* The slot where chunks start for a header's ordered_slots field. */
static inline uint64_t hkt_chunk_base(uint64_t ordered) {
  return (ordered + HKT_CHUNK_SLOTS - 1) / HKT_CHUNK_SLOTS * HKT_CHUNK_SLOTS;
}

static inline int hkt_m_fail(hkt_merge_t *m, uint64_t slot, const char *what) {
  m->err = what;
  m->err_slot = slot;
  return -1;
}

/* Whether slot s is intact (check byte). */
static inline int hkt_m_ok(const uint8_t *p) {
  return p[1] == hkt_check(p[0], hkt_m_rd16(p + 2), hkt_m_rd32(p + 4), hkt_m_rd64(p + 8));
}

static inline int hkt_m_less(const hkt_merge_t *m, uint32_t i, uint32_t j) {
  const hkt_mcur_t *a = &m->cur[i], *b = &m->cur[j];
  return a->key < b->key || (a->key == b->key && a->tid < b->tid);
}

static inline void hkt_m_sift_down(hkt_merge_t *m, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, s = i;
    if (l < m->n_heap && hkt_m_less(m, m->heap[l], m->heap[s])) s = l;
    if (r < m->n_heap && hkt_m_less(m, m->heap[r], m->heap[s])) s = r;
    if (s == i) return;
    uint32_t t = m->heap[i];
    m->heap[i] = m->heap[s];
    m->heap[s] = t;
    i = s;
  }
}

static inline void hkt_m_sift_up(hkt_merge_t *m, uint32_t i) {
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (!hkt_m_less(m, m->heap[i], m->heap[p])) return;
    uint32_t t = m->heap[i];
    m->heap[i] = m->heap[p];
    m->heap[p] = t;
    i = p;
  }
}

/* Move a cursor to its thread's next event from c->slot on. 1: an event is
 * at c->slot (c->key set); 0: the thread has no more; -1: format error.
 * Bounded: every turn advances the slot or moves to a higher chunk. */
static inline int hkt_m_settle(hkt_merge_t *m, hkt_mcur_t *c) {
  for (;;) {
    uint64_t end = c->chunk + HKT_CHUNK_SLOTS;
    if (c->slot < end && c->slot < m->n_slots) {
      const uint8_t *p = m->body + c->slot * HKT_SLOT_BYTES;
      uint8_t op = p[0];
      if (op != 0) {
        if (!m->trusted && !hkt_m_ok(p))
          return hkt_m_fail(m, c->slot, "check byte mismatch (corrupt slot)");
        if (op == HKT_OP_CLOCK) {
          c->base = hkt_m_rd64(p + 8);
          c->slot++;
          continue;
        }
        if (op == HKT_OP_EXT) return hkt_m_fail(m, c->slot, "extension slot where an event was due");
        if ((op & HKT_OP_MASK) == HKT_OP_CHUNK)
          return hkt_m_fail(m, c->slot, "chunk header inside a chunk");
        unsigned n = op >> HKT_EXT_SHIFT;
        if (c->slot + n >= end) return hkt_m_fail(m, c->slot, "event runs past the end of its chunk");
        c->key = c->base + hkt_m_rd16(p + 2);
        return 1;
      }
      /* op 0: the chunk's events end here. Extension slots right after it
       * belong to an event the process died writing. */
      if (c->slot + 1 < end && c->slot + 1 < m->n_slots &&
          m->body[(c->slot + 1) * HKT_SLOT_BYTES] == HKT_OP_EXT)
        m->holes++;
    }
    /* follow the link to the thread's next chunk */
    const uint8_t *h = m->body + c->chunk * HKT_SLOT_BYTES;
    uint32_t next = hkt_m_rd32(h + 4);
    if (next == 0) return 0;
    if (next <= c->number) return hkt_m_fail(m, c->chunk, "chunk link goes backwards");
    uint64_t s = m->chunk_base + (uint64_t)next * HKT_CHUNK_SLOTS;
    if (s >= m->n_slots) return hkt_m_fail(m, c->chunk, "chunk link past the end of the file");
    const uint8_t *q = m->body + s * HKT_SLOT_BYTES;
    if (q[0] != HKT_OP_CHUNK || !hkt_m_ok(q) || hkt_m_rd16(q + 2) != c->tid)
      return hkt_m_fail(m, s, "linked chunk has no header of its thread");
    c->chunk = s;
    c->number = next;
    c->slot = s + 1;
    c->base = hkt_m_rd64(q + 8);
  }
}

/* Start: find every thread's first chunk and its first event. body/n_slots
 * /chunk_base and cur/heap/cap must be set; returns 0, or -1 (m->err). */
static inline int hkt_merge_begin(hkt_merge_t *m) {
  m->n_cur = m->n_heap = 0;
  m->holes = m->chunks = 0;
  m->err = 0;
  memset(m->seen, 0, sizeof m->seen);
  for (uint64_t s = m->chunk_base; s < m->n_slots; s += HKT_CHUNK_SLOTS) {
    const uint8_t *p = m->body + s * HKT_SLOT_BYTES;
    if (p[0] == 0) continue; /* claimed, never written (or never claimed) */
    if (p[0] != HKT_OP_CHUNK || !hkt_m_ok(p)) return hkt_m_fail(m, s, "expected a chunk header");
    m->chunks++;
    uint16_t tid = hkt_m_rd16(p + 2);
    if (m->seen[tid / 64] >> (tid % 64) & 1) continue;
    if (m->n_cur == m->cap) return hkt_m_fail(m, s, "more threads than the reader has room for");
    m->seen[tid / 64] |= 1ull << (tid % 64);
    hkt_mcur_t *c = &m->cur[m->n_cur];
    c->chunk = s;
    c->number = (uint32_t)((s - m->chunk_base) / HKT_CHUNK_SLOTS);
    c->slot = s + 1;
    c->base = hkt_m_rd64(p + 8);
    c->tid = tid;
    int r = hkt_m_settle(m, c);
    if (r < 0) return -1;
    if (r > 0) {
      m->heap[m->n_heap] = m->n_cur;
      hkt_m_sift_up(m, m->n_heap++);
    }
    m->n_cur++;
  }
  return 0;
}

/* The next event in merged order: 1 with *slot (its main slot) and *tid set,
 * 0 at the end, -1 on a format error. */
static inline int hkt_merge_next(hkt_merge_t *m, uint64_t *slot, uint16_t *tid) {
  if (m->err) return -1;
  if (m->n_heap == 0) return 0;
  hkt_mcur_t *c = &m->cur[m->heap[0]];
  *slot = c->slot;
  *tid = c->tid;
  c->slot += 1 + (m->body[c->slot * HKT_SLOT_BYTES] >> HKT_EXT_SHIFT);
  int r = hkt_m_settle(m, c);
  if (r < 0) return -1;
  if (r == 0) m->heap[0] = m->heap[--m->n_heap];
  if (m->n_heap) hkt_m_sift_down(m, 0);
  return 1;
}

#endif
