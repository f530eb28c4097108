/* fork and exec under recording.
 * fork: the traced parent forks (with a second thread busy allocating, so
 * the fork happens mid-traffic); the child records into its own file
 * (STEM.PID.hkt, FORKED, parent_pid = the parent) and the parent's file
 * stays valid, complete, and holds none of the child's calls.
 * exec: a traced process execs itself; the new image records into its own
 * file (PATH exists, so STEM.PID.hkt) and the old image's events stay readable. */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
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
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) return 4;
  /* a child that calls no allocator function and execs: no file of its own
   * (created at the first event), and the parent's trace is undisturbed */
  pid = fork();
  if (pid == 0) {
    execl("/bin/true", "true", (char *)0);
    _exit(127);
  }
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 6;
}

#define EXEC_FAIL_MARK 6666
#define EXEC_FAIL_AFTER_MARK 7777
#define BUSY_CALLS 100000
#define BUSY_SIZE 72

static void *busy_counted(void *arg) {
  for (long i = 0; i < BUSY_CALLS; i++) {
    void *p = malloc(BUSY_SIZE);
    g_sink = p;
    free(p);
  }
  return arg;
}

/* An exec that fails while another thread allocates: the same file goes on,
 * and none of the other thread's calls is lost. */
static int child_exec_fail(void) {
  g_sink = malloc(EXEC_FAIL_MARK);
  pthread_t th;
  pthread_create(&th, 0, busy_counted, 0);
  struct timespec ts = {0, 2000000};
  nanosleep(&ts, 0);
  execl("/nonexistent/hakmem-test", "x", (char *)0);
  int err = errno;
  g_sink = malloc(EXEC_FAIL_AFTER_MARK);
  pthread_join(th, 0);
  return err == ENOENT ? 0 : 7;
}

/* vfork + exec: the child shares our memory and descriptor; its exec must
 * leave the parent's trace open and untouched. */
static int child_vfork(void) {
  g_sink = malloc(EXEC_FAIL_MARK);
  pid_t pid = vfork();
  if (pid == 0) {
    execl("/bin/true", "true", (char *)0);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  g_sink = malloc(EXEC_FAIL_AFTER_MARK);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 8;
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
  CHECK(parents == 1 && children == 2, "%s: 1 parent, 2 children (the child that only execs has no file)", mode);
  /* the parent recorded FORK with each child's pid, the exec-only child's too */
  trace_data_t par;
  if (load_trace(path, &par, err, sizeof err) > 0) {
    int forks = 0, linked = 0;
    for (size_t i = 0; i < par.n; i++) {
      if (par.ev[i].op != HKT_FORK) continue;
      forks++;
      for (int j = 0; j < n && j < 8; j++) {
        char want[512];
        snprintf(want, sizeof want, "%s/%s.%llu.hkt", g_dir, prefix, (unsigned long long)par.ev[i].b);
        if (strcmp(names[j], want) == 0) linked++;
      }
    }
    CHECK(forks == 3, "%s: three FORK events in the parent, got %d", mode, forks);
    CHECK(linked == 2, "%s: the FORK events name the two children's files, got %d", mode, linked);
  }
  free_trace(&par);
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
  if (k1 > 0) {
    CHECK(has_mark(&before, EXEC_BEFORE_MARK) && !has_mark(&before, EXEC_AFTER_MARK),
          "exec: old image's calls");
    CHECK(before.f.complete, "exec: the old image's trace is complete (sealed at the exec)");
    CHECK(before.ev[before.n - 1].op == HKT_EXEC && before.ev[before.n - 1].a == 0,
          "exec: the old image's last event is EXEC");
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (uint64_t)sb.st_size == HKT_HEADER_BYTES + before.f.slot_count * HKT_SLOT_BYTES,
          "exec: the old image's file is truncated to its slots");
  }
  if (k2 > 0) {
    CHECK(has_mark(&after, EXEC_AFTER_MARK) && !has_mark(&after, EXEC_BEFORE_MARK),
          "exec: new image's calls");
    CHECK(after.f.complete && after.f.pid == (uint64_t)pid && !(after.f.flags & HKT_FLAG_FORKED),
          "exec: new image complete, same pid, not FORKED");
  }
  free_trace(&before);
  free_trace(&after);
}

static void test_exec_fail(const char *mode) {
  char path[512], err[512], names[8][256], prefix[64];
  snprintf(prefix, sizeof prefix, "execfail-%s", mode);
  snprintf(path, sizeof path, "%s/%s.hkt", g_dir, prefix);
  pid_t pid = spawn_traced(path, mode, 0, "exec-fail", 0);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: exec-fail exit %d", mode, st);
  CHECK(count_files(prefix, names, 8) == 1, "%s: a failed exec keeps one file", mode);
  trace_data_t t;
  long k = load_trace(path, &t, err, sizeof err);
  CHECK(k > 0, "%s: %s reads: %s", mode, path, k < 0 ? err : "empty");
  if (k > 0) {
    CHECK(t.f.complete, "%s: complete after a failed exec and a normal exit", mode);
    long e0 = find_event(&t, 0, HKT_EXEC, 0);
    long e1 = find_event(&t, 0, HKT_EXEC, ENOENT);
    long after = find_event(&t, 0, HKT_MALLOC, EXEC_FAIL_AFTER_MARK);
    CHECK(e0 >= 0 && e1 > e0 && after > e1, "%s: EXEC (attempt), EXEC (ENOENT), then the calls after it", mode);
    long busy = 0;
    for (size_t i = 0; i < t.n; i++) busy += t.ev[i].op == HKT_MALLOC && t.ev[i].a == BUSY_SIZE;
    CHECK(busy == BUSY_CALLS, "%s: every call of the other thread is recorded: %ld of %d", mode, busy,
          BUSY_CALLS);
  }
  free_trace(&t);
}

static void test_vfork(void) {
  char path[512], err[512], names[8][256];
  snprintf(path, sizeof path, "%s/vfork.hkt", g_dir);
  pid_t pid = spawn_traced(path, "fast", 0, "vfork", 0);
  int st = wait_child(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vfork: exit %d", st);
  CHECK(count_files("vfork", names, 8) == 1, "vfork: one file");
  trace_data_t t;
  long k = load_trace(path, &t, err, sizeof err);
  CHECK(k > 0, "vfork: reads: %s", k < 0 ? err : "empty");
  if (k > 0) {
    CHECK(t.f.complete && has_mark(&t, EXEC_FAIL_MARK) && has_mark(&t, EXEC_FAIL_AFTER_MARK),
          "vfork: the parent's trace goes on past the child's exec, complete");
    CHECK(find_event(&t, 0, HKT_EXEC, 0) < 0, "vfork: the child's exec is not the parent's");
  }
  free_trace(&t);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fork") == 0) return child_fork();
  if (argc > 2 && strcmp(argv[1], "exec") == 0) return child_exec(argv[2]);
  if (argc > 1 && strcmp(argv[1], "after-exec") == 0) return child_after_exec();
  if (argc > 1 && strcmp(argv[1], "exec-fail") == 0) return child_exec_fail();
  if (argc > 1 && strcmp(argv[1], "vfork") == 0) return child_vfork();
  util_init();
  test_fork("fast");
  test_fork("exact");
  test_exec();
  test_exec_fail("fast");
  test_exec_fail("exact");
  test_vfork();
  remove_dir();
  return finish();
}
