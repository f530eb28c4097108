/* Round trip of the recorder: a child records a known sequence of every API
 * call in fast, exact and exact+internal modes; the file is read back with
 * the reader and each call is found, in order, with its arguments and
 * results. Also: the header, %p in the path, and the O_EXCL naming rule. */
#include <malloc.h>
#include <stdint.h>

#include "hakmem.h"
#include "test_trace_util.h"

#define START_MARK 12345
#define END_MARK 54321

static void *volatile g_sink[32];

static int child_sequence(void) {
  void *m = malloc(START_MARK);
  g_sink[0] = m;
  free(m);
  void *a = malloc(24);
  g_sink[1] = a;
  void *b = calloc(10, 10);
  g_sink[2] = b;
  void *c = realloc(a, 200);
  g_sink[3] = c;
  void *d = 0;
  if (posix_memalign(&d, 64, 100) != 0) return 3;
  g_sink[4] = d;
  void *e = aligned_alloc(256, 512);
  g_sink[5] = e;
  void *f = memalign(128, 1000);
  g_sink[6] = f;
  void *g = valloc(100);
  g_sink[7] = g;
  void *h = pvalloc(5000);
  g_sink[8] = h;
  size_t us = malloc_usable_size(b);
  g_sink[9] = (void *)us;
  void *big = malloc(300000);
  g_sink[10] = big;
  void *volatile null = 0; /* a literal free(NULL) is compiled away */
  free(null);
  free(b);
  free(c);
  free(d);
  free(e);
  free(f);
  free(g);
  free(h);
  free(big);
  void *end = malloc(END_MARK);
  g_sink[11] = end;
  free(end);
  return 0;
}

/* Sizes of 2^32 and more: the wide forms (every one of these fails: ENOMEM). */
static int child_wide(void) {
  volatile size_t tib = (size_t)1 << 40, n33 = (size_t)1 << 33, all = SIZE_MAX;
  g_sink[0] = malloc(START_MARK);
  g_sink[1] = malloc(tib);
  g_sink[2] = calloc(n33, 1024);
  g_sink[3] = calloc(all, 2); /* overflows */
  g_sink[4] = memalign(64, tib);
  g_sink[5] = realloc(g_sink[0], tib); /* fails: the old block stays */
  g_sink[6] = malloc(END_MARK);
  return 0;
}

static void check_wide(const char *path) {
  char err[512];
  trace_data_t t;
  long n = load_trace(path, &t, err, sizeof err);
  CHECK(n > 0, "wide: reads: %s", n < 0 ? err : "empty");
  long s = n > 0 ? find_event(&t, 0, HKT_MALLOC, START_MARK) : -1;
  CHECK(s >= 0 && s + 6 < n, "wide: marker");
  if (s < 0 || s + 6 >= n) {
    free_trace(&t);
    return;
  }
  const hkt_event_t *e = &t.ev[s + 1];
  CHECK(e[0].op == HKT_MALLOC && e[0].a == 0xFFFFFFFFu && e[0].n_ext == 1 &&
            e[0].ext_b[0] == 1ull << 40 && e[0].b == 0,
        "wide malloc: a 0xFFFFFFFF, ext1.b = size, failed");
  CHECK(e[1].op == HKT_CALLOC && e[1].a == 0xFFFFFFFFu && e[1].n_ext == 2 &&
            e[1].ext_b[0] == 1ull << 33 && e[1].ext_b[1] == 1024 && e[1].b == 0,
        "wide calloc: ext1.b = nmemb, ext2.b = size");
  CHECK(e[2].op == HKT_CALLOC && e[2].a == 0xFFFFFFFFu && e[2].n_ext == 2 &&
            e[2].ext_b[0] == UINT64_MAX && e[2].ext_b[1] == 2 && e[2].b == 0,
        "overflowing calloc: ext1.b = nmemb, ext2.b = size");
  CHECK(e[3].op == HKT_MEMALIGN && e[3].a == 0xFFFFFFFFu && e[3].n_ext == 2 &&
            e[3].ext_b[0] == 64 && e[3].ext_b[1] == 1ull << 40 && e[3].b == 0,
        "wide memalign: ext1.b = alignment, ext2.b = size");
  CHECK(e[4].op == HKT_REALLOC && e[4].a == 0xFFFFFFFFu && e[4].n_ext == 2 &&
            e[4].ext_b[0] == t.ev[s].b && e[4].ext_a[0] == ENOMEM && e[4].ext_b[1] == 1ull << 40 &&
            e[4].b == 0,
        "wide realloc: ext1.b = old pointer, ext1.a = ENOMEM, ext2.b = size");
  free_trace(&t);
  char replay[4096], out[512];
  build_path(replay, sizeof replay, "hakmem-replay");
  snprintf(out, sizeof out, "%s/wide.out", g_dir);
  char *argv[] = {replay, (char *)path, 0};
  int rc = run_cmd(argv, out);
  CHECK(rc == 0, "wide: replay exit %d", rc);
  char *text = slurp(out, 0);
  CHECK(text && strstr(text, "\tmalloc\t1099511627776\tnull\t-\t-\t-\t-\tsame\n"),
        "wide: the replay fails the same call the same way");
  free(text);
}

/* The API events of the main thread between the markers. */
static void check_sequence(const trace_data_t *t, const char *what, int exact, int internal,
                           pid_t child) {
  const hkt_file_t *f = &t->f;
  CHECK(f->complete && !f->recovered, "%s: COMPLETE flag set", what);
  CHECK(((f->flags & HKT_FLAG_EXACT) != 0) == exact, "%s: EXACT flag %d", what, exact);
  CHECK(((f->flags & HKT_FLAG_INTERNAL) != 0) == internal, "%s: INTERNAL flag", what);
  CHECK(!(f->flags & HKT_FLAG_FORKED), "%s: not FORKED", what);
  CHECK(f->pid == (uint64_t)child, "%s: pid %llu == %d", what, (unsigned long long)f->pid, child);
  CHECK(f->parent_pid == (uint64_t)getpid(), "%s: parent pid", what);
  CHECK(strncmp(f->comm, "test_trace_roun", 15) == 0, "%s: comm '%s'", what, f->comm);
  CHECK(f->end_time_ns >= f->start_time_ns && f->start_time_ns > 1600000000ull * 1000000000ull,
        "%s: times", what);
  CHECK(f->event_count == t->n && f->slot_count == (f->size - 4096) / 16,
        "%s: counts %llu events", what, (unsigned long long)f->event_count);
  CHECK(f->heap_base != 0 && f->heap_bytes != 0, "%s: heap range", what);
  uint64_t v;
  CHECK(hkt_config(f, "superslab_size_bytes", &v) == 0 && v == hakmem_config()->superslab_size_bytes,
        "%s: config superslab_size_bytes", what);
  CHECK(hkt_config(f, "tiny_class_size_0", &v) == 0 && v == hakmem_config()->tiny_class_size[0],
        "%s: config tiny_class_size_0", what);
  CHECK(hkt_config(f, "pool_class_size_0", &v) == 0, "%s: config pool_class_size_0", what);
  CHECK(hkt_config(f, "heap_reserve_bytes", &v) == 0 && v == f->heap_bytes,
        "%s: heap_bytes == heap_reserve_bytes", what);

  long s = find_event(t, 0, HKT_MALLOC, START_MARK);
  long e = s >= 0 ? find_event(t, (size_t)s, HKT_MALLOC, END_MARK) : -1;
  CHECK(s >= 0 && e > s, "%s: markers found (%ld, %ld)", what, s, e);
  if (s < 0 || e < 0) return;
  uint16_t tid = t->ev[s].thread;
  /* THREAD_START of the main thread before the first call */
  int started = 0;
  for (long i = 0; i < s; i++)
    if (t->ev[i].op == HKT_THREAD_START && t->ev[i].thread == tid) started = 1;
  CHECK(started, "%s: THREAD_START of thread %u before its calls", what, tid);
  /* a REGION_MAP covers the marker's block, before it */
  int covered = 0;
  for (long i = 0; i < s; i++)
    if (t->ev[i].op == HKT_REGION_MAP && t->ev[s].b >= t->ev[i].b &&
        t->ev[s].b < t->ev[i].b + t->ev[i].ext_b[0])
      covered = 1;
  CHECK(covered, "%s: REGION_MAP precedes the first block handed out of it", what);

  const hkt_event_t *seq[32];
  int n = 0;
  for (long i = s; i <= e && n < 32; i++)
    if (t->ev[i].op >= HKT_MALLOC && t->ev[i].op <= HKT_USABLE_SIZE && t->ev[i].thread == tid)
      seq[n++] = &t->ev[i];
  CHECK(n == 22, "%s: 22 API events between the markers, got %d", what, n);
  if (n != 22) return;
  uint64_t m = seq[0]->b;
  CHECK(m != 0, "%s: marker result", what);
  CHECK(seq[1]->op == HKT_FREE && seq[1]->b == m && seq[1]->a == HKT_VERDICT_OK, "%s: free(m)", what);
  CHECK(seq[2]->op == HKT_MALLOC && seq[2]->a == 24 && seq[2]->b, "%s: malloc(24)", what);
  CHECK(seq[3]->op == HKT_CALLOC && seq[3]->a == 100 && seq[3]->b, "%s: calloc(10,10)", what);
  CHECK(seq[4]->op == HKT_REALLOC && seq[4]->a == 200 && seq[4]->n_ext == 1 &&
            seq[4]->ext_b[0] == seq[2]->b && seq[4]->ext_a[0] == 0 && seq[4]->b,
        "%s: realloc(a, 200)", what);
  CHECK(seq[5]->op == HKT_POSIX_MEMALIGN && seq[5]->a == 100 && seq[5]->ext_b[0] == 64 &&
            seq[5]->ext_a[0] == 0 && seq[5]->b % 64 == 0 && seq[5]->b,
        "%s: posix_memalign", what);
  CHECK(seq[6]->op == HKT_ALIGNED_ALLOC && seq[6]->a == 512 && seq[6]->ext_b[0] == 256 &&
            seq[6]->b % 256 == 0 && seq[6]->b,
        "%s: aligned_alloc", what);
  CHECK(seq[7]->op == HKT_MEMALIGN && seq[7]->a == 1000 && seq[7]->ext_b[0] == 128 &&
            seq[7]->b % 128 == 0 && seq[7]->b,
        "%s: memalign", what);
  CHECK(seq[8]->op == HKT_VALLOC && seq[8]->a == 100 && seq[8]->ext_b[0] == 4096 &&
            seq[8]->b % 4096 == 0,
        "%s: valloc", what);
  CHECK(seq[9]->op == HKT_PVALLOC && seq[9]->a == 5000 && seq[9]->ext_b[0] == 4096 &&
            seq[9]->b % 4096 == 0,
        "%s: pvalloc", what);
  CHECK(seq[10]->op == HKT_USABLE_SIZE && seq[10]->b == seq[3]->b && seq[10]->ext_b[0] >= 100,
        "%s: malloc_usable_size", what);
  CHECK(seq[11]->op == HKT_MALLOC && seq[11]->a == 300000 && seq[11]->b, "%s: malloc(300000)", what);
  CHECK(seq[12]->op == HKT_FREE && seq[12]->a == HKT_VERDICT_NULL && seq[12]->b == 0,
        "%s: free(NULL)", what);
  const int freed[] = {3, 4, 5, 6, 7, 8, 9, 11};
  for (int i = 0; i < 8; i++)
    CHECK(seq[13 + i]->op == HKT_FREE && seq[13 + i]->a == HKT_VERDICT_OK &&
              seq[13 + i]->b == seq[freed[i]]->b,
          "%s: free #%d", what, i);
  CHECK(seq[21]->op == HKT_MALLOC && seq[21]->a == END_MARK, "%s: end marker", what);
  /* the large block's region is kind large */
  int large = 0;
  for (long i = 0; i < e; i++)
    if (t->ev[i].op == HKT_REGION_MAP && t->ev[i].ext_a[0] == HKT_REGION_LARGE &&
        seq[11]->b >= t->ev[i].b && seq[11]->b < t->ev[i].b + t->ev[i].ext_b[0])
      large = 1;
  CHECK(large, "%s: large REGION_MAP covers malloc(300000)", what);
  if (internal) {
    int refills = 0;
    for (size_t i = 0; i < t->n; i++) refills += t->ev[i].op == HKT_REFILL;
    CHECK(refills > 0, "%s: internal REFILL events recorded", what);
  } else {
    int internals = 0;
    for (size_t i = 0; i < t->n; i++) internals += t->ev[i].op >= HKT_REFILL;
    CHECK(internals == 0, "%s: no internal events without HAKMEM_TRACE_INTERNAL", what);
  }
}

static void run_mode(const char *mode, int internal) {
  char path[512], err[512], what[64];
  snprintf(path, sizeof path, "%s/rt-%s%s.hkt", g_dir, mode, internal ? "-int" : "");
  snprintf(what, sizeof what, "%s%s", mode, internal ? "+internal" : "");
  pid_t pid = spawn_traced(path, mode, internal, "child", 0);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child exit status %d", what, st);
  trace_data_t t;
  long n = load_trace(path, &t, err, sizeof err);
  CHECK(n > 0, "%s: trace reads: %s", what, n < 0 ? err : "empty");
  if (n > 0) check_sequence(&t, what, strcmp(mode, "exact") == 0, internal, pid);
  free_trace(&t);
}

static void test_naming(void) {
  char path[512], err[512], names[8][256];
  /* %p becomes the pid */
  snprintf(path, sizeof path, "%s/pp-%%p.hkt", g_dir);
  pid_t pid = spawn_traced(path, 0, 0, "child", 0);
  wait_child(pid);
  char want[512];
  snprintf(want, sizeof want, "%s/pp-%d.hkt", g_dir, pid);
  CHECK(access(want, R_OK) == 0, "%%p: %s exists", want);
  /* an existing PATH: STEM.PID.hkt */
  snprintf(path, sizeof path, "%s/same.hkt", g_dir);
  pid_t p1 = spawn_traced(path, 0, 0, "child", 0);
  wait_child(p1);
  pid_t p2 = spawn_traced(path, 0, 0, "child", 0);
  wait_child(p2);
  snprintf(want, sizeof want, "%s/same.%d.hkt", g_dir, p2);
  CHECK(access(want, R_OK) == 0, "existing PATH: %s exists", want);
  CHECK(count_files("same", names, 8) == 2, "two files for two runs");
  trace_data_t t;
  CHECK(load_trace(want, &t, err, sizeof err) > 0 && t.f.pid == (uint64_t)p2 && t.f.complete,
        "the second run's file is its own");
  free_trace(&t);
  /* STEM.PID.hkt taken as well: STEM.PID.1.hkt. The child waits on a pipe so
   * the parent can create the names first. */
  int fds[2];
  if (pipe(fds) != 0) return;
  fflush(stdout);
  pid_t p3 = fork();
  if (p3 == 0) {
    char c;
    close(fds[1]);
    if (read(fds[0], &c, 1) != 1) _exit(3);
    setenv("HAKMEM_TRACE", path, 1);
    execl(g_self, g_self, "child", (char *)0);
    _exit(127);
  }
  close(fds[0]);
  snprintf(want, sizeof want, "%s/same.%d.hkt", g_dir, p3);
  int fd = open(want, O_CREAT | O_WRONLY | O_EXCL, 0644);
  if (fd >= 0) close(fd);
  if (write(fds[1], "x", 1) != 1) return;
  close(fds[1]);
  wait_child(p3);
  snprintf(want, sizeof want, "%s/same.%d.1.hkt", g_dir, p3);
  CHECK(access(want, R_OK) == 0, "STEM.PID.hkt taken: %s exists", want);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return child_sequence();
  if (argc > 1 && strcmp(argv[1], "wide") == 0) return child_wide();
  util_init();
  run_mode("fast", 0);
  run_mode("exact", 0);
  run_mode("exact", 1);
  test_naming();
  {
    char path[512];
    snprintf(path, sizeof path, "%s/wide.hkt", g_dir);
    wait_child(spawn_traced(path, "exact", 0, "wide", 0));
    check_wide(path);
  }
  remove_dir();
  return finish();
}
