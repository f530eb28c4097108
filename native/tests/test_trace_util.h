/* test_trace_util.h: helpers shared by the recorder tests (test_trace_*.c).
 * Each test re-executes itself (/proc/self/exe MODE ...) with HAKMEM_TRACE
 * set to record a child workload, then reads the file with the reader the
 * replay tool uses (tools/hkt_reader.h). */
#ifndef TEST_TRACE_UTIL_H
#define TEST_TRACE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tools/hkt_reader.h"
#include "hakmem.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "check.h"

static char g_self[4096];
static void util_setup(int need_hakmem);
/* Set up; exit 0 with a "skipped" line if malloc is not libhakmem's. */
static __attribute__((unused)) void util_init(void) { util_setup(1); }
static char g_dir[256];

static __attribute__((unused)) void util_setup(int need_hakmem) {
  ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (n <= 0) {
    perror("readlink");
    exit(2);
  }
  g_self[n] = 0;
  /* Under a sanitizer (make asan) malloc is the sanitizer's, not libhakmem's:
   * nothing would be recorded, so there is nothing to test. */
  void *probe = malloc(64);
  hakmem_placement_t pl;
  hakmem_locate(probe, &pl);
  free(probe);
  if (need_hakmem && pl.region_id == 0) {
    printf("0 passed, 0 failed (skipped: malloc is not libhakmem's here, e.g. under ASan)\n");
    exit(0);
  }
  unsetenv("HAKMEM_TRACE");
  unsetenv("HAKMEM_TRACE_MODE");
  unsetenv("HAKMEM_TRACE_INTERNAL");
  snprintf(g_dir, sizeof g_dir, "/tmp/hkt-test-XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    exit(2);
  }
}

/* A path in the build directory next to build/tests/ (e.g. "hakmem-replay"). */
static __attribute__((unused)) void build_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s", g_self);
  char *slash = strrchr(out, '/');
  if (slash) *slash = 0;
  slash = strrchr(out, '/');
  if (slash) *slash = 0;
  size_t n = strlen(out);
  snprintf(out + n, cap - n, "/%s", name);
}

static __attribute__((unused)) void remove_dir(void) {
  DIR *d = opendir(g_dir);
  if (!d) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(g_dir);
}

/* Fork and exec ourselves as MODE ARG with the given trace settings.
 * mode_env: "fast", "exact" or NULL (leave unset). Returns the pid. */
static __attribute__((unused)) pid_t spawn_traced(const char *trace, const char *mode_env, int internal, const char *mode,
                          const char *arg) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(2);
  }
  if (pid == 0) {
    if (trace) setenv("HAKMEM_TRACE", trace, 1);
    if (mode_env) setenv("HAKMEM_TRACE_MODE", mode_env, 1);
    if (internal) setenv("HAKMEM_TRACE_INTERNAL", "1", 1);
    alarm(20); /* a hung child dies instead of running on (alarm survives exec) */
    execl(g_self, g_self, mode, arg, (char *)0);
    _exit(127);
  }
  return pid;
}

static __attribute__((unused)) int wait_child(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}

/* Run a command line (argv) with stdout to out_path and stderr to err_path
 * (each NULL: inherited); returns the exit status. */
static __attribute__((unused)) int run_cmd2(char *const argv[], const char *out_path, const char *err_path) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("HAKMEM_TRACE");
    if (out_path) {
      int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        close(fd);
      }
    }
    if (err_path) {
      int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
      }
    }
    execv(argv[0], argv);
    _exit(127);
  }
  int st = wait_child(pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
static __attribute__((unused)) int run_cmd(char *const argv[], const char *out_path) { return run_cmd2(argv, out_path, 0); }

/* The whole of a small file, NUL terminated (malloc'd), or NULL. */
static char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return 0;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, fp);
  b[got] = 0;
  fclose(fp);
  if (len) *len = got;
  return b;
}

static __attribute__((unused)) int copy_file(const char *from, const char *to) {
  size_t n;
  char *b = slurp(from, &n);
  if (!b) return -1;
  FILE *fp = fopen(to, "wb");
  if (!fp) {
    free(b);
    return -1;
  }
  fwrite(b, 1, n, fp);
  fclose(fp);
  free(b);
  return 0;
}

/* Every event of a trace, in an array (tests only: small traces). Returns
 * the count, or -1 with err set. */
typedef struct trace_data {
  hkt_file_t f;
  hkt_event_t *ev;
  size_t n;
} trace_data_t;

static __attribute__((unused)) long load_trace(const char *path, trace_data_t *t, char *err, size_t cap) {
  memset(t, 0, sizeof *t);
  if (hkt_open(&t->f, path, err, cap)) return -1;
  size_t alloc = 1024;
  t->ev = malloc(alloc * sizeof *t->ev);
  int r;
  hkt_event_t e;
  while ((r = hkt_next(&t->f, &e, err, cap)) > 0) {
    if (t->n == alloc) {
      alloc *= 2;
      t->ev = realloc(t->ev, alloc * sizeof *t->ev);
    }
    t->ev[t->n++] = e;
  }
  if (r < 0) return -1;
  return (long)t->n;
}

static __attribute__((unused)) void free_trace(trace_data_t *t) {
  hkt_close(&t->f);
  free(t->ev);
  t->ev = 0;
}

/* Index of the first event at or after from with op and a (size) on any thread. */
static __attribute__((unused)) long find_event(const trace_data_t *t, size_t from, unsigned op, uint32_t a) {
  for (size_t i = from; i < t->n; i++)
    if (t->ev[i].op == op && t->ev[i].a == a) return (long)i;
  return -1;
}

/* Count directory entries whose name starts with prefix. */
static __attribute__((unused)) int count_files(const char *prefix, char names[][256], int max) {
  DIR *d = opendir(g_dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    if (n < max) snprintf(names[n], 256, "%s/%s", g_dir, e->d_name);
    n++;
  }
  if (d) closedir(d);
  return n;
}

static __attribute__((unused)) uint64_t rnd_state = 88172645463325252ull;
static __attribute__((unused)) uint64_t rnd(void) {
  rnd_state ^= rnd_state << 13;
  rnd_state ^= rnd_state >> 7;
  rnd_state ^= rnd_state << 17;
  return rnd_state;
}

#endif
