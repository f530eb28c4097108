/* fork and exec under recording.
 * fork: the traced parent forks (with a second thread busy allocating, so
 * the fork happens mid-traffic); the child records into its own file
 * (STEM.PID.hkt, FORKED, parent_pid = the parent) and the parent's file
 * stays valid, complete, and holds none of the child's calls.
 * exec: a traced process execs itself; the new image records into its own
 * file (PATH exists, so STEM.PID.hkt) and the old image's events stay readable. */
#include <pthread.h>
#include <stdint.h>

#include "test_trace_util.h"

#define PARENT_MARK 1111
#define CHILD_MARK 2222
#define PARENT_AFTER_MARK 3333
#define EXEC_BEFORE_MARK 4444
#define EXEC_AFTER_MARK 5555

static void *volatile g_sink;
static volatile int g_stop;

static void *busy(void *arg) {
  for (long i = 0; !g_stop && i < 2000000; i++) { /* bounded: a hung child cannot fill the disk */
    void *p = malloc(64);
    g_sink = p;
    free(p);
  }
  return arg;
}

static int child_fork(void) {
  g_sink = malloc(PARENT_MARK);
  pthread_t th;
  pthread_create(&th, 0, busy, 0);
  struct timespec ts = {0, 5000000};
  nanosleep(&ts, 0);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 100; i++) {
      void *p = malloc(CHILD_MARK);
      g_sink = p;
      free(p);
    }
    _exit(0); /* the child's destructors do not run: its trace is read as recovered */
  }
  int st = 0;
  waitpid(pid, &st, 0);
  g_stop = 1;
  pthread_join(th, 0);
  g_sink = malloc(PARENT_AFTER_MARK);
  /* a second child that exits normally (destructors run: COMPLETE) */
  pid = fork();
  if (pid == 0) {
    g_sink = malloc(CHILD_MARK);
    exit(0);
  }
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 4;
}

static int child_exec(const char *self) {
  g_sink = malloc(EXEC_BEFORE_MARK);
  execl(self, self, "after-exec", (char *)0);
  return 5;
}

static int child_after_exec(void) {
  g_sink = malloc(EXEC_AFTER_MARK);
  return 0;
}

static int has_mark(const trace_data_t *t, uint32_t size) { return find_event(t, 0, HKT_MALLOC, size) >= 0; }

static void test_fork(const char *mode) {
  char path[512], err[512], names[8][256], prefix[64];
  snprintf(prefix, sizeof prefix, "fork-%s", mode);
  snprintf(path, sizeof path, "%s/%s.hkt", g_dir, prefix);
  pid_t pid = spawn_traced(path, mode, 0, "fork", 0);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: traced parent exit %d", mode, st);
  int n = count_files(prefix, names, 8);
  CHECK(n == 3, "%s: three files (parent and two children), got %d", mode, n);
  int parents = 0, children = 0, complete_children = 0;
  for (int i = 0; i < n && i < 8; i++) {
    trace_data_t t;
    long k = load_trace(names[i], &t, err, sizeof err);
    CHECK(k > 0, "%s: %s reads: %s", mode, names[i], k < 0 ? err : "empty");
    if (k <= 0) {
      free_trace(&t);
      continue;
    }
    if (t.f.pid == (uint64_t)pid) {
      parents++;
      CHECK(strcmp(names[i], path) == 0, "%s: the parent keeps PATH", mode);
      CHECK(t.f.complete && !(t.f.flags & HKT_FLAG_FORKED), "%s: parent complete, not FORKED", mode);
      CHECK(has_mark(&t, PARENT_MARK) && has_mark(&t, PARENT_AFTER_MARK),
            "%s: parent's calls before and after fork", mode);
      CHECK(!has_mark(&t, CHILD_MARK), "%s: none of the children's calls in the parent", mode);
    } else {
      children++;
      char want[512];
      snprintf(want, sizeof want, "%s/%s.%llu.hkt", g_dir, prefix, (unsigned long long)t.f.pid);
      CHECK(strcmp(names[i], want) == 0, "%s: child file named %s", mode, want);
      CHECK(t.f.flags & HKT_FLAG_FORKED, "%s: child FORKED", mode);
      CHECK(t.f.parent_pid == (uint64_t)pid, "%s: child parent_pid", mode);
      CHECK(((t.f.flags & HKT_FLAG_EXACT) != 0) == (strcmp(mode, "exact") == 0),
            "%s: child keeps the mode", mode);
      CHECK(has_mark(&t, CHILD_MARK) && !has_mark(&t, PARENT_MARK) && !has_mark(&t, PARENT_AFTER_MARK),
            "%s: child holds its calls only", mode);
      complete_children += t.f.complete;
    }
    free_trace(&t);
  }
  CHECK(parents == 1 && children == 2, "%s: 1 parent, 2 children", mode);
  CHECK(complete_children == 1, "%s: the child that exit()ed is COMPLETE, the _exit one recovered",
        mode);
}

static void test_exec(void) {
  char path[512], err[512], names[8][256];
  snprintf(path, sizeof path, "%s/exec.hkt", g_dir);
  pid_t pid = spawn_traced(path, "fast", 0, "exec", g_self);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec: exit %d", st);
  int n = count_files("exec", names, 8);
  CHECK(n == 2, "exec: two files, got %d", n);
  trace_data_t before, after;
  long k1 = load_trace(path, &before, err, sizeof err);
  CHECK(k1 > 0, "exec: the old image's file reads: %s", k1 < 0 ? err : "empty");
  char want[512];
  snprintf(want, sizeof want, "%s/exec.%d.hkt", g_dir, pid);
  long k2 = load_trace(want, &after, err, sizeof err);
  CHECK(k2 > 0, "exec: the new image's file %s reads: %s", want, k2 < 0 ? err : "empty");
  if (k1 > 0) CHECK(has_mark(&before, EXEC_BEFORE_MARK) && !has_mark(&before, EXEC_AFTER_MARK),
                    "exec: old image's calls");
  if (k2 > 0) {
    CHECK(has_mark(&after, EXEC_AFTER_MARK) && !has_mark(&after, EXEC_BEFORE_MARK),
          "exec: new image's calls");
    CHECK(after.f.complete && after.f.pid == (uint64_t)pid && !(after.f.flags & HKT_FLAG_FORKED),
          "exec: new image complete, same pid, not FORKED");
  }
  free_trace(&before);
  free_trace(&after);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fork") == 0) return child_fork();
  if (argc > 2 && strcmp(argv[1], "exec") == 0) return child_exec(argv[2]);
  if (argc > 1 && strcmp(argv[1], "after-exec") == 0) return child_after_exec();
  util_init();
  test_fork("fast");
  test_fork("exact");
  test_exec();
  remove_dir();
  return finish();
}
