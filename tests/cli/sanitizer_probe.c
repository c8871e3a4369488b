/* sanitizer_probe.c - a program that misbehaves on demand, for
 * tests/cli/sanitizers.sh: in a sanitized build (BS_SANITIZE: ASan + UBSan,
 * LeakSanitizer) "heap" reads past a heap block, "ub" overflows a signed
 * integer, "leak" leaks; each must be reported, and the report must fail
 * the CLI tests' checks even where the exit code alone would pass. In a
 * build without sanitizers it does nothing wrong and exits 1, so the checks
 * can also be seen not to fire on a clean exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PROBE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROBE_SANITIZED 1
#endif
#endif
#ifndef PROBE_SANITIZED
#define PROBE_SANITIZED 0
#endif

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "sanitized") == 0) {
        puts(PROBE_SANITIZED ? "yes" : "no");
        return 0;
    }
    if (!PROBE_SANITIZED) return 1;
    /* volatile: the compiler may not fold the faults away */
    volatile int n = argc + 7;
    if (strcmp(what, "heap") == 0) {
        char *p = malloc((size_t)n);
        volatile char c = p[n]; /* one past the end */
        (void)c;
        free(p);
    } else if (strcmp(what, "ub") == 0) {
        volatile int big = 2147483647;
        volatile int sum = big + n; /* signed overflow */
        (void)sum;
    } else if (strcmp(what, "leak") == 0) {
        volatile char *p = malloc(64);
        p[0] = 1;
        p = NULL;
    }
    return 1; /* the CLI's usage-error code: what a sanitizer's default exit would look like */
}
