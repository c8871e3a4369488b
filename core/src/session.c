/* session.c - session lifecycle and the eval entry points. All memory is
   allocated once at creation: nothing is allocated per token. */
#include "session.h"

#include "linear.h"
#include "mathfn.h"

#include <stdlib.h>
#include <string.h>

/* Default KV length when the caller gives none: long contexts (8k+) would
   cost hundreds of MB of f32 cache that most uses never fill. */
#define BS_DEFAULT_CTX 2048
#define BS_DEFAULT_BATCH 64

static void rope_table(bs_session *s) {
    const bs_config *c = &s->m->cfg;
    int half = c->head_dim / 2;
    double log_theta = bs_log_d((double)c->rope_theta);
    for (int i = 0; i < half; i++) {
        /* freq_i = theta^(-2i / head_dim), in double, then angles in double */
        double freq = bs_exp_d(-(2.0 * i / (double)c->head_dim) * log_theta);
        for (int p = 0; p < s->ctx; p++) {
            double sn, cs;
            bs_sincos_d((double)p * freq, &sn, &cs);
            s->rope_cos[(size_t)p * half + i] = (float)cs;
            s->rope_sin[(size_t)p * half + i] = (float)sn;
        }
    }
}

/* Scratch floats of the hungriest linear map of the model. */
static size_t max_linear_scratch(const bs_model *m) {
    size_t mx = BS_MAX(bs_linear_scratch(&m->embed), bs_linear_scratch(m->output));
    for (int i = 0; i < m->cfg.n_layers; i++)
        for (int j = 0; j < 7; j++) mx = BS_MAX(mx, bs_linear_scratch(bs_layer_linear(&m->layers[i], j)));
    return mx;
}

bs_status bs_session_create(const bs_model *m, const bs_session_options *opts, bs_session **out) {
    if (!m || !out) return bs_fail(BS_ERR_INVALID_ARG, "bs_session_create: NULL argument");
    *out = NULL;
    const bs_config *c = &m->cfg;
    int32_t ctx = opts && opts->ctx > 0 ? opts->ctx : BS_MIN(c->seq_len, BS_DEFAULT_CTX);
    int32_t batch = opts && opts->max_batch > 0 ? opts->max_batch : BS_DEFAULT_BATCH;
    int32_t threads = opts && opts->n_threads > 1 ? opts->n_threads : 1;
    if ((opts && (opts->ctx < 0 || opts->max_batch < 0)) || ctx > (1 << 24) || batch > 4096)
        return bs_fail(BS_ERR_INVALID_ARG, "session: ctx %d / max_batch %d out of range",
                       opts ? opts->ctx : 0, opts ? opts->max_batch : 0);
    if (opts && (opts->n_threads < 0 || opts->n_threads > BS_POOL_MAX_THREADS))
        return bs_fail(BS_ERR_INVALID_ARG, "session: n_threads %d outside [0, %d]", opts->n_threads,
                       BS_POOL_MAX_THREADS);
    batch = BS_MIN(batch, ctx);
    bs_pool *pool = NULL;
    BS_TRY(bs_pool_create(threads, &pool));
    threads = bs_pool_threads(pool); /* 1 in builds without threads */
    size_t T = (size_t)threads, lin = max_linear_scratch(m);
    size_t dim = (size_t)c->dim, q_dim = (size_t)c->n_heads * c->head_dim,
           kv_dim = (size_t)c->n_kv_heads * c->head_dim, hid = (size_t)c->hidden_dim,
           half = (size_t)c->head_dim / 2, B = (size_t)batch;
    size_t sizes[] = {
        2 * (size_t)c->n_layers * ctx * kv_dim, /* key + value caches */
        2 * (size_t)ctx * half,                 /* rope cos + sin */
        2 * B * dim,                            /* x, xb */
        B * BS_MAX(dim, q_dim),                 /* xb2 */
        B * q_dim,                              /* q */
        2 * B * kv_dim,                         /* k_new, v_new */
        T * ctx,                                /* att */
        2 * B * hid,                            /* hb, hb2 */
        (size_t)BS_LOGIT_ROWS * c->vocab_size,  /* logits */
        T * lin,                                /* lin_scratch */
        B * BS_MAX(BS_MAX(dim, q_dim), hid),    /* xmask */
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    bs_session *s = bs_calloc(1, sizeof *s);
    if (!s || !(s->mem = bs_calloc(total, sizeof(float)))) {
        free(s);
        bs_pool_free(pool);
        return BS_ERR_NOMEM;
    }
    s->m = m;
    s->pool = pool;
    s->n_threads = threads;
    s->lin_stride = lin;
    s->par_min_work = BS_PAR_MIN_WORK;
    s->k = bs_kernels_best();
    s->fast = !(opts && opts->exact);
    s->ctx = ctx;
    s->max_batch = batch;
    s->mem_floats = total;
    float *p = s->mem;
#define TAKE(field, n) (s->field = p, p += (n))
    TAKE(key_cache, (size_t)c->n_layers * ctx * kv_dim);
    TAKE(val_cache, (size_t)c->n_layers * ctx * kv_dim);
    TAKE(rope_cos, (size_t)ctx * half);
    TAKE(rope_sin, (size_t)ctx * half);
    TAKE(x, B * dim);
    TAKE(xb, B * dim);
    TAKE(xb2, B * BS_MAX(dim, q_dim));
    TAKE(q, B * q_dim);
    TAKE(k_new, B * kv_dim);
    TAKE(v_new, B * kv_dim);
    TAKE(att, T * ctx);
    TAKE(hb, B * hid);
    TAKE(hb2, B * hid);
    TAKE(logits, (size_t)BS_LOGIT_ROWS * c->vocab_size);
    TAKE(lin_scratch, T * lin);
    TAKE(xmask, B * BS_MAX(BS_MAX(dim, q_dim), hid));
#undef TAKE
    rope_table(s);
    *out = s;
    return BS_OK;
}

void bs_session_free(bs_session *s) {
    if (!s) return;
    bs_pool_free(s->pool);
    free(s->mem);
    free(s);
}

void bs_session_reset(bs_session *s) {
    if (s) s->pos = 0;
}

bs_status bs_session_rewind(bs_session *s, int32_t pos) {
    if (!s || pos < 0 || pos > s->pos)
        return bs_fail(BS_ERR_RANGE, "rewind: position %d outside [0, %d]", pos, s ? s->pos : 0);
    s->pos = pos;
    return BS_OK;
}

int32_t bs_session_pos(const bs_session *s) { return s ? s->pos : 0; }

int64_t bs_session_bytes(const bs_session *s) {
    return s ? (int64_t)(s->mem_floats * sizeof(float) + sizeof *s) : 0;
}

static bs_status check_tokens(const bs_session *s, const int32_t *tokens, int32_t n) {
    if (!s || (!tokens && n > 0) || n < 0)
        return bs_fail(BS_ERR_INVALID_ARG, "eval: bad arguments");
    if (n > s->ctx - s->pos)
        return bs_fail(BS_ERR_RANGE, "eval: context full (%d + %d tokens > ctx %d)", s->pos, n,
                       s->ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= s->m->cfg.vocab_size)
            return bs_fail(BS_ERR_RANGE, "eval: token id %d out of range [0, %d)", tokens[i],
                           s->m->cfg.vocab_size);
    return BS_OK;
}

bs_status bs_session_eval(bs_session *s, const int32_t *tokens, int32_t n, const float **logits) {
    BS_TRY(check_tokens(s, tokens, n));
    if (n == 0) return bs_fail(BS_ERR_INVALID_ARG, "eval: no tokens");
    for (int32_t i = 0; i < n; i += s->max_batch) {
        int32_t b = BS_MIN(s->max_batch, n - i);
        bs_forward_layers(s, tokens + i, b);
        if (i + b == n) bs_forward_logits(s, b - 1, 1);
    }
    if (logits) *logits = s->logits;
    return BS_OK;
}

/* -log softmax(row)[target], in double. */
static double token_nll(const float *row, int vocab, int target) {
    float mx = row[0];
    for (int i = 1; i < vocab; i++) mx = row[i] > mx ? row[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < vocab; i++) sum += (double)bs_expf(row[i] - mx);
    return (double)mx + bs_log_d(sum) - (double)row[target];
}

bs_status bs_session_eval_nll(bs_session *s, const int32_t *tokens, int32_t n, double *nll_sum) {
    BS_TRY(check_tokens(s, tokens, n));
    int vocab = s->m->cfg.vocab_size;
    double total = 0.0;
    for (int32_t i = 0; i < n; i += s->max_batch) {
        int32_t b = BS_MIN(s->max_batch, n - i);
        bs_forward_layers(s, tokens + i, b);
        for (int32_t r = 0; r < b; r += BS_LOGIT_ROWS) {
            int32_t rows = BS_MIN(BS_LOGIT_ROWS, b - r);
            bs_forward_logits(s, r, rows);
            for (int32_t j = 0; j < rows; j++) {
                int32_t t = i + r + j; /* predicts tokens[t + 1] */
                if (t + 1 < n) total += token_nll(s->logits + (size_t)j * vocab, vocab, tokens[t + 1]);
            }
        }
    }
    /* leave the last token's logits in row 0, as bs_session_eval does */
    int32_t last = n > 0 ? ((n - 1) % s->max_batch) % BS_LOGIT_ROWS : 0;
    if (last) memmove(s->logits, s->logits + (size_t)last * vocab, (size_t)vocab * sizeof(float));
    if (nll_sum) *nll_sum = total;
    return BS_OK;
}
