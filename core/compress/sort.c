/* sort.c - ranking the residual blocks into one stack, and measuring the
 * perplexity along it.
 *
 * exact (BITSTACK.md 4, the "average" strategy): for each level b >= 1,
 * with every matrix at b blocks, raise one matrix to b + 1, measure the
 * loss on held-out calibration windows, put it back; order the matrices of
 * the level by that loss (stable), and concatenate the levels.
 * (levels - 1) x matrices evaluations.
 *
 * fast: the exact measurement at level 1 only (matrices + 1 evaluations),
 * which also calibrates, per matrix, how loss responds to its activation-
 * weighted squared error (alpha_i = loss gain / error drop at level 1).
 * Later levels are ordered by alpha_i x (err_i(b) - err_i(b + 1)), the
 * predicted gain, which the decomposition already measured. */
#include "compress_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t mat;
    double key; /* lower loads first */
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->mat > y->mat) - (x->mat < y->mat); /* stable: matrix order */
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

static void append_level(cm_job *j, ranked *rk, int32_t n, int32_t *pos) {
    qsort(rk, (size_t)n, sizeof *rk, cmp_ranked);
    for (int32_t k = 0; k < n; k++) j->order[(*pos)++] = rk[k].mat;
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
    ranked *rk = bs_malloc((size_t)j->n_mats, sizeof *rk);
    double *alpha = bs_calloc((size_t)j->n_mats, sizeof *alpha);
    if (!j->order || !j->saved || !rk || !alpha) {
        free(rk);
        free(alpha);
        return BS_ERR_NOMEM;
    }
    bs_status st = BS_OK;
    int32_t pos = 0, exact_levels = j->p->sort == BS_SORT_EXACT ? levels - 1 : BS_MIN(1, levels - 1);
    uint64_t total = (uint64_t)exact_levels * j->n_mats, done = 0;
    for (int32_t b = 1; b < levels && st == BS_OK; b++) {
        set_all(j, b);
        int32_t n = 0;
        for (int32_t i = 0; i < j->n_mats && st == BS_OK; i++) {
            const cm_matrix *x = &j->mats[i];
            if (x->n_levels <= b) continue;
            rk[n].mat = i;
            if (b <= exact_levels) {
                st = probe(j, i, b, &rk[n].key);
                progress(j, "sort", ++done, total);
                if (b == 1) alpha[i] = rk[n].key; /* the probe's loss until calibrated below */
            } else {
                rk[n].key = -alpha[i] * (x->err[b] - x->err[b + 1]);
            }
            n++;
        }
        if (b == 1 && exact_levels < levels - 1 && st == BS_OK) { /* calibrate alpha on level 1 */
            double base = 0.0;
            st = cm_eval(j, &base);
            for (int32_t i = 0; i < j->n_mats; i++) {
                double drop = j->mats[i].err[1] - j->mats[i].err[2];
                alpha[i] = drop > 0 ? (base - alpha[i]) / drop : 0.0;
            }
        }
        append_level(j, rk, n, &pos);
    }
    free(rk);
    free(alpha);
    return st;
}

bs_status cm_curve(cm_job *j, bs_compress_report *r) {
    int32_t *level = bs_calloc((size_t)j->n_mats, sizeof *level);
    if (!level) return BS_ERR_NOMEM;
    /* resident bytes: f16 tables, f32 norms, level 0 of every matrix */
    const bs_config *c = &j->m->cfg;
    int64_t bytes = (int64_t)c->vocab_size * c->dim * 2 * (c->tied ? 1 : 2) + (int64_t)c->dim * 4 * (1 + 2 * c->n_layers);
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
