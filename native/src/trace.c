/* trace.c: the crash-safe recorder (docs/trace-format.md is the contract).
 *
 * How it works, in one paragraph. Every event takes its slots from one global
 * counter (g_slot_next, one atomic fetch-and-add, no lock), so an event's
 * slots are consecutive and the slot index is the global order. The file is
 * mapped MAP_SHARED in windows of 64 MiB; a slot is written with two stores
 * (bytes 8..15, then bytes 0..7 with the op last as one aligned 8-byte store),
 * so it is either complete or has op 0. A store to a MAP_SHARED page is in the
 * kernel's page cache the moment it retires: a process killed by SIGKILL or a
 * signal leaves every completed slot on disk, with nothing to do at the signal.
 *
 * Limits: at most HKT_WINDOWS_MAX windows (16 G slots); past that, events
 * are dropped (the file stays valid). No malloc and no stdio in this file:
 * only syscalls, so it is safe inside the allocator and at its init.
 *
 * Closing: trace_close() adds HKT_CLOSED to the slot counter, which both
 * fixes slot_count and tells every later writer to drop its event; it then
 * waits (bounded) for writers still filling slots below slot_count, writes
 * the footer fields, replaces the windows with anonymous memory (so a very
 * late writer scribbles harmlessly instead of faulting) and truncates.
 */
#include "trace.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hakmem.h"
#include "hakmem_trace_merge.h"
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

int g_trace_enabled;
int g_trace_exact;
int g_trace_internal;
/* 1 while this process has a single thread: the slot counter then needs no
 * locked instruction (a plain load and store; the lock prefix was half of an
 * event's cost on one thread). Cleared, for good, by the pthread_create
 * wrapper before a second thread exists (process.c), or by a thread's first
 * allocator call if it was created some other way (tls.c). */
int g_trace_single;

#define HKT_WINDOW_BYTES (64ull << 20)
#define HKT_WINDOW_SLOTS (HKT_WINDOW_BYTES / HKT_SLOT_BYTES)
#define HKT_WINDOWS_MAX 4096u /* 4096 * 64 MiB = 256 GiB of trace */
#define HKT_CLOSED (1ull << 62)
/* how many trailing slots trace_close() checks for in-flight writers */
#define HKT_CLOSE_TAIL_SLOTS (1ull << 20)
#define HKT_CLOSE_WAIT_NS 200000000ull
#define HKT_PATH_MAX 4096

static int g_fd = -1;
/* The slot counter is written by every event of every thread: it gets a
 * cache line to itself, so the writes do not also evict what the fast path
 * only reads (the window table, the enabled flags). */
static struct {
  _Atomic uint64_t v;
  char pad[56];
} g_slot_counter __attribute__((aligned(64)));
#define g_slot_next (g_slot_counter.v) /* next free slot; HKT_CLOSED once closed */
static _Atomic uint64_t g_ext_slots;  /* extension slots written: event_count = slots - this */
static _Atomic int g_closing;
static uint8_t *_Atomic g_windows[HKT_WINDOWS_MAX];
static uint64_t g_file_bytes;         /* under g_window_lock */
static pthread_mutex_t g_window_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_exact_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static char g_path_template[HKT_PATH_MAX]; /* HAKMEM_TRACE as given */
static char g_path[HKT_PATH_MAX];          /* the file actually written */
static uint8_t g_header[HKT_HEADER_BYTES]; /* this process's header (the footer is patched in) */
static uint64_t g_heap_base, g_heap_bytes;
static uint32_t g_mode_flags;              /* EXACT | INTERNAL */
/* A forked child creates its file at its first event (window_map), not at
 * fork: a child that only execs leaves no file behind. */
static int g_lazy_open;                    /* under g_window_lock */
static uint32_t g_lazy_flags;
/* exec: between trace_exec_begin() and a failed exec's trace_exec_end() the
 * file is sealed (complete, truncated). Other threads' events wait for the
 * outcome instead of being dropped; the sealing thread records nothing. */
static _Atomic int g_exec_pause;
static __thread int t_exec_sealer;
static pid_t g_rec_pid; /* the process the open file belongs to (not a vfork child) */
#define HKT_EXEC_WAIT_NS 60000000000ull /* a paused writer gives up (drops) after 60 s */

/* Chunk mode (fast mode once a second thread exists; docs/trace-format.md,
 * "Version 2"). Each thread takes chunks of 64 slots from g_chunk_next, four
 * at a time (one atomic per 256 slots instead of one per event), and writes
 * only its own cache lines; each event carries a 16-bit clock delta so a reader, or the merge at
 * close, can put the threads' events back into one order. Chunks start at
 * g_chunk_base; slots below it are the ordered prefix written before the
 * switch. The writer state is per thread index (an index is only ever used by
 * its own thread: tls.c) so the fast path needs no TLS lookup. */
#define HKT_THREADS_MAX 65536u
typedef struct hkt_writer {
  uint8_t *ptr;          /* next free slot of the current chunk */
  uint8_t *hdr;          /* the chunk's header slot (to link the next chunk from) */
  uint64_t base;         /* clock base of the events being written */
  uint64_t hdr_b;        /* the header's b (its clock base) */
  uint32_t left;         /* free slots left in the chunk */
  uint32_t gen;          /* g_chunk_gen the chunk belongs to (stale: claim a new one) */
  _Atomic uint32_t busy; /* 1 while an event is being written (seal waits for 0) */
  uint64_t fenced;       /* clock reads fenced (lfence first): hakmem_trace_fenced() */
  uint64_t clocks;       /* clock reads (HKT_CLK_PREV reads none): hakmem_trace_clock_reads() */
  uint64_t last;         /* the clock of this thread's last event (HKT_CLK_PREV), in epoch gen */
  uint64_t spare_k;      /* the next of the chunks claimed ahead (HKT_CHUNK_CLAIM at a time) */
  uint32_t spare;        /* how many are left */
  uint32_t spare_gen;    /* g_chunk_gen when they were claimed (another epoch: not used) */
} __attribute__((aligned(64))) hkt_writer_t;
static hkt_writer_t g_writers[HKT_THREADS_MAX];
static _Atomic uint32_t g_writers_hi; /* 1 + the highest thread index that took a chunk */
static _Atomic int g_chunked;         /* chunk mode is on */
static uint64_t g_chunk_base;         /* P: slot of chunk 0 */
static uint64_t g_ordered = HKT_ORDERED_ALL; /* the header's ordered_slots (fast mode) */
static _Atomic uint32_t g_chunk_gen = 1;
static struct {
  _Atomic uint64_t v;
  char pad[56];
} g_chunk_counter __attribute__((aligned(64)));
#define g_chunk_next (g_chunk_counter.v) /* next chunk number; +HKT_CLOSED once sealed */
static int g_membarrier_ok;
/* HAKMEM_TRACE_CHUNKS=0: fast mode keeps the version-1 shared counter with
 * threads too (for comparisons: docs/benchmarks.md) */
static int g_chunks_off;
static int g_merge_failed; /* the last seal left the file version 2 */
/* the merge at close: cursors and heap for up to HKT_THREADS_MAX threads */
static hkt_merge_t g_merge;
static hkt_mcur_t g_merge_cur[HKT_THREADS_MAX];
static uint32_t g_merge_heap[HKT_THREADS_MAX];
static uint8_t g_merge_buf[1 << 20];

/* ---------------------------------------------------------------- helpers */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32). Bitwise: it runs twice per
 * process on 4 KiB, so a table buys nothing. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/* The header CRC: bytes 20..23, 48..71 and 76..79 taken as zero. */
static uint32_t header_crc(const uint8_t *h) {
  uint8_t tmp[HKT_HEADER_BYTES];
  memcpy(tmp, h, sizeof tmp);
  memset(tmp + 20, 0, 4);
  memset(tmp + 48, 0, 24);
  memset(tmp + 76, 0, 4);
  return crc32_ieee(tmp, sizeof tmp);
}

static size_t str_len(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

/* Append decimal v to buf at *pos (bounded by cap, always NUL terminated). */
static int append_str(char *buf, size_t *pos, size_t cap, const char *s) {
  size_t n = str_len(s);
  if (*pos + n + 1 > cap) return -1;
  memcpy(buf + *pos, s, n);
  *pos += n;
  buf[*pos] = 0;
  return 0;
}

static int append_u64(char *buf, size_t *pos, size_t cap, uint64_t v) {
  char tmp[24];
  int i = 23;
  tmp[i] = 0;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return append_str(buf, pos, cap, tmp + i);
}

static void write_err(const char *a, const char *b, int err) {
  char msg[HKT_PATH_MAX + 128];
  size_t pos = 0;
  msg[0] = 0;
  append_str(msg, &pos, sizeof msg, "hakmem: trace: ");
  append_str(msg, &pos, sizeof msg, a);
  append_str(msg, &pos, sizeof msg, b);
  if (err) {
    append_str(msg, &pos, sizeof msg, " (errno ");
    append_u64(msg, &pos, sizeof msg, (uint64_t)err);
    append_str(msg, &pos, sizeof msg, ")");
  }
  append_str(msg, &pos, sizeof msg, "\n");
  ssize_t r = write(2, msg, pos);
  (void)r;
}

/* ------------------------------------------------------------ file naming */

/* PATH with %p replaced by pid ("%%" is a literal %). */
static int expand_path(const char *tmpl, uint64_t pid, char *out, size_t cap) {
  size_t pos = 0;
  out[0] = 0;
  for (size_t i = 0; tmpl[i]; i++) {
    if (tmpl[i] == '%' && tmpl[i + 1] == 'p') {
      if (append_u64(out, &pos, cap, pid)) return -1;
      i++;
    } else if (tmpl[i] == '%' && tmpl[i + 1] == '%') {
      if (append_str(out, &pos, cap, "%")) return -1;
      i++;
    } else {
      char c[2] = {tmpl[i], 0};
      if (append_str(out, &pos, cap, c)) return -1;
    }
  }
  return 0;
}

/* Create the trace file with O_EXCL: PATH, else STEM.PID.hkt, else
 * STEM.PID.N.hkt for N = 1, 2, ... (STEM is PATH without a final ".hkt"). */
static int open_trace_file(uint64_t pid) {
  char base[HKT_PATH_MAX];
  if (expand_path(g_path_template, pid, base, sizeof base)) {
    write_err("path too long: ", g_path_template, 0);
    return -1;
  }
  int fd = open(base, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    memcpy(g_path, base, str_len(base) + 1);
    return fd;
  }
  if (errno != EEXIST) {
    write_err("cannot create ", base, errno);
    return -1;
  }
  size_t stem_len = str_len(base);
  if (stem_len >= 4 && memcmp(base + stem_len - 4, ".hkt", 4) == 0) stem_len -= 4;
  for (uint64_t n = 0; n < 10000; n++) {
    char path[HKT_PATH_MAX];
    size_t pos = 0;
    if (stem_len + 1 > sizeof path) return -1;
    memcpy(path, base, stem_len);
    path[stem_len] = 0;
    pos = stem_len;
    if (append_str(path, &pos, sizeof path, ".") || append_u64(path, &pos, sizeof path, pid))
      return -1;
    if (n > 0 && (append_str(path, &pos, sizeof path, ".") ||
                  append_u64(path, &pos, sizeof path, n)))
      return -1;
    if (append_str(path, &pos, sizeof path, ".hkt")) return -1;
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      memcpy(g_path, path, pos + 1);
      return fd;
    }
    if (errno != EEXIST) {
      write_err("cannot create ", path, errno);
      return -1;
    }
  }
  write_err("no free file name for ", base, 0);
  return -1;
}

/* ------------------------------------------------------------------ header */

static void read_comm(char out[64]) {
  memset(out, 0, 64);
  int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, 63);
  close(fd);
  if (n <= 0) {
    memset(out, 0, 64);
    return;
  }
  for (ssize_t i = 0; i < n; i++)
    if (out[i] == '\n') out[i] = 0;
}

static void build_header(uint64_t pid, uint64_t ppid, uint32_t flags) {
  uint8_t *h = g_header;
  memset(h, 0, HKT_HEADER_BYTES);
  memcpy(h + 0, HKT_MAGIC, 8);
  int fast = !(flags & HKT_FLAG_EXACT) && !g_chunks_off;
  put_u32(h + 8, fast ? HKT_VERSION_CHUNKED : HKT_VERSION);
  put_u32(h + 12, HKT_HEADER_BYTES);
  put_u32(h + 16, HKT_SLOT_BYTES);
  put_u32(h + 20, flags);
  put_u64(h + 24, pid);
  put_u64(h + 32, ppid);
  put_u64(h + 40, now_ns());
  hakmem_config_entry_t entries[HKT_CONFIG_MAX_ENTRIES];
  memset(entries, 0, sizeof entries);
  unsigned n = hakmem_config_entries(entries, HKT_CONFIG_MAX_ENTRIES);
  if (n > HKT_CONFIG_MAX_ENTRIES) n = HKT_CONFIG_MAX_ENTRIES;
  put_u32(h + 72, n);
  read_comm((char *)h + 80);
  put_u64(h + 144, g_heap_base);
  put_u64(h + 152, g_heap_bytes);
  if (fast) put_u64(h + HKT_ORDERED_OFFSET, g_ordered);
  for (unsigned i = 0; i < n; i++) {
    uint8_t *e = h + HKT_CONFIG_OFFSET + i * HKT_CONFIG_ENTRY_BYTES;
    memcpy(e, entries[i].name, 32);
    e[31] = 0;
    put_u64(e + 32, entries[i].value);
  }
  put_u32(h + 76, header_crc(h));
}

static int write_header(void) {
  size_t done = 0;
  while (done < HKT_HEADER_BYTES) {
    ssize_t w = pwrite(g_fd, g_header + done, HKT_HEADER_BYTES - done, (off_t)done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    done += (size_t)w;
  }
  return 0;
}

/* ----------------------------------------------------------------- windows */

static int open_file(uint32_t flags);

/* A forked child's first event: create its file now (under g_window_lock).
 * On failure recording stays off for this process (events are dropped). */
__attribute__((cold)) static void lazy_open_locked(void) {
  g_lazy_open = 0;
  if (open_file(g_lazy_flags) != 0) __atomic_store_n(&g_trace_enabled, 0, __ATOMIC_RELEASE);
}

/* Slow path: grow the file and map window w (under g_window_lock). */
__attribute__((noinline, cold)) static uint8_t *window_map(uint64_t w) {
  if (w >= HKT_WINDOWS_MAX) return 0;
  pthread_mutex_lock(&g_window_lock);
  uint8_t *p = atomic_load_explicit(&g_windows[w], memory_order_acquire);
  if (!p && g_fd < 0 && g_lazy_open) lazy_open_locked();
  if (!p && g_fd >= 0) {
    uint64_t need = HKT_HEADER_BYTES + (w + 1) * HKT_WINDOW_BYTES;
    int ok = 1;
    if (need > g_file_bytes) {
      if (ftruncate(g_fd, (off_t)need) == 0)
        g_file_bytes = need;
      else
        ok = 0;
    }
    if (ok) {
      void *m = mmap(0, HKT_WINDOW_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, g_fd,
                     (off_t)(HKT_HEADER_BYTES + w * HKT_WINDOW_BYTES));
      if (m != MAP_FAILED) {
        p = (uint8_t *)m;
        atomic_store_explicit(&g_windows[w], p, memory_order_release);
      }
    }
  }
  pthread_mutex_unlock(&g_window_lock);
  return p;
}

static inline uint8_t *slot_ptr(uint64_t s) {
  uint64_t w = s / HKT_WINDOW_SLOTS;
  uint8_t *p = w < HKT_WINDOWS_MAX ? atomic_load_explicit(&g_windows[w], memory_order_acquire) : 0;
  if (__builtin_expect(!p, 0)) {
    p = window_map(w);
    if (!p) return 0;
  }
  return p + (s % HKT_WINDOW_SLOTS) * HKT_SLOT_BYTES;
}

/* Bytes 8..15 first, then bytes 0..7 (op, check, c, a) as one 8-byte store:
 * the op is never visible without the rest. */
static inline void slot_store(uint8_t *p, uint8_t op, uint16_t c, uint32_t a, uint64_t b) {
  uint64_t lo = (uint64_t)op | ((uint64_t)hkt_check(op, c, a, b) << 8) | ((uint64_t)c << 16) |
                ((uint64_t)a << 32);
  __atomic_store_n((uint64_t *)(p + 8), b, __ATOMIC_RELAXED);
  __atomic_store_n((uint64_t *)p, lo, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------- fast path */

/* Slow path of trace_event: the counter says closed. If that is an exec's
 * seal (and this is not the sealing thread), wait for the exec's outcome: a
 * successful exec ends this thread with the image; a failed one reopens the
 * file and the event takes a fresh slot. Returns the slot, or HKT_CLOSED. */
__attribute__((noinline, cold)) static uint64_t exec_paused_retry(_Atomic uint64_t *counter,
                                                                 unsigned n) {
  if (t_exec_sealer) return HKT_CLOSED;
  uint64_t deadline = 0;
  for (;;) {
    if (!atomic_load_explicit(&g_exec_pause, memory_order_acquire)) {
      if (!__atomic_load_n(&g_trace_enabled, __ATOMIC_ACQUIRE)) return HKT_CLOSED;
      uint64_t s = atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
      if (s < HKT_CLOSED || !atomic_load_explicit(&g_exec_pause, memory_order_acquire)) return s;
      continue; /* sealed again by another exec: wait again */
    }
    if (!deadline) deadline = mono_ns() + HKT_EXEC_WAIT_NS;
    else if (mono_ns() > deadline) return HKT_CLOSED;
    sched_yield();
  }
}

/* The chunk-mode clock: the TSC (rdtsc, ~7 ns; rdtscp measured ~2x dearer
 * here, most of an event's cost). Ordering against other threads: a thread's
 * stores become visible only after its earlier rdtsc has executed, so the
 * thread that publishes a pointer (malloc, then a store) always has the
 * earlier clock. The thread that receives it may execute rdtsc before the
 * load that received it has completed, so a FREE of a block that may have
 * been allocated on another thread fences first (lfence: every earlier load
 * done; ~9 ns here, as much as the rdtsc). The caller decides (the clock
 * mode, trace.h: api.c's hk_free_clock and malloc_full); a FREE of a block
 * this thread allocated itself, and a malloc served from the TLS list, read
 * no clock at all and keep the thread's previous one (HKT_CLK_PREV): their
 * inputs are this thread's own, so an earlier clock cannot put them before
 * anything they depend on, and what depends on them on other threads happens
 * after the call, later than either clock. See docs/trace-format.md,
 * "Version 2". Elsewhere CLOCK_MONOTONIC (vDSO). */
#ifndef HKT_CLOCK_FENCE
/* 0: never, 1: as the caller asks, 2: every event (and no HKT_CLK_PREV),
 * 3: every FREE (the rule before the caller decided; for measurements) */
#define HKT_CLOCK_FENCE 1
#endif
static inline int hkt_fence_wanted(uint8_t op, int clk) {
  return HKT_CLOCK_FENCE == 2 || (HKT_CLOCK_FENCE == 1 && clk == HKT_CLK_FENCED) ||
         (HKT_CLOCK_FENCE == 3 && op == HKT_FREE);
}
static inline uint64_t hkt_clock(int fence) {
#if defined(__x86_64__) || defined(__i386__)
  if (fence) _mm_lfence();
  return __rdtsc();
#else
  (void)fence;
  return mono_ns();
#endif
}

static void writers_hi_raise(uint32_t n) {
  uint32_t cur = atomic_load_explicit(&g_writers_hi, memory_order_relaxed);
  while (cur < n &&
         !atomic_compare_exchange_weak_explicit(&g_writers_hi, &cur, n, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

#define HKT_CHUNK_CLAIM 4u /* chunks a thread claims at once (4 x 64 slots = 4 KiB) */

/* Slow path of chunk_event: the chunk is stale, full, or the clock moved more
 * than 16 bits from its base. Returns 1 with room for `need` slots and
 * *tp - w->base < 2^16 (*tp is read again after waiting out an exec), 0 to
 * drop the event (closed, or out of space). */
__attribute__((noinline)) static int chunk_slow(hkt_writer_t *w, uint16_t tid, uint64_t *tp,
                                                unsigned need) {
  uint64_t t = *tp;
  uint32_t gen = atomic_load_explicit(&g_chunk_gen, memory_order_acquire);
  if (w->gen == gen && w->left >= need + 1) {
    /* only the clock: re-base it inside the chunk */
    slot_store(w->ptr, HKT_OP_CLOCK, 0, 0, t);
    w->ptr += HKT_SLOT_BYTES;
    w->left--;
    w->base = t;
    return 1;
  }
  uint64_t k;
  if (w->spare && w->spare_gen == gen) {
    k = w->spare_k++; /* claimed ahead, in this epoch: no shared line touched */
    w->spare--;
  } else {
    /* Claim HKT_CHUNK_CLAIM consecutive chunks: one atomic on the shared counter per
     * 256 slots, and a thread's chunks fill whole pages. Spares of an earlier epoch
     * are dropped (a seal renumbers the chunks); claimed, never written chunks read
     * as empty (docs/trace-format.md, "Version 2"). */
    k = atomic_fetch_add_explicit(&g_chunk_next, HKT_CHUNK_CLAIM, memory_order_relaxed);
    if (__builtin_expect(k >= HKT_CLOSED, 0)) {
      /* sealed: an exec's outcome is awaited without counting as busy (the
       * seal waits for busy writers) */
      atomic_store_explicit(&w->busy, 0, memory_order_release);
      k = exec_paused_retry(&g_chunk_next, HKT_CHUNK_CLAIM);
      atomic_store_explicit(&w->busy, 1, memory_order_relaxed);
      atomic_thread_fence(memory_order_seq_cst);
      if (k >= HKT_CLOSED) return 0;
      t = *tp = hkt_clock(0); /* after a wait (system calls): earlier loads are long done */
      w->spare = 0; /* which epoch they are in is not known: not used */
    } else {
      w->spare_k = k + 1;
      w->spare = HKT_CHUNK_CLAIM - 1;
      w->spare_gen = gen;
    }
  }
  gen = atomic_load_explicit(&g_chunk_gen, memory_order_acquire);
  if (w->gen != gen) {
    w->hdr = 0; /* a new epoch (first chunk, or after a seal): nothing to link from */
    w->gen = gen;
  }
  w->left = 0;
  if (k >= 0xFFFFFFFFull) return 0;
  uint8_t *p = slot_ptr(g_chunk_base + k * HKT_CHUNK_SLOTS);
  if (!p) return 0;
  slot_store(p, HKT_OP_CHUNK, tid, 0, t);
  /* link after the header is written, events after the link: a crash leaves
   * either an unlinked empty chunk or a complete link */
  if (w->hdr) slot_store(w->hdr, HKT_OP_CHUNK, tid, (uint32_t)k, w->hdr_b);
  else writers_hi_raise((uint32_t)tid + 1);
  w->hdr = p;
  w->hdr_b = t;
  w->base = t;
  w->ptr = p + HKT_SLOT_BYTES;
  w->left = HKT_CHUNK_SLOTS - 1;
  return 1;
}

static inline void chunk_event(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, unsigned n_ext,
                               const uint32_t *ext_a, const uint64_t *ext_b, int clk) {
  hkt_writer_t *w = &g_writers[tid];
  atomic_store_explicit(&w->busy, 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst); /* the seal's membarrier orders it for the CPU */
  uint32_t gen = atomic_load_explicit(&g_chunk_gen, memory_order_relaxed);
  uint64_t t;
  if (clk == HKT_CLK_PREV && w->gen == gen && HKT_CLOCK_FENCE < 2) {
    t = w->last; /* nothing another thread did since then can have changed this call */
  } else {
    int fence = hkt_fence_wanted(op, clk);
    w->fenced += (unsigned)fence;
    w->clocks++;
    t = hkt_clock(fence);
  }
  unsigned need = 1 + n_ext;
  if (__builtin_expect(w->gen != gen || w->left < need || t - w->base > 0xFFFFu, 0)) {
    if (!chunk_slow(w, tid, &t, need)) goto out;
  }
  w->last = t;
  uint8_t *p = w->ptr;
  for (unsigned i = 0; i < n_ext; i++)
    slot_store(p + (i + 1) * HKT_SLOT_BYTES, HKT_OP_EXT, 0, ext_a ? ext_a[i] : 0,
               ext_b ? ext_b[i] : 0);
  slot_store(p, (uint8_t)((op & HKT_OP_MASK) | (n_ext << HKT_EXT_SHIFT)), (uint16_t)(t - w->base),
             a, b);
  w->ptr = p + need * HKT_SLOT_BYTES;
  w->left -= need;
out:
  atomic_store_explicit(&w->busy, 0, memory_order_release);
}

static inline void record(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, unsigned n_ext,
                          const uint32_t *ext_a, const uint64_t *ext_b, int clk) {
  if (n_ext > 3) n_ext = 3;
  uint64_t s;
  if (__builtin_expect(g_trace_single, 1)) {
    s = atomic_load_explicit(&g_slot_next, memory_order_relaxed);
    atomic_store_explicit(&g_slot_next, s + 1 + n_ext, memory_order_relaxed);
  } else if (atomic_load_explicit(&g_chunked, memory_order_acquire)) {
    chunk_event(op, tid, a, b, n_ext, ext_a, ext_b, clk);
    return;
  } else {
    s = atomic_fetch_add_explicit(&g_slot_next, 1 + n_ext, memory_order_relaxed);
  }
  if (__builtin_expect(s >= HKT_CLOSED, 0)) {
    s = exec_paused_retry(&g_slot_next, 1 + n_ext);
    if (s >= HKT_CLOSED) return; /* closed meanwhile: drop */
  }
  if (n_ext) {
    atomic_fetch_add_explicit(&g_ext_slots, n_ext, memory_order_relaxed);
    for (unsigned i = 0; i < n_ext; i++) {
      uint8_t *e = slot_ptr(s + 1 + i);
      if (e) slot_store(e, HKT_OP_EXT, 0, ext_a ? ext_a[i] : 0, ext_b ? ext_b[i] : 0);
    }
  }
  uint8_t *p = slot_ptr(s);
  if (p) slot_store(p, (uint8_t)((op & HKT_OP_MASK) | (n_ext << HKT_EXT_SHIFT)), tid, a, b);
}

/* Any event; a FREE or REALLOC recorded here (no caller's decision) is fenced: both may consume
 * a pointer another thread produced (realloc's old block), and must not be stamped before it. */
void trace_event(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, unsigned n_ext,
                 const uint32_t *ext_a, const uint64_t *ext_b) {
  record(op, tid, a, b, n_ext, ext_a, ext_b,
         op == HKT_FREE || op == HKT_REALLOC ? HKT_CLK_FENCED : HKT_CLK_NOW);
}

void trace_event_clk(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, int clk) {
  record(op, tid, a, b, 0, 0, 0, clk);
}

/* The sum of one writer counter over the threads that took a chunk. */
static uint64_t writers_sum(size_t field) {
  uint32_t hi = atomic_load_explicit(&g_writers_hi, memory_order_acquire);
  uint64_t n = 0;
  for (uint32_t i = 0; i < hi && i < HKT_THREADS_MAX; i++)
    n += __atomic_load_n((const uint64_t *)((const char *)&g_writers[i] + field), __ATOMIC_RELAXED);
  return n;
}

__attribute__((visibility("default"))) uint64_t hakmem_trace_fenced(void) {
  return writers_sum(offsetof(hkt_writer_t, fenced));
}

__attribute__((visibility("default"))) uint64_t hakmem_trace_clock_reads(void) {
  return writers_sum(offsetof(hkt_writer_t, clocks));
}

/* -------------------------------------------------------------- open/close */

/* The number of threads of this process from /proc/self/status ("Threads:"),
 * 0 if it cannot be read. Syscalls only. */
static unsigned proc_thread_count(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  for (ssize_t i = 0; i + 8 < n; i++) {
    if ((i == 0 || buf[i - 1] == '\n') && memcmp(buf + i, "Threads:", 8) == 0) {
      unsigned v = 0;
      for (ssize_t j = i + 8; j < n && buf[j] != '\n'; j++)
        if (buf[j] >= '0' && buf[j] <= '9') v = v * 10 + (unsigned)(buf[j] - '0');
      return v;
    }
  }
  return 0;
}

/* Switch a fast-mode recording to chunks (before a second thread exists, or
 * at a thread's first call if it was created some other way). The ordered
 * prefix ends 4 slots past the counter: a thread still in single mode can
 * finish at most one event (<= 4 slots) there. */
static void chunks_begin(void) {
  pthread_mutex_lock(&g_window_lock);
  uint64_t s = atomic_load(&g_slot_next);
  if (!g_chunks_off && !atomic_load(&g_chunked) && s < HKT_CLOSED && (g_fd >= 0 || g_lazy_open)) {
    g_ordered = s + 4;
    g_chunk_base = hkt_chunk_base(g_ordered);
    atomic_store(&g_chunk_next, 0);
    atomic_fetch_add(&g_chunk_gen, 1);
    if (g_fd >= 0) {
      put_u64(g_header + HKT_ORDERED_OFFSET, g_ordered);
      put_u32(g_header + 76, header_crc(g_header));
      write_header();
    }
    atomic_store_explicit(&g_chunked, 1, memory_order_release);
  }
  pthread_mutex_unlock(&g_window_lock);
}

void trace_threads_begin(void) {
  if (__atomic_load_n(&g_trace_single, __ATOMIC_RELAXED)) {
    if (__atomic_load_n(&g_trace_enabled, __ATOMIC_ACQUIRE) && !g_trace_exact &&
        !(g_mode_flags & HKT_FLAG_EXACT))
      chunks_begin();
    __atomic_store_n(&g_trace_single, 0, __ATOMIC_SEQ_CST);
  }
}

/* Open a file for this process (pid/ppid/flags given), write its header and
 * map window 0. Returns 0 on success; on failure recording stays off. */
/* Create this process's file and write its header (no window mapped yet). */
static int open_file(uint32_t flags) {
  uint64_t pid = (uint64_t)getpid();
  g_fd = open_trace_file(pid);
  if (g_fd < 0) return -1;
  g_rec_pid = (pid_t)pid;
  build_header(pid, (uint64_t)getppid(), flags);
  g_file_bytes = 0;
  if (write_header() != 0) {
    write_err("cannot write ", g_path, errno);
    close(g_fd);
    g_fd = -1;
    return -1;
  }
  return 0;
}

static void reset_slots(void) {
  atomic_store(&g_slot_next, 0);
  atomic_store(&g_ext_slots, 0);
  atomic_store(&g_chunked, 0);
  atomic_store(&g_chunk_next, 0);
  atomic_fetch_add(&g_chunk_gen, 1);
  atomic_store(&g_writers_hi, 0);
  g_ordered = HKT_ORDERED_ALL;
  g_chunk_base = 0;
  for (unsigned w = 0; w < HKT_WINDOWS_MAX; w++) atomic_store(&g_windows[w], 0);
}

static int open_recording(uint32_t flags) {
  reset_slots();
  if (open_file(flags) != 0) return -1;
  if (!window_map(0)) {
    write_err("cannot write ", g_path, errno);
    close(g_fd);
    g_fd = -1;
    return -1;
  }
  return 0;
}

void trace_init(const hakmem_config_t *cfg, uint64_t heap_base, uint64_t heap_bytes) {
  (void)cfg;
  if (g_fd >= 0 || g_trace_enabled) return;
  const char *path = getenv("HAKMEM_TRACE");
  if (!path || !path[0]) return;
  size_t n = str_len(path);
  if (n >= sizeof g_path_template) {
    write_err("path too long: ", path, 0);
    return;
  }
  memcpy(g_path_template, path, n + 1);
  const char *mode = getenv("HAKMEM_TRACE_MODE");
  int exact = mode && strcmp(mode, "exact") == 0;
  if (mode && mode[0] && !exact && strcmp(mode, "fast") != 0)
    write_err("unknown HAKMEM_TRACE_MODE (fast|exact), using fast: ", mode, 0);
  const char *internal = getenv("HAKMEM_TRACE_INTERNAL");
  int intern = internal && internal[0] == '1';
  const char *chunks = getenv("HAKMEM_TRACE_CHUNKS");
  g_chunks_off = chunks && chunks[0] == '0';
  g_heap_base = heap_base;
  g_heap_bytes = heap_bytes;
  g_mode_flags = (exact ? HKT_FLAG_EXACT : 0) | (intern ? HKT_FLAG_INTERNAL : 0);
  if (open_recording(g_mode_flags) != 0) return;
  g_membarrier_ok =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#ifndef HAKMEM_PREFIX /* the wrappers that end single-thread mode exist only in the .so */
  g_trace_single = proc_thread_count() == 1;
#endif
  if (!g_trace_single && !exact) chunks_begin();
  g_trace_exact = exact;
  g_trace_internal = intern;
  atomic_store(&g_closing, 0);
  __atomic_store_n(&g_trace_enabled, 1, __ATOMIC_RELEASE);
}

/* Wait (bounded) until no slot in [from, to) has op 0. Returns 1 if none has. */
static int wait_tail_complete(uint64_t from, uint64_t to) {
  uint64_t deadline = mono_ns() + HKT_CLOSE_WAIT_NS;
  for (uint64_t s = from; s < to; s++) {
    uint64_t w = s / HKT_WINDOW_SLOTS;
    uint8_t *base = atomic_load_explicit(&g_windows[w], memory_order_acquire);
    if (!base) return 0; /* a writer failed to map: its slot is a hole */
    const uint8_t *p = base + (s % HKT_WINDOW_SLOTS) * HKT_SLOT_BYTES;
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) == 0) {
      if (mono_ns() > deadline) return 0;
      sched_yield();
    }
  }
  return 1;
}

/* Fix slot_count (any later writer sees HKT_CLOSED), wait (bounded) for the
 * writers still filling slots below it, write the footer (COMPLETE when no
 * slot is missing), swap the windows for anonymous memory (a writer that
 * still holds a window pointer then writes into nothing instead of faulting
 * on a page past EOF) and truncate. Returns the slots kept in the file. The
 * descriptor stays open. */
/* Stop the chunk writers: later claims see HKT_CLOSED; the generation bump
 * makes every writer claim again before its next event; the membarrier makes
 * each thread's busy flag and the new generation visible to each other (an
 * asymmetric fence: the writers pay nothing for it); then wait (bounded) for
 * the events in flight. Returns 1 if none is left. */
static int chunks_stop(uint64_t *n_chunks) {
  uint64_t k = atomic_fetch_add(&g_chunk_next, HKT_CLOSED);
  *n_chunks = k >= HKT_CLOSED ? k - HKT_CLOSED : k;
  atomic_fetch_add(&g_chunk_gen, 1);
  if (!g_membarrier_ok ||
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    struct timespec ms = {0, 1000000}; /* no membarrier: a store buffer drains well within */
    nanosleep(&ms, 0);
  }
  uint64_t deadline = mono_ns() + HKT_CLOSE_WAIT_NS;
  uint32_t hi = atomic_load(&g_writers_hi);
  for (uint32_t i = 0; i < hi; i++) {
    while (atomic_load_explicit(&g_writers[i].busy, memory_order_acquire)) {
      if (mono_ns() > deadline) return 0;
      sched_yield();
    }
  }
  return 1;
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
  while (n) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

/* Buffered output of the merge: slots appended to fd after the header. */
typedef struct {
  int fd;
  size_t used;
  uint64_t slots, events;
  int failed;
} merge_out_t;

static inline __attribute__((always_inline)) void out_slot(merge_out_t *o, const uint8_t *p,
                                                           uint16_t c, int rewrite_c) {
  if (__builtin_expect(o->used == sizeof g_merge_buf, 0)) {
    uint64_t off = HKT_HEADER_BYTES + (o->slots - o->used / HKT_SLOT_BYTES) * HKT_SLOT_BYTES;
    if (write_all(o->fd, g_merge_buf, o->used, off)) o->failed = 1;
    o->used = 0;
  }
  uint8_t *d = g_merge_buf + o->used;
  memcpy(d, p, HKT_SLOT_BYTES);
  if (rewrite_c) {
    uint32_t a;
    uint64_t b;
    memcpy(&a, p + 4, 4);
    memcpy(&b, p + 8, 8);
    memcpy(d + 2, &c, 2);
    d[1] = hkt_check(p[0], c, a, b);
  }
  o->used += HKT_SLOT_BYTES;
  o->slots++;
}

/* The merge at close (under g_window_lock, writers stopped): write the
 * ordered prefix and then the chunks' events in merged order to PATH.merge as
 * a version-1 trace, and rename it over PATH. Returns the slots written, or
 * UINT64_MAX if the merge failed (the version-2 file is left as it is). */
/* The header of a sealed version-1 file: flags (COMPLETE when every slot is whole; FORKED kept),
 * version 1, no chunk area, end time, counts, CRC. Under g_window_lock. */
static void header_seal_v1(int complete, uint64_t slots, uint64_t events) {
  uint8_t *h = g_header;
  uint32_t flags = g_mode_flags | (complete ? HKT_FLAG_COMPLETE : 0);
  if (h[20] & HKT_FLAG_FORKED) flags |= HKT_FLAG_FORKED;
  put_u32(h + 8, HKT_VERSION);
  put_u64(h + HKT_ORDERED_OFFSET, 0);
  put_u32(h + 20, flags);
  put_u64(h + 48, now_ns());
  put_u64(h + 56, slots);
  put_u64(h + 64, events);
  put_u32(h + 76, header_crc(h));
}

/* After a seal: the file's windows become anonymous memory, so a straggler's late store lands
 * nowhere. Under g_window_lock. */
static void windows_drop(void) {
  for (unsigned w = 0; w < HKT_WINDOWS_MAX; w++) {
    uint8_t *p = atomic_load(&g_windows[w]);
    if (p)
      mmap(p, HKT_WINDOW_BYTES, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  }
}

static uint64_t merge_to_v1(uint64_t n_chunks, int complete) {
  uint64_t file_slots = g_file_bytes > HKT_HEADER_BYTES ? (g_file_bytes - HKT_HEADER_BYTES) / HKT_SLOT_BYTES : 0;
  uint64_t n_slots = g_chunk_base + n_chunks * HKT_CHUNK_SLOTS;
  if (n_slots > file_slots) n_slots = file_slots;
  char tmp[HKT_PATH_MAX];
  size_t pos = 0;
  if (append_str(tmp, &pos, sizeof tmp, g_path) || append_str(tmp, &pos, sizeof tmp, ".merge"))
    return UINT64_MAX;
  int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    write_err("cannot create ", tmp, errno);
    return UINT64_MAX;
  }
  const uint8_t *map = 0;
  if (g_file_bytes) {
    void *m = mmap(0, g_file_bytes, PROT_READ, MAP_SHARED, g_fd, 0);
    if (m != MAP_FAILED) map = (const uint8_t *)m;
  }
  merge_out_t o = {fd, 0, 0, 0, 0};
  int ok = map != 0;
  if (ok) {
    const uint8_t *body = map + HKT_HEADER_BYTES;
    uint64_t prefix = g_chunk_base < n_slots ? g_chunk_base : n_slots;
    for (uint64_t s = 0; s < prefix; s++) {
      const uint8_t *p = body + s * HKT_SLOT_BYTES;
      if (p[0] == 0) { /* a hole (or the gap before the chunks): its extensions go too */
        while (s + 1 < prefix && body[(s + 1) * HKT_SLOT_BYTES] == HKT_OP_EXT) s++;
        continue;
      }
      if (p[0] != HKT_OP_EXT) o.events++;
      out_slot(&o, p, 0, 0);
    }
    hkt_merge_t *m = &g_merge;
    m->body = body;
    m->n_slots = n_slots;
    m->chunk_base = g_chunk_base;
    m->cur = g_merge_cur;
    m->heap = g_merge_heap;
    m->cap = HKT_THREADS_MAX;
    m->trusted = 1; /* our own slots, just written: the check bytes are right */
    uint64_t slot;
    uint16_t tid;
    int r = hkt_merge_begin(m);
    while (r == 0 && (r = hkt_merge_next(m, &slot, &tid)) > 0) {
      const uint8_t *p = body + slot * HKT_SLOT_BYTES;
      unsigned n = p[0] >> HKT_EXT_SHIFT;
      out_slot(&o, p, tid, 1);
      for (unsigned i = 1; i <= n; i++) out_slot(&o, p + i * HKT_SLOT_BYTES, 0, 0);
      o.events++;
      r = 0;
    }
    if (r < 0) {
      write_err("cannot merge the chunks of ", g_path, 0);
      ok = 0;
    }
    if (m->holes) complete = 0;
  }
  if (ok && o.used) {
    uint64_t off = HKT_HEADER_BYTES + (o.slots - o.used / HKT_SLOT_BYTES) * HKT_SLOT_BYTES;
    if (write_all(fd, g_merge_buf, o.used, off)) o.failed = 1;
  }
  if (map) munmap((void *)map, g_file_bytes);
  if (ok && !o.failed) {
    uint8_t *h = g_header;
    header_seal_v1(complete, o.slots, o.events);
    if (write_all(fd, h, HKT_HEADER_BYTES, 0) == 0 &&
        ftruncate(fd, (off_t)(HKT_HEADER_BYTES + o.slots * HKT_SLOT_BYTES)) == 0 &&
        syscall(SYS_renameat, AT_FDCWD, tmp, AT_FDCWD, g_path) == 0) {
      close(g_fd);
      g_fd = fd;
      g_file_bytes = HKT_HEADER_BYTES + o.slots * HKT_SLOT_BYTES;
      return o.slots;
    }
    /* the header of the version-2 file was never touched: restore ours */
    put_u32(h + 8, HKT_VERSION_CHUNKED);
    put_u64(h + HKT_ORDERED_OFFSET, g_ordered);
    put_u32(h + 76, header_crc(h));
    write_err("cannot write ", tmp, errno);
  }
  close(fd);
  unlink(tmp);
  return UINT64_MAX;
}

/* seal() in chunk mode: stop the writers, merge into version 1 (a file of
 * its own, renamed over the version-2 one, which stays whole until then), and
 * swap the windows for anonymous memory. If the merge fails, the file stays
 * version 2, COMPLETE clear: readers recover it as after a crash. */
static uint64_t seal_chunked(void) {
  atomic_fetch_add(&g_slot_next, HKT_CLOSED); /* a single-mode straggler drops its event */
  uint64_t n_chunks;
  int complete = chunks_stop(&n_chunks);
  pthread_mutex_lock(&g_window_lock);
  uint64_t written = 0;
  if (g_fd >= 0) {
    written = merge_to_v1(n_chunks, complete);
    g_merge_failed = written == UINT64_MAX;
    windows_drop();
    if (written == UINT64_MAX) { /* left as version 2: footer fields only */
      uint8_t *h = g_header;
      put_u64(h + 48, now_ns());
      put_u32(h + 76, header_crc(h));
      write_header();
      written = g_chunk_base + n_chunks * HKT_CHUNK_SLOTS;
    }
  }
  pthread_mutex_unlock(&g_window_lock);
  return written;
}

static uint64_t seal(void) {
  if (atomic_load(&g_chunked)) return seal_chunked();
  uint64_t slot_count = atomic_fetch_add(&g_slot_next, HKT_CLOSED);
  if (slot_count >= HKT_CLOSED) slot_count -= HKT_CLOSED; /* cannot happen: sealing is once */
  uint64_t tail = slot_count > HKT_CLOSE_TAIL_SLOTS ? slot_count - HKT_CLOSE_TAIL_SLOTS : 0;
  uint64_t max_slots = (uint64_t)HKT_WINDOWS_MAX * HKT_WINDOW_SLOTS;
  uint64_t written = slot_count < max_slots ? slot_count : max_slots;
  int complete = wait_tail_complete(tail, written) && written == slot_count;
  pthread_mutex_lock(&g_window_lock);
  if (g_fd >= 0) {
    uint64_t ext = atomic_load(&g_ext_slots);
    /* a fast-mode file that never went to chunks is in order: version 1 */
    header_seal_v1(complete, written, written >= ext ? written - ext : 0);
    write_header();
    windows_drop();
    g_file_bytes = HKT_HEADER_BYTES + written * HKT_SLOT_BYTES;
    if (ftruncate(g_fd, (off_t)g_file_bytes) != 0) write_err("cannot truncate ", g_path, errno);
  }
  pthread_mutex_unlock(&g_window_lock);
  return written;
}

void trace_close(void) {
  if (!__atomic_load_n(&g_trace_enabled, __ATOMIC_ACQUIRE)) return;
  if (atomic_exchange(&g_closing, 1)) return;
  int exact = g_trace_exact;
  if (exact) trace_exact_lock();
  __atomic_store_n(&g_trace_enabled, 0, __ATOMIC_RELEASE);
  seal();
  pthread_mutex_lock(&g_window_lock);
  if (g_fd >= 0) close(g_fd);
  g_fd = -1;
  g_lazy_open = 0; /* a forked child that never recorded: no file at all */
  pthread_mutex_unlock(&g_window_lock);
  if (exact) trace_exact_unlock();
}

/* -------------------------------------------------------------------- exec */

static uint64_t g_sealed_slots; /* slots in the file while an exec is pending */

int trace_exec_applies(void) {
  if (!trace_on()) return 0;
  pthread_mutex_lock(&g_window_lock);
  int opened = g_fd >= 0;
  pthread_mutex_unlock(&g_window_lock);
  if (!opened) return 0; /* a forked child that has recorded nothing: no file to seal */
  /* A vfork (or posix_spawn) child shares our memory and descriptors: its exec
   * must not seal the parent's file (nor touch the parent's thread state). */
  return getpid() == g_rec_pid;
}

int trace_exec_begin(uint16_t tid) {
  if (!trace_exec_applies()) return 0;
  if (atomic_exchange(&g_closing, 1)) return 0;
  trace_event(HKT_EXEC, tid, 0, 0, 0, 0, 0);
  t_exec_sealer = 1;
  atomic_store_explicit(&g_exec_pause, 1, memory_order_release);
  g_sealed_slots = seal();
  return 1;
}

void trace_exec_end(uint16_t tid, int err, int sealed) {
  if (!sealed) return;
  if (g_merge_failed) {
    /* The file was left version 2 (its merge failed): its chunk area cannot
     * become an ordered prefix. Recording stops here; the file reads as a
     * recovered trace up to the exec. */
    write_err("recording stopped after a failed exec: ", g_path, 0);
    __atomic_store_n(&g_trace_enabled, 0, __ATOMIC_RELEASE);
    t_exec_sealer = 0;
    atomic_store_explicit(&g_exec_pause, 0, memory_order_release);
    return;
  }
  /* The exec failed: reopen the same file where it was sealed. */
  pthread_mutex_lock(&g_window_lock);
  for (unsigned w = 0; w < HKT_WINDOWS_MAX; w++) {
    uint8_t *p = atomic_load(&g_windows[w]);
    if (p) munmap(p, HKT_WINDOW_BYTES);
    atomic_store(&g_windows[w], 0);
  }
  uint8_t *h = g_header;
  put_u32(h + 20, (uint32_t)h[20] & ~HKT_FLAG_COMPLETE);
  int chunked = atomic_load(&g_chunked);
  if (!(g_mode_flags & HKT_FLAG_EXACT) && !g_chunks_off) {
    /* fast mode again: the sealed slots are the ordered prefix */
    g_ordered = chunked ? g_sealed_slots : HKT_ORDERED_ALL;
    put_u32(h + 8, HKT_VERSION_CHUNKED);
    put_u64(h + HKT_ORDERED_OFFSET, g_ordered);
  }
  put_u32(h + 76, header_crc(h));
  write_header();
  if (chunked) {
    g_chunk_base = hkt_chunk_base(g_sealed_slots);
    atomic_fetch_add(&g_chunk_gen, 1);
  }
  pthread_mutex_unlock(&g_window_lock);
  atomic_store(&g_closing, 0);
  if (chunked) atomic_store(&g_chunk_next, 0);
  atomic_store(&g_slot_next, g_sealed_slots);
  t_exec_sealer = 0;
  atomic_store_explicit(&g_exec_pause, 0, memory_order_release);
  trace_event(HKT_EXEC, tid, (uint32_t)err, 0, 0, 0, 0);
}

/* -------------------------------------------------------------- exact lock */

/* A recursive pthread mutex: the owning thread may re-enter (a region event
 * inside a malloc, trace_close() from the destructor) and it never
 * allocates. (A hand-made futex lock measured slower here: ~20 ns per
 * lock/unlock pair against ~11 ns.) */
void trace_exact_lock(void) { pthread_mutex_lock(&g_exact_lock); }
void trace_exact_unlock(void) { pthread_mutex_unlock(&g_exact_lock); }

/* In a fork child only the forking thread exists, but the mutex names the
 * parent's thread id as its owner, so it cannot be unlocked: re-initialise
 * it. A later trace_exact_unlock() by the atfork chain then fails with
 * EPERM and changes nothing. */
static void exact_reinit(void) {
  pthread_mutex_t fresh = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
  memcpy(&g_exact_lock, &fresh, sizeof fresh);
}

/* -------------------------------------------------------------------- fork */

/* Only the exact lock is taken across fork. The window lock is innermost (it
 * is taken inside allocator locks when a region event maps a new window), so
 * holding it across the allocator's own atfork locking could deadlock; the
 * child does not need it anyway: it forgets the parent's windows and
 * re-initialises the lock. */
void trace_atfork_prepare(void) {
  if (g_trace_enabled && g_trace_exact) trace_exact_lock();
}

void trace_atfork_parent(void) {
  if (g_trace_enabled && g_trace_exact) trace_exact_unlock();
}

void trace_atfork_child(void) {
  t_exec_sealer = 0;
  atomic_store(&g_exec_pause, 0);
  if (!g_trace_enabled || atomic_load(&g_closing)) {
    if (g_trace_exact) exact_reinit();
    return;
  }
  /* Stop recording into the parent's file: forget its windows (munmap in the
   * child removes only the child's view) and its descriptor. Never write,
   * truncate or close the parent's file's contents. */
  __atomic_store_n(&g_trace_enabled, 0, __ATOMIC_RELEASE);
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  memcpy(&g_window_lock, &fresh, sizeof fresh);
  for (unsigned w = 0; w < HKT_WINDOWS_MAX; w++) {
    uint8_t *p = atomic_load(&g_windows[w]);
    if (p) munmap(p, HKT_WINDOW_BYTES);
    atomic_store(&g_windows[w], 0);
  }
  if (g_fd >= 0) close(g_fd);
  g_fd = -1;
  /* The exact lock was taken in prepare (by the allocator's handler and by
   * ours): only this thread exists now, so it is simply free. A later
   * trace_exact_unlock() by the atfork chain finds it not ours and returns. */
  exact_reinit();
  /* The child's own file is created at its first event (window_map). Only
   * the forking thread exists in the child. */
  reset_slots();
#ifndef HAKMEM_PREFIX
  g_trace_single = 1;
#endif
  g_lazy_flags = g_mode_flags | HKT_FLAG_FORKED;
  g_lazy_open = 1;
  __atomic_store_n(&g_trace_enabled, 1, __ATOMIC_RELEASE);
}

void trace_fork_parent(uint16_t tid, uint64_t child_pid) {
  trace_ev0(HKT_FORK, tid, 0, child_pid);
}

/* The path of the file being written ("" when not recording). For tests. */
const char *trace_path(void) { return g_fd >= 0 ? g_path : ""; }
