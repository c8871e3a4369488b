/* model.c - model configuration, weight allocation, format detection and
   the public model/tokenizer entry points. */
#include "model.h"

#include "bstk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const bs_linear_names[7] = {"q", "k", "v", "o", "gate", "up", "down"};

bs_linear *bs_layer_linear(bs_layer *l, int i) {
    switch (i) {
    case 0: return &l->wq;
    case 1: return &l->wk;
    case 2: return &l->wv;
    case 3: return &l->wo;
    case 4: return &l->w_gate;
    case 5: return &l->w_up;
    case 6: return &l->w_down;
    default: return NULL;
    }
}

#define CFG_RANGE(field, lo, hi)                                              \
    if (cfg->field < (lo) || cfg->field > (hi))                               \
        return bs_fail(BS_ERR_FORMAT, "model config: %s = %lld out of range [%lld, %lld]", \
                       #field, (long long)cfg->field, (long long)(lo), (long long)(hi))

bs_status bs_config_validate(bs_config *cfg) {
    CFG_RANGE(dim, 1, 1 << 16);
    CFG_RANGE(hidden_dim, 1, 1 << 18);
    CFG_RANGE(n_layers, 1, 1024);
    CFG_RANGE(n_heads, 1, 1024);
    CFG_RANGE(n_kv_heads, 1, 1024);
    CFG_RANGE(vocab_size, 1, 1 << 22);
    CFG_RANGE(seq_len, 1, 1 << 24);
    if (cfg->head_dim == 0) {
        if (cfg->dim % cfg->n_heads != 0)
            return bs_fail(BS_ERR_FORMAT, "model config: dim %d not divisible by n_heads %d",
                           cfg->dim, cfg->n_heads);
        cfg->head_dim = cfg->dim / cfg->n_heads;
    }
    CFG_RANGE(head_dim, 2, 1 << 12);
    if (cfg->head_dim % 2 != 0)
        return bs_fail(BS_ERR_FORMAT, "model config: head_dim %d is odd (RoPE needs pairs)",
                       cfg->head_dim);
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return bs_fail(BS_ERR_FORMAT, "model config: n_heads %d not a multiple of n_kv_heads %d",
                       cfg->n_heads, cfg->n_kv_heads);
    if (!(cfg->rope_theta > 0.0f && cfg->rope_theta < 1e12f))
        return bs_fail(BS_ERR_FORMAT, "model config: rope_theta %g out of range",
                       (double)cfg->rope_theta);
    if (!(cfg->norm_eps > 0.0f && cfg->norm_eps < 1.0f))
        return bs_fail(BS_ERR_FORMAT, "model config: norm_eps %g out of range",
                       (double)cfg->norm_eps);
    /* the whole float model must be addressable */
    uint64_t per_layer = 0, t;
    int64_t q = (int64_t)cfg->n_heads * cfg->head_dim, kv = (int64_t)cfg->n_kv_heads * cfg->head_dim;
    per_layer = (uint64_t)(2 * cfg->dim) + (uint64_t)(2 * q + 2 * kv) * cfg->dim +
                3ull * cfg->hidden_dim * cfg->dim;
    if (!bs_mul_ok(per_layer, (uint64_t)cfg->n_layers, &t) || t > (1ull << 40))
        return bs_fail(BS_ERR_FORMAT, "model config: absurd size (%lld layers)",
                       (long long)cfg->n_layers);
    return BS_OK;
}

static void linear_init(bs_linear *l, int32_t rows, int32_t cols, float **p) {
    l->rows = rows;
    l->cols = cols;
    l->w = *p;
    *p += (size_t)rows * cols;
}

bs_status bs_model_alloc_weights(bs_model *m) {
    const bs_config *c = &m->cfg;
    size_t q = (size_t)c->n_heads * c->head_dim, kv = (size_t)c->n_kv_heads * c->head_dim;
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim;
    size_t per_layer = 2 * d + q * d + 2 * kv * d + d * q + 3 * h * d;
    size_t total = (size_t)c->vocab_size * d * (c->tied ? 1 : 2) + d + per_layer * c->n_layers;
    m->layers = bs_calloc((size_t)c->n_layers, sizeof *m->layers);
    m->arena = bs_calloc(total, sizeof(float));
    if (!m->layers || !m->arena) return BS_ERR_NOMEM;
    m->arena_floats = total;
    float *p = m->arena;
    m->tok_embd = p;
    linear_init(&m->embed, c->vocab_size, c->dim, &p);
    m->out_norm = p;
    p += d;
    if (c->tied) {
        m->lm_head = m->embed; /* importers may write either; same memory */
        m->output = &m->embed;
    } else {
        linear_init(&m->lm_head, c->vocab_size, c->dim, &p);
        m->output = &m->lm_head;
    }
    for (int i = 0; i < c->n_layers; i++) {
        bs_layer *l = &m->layers[i];
        l->attn_norm = p;
        p += d;
        l->ffn_norm = p;
        p += d;
        linear_init(&l->wq, (int32_t)q, c->dim, &p);
        linear_init(&l->wk, (int32_t)kv, c->dim, &p);
        linear_init(&l->wv, (int32_t)kv, c->dim, &p);
        linear_init(&l->wo, c->dim, (int32_t)q, &p);
        linear_init(&l->w_gate, c->hidden_dim, c->dim, &p);
        linear_init(&l->w_up, c->hidden_dim, c->dim, &p);
        linear_init(&l->w_down, c->dim, c->hidden_dim, &p);
    }
    return BS_OK;
}

/* Block tables of stacked linear maps (.bstk models). */
static void free_block_tables(bs_linear *l) {
    free(l->avd);
    free((void *)l->planes);
}

void bs_model_free(bs_model *m) {
    if (!m) return;
    if (m->stack) {
        free_block_tables(&m->embed);
        free_block_tables(&m->lm_head);
        for (int i = 0; m->layers && i < m->cfg.n_layers; i++)
            for (int j = 0; j < 7; j++) free_block_tables(bs_layer_linear(&m->layers[i], j));
        bs_stack_free(m->stack);
    }
    bs_tokenizer_free(m->tok);
    free(m->chat_template);
    free(m->layers);
    free(m->arena);
    free(m);
}

static int is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Picks the importer from the path and the first four bytes. */
/* budget: .bstk weight bytes, 0 = all, -1 = the resident section only */
static bs_status import_any(const char *path, int64_t budget, bs_model *m) {
    if (is_directory(path)) return bs_import_hf(path, m);
    bs_reader r;
    BS_TRY(bs_reader_open_file(&r, path));
    uint8_t magic[4] = {0};
    bs_status st = bs_reader_read(&r, 0, magic, 4);
    if (st == BS_OK) {
        if (memcmp(magic, "GGUF", 4) == 0)
            st = bs_import_gguf(&r, m);
        else if (memcmp(magic, "BSTK", 4) == 0)
            st = bs_import_bstk(&r, m, budget); /* keeps the file open */
        else
            st = bs_import_llama2c(&r, m);
    }
    bs_reader_close(&r);
    return st;
}

bs_status bs_model_load(const char *path, const bs_load_options *opts, bs_model **out) {
    if (!path || !out) return bs_fail(BS_ERR_INVALID_ARG, "bs_model_load: NULL argument");
    *out = NULL;
    bs_clear_error();
    bs_model *m = bs_calloc(1, sizeof *m);
    if (!m) return BS_ERR_NOMEM;
    if (opts && opts->budget_bytes < 0) {
        free(m);
        return bs_fail(BS_ERR_INVALID_ARG, "negative budget");
    }
    bs_status st = import_any(path, !opts ? 0 : opts->resident_only ? -1 : opts->budget_bytes, m);
    if (st == BS_OK && opts && opts->tokenizer_path) {
        bs_reader r;
        st = bs_reader_open_file(&r, opts->tokenizer_path);
        if (st == BS_OK) {
            bs_tokenizer *t = NULL;
            st = bs_tokenizer_load_llama2c(&r, m->cfg.vocab_size, &t);
            bs_reader_close(&r);
            if (st == BS_OK) {
                bs_tokenizer_free(m->tok);
                m->tok = t;
            }
        }
    }
    if (st != BS_OK) {
        bs_model_free(m);
        return st;
    }
    *out = m;
    return BS_OK;
}

bs_status bs_model_get_info(const bs_model *m, bs_model_info *out) {
    if (!m || !out) return bs_fail(BS_ERR_INVALID_ARG, "bs_model_get_info: NULL argument");
    const bs_config *c = &m->cfg;
    memset(out, 0, sizeof *out);
    out->dim = c->dim;
    out->hidden_dim = c->hidden_dim;
    out->n_layers = c->n_layers;
    out->n_heads = c->n_heads;
    out->n_kv_heads = c->n_kv_heads;
    out->head_dim = c->head_dim;
    out->vocab_size = c->vocab_size;
    out->seq_len = c->seq_len;
    out->rope_theta = c->rope_theta;
    out->norm_eps = c->norm_eps;
    out->tied_embeddings = c->tied;
    out->tokenizer_kind = m->tok ? (int32_t)bs_tokenizer_get_kind(m->tok) : BS_TOKENIZER_NONE;
    out->bos_id = m->tok ? bs_tokenizer_bos(m->tok) : -1;
    out->eos_id = m->tok ? bs_tokenizer_eos(m->tok) : -1;
    int64_t per_layer = 2 * (int64_t)c->dim + (int64_t)c->dim * c->head_dim * (2 * c->n_heads + 2 * c->n_kv_heads) +
                        3 * (int64_t)c->dim * c->hidden_dim;
    out->n_params = (int64_t)c->vocab_size * c->dim * (c->tied ? 1 : 2) + c->dim + per_layer * c->n_layers;
    out->weight_bytes = m->stack ? m->stack->loaded_bytes : (int64_t)(m->arena_floats * sizeof(float));
    out->format = m->format;
    out->chat_template = m->chat_template;
    return BS_OK;
}

/* ---- tokenizer entry points ---- */

static bs_status need_tokenizer(const bs_model *m) {
    if (!m) return bs_fail(BS_ERR_INVALID_ARG, "NULL model");
    if (!m->tok)
        return bs_fail(BS_ERR_STATE, "the model has no tokenizer (pass a tokenizer file)");
    return BS_OK;
}

bs_status bs_tokenize(const bs_model *m, const char *text, size_t len, uint32_t flags,
                      int32_t *ids, int32_t cap, int32_t *n_out) {
    BS_TRY(need_tokenizer(m));
    return bs_tokenizer_encode(m->tok, text, len, flags, ids, cap, n_out);
}

bs_status bs_detokenize(const bs_model *m, int32_t prev, int32_t id, char *buf, size_t cap,
                        size_t *len) {
    BS_TRY(need_tokenizer(m));
    return bs_tokenizer_decode(m->tok, prev, id, buf, cap, len);
}

int bs_token_is_eog(const bs_model *m, int32_t id) {
    return m && m->tok && bs_tokenizer_is_eog(m->tok, id);
}

int32_t bs_token_find(const bs_model *m, const char *text) {
    if (!m || !m->tok || !text) return -1;
    return bs_tokenizer_find(m->tok, text, strlen(text));
}
