/* pool.h - a small persistent thread pool for the forward pass.
 *
 *   bs_pool *p;
 *   bs_pool_create(4, &p);                  // 3 workers + the caller
 *   bs_pool_run(p, n_tasks, fn, ctx);       // fn(ctx, task, thread) for every task
 *   bs_pool_free(p);
 *
 * Two implementations share this header: pool.c (pthreads; native builds)
 * and pool_serial.c (one thread; builds without pthreads such as
 * wasm32-wasi). CMake's BS_THREADS picks one.
 *
 * Tasks of one run may execute in any order on any thread; callers keep
 * results independent of that (each task writes its own outputs, and
 * `thread` only selects per-thread scratch). A pool is driven by one
 * thread at a time (the session's owner).
 */
#ifndef BS_POOL_H
#define BS_POOL_H

#include "internal.h"

typedef struct bs_pool bs_pool;

/* task in [0, n_tasks); thread in [0, bs_pool_threads()), 0 = the caller. */
typedef void (*bs_task_fn)(void *ctx, int task, int thread);

/* The most threads a pool accepts (session options are checked against it). */
#define BS_POOL_MAX_THREADS 256

/* n_threads >= 1 counts the caller; the serial pool always has 1. */
bs_status bs_pool_create(int n_threads, bs_pool **out);
void bs_pool_free(bs_pool *p); /* NULL is fine */
int bs_pool_threads(const bs_pool *p);
/* Runs every task and returns when all are done; the caller works too.
   Not reentrant: fn must not call bs_pool_run on the same pool. */
void bs_pool_run(bs_pool *p, int n_tasks, bs_task_fn fn, void *ctx);

#endif
