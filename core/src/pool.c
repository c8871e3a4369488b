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
 * Machines are often shared (or have fewer cores than threads asked for),
 * so a worker may be off its core when a job starts. The caller then runs
 * every task itself and never waits for a worker that claimed none: a job
 * is over when all its tasks are done. To make that safe, a job is
 * "open" while gen is odd; a worker announces itself in `active`, then
 * checks that the job it saw is still open before touching it, and the
 * caller closes the job (gen even) and waits for `active` to drain before
 * it reuses the job's fields (both sides use sequentially consistent
 * atomics, so one of them always sees the other). Waits poll with PAUSE,
 * then call sched_yield() between polls, so a thread waiting for a
 * descheduled one gives its core back.
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
    atomic_uint gen;           /* odd: a job is open; even: none           */
    atomic_int quit;           /* set (then gen bumped) by bs_pool_free    */
    atomic_int next;           /* next task index to claim                 */
    atomic_int finished;       /* tasks of the open job done               */
    atomic_int active;         /* workers inside a job                     */
    /* The open job: written by the caller while no job is open and no
       worker is active, read by workers inside it. */
    int n_tasks;
    bs_task_fn fn;
    void *ctx;
};

/* Waits with PAUSE, then yielding, until done(p) holds. */
static void wait_for(bs_pool *p, int (*done)(bs_pool *)) {
    for (int i = 0; !done(p); i++)
        if (i < BS_POOL_SPIN) cpu_relax();
        else sched_yield();
}

static int all_finished(bs_pool *p) { return atomic_load(&p->finished) >= p->n_tasks; }
static int none_active(bs_pool *p) { return atomic_load(&p->active) == 0; }

static void work(bs_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks) return;
        p->fn(p->ctx, t, thread);
        atomic_fetch_add_explicit(&p->finished, 1, memory_order_release);
    }
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A job other than `seen` is open, or the pool is quitting. */
static int news(bs_pool *p, unsigned seen, unsigned *g) {
    *g = atomic_load(&p->gen);
    return ((*g & 1u) && *g != seen) || atomic_load(&p->quit);
}

/* Waits for news: polls, polls yielding the core, then sleeps. */
static unsigned wait_job(bs_pool *p, unsigned seen) {
    unsigned g;
    for (int i = 0; i < BS_POOL_SPIN; i++) {
        if (news(p, seen, &g)) return g;
        cpu_relax();
    }
    for (int64_t t0 = now_ns(); now_ns() - t0 < BS_POOL_IDLE_NS;) {
        if (news(p, seen, &g)) return g;
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    p->sleepers++;
    while (!news(p, seen, &g)) pthread_cond_wait(&p->wake, &p->mu);
    p->sleepers--;
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    bs_worker *w = arg;
    bs_pool *p = w->p;
    unsigned seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->quit)) return NULL;
        atomic_fetch_add(&p->active, 1);
        if (atomic_load(&p->gen) == seen) work(p, w->id); /* still open: its fields are stable */
        atomic_fetch_sub(&p->active, 1);
    }
}

/* Bumps gen (opening or closing a job, or announcing quit) and wakes
   sleeping workers. */
static void bump(bs_pool *p) {
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
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
    atomic_init(&p->quit, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->active, 0);
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
        atomic_store(&p->quit, 1);
        bump(p);
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
    /* no job is open and no worker is active: the fields are ours */
    p->n_tasks = n_tasks;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->next, 0);
    atomic_store(&p->finished, 0);
    bump(p); /* open */
    work(p, 0);
    wait_for(p, all_finished); /* tasks other threads claimed */
    bump(p);                   /* close: late workers will not enter */
    wait_for(p, none_active);  /* workers that entered have left */
}
