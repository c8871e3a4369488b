/* test.h - a tiny test harness: CHECK macros and a runner.
 *
 *   static void test_something(void) { CHECK(1 + 1 == 2); CHECK_EQ_INT(a, b); }
 *   int main(void) { RUN(test_something); return test_summary(); }
 */
#ifndef BS_TEST_H
#define BS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_ = 0;
static int test_checks_ = 0;

#define CHECK(cond)                                                         \
    do {                                                                    \
        test_checks_++;                                                     \
        if (!(cond)) {                                                      \
            test_failures_++;                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                 \
        }                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        test_checks_++;                                                     \
        if (!(cond)) {                                                      \
            test_failures_++;                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                 \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                  \
    CHECK_MSG((long long)(a) == (long long)(b), "%lld != %lld",             \
              (long long)(a), (long long)(b))

#define CHECK_STATUS(expr, want)                                            \
    do {                                                                    \
        bs_status st_ = (expr);                                             \
        CHECK_MSG(st_ == (want), "got %s want %s (%s)", bs_status_name(st_), \
                  bs_status_name(want), bs_last_error());                   \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, BS_OK)

#define CHECK_NEAR(a, b, tol)                                               \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g",     \
              (double)(a), (double)(b))

#define RUN(fn)                                                             \
    do {                                                                    \
        int before_ = test_failures_;                                       \
        fn();                                                               \
        fprintf(stderr, "%s %s\n", test_failures_ == before_ ? "ok  " : "FAIL", #fn); \
    } while (0)

static inline int test_summary(void) {
    fprintf(stderr, "%d checks, %d failed\n", test_checks_, test_failures_);
    return test_failures_ ? 1 : 0;
}

/* Path helper: joins a directory macro and a relative path. */
static inline const char *test_path(const char *dir, const char *rel) {
    static char buf[8][1024];
    static int i = 0;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, rel);
    return buf[i];
}

#endif
