/* process.c: fork and the exec family, wrapped so the trace can follow them
 * (docs/trace-format.md, "Files, fork and exec").
 *
 * fork: the atfork handlers (init.c) keep the heap consistent and give the
 * child its own trace; they never learn the child's pid, so this wrapper
 * records FORK (b = child pid) in the parent once fork() has returned.
 * exec: before the real exec the wrapper records EXEC and seals the trace
 * (complete and truncated, as at exit), so a successful exec leaves a
 * complete trace instead of an unclosed one; if the exec fails, recording
 * goes on in the same file and EXEC is recorded again with the errno.
 *
 * pthread_create: the recorder leaves its single-thread mode (trace.c) before
 * the new thread exists.
 *
 * Every wrapper calls the next definition (RTLD_NEXT). None allocates, so
 * they are safe between fork and exec. Not built with HAKMEM_PREFIX (the ASan
 * test build links the allocator into a test binary under hak_ names). */
#ifndef HAKMEM_PREFIX
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>
#include "hk_internal.h"

#define HK_API __attribute__((visibility("default")))
/* execl* build an argv on the stack; more arguments than this is E2BIG. */
#define HK_EXECL_MAX_ARGS 4096

typedef pid_t (*fork_fn)(void);
typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

static void *next_sym(void *_Atomic *slot, const char *name) {
  void *f = atomic_load_explicit(slot, memory_order_acquire);
  if (!f) {
    f = dlsym(RTLD_NEXT, name);
    atomic_store_explicit(slot, f, memory_order_release);
  }
  return f;
}
#define NEXT(type, name)                                   \
  static void *_Atomic next_##name;                       \
  type f = (type)next_sym(&next_##name, #name);           \
  if (!f) {                                                \
    errno = ENOSYS;                                        \
    return -1;                                             \
  }

static uint16_t self_index(void) {
  hk_ensure_init();
  return (uint16_t)hk_thread()->index;
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* The recorder counts slots without a locked instruction while the process
 * has one thread: leave that mode before the second thread exists. */
HK_API int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*start)(void *),
                          void *arg) {
  static void *_Atomic next_pthread_create;
  pthread_create_fn f = (pthread_create_fn)next_sym(&next_pthread_create, "pthread_create");
  if (!f) return EAGAIN;
  trace_threads_begin();
  return f(th, attr, start, arg);
}

HK_API pid_t fork(void) {
  NEXT(fork_fn, fork);
  pid_t pid = f();
  if (pid > 0 && trace_on()) {
    uint16_t tid = self_index();
    if (g_trace_exact) trace_exact_lock();
    trace_fork_parent(tid, (uint64_t)pid);
    if (g_trace_exact) trace_exact_unlock();
  }
  return pid;
}

/* Seal, run the exec, and (only reached if it failed) reopen. */
#define EXEC_AROUND(call)                                  \
  int sealed = 0, exact = 0;                               \
  uint16_t tid = 0;                                        \
  if (trace_exec_applies()) {                              \
    tid = self_index();                                    \
    exact = g_trace_exact;                                 \
    if (exact) trace_exact_lock();                         \
    sealed = trace_exec_begin(tid);                        \
  }                                                        \
  int r = call;                                            \
  int err = errno;                                         \
  trace_exec_end(tid, err, sealed);                        \
  if (exact) trace_exact_unlock();                         \
  errno = err;                                             \
  return r;

HK_API int execve(const char *path, char *const argv[], char *const envp[]) {
  NEXT(execve_fn, execve);
  EXEC_AROUND(f(path, argv, envp));
}

HK_API int execv(const char *path, char *const argv[]) {
  NEXT(execv_fn, execv);
  EXEC_AROUND(f(path, argv));
}

HK_API int execvp(const char *file, char *const argv[]) {
  NEXT(execv_fn, execvp);
  EXEC_AROUND(f(file, argv));
}

HK_API int execvpe(const char *file, char *const argv[], char *const envp[]) {
  NEXT(execve_fn, execvpe);
  EXEC_AROUND(f(file, argv, envp));
}

HK_API int fexecve(int fd, char *const argv[], char *const envp[]) {
  NEXT(fexecve_fn, fexecve);
  EXEC_AROUND(f(fd, argv, envp));
}

/* Count the execl arguments after arg0 (bounded); -1 if too many. */
static int count_args(const char *arg0, va_list ap) {
  int n = 1;
  if (!arg0) return 0;
  while (va_arg(ap, const char *)) {
    if (++n > HK_EXECL_MAX_ARGS) return -1;
  }
  return n;
}

#define EXECL_ARGV(last, want_envp)                                 \
  va_list ap;                                                       \
  va_start(ap, arg0);                                               \
  int n = count_args(arg0, ap);                                     \
  va_end(ap);                                                       \
  if (n < 0) {                                                      \
    errno = E2BIG;                                                  \
    return -1;                                                      \
  }                                                                 \
  char *argv[n + 1];                                                \
  char *const *envp = 0;                                            \
  va_start(ap, arg0);                                               \
  argv[0] = (char *)arg0;                                           \
  for (int i = 1; i <= n; i++) argv[i] = va_arg(ap, char *);        \
  if (want_envp) envp = va_arg(ap, char *const *);                  \
  va_end(ap);                                                       \
  (void)envp;

HK_API int execl(const char *path, const char *arg0, ...) {
  EXECL_ARGV(0, 0);
  return execv(path, argv);
}

HK_API int execlp(const char *file, const char *arg0, ...) {
  EXECL_ARGV(0, 0);
  return execvp(file, argv);
}

HK_API int execle(const char *path, const char *arg0, ...) {
  EXECL_ARGV(0, 1);
  return execve(path, argv, envp);
}
#endif
