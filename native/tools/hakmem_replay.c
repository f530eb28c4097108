/* hakmem-replay: re-execute a .hkt trace against the real allocator.
 *
 * Ordered mode (default): one pthread per traced thread; every allocator call
 * runs on its thread, in the recorded global order. The order is kept by
 * passing a baton: the thread holding it reads the next event; if the event
 * belongs to another thread it hands the baton over (a futex word per
 * worker) and sleeps until it gets it back. Runs of one thread's events cost
 * no handoff. Only the baton holder touches the shared state (reader,
 * pointer map, output), so none of it needs a lock.
 *
 * Free-run mode (--free-run): threads run concurrently, each over its own
 * pre-built list of calls; a call that consumes a pointer (free, realloc)
 * waits until the call that produced it has run. Prints events/s. Built a
 * second time without libhakmem (hakmem-replay-libc) it measures whatever
 * allocator LD_PRELOAD supplies.
 *
 * The replay's own libc allocations (pthread_create, output) would perturb
 * the heap being replayed: every thread keeps hakmem_replay_bypass(1) on
 * except around the traced call itself. The tool itself never calls malloc:
 * its tables are mmap'd. Output format: docs/replay-output.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h"
#include "hakmem_trace_format.h"
#include "hkt_reader.h"

/* Weak: absent in hakmem-replay-libc (and in a libhakmem without them). */
#pragma weak hakmem_config
#pragma weak hakmem_config_entries
#pragma weak hakmem_locate
#pragma weak hakmem_state_digest
#pragma weak hakmem_thread_flush
extern void hakmem_replay_bypass(int on) __attribute__((weak));

#define OUTPUT_VERSION 1
#define MAX_THREADS 65536u

static void bypass(int on) {
  if (hakmem_replay_bypass) hakmem_replay_bypass(on);
}

/* Before anything else in this executable can allocate. */
__attribute__((constructor(101))) static void early_bypass(void) { bypass(1); }

/* ------------------------------------------------------------------ output */

static int g_out_fd = 1;
static char g_obuf[1 << 20];
static size_t g_olen;

static void out_flush(void) {
  size_t done = 0;
  while (done < g_olen) {
    ssize_t w = write(g_out_fd, g_obuf + done, g_olen - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      static const char m[] = "hakmem-replay: write error on output\n";
      ssize_t r = write(2, m, sizeof m - 1);
      (void)r;
      _exit(2);
    }
    done += (size_t)w;
  }
  g_olen = 0;
}
static void out_s(const char *s) {
  size_t n = strlen(s);
  if (g_olen + n > sizeof g_obuf) out_flush();
  memcpy(g_obuf + g_olen, s, n);
  g_olen += n;
}
static void out_c(char c) {
  if (g_olen + 1 > sizeof g_obuf) out_flush();
  g_obuf[g_olen++] = c;
}
static void out_u(uint64_t v) {
  char t[24];
  int i = 24;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (g_olen + 24 > sizeof g_obuf) out_flush();
  memcpy(g_obuf + g_olen, t + i, (size_t)(24 - i));
  g_olen += (size_t)(24 - i);
}
static void out_x16(uint64_t v) {
  static const char hx[] = "0123456789abcdef";
  if (g_olen + 16 > sizeof g_obuf) out_flush();
  for (int i = 15; i >= 0; i--) g_obuf[g_olen + (size_t)(15 - i)] = hx[(v >> (i * 4)) & 15];
  g_olen += 16;
}
static void out_tab(void) { out_c('\t'); }

static void die(int code, const char *fmt, const char *a) {
  char m[1024];
  snprintf(m, sizeof m, fmt, a);
  size_t n = strlen(m);
  ssize_t r = write(2, m, n);
  r = write(2, "\n", 1);
  (void)r;
  out_flush();
  _exit(code);
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *map_anon(size_t bytes) {
  void *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) die(2, "hakmem-replay: out of memory (%s)", "mmap");
  return p;
}

/* ------------------------------------------------- u64 -> u64 hash (mmap) */

/* Linear probing, key 0 = empty, backward-shift deletion, doubles at 1/2. */
typedef struct u64map {
  uint64_t *keys, *vals;
  uint64_t cap, count;
} u64map_t;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static void map_init(u64map_t *m, uint64_t cap) {
  m->cap = cap;
  m->count = 0;
  m->keys = map_anon(cap * 8);
  m->vals = map_anon(cap * 8);
}

static void map_put(u64map_t *m, uint64_t k, uint64_t v);

static void map_grow(u64map_t *m) {
  u64map_t n;
  map_init(&n, m->cap * 2);
  for (uint64_t i = 0; i < m->cap; i++)
    if (m->keys[i]) map_put(&n, m->keys[i], m->vals[i]);
  munmap(m->keys, m->cap * 8);
  munmap(m->vals, m->cap * 8);
  *m = n;
}

static void map_put(u64map_t *m, uint64_t k, uint64_t v) {
  if ((m->count + 1) * 2 > m->cap) map_grow(m);
  uint64_t mask = m->cap - 1, i = mix64(k) & mask;
  while (m->keys[i] && m->keys[i] != k) i = (i + 1) & mask;
  if (!m->keys[i]) m->count++;
  m->keys[i] = k;
  m->vals[i] = v;
}

static int map_get(const u64map_t *m, uint64_t k, uint64_t *v) {
  uint64_t mask = m->cap - 1, i = mix64(k) & mask;
  while (m->keys[i]) {
    if (m->keys[i] == k) {
      *v = m->vals[i];
      return 1;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

static void map_del(u64map_t *m, uint64_t k) {
  uint64_t mask = m->cap - 1, i = mix64(k) & mask;
  while (m->keys[i] && m->keys[i] != k) i = (i + 1) & mask;
  if (!m->keys[i]) return;
  m->count--;
  uint64_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->keys[j]) break;
    uint64_t h = mix64(m->keys[j]) & mask;
    /* move j back to i if its home is not in (i, j] */
    if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->vals[i] = 0;
}

/* ------------------------------------------------------------- options */

static const char *g_trace_path;
static uint64_t g_digest_every = 10000;
static int g_quiet;
static int g_free_run;

static void usage(int code) {
  static const char u[] =
      "usage: hakmem-replay [options] TRACE.hkt\n"
      "Re-execute every allocator call of a hakmem trace against the real allocator,\n"
      "one thread per traced thread, in the recorded order; print placements and digests\n"
      "(format: docs/replay-output.md).\n"
      "\n"
      "  --out FILE          write the output to FILE instead of stdout\n"
      "  --digest-every N    print a state digest every N events (default 10000; 0: only at the end)\n"
      "  --quiet             no per-event lines (digests and the summary only)\n"
      "  --free-run          run the threads concurrently (causality only) and print events/s\n"
      "  --print-config      print the configuration in force as `name value` lines, then exit\n"
      "  --serve             read `TRACE<TAB>OUT` lines from stdin; replay each in a forked child\n"
      "                      (output to OUT, stderr to OUT.err), answer one line per case\n"
      "  --timeout-ms N      --serve: a case running longer is killed and answered as a hang (5000)\n"
      "  --help              this text\n"
      "\n"
      "Exit codes: 0 replayed, every placement as recorded; 1 some placement differed;\n"
      "2 bad usage or a malformed trace (one line: file, byte offset, event number).\n";
  ssize_t r = write(code ? 2 : 1, u, sizeof u - 1);
  (void)r;
  exit(code);
}

/* --------------------------------------------------- config of the replay */

typedef struct {
  const char *name, *env;
} cfg_field_t;
static const cfg_field_t g_cfg_fields[] = {
#define CFG_FIELD(name, env, def, why) {#name, env},
    HAKMEM_CONFIG_FIELDS(CFG_FIELD)
#undef CFG_FIELD
};
#define N_CFG_FIELDS (sizeof g_cfg_fields / sizeof g_cfg_fields[0])

static int print_config(void) {
  if (!hakmem_config_entries) die(2, "hakmem-replay: %s", "--print-config needs libhakmem");
  hakmem_config_entry_t e[HKT_CONFIG_MAX_ENTRIES];
  unsigned n = hakmem_config_entries(e, HKT_CONFIG_MAX_ENTRIES);
  for (unsigned i = 0; i < n && i < HKT_CONFIG_MAX_ENTRIES; i++) {
    char name[33];
    memcpy(name, e[i].name, 32);
    name[32] = 0;
    out_s(name);
    out_c(' ');
    out_u(e[i].value);
    out_c('\n');
  }
  out_flush();
  return 0;
}

/* Entries added after traces were first recorded, with the value the allocator had before
 * them: a trace without one was recorded by that earlier build (src/model/config.ts,
 * ADDED_LATER). Entries whose absence changes no decision are not listed. */
static const struct { const char *name; uint64_t value; } g_added_later[] = {
    {"superslab_max_count", 0}, {"large_cache_max_count", 0}, {"large_cache_max_bytes", 0}};

/* The trace's value of a scalar entry, or the earlier build's for one added later; 0 if found. */
static int trace_config(hkt_file_t *f, const char *name, uint64_t *v) {
  if (hkt_config(f, name, v) == 0) return 0;
  for (size_t i = 0; i < sizeof g_added_later / sizeof g_added_later[0]; i++) {
    if (strcmp(name, g_added_later[i].name) == 0) {
      *v = g_added_later[i].value;
      return 0;
    }
  }
  return -1;
}

/* Does the running allocator's config equal the trace's? If not, and we have
 * not tried yet, set HAKMEM_* from the trace and re-exec ourselves (the
 * allocator reads its config once, at initialisation). */
static void match_config(hkt_file_t *f, char **argv) {
  if (!hakmem_config_entries) return;
  hakmem_config_entry_t e[HKT_CONFIG_MAX_ENTRIES];
  unsigned n = hakmem_config_entries(e, HKT_CONFIG_MAX_ENTRIES);
  const char *bad = 0;
  static char badbuf[128];
  for (unsigned i = 0; i < n && !bad; i++) {
    uint64_t v;
    char name[33];
    memcpy(name, e[i].name, 32);
    name[32] = 0;
    if (trace_config(f, name, &v) != 0) continue; /* class entries beyond the count */
    if (v != e[i].value) {
      snprintf(badbuf, sizeof badbuf, "%s (trace %llu, allocator %llu)", name,
               (unsigned long long)v, (unsigned long long)e[i].value);
      bad = badbuf;
    }
  }
  for (uint32_t i = 0; i < f->config_count && !bad; i++) { /* present in the trace, not here */
    const char *tn = (const char *)f->map + HKT_CONFIG_OFFSET + i * HKT_CONFIG_ENTRY_BYTES;
    int found = 0;
    for (unsigned j = 0; j < n && !found; j++) found = strncmp(tn, e[j].name, 32) == 0;
    if (!found) {
      snprintf(badbuf, sizeof badbuf, "%.32s (not known to this allocator)", tn);
      bad = badbuf;
    }
  }
  if (!bad) return;
  if (getenv("HAKMEM_REPLAY_REEXEC"))
    die(2, "hakmem-replay: the allocator's configuration differs from the trace's: %s", bad);
  char val[64];
  for (unsigned i = 0; i < N_CFG_FIELDS; i++) {
    uint64_t v;
    if (trace_config(f, g_cfg_fields[i].name, &v) == 0) {
      snprintf(val, sizeof val, "%llu", (unsigned long long)v);
      setenv(g_cfg_fields[i].env, val, 1);
    }
  }
  static char list[2048];
  const char *tables[2][2] = {{"tiny_class_count", "tiny_class_size_"},
                              {"pool_class_count", "pool_class_size_"}};
  const char *envs[2] = {"HAKMEM_TINY_CLASSES", "HAKMEM_POOL_CLASSES"};
  for (int t = 0; t < 2; t++) {
    uint64_t cnt = 0;
    if (hkt_config(f, tables[t][0], &cnt) != 0) continue;
    size_t pos = 0;
    list[0] = 0;
    for (uint64_t i = 0; i < cnt && i < 64; i++) {
      char nm[40];
      uint64_t v;
      snprintf(nm, sizeof nm, "%s%llu", tables[t][1], (unsigned long long)i);
      if (hkt_config(f, nm, &v) != 0) die(2, "hakmem-replay: trace lacks config entry %s", nm);
      pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s%llu", i ? "," : "",
                              (unsigned long long)v);
      if (pos >= sizeof list) die(2, "hakmem-replay: %s too long", envs[t]);
    }
    setenv(envs[t], list, 1);
  }
  setenv("HAKMEM_REPLAY_REEXEC", "1", 1);
  out_flush();
  execv("/proc/self/exe", argv);
  die(2, "hakmem-replay: cannot re-exec with the trace's configuration: %s", strerror(errno));
}

/* ------------------------------------------- recorded regions (placement) */

typedef struct region_rec {
  uint64_t base, size;
  uint32_t kind, live;
} region_rec_t;
static u64map_t g_regions;    /* region id -> index into g_region_tab */
static region_rec_t *g_region_tab;
static uint64_t g_region_n, g_region_cap;
static uint64_t g_slab_bytes = 65536;

static void region_event(const hkt_event_t *ev) {
  uint64_t idx;
  int have = map_get(&g_regions, (uint64_t)ev->a + 1, &idx);
  if (ev->op == HKT_REGION_MAP) {
    if (!have) {
      if (g_region_n == g_region_cap) {
        uint64_t ncap = g_region_cap ? g_region_cap * 2 : 4096;
        region_rec_t *n = map_anon(ncap * sizeof *n);
        if (g_region_n) memcpy(n, g_region_tab, g_region_n * sizeof *n);
        if (g_region_tab) munmap(g_region_tab, g_region_cap * sizeof *n);
        g_region_tab = n;
        g_region_cap = ncap;
      }
      idx = g_region_n++;
      map_put(&g_regions, (uint64_t)ev->a + 1, idx);
    }
    g_region_tab[idx].base = ev->b;
    g_region_tab[idx].size = ev->ext_b[0];
    g_region_tab[idx].kind = ev->ext_a[0];
    g_region_tab[idx].live = 1;
  } else if (have) {
    if (ev->op == HKT_REGION_UNMAP) g_region_tab[idx].live = 0;
    if (ev->op == HKT_REGION_REUSE) g_region_tab[idx].live = 1;
    if (ev->op == HKT_REGION_REMAP) {
      g_region_tab[idx].base = ev->b;
      g_region_tab[idx].size = ev->ext_b[0];
    }
  }
}

/* Compare the replay's placement of q with the recorded pointer p: same
 * region id, and the same offset in it (tiny and pool; large: p inside it).
 * Returns 1 same, 0 different. */
static int placement_matches(uint64_t p, const hakmem_placement_t *pl) {
  uint64_t idx;
  if (!pl->region_id || !map_get(&g_regions, (uint64_t)pl->region_id + 1, &idx)) return 0;
  const region_rec_t *r = &g_region_tab[idx];
  if (p < r->base || p - r->base >= r->size) return 0;
  if (r->kind != pl->kind) return 0;
  if (pl->kind == HKT_REGION_LARGE) return 1;
  const hakmem_config_t *c = hakmem_config();
  uint64_t cls = pl->kind == HKT_REGION_SUPERSLAB ? c->tiny_class_size[pl->class_idx]
                                                  : c->pool_class_size[pl->class_idx];
  uint64_t off = (uint64_t)pl->slab_index * (pl->kind == HKT_REGION_SUPERSLAB ? g_slab_bytes : 0) +
                 (uint64_t)pl->block_index * cls;
  return p - r->base == off;
}

/* ----------------------------------------------------------- futex baton */

static long futex(_Atomic uint32_t *w, int op, uint32_t v) {
  return syscall(SYS_futex, (uint32_t *)w, op, v, 0, 0, 0);
}
static void wake(_Atomic uint32_t *w) {
  atomic_store_explicit(w, 1, memory_order_release);
  futex(w, FUTEX_WAKE_PRIVATE, 1);
}
static void wait_go(_Atomic uint32_t *w) {
  for (int i = 0; i < 200; i++) {
    if (atomic_load_explicit(w, memory_order_acquire)) goto got;
    __builtin_ia32_pause();
  }
  while (!atomic_load_explicit(w, memory_order_acquire)) futex(w, FUTEX_WAIT_PRIVATE, 0);
got:
  atomic_store_explicit(w, 0, memory_order_relaxed);
}

typedef struct worker {
  _Atomic uint32_t go;
  uint32_t index;
  pthread_t th;
  uint64_t events;
  char pad[64 - 24];
} worker_t;

static worker_t *g_workers;   /* [MAX_THREADS], mmap'd */
static uint8_t *g_has_worker; /* [MAX_THREADS] */
static uint8_t *g_claimed;    /* [MAX_THREADS]: the thread has taken its index */
static uint32_t g_next_claim;
static _Atomic uint32_t g_main_go;
static _Atomic int g_finished;

/* shared, touched only by the baton holder */
static hkt_file_t g_f;
static hkt_event_t g_ev;
static int g_has_ev;
static u64map_t g_ptrs; /* recorded pointer -> replay pointer; bit 0 set: freed */
static char g_err[1024];
static uint64_t g_executed, g_skipped, g_mismatch, g_null, g_events;
static uint64_t g_heap_lo, g_heap_hi;
static int g_have_locate;

/* Which thread must execute ev; -1 if none (not executed). */
static int bound_thread(const hkt_event_t *ev) {
  switch (ev->op) {
    case HKT_MALLOC: case HKT_CALLOC: case HKT_REALLOC: case HKT_POSIX_MEMALIGN:
    case HKT_ALIGNED_ALLOC: case HKT_MEMALIGN: case HKT_VALLOC: case HKT_PVALLOC:
    case HKT_THREAD_START: case HKT_THREAD_EXIT:
      return ev->thread;
    case HKT_FREE:
      return ev->a == HKT_VERDICT_FOREIGN ? -1 : ev->thread;
    default:
      return -1;
  }
}

static const char *verdict_name(uint32_t v) {
  switch (v) {
    case HKT_VERDICT_OK: return "freed";
    case HKT_VERDICT_FOREIGN: return "foreign";
    case HKT_VERDICT_INVALID: return "invalid";
    case HKT_VERDICT_NULL: return "null";
    default: return "unknown";
  }
}

static uint64_t ev_size(const hkt_event_t *ev, unsigned ext) {
  return ev->a == 0xFFFFFFFFu ? ev->ext_b[ext] : ev->a;
}

/* The call that takes a thread index without changing the heap. */
static void claim_thread_index(void) {
  /* The thread takes its index (and its live-thread entry) at its first allocator call, as it
   * did when the trace was recorded. free(NULL) is that call; it goes through a volatile
   * pointer because the compiler may drop a literal free(NULL) as a no-op. The allocator is
   * initialised first (main), else free(NULL) would return before looking at the thread. */
  void (*volatile free_fn)(void *) = free;
  bypass(0);
  free_fn(NULL);
  bypass(1);
}

static void out_alloc_line(const hkt_event_t *ev, const char *name, uint64_t size, void *q,
                           uint64_t rec) {
  int match = -1;
  hakmem_placement_t pl;
  memset(&pl, 0, sizeof pl);
  if (q && g_have_locate) {
    hakmem_locate(q, &pl);
    match = rec ? placement_matches(rec, &pl) : 0;
  } else if (!q) {
    match = rec == 0;
    g_null++;
  }
  if (match == 0) g_mismatch++;
  if (g_quiet) return;
  out_c('A'); out_tab();
  out_u(ev->number); out_tab();
  out_u(ev->thread); out_tab();
  out_s(name); out_tab();
  out_u(size); out_tab();
  if (!q) {
    out_s("null\t-\t-\t-\t-");
  } else if (!g_have_locate) {
    out_s("-\t-\t-\t-\t-");
  } else {
    out_u(pl.region_id); out_tab();
    out_u(pl.kind); out_tab();
    out_u(pl.slab_index); out_tab();
    out_u(pl.block_index); out_tab();
    out_u(pl.class_idx);
  }
  out_tab();
  out_s(match < 0 ? "-" : match ? "same" : "differs");
  out_c('\n');
}

static void record_result(uint64_t rec, void *q) {
  if (rec && q) map_put(&g_ptrs, rec, (uint64_t)(uintptr_t)q);
}

/* The replay's own check that the allocator never hands out a block that is still live
 * (docs/invariants.md I1, natively): replay pointer -> number of the event that returned it,
 * plus one, while the block is live. A broken allocator (a seeded-bug build, docs/fuzzing.md)
 * is caught here at the event it goes wrong, and with HAKMEM_ABORT_ON_ERROR=1 the replay aborts
 * there, so the failure reproduces under gdb at the same event every time. Ordered mode only. */
static u64map_t g_live;
static uint64_t g_live_again;
static int g_abort_on_error;

static void returned_block(const hkt_event_t *ev, const char *name, void *q) {
  if (!q) return;
  uint64_t k = (uint64_t)(uintptr_t)q, at;
  if (map_get(&g_live, k, &at)) {
    g_live_again++;
    char line[256];
    int n = snprintf(line, sizeof line,
                     "hakmem-replay: event %llu (thread %u, %s): the allocator returned %p, "
                     "which is still live (returned at event %llu)\n",
                     (unsigned long long)ev->number, (unsigned)ev->thread, name, q,
                     (unsigned long long)(at - 1));
    ssize_t w = write(2, line, n > 0 && n < (int)sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
    if (g_abort_on_error) abort();
  }
  map_put(&g_live, k, ev->number + 1);
}

static void released_block(uint64_t q) {
  if (q) map_del(&g_live, q);
}

/* Replay pointer for recorded p: 1 live, 2 freed (mapping kept for a double
 * free), 0 unknown. */
static int lookup_ptr(uint64_t p, void **q) {
  uint64_t v;
  if (!p || !map_get(&g_ptrs, p, &v)) return 0;
  *q = (void *)(uintptr_t)(v & ~1ull);
  return (v & 1) ? 2 : 1;
}
static void mark_freed(uint64_t p) {
  uint64_t v;
  if (map_get(&g_ptrs, p, &v)) map_put(&g_ptrs, p, v | 1);
}

/* An interior pointer: the same offset into the replay's copy of the recorded block below it
 * (searched within 64 KiB, 16-byte steps), so the allocator meets the same misuse. Misuse only. */
static int lookup_interior(uint64_t p, void **q) {
  void *base;
  for (uint64_t a = p & ~15ull, n = 0; a && n <= 4096; a -= 16, n++) {
    if (lookup_ptr(a, &base)) {
      *q = (char *)base + (p - a);
      return 1;
    }
  }
  return 0;
}

static void exec_free(const hkt_event_t *ev) {
  void *q = 0;
  int known = lookup_ptr(ev->b, &q);
  if (!known && ev->a == HKT_VERDICT_INVALID && g_have_locate) known = lookup_interior(ev->b, &q);
  const char *replay = "skipped";
  hakmem_placement_t pl;
  memset(&pl, 0, sizeof pl);
  if (ev->a == HKT_VERDICT_NULL) {
    bypass(0);
    free(NULL);
    bypass(1);
    replay = "null";
    g_executed++;
  } else if (ev->a == HKT_VERDICT_FOREIGN || !known ||
             (ev->a == HKT_VERDICT_INVALID && !g_have_locate)) {
    /* not ours, not known, or a misuse another allocator might abort on */
    g_skipped++;
  } else {
    if (g_have_locate) {
      hakmem_locate(q, &pl);
      replay = verdict_name(pl.verdict);
    } else {
      replay = "done";
    }
    if (ev->a == HKT_VERDICT_OK) released_block((uint64_t)(uintptr_t)q);
    bypass(0);
    free(q);
    bypass(1);
    if (ev->a == HKT_VERDICT_OK) mark_freed(ev->b);
    g_executed++;
  }
  if (strcmp(replay, "skipped") && strcmp(replay, "done") &&
      strcmp(replay, verdict_name(ev->a)))
    g_mismatch++;
  if (g_quiet) return;
  out_c('F'); out_tab();
  out_u(ev->number); out_tab();
  out_u(ev->thread); out_tab();
  out_s(verdict_name(ev->a)); out_tab();
  out_s(replay); out_tab();
  if (pl.region_id) {
    out_u(pl.region_id); out_tab();
    out_u(pl.slab_index); out_tab();
    out_u(pl.block_index);
  } else {
    out_s("-\t-\t-");
  }
  out_c('\n');
}

static void exec_realloc(const hkt_event_t *ev) {
  uint64_t old = ev->ext_b[0], size = ev_size(ev, 1);
  void *q_old = 0, *q;
  int known = lookup_ptr(old, &q_old);
  const uint64_t old_key = (uint64_t)(uintptr_t)q_old; /* the key, taken before realloc frees q_old */
  /* known == 2: handed out earlier and freed since (a realloc of a freed block): replayed on the
   * replay's copy, so the allocator meets the same misuse, as a double free is. */
  if (old && known == 0) {
    if (old - g_heap_lo >= g_heap_hi - g_heap_lo) {
      /* foreign in the recording: realloc = malloc + the other allocator's free */
      bypass(0);
      q = malloc(size);
      bypass(1);
    } else {
      /* invalid in the recording: realloc changed nothing */
      g_skipped++;
      if (!g_quiet) {
        out_s("A\t"); out_u(ev->number); out_tab(); out_u(ev->thread);
        out_s("\trealloc\t"); out_u(size); out_s("\tskipped\t-\t-\t-\t-\t-\n");
      }
      return;
    }
  } else {
    bypass(0);
    q = realloc(q_old, size);
    bypass(1);
  }
  g_executed++;
  if (q || (old && size == 0)) {
    if (known == 1) {
      mark_freed(old);
      released_block(old_key);
    }
  }
  record_result(ev->b, q);
  returned_block(ev, "realloc", q);
  if (size == 0 && old && !q) {
    if (!g_quiet) {
      out_s("A\t"); out_u(ev->number); out_tab(); out_u(ev->thread);
      out_s("\trealloc\t0\tfreed\t-\t-\t-\t-\t");
      out_s(ev->b == 0 ? "same\n" : "differs\n");
    }
    if (ev->b) g_mismatch++;
    return;
  }
  out_alloc_line(ev, "realloc", size, q, ev->b);
}

/* The event being executed, for the fatal-signal report (written before each call). */
static volatile sig_atomic_t g_fatal_armed;
static volatile uint64_t g_cur_event;
static volatile uint32_t g_cur_thread, g_cur_op;

/* Name the event the replay died at, then die of the same signal (so gdb, the
 * exit status and core dumps see exactly what the program saw). Async-signal-
 * safe: formats into a stack buffer and writes once. */
static void fatal_signal(int sig) {
  char buf[160];
  char num[24];
  int n = 0;
  const char *parts[] = {"hakmem-replay: died of signal ", 0, " at event ", 0, " (thread ", 0, ", ", 0, ")\n"};
  char sigs[8], ev[24], th[8];
  uint64_t vals[3] = {(uint64_t)sig, g_cur_event, g_cur_thread};
  char *outs[3] = {sigs, ev, th};
  for (int k = 0; k < 3; k++) {
    int len = 0;
    uint64_t v = vals[k];
    do num[len++] = (char)('0' + v % 10); while ((v /= 10) && len < 23);
    for (int i = 0; i < len; i++) outs[k][i] = num[len - 1 - i];
    outs[k][len] = 0;
  }
  parts[1] = sigs;
  parts[3] = ev;
  parts[5] = th;
  parts[7] = hkt_op_name(g_cur_op) ? hkt_op_name(g_cur_op) : "?";
  for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++)
    for (const char *c = parts[i]; *c && n < (int)sizeof buf - 1; c++) buf[n++] = *c;
  if (g_fatal_armed) {
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void arm_fatal_signals(void) {
  int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    sigaction(sigs[i], &sa, 0);
  }
  g_fatal_armed = 1;
}

static void exec_event(const hkt_event_t *ev) {
  void *q = 0;
  g_cur_event = ev->number;
  g_cur_thread = ev->thread;
  g_cur_op = ev->op;
  switch (ev->op) {
    case HKT_MALLOC: {
      uint64_t n = ev_size(ev, 0);
      bypass(0);
      q = malloc(n);
      bypass(1);
      g_executed++;
      record_result(ev->b, q);
      returned_block(ev, "malloc", q);
      out_alloc_line(ev, "malloc", n, q, ev->b);
      break;
    }
    case HKT_CALLOC: {
      uint64_t n = ev->a;
      bypass(0);
      if (ev->a == 0xFFFFFFFFu) {
        q = calloc(ev->ext_b[0], ev->ext_b[1]);
        n = ev->ext_b[0] * ev->ext_b[1];
      } else {
        q = calloc(1, ev->a);
      }
      bypass(1);
      g_executed++;
      record_result(ev->b, q);
      returned_block(ev, "calloc", q);
      out_alloc_line(ev, "calloc", n, q, ev->b);
      break;
    }
    case HKT_REALLOC:
      exec_realloc(ev);
      break;
    case HKT_POSIX_MEMALIGN: case HKT_ALIGNED_ALLOC: case HKT_MEMALIGN: case HKT_VALLOC:
    case HKT_PVALLOC: {
      uint64_t n = ev_size(ev, 1), al = ev->ext_b[0];
      bypass(0);
      if (ev->op == HKT_POSIX_MEMALIGN) {
        if (posix_memalign(&q, al, n) != 0) q = 0;
      } else if (ev->op == HKT_ALIGNED_ALLOC) {
        q = aligned_alloc(al, n);
      } else if (ev->op == HKT_MEMALIGN) {
        q = memalign(al, n);
      } else if (ev->op == HKT_VALLOC) {
        q = valloc(n);
      } else {
        q = pvalloc(n);
      }
      bypass(1);
      g_executed++;
      record_result(ev->b, q);
      returned_block(ev, hkt_op_name(ev->op), q);
      out_alloc_line(ev, hkt_op_name(ev->op), n, q, ev->b);
      break;
    }
    case HKT_FREE:
      exec_free(ev);
      break;
    case HKT_THREAD_START:
      claim_thread_index();
      g_executed++;
      if (!g_quiet) {
        out_s("T\t"); out_u(ev->number); out_tab(); out_u(ev->thread); out_s("\tstart\n");
      }
      break;
    case HKT_THREAD_EXIT:
      if (hakmem_thread_flush) {
        bypass(0);
        hakmem_thread_flush();
        bypass(1);
      }
      g_executed++;
      if (!g_quiet) {
        out_s("T\t"); out_u(ev->number); out_tab(); out_u(ev->thread); out_s("\texit\n");
      }
      break;
    default:
      break;
  }
}

static void out_digest(uint64_t n) {
  if (!hakmem_state_digest) return;
  out_s("D\t");
  out_u(n);
  out_tab();
  out_x16(hakmem_state_digest());
  out_c('\n');
}

/* The baton loop: me is a thread index, or -1 for the main thread. */
static void baton_loop(int me) {
  _Atomic uint32_t *my_go = me < 0 ? &g_main_go : &g_workers[me].go;
  for (;;) {
    if (atomic_load_explicit(&g_finished, memory_order_acquire)) return;
    if (!g_has_ev) {
      int r = hkt_next(&g_f, &g_ev, g_err, sizeof g_err);
      if (r < 0) die(2, "%s", g_err); /* validated already: the file changed under us */
      if (r == 0) {
        atomic_store_explicit(&g_finished, 1, memory_order_release);
        if (me >= 0) wake(&g_main_go);
        return;
      }
      g_has_ev = 1;
    }
    int owner = bound_thread(&g_ev);
    if (owner >= 0 && !g_claimed[owner]) {
      /* Thread indices are handed out at a thread's first call, in call
       * order; a recording may still show index k's THREAD_START after
       * index k+1's (the two raced to the counter). Claim lower indices
       * first, on their own threads, so the replay's indices match. */
      while (g_next_claim < (uint32_t)owner &&
             (g_claimed[g_next_claim] || !g_has_worker[g_next_claim]))
        g_next_claim++;
      if (g_next_claim < (uint32_t)owner) {
        int who = (int)g_next_claim;
        if (who != me) {
          wake(&g_workers[who].go);
          wait_go(my_go);
          continue;
        }
        claim_thread_index();
        g_claimed[who] = 1;
        continue;
      }
    }
    if (owner >= 0 && owner != me) {
      wake(&g_workers[owner].go);
      wait_go(my_go);
      continue;
    }
    if (owner >= 0) {
      exec_event(&g_ev);
      g_claimed[owner] = 1;
    }
    else if (g_ev.op >= HKT_REGION_MAP && g_ev.op <= HKT_REGION_REMAP) region_event(&g_ev);
    else if (g_ev.op == HKT_FREE) exec_free(&g_ev); /* foreign: a line, no call */
    else if (g_ev.op == HKT_USABLE_SIZE) g_skipped++;
    g_has_ev = 0;
    g_events = g_ev.number + 1;
    if (g_digest_every && g_events % g_digest_every == 0) out_digest(g_events);
  }
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  bypass(1);
  wait_go(&w->go);
  baton_loop((int)w->index);
  /* park: main prints the end and exits the process */
  for (;;) pause();
  return 0;
}

/* ------------------------------------------------------------ free run */

typedef struct fr_op {
  uint8_t op;          /* HKT_* */
  uint8_t pad[3];
  uint32_t slot_in;    /* consumed pointer's slot + 1, 0 none */
  uint32_t slot_out;   /* produced pointer's slot + 1, 0 none */
  uint32_t gen_in, gen_out;
  uint32_t pad2;
  uint64_t size, align;
} fr_op_t;

typedef struct fr_thread {
  fr_op_t *ops;
  uint64_t n, cap;
  pthread_t th;
} fr_thread_t;

static fr_thread_t *g_fr;
static _Atomic uint32_t *g_slot_state; /* 2g: free for generation g; 2g+1: produced */
static void **g_slot_ptr;
static uint32_t *g_slot_gen;          /* pre-pass: next generation of each slot */
static _Atomic int g_fr_start;

static void fr_wait(_Atomic uint32_t *w, uint32_t want) {
  for (int i = 0; atomic_load_explicit(w, memory_order_acquire) != want; i++) {
    if (i < 100) __builtin_ia32_pause();
    else sched_yield();
  }
}

static void *fr_main(void *arg) {
  fr_thread_t *t = arg;
  bypass(1);
  while (!atomic_load_explicit(&g_fr_start, memory_order_acquire)) sched_yield();
  for (uint64_t i = 0; i < t->n; i++) {
    fr_op_t *o = &t->ops[i];
    void *in = 0, *q = 0;
    if (o->slot_in) {
      fr_wait(&g_slot_state[o->slot_in - 1], 2 * o->gen_in + 1);
      in = g_slot_ptr[o->slot_in - 1];
    }
    /* a realloc may get back the slot it consumes: it frees it itself */
    if (o->slot_out && o->slot_out != o->slot_in)
      fr_wait(&g_slot_state[o->slot_out - 1], 2 * o->gen_out);
    bypass(0);
    switch (o->op) {
      case HKT_MALLOC: q = malloc(o->size); break;
      case HKT_CALLOC: q = calloc(1, o->size); break;
      case HKT_REALLOC: q = realloc(in, o->size); break;
      case HKT_POSIX_MEMALIGN: if (posix_memalign(&q, o->align, o->size)) q = 0; break;
      case HKT_ALIGNED_ALLOC: q = aligned_alloc(o->align, o->size); break;
      case HKT_MEMALIGN: q = memalign(o->align, o->size); break;
      case HKT_VALLOC: q = valloc(o->size); break;
      case HKT_PVALLOC: q = pvalloc(o->size); break;
      case HKT_FREE: free(in); break;
      case HKT_THREAD_START: free(NULL); break;
      case HKT_THREAD_EXIT: if (hakmem_thread_flush) hakmem_thread_flush(); break;
    }
    bypass(1);
    if (o->slot_in)
      atomic_store_explicit(&g_slot_state[o->slot_in - 1], 2 * o->gen_in + 2,
                            memory_order_release);
    if (o->slot_out) {
      g_slot_ptr[o->slot_out - 1] = q;
      atomic_store_explicit(&g_slot_state[o->slot_out - 1], 2 * o->gen_out + 1,
                            memory_order_release);
    }
  }
  return 0;
}

static void fr_push(uint16_t tid, const fr_op_t *o) {
  fr_thread_t *t = &g_fr[tid];
  if (t->n == t->cap) {
    uint64_t ncap = t->cap ? t->cap * 2 : 65536;
    fr_op_t *n = map_anon(ncap * sizeof *n);
    if (t->n) memcpy(n, t->ops, t->n * sizeof *n);
    if (t->ops) munmap(t->ops, t->cap * sizeof *n);
    t->ops = n;
    t->cap = ncap;
  }
  t->ops[t->n++] = *o;
}

static int run_free_run(uint32_t n_threads) {
  /* Pre-pass, in recorded order: rename every pointer to a slot (a free
   * slot is reused LIFO; its generation orders the reuse). */
  g_fr = map_anon(sizeof(fr_thread_t) * MAX_THREADS);
  u64map_t live;            /* recorded pointer -> slot + 1 */
  map_init(&live, 1 << 16);
  uint64_t slot_cap = 1 << 20, slot_n = 0, free_n = 0;
  uint32_t *free_stack = map_anon(slot_cap * 4ull * 64); /* bound: 64M live pointers */
  g_slot_gen = map_anon(slot_cap * 4ull * 64);
  uint64_t total = 0;
  hkt_event_t ev;
  int r;
  hkt_rewind(&g_f);
  while ((r = hkt_next(&g_f, &ev, g_err, sizeof g_err)) > 0) {
    int owner = bound_thread(&ev);
    if (owner < 0) continue;
    fr_op_t o;
    memset(&o, 0, sizeof o);
    o.op = ev.op;
    uint64_t in_ptr = 0, out_ptr = 0;
    switch (ev.op) {
      case HKT_MALLOC: o.size = ev_size(&ev, 0); out_ptr = ev.b; break;
      case HKT_CALLOC:
        o.size = ev.a == 0xFFFFFFFFu ? ev.ext_b[0] * ev.ext_b[1] : ev.a;
        out_ptr = ev.b;
        break;
      case HKT_REALLOC:
        o.size = ev_size(&ev, 1);
        in_ptr = ev.ext_b[0];
        out_ptr = ev.b;
        break;
      case HKT_POSIX_MEMALIGN: case HKT_ALIGNED_ALLOC: case HKT_MEMALIGN: case HKT_VALLOC:
      case HKT_PVALLOC:
        o.size = ev_size(&ev, 1);
        o.align = ev.ext_b[0];
        out_ptr = ev.b;
        break;
      case HKT_FREE:
        if (ev.a != HKT_VERDICT_OK) continue; /* NULL, foreign, invalid: nothing to replay */
        in_ptr = ev.b;
        break;
      default: break;
    }
    if (in_ptr) {
      uint64_t s;
      if (map_get(&live, in_ptr, &s)) {
        o.slot_in = (uint32_t)s;
        o.gen_in = g_slot_gen[s - 1] - 1;
        map_del(&live, in_ptr);
        free_stack[free_n++] = (uint32_t)s;
      } else if (ev.op == HKT_FREE) {
        continue; /* allocated before the trace began */
      } else {
        o.op = HKT_MALLOC; /* realloc of an unknown pointer: its effect here is a malloc */
      }
    }
    if (out_ptr) {
      uint64_t s = free_n ? free_stack[--free_n] : ++slot_n;
      if (slot_n >= slot_cap * 64) die(2, "hakmem-replay: %s", "more than 64M live pointers");
      o.slot_out = (uint32_t)s;
      o.gen_out = g_slot_gen[s - 1]++;
      map_put(&live, out_ptr, s);
    }
    fr_push((uint16_t)owner, &o);
    total++;
  }
  if (r < 0) die(2, "%s", g_err);
  g_slot_state = map_anon((slot_n + 1) * 4);
  g_slot_ptr = map_anon((slot_n + 1) * 8);
  for (uint32_t t = 0; t < n_threads; t++)
    if (g_fr[t].n && pthread_create(&g_fr[t].th, 0, fr_main, &g_fr[t]) != 0)
      die(2, "hakmem-replay: %s", "pthread_create failed");
  uint64_t t0 = mono_ns();
  atomic_store_explicit(&g_fr_start, 1, memory_order_release);
  for (uint32_t t = 0; t < n_threads; t++)
    if (g_fr[t].n) pthread_join(g_fr[t].th, 0);
  uint64_t t1 = mono_ns();
  double secs = (double)(t1 - t0) / 1e9;
  char line[256];
  snprintf(line, sizeof line, "R\t%llu\t%u\t%.6f\t%.0f\n", (unsigned long long)total, n_threads,
           secs, secs > 0 ? (double)total / secs : 0.0);
  out_s(line);
  if (hakmem_state_digest) out_digest(g_f.next_event);
  out_flush();
  return 0;
}

/* ------------------------------------------------------------------ main */

/* ------------------------------------------------------------ --serve */

/* One persistent process for many cases (hakmem-sim fuzz --native): each stdin line
 * `TRACE<TAB>OUT` is replayed by a forked child, so a crash or a hang of the allocator is an
 * answer, not the end of the server, and every case starts from the same untouched heap (this
 * process never allocates from it: the bypass is on). Answers, one line per case
 * (docs/replay-output.md): `N<TAB>code` the child exited with code (0 agree, 1 some placement
 * or verdict differed, 2 rejected); `X<TAB>signal` it died of a signal; `H<TAB>ms` it ran past
 * the timeout and was killed; `E<TAB>message` the line could not be served. Returns only in a
 * child, with *trace and *out set; the server itself exits 0 at end of input. */
static unsigned long long g_timeout_ms = 5000;

static void serve_answer(const char *kind, const char *detail) {
  char line[512];
  int n = snprintf(line, sizeof line, "%s\t%s\n", kind, detail);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  if (write(1, line, (size_t)n) != n) _exit(3); /* the client is gone */
}

/* wait for pid at most timeout_ms: 1 exited (*status set), 0 timed out */
static int serve_wait(pid_t pid, int *status, unsigned long long timeout_ms) {
  int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  uint64_t deadline = mono_ns() + timeout_ms * 1000000ull;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) {
      if (pfd >= 0) close(pfd);
      return 1;
    }
    uint64_t now = mono_ns();
    if (now >= deadline) break;
    if (pfd >= 0) {
      struct pollfd p = {.fd = pfd, .events = POLLIN};
      (void)poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);
    } else {
      struct timespec ts = {0, 200000}; /* no pidfd (Linux < 5.3): poll every 0.2 ms */
      nanosleep(&ts, 0);
    }
  }
  kill(pid, SIGKILL);
  waitpid(pid, status, 0);
  if (pfd >= 0) close(pfd);
  return 0;
}

static void serve_loop(const char **trace, const char **out) {
  static char buf[2 * PATH_MAX + 4];
  static char err_path[PATH_MAX + 8];
  size_t len = 0;
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    char *nl = memchr(buf, '\n', len);
    if (!nl) {
      if (len == sizeof buf) { /* a line too long: drop it */
        serve_answer("E", "line too long");
        len = 0;
        continue;
      }
      ssize_t r = read(0, buf + len, sizeof buf - len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) _exit(0); /* end of input */
      len += (size_t)r;
      continue;
    }
    *nl = 0;
    char *tab = strchr(buf, '\t');
    if (!tab || tab == buf || !tab[1]) serve_answer("E", "expected TRACE<TAB>OUT");
    else {
      *tab = 0;
      pid_t pid = fork();
      if (pid == 0) {
        snprintf(err_path, sizeof err_path, "%s.err", tab + 1);
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
          dup2(fd, 2);
          close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull >= 0) dup2(devnull, 0);
        *trace = buf;
        *out = tab + 1;
        return;
      }
      if (pid < 0) serve_answer("E", strerror(errno));
      else {
        int status = 0;
        char d[32];
        if (!serve_wait(pid, &status, g_timeout_ms)) {
          snprintf(d, sizeof d, "%llu", g_timeout_ms);
          serve_answer("H", d);
        } else if (WIFSIGNALED(status)) {
          snprintf(d, sizeof d, "%d", WTERMSIG(status));
          serve_answer("X", d);
        } else {
          snprintf(d, sizeof d, "%d", WEXITSTATUS(status));
          serve_answer("N", d);
        }
      }
    }
    size_t used = (size_t)(nl + 1 - buf);
    memmove(buf, nl + 1, len - used);
    len -= used;
  }
}

int main(int argc, char **argv) {
  bypass(1);
  arm_fatal_signals();
  const char *out_path = 0;
  int print_cfg = 0, serve = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(0);
    else if (!strcmp(a, "--out") && i + 1 < argc) out_path = argv[++i];
    else if (!strcmp(a, "--digest-every") && i + 1 < argc) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(argv[++i], &end, 10);
      if (errno || *end || !*argv[i]) usage(2);
      g_digest_every = v;
    } else if (!strcmp(a, "--quiet")) g_quiet = 1;
    else if (!strcmp(a, "--free-run")) g_free_run = 1;
    else if (!strcmp(a, "--print-config")) print_cfg = 1;
    else if (!strcmp(a, "--serve")) serve = 1;
    else if (!strcmp(a, "--timeout-ms") && i + 1 < argc) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(argv[++i], &end, 10);
      if (errno || *end || !*argv[i] || !v) usage(2);
      g_timeout_ms = v;
    }
    else if (a[0] == '-' && a[1]) usage(2);
    else if (!g_trace_path) g_trace_path = a;
    else usage(2);
  }
  if (print_cfg) return print_config();
  if (serve) {
    if (out_path || g_free_run) usage(2);
    /* The configuration: with `--serve TRACE`, that trace's header (the server re-executes
     * itself once with it, before reading any input); else the environment's. A case whose
     * header differs from it is rejected (exit 2), never re-executed. */
    if (g_trace_path) {
      if (hkt_open(&g_f, g_trace_path, g_err, sizeof g_err)) die(2, "%s", g_err);
      match_config(&g_f, argv);
      hkt_close(&g_f);
      memset(&g_f, 0, sizeof g_f);
      g_trace_path = 0;
    }
    setenv("HAKMEM_REPLAY_REEXEC", "1", 1);
    /* the client may hold our stdin open read-write (a FIFO): its death must end us */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(0);
    if (hakmem_config) (void)hakmem_config(); /* initialise once: every child inherits it */
    serve_loop(&g_trace_path, &out_path);
  }
  if (!g_trace_path) usage(2);

  if (hkt_open(&g_f, g_trace_path, g_err, sizeof g_err)) die(2, "%s", g_err);
  static const char *const need[] = {"slab_size_bytes", "tiny_class_count", "pool_class_count"};
  if (hkt_require_config(&g_f, need, 3, g_err, sizeof g_err)) die(2, "%s", g_err);
  hkt_config(&g_f, "slab_size_bytes", &g_slab_bytes);
  if (!g_free_run) match_config(&g_f, argv);

  /* Pass 1: validate every slot, find the threads. */
  g_has_worker = map_anon(MAX_THREADS);
  g_claimed = map_anon(MAX_THREADS);
  uint32_t n_threads = 0;
  hkt_event_t ev;
  int r;
  while ((r = hkt_next(&g_f, &ev, g_err, sizeof g_err)) > 0) {
    int t = bound_thread(&ev);
    if (t >= 0) {
      g_has_worker[t] = 1;
      if ((uint32_t)t + 1 > n_threads) n_threads = (uint32_t)t + 1;
    }
  }
  if (r < 0) die(2, "%s", g_err);
  uint64_t n_events = g_f.next_event, holes = g_f.holes;
  hkt_rewind(&g_f);

  if (out_path) {
    g_out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (g_out_fd < 0) die(2, "hakmem-replay: cannot open --out %s", out_path);
  }
  out_s("hakmem-replay\t");
  out_u(OUTPUT_VERSION);
  out_c('\n');
  out_s("H\t");
  out_s(g_trace_path);
  out_tab();
  out_u(g_f.pid); out_tab();
  out_u(g_f.flags); out_tab();
  out_u(n_events); out_tab();
  out_u(n_threads); out_tab();
  out_s(g_f.recovered ? "recovered" : "complete");
  out_tab();
  out_u(holes);
  out_tab();
  out_s(g_free_run ? "free-run" : "ordered");
  out_c('\n');

  if (g_f.flags & HKT_FLAG_FORKED) {
    static const char m[] =
        "hakmem-replay: note: a forked child's trace (FORKED): it starts from the parent's heap,\n"
        "which the replay does not have; expect frees of unknown pointers and other placements\n";
    ssize_t w = write(2, m, sizeof m - 1);
    (void)w;
  }
  g_heap_lo = g_f.heap_base;
  g_heap_hi = g_f.heap_base + g_f.heap_bytes;
  if (g_free_run) return run_free_run(n_threads);

  g_have_locate = hakmem_locate != 0 && hakmem_config != 0;
  if (g_have_locate) (void)hakmem_config(); /* initialise the allocator (see claim_thread_index) */
  map_init(&g_ptrs, 1 << 16);
  map_init(&g_live, 1 << 16);
  map_init(&g_regions, 1 << 12);
  const char *abort_env = getenv("HAKMEM_ABORT_ON_ERROR");
  g_abort_on_error = abort_env && abort_env[0] == '1';
  g_workers = map_anon(sizeof(worker_t) * MAX_THREADS);
  uint64_t t0 = mono_ns();
  for (uint32_t t = 0; t < n_threads; t++) {
    if (!g_has_worker[t]) continue;
    g_workers[t].index = t;
    if (pthread_create(&g_workers[t].th, 0, worker_main, &g_workers[t]) != 0)
      die(2, "hakmem-replay: %s", "pthread_create failed");
  }
  baton_loop(-1);
  while (!atomic_load_explicit(&g_finished, memory_order_acquire)) wait_go(&g_main_go);
  uint64_t t1 = mono_ns();
  if (!g_digest_every || g_events % g_digest_every != 0 || g_events == 0) out_digest(g_events);
  char line[256];
  double secs = (double)(t1 - t0) / 1e9;
  snprintf(line, sizeof line, "S\t%llu\t%llu\t%llu\t%llu\t%llu\t%.6f\n",
           (unsigned long long)g_events, (unsigned long long)g_executed,
           (unsigned long long)g_skipped, (unsigned long long)g_null,
           (unsigned long long)g_mismatch, secs);
  out_s(line);
  out_flush();
  if (g_out_fd != 1) close(g_out_fd);
  _exit(g_mismatch || g_live_again ? 1 : 0);
}
