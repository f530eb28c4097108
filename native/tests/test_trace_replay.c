/* hakmem-replay against the real allocator.
 * An exact-mode trace of a mixed multi-threaded workload (tiny, pool, large,
 * aligned, calloc, realloc across paths, cross-thread frees, thread exits,
 * a double free) is replayed: every allocating event must land on the
 * recorded placement ("same"), the frees' verdicts must agree, and two
 * replays print the same lines and digests. Then the tool's edges: malformed
 * traces (exit 2, one line naming file, byte and event), --print-config,
 * --free-run, hakmem-replay-libc, --help and bad usage. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#include "hakmem.h"
#include "test_trace_util.h"

#define WORKERS 3
#define ROUNDS 3000

static void *volatile g_sink;
static void *g_shared[WORKERS][64];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg) {
  long id = (long)arg;
  uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull + 7;
  void *mine[128] = {0};
  for (int r = 0; r < ROUNDS; r++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned i = x & 127, kind = (x >> 8) % 100;
    if (mine[i]) {
      if (kind < 10) {
        /* hand it to another thread's slot (freed there: a remote free) */
        pthread_mutex_lock(&g_mu);
        void **s = &g_shared[(id + 1) % WORKERS][i & 63];
        if (*s) free(*s);
        *s = mine[i];
        pthread_mutex_unlock(&g_mu);
      } else if (kind < 25) {
        mine[i] = realloc(mine[i], 8 + (x >> 20) % 3000);
        continue;
      } else {
        free(mine[i]);
      }
      mine[i] = 0;
    } else {
      size_t sz = 8 + (x >> 20) % 1024;
      if (kind < 5) sz = 2048 + (x >> 20) % 50000;        /* pool */
      else if (kind < 6) sz = 60000 + (x >> 20) % 200000; /* large */
      if (kind >= 90 && kind < 94) {
        void *p = 0;
        if (posix_memalign(&p, 64u << (x >> 40) % 4, sz) == 0) mine[i] = p;
      } else if (kind >= 94 && kind < 97) {
        mine[i] = calloc(1 + (x >> 50) % 8, sz / 8 + 1);
      } else if (kind == 97) {
        mine[i] = memalign(4096, sz);
      } else {
        mine[i] = malloc(sz);
      }
    }
    if (r % 256 == 0) {
      pthread_mutex_lock(&g_mu);
      for (int k = 0; k < 64; k++)
        if (g_shared[id][k]) {
          free(g_shared[id][k]);
          g_shared[id][k] = 0;
        }
      pthread_mutex_unlock(&g_mu);
    }
  }
  for (int i = 0; i < 128; i++) free(mine[i]);
  return 0;
}

static int child_run(void) {
  g_sink = malloc(100);
  pthread_t th[WORKERS];
  for (long i = 0; i < WORKERS; i++) pthread_create(&th[i], 0, work, (void *)i);
  for (int i = 0; i < WORKERS; i++) pthread_join(th[i], 0);
  /* a second generation of threads (new indices, orphan adoption) */
  for (long i = 0; i < WORKERS; i++) pthread_create(&th[i], 0, work, (void *)(i + 10));
  for (int i = 0; i < WORKERS; i++) pthread_join(th[i], 0);
  for (int i = 0; i < WORKERS; i++)
    for (int k = 0; k < 64; k++) free(g_shared[i][k]);
  g_sink = malloc(40);
  free(g_sink);
  free(g_sink); /* a double free: INVALID, reported and replayed as such */
  return 0;
}

typedef struct out_stats {
  long a_lines, a_same, f_lines, f_agree, d_lines, s_lines, t_lines, other;
  int first_ok;
} out_stats_t;

static void parse_output(const char *text, out_stats_t *st) {
  memset(st, 0, sizeof *st);
  st->first_ok = strncmp(text, "hakmem-replay\t1\n", 16) == 0;
  for (const char *l = text; *l;) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    if (l[0] == 'A' && l[1] == '\t') {
      st->a_lines++;
      st->a_same += n >= 5 && memcmp(l + n - 5, "\tsame", 5) == 0;
    } else if (l[0] == 'F' && l[1] == '\t') {
      st->f_lines++;
      /* F ev thread recorded replay ... : agree when the two verdict words match */
      const char *p = l;
      int tab = 0;
      const char *w[5] = {0};
      for (const char *q = l; q < l + n && tab < 5; q++)
        if (*q == '\t') w[tab++] = q + 1;
      (void)p;
      if (tab >= 5) {
        size_t len3 = (size_t)(w[3] - w[2] - 1), len4 = (size_t)(w[4] - w[3] - 1);
        st->f_agree += (len3 == len4 && memcmp(w[2], w[3], len3) == 0) ||
                       (len4 == 7 && memcmp(w[3], "skipped", 7) == 0);
      }
    } else if (l[0] == 'D' && l[1] == '\t') st->d_lines++;
    else if (l[0] == 'S' && l[1] == '\t') st->s_lines++;
    else if (l[0] == 'T' && l[1] == '\t') st->t_lines++;
    else if (l[0] == 'H' || l[0] == 'h') {
    } else st->other++;
    l = nl ? nl + 1 : l + n;
  }
}

/* The output without its S line (its last field is a time). */
static void strip_summary(char *text) {
  char *s = strstr(text, "\nS\t");
  if (s) s[1] = 0;
}

static char g_replay[4096], g_replay_libc[4096];

static void test_exact_replay(const char *trace) {
  char out1[512], out2[512], err[512];
  snprintf(out1, sizeof out1, "%s/r1.out", g_dir);
  snprintf(out2, sizeof out2, "%s/r2.out", g_dir);
  char *argv1[] = {g_replay, "--digest-every", "1000", (char *)trace, 0};
  int rc = run_cmd(argv1, out1);
  CHECK(rc == 0, "replay exit %d (0: every placement as recorded)", rc);
  char *argv2[] = {g_replay, "--digest-every", "1000", "--out", out2, (char *)trace, 0};
  rc = run_cmd(argv2, 0);
  CHECK(rc == 0, "second replay (--out) exit %d", rc);
  char *t1 = slurp(out1, 0), *t2 = slurp(out2, 0);
  CHECK(t1 && t2, "outputs written");
  if (!t1 || !t2) return;
  out_stats_t st;
  parse_output(t1, &st);
  trace_data_t t;
  long n = load_trace(trace, &t, err, sizeof err);
  long allocs = 0, frees = 0, threads = 0;
  for (long i = 0; i < n; i++) {
    unsigned op = t.ev[i].op;
    allocs += (op == HKT_MALLOC || op == HKT_CALLOC || op == HKT_REALLOC ||
               (op >= HKT_POSIX_MEMALIGN && op <= HKT_PVALLOC));
    frees += op == HKT_FREE;
    threads += op == HKT_THREAD_START || op == HKT_THREAD_EXIT;
  }
  CHECK(st.first_ok, "first line names the format version");
  CHECK(st.a_lines == allocs, "an A line per allocating event (%ld of %ld)", st.a_lines, allocs);
  CHECK(st.a_same == st.a_lines, "every placement as recorded (%ld of %ld same)", st.a_same,
        st.a_lines);
  CHECK(st.f_lines == frees, "an F line per free (%ld of %ld)", st.f_lines, frees);
  CHECK(st.f_agree == st.f_lines, "every free verdict agrees (%ld of %ld)", st.f_agree, st.f_lines);
  CHECK(st.t_lines == threads, "a T line per thread start/exit (%ld of %ld)", st.t_lines, threads);
  CHECK(st.d_lines == n / 1000 + (n % 1000 != 0), "digest lines: %ld for %ld events", st.d_lines, n);
  CHECK(st.s_lines == 1 && st.other == 0, "one summary line, nothing unknown");
  CHECK(strstr(t1, "\tinvalid\tinvalid\t") != 0, "the double free replays as invalid");
  strip_summary(t1);
  strip_summary(t2);
  CHECK(strcmp(t1, t2) == 0, "two replays print the same lines and digests");
  free(t1);
  free(t2);
  free_trace(&t);
}

static void expect_malformed(const char *trace, const char *what, long off, const uint8_t *bytes,
                             size_t n, long truncate_to, const char *want) {
  char bad[512], errp[512], outp[512];
  snprintf(bad, sizeof bad, "%s/bad.hkt", g_dir);
  snprintf(errp, sizeof errp, "%s/bad.err", g_dir);
  snprintf(outp, sizeof outp, "%s/bad.out", g_dir);
  copy_file(trace, bad);
  if (off >= 0) {
    int fd = open(bad, O_WRONLY);
    if (pwrite(fd, bytes, n, off) != (ssize_t)n) perror("pwrite");
    close(fd);
  }
  if (truncate_to >= 0 && truncate(bad, truncate_to) != 0) perror("truncate");
  char *argv[] = {g_replay, bad, 0};
  int rc = run_cmd2(argv, outp, errp);
  char *e = slurp(errp, 0);
  CHECK(rc == 2, "%s: exit 2, got %d", what, rc);
  int lines = 0;
  for (char *p = e; p && *p; p++) lines += *p == '\n';
  CHECK(e && lines == 1 && strstr(e, bad) && strstr(e, "byte ") && strstr(e, want),
        "%s: one line naming file, byte and '%s': %s", what, want, e ? e : "(none)");
  free(e);
}

static void test_malformed(const char *trace) {
  uint8_t z = 0x00, ff = 0xFF, ext = 0x3F;
  uint8_t v2[4] = {3, 0, 0, 0}; /* versions 1 and 2 are known */
  expect_malformed(trace, "bad magic", 0, (const uint8_t *)"HKMTRACX", 8, -1, "magic");
  expect_malformed(trace, "version", 8, v2, 4, -1, "version");
  expect_malformed(trace, "crc", 300, &ff, 1, -1, "CRC");
  expect_malformed(trace, "short", -1, 0, 0, 100, "shorter than the header");
  expect_malformed(trace, "truncated", -1, 0, 0, 4096 + 16 * 50 + 8, "truncated");
  /* a flipped bit in slot 20's b: check byte, naming the event */
  uint8_t cur[16];
  int fd = open(trace, O_RDONLY);
  if (pread(fd, cur, 16, 4096 + 16 * 20) != 16) perror("pread");
  close(fd);
  uint8_t flipped = cur[12] ^ 0x10;
  expect_malformed(trace, "flipped bit", 4096 + 16 * 20 + 12, &flipped, 1, -1, "event ");
  expect_malformed(trace, "flipped bit (2)", 4096 + 16 * 20 + 12, &flipped, 1, -1, "check byte");
  /* an extension slot where a main slot is due: op 0x3F with a valid check */
  uint8_t slot[16] = {0};
  slot[0] = ext;
  slot[1] = hkt_check(ext, 0, 0, 0);
  expect_malformed(trace, "stray extension", 4096, slot, 16, -1, "extension slot");
  /* an unknown op with a valid check */
  slot[0] = 60;
  slot[1] = hkt_check(60, 0, 0, 0);
  expect_malformed(trace, "unknown op", 4096, slot, 16, -1, "unknown op");
  (void)z;
}

static void test_cli(const char *trace) {
  char out[512];
  snprintf(out, sizeof out, "%s/cfg.out", g_dir);
  char *argv[] = {g_replay, "--print-config", 0};
  CHECK(run_cmd(argv, out) == 0, "--print-config exits 0");
  char *t = slurp(out, 0);
  char want[128];
  snprintf(want, sizeof want, "superslab_size_bytes %llu\n",
           (unsigned long long)hakmem_config()->superslab_size_bytes);
  CHECK(t && strncmp(t, want, strlen(want)) == 0, "--print-config: %s", want);
  snprintf(want, sizeof want, "\ntiny_class_size_0 %llu\n",
           (unsigned long long)hakmem_config()->tiny_class_size[0]);
  CHECK(t && strstr(t, want), "--print-config lists the class tables");
  free(t);
  char *argv_h[] = {g_replay, "--help", 0};
  CHECK(run_cmd(argv_h, "/dev/null") == 0, "--help exits 0");
  char *argv_b[] = {g_replay, "--bogus", (char *)trace, 0};
  CHECK(run_cmd2(argv_b, "/dev/null", "/dev/null") == 2, "bad option exits 2");
  char *argv_n[] = {g_replay, 0};
  CHECK(run_cmd2(argv_n, "/dev/null", "/dev/null") == 2, "no trace exits 2");
  char *argv_f[] = {g_replay, "--free-run", (char *)trace, 0};
  CHECK(run_cmd(argv_f, out) == 0, "--free-run exits 0");
  t = slurp(out, 0);
  CHECK(t && strstr(t, "\nR\t"), "--free-run prints an R line");
  free(t);
  char *argv_l[] = {g_replay_libc, "--free-run", (char *)trace, 0};
  CHECK(run_cmd(argv_l, out) == 0, "hakmem-replay-libc --free-run exits 0");
  t = slurp(out, 0);
  CHECK(t && strstr(t, "\nR\t"), "hakmem-replay-libc prints an R line");
  free(t);
  char *argv_o[] = {g_replay_libc, "--quiet", (char *)trace, 0};
  int rc = run_cmd(argv_o, out);
  CHECK(rc == 0, "hakmem-replay-libc ordered replay exits 0 (got %d)", rc);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "run") == 0) return child_run();
  util_init();
  build_path(g_replay, sizeof g_replay, "hakmem-replay");
  build_path(g_replay_libc, sizeof g_replay_libc, "hakmem-replay-libc");
  char path[512];
  snprintf(path, sizeof path, "%s/mixed.hkt", g_dir);
  pid_t pid = spawn_traced(path, "exact", 1, "run", 0);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "traced child exit %d", st);
  test_exact_replay(path);
  test_malformed(path);
  test_cli(path);
  remove_dir();
  return finish();
}
