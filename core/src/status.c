/* status.c - status names, the thread-local last-error message, and
   checked allocation. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Thread-local so concurrent sessions do not clobber each other's detail.
   (wasm32 without threads treats this as an ordinary static.) */
static _Thread_local char last_error[512];

const char *bs_status_name(bs_status status) {
    switch (status) {
    case BS_OK: return "BS_OK";
    case BS_ERR_INVALID_ARG: return "BS_ERR_INVALID_ARG";
    case BS_ERR_IO: return "BS_ERR_IO";
    case BS_ERR_FORMAT: return "BS_ERR_FORMAT";
    case BS_ERR_UNSUPPORTED: return "BS_ERR_UNSUPPORTED";
    case BS_ERR_NOMEM: return "BS_ERR_NOMEM";
    case BS_ERR_TRUNCATED: return "BS_ERR_TRUNCATED";
    case BS_ERR_CHECKSUM: return "BS_ERR_CHECKSUM";
    case BS_ERR_RANGE: return "BS_ERR_RANGE";
    case BS_ERR_VERSION: return "BS_ERR_VERSION";
    case BS_ERR_STATE: return "BS_ERR_STATE";
    }
    return "BS_ERR_UNKNOWN";
}

const char *bs_last_error(void) { return last_error; }

void bs_clear_error(void) { last_error[0] = '\0'; }

bs_status bs_fail(bs_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

int bs_mul_ok(uint64_t n, uint64_t m, uint64_t *out) {
    if (n != 0 && m > UINT64_MAX / n) return 0;
    *out = n * m;
    return 1;
}

void *bs_malloc(size_t n, size_t size) {
    uint64_t total;
    if (!bs_mul_ok(n, size, &total) || total > SIZE_MAX) {
        bs_fail(BS_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = malloc(total ? (size_t)total : 1);
    if (!p) bs_fail(BS_ERR_NOMEM, "out of memory allocating %llu bytes",
                    (unsigned long long)total);
    return p;
}

void *bs_calloc(size_t n, size_t size) {
    uint64_t total;
    if (!bs_mul_ok(n, size, &total) || total > SIZE_MAX) {
        bs_fail(BS_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) bs_fail(BS_ERR_NOMEM, "out of memory allocating %llu bytes",
                    (unsigned long long)total);
    return p;
}

char *bs_strndup(const char *s, size_t n) {
    char *p = bs_malloc(n + 1, 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
