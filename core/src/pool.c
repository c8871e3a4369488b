/* pool.c - the pthread pool (see pool.h).
 *
 * The forward pass runs a few hundred short jobs per token (one per
 * linear map, a few to tens of microseconds each), so waking workers
 * through a condition variable every time would cost as much as the work.
 * Workers therefore poll a generation counter for a while after each job
 * (a couple of milliseconds) and only then sleep on the condition
 * variable: between tokens of a generation they stay awake, after it they
 * sleep. Tasks are claimed from a shared atomic counter, so a slow thread
 * just takes fewer of them.
 *
 * Machines are often shared (or have fewer cores than threads asked for):
 * a thread that waits for a descheduled one must give up its core, or it
 * may spin away the very time slice the other needs. So both waits poll
 * with PAUSE briefly, then call sched_yield() between polls.
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* Polls with PAUSE before a waiting thread starts yielding its core (some
   hundreds of microseconds: longer than the serial work between two jobs
   of a forward pass), and how long an idle worker keeps polling before it
   sleeps. */
#define BS_POOL_SPIN 10000
#define BS_POOL_IDLE_NS 2000000

#if defined(__x86_64__) || defined(__i386__)
/* PAUSE: tells the core this is a spin-wait (saves power, yields the
   pipeline to a hyper-threaded sibling). */
static inline void cpu_relax(void) { __builtin_ia32_pause(); }
#else
static inline void cpu_relax(void) {}
#endif

typedef struct bs_worker {
    struct bs_pool *p;
    int id; /* 1 .. n_threads - 1 */
} bs_worker;

struct bs_pool {
    int n_threads;             /* the caller included                      */
    int n_started;             /* workers running                          */
    pthread_t *threads;        /* (n_threads - 1)                          */
    bs_worker *workers;        /* (n_threads - 1)                          */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int sleepers;              /* workers waiting on `wake` (under mu)     */
    atomic_uint gen;           /* bumped to start a job (or to quit)       */
    atomic_int next;           /* next task index to claim                 */
    atomic_int done;           /* workers finished with the current job    */
    /* The current job: written by the caller before it bumps gen, read by
       workers after they see the new gen (the atomic orders them). */
    int quit;
    int n_tasks;
    bs_task_fn fn;
    void *ctx;
};

static void work(bs_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks) return;
        p->fn(p->ctx, t, thread);
    }
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits until gen differs from seen: polls, polls yielding the core, then
   sleeps. */
static unsigned wait_gen(bs_pool *p, unsigned seen) {
    unsigned g;
    for (int i = 0; i < BS_POOL_SPIN; i++) {
        if ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) != seen) return g;
        cpu_relax();
    }
    for (int64_t t0 = now_ns(); now_ns() - t0 < BS_POOL_IDLE_NS;) {
        if ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) != seen) return g;
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    p->sleepers++;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
    p->sleepers--;
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    bs_worker *w = arg;
    bs_pool *p = w->p;
    unsigned seen = 0;
    for (;;) {
        seen = wait_gen(p, seen);
        if (p->quit) return NULL;
        work(p, w->id);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

/* Publishes the job in p (fields set by the caller) to the workers. */
static void start(bs_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    if (p->sleepers) pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

bs_status bs_pool_create(int n_threads, bs_pool **out) {
    if (!out || n_threads < 1 || n_threads > BS_POOL_MAX_THREADS)
        return bs_fail(BS_ERR_INVALID_ARG, "pool: %d threads out of range", n_threads);
    *out = NULL;
    bs_pool *p = bs_calloc(1, sizeof *p);
    if (!p) return BS_ERR_NOMEM;
    p->n_threads = n_threads;
    atomic_init(&p->gen, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->done, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return bs_fail(BS_ERR_NOMEM, "pool: cannot create a mutex");
    }
    if (pthread_cond_init(&p->wake, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        return bs_fail(BS_ERR_NOMEM, "pool: cannot create a condition variable");
    }
    int n_workers = n_threads - 1;
    if (n_workers > 0) {
        p->threads = bs_calloc((size_t)n_workers, sizeof *p->threads);
        p->workers = bs_calloc((size_t)n_workers, sizeof *p->workers);
        if (!p->threads || !p->workers) {
            bs_pool_free(p);
            return BS_ERR_NOMEM;
        }
    }
    for (int i = 0; i < n_workers; i++) {
        p->workers[i] = (bs_worker){p, i + 1};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]) != 0) {
            bs_pool_free(p);
            return bs_fail(BS_ERR_NOMEM, "pool: cannot start thread %d of %d", i + 1, n_threads);
        }
        p->n_started++;
    }
    *out = p;
    return BS_OK;
}

void bs_pool_free(bs_pool *p) {
    if (!p) return;
    if (p->n_started > 0) {
        p->quit = 1;
        start(p);
        for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p);
}

int bs_pool_threads(const bs_pool *p) { return p ? p->n_threads : 1; }

void bs_pool_run(bs_pool *p, int n_tasks, bs_task_fn fn, void *ctx) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) { /* nothing to share */
        for (int i = 0; i < n_tasks; i++) fn(ctx, i, 0);
        return;
    }
    p->n_tasks = n_tasks;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    start(p);
    work(p, 0);
    /* the workers finish their last task (or find none) shortly */
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) < p->n_threads - 1; i++)
        if (i < BS_POOL_SPIN) cpu_relax();
        else sched_yield();
}
