/* trace.h: the recorder's internal API, used by the allocator (api.c and the
 * region code). Implemented in trace.c. The format is hakmem_trace_format.h.
 *
 * Fast path: trace_on() is one load of a global. Every function below is a
 * no-op when recording is off. No function here calls malloc. */
#ifndef HAKMEM_TRACE_H
#define HAKMEM_TRACE_H

#include <stdint.h>
#include "hakmem_config.h"
#include "hakmem_trace_format.h"

extern int g_trace_enabled;  /* 1 while a trace file is open */
extern int g_trace_exact;    /* 1 in exact mode: the API layer holds trace_exact_lock() per call */
extern int g_trace_internal; /* 1 when internal decision events are recorded */
extern int g_trace_single;   /* 1 while the process has one thread (trace.c) */

/* Leave single-thread mode for good: called before a second thread can exist
 * (the pthread_create wrapper), and by a thread's first call if it was not
 * seen being created. */
void trace_threads_begin(void);

static inline int trace_on(void) { return __builtin_expect(g_trace_enabled, 0); }

/* Open HAKMEM_TRACE (if set) and write the header. Called once from the
 * allocator's initialisation, after the config is final and the heap is
 * reserved. Uses only syscalls. */
void trace_init(const hakmem_config_t *cfg, uint64_t heap_base, uint64_t heap_bytes);
/* Write the footer fields, set COMPLETE, truncate. Idempotent. */
void trace_close(void);

/* Record one event: main slot plus n_ext extension slots (0..3), reserved
 * together so they are consecutive. ext_a/ext_b may be NULL when n_ext == 0. */
void trace_event(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, unsigned n_ext,
                 const uint32_t *ext_a, const uint64_t *ext_b);

static inline void trace_ev0(uint8_t op, uint16_t tid, uint32_t a, uint64_t b) {
  if (trace_on()) trace_event(op, tid, a, b, 0, 0, 0);
}
/* How a chunk-mode event gets its clock (docs/trace-format.md, "Version 2"):
 * HKT_CLK_NOW reads the TSC; HKT_CLK_FENCED waits for every earlier load (the one
 * that received a pointer from another thread) first; HKT_CLK_PREV reads nothing
 * and keeps the thread's previous clock, for a call whose inputs are all this
 * thread's own (a TLS hit, a free of a block this thread allocated): api.c
 * decides. trace_event() uses NOW, FENCED for FREE and REALLOC. */
#define HKT_CLK_NOW 0
#define HKT_CLK_FENCED 1
#define HKT_CLK_PREV 2
/* An event without extension slots, with its clock mode. */
void trace_event_clk(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, int clk);
/* FREE (op HKT_FREE, a = verdict, b = pointer); api.c's hk_free_clock decides the clock. */
static inline void trace_free(uint16_t tid, uint32_t verdict, uint64_t p, int clk) {
  if (trace_on()) trace_event_clk(HKT_FREE, tid, verdict, p, clk);
}
static inline void trace_ev1(uint8_t op, uint16_t tid, uint32_t a, uint64_t b, uint32_t ea,
                             uint64_t eb) {
  if (trace_on()) trace_event(op, tid, a, b, 1, &ea, &eb);
}

/* Exact mode: the API layer wraps each call (the allocator work and its
 * record) in these. A recursive-safe spin/mutex that never calls malloc. */
void trace_exact_lock(void);
void trace_exact_unlock(void);

/* fork: prepare takes the recorder's locks; parent releases them; child
 * releases them and records nothing of the parent's: its own file (flag
 * FORKED) is created at its first event. The allocator's atfork handlers
 * call these. */
void trace_atfork_prepare(void);
void trace_atfork_parent(void);
void trace_atfork_child(void);

/* fork() (process.c) records FORK with the child's pid in the parent, after
 * the fork returned. */
void trace_fork_parent(uint16_t tid, uint64_t child_pid);

/* exec (process.c): begin records EXEC (a = 0) and seals the file (footer,
 * COMPLETE, truncated) so the old image's trace is complete if the exec
 * succeeds; other threads' events wait meanwhile. Returns 1 if it sealed.
 * end (reached only when the exec failed) reopens the same file where it was
 * sealed, lets the waiting events in, and records EXEC with a = errno. In
 * exact mode the caller holds the exact lock around both. */
int trace_exec_applies(void); /* recording, file open, and not a vfork child */
int trace_exec_begin(uint16_t tid);
void trace_exec_end(uint16_t tid, int err, int sealed);

/* The path of the file being written, "" when not recording (tests, messages). */
const char *trace_path(void);

#endif
