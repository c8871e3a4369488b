/* import_gguf.c - GGUF files of the "llama" architecture -> bs_model.
 *
 * The container is parsed by gguf.c; this file maps llama.cpp's metadata
 * keys and tensor names onto bs_config / bs_layer and builds the tokenizer
 * from the tokenizer.ggml.* keys.
 *
 * Tensor names (ne listed fastest-first, so [in, out] is our (out, in)):
 *   token_embd.weight        [dim, vocab]     -> tok_embd (vocab, dim)
 *   output_norm.weight       [dim]            -> out_norm
 *   output.weight            [dim, vocab]     -> lm_head; absent: tied
 *   blk.N.attn_norm.weight   [dim]
 *   blk.N.attn_q.weight      [dim, n_heads*head_dim]     (q/k rows are
 *   blk.N.attn_k.weight      [dim, n_kv_heads*head_dim]   already in the
 *   blk.N.attn_v.weight      [dim, n_kv_heads*head_dim]   adjacent-pair
 *   blk.N.attn_output.weight [n_heads*head_dim, dim]      RoPE order)
 *   blk.N.ffn_norm.weight    [dim]
 *   blk.N.ffn_gate.weight    [dim, hidden]
 *   blk.N.ffn_up.weight      [dim, hidden]
 *   blk.N.ffn_down.weight    [hidden, dim]
 * Every tensor of the file must be used: a tensor we would ignore (biases,
 * rope_freqs, experts) means the model computes something we do not. */
#include "model.h"

#include "dequant.h"
#include "gguf.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (1u << 20)  /* raw bytes read per step when loading   */

typedef struct loader {
    const bs_gguf *g;
    uint8_t *used;              /* (n_tensors) 1 once a tensor is loaded  */
} loader;

/* ---- config ------------------------------------------------------------ */

/* An integer key in [lo, hi]; def when absent (required: absence fails). */
static bs_status get_int(const bs_gguf *g, const char *key, int required, int64_t def,
                         int64_t lo, int64_t hi, int32_t *out) {
    int64_t v = def;
    int found;
    BS_TRY(bs_gguf_get_i64(g, key, &v, &found));
    if (!found && required)
        return bs_fail(BS_ERR_FORMAT, "gguf: required key '%s' is missing", key);
    if (v < lo || v > hi)
        return bs_fail(BS_ERR_FORMAT, "gguf: %s = %lld out of range [%lld, %lld]", key,
                       (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return BS_OK;
}

static bs_status get_float(const bs_gguf *g, const char *key, double def, float *out) {
    double v = def;
    BS_TRY(bs_gguf_get_f64(g, key, &v, NULL));
    if (!(v >= -FLT_MAX && v <= FLT_MAX))  /* also NaN; the cast would be undefined */
        return bs_fail(BS_ERR_FORMAT, "gguf: %s = %g is not a finite float", key, v);
    *out = (float)v;
    return BS_OK;
}

/* Features of the llama architecture that change the computation and that
   the forward pass does not implement: refuse rather than run wrongly. */
static bs_status check_unsupported(const bs_gguf *g) {
    int32_t experts = 0;
    BS_TRY(get_int(g, "llama.expert_count", 0, 0, 0, INT32_MAX, &experts));
    if (experts > 0)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: mixture-of-experts llama (llama.expert_count"
                       " = %d) is not supported", experts);
    const char *scaling = NULL;
    int found;
    BS_TRY(bs_gguf_get_str(g, "llama.rope.scaling.type", &scaling, NULL, &found));
    if (found && strcmp(scaling, "none") != 0)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: RoPE scaling '%s' is not supported", scaling);
    float linear = 1.0f;
    BS_TRY(get_float(g, "llama.rope.scale_linear", 1.0, &linear));
    if (linear != 1.0f)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: linear RoPE scaling %g is not supported",
                       (double)linear);
    if (bs_gguf_find_tensor(g, "rope_freqs.weight"))
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: per-frequency RoPE factors (rope_freqs.weight,"
                       " Llama 3.1 style) are not supported");
    return BS_OK;
}

static bs_status read_vocab_size(const bs_gguf *g, int32_t *vocab) {
    const bs_gguf_kv *tokens = NULL;
    int32_t meta = 0;
    int found = bs_gguf_find(g, "llama.vocab_size") != NULL;
    BS_TRY(bs_gguf_get_array(g, "tokenizer.ggml.tokens", BS_GGUF_STRING, &tokens));
    if (found) BS_TRY(get_int(g, "llama.vocab_size", 1, 0, 1, 1 << 22, &meta));
    if (tokens) {
        if (tokens->count < 1 || tokens->count > (1u << 22))
            return bs_fail(BS_ERR_FORMAT, "gguf: tokenizer.ggml.tokens has %llu tokens",
                           (unsigned long long)tokens->count);
        if (found && (uint64_t)meta != tokens->count)
            return bs_fail(BS_ERR_FORMAT, "gguf: llama.vocab_size %d disagrees with the %llu "
                           "tokens of tokenizer.ggml.tokens", meta,
                           (unsigned long long)tokens->count);
        *vocab = (int32_t)tokens->count;
    } else if (found) {
        *vocab = meta;
    } else {
        const bs_gguf_tensor *t = bs_gguf_find_tensor(g, "token_embd.weight");
        if (!t) return bs_fail(BS_ERR_FORMAT, "gguf: tensor 'token_embd.weight' is missing");
        if (t->n_dims != 2 || t->ne[1] > (1 << 22))
            return bs_fail(BS_ERR_FORMAT, "gguf: token_embd.weight is not a [dim, vocab] matrix");
        *vocab = (int32_t)t->ne[1];
    }
    return BS_OK;
}

static bs_status read_config(const bs_gguf *g, bs_config *c) {
    const char *arch = NULL;
    int found;
    BS_TRY(bs_gguf_get_str(g, "general.architecture", &arch, NULL, &found));
    if (!found) return bs_fail(BS_ERR_FORMAT, "gguf: general.architecture is missing");
    if (strcmp(arch, "llama") != 0)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: architecture '%.64s' is not supported (only "
                       "'llama')", arch);
    BS_TRY(check_unsupported(g));
    BS_TRY(get_int(g, "llama.embedding_length", 1, 0, 1, INT32_MAX, &c->dim));
    BS_TRY(get_int(g, "llama.feed_forward_length", 1, 0, 1, INT32_MAX, &c->hidden_dim));
    BS_TRY(get_int(g, "llama.block_count", 1, 0, 1, INT32_MAX, &c->n_layers));
    BS_TRY(get_int(g, "llama.attention.head_count", 1, 0, 1, INT32_MAX, &c->n_heads));
    BS_TRY(get_int(g, "llama.attention.head_count_kv", 0, c->n_heads, 1, INT32_MAX,
                   &c->n_kv_heads));
    BS_TRY(get_int(g, "llama.context_length", 1, 0, 1, INT32_MAX, &c->seq_len));
    BS_TRY(get_float(g, "llama.rope.freq_base", 10000.0, &c->rope_theta));
    BS_TRY(get_float(g, "llama.attention.layer_norm_rms_epsilon", 1e-5, &c->norm_eps));
    BS_TRY(read_vocab_size(g, &c->vocab_size));

    /* head_dim: explicit key_length (value_length must agree), else
       dim / n_heads (bs_config_validate). RoPE must rotate the whole head. */
    int32_t klen = 0, vlen = 0, rot = 0;
    BS_TRY(get_int(g, "llama.attention.key_length", 0, 0, 0, INT32_MAX, &klen));
    BS_TRY(get_int(g, "llama.attention.value_length", 0, klen, 0, INT32_MAX, &vlen));
    if (vlen != klen)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: key_length %d != value_length %d", klen, vlen);
    c->head_dim = klen;
    BS_TRY(bs_config_validate(c));
    BS_TRY(get_int(g, "llama.rope.dimension_count", 0, c->head_dim, 0, INT32_MAX, &rot));
    if (rot != c->head_dim)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: partial RoPE (llama.rope.dimension_count %d "
                       "of head_dim %d) is not supported", rot, c->head_dim);
    return BS_OK;
}

/* ---- tensors ----------------------------------------------------------- */

/* The tensor name, checked to be a (rows, cols) matrix (rows 0: a vector of
   cols) of a type we can dequantize. */
static bs_status find_tensor(loader *ld, const char *name, int64_t rows, int64_t cols,
                             const bs_gguf_tensor **out) {
    const bs_gguf_tensor *t = bs_gguf_find_tensor(ld->g, name);
    if (!t) return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s' is missing", name);
    int64_t want1 = rows ? rows : 1;
    if (t->ne[0] != cols || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1) {
        if (rows)
            return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s' has shape [%lld, %lld, %lld, %lld] "
                           "(fastest first), expected [%lld, %lld]", name, (long long)t->ne[0],
                           (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                           (long long)cols, (long long)rows);
        return bs_fail(BS_ERR_FORMAT, "gguf: tensor '%s' has shape [%lld, %lld, %lld, %lld] "
                       "(fastest first), expected [%lld]", name, (long long)t->ne[0],
                       (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                       (long long)cols);
    }
    const bs_ggml_type_info *ti = bs_ggml_type_get(t->type);
    if (!ti->dequant)
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: tensor '%s' has type %s; bitstack reads %s",
                       name, ti->name, bs_dequant_supported);
    ld->used[t - ld->g->tensors] = 1;
    *out = t;
    return BS_OK;
}

/* Reads and dequantizes tensor name into dst, a chunk of rows at a time. */
static bs_status load_tensor(loader *ld, const char *name, int64_t rows, int64_t cols,
                             float *dst) {
    const bs_gguf_tensor *t;
    BS_TRY(find_tensor(ld, name, rows, cols, &t));
    uint64_t row_bytes = bs_ggml_row_bytes(t->type, (uint64_t)cols);
    uint64_t n_rows = rows ? (uint64_t)rows : 1;
    uint64_t chunk_rows = BS_MAX(1, CHUNK_BYTES / row_bytes);
    chunk_rows = BS_MIN(chunk_rows, n_rows);
    uint8_t *buf = bs_malloc((size_t)(chunk_rows * row_bytes), 1);
    if (!buf) return BS_ERR_NOMEM;
    bs_status st = BS_OK;
    for (uint64_t r = 0; r < n_rows && st == BS_OK; r += chunk_rows) {
        uint64_t n = BS_MIN(chunk_rows, n_rows - r);
        st = bs_reader_read(ld->g->r, t->offset + r * row_bytes, buf, (size_t)(n * row_bytes));
        for (uint64_t i = 0; i < n && st == BS_OK; i++)
            st = bs_dequant_row(t->type, buf + i * row_bytes, dst + (r + i) * (uint64_t)cols,
                                cols);
    }
    free(buf);
    return st;
}

/* output.weight stored as an exact copy of token_embd.weight (llama2.c
   exports do this) is tied: one copy in memory, and the model says so. */
static bs_status output_is_copy(const bs_gguf *g, const bs_gguf_tensor *emb,
                                const bs_gguf_tensor *out, int *same) {
    *same = 0;
    if (!emb || emb->type != out->type || emb->bytes != out->bytes ||
        memcmp(emb->ne, out->ne, sizeof emb->ne) != 0)
        return BS_OK;
    size_t chunk = (size_t)BS_MIN((uint64_t)CHUNK_BYTES, emb->bytes);
    uint8_t *a = bs_malloc(chunk, 2);
    if (!a) return BS_ERR_NOMEM;
    bs_status st = BS_OK;
    int eq = 1;
    for (uint64_t off = 0; off < emb->bytes && eq && st == BS_OK; off += chunk) {
        size_t n = (size_t)BS_MIN((uint64_t)chunk, emb->bytes - off);
        st = bs_reader_read(g->r, emb->offset + off, a, n);
        if (st == BS_OK) st = bs_reader_read(g->r, out->offset + off, a + chunk, n);
        if (st == BS_OK) eq = memcmp(a, a + chunk, n) == 0;
    }
    free(a);
    *same = st == BS_OK && eq;
    return st;
}

/* Per-layer tensors: name suffix and (rows, cols); rows 0 is a vector. */
#define N_LAYER_TENSORS 9
static const char *const layer_tensor[N_LAYER_TENSORS] = {
    "attn_norm", "ffn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
    "ffn_gate", "ffn_up", "ffn_down"};

static void layer_shape(const bs_config *c, int k, int64_t *rows, int64_t *cols) {
    int64_t d = c->dim, h = c->hidden_dim;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    const int64_t shape[N_LAYER_TENSORS][2] = {{0, d}, {0, d}, {q, d}, {kv, d}, {kv, d},
                                               {d, q}, {h, d}, {h, d}, {d, h}};
    *rows = shape[k][0];
    *cols = shape[k][1];
}

/* Where per-layer tensor k goes: same order as layer_tensor. */
static float *layer_dst(bs_layer *l, int k) {
    if (k == 0) return l->attn_norm;
    if (k == 1) return l->ffn_norm;
    return bs_layer_linear(l, k - 2)->w;
}

/* One pass over every tensor of the model: check == 1 only validates names,
   shapes and types, else loads. */
static bs_status walk_tensors(loader *ld, bs_model *m, int check) {
    const bs_config *c = &m->cfg;
    const bs_gguf_tensor *t;
    char name[BS_GGUF_MAX_NAME + 1];
    if (check) {
        BS_TRY(find_tensor(ld, "token_embd.weight", c->vocab_size, c->dim, &t));
        BS_TRY(find_tensor(ld, "output_norm.weight", 0, c->dim, &t));
        if (!c->tied) BS_TRY(find_tensor(ld, "output.weight", c->vocab_size, c->dim, &t));
    } else {
        BS_TRY(load_tensor(ld, "token_embd.weight", c->vocab_size, c->dim, m->tok_embd));
        BS_TRY(load_tensor(ld, "output_norm.weight", 0, c->dim, m->out_norm));
        if (!c->tied)
            BS_TRY(load_tensor(ld, "output.weight", c->vocab_size, c->dim, m->lm_head.w));
    }
    for (int i = 0; i < c->n_layers; i++) {
        for (int k = 0; k < N_LAYER_TENSORS; k++) {
            int64_t rows, cols;
            layer_shape(c, k, &rows, &cols);
            snprintf(name, sizeof name, "blk.%d.%s.weight", i, layer_tensor[k]);
            if (check)
                BS_TRY(find_tensor(ld, name, rows, cols, &t));
            else
                BS_TRY(load_tensor(ld, name, rows, cols, layer_dst(&m->layers[i], k)));
        }
    }
    return BS_OK;
}

/* Validates every tensor before anything big is allocated. */
static bs_status check_tensors(loader *ld, bs_model *m) {
    BS_TRY(walk_tensors(ld, m, 1));
    if (m->cfg.tied) {
        const bs_gguf_tensor *out = bs_gguf_find_tensor(ld->g, "output.weight");
        if (out) ld->used[out - ld->g->tensors] = 1;  /* the verified copy */
    }
    for (uint64_t i = 0; i < ld->g->n_tensors; i++)
        if (!ld->used[i])
            return bs_fail(BS_ERR_UNSUPPORTED, "gguf: tensor '%s' is not part of the llama "
                           "model bitstack runs", ld->g->tensors[i].name);
    return BS_OK;
}

/* ---- tokenizer --------------------------------------------------------- */

/* Pieces that end a turn in common chat vocabularies. */
static const char *const eog_pieces[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>",
                                         "<|end_of_text|>", "<|endoftext|>"};
#define N_EOG_PIECES (sizeof eog_pieces / sizeof eog_pieces[0])
#define MAX_EOG (N_EOG_PIECES + 3)

/* A token id key: absent -> def; -1 or 0xffffffff (how writers spell
   "none") -> -1; otherwise it must name a token. */
static bs_status get_token_id(const bs_gguf *g, const char *key, int32_t vocab, int32_t def,
                              int32_t *out) {
    int64_t v = def;
    int found;
    BS_TRY(bs_gguf_get_i64(g, key, &v, &found));
    if (v == -1 || v == UINT32_MAX) v = -1;
    else if (v < 0 || v >= vocab)
        return bs_fail(BS_ERR_FORMAT, "gguf: %s = %lld is not a token id (vocab %d)", key,
                       (long long)v, vocab);
    *out = (int32_t)v;
    return BS_OK;
}

static void add_unique(int32_t *ids, int *n, int32_t id) {
    if (id < 0) return;
    for (int i = 0; i < *n; i++)
        if (ids[i] == id) return;
    if (*n < (int)MAX_EOG) ids[(*n)++] = id;
}

static bs_pretok pretok_from_name(const char *pre) {
    if (!pre) return BS_PRETOK_GPT2;
    if (strcmp(pre, "smollm") == 0) return BS_PRETOK_SMOLLM;
    if (strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "llama3") == 0) return BS_PRETOK_LLAMA3;
    /* "gpt2", "default", and pre-tokenizers we do not implement: the GPT-2
       regex is the closest common behaviour, and the vocabulary still
       decodes exactly. */
    return BS_PRETOK_GPT2;
}

/* Token i's score and type from the optional parallel arrays. */
static bs_status read_token_arrays(const bs_gguf *g, int32_t vocab, uint8_t **scores,
                                   uint8_t **types) {
    const bs_gguf_kv *s = NULL, *t = NULL;
    BS_TRY(bs_gguf_get_array(g, "tokenizer.ggml.scores", BS_GGUF_F32, &s));
    BS_TRY(bs_gguf_get_array(g, "tokenizer.ggml.token_type", BS_GGUF_I32, &t));
    if (s && s->count != (uint64_t)vocab)
        return bs_fail(BS_ERR_FORMAT, "gguf: tokenizer.ggml.scores has %llu entries for %d "
                       "tokens", (unsigned long long)s->count, vocab);
    if (t && t->count != (uint64_t)vocab)
        return bs_fail(BS_ERR_FORMAT, "gguf: tokenizer.ggml.token_type has %llu entries for %d "
                       "tokens", (unsigned long long)t->count, vocab);
    if (s) BS_TRY(bs_gguf_read_array(g, s, scores));
    if (t) BS_TRY(bs_gguf_read_array(g, t, types));
    return BS_OK;
}

static bs_status set_tokens(const bs_gguf *g, bs_tokenizer *tok, int32_t vocab, int32_t *eog,
                            int *n_eog) {
    const bs_gguf_kv *kv = NULL;
    BS_TRY(bs_gguf_get_array(g, "tokenizer.ggml.tokens", BS_GGUF_STRING, &kv));
    if (!kv) return bs_fail(BS_ERR_FORMAT, "gguf: tokenizer.ggml.tokens is missing");
    uint8_t *text = NULL, *scores = NULL, *types = NULL;
    bs_status st = read_token_arrays(g, vocab, &scores, &types);
    if (st == BS_OK) st = bs_gguf_read_array(g, kv, &text);
    const uint8_t *p = text, *end = text ? text + kv->bytes : NULL;
    for (int32_t id = 0; id < vocab && st == BS_OK; id++) {
        const char *s;
        size_t len;
        st = bs_gguf_next_string(&p, end, &s, &len);
        if (st != BS_OK) break;
        float score = scores ? bs_gguf_f32_at(scores, (uint64_t)id) : 0.0f;
        int32_t type = types ? bs_gguf_i32_at(types, (uint64_t)id) : BS_TOKTYPE_NORMAL;
        st = bs_tokenizer_set_token(tok, id, s, len, score, type);
        for (size_t k = 0; k < N_EOG_PIECES; k++)
            if (strlen(eog_pieces[k]) == len && memcmp(eog_pieces[k], s, len) == 0)
                add_unique(eog, n_eog, id);
    }
    free(text);
    free(scores);
    free(types);
    return st;
}

/* Merges are "left right"; byte-level BPE pieces never contain a raw space
   (it is "Ġ"), so the first space from the second byte on splits them. */
static bs_status add_merges(const bs_gguf *g, bs_tokenizer *tok) {
    const bs_gguf_kv *kv = NULL;
    BS_TRY(bs_gguf_get_array(g, "tokenizer.ggml.merges", BS_GGUF_STRING, &kv));
    if (!kv) return bs_fail(BS_ERR_FORMAT, "gguf: BPE tokenizer without tokenizer.ggml.merges");
    if (kv->count > INT32_MAX)
        return bs_fail(BS_ERR_FORMAT, "gguf: %llu merges", (unsigned long long)kv->count);
    uint8_t *text = NULL;
    BS_TRY(bs_gguf_read_array(g, kv, &text));
    const uint8_t *p = text, *end = text + kv->bytes;
    bs_status st = BS_OK;
    for (uint64_t i = 0; i < kv->count && st == BS_OK; i++) {
        const char *s;
        size_t len;
        st = bs_gguf_next_string(&p, end, &s, &len);
        if (st != BS_OK) break;
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp || sp + 1 == s + len) {
            st = bs_fail(BS_ERR_FORMAT, "gguf: merge %llu '%.*s' is not \"left right\"",
                         (unsigned long long)i, (int)BS_MIN(len, 64), s);
            break;
        }
        size_t l = (size_t)(sp - s);
        st = bs_tokenizer_add_merge(tok, s, l, sp + 1, len - l - 1);
    }
    free(text);
    return st;
}

static bs_status load_tokenizer(const bs_gguf *g, int32_t vocab, bs_model *m) {
    const char *model = NULL, *pre = NULL;
    int found;
    BS_TRY(bs_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL, &found));
    if (!found || strcmp(model, "no_vocab") == 0) return BS_OK;  /* no tokenizer */
    bs_tokenizer_kind kind;
    if (strcmp(model, "llama") == 0)
        kind = BS_TOKENIZER_SPM;
    else if (strcmp(model, "gpt2") == 0)
        kind = BS_TOKENIZER_BPE;
    else
        return bs_fail(BS_ERR_UNSUPPORTED, "gguf: tokenizer.ggml.model '%.64s' is not supported "
                       "(llama, gpt2)", model);
    BS_TRY(bs_gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL, NULL));

    /* SentencePiece vocabularies default to <s>=1 </s>=2, as llama.cpp */
    int32_t spm = kind == BS_TOKENIZER_SPM, bos = -1, eos = -1, eot = -1, eom = -1;
    BS_TRY(get_token_id(g, "tokenizer.ggml.bos_token_id", vocab, spm ? 1 : -1, &bos));
    BS_TRY(get_token_id(g, "tokenizer.ggml.eos_token_id", vocab, spm ? 2 : -1, &eos));
    BS_TRY(get_token_id(g, "tokenizer.ggml.eot_token_id", vocab, -1, &eot));
    BS_TRY(get_token_id(g, "tokenizer.ggml.eom_token_id", vocab, -1, &eom));
    int64_t space = spm;
    BS_TRY(bs_gguf_get_i64(g, "tokenizer.ggml.add_space_prefix", &space, NULL));

    BS_TRY(bs_tokenizer_create(kind, vocab, &m->tok));
    int32_t eog[MAX_EOG];
    int n_eog = 0;
    add_unique(eog, &n_eog, eos);
    add_unique(eog, &n_eog, eot);
    add_unique(eog, &n_eog, eom);
    BS_TRY(set_tokens(g, m->tok, vocab, eog, &n_eog));
    if (kind == BS_TOKENIZER_BPE) {
        BS_TRY(add_merges(g, m->tok));
        bs_tokenizer_set_pretok(m->tok, pretok_from_name(pre));
    }
    bs_tokenizer_set_bos_eos(m->tok, bos, eos);
    bs_tokenizer_set_add_space_prefix(m->tok, space != 0);
    for (int i = 0; i < n_eog; i++) BS_TRY(bs_tokenizer_add_eog(m->tok, eog[i]));
    return bs_tokenizer_finalize(m->tok);
}

/* ---- entry point ------------------------------------------------------- */

static bs_status import(bs_gguf *g, loader *ld, bs_model *m) {
    BS_TRY(read_config(g, &m->cfg));
    const bs_gguf_tensor *emb = bs_gguf_find_tensor(g, "token_embd.weight");
    const bs_gguf_tensor *out = bs_gguf_find_tensor(g, "output.weight");
    int tied = 1;
    if (out) {
        int same;
        BS_TRY(output_is_copy(g, emb, out, &same));
        tied = same;
    }
    m->cfg.tied = tied;
    /* everything that can be wrong with the file fails before the weights
       are allocated and dequantized */
    BS_TRY(check_tensors(ld, m));
    BS_TRY(load_tokenizer(g, m->cfg.vocab_size, m));
    BS_TRY(bs_model_alloc_weights(m));
    BS_TRY(walk_tensors(ld, m, 0));
    const char *tmpl = NULL;
    uint64_t len = 0;
    int found;
    BS_TRY(bs_gguf_get_str(g, "tokenizer.chat_template", &tmpl, &len, &found));
    if (found && !(m->chat_template = bs_strndup(tmpl, (size_t)len))) return BS_ERR_NOMEM;
    m->format = "gguf";
    return BS_OK;
}

bs_status bs_import_gguf(bs_reader *r, bs_model *m) {
    bs_gguf g;
    loader ld = {&g, NULL};
    bs_status st = bs_gguf_open(r, &g);
    if (st == BS_OK) {
        ld.used = bs_calloc(g.n_tensors, 1);
        st = ld.used ? import(&g, &ld, m) : BS_ERR_NOMEM;
    }
    free(ld.used);
    bs_gguf_close(&g);
    return st;
}
