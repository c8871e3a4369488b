/* internal.h - helpers shared by every file of the core (not installed). */
#ifndef BS_INTERNAL_H
#define BS_INTERNAL_H

#include "bitstack.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define BS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BS_PRINTF(a, b)
#endif

/* Records a message for bs_last_error() and returns st, so that failures
   read as `return bs_fail(BS_ERR_FORMAT, "gguf: bad magic");`. */
bs_status bs_fail(bs_status st, const char *fmt, ...) BS_PRINTF(2, 3);
/* Clears the last-error message. */
void bs_clear_error(void);

/* Allocation that records BS_ERR_NOMEM detail on failure. Sizes are checked
   for overflow (n * size). All return NULL on failure. */
void *bs_malloc(size_t n, size_t size);
void *bs_calloc(size_t n, size_t size);
char *bs_strndup(const char *s, size_t n);

/* n * m without overflow, for sizes coming from untrusted headers: returns
   0 and leaves *out untouched on overflow. */
int bs_mul_ok(uint64_t n, uint64_t m, uint64_t *out);

#define BS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Evaluates a bs_status expression and returns it from the caller on
   failure. */
#define BS_TRY(expr)                         \
    do {                                     \
        bs_status bs_try_st_ = (expr);       \
        if (bs_try_st_ != BS_OK) return bs_try_st_; \
    } while (0)

#endif
