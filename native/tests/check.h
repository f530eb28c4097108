/* check.h: the C tests' one assertion macro and closing line ("N passed, M failed", which
 * test/native/c-tests.test.ts and CI read). Shared by hk_test.h and test_trace_util.h. */
#ifndef HAKMEM_TEST_CHECK_H
#define HAKMEM_TEST_CHECK_H
#include <stdio.h>

static __attribute__((unused)) int g_pass, g_fail;
#define CHECK(cond, ...)                                        \
  do {                                                          \
    if (cond) {                                                 \
      g_pass++;                                                 \
    } else {                                                    \
      g_fail++;                                                 \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);      \
      fprintf(stderr, __VA_ARGS__);                             \
      fputc('\n', stderr);                                      \
    }                                                           \
  } while (0)

static __attribute__((unused)) int finish(void) {
  printf("%d passed, %d failed\n", g_pass, g_fail);
  fflush(stdout);
  return g_fail ? 1 : 0;
}
#endif
