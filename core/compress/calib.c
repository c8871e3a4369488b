/* calib.c - activation statistics and activation-aware scale folding
 * (BITSTACK.md 2).
 *
 * For each linear input channel j: s_j = mean over windows of
 * sqrt(sum over the window's tokens of x_j^2) + 1e-3, computed in double on
 * the original model. Folding multiplies columns by s and divides the
 * producer of those channels by s, so the model computes the same function
 * and every decomposition sees W diag(s). The per-channel RMS of the
 * inputs is kept too: it weights the fast sort's error estimate. */
#include "compress_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void observe(void *ctx, int layer, int site, const float *x, int n_tok, int dim) {
    cm_stats *s = ctx;
    double *w = s->win[site] + (size_t)layer * dim;
    for (int t = 0; t < n_tok; t++)
        for (int c = 0; c < dim; c++) {
            double v = x[(size_t)t * dim + c];
            w[c] += v * v;
        }
}

/* Ends a window: adds its L2 norms and squares to the totals. */
static void end_window(cm_stats *s) {
    for (int site = 0; site < 4; site++) {
        size_t n = (size_t)s->n_layers * s->dims[site];
        for (size_t i = 0; i < n; i++) {
            s->norm_sum[site][i] += sqrt(s->win[site][i]);
            s->sq_total[site][i] += s->win[site][i];
            s->win[site][i] = 0.0;
        }
    }
    s->n_windows++;
}

static bs_status stats_alloc(cm_stats *s, const bs_config *c) {
    s->n_layers = c->n_layers;
    s->dims[0] = c->dim;
    s->dims[1] = c->n_heads * c->head_dim;
    s->dims[2] = c->dim;
    s->dims[3] = c->hidden_dim;
    for (int site = 0; site < 4; site++) {
        size_t n = (size_t)c->n_layers * s->dims[site];
        s->win[site] = bs_calloc(n, sizeof(double));
        s->norm_sum[site] = bs_calloc(n, sizeof(double));
        s->sq_total[site] = bs_calloc(n, sizeof(double));
        s->scale[site] = bs_calloc(n, sizeof(float));
        s->rms[site] = bs_calloc(n, sizeof(float));
        if (!s->win[site] || !s->norm_sum[site] || !s->sq_total[site] || !s->scale[site] || !s->rms[site])
            return BS_ERR_NOMEM;
    }
    return BS_OK;
}

void cm_stats_free(cm_stats *s) {
    for (int site = 0; site < 4; site++) {
        free(s->win[site]);
        free(s->norm_sum[site]);
        free(s->sq_total[site]);
        free(s->scale[site]);
        free(s->rms[site]);
    }
    memset(s, 0, sizeof *s);
}

bs_status cm_collect_stats(cm_job *j, const int32_t *tokens, int32_t n_windows) {
    cm_stats *s = &j->stats;
    BS_TRY(stats_alloc(s, &j->m->cfg));
    int32_t ctx = j->p->ctx;
    j->sess->observe = observe;
    j->sess->observe_ctx = s;
    bs_status st = BS_OK;
    for (int32_t w = 0; w < n_windows && st == BS_OK; w++) {
        bs_session_reset(j->sess);
        const float *logits;
        st = bs_session_eval(j->sess, tokens + (size_t)w * ctx, ctx, &logits);
        end_window(s);
        s->n_tokens += ctx;
        if (j->p->progress) j->p->progress(j->p->progress_ctx, "statistics", (uint64_t)w + 1, (uint64_t)n_windows);
    }
    j->sess->observe = NULL;
    if (st != BS_OK) return st;
    for (int site = 0; site < 4; site++) {
        size_t n = (size_t)s->n_layers * s->dims[site];
        for (size_t i = 0; i < n; i++) {
            s->scale[site][i] = (float)pow(s->norm_sum[site][i] / s->n_windows + 1e-3, j->p->scaling_power);
            s->rms[site][i] = (float)sqrt(s->sq_total[site][i] / (double)s->n_tokens);
        }
    }
    return BS_OK;
}

/* W (rows, cols) <- W diag(s) */
static void scale_cols(bs_linear *l, const float *s) {
    for (int32_t r = 0; r < l->rows; r++)
        for (int32_t c = 0; c < l->cols; c++) l->w[(size_t)r * l->cols + c] *= s[c];
}

/* rows of W divided by s (the producer of the scaled channels) */
static void unscale_rows(bs_linear *l, const float *s) {
    for (int32_t r = 0; r < l->rows; r++)
        for (int32_t c = 0; c < l->cols; c++) l->w[(size_t)r * l->cols + c] /= s[r];
}

static void unscale_vec(float *v, const float *s, int32_t n) {
    for (int32_t i = 0; i < n; i++) v[i] /= s[i];
}

void cm_fold_scales(cm_job *j) {
    bs_model *m = j->m;
    cm_stats *st = &j->stats;
    const bs_config *c = &m->cfg;
    int gqa = c->n_kv_heads != c->n_heads;
    for (int32_t li = 0; li < c->n_layers; li++) {
        bs_layer *l = &m->layers[li];
        const float *s_attn = st->scale[0] + (size_t)li * st->dims[0];
        const float *s_o = st->scale[1] + (size_t)li * st->dims[1];
        const float *s_ffn = st->scale[2] + (size_t)li * st->dims[2];
        const float *s_down = st->scale[3] + (size_t)li * st->dims[3];
        scale_cols(&l->wq, s_attn);
        scale_cols(&l->wk, s_attn);
        scale_cols(&l->wv, s_attn);
        unscale_vec(l->attn_norm, s_attn, c->dim);
        if (!gqa) { /* o's input channels are v's output channels */
            scale_cols(&l->wo, s_o);
            unscale_rows(&l->wv, s_o);
        }
        scale_cols(&l->w_gate, s_ffn);
        scale_cols(&l->w_up, s_ffn);
        unscale_vec(l->ffn_norm, s_ffn, c->dim);
        scale_cols(&l->w_down, s_down);
        unscale_rows(&l->w_up, s_down);
        /* the inputs the scaled matrices now see are x / s */
        unscale_vec(st->rms[0] + (size_t)li * st->dims[0], s_attn, st->dims[0]);
        if (!gqa) unscale_vec(st->rms[1] + (size_t)li * st->dims[1], s_o, st->dims[1]);
        unscale_vec(st->rms[2] + (size_t)li * st->dims[2], s_ffn, st->dims[2]);
        unscale_vec(st->rms[3] + (size_t)li * st->dims[3], s_down, st->dims[3]);
    }
}
