/* import_llama2c.c - llama2.c checkpoints.
 *
 * Legacy layout: 7 x i32 header (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate
 * classifier), then f32 tensors grouped by kind across layers:
 *   tok_embd (V,D), rms_att (L,D), wq (L,D,D), wk (L,KV,D), wv (L,KV,D),
 *   wo (L,D,D), rms_ffn (L,D), w1 (L,H,D), w2 (L,D,H), w3 (L,H,D),
 *   rms_final (D), freq_cis_real and _imag (S*hd/2 each, unused), [wcls].
 * Version 1 ("ak42"): u32 magic 0x616b3432, i32 version 1, the same 7 x i32
 * (vocab positive), u8 shared_classifier, zero padding to 256 bytes, then
 *   rms_att (L,D), rms_ffn (L,D), rms_final (D), tok_embd (V,D),
 *   wq, wk, wv, wo, w1, w2, w3 (each across L), [wcls (V,D)].
 * w1 = gate, w3 = up, w2 = down. RoPE: adjacent pairs, theta 10000.
 */
#include "model.h"

#include <stdio.h>
#include <string.h>

#define LLAMA2C_MAGIC 0x616b3432u


/* Reads n floats into dst. */
static bs_status rd(bs_cursor *c, float *dst, uint64_t n) {
    /* the host is little-endian on every platform we build for */
    return bs_cursor_read(c, dst, (size_t)n * sizeof(float));
}

/* Reads one tensor kind across all layers: field selects the destination. */
typedef float *(*layer_field)(bs_layer *l);
static float *f_attn_norm(bs_layer *l) { return l->attn_norm; }
static float *f_ffn_norm(bs_layer *l) { return l->ffn_norm; }
static float *f_wq(bs_layer *l) { return l->wq.w; }
static float *f_wk(bs_layer *l) { return l->wk.w; }
static float *f_wv(bs_layer *l) { return l->wv.w; }
static float *f_wo(bs_layer *l) { return l->wo.w; }
static float *f_w1(bs_layer *l) { return l->w_gate.w; }
static float *f_w2(bs_layer *l) { return l->w_down.w; }
static float *f_w3(bs_layer *l) { return l->w_up.w; }

static bs_status rd_layers(bs_cursor *c, bs_model *m, layer_field f, uint64_t n) {
    for (int i = 0; i < m->cfg.n_layers; i++) BS_TRY(rd(c, f(&m->layers[i]), n));
    return BS_OK;
}

static bs_status read_header(bs_cursor *c, bs_config *cfg, int *shared) {
    int32_t h[7];
    for (int i = 0; i < 7; i++) BS_TRY(bs_cursor_i32(c, &h[i]));
    cfg->dim = h[0];
    cfg->hidden_dim = h[1];
    cfg->n_layers = h[2];
    cfg->n_heads = h[3];
    cfg->n_kv_heads = h[4];
    cfg->vocab_size = h[5] < 0 ? (h[5] == INT32_MIN ? 0 : -h[5]) : h[5];
    cfg->seq_len = h[6];
    if (*shared < 0) *shared = h[5] > 0;
    cfg->rope_theta = 10000.0f;
    cfg->norm_eps = 1e-5f;
    cfg->tied = *shared;
    return BS_OK;
}

/* Expected file size for cfg and layout; 0 on overflow (validate first). */
static uint64_t expected_size(const bs_config *c, int v1) {
    uint64_t d = (uint64_t)c->dim, kv = (uint64_t)c->n_kv_heads * c->head_dim,
             q = (uint64_t)c->n_heads * c->head_dim, h = (uint64_t)c->hidden_dim;
    uint64_t per_layer = 2 * d + q * d + 2 * kv * d + d * q + 3 * h * d;
    uint64_t floats = (uint64_t)c->vocab_size * d * (c->tied ? 1 : 2) + d + per_layer * c->n_layers;
    if (!v1) floats += (uint64_t)c->seq_len * c->head_dim; /* freq_cis real + imag */
    return (v1 ? 256 : 28) + floats * 4;
}

bs_status bs_import_llama2c(bs_reader *r, bs_model *m) {
    bs_cursor c = {r, 0};
    uint32_t magic;
    BS_TRY(bs_cursor_u32(&c, &magic));
    int v1 = magic == LLAMA2C_MAGIC, shared = -1;
    if (v1) {
        int32_t version;
        BS_TRY(bs_cursor_i32(&c, &version));
        if (version != 1)
            return bs_fail(BS_ERR_UNSUPPORTED, "%s: llama2.c checkpoint version %d (only 1 and legacy)",
                           r->name, version);
        bs_cursor hc = {r, 8 + 7 * 4};
        uint8_t sh;
        BS_TRY(bs_cursor_u8(&hc, &sh));
        if (sh > 1) return bs_fail(BS_ERR_FORMAT, "%s: shared_classifier flag %u", r->name, sh);
        shared = sh;
    } else {
        c.pos = 0;
    }
    BS_TRY(read_header(&c, &m->cfg, &shared));
    bs_status st = bs_config_validate(&m->cfg);
    if (st != BS_OK) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", bs_last_error());
        return bs_fail(st, "%s: not a llama2.c checkpoint, GGUF or Hugging Face directory (%s)",
                       r->name, detail);
    }
    if (m->cfg.head_dim * m->cfg.n_heads != m->cfg.dim)
        return bs_fail(BS_ERR_FORMAT, "%s: dim %d not divisible by n_heads %d", r->name,
                       m->cfg.dim, m->cfg.n_heads);
    uint64_t want = expected_size(&m->cfg, v1);
    if (r->size < want)
        return bs_fail(BS_ERR_TRUNCATED, "%s: llama2.c checkpoint truncated (%llu bytes, header needs %llu)",
                       r->name, (unsigned long long)r->size, (unsigned long long)want);
    if (r->size > want)
        return bs_fail(BS_ERR_FORMAT, "%s: %llu bytes after the llama2.c weights (header says %llu)",
                       r->name, (unsigned long long)(r->size - want), (unsigned long long)want);
    BS_TRY(bs_model_alloc_weights(m));
    const bs_config *k = &m->cfg;
    uint64_t d = (uint64_t)k->dim, kv = (uint64_t)k->n_kv_heads * k->head_dim, h = (uint64_t)k->hidden_dim;
    uint64_t v = (uint64_t)k->vocab_size;
    if (v1) {
        c.pos = 256;
        BS_TRY(rd_layers(&c, m, f_attn_norm, d));
        BS_TRY(rd_layers(&c, m, f_ffn_norm, d));
        BS_TRY(rd(&c, m->out_norm, d));
        BS_TRY(rd(&c, m->tok_embd, v * d));
    } else {
        BS_TRY(rd(&c, m->tok_embd, v * d));
        BS_TRY(rd_layers(&c, m, f_attn_norm, d));
    }
    BS_TRY(rd_layers(&c, m, f_wq, d * d));
    BS_TRY(rd_layers(&c, m, f_wk, kv * d));
    BS_TRY(rd_layers(&c, m, f_wv, kv * d));
    BS_TRY(rd_layers(&c, m, f_wo, d * d));
    if (!v1) BS_TRY(rd_layers(&c, m, f_ffn_norm, d));
    BS_TRY(rd_layers(&c, m, f_w1, h * d));
    BS_TRY(rd_layers(&c, m, f_w2, d * h));
    BS_TRY(rd_layers(&c, m, f_w3, h * d));
    if (!v1) {
        BS_TRY(rd(&c, m->out_norm, d));
        BS_TRY(bs_cursor_skip(&c, (uint64_t)k->seq_len * k->head_dim * 4));
    }
    if (!k->tied) BS_TRY(rd(&c, m->lm_head.w, v * d));
    m->format = "llama2c";
    return BS_OK;
}
