/* The recorder on its own: src/trace.c is compiled into this test (its
 * globals are this binary's; libhakmem's copy is hidden and stays off), so
 * it runs under `make asan` too. Threads write events with 0..2 extension
 * slots across a window boundary; the file must hold every event once, each
 * thread's in its program order, with the right counts; closing twice and
 * recording after close are harmless; the exact lock is recursive. Prints
 * the recorder's cost per event (informational). */
#include "../src/trace.c"

#include <pthread.h>
#include <stdio.h>

#include "test_trace_util.h"

#define THREADS 2
#define PER_THREAD 2200000ul /* 2 threads: > 4M slots, so window 1 is used */

static uint64_t mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *writer(void *arg) {
  uint16_t tid = (uint16_t)(uintptr_t)arg;
  for (uint64_t i = 0; i < PER_THREAD; i++) {
    uint64_t b = ((uint64_t)tid << 48) | i;
    switch (i % 8) {
      case 3: { /* realloc: one extension slot */
        uint32_t ea = 0;
        uint64_t eb = b ^ 0xABCDEF;
        trace_event(HKT_REALLOC, tid, 100, b, 1, &ea, &eb);
        break;
      }
      case 6: { /* wide calloc: two */
        uint32_t ea[2] = {0, 0};
        uint64_t eb[2] = {1ull << 20, 1ull << 20};
        trace_event(HKT_CALLOC, tid, 0xFFFFFFFFu, b, 2, ea, eb);
        break;
      }
      default:
        trace_ev0(i % 2 ? HKT_FREE : HKT_MALLOC, tid, (uint32_t)(i % 2 ? 0 : 16), b);
    }
  }
  return 0;
}

static void *exact_user(void *arg) {
  trace_exact_lock();
  trace_exact_lock(); /* recursive */
  (*(int *)arg)++;
  trace_exact_unlock();
  trace_exact_unlock();
  return 0;
}

/* The version-2 merge rule on a hand-made file: the same file and the same
 * expected sequence as test/trace/reader.test.ts ("version 2"), so the C and
 * TypeScript readers are held to one answer on ties, CLOCK records, links,
 * a thread whose clock goes back across chunks, and a hole. */
static void test_v2_synthetic(void) {
  struct { uint64_t slot; uint8_t op; uint16_t c; uint32_t a; uint64_t b; } s[] = {
      {0, HKT_THREAD_START, 0, 0, 99},  {1, HKT_MALLOC, 0, 10, 0x1000},
      {64, HKT_OP_CHUNK, 1, 2, 1000},   {65, HKT_MALLOC, 5, 11, 0x2000},
      {66, HKT_OP_CLOCK, 0, 0, 2000},   {67, HKT_FREE, 0, 0, 0x2000},
      {128, HKT_OP_CHUNK, 2, 0, 1003},  {129, HKT_MALLOC, 2, 12, 0x3000},
      {130, HKT_REALLOC | (1 << 6), 10, 13, 0x4000}, {131, HKT_OP_EXT, 0, 0, 0x3000},
      {133, HKT_OP_EXT, 0, 0, 0x5000},  {192, HKT_OP_CHUNK, 1, 0, 1500},
      {193, HKT_MALLOC, 0, 14, 0x6000},
  };
  static uint8_t file[HKT_HEADER_BYTES + 194 * HKT_SLOT_BYTES];
  memset(file, 0, sizeof file);
  memcpy(file, HKT_MAGIC, 8);
  uint32_t u = HKT_VERSION_CHUNKED;
  memcpy(file + 8, &u, 4);
  u = HKT_HEADER_BYTES;
  memcpy(file + 12, &u, 4);
  u = HKT_SLOT_BYTES;
  memcpy(file + 16, &u, 4);
  uint64_t ordered = 2;
  memcpy(file + HKT_ORDERED_OFFSET, &ordered, 8);
  u = hkt_crc32(file, HKT_HEADER_BYTES);
  memcpy(file + 76, &u, 4);
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    uint8_t *p = file + HKT_HEADER_BYTES + s[i].slot * HKT_SLOT_BYTES;
    p[0] = s[i].op;
    p[1] = hkt_check(s[i].op, s[i].c, s[i].a, s[i].b);
    memcpy(p + 2, &s[i].c, 2);
    memcpy(p + 4, &s[i].a, 4);
    memcpy(p + 8, &s[i].b, 8);
  }
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/v2.hkt", g_dir);
  FILE *fp = fopen(path, "wb");
  fwrite(file, 1, sizeof file, fp);
  fclose(fp);
  trace_data_t t;
  long n = load_trace(path, &t, err, sizeof err);
  const struct { uint16_t tid; uint8_t op; uint32_t a; } want[] = {
      {0, HKT_THREAD_START, 0}, {0, HKT_MALLOC, 10}, {1, HKT_MALLOC, 11}, {2, HKT_MALLOC, 12},
      {2, HKT_REALLOC, 13},     {1, HKT_FREE, 0},    {1, HKT_MALLOC, 14},
  };
  CHECK(n == 7, "v2: 7 events (%ld: %s)", n, n < 0 ? err : "");
  for (long i = 0; i < n && i < 7; i++)
    CHECK(t.ev[i].thread == want[i].tid && t.ev[i].op == want[i].op && t.ev[i].a == want[i].a,
          "v2: event %ld is thread %u op %u a %u (got %u %u %u)", i, want[i].tid, want[i].op,
          want[i].a, t.ev[i].thread, t.ev[i].op, t.ev[i].a);
  if (n >= 5) CHECK(t.ev[4].n_ext == 1 && t.ev[4].ext_b[0] == 0x3000, "v2: the realloc's extension");
  CHECK(t.f.recovered && !t.f.complete && t.f.holes == 1, "v2: recovered, one hole (%llu)",
        (unsigned long long)t.f.holes);
  free_trace(&t);
}

int main(void) {
  util_setup(0);
  test_v2_synthetic(); /* runs under ASan too: the recorder is compiled in */
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/unit.hkt", g_dir);
  setenv("HAKMEM_TRACE", path, 1);
  trace_init(0, 0x100000000000ull, 1ull << 38);
  unsetenv("HAKMEM_TRACE");
  CHECK(g_trace_enabled && !g_trace_exact && !g_trace_internal, "recording on, fast mode");
  CHECK(strcmp(trace_path(), path) == 0, "trace_path() = %s", trace_path());
  CHECK(g_trace_single, "one thread so far: the slot counter needs no locked instruction");
  /* This binary's compiled-in recorder is not the one libhakmem's pthread_create wrapper
   * switches, so leave single-thread mode by hand, as the wrapper does. */
  trace_threads_begin();
  CHECK(!g_trace_single, "multi-thread mode before the second thread exists");
  pthread_t th[THREADS];
  uint64_t t0 = mono();
  for (uintptr_t i = 0; i < THREADS; i++) pthread_create(&th[i], 0, writer, (void *)(i + 1));
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], 0);
  uint64_t t1 = mono();
  int counter = 0;
  trace_exact_lock();
  pthread_t ex;
  pthread_create(&ex, 0, exact_user, &counter);
  struct timespec ts = {0, 20000000};
  nanosleep(&ts, 0);
  CHECK(counter == 0, "the exact lock excludes another thread");
  trace_exact_unlock();
  pthread_join(ex, 0);
  CHECK(counter == 1, "the exact lock is recursive and released");
  trace_close();
  trace_close(); /* idempotent */
  trace_ev0(HKT_MALLOC, 9, 16, 1); /* after close: dropped, no fault */
  uint64_t events = THREADS * PER_THREAD;
  printf("recorder alone: %.1f ns/event wall (%d threads, %llu events, file on %s)\n",
         (double)(t1 - t0) / (double)events, THREADS, (unsigned long long)events, g_dir);

  hkt_file_t f;
  CHECK(hkt_open(&f, path, err, sizeof err) == 0, "opens: %s", err);
  if (f.map) {
    CHECK(f.complete && f.event_count == events, "COMPLETE, event_count %llu",
          (unsigned long long)f.event_count);
    uint64_t per8 = 6 + 2 + 3; /* slots per 8 events: 6 single, 1 double, 1 triple */
    CHECK(f.slot_count == THREADS * (PER_THREAD / 8) * per8 + THREADS * 0,
          "slot_count %llu", (unsigned long long)f.slot_count);
    CHECK(f.pid == (uint64_t)getpid() && f.heap_base == 0x100000000000ull, "header fields");
    uint64_t next[THREADS + 1] = {0};
    long out_of_order = 0, bad_ext = 0;
    hkt_event_t e;
    int r;
    while ((r = hkt_next(&f, &e, err, sizeof err)) > 0) {
      unsigned tid = e.thread;
      if (tid < 1 || tid > THREADS) {
        out_of_order++;
        continue;
      }
      uint64_t i = e.b & 0xFFFFFFFFFFFFull;
      if (i != next[tid]) out_of_order++;
      next[tid] = i + 1;
      if (e.op == HKT_REALLOC && e.ext_b[0] != (e.b ^ 0xABCDEF)) bad_ext++;
      if (e.op == HKT_CALLOC && (e.n_ext != 2 || e.ext_b[1] != 1ull << 20)) bad_ext++;
    }
    CHECK(r == 0, "every slot valid: %s", r ? err : "");
    CHECK(out_of_order == 0, "each thread's events in program order (%ld out)", out_of_order);
    CHECK(bad_ext == 0, "extension slots carry their values (%ld bad)", bad_ext);
    for (int t = 1; t <= THREADS; t++)
      CHECK(next[t] == PER_THREAD, "thread %d: all %lu events", t, PER_THREAD);
    hkt_close(&f);
  }
  remove_dir();
  return finish();
}
