/* pool_serial.c - the pool of builds without threads (wasm32-wasi): one
   thread, the caller, runs every task in order. Same interface as pool.c. */
#include "pool.h"

#include <stdlib.h>

struct bs_pool {
    int unused;
};

bs_status bs_pool_create(int n_threads, bs_pool **out) {
    if (!out || n_threads < 1 || n_threads > BS_POOL_MAX_THREADS)
        return bs_fail(BS_ERR_INVALID_ARG, "pool: %d threads out of range", n_threads);
    *out = bs_calloc(1, sizeof **out);
    return *out ? BS_OK : BS_ERR_NOMEM;
}

void bs_pool_free(bs_pool *p) { free(p); }

int bs_pool_threads(const bs_pool *p) {
    (void)p;
    return 1;
}

void bs_pool_run(bs_pool *p, int n_tasks, bs_task_fn fn, void *ctx) {
    (void)p;
    for (int i = 0; i < n_tasks; i++) fn(ctx, i, 0);
}
