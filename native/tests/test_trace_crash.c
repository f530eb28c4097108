/* Crash safety: a traced multi-threaded child is killed with SIGKILL at
 * random points (several times); the file must read back as a recovered
 * trace with every slot valid (only op-0 holes of in-flight calls, at most
 * one per thread). A child dying of SIGSEGV and one calling abort() leave a
 * readable trace holding every call made before the crash. */
#include <pthread.h>
#include <sys/resource.h>
#include <stdint.h>

#include "test_trace_util.h"

#define THREADS 4
#define MARK_SIZE 7777

static void *volatile g_sink;

static void *churn(void *arg) {
  uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  void *live[256] = {0};
  for (;;) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned i = x & 255;
    if (live[i]) {
      free(live[i]);
      live[i] = 0;
    } else {
      size_t sz = (x >> 8) % 100 == 0 ? 20000 + (x >> 20) % 40000 : 8 + (x >> 20) % 1000;
      live[i] = (x >> 40) % 7 == 0 ? realloc(0, sz) : malloc(sz);
    }
  }
  return 0;
}

static int child_churn(void) {
  alarm(5); /* the parent SIGKILLs us long before; bounded if it dies first */
  pthread_t th[THREADS];
  for (long i = 0; i < THREADS; i++) pthread_create(&th[i], 0, churn, (void *)(i + 1));
  for (;;) pause();
  return 0;
}

static int child_segv(const char *how) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  for (int i = 0; i < 1000; i++) {
    void *p = malloc(16 + i % 512);
    g_sink = p;
    if (i % 2) free(p);
  }
  void *m = malloc(MARK_SIZE);
  g_sink = m;
  if (strcmp(how, "abort") == 0) abort();
  volatile uintptr_t addr = 16; /* a real fault, which the compiler cannot see coming */
  *(volatile int *)addr = 1;
  return 0;
}

static void check_recovered(const char *path, const char *what, int threads) {
  char err[512];
  trace_data_t t;
  long n = load_trace(path, &t, err, sizeof err);
  CHECK(n > 0, "%s: reads back: %s", what, n < 0 ? err : "no events");
  CHECK(!t.f.complete && t.f.recovered, "%s: COMPLETE clear, read as recovered", what);
  CHECK(t.f.holes <= (uint64_t)threads * 4, "%s: %llu holes (in-flight calls only)", what,
        (unsigned long long)t.f.holes);
  /* every slot before the last complete one parsed: the reader stopped at
   * its n_slots, i.e. the last non-zero slot */
  CHECK(t.f.next_slot == t.f.n_slots, "%s: read to the last non-zero slot", what);
  free_trace(&t);
}

static void test_sigkill(void) {
  for (int round = 0; round < 5; round++) {
    char path[512], what[64];
    snprintf(path, sizeof path, "%s/kill-%d.hkt", g_dir, round);
    snprintf(what, sizeof what, "SIGKILL round %d", round);
    pid_t pid = spawn_traced(path, round % 2 ? "exact" : "fast", round == 4, "churn", 0);
    struct timespec ts = {0, (long)(60 + rnd() % 150) * 1000000L}; /* >= 60 ms: a loaded machine may take 20 to start the child */
    nanosleep(&ts, 0);
    kill(pid, SIGKILL);
    int st = wait_child(pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: killed", what);
    check_recovered(path, what, THREADS + 1);
  }
}

static void test_signal_death(const char *how, int sig) {
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/%s.hkt", g_dir, how);
  pid_t pid = spawn_traced(path, "fast", 0, "segv", how);
  int st = wait_child(pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig, "%s: died of signal %d (status %d)", how, sig, st);
  check_recovered(path, how, 1);
  trace_data_t t;
  if (load_trace(path, &t, err, sizeof err) > 0) {
    long m = find_event(&t, 0, HKT_MALLOC, MARK_SIZE);
    CHECK(m >= 0 && t.ev[m].b != 0, "%s: the last call before the crash is in the file", how);
    long mallocs = 0;
    for (size_t i = 0; i < t.n; i++) mallocs += t.ev[i].op == HKT_MALLOC;
    CHECK(mallocs >= 1001, "%s: all %ld mallocs before the crash recorded", how, mallocs);
    CHECK(t.f.holes == 0, "%s: no holes in a single-threaded crash", how);
  }
  free_trace(&t);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "churn") == 0) return child_churn();
  if (argc > 2 && strcmp(argv[1], "segv") == 0) return child_segv(argv[2]);
  util_init();
  rnd_state ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
  test_sigkill();
  test_signal_death("segv", SIGSEGV);
  test_signal_death("abort", SIGABRT);
  remove_dir();
  return finish();
}
