/* bench.c - the matvec harness of the benchmarks (bench.h). */
#include "bench.h"

#include "baseline.h"
#include "linear.h"

#include <stdlib.h>
#include <string.h>

static const char *const side_names[BS_BENCH_N_SIDES] = {"bitstack", "f32", "q8", "q4"};

const char *bs_bench_side_name(int side) {
    return side >= 0 && side < BS_BENCH_N_SIDES ? side_names[side] : NULL;
}

/* One linear map in every form. */
typedef struct bench_lin {
    const bs_linear *model; /* the model's own */
    bs_linear f32;          /* dense copy */
    bs_qmat q[2];           /* 8-bit, 4-bit */
} bench_lin;

struct bs_bench {
    bs_session *s;          /* its pool, kernels and mode */
    bench_lin *lins;        /* (n_lins) every linear map, lm_head last */
    int n_lins;
    int64_t bytes[BS_BENCH_N_SIDES], weights;
    float *x, *y;           /* (widest input), (tallest output) */
    float *xk;              /* (widest input) x as the model's kernels take it */
    float *scratch;         /* (threads, stride) per-thread kernel scratch */
    size_t stride;
    float *xpad;            /* x zero-padded to whole blocks of 32 */
    int8_t *xq;             /* x quantized for the q8 / q4 sides: digits, */
    float *xd;              /* block scales */
    int32_t *xs;            /* and block sums */
    /* the q8 / q4 job being run */
    const bs_qmat *qm;
    int chunk;
};

static void qmat_task(void *ctx, int t, int thread) {
    bs_bench *b = ctx;
    int r0 = t * b->chunk, r1 = BS_MIN(b->qm->rows, r0 + b->chunk);
    (void)thread;
    bs_qmat_matvec(b->qm, b->xq, b->xd, b->xs, b->y, r0, r1);
}

bs_status bs_bench_pass(bs_bench *b, int side) {
    if (!b || !bs_bench_side_name(side)) return bs_fail(BS_ERR_INVALID_ARG, "bench pass: bad bench or side %d", side);
    const bs_par par = {b->s->k, b->s->fast, b->s->pool, b->scratch, b->stride, 0, b->xk};
    for (int i = 0; i < b->n_lins; i++) {
        bench_lin *bl = &b->lins[i];
        if (side < BS_BENCH_Q8) { /* as the forward pass runs it (its input rotation and kept channels included) */
            bs_linear_matmul_par(&par, side == BS_BENCH_MODEL ? bl->model : &bl->f32, b->x, b->y, 1);
            continue;
        }
        b->qm = &bl->q[side - BS_BENCH_Q8];
        /* part of the cost: quantizing x for every matvec */
        int32_t nb = bs_qmat_blocks(b->qm), cols = b->qm->cols, rows = b->qm->rows;
        memcpy(b->xpad, b->x, (size_t)cols * sizeof *b->x);
        memset(b->xpad + cols, 0, (size_t)(32 * nb - cols) * sizeof *b->x);
        bs_q8_quantize(b->xpad, nb, b->xq, NULL, b->xd, b->xs, NULL);
        b->chunk = b->s->n_threads == 1 ? rows : bs_linear_split(rows, b->s->n_threads);
        bs_pool_run(b->s->pool, (rows + b->chunk - 1) / b->chunk, qmat_task, b);
    }
    return BS_OK;
}

/* Dense and quantized copies of every linear map of m (a tied table
   once). */
static bs_status build_lins(const bs_model *m, bs_bench *b) {
    int n = 7 * m->cfg.n_layers + 1;
    if (!(b->lins = bs_calloc((size_t)n, sizeof *b->lins))) return BS_ERR_NOMEM;
    b->n_lins = n;
    for (int i = 0; i < n; i++) {
        const bs_linear *l = i < n - 1 ? bs_layer_linear((bs_layer *)&m->layers[i / 7], i % 7) : m->output;
        bench_lin *bl = &b->lins[i];
        bl->model = l;
        float *w = bs_malloc((size_t)l->rows * l->cols, sizeof *w);
        if (!w) return BS_ERR_NOMEM;
        for (int r = 0; r < l->rows; r++) bs_linear_row(l, r, w + (size_t)r * l->cols);
        bl->f32 = (bs_linear){.rows = l->rows, .cols = l->cols, .kind = BS_LIN_F32, .w = w};
        if (bs_qmat_init(&bl->q[0], w, l->rows, l->cols, 8) || bs_qmat_init(&bl->q[1], w, l->rows, l->cols, 4))
            return bs_fail(BS_ERR_NOMEM, "bench: out of memory for the quantized copies");
        b->bytes[BS_BENCH_MODEL] += bs_linear_bytes(l);
        b->bytes[BS_BENCH_F32] += bs_linear_bytes(&bl->f32);
        b->bytes[BS_BENCH_Q8] += bs_qmat_bytes(&bl->q[0]);
        b->bytes[BS_BENCH_Q4] += bs_qmat_bytes(&bl->q[1]);
        b->weights += (int64_t)l->rows * l->cols;
    }
    return BS_OK;
}

/* x and the buffers every pass shares, sized for the largest map. */
static bs_status alloc_buffers(bs_bench *b) {
    int32_t max_cols = 0, max_rows = 0;
    for (int i = 0; i < b->n_lins; i++) {
        max_cols = BS_MAX(max_cols, b->lins[i].model->cols);
        max_rows = BS_MAX(max_rows, b->lins[i].model->rows);
        b->stride = BS_MAX(b->stride, bs_linear_scratch(b->lins[i].model));
    }
    size_t padded = (size_t)(max_cols + 31) / 32 * 32;
    b->x = bs_malloc((size_t)max_cols, sizeof *b->x);
    b->xk = bs_malloc((size_t)max_cols, sizeof *b->xk);
    b->y = bs_malloc((size_t)max_rows, sizeof *b->y);
    b->scratch = bs_malloc((size_t)b->s->n_threads * b->stride + 1, sizeof *b->scratch);
    b->xpad = bs_malloc(padded, sizeof *b->xpad);
    b->xq = bs_malloc(padded, 1);
    b->xd = bs_malloc(padded, sizeof *b->xd);
    b->xs = bs_malloc(padded, sizeof *b->xs);
    if (!b->x || !b->xk || !b->y || !b->scratch || !b->xpad || !b->xq || !b->xd || !b->xs) return BS_ERR_NOMEM;
    uint64_t st = 99;
    for (int j = 0; j < max_cols; j++) { /* activations of a plausible scale, in [-1, 1) */
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        b->x[j] = (float)((int64_t)(st >> 40) - (1 << 23)) / (float)(1 << 23);
    }
    return BS_OK;
}

bs_status bs_bench_create(bs_session *s, bs_bench **out) {
    if (!s || !out) return bs_fail(BS_ERR_INVALID_ARG, "bs_bench_create: NULL argument");
    *out = NULL;
    bs_bench *b = bs_calloc(1, sizeof *b);
    if (!b) return BS_ERR_NOMEM;
    b->s = s;
    bs_status st = build_lins(s->m, b);
    if (st == BS_OK) st = alloc_buffers(b);
    if (st != BS_OK) {
        bs_bench_free(b);
        return st;
    }
    *out = b;
    return BS_OK;
}

void bs_bench_free(bs_bench *b) {
    if (!b) return;
    for (int i = 0; i < b->n_lins; i++) {
        free(b->lins[i].f32.w);
        bs_qmat_free(&b->lins[i].q[0]);
        bs_qmat_free(&b->lins[i].q[1]);
    }
    free(b->lins);
    free(b->x), free(b->xk), free(b->y), free(b->scratch), free(b->xpad), free(b->xq), free(b->xd), free(b->xs);
    free(b);
}

int64_t bs_bench_bytes(const bs_bench *b, int side) {
    return b && bs_bench_side_name(side) ? b->bytes[side] : -1;
}

int64_t bs_bench_weights(const bs_bench *b) { return b ? b->weights : 0; }
