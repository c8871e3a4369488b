/* sort.c - ranking the residual blocks into one stack, and measuring the
 * perplexity along it.
 *
 * Every block (level b >= 1 of a matrix) gets a measured or predicted loss
 * gain, and the gains order the stack:
 *
 * level order, the paper's "average" strategy (BITSTACK.md 4): for each
 * level b, with every matrix at b blocks, raise one matrix to b + 1 and
 * measure the loss on held-out calibration windows; order the matrices of
 * the level by it (stable) and concatenate the levels. exact measures every
 * level ((levels - 1) x matrices evaluations); fast measures level 1 and
 * predicts later levels as alpha_i x (err_i(b) - err_i(b + 1)), with the
 * activation-weighted squared errors the decomposition measured and alpha_i
 * calibrated on level 1.
 *
 * byte order (default): gains measured leave-one-out (the rest of the model
 * at full depth), then one global order by gain per byte, so bytes go
 * where they buy the most and matrices may differ by several levels. exact
 * measures every level of every matrix; fast one level per matrix
 * (matrices + 1 evaluations) plus the error drops, with alpha floored at a
 * tenth of the median (a noisy probe once stranded five o_proj matrices of
 * SmolLM2 at one plane until the last 14% of the stack). */
#include "compress_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t mat, level;
    int32_t tier; /* lower loads first: min(level, params.min_level)  */
    double key;   /* then higher loads first                          */
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->tier != y->tier) return x->tier - y->tier;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    if (x->level != y->level) return x->level - y->level; /* a matrix's levels in order */
    return (x->mat > y->mat) - (x->mat < y->mat);          /* stable: matrix order */
}

static void progress(cm_job *j, const char *stage, uint64_t done, uint64_t total) {
    if (j->p->progress) j->p->progress(j->p->progress_ctx, stage, done, total);
}

static void set_all(cm_job *j, int32_t level) {
    for (int32_t i = 0; i < j->n_mats; i++) cm_reconstruct(j, i, BS_MIN(level, j->mats[i].n_levels));
}

/* Loss with matrix i raised from `level` to level + 1 (then restored). */
static bs_status probe(cm_job *j, int32_t i, int32_t level, double *nll) {
    bs_linear *l = j->mats[i].lin;
    size_t n = (size_t)l->rows * l->cols;
    memcpy(j->saved, l->w, n * sizeof(float));
    cm_reconstruct(j, i, level + 1);
    bs_status st = cm_eval(j, nll);
    memcpy(l->w, j->saved, n * sizeof(float));
    return st;
}

/* Predicted gains alpha_i x (err_i(b) - err_i(b + 1)) for levels from `from`. */
static void predict(cm_job *j, int32_t levels, int32_t i, double alpha, int32_t from, double *gain) {
    const cm_matrix *x = &j->mats[i];
    for (int32_t b = from; b < x->n_levels; b++) gain[(size_t)i * levels + b] = alpha * (x->err[b] - x->err[b + 1]);
}

/* The paper's context: every matrix at b blocks, one raised to b + 1.
   exact: measured at every level; fast: at level 1, later ones predicted
   from the error drops the decomposition measured. */
static bs_status gains_average(cm_job *j, int32_t levels, double *gain) {
    int32_t measured = j->p->sort == BS_SORT_EXACT ? levels - 1 : BS_MIN(1, levels - 1);
    uint64_t total = (uint64_t)measured * j->n_mats, done = 0;
    bs_status st = BS_OK;
    for (int32_t b = 1; b <= measured && st == BS_OK; b++) {
        set_all(j, b);
        double base = 0.0;
        st = cm_eval(j, &base);
        for (int32_t i = 0; i < j->n_mats && st == BS_OK; i++) {
            if (j->mats[i].n_levels <= b) continue;
            double nll = 0.0;
            st = probe(j, i, b, &nll);
            gain[(size_t)i * levels + b] = base - nll;
            progress(j, "sort", ++done, total);
        }
    }
    for (int32_t i = 0; i < j->n_mats && measured < levels - 1; i++) {
        double drop = j->mats[i].err[1] - j->mats[i].err[2];
        predict(j, levels, i, drop > 0 ? gain[(size_t)i * levels + 1] / drop : 0.0, 2, gain);
    }
    return st;
}

/* alpha_i no lower than a tenth of the median: a probe lost in evaluation
   noise must not strand a matrix at the end of the stack. */
static void floor_alphas(double *alpha, int32_t n) {
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return;
    memcpy(sorted, alpha, (size_t)n * sizeof *sorted);
    for (int32_t a = 1; a < n; a++) /* insertion sort: n is the matrix count */
        for (int32_t b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
            double t = sorted[b];
            sorted[b] = sorted[b - 1];
            sorted[b - 1] = t;
        }
    double floor = 0.1 * sorted[n / 2];
    for (int32_t i = 0; i < n; i++) alpha[i] = fmax(alpha[i], floor);
    free(sorted);
}

/* Leave-one-out context, for the byte order: every other matrix at full
   depth, matrix i lowered. A block's worth is then measured where budgets
   worth having live (near the float model), not where the whole model is
   broken. exact: the loss at every level of i; fast: the loss with i at
   one plane (the largest, least noisy effect) calibrates alpha_i and the
   error drops give the rest. */
static bs_status gains_leave_one_out(cm_job *j, int32_t levels, double *gain) {
    set_all(j, levels);
    double full = 0.0;
    bs_status st = cm_eval(j, &full);
    double *alpha = bs_calloc((size_t)j->n_mats, sizeof *alpha);
    if (!alpha) return BS_ERR_NOMEM;
    uint64_t done = 0;
    for (int32_t i = 0; i < j->n_mats && st == BS_OK; i++) {
        const cm_matrix *x = &j->mats[i];
        int32_t top = x->n_levels;
        double next = full; /* loss with i at level b + 1 */
        int32_t probe_at = BS_MIN(j->p->probe_level, top - 1);
        for (int32_t b = top - 1; b >= 1 && st == BS_OK; b--) {
            if (j->p->sort == BS_SORT_FAST && b != probe_at) continue;
            double nll = 0.0;
            cm_reconstruct(j, i, b);
            st = cm_eval(j, &nll);
            if (j->p->sort == BS_SORT_EXACT) {
                gain[(size_t)i * levels + b] = nll - next;
                next = nll;
            } else {
                double drop = x->err[b] - x->err[top];
                alpha[i] = drop > 0 ? (nll - full) / drop : 0.0;
            }
        }
        cm_reconstruct(j, i, top);
        progress(j, "sort", ++done, (uint64_t)j->n_mats);
    }
    if (j->p->sort == BS_SORT_FAST && st == BS_OK) {
        floor_alphas(alpha, j->n_mats);
        for (int32_t i = 0; i < j->n_mats; i++) predict(j, levels, i, alpha[i], 1, gain);
    }
    free(alpha);
    return st;
}

/* The blocks (levels >= 1) of every matrix with their ranking keys.
   Blocks below params.min_level come first, level by level (tier): every
   matrix holds that many blocks before any holds more, because gains
   measured one matrix at a time miss how matrices left at one plane
   compound (SmolLM2, fast sort: seven q projections at one plane at
   3.5 bpw; docs/notes-measurements.md).
   level order (the paper): key = gain, grouped by level. byte order: a
   block also unlocks the matrix's later blocks, so its key is the best
   gain per byte of any run of blocks starting at it (a noisy or negative
   gain does not strand the rest of the matrix), then made non-increasing
   along the matrix so its levels stay in order. */
static int32_t rank_blocks(const cm_job *j, int32_t levels, const double *gain, ranked *rk) {
    int32_t n = 0;
    for (int32_t i = 0; i < j->n_mats; i++) {
        const cm_matrix *x = &j->mats[i];
        const double *g = gain + (size_t)i * levels;
        int32_t first = n;
        for (int32_t b = 1; b < x->n_levels; b++) {
            double key = g[b];
            if (j->p->order == BS_ORDER_BYTE) {
                double sum_g = 0.0, sum_b = 0.0;
                key = -INFINITY;
                for (int32_t c = b; c < x->n_levels; c++) {
                    sum_g += g[c];
                    sum_b += (double)x->size[c];
                    key = fmax(key, sum_g / sum_b);
                }
                if (n > first) key = fmin(key, rk[n - 1].key);
            }
            rk[n++] = (ranked){i, b, BS_MIN(b, j->p->min_level), key};
        }
    }
    return n;
}

static int cmp_by_level(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->level != y->level) return x->level - y->level;
    return cmp_ranked(a, b);
}

bs_status cm_sort(cm_job *j) {
    int32_t levels = 0;
    size_t biggest = 0;
    j->n_blocks = 0;
    for (int32_t i = 0; i < j->n_mats; i++) {
        j->n_blocks += j->mats[i].n_levels - 1;
        levels = BS_MAX(levels, j->mats[i].n_levels);
        biggest = BS_MAX(biggest, (size_t)j->mats[i].lin->rows * j->mats[i].lin->cols);
    }
    j->order = bs_malloc((size_t)(j->n_blocks ? j->n_blocks : 1), sizeof *j->order);
    j->saved = bs_malloc(biggest, sizeof(float));
    ranked *rk = bs_malloc((size_t)(j->n_blocks ? j->n_blocks : 1), sizeof *rk);
    double *gain = bs_calloc((size_t)j->n_mats * levels, sizeof *gain);
    bs_status st = j->order && j->saved && rk && gain ? BS_OK : BS_ERR_NOMEM;
    /* none: every gain 0, so both orders fall back on level, then matrix */
    if (st == BS_OK && j->p->sort != BS_SORT_NONE)
        st = j->p->order == BS_ORDER_LEVEL ? gains_average(j, levels, gain) : gains_leave_one_out(j, levels, gain);
    if (st == BS_OK) {
        int32_t n = rank_blocks(j, levels, gain, rk);
        qsort(rk, (size_t)n, sizeof *rk, j->p->order == BS_ORDER_LEVEL ? cmp_by_level : cmp_ranked);
        for (int32_t k = 0; k < n; k++) j->order[k] = rk[k].mat;
    }
    free(rk);
    free(gain);
    return st;
}

bs_status cm_curve(cm_job *j, bs_compress_report *r) {
    int32_t *level = bs_calloc((size_t)j->n_mats, sizeof *level);
    if (!level) return BS_ERR_NOMEM;
    /* resident bytes: f16 tables not stacked, f32 norms, level 0 of every
       stacked matrix */
    const bs_config *c = &j->m->cfg;
    int32_t plain_tables = (c->tied ? 1 : 2) - (j->n_mats - 7 * c->n_layers);
    int64_t bytes = (int64_t)c->vocab_size * c->dim * 2 * plain_tables + (int64_t)c->dim * 4 * (1 + 2 * c->n_layers);
    for (int32_t i = 0; i < j->n_mats; i++) bytes += (int64_t)j->mats[i].size[0];
    r->resident_bytes = bytes;
    /* a point after every full level of the stack: prefixes of n_mats blocks */
    int32_t step = BS_MAX(1, j->n_mats), n_points = j->n_blocks / step + 1;
    while (n_points > 64) step *= 2, n_points = j->n_blocks / step + 1;
    bs_status st = BS_OK;
    for (int32_t pt = 0; pt < n_points && st == BS_OK; pt++) {
        int32_t upto = pt == n_points - 1 ? j->n_blocks : pt * step;
        for (int32_t i = 0; i < j->n_mats; i++) level[i] = 1;
        bytes = r->resident_bytes;
        for (int32_t b = 0; b < upto; b++) {
            int32_t i = j->order[b];
            bytes += (int64_t)j->mats[i].size[level[i]++];
        }
        for (int32_t i = 0; i < j->n_mats; i++) cm_reconstruct(j, i, level[i]);
        double nll = 0.0;
        st = cm_eval(j, &nll);
        r->curve_blocks[pt] = (uint64_t)upto;
        r->curve_bytes[pt] = (uint64_t)bytes;
        r->curve_ppl[pt] = (float)exp(nll);
        r->n_curve = pt + 1;
        progress(j, "curve", (uint64_t)pt + 1, (uint64_t)n_points);
    }
    r->full_bytes = bytes;
    free(level);
    return st;
}
