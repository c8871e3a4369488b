/* forward.c - the Llama transformer on a batch of tokens.
 *
 * Pre-norm decoder layers: x += Wo attn(rope(Wq n(x)), rope(Wk n(x)), Wv n(x));
 * x += Wdown (silu(Wgate n(x)) * Wup n(x)), with RMSNorm n, grouped-query
 * attention over the KV cache, then a final RMSNorm and lm_head. A batch
 * of tokens goes through each weight matrix together (prefill), which
 * reads every weight once per batch instead of once per token.
 */
#include "linear.h"
#include "mathfn.h"
#include "session.h"

#include <math.h>
#include <string.h>

/* y (n, rows) = x (n, cols) W^T over the session's threads. */
static void linear(bs_session *s, const bs_linear *l, const float *x, float *y, int n) {
    bs_par par = {s->k, s->fast, s->pool, s->lin_scratch, s->lin_stride, s->par_min_work, s->xmask};
    bs_linear_matmul_par(&par, l, x, y, n);
}

static void rmsnorm(const bs_kernels *k, float *out, const float *x, const float *w, int n,
                    float eps) {
    float ss = k->dot_f32(x, x, n) / (float)n + eps;
    float scale = 1.0f / sqrtf(ss);
    for (int i = 0; i < n; i++) out[i] = w[i] * (scale * x[i]);
}

/* Rotates adjacent pairs of each head of one token's vector. */
static void rope(float *v, int n_heads, int head_dim, const float *cos_p, const float *sin_p) {
    for (int h = 0; h < n_heads; h++) {
        float *vh = v + h * head_dim;
        for (int i = 0; i < head_dim / 2; i++) {
            float a = vh[2 * i], b = vh[2 * i + 1];
            vh[2 * i] = a * cos_p[i] - b * sin_p[i];
            vh[2 * i + 1] = a * sin_p[i] + b * cos_p[i];
        }
    }
}

static void softmax(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = bs_expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* Causal attention of head h for tokens [0, n) of the batch (token t at
   position pos + t) over layer li's cache; writes head h of each token's
   output in out (n, q_dim). att: ctx floats of the calling thread. */
static void attend_head(const bs_session *s, int li, int h, int n, float *out, float *att) {
    const bs_config *c = &s->m->cfg;
    int hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int kvh = h / (c->n_heads / c->n_kv_heads);
    const float *kc = s->key_cache + (size_t)li * s->ctx * kv_dim + kvh * hd;
    const float *vc = s->val_cache + (size_t)li * s->ctx * kv_dim + kvh * hd;
    float inv_sqrt = 1.0f / sqrtf((float)hd);
    for (int t = 0; t < n; t++) {
        int p = s->pos + t;
        const float *qh = s->q + (size_t)t * q_dim + h * hd;
        for (int j = 0; j <= p; j++) att[j] = s->k->dot_f32(qh, kc + (size_t)j * kv_dim, hd) * inv_sqrt;
        softmax(att, p + 1);
        float *oh = out + (size_t)t * q_dim + h * hd;
        memset(oh, 0, (size_t)hd * sizeof(float));
        for (int j = 0; j <= p; j++) {
            const float *vj = vc + (size_t)j * kv_dim;
            float a = att[j];
            for (int i = 0; i < hd; i++) oh[i] += a * vj[i];
        }
    }
}

typedef struct att_job {
    const bs_session *s;
    int li, n;
    float *out;
} att_job;

static void att_task(void *ctx, int h, int thread) {
    const att_job *j = ctx;
    attend_head(j->s, j->li, h, j->n, j->out, j->s->att + (size_t)thread * j->s->ctx);
}

/* Attention of the batch, heads spread over the threads (each head's
   outputs are computed whole by one thread, in the same order). */
static void attention(bs_session *s, int li, int n, float *out) {
    const bs_config *c = &s->m->cfg;
    att_job j = {s, li, n, out};
    /* a unit of this work (two f32 products and a share of an exp) costs
       several of a linear map's integer multiply-adds: split 8x sooner */
    int64_t work = 8 * (int64_t)c->n_heads * c->head_dim * n * (s->pos + n);
    if (s->n_threads > 1 && work >= s->par_min_work)
        bs_pool_run(s->pool, c->n_heads, att_task, &j);
    else
        for (int h = 0; h < c->n_heads; h++) att_task(&j, h, 0);
}

static void attention_block(bs_session *s, int li, int n) {
    const bs_config *c = &s->m->cfg;
    const bs_layer *l = &s->m->layers[li];
    int dim = c->dim, hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    for (int t = 0; t < n; t++)
        rmsnorm(s->k, s->xb + (size_t)t * dim, s->x + (size_t)t * dim, l->attn_norm, dim, c->norm_eps);
    if (s->observe) s->observe(s->observe_ctx, li, 0, s->xb, n, dim);
    linear(s, &l->wq, s->xb, s->q, n);
    linear(s, &l->wk, s->xb, s->k_new, n);
    linear(s, &l->wv, s->xb, s->v_new, n);
    float *kc = s->key_cache + (size_t)li * s->ctx * kv_dim;
    float *vc = s->val_cache + (size_t)li * s->ctx * kv_dim;
    for (int t = 0; t < n; t++) {
        int p = s->pos + t;
        const float *cp = s->rope_cos + (size_t)p * (hd / 2), *sp = s->rope_sin + (size_t)p * (hd / 2);
        rope(s->q + (size_t)t * q_dim, c->n_heads, hd, cp, sp);
        rope(s->k_new + (size_t)t * kv_dim, c->n_kv_heads, hd, cp, sp);
        memcpy(kc + (size_t)p * kv_dim, s->k_new + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
        memcpy(vc + (size_t)p * kv_dim, s->v_new + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
    }
    attention(s, li, n, s->xb2);
    if (s->observe) s->observe(s->observe_ctx, li, 1, s->xb2, n, q_dim);
    linear(s, &l->wo, s->xb2, s->xb, n);
    for (size_t i = 0; i < (size_t)n * dim; i++) s->x[i] += s->xb[i];
}

/* hb = silu(hb) * hb2 over n values, in slices over the threads (each
   value on its own: the split cannot change it). */
typedef struct glu_job {
    float *h;
    const float *h2;
    size_t n, chunk;
} glu_job;

static void glu_task(void *ctx, int task, int thread) {
    const glu_job *j = ctx;
    size_t i0 = (size_t)task * j->chunk, i1 = BS_MIN(j->n, i0 + j->chunk);
    (void)thread;
    for (size_t i = i0; i < i1; i++) j->h[i] = bs_siluf(j->h[i]) * j->h2[i];
}

static void swiglu(bs_session *s, float *h, const float *h2, size_t n) {
    /* an exp per value: about as costly as 100 multiply-adds of a linear map */
    int tasks = s->n_threads > 1 && 100 * (int64_t)n >= s->par_min_work ? 2 * s->n_threads : 1;
    glu_job j = {h, h2, n, (n + (size_t)tasks - 1) / (size_t)tasks};
    if (tasks == 1) glu_task(&j, 0, 0);
    else bs_pool_run(s->pool, tasks, glu_task, &j);
}

static void ffn_block(bs_session *s, int li, int n) {
    const bs_config *c = &s->m->cfg;
    const bs_layer *l = &s->m->layers[li];
    int dim = c->dim, hid = c->hidden_dim;
    for (int t = 0; t < n; t++)
        rmsnorm(s->k, s->xb + (size_t)t * dim, s->x + (size_t)t * dim, l->ffn_norm, dim, c->norm_eps);
    if (s->observe) s->observe(s->observe_ctx, li, 2, s->xb, n, dim);
    linear(s, &l->w_gate, s->xb, s->hb, n);
    linear(s, &l->w_up, s->xb, s->hb2, n);
    swiglu(s, s->hb, s->hb2, (size_t)n * hid);
    if (s->observe) s->observe(s->observe_ctx, li, 3, s->hb, n, hid);
    linear(s, &l->w_down, s->hb, s->xb, n);
    for (size_t i = 0; i < (size_t)n * dim; i++) s->x[i] += s->xb[i];
}

void bs_forward_layers(bs_session *s, const int32_t *tokens, int32_t n) {
    const bs_config *c = &s->m->cfg;
    int dim = c->dim;
    for (int t = 0; t < n; t++) bs_linear_weights_row(&s->m->embed, tokens[t], s->x + (size_t)t * dim);
    for (int li = 0; li < c->n_layers; li++) {
        attention_block(s, li, n);
        ffn_block(s, li, n);
    }
    for (int t = 0; t < n; t++)
        rmsnorm(s->k, s->xb + (size_t)t * dim, s->x + (size_t)t * dim, s->m->out_norm, dim,
                c->norm_eps);
    s->pos += n;
}

void bs_forward_logits(bs_session *s, int32_t row0, int32_t n_rows) {
    linear(s, s->m->output, s->xb + (size_t)row0 * s->m->cfg.dim, s->logits, n_rows);
}
