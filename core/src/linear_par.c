/* linear_par.c - one linear map split by output rows over a thread pool
 * (linear.h: bs_linear_matmul_par). Rows are independent, so the split
 * cannot change any result. What every row needs is done once, before
 * the split: the input masked and rotated, and, when fast mode's integer
 * path runs, quantized (in the caller's scratch); what is per row (the
 * kernel, the channels kept apart) runs in the tasks. Quantizing in each
 * of the ~4 tasks per thread, and adding the kept channels on the
 * caller alone, cost about what a second thread gained on SmolLM2. */
#include "kernels_q8.h"
#include "linear.h"
#include "pool.h"

typedef struct par_job {
    const bs_par *p;
    const bs_linear *l;
    const float *x, *xk; /* the input; as the kernels take it */
    float *y;
    int n, chunk;
    const bs_q8_act *qa; /* NULL: the kernel quantizes (or needs nothing) */
} par_job;

static void par_task(void *ctx, int task, int thread) {
    const par_job *j = ctx;
    const bs_par *p = j->p;
    int r0 = task * j->chunk, r1 = BS_MIN(j->l->rows, r0 + j->chunk);
    float *scratch = p->scratch + (size_t)thread * p->stride;
    if (j->qa) p->k->q8_rows(j->l, j->qa, j->n, j->y, r0, r1, bs_q8_work_in(scratch, j->l->cols));
    else bs_linear_kernel(p->k, p->fast, j->l)(j->l, j->xk, j->y, j->n, r0, r1, scratch);
    if (j->l->n_out > 0) bs_outliers_add(j->l, j->x, j->y, j->n, r0, r1);
}

void bs_linear_matmul_par(const bs_par *p, const bs_linear *l, const float *x, float *y, int n) {
    int rows = l->rows, nt = bs_pool_threads(p->pool);
    par_job j = {p, l, x, bs_linear_input(l, x, p->xk, n), y, n, rows, NULL};
    if (nt == 1 || (int64_t)rows * l->cols * n < p->min_work) {
        par_task(&j, 0, 0);
        return;
    }
    j.chunk = bs_linear_split_for(l, n, nt);
    bs_q8_act qa;
    if (p->fast && bs_q8_planes_ok(l, n)) { /* n < BS_Q8_MAX_TOK <= BS_Q8_TOK: one piece */
        bs_q8_prepare(l, j.xk, n, p->scratch, p->k->q8_token, &qa);
        j.qa = &qa;
    }
    bs_pool_run(p->pool, (rows + j.chunk - 1) / j.chunk, par_task, &j);
}
