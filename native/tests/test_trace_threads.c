/* A pthreads producer/consumer recorded in fast and exact mode: producers
 * malloc, consumers free (remote frees), through a bounded ring. Checked in
 * the file: every thread has one THREAD_START before its calls and its
 * THREAD_EXIT after them; every free names a block handed out earlier in
 * trace order and not freed since (a block is freed before any call gets it
 * back); all verdicts OK; the call count is exact.
 * Then the fast-mode run is killed (SIGKILL) mid-way, several times: the file
 * it leaves is version 2 (per-thread chunks), and the reader's merge must give
 * the same guarantees on the recovered prefix (a free never precedes the
 * malloc of its block on another thread), every thread's calls between its
 * THREAD_START and its end, and no holes beyond one per thread.
 * Then a lock-free handoff (the consumer spins on a ring slot and frees at
 * once: the tightest race between a malloc's clock and the remote free's)
 * must also never put a free before its malloc in fast mode.
 * Last, which FREE clocks are fenced (hakmem_trace_fenced): none for blocks
 * the freeing thread allocated (tiny and pool), one per remote free, per
 * large block, and per free of a block in a slab adopted from an exited
 * thread (docs/trace-format.md, "Version 2"); and which events read the clock
 * at all (hakmem_trace_clock_reads): not those frees of the thread's own
 * blocks, nor mallocs served from the TLS list. */
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>

#include "test_trace_util.h"
#include "hakmem.h"

#define PAIRS 2
#define ITEMS 20000
#define RING 256

typedef struct ring {
  void *slot[RING];
  unsigned head, tail;
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
} ring_t;

static ring_t g_ring[PAIRS];
static unsigned g_items = ITEMS;

static void *producer(void *arg) {
  ring_t *r = arg;
  for (unsigned i = 0; i < g_items; i++) {
    size_t sz = 16 + (i * 37) % 2000;
    if (i % 500 == 0) sz = 30000; /* a pool block now and then */
    void *p = malloc(sz);
    memset(p, 1, 8);
    pthread_mutex_lock(&r->mu);
    while (r->head - r->tail == RING) pthread_cond_wait(&r->not_full, &r->mu);
    r->slot[r->head++ % RING] = p;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
  }
  return 0;
}

static void *consumer(void *arg) {
  ring_t *r = arg;
  for (unsigned i = 0; i < g_items; i++) {
    pthread_mutex_lock(&r->mu);
    while (r->head == r->tail) pthread_cond_wait(&r->not_empty, &r->mu);
    void *p = r->slot[r->tail++ % RING];
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->mu);
    free(p);
  }
  return 0;
}

#define SPSC_ITEMS 300000
static _Atomic(void *) g_spsc[64];

static void *spsc_producer(void *arg) {
  for (long i = 0; i < SPSC_ITEMS; i++) {
    void *p = malloc(16 + (size_t)(i % 200));
    unsigned k = (unsigned)(i % 64);
    while (atomic_load_explicit(&g_spsc[k], memory_order_acquire)) {
    }
    atomic_store_explicit(&g_spsc[k], p, memory_order_release);
  }
  return arg;
}

static void *spsc_consumer(void *arg) {
  for (long i = 0; i < SPSC_ITEMS; i++) {
    unsigned k = (unsigned)(i % 64);
    void *p;
    while (!(p = atomic_load_explicit(&g_spsc[k], memory_order_acquire))) {
    }
    atomic_store_explicit(&g_spsc[k], 0, memory_order_relaxed);
    free(p);
  }
  return arg;
}

static int child_spsc(void) {
  pthread_t a, b;
  pthread_create(&a, 0, spsc_producer, 0);
  pthread_create(&b, 0, spsc_consumer, 0);
  pthread_join(a, 0);
  pthread_join(b, 0);
  return 0;
}

static int child_run(void) {
  pthread_t th[2 * PAIRS];
  for (int i = 0; i < PAIRS; i++) {
    pthread_mutex_init(&g_ring[i].mu, 0);
    pthread_cond_init(&g_ring[i].not_empty, 0);
    pthread_cond_init(&g_ring[i].not_full, 0);
    pthread_create(&th[2 * i], 0, producer, &g_ring[i]);
    pthread_create(&th[2 * i + 1], 0, consumer, &g_ring[i]);
  }
  for (int i = 0; i < 2 * PAIRS; i++) pthread_join(th[i], 0);
  return 0;
}

/* ---- which frees fence their clock (child "fence", recorded in fast mode) ---- */
#define FN 500
static void *g_fb[FN];
static pthread_barrier_t g_fbar;

static size_t fence_size(int i) { return i % 10 == 0 ? 30000 : 16 + (size_t)(i % 900); }
static void *fence_local(void *arg) {
  uint64_t f0 = hakmem_trace_fenced();
  uint64_t c0 = hakmem_trace_clock_reads();
  for (int i = 0; i < FN; i++) g_fb[i] = malloc(fence_size(i));
  uint64_t c1 = hakmem_trace_clock_reads();
  for (int i = 0; i < FN; i++) free(g_fb[i]);
  uint64_t f1 = hakmem_trace_fenced();
  uint64_t c2 = hakmem_trace_clock_reads();
  CHECK(f1 == f0, "local tiny/pool frees: %llu fenced, expected 0", (unsigned long long)(f1 - f0));
  /* a free of a block this thread allocated keeps the thread's previous clock: no read */
  CHECK(c2 == c1, "local tiny/pool frees: %llu clock reads, expected 0",
        (unsigned long long)(c2 - c1));
  CHECK(c1 - c0 >= FN / 10, "first mallocs: %llu clock reads, expected at least the %d pool ones",
        (unsigned long long)(c1 - c0), FN / 10);
  /* the same sizes again: the tiny ones are TLS hits (no read), the pool ones read it */
  for (int i = 0; i < FN; i++) g_fb[i] = malloc(fence_size(i));
  uint64_t c3 = hakmem_trace_clock_reads();
  CHECK(c3 - c2 >= FN / 10 && c3 - c2 <= FN / 10 + FN / 20,
        "mallocs from the TLS lists: %llu clock reads, expected %d (pool) + a few refills",
        (unsigned long long)(c3 - c2), FN / 10);
  for (int i = 0; i < FN; i++) free(g_fb[i]);
  f1 = hakmem_trace_fenced();
  void *volatile big = malloc(4u << 20); /* volatile: the pair is not optimised away */
  free(big);
  uint64_t f2 = hakmem_trace_fenced();
  CHECK(f2 - f1 == 1, "local large free: %llu fenced, expected 1", (unsigned long long)(f2 - f1));
  return arg;
}
static void *fence_producer(void *arg) { /* stays alive (owner) while the consumer frees */
  for (int i = 0; i < FN; i++) g_fb[i] = malloc(fence_size(i));
  pthread_barrier_wait(&g_fbar);
  pthread_barrier_wait(&g_fbar);
  return arg;
}
static void *fence_consumer(void *arg) {
  pthread_barrier_wait(&g_fbar);
  uint64_t f0 = hakmem_trace_fenced(), c0 = hakmem_trace_clock_reads();
  for (int i = 0; i < FN; i++) free(g_fb[i]);
  uint64_t f1 = hakmem_trace_fenced(), c1 = hakmem_trace_clock_reads();
  CHECK(f1 - f0 == FN, "remote frees: %llu fenced, expected %d", (unsigned long long)(f1 - f0), FN);
  /* (plus any region event a free causes) */
  CHECK(c1 - c0 >= FN && c1 - c0 <= FN + 8, "remote frees: %llu clock reads, expected %d",
        (unsigned long long)(c1 - c0), FN);
  pthread_barrier_wait(&g_fbar);
  return arg;
}
#define ADOPT_SIZE 880 /* a tiny class (896) nothing else in this child uses */
static void *fence_dying(void *arg) { /* exits with live blocks: its slab is orphaned */
  for (int i = 0; i < 8; i++) g_fb[i] = malloc(ADOPT_SIZE);
  return arg;
}
static void *fence_adopter(void *arg) {
  void *volatile mine = malloc(ADOPT_SIZE); /* refill: takes the orphan */
  hakmem_placement_t a, b;
  hakmem_locate(mine, &a);
  hakmem_locate(g_fb[0], &b);
  CHECK(a.region_id == b.region_id && a.slab_index == b.slab_index,
        "the adopter's block is in the dead thread's slab (region %u slab %u, %u slab %u)",
        a.region_id, a.slab_index, b.region_id, b.slab_index);
  uint64_t f0 = hakmem_trace_fenced();
  for (int i = 0; i < 8; i++) free(g_fb[i]);
  free(mine);
  uint64_t f1 = hakmem_trace_fenced();
  CHECK(f1 - f0 == 9, "frees in an adopted slab: %llu fenced, expected 9 (all)",
        (unsigned long long)(f1 - f0));
  return arg;
}
static void run2(void *(*fn)(void *)) {
  pthread_t th;
  pthread_create(&th, 0, fn, 0);
  pthread_join(th, 0);
}
static int child_fence(void) {
  run2(fence_local);
  pthread_t p, c;
  pthread_barrier_init(&g_fbar, 0, 2);
  pthread_create(&p, 0, fence_producer, 0);
  pthread_create(&c, 0, fence_consumer, 0);
  pthread_join(p, 0);
  pthread_join(c, 0);
  run2(fence_dying);
  run2(fence_adopter);
  return g_fail ? 1 : 0; /* the parent prints the totals */
}

/* open-addressing set of live recorded pointers (test-local) */
#define SET_CAP (1u << 20)
static uint64_t *g_set;
static int set_op(uint64_t p, int op) { /* op 0 find, 1 insert, 2 erase */
  uint64_t i = (p * 0x9E3779B97F4A7C15ull) >> 44;
  while (g_set[i] && g_set[i] != p) i = (i + 1) & (SET_CAP - 1);
  if (op == 0) return g_set[i] == p;
  if (op == 1) {
    int had = g_set[i] == p;
    g_set[i] = p;
    return had;
  }
  if (g_set[i] != p) return 0;
  /* erase with backward shift */
  uint64_t j = i;
  for (;;) {
    j = (j + 1) & (SET_CAP - 1);
    if (!g_set[j]) break;
    uint64_t h = (g_set[j] * 0x9E3779B97F4A7C15ull) >> 44;
    if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
      g_set[i] = g_set[j];
      i = j;
    }
  }
  g_set[i] = 0;
  return 1;
}

static void check_trace(const char *mode, const char *path, int killed) {
  char err[512];
  trace_data_t t;
  long n = load_trace(path, &t, err, sizeof err);
  CHECK(n > 0, "%s: reads: %s", mode, n < 0 ? err : "empty");
  if (n <= 0) return;
  if (killed == 1) {
    CHECK(t.f.version == HKT_VERSION_CHUNKED && t.f.chunked, "%s: version 2 with chunks (%u)", mode,
          t.f.version);
    CHECK(t.f.recovered && !t.f.complete, "%s: read as recovered", mode);
    CHECK(t.f.holes <= 2 * PAIRS + 1, "%s: %llu holes (in-flight calls only)", mode,
          (unsigned long long)t.f.holes);
    CHECK(t.f.next_slot == t.f.n_slots, "%s: read to the end", mode);
  } else {
    CHECK(t.f.complete && t.f.version == HKT_VERSION, "%s: complete, version 1", mode);
  }
  memset(g_set, 0, SET_CAP * 8);
  int started[64] = {0}, exited[64] = {0}, calls_after_exit = 0, calls_before_start = 0;
  long mallocs = 0, frees = 0, bad_free = 0, reused_live = 0, bad_verdict = 0;
  long want = killed == 2 ? SPSC_ITEMS : (long)PAIRS * ITEMS;
  for (size_t i = 0; i < t.n; i++) {
    const hkt_event_t *e = &t.ev[i];
    unsigned tid = e->thread < 64 ? e->thread : 63;
    if (e->op == HKT_THREAD_START) started[tid]++;
    if (e->op == HKT_THREAD_EXIT) exited[tid]++;
    if (e->op >= HKT_MALLOC && e->op <= HKT_USABLE_SIZE) {
      calls_before_start += !started[tid];
      /* glibc's thread teardown may free(NULL) after the flush: allowed */
      calls_after_exit += exited[tid] != 0 && !(e->op == HKT_FREE && e->a == HKT_VERDICT_NULL);
    }
    if (e->op == HKT_MALLOC && e->b) {
      mallocs++;
      reused_live += set_op(e->b, 1);
    }
    if (e->op == HKT_FREE && e->a != HKT_VERDICT_NULL) {
      frees++;
      bad_verdict += e->a != HKT_VERDICT_OK;
      bad_free += !set_op(e->b, 2);
    }
  }
  CHECK(calls_before_start == 0, "%s: %d calls before their THREAD_START", mode, calls_before_start);
  CHECK(calls_after_exit == 0, "%s: %d calls after their THREAD_EXIT", mode, calls_after_exit);
  int workers_exited = 0;
  for (int i = 0; i < 64; i++) {
    CHECK(started[i] <= 1, "%s: thread %d started %d times", mode, i, started[i]);
    workers_exited += exited[i];
  }
  if (killed != 1) {
    CHECK(workers_exited >= 2, "%s: %d THREAD_EXITs", mode, workers_exited);
    CHECK(mallocs >= want, "%s: %ld mallocs", mode, mallocs);
    CHECK(frees >= want, "%s: %ld frees", mode, frees);
  } else {
    CHECK(mallocs > 1000 && frees > 1000, "%s: %ld mallocs, %ld frees before the kill", mode, mallocs,
          frees);
  }
  CHECK(reused_live == 0, "%s: %ld blocks handed out while live", mode, reused_live);
  CHECK(bad_free == 0, "%s: %ld frees of a block not live in trace order", mode, bad_free);
  CHECK(bad_verdict == 0, "%s: %ld frees with a verdict other than OK", mode, bad_verdict);
  free_trace(&t);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "run") == 0) return child_run();
  if (argc > 1 && strcmp(argv[1], "spsc") == 0) return child_spsc();
  if (argc > 1 && strcmp(argv[1], "fence") == 0) return child_fence();
  if (argc > 1 && strcmp(argv[1], "long") == 0) {
    g_items = 1u << 30; /* killed long before the end */
    return child_run();
  }
  util_init();
  g_set = calloc(SET_CAP, 8);
  const char *modes[2] = {"fast", "exact"};
  for (int m = 0; m < 2; m++) {
    char path[512];
    snprintf(path, sizeof path, "%s/pc-%s.hkt", g_dir, modes[m]);
    pid_t pid = spawn_traced(path, modes[m], 0, "run", 0);
    int st = wait_child(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child exit %d", modes[m], st);
    check_trace(modes[m], path, 0);
    if (m == 1) {
      /* the exact trace replays with every placement as recorded */
      char replay[4096], out[512];
      build_path(replay, sizeof replay, "hakmem-replay");
      snprintf(out, sizeof out, "%s/pc-exact.out", g_dir);
      char *argv2[] = {replay, "--quiet", path, 0};
      int rc = run_cmd(argv2, out);
      CHECK(rc == 0, "exact: hakmem-replay exit %d (0: every placement as recorded)", rc);
    }
  }
  for (int round = 0; round < 4; round++) {
    char path[512], what[64];
    snprintf(path, sizeof path, "%s/pc-killed-%d.hkt", g_dir, round);
    snprintf(what, sizeof what, "fast, SIGKILL round %d", round);
    pid_t pid = spawn_traced(path, "fast", round == 3, "long", 0);
    struct timespec ts = {0, (long)(30 + rnd() % 120) * 1000000L};
    nanosleep(&ts, 0);
    kill(pid, SIGKILL);
    int st = wait_child(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: killed", what);
    check_trace(what, path, 1);
  }
  for (int round = 0; round < 2; round++) {
    char path[512];
    snprintf(path, sizeof path, "%s/spsc-%d.hkt", g_dir, round);
    pid_t pid = spawn_traced(path, "fast", 0, "spsc", 0);
    int st = wait_child(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "spsc: child exit %d", st);
    check_trace("fast, lock-free handoff", path, 2);
  }
  {
    char path[512];
    snprintf(path, sizeof path, "%s/fence.hkt", g_dir);
    pid_t pid = spawn_traced(path, "fast", 0, "fence", 0);
    int st = wait_child(pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "fence: child exit %d (a fenced-clock count was wrong: FAIL lines above)", st);
  }
  free(g_set);
  remove_dir();
  return finish();
}
