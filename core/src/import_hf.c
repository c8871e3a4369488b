/* import_hf.c - Hugging Face model directories (transformers' LlamaForCausalLM).
 *
 * Files read, all inside one directory:
 *   config.json                      architecture and sizes (required)
 *   model.safetensors                the weights, or
 *   model.safetensors.index.json     {"weight_map": {tensor: shard file}} + shards
 *   tokenizer.json                   vocabulary (optional: no file, no tokenizer)
 *   tokenizer_config.json            bos/eos token strings, chat_template (optional)
 *   chat_template.jinja              chat template of newer transformers (optional)
 *   generation_config.json           extra end-of-generation ids (optional)
 *
 * Tensors (safetensors shapes are (out, in) row-major, our layout):
 *   model.embed_tokens.weight                      (vocab, dim)        tok_embd
 *   model.norm.weight                              (dim)               out_norm
 *   lm_head.weight                                 (vocab, dim)        lm_head; absent: tied
 *   model.layers.N.input_layernorm.weight          (dim)               attn_norm
 *   model.layers.N.post_attention_layernorm.weight (dim)               ffn_norm
 *   model.layers.N.self_attn.q_proj.weight         (heads * hd, dim)   wq, rows permuted
 *   model.layers.N.self_attn.k_proj.weight         (kv_heads * hd, dim) wk, rows permuted
 *   model.layers.N.self_attn.v_proj.weight         (kv_heads * hd, dim) wv
 *   model.layers.N.self_attn.o_proj.weight         (dim, heads * hd)   wo
 *   model.layers.N.mlp.gate_proj.weight            (hidden, dim)       w_gate
 *   model.layers.N.mlp.up_proj.weight              (hidden, dim)       w_up
 *   model.layers.N.mlp.down_proj.weight            (dim, hidden)       w_down
 * Each must be found exactly once with exactly this shape; other tensors
 * (rotary_emb.inv_freq, ...) are ignored, except biases, which we reject.
 *
 * Shapes are checked in a first pass over the headers, before anything is
 * allocated, so a config.json with absurd sizes fails on the first tensor
 * rather than on a huge allocation.
 */
#include "model.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HF_INDEX "model.safetensors.index.json"
#define HF_SINGLE "model.safetensors"
#define HF_MAX_IDS 16   /* eos_token_id lists longer than this are absurd */

typedef struct hf_shard {
    char *file;          /* name inside the directory, from the index (owned) */
    char *path;          /* dir/file (owned); also the reader's name      */
    bs_reader r;
    bs_st_file st;
} hf_shard;

typedef struct hf_dir {
    const char *dir;
    hf_shard *shards;    /* (n_shards) */
    int32_t n_shards;
    cJSON *index;        /* model.safetensors.index.json, or NULL */
    const cJSON *weight_map; /* the index's tensor -> shard object */
} hf_dir;

/* A token id list from JSON: "key": id | [id, ...] | null | absent. */
typedef struct hf_ids {
    int32_t id[HF_MAX_IDS];
    int32_t n;           /* 0: not given */
} hf_ids;

/* ---- files ------------------------------------------------------------- */

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = bs_malloc(a + b + 2, 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bs_status dir_has(const hf_dir *d, const char *name, int *yes) {
    char *path = join(d->dir, name);
    if (!path) return BS_ERR_NOMEM;
    *yes = is_file(path);
    free(path);
    return BS_OK;
}

/* Reads and parses dir/name. Absent and !required: *out = NULL, BS_OK. */
static bs_status read_json(const hf_dir *d, const char *name, int required, cJSON **out) {
    *out = NULL;
    char *path = join(d->dir, name);
    if (!path) return BS_ERR_NOMEM;
    if (!is_file(path)) {
        free(path);
        return required ? bs_fail(BS_ERR_IO, "hf: %s: no %s in the directory", d->dir, name)
                        : BS_OK;
    }
    char *text = NULL;
    size_t len = 0;
    bs_status st = bs_read_file(path, &text, &len);
    free(path);
    if (st != BS_OK) return st;
    const char *end = NULL;
    /* require_null_terminated: trailing garbage is an error, whitespace not */
    *out = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!*out) {
        long pos = end && end >= text && end <= text + len ? (long)(end - text) : -1;
        free(text);
        return bs_fail(BS_ERR_FORMAT, "hf: %s is not valid JSON (error near byte %ld)", name, pos);
    }
    free(text);
    return BS_OK;
}

/* Shard names come from a file we do not trust: they must name a file in
   the directory, nothing above or below it. */
static int shard_name_ok(const char *s) {
    return s[0] != '\0' && !strchr(s, '/') && !strchr(s, '\\') && !strstr(s, "..");
}

static bs_status add_shard(hf_dir *d, const char *file) {
    for (int32_t i = 0; i < d->n_shards; i++)
        if (strcmp(d->shards[i].file, file) == 0) return BS_OK;
    hf_shard *s = &d->shards[d->n_shards];
    s->file = bs_strndup(file, strlen(file));
    if (!s->file) return BS_ERR_NOMEM;
    d->n_shards++;
    s->path = join(d->dir, file);
    if (!s->path) return BS_ERR_NOMEM;
    BS_TRY(bs_reader_open_file(&s->r, s->path));
    return bs_st_parse(&s->st, &s->r);
}

/* Opens the single file or every shard of the index. */
static bs_status open_weights(hf_dir *d) {
    int has_index, has_single, has_bin;
    BS_TRY(dir_has(d, HF_INDEX, &has_index));
    BS_TRY(dir_has(d, HF_SINGLE, &has_single));
    if (!has_index && !has_single) {
        BS_TRY(dir_has(d, "pytorch_model.bin", &has_bin));
        if (has_bin)
            return bs_fail(BS_ERR_UNSUPPORTED, "hf: %s holds pytorch_model.bin; only "
                           "safetensors weights load (convert with save_pretrained("
                           "safe_serialization=True))", d->dir);
        return bs_fail(BS_ERR_IO, "hf: %s has neither %s nor %s", d->dir, HF_SINGLE, HF_INDEX);
    }
    if (has_single) { /* preferred when both exist, as transformers does */
        d->shards = bs_calloc(1, sizeof *d->shards);
        if (!d->shards) return BS_ERR_NOMEM;
        return add_shard(d, HF_SINGLE);
    }
    BS_TRY(read_json(d, HF_INDEX, 1, &d->index));
    d->weight_map = cJSON_GetObjectItemCaseSensitive(d->index, "weight_map");
    if (!cJSON_IsObject(d->weight_map) || cJSON_GetArraySize(d->weight_map) == 0)
        return bs_fail(BS_ERR_FORMAT, "hf: %s has no weight_map object (or it is empty)", HF_INDEX);
    /* more shards than entries is impossible: an upper bound for the array */
    d->shards = bs_calloc((size_t)cJSON_GetArraySize(d->weight_map), sizeof *d->shards);
    if (!d->shards) return BS_ERR_NOMEM;
    const cJSON *e;
    cJSON_ArrayForEach(e, d->weight_map) {
        if (!cJSON_IsString(e))
            return bs_fail(BS_ERR_FORMAT, "hf: %s: weight_map[\"%s\"] is not a file name",
                           HF_INDEX, e->string);
        if (!shard_name_ok(e->valuestring))
            return bs_fail(BS_ERR_FORMAT, "hf: %s: shard \"%.200s\" of tensor \"%s\" is not a "
                           "plain file name of the directory", HF_INDEX, e->valuestring,
                           e->string);
        BS_TRY(add_shard(d, e->valuestring));
    }
    return BS_OK;
}

static void hf_dir_free(hf_dir *d) {
    for (int32_t i = 0; i < d->n_shards; i++) {
        bs_st_free(&d->shards[i].st);
        bs_reader_close(&d->shards[i].r);
        free(d->shards[i].file);
        free(d->shards[i].path);
    }
    free(d->shards);
    cJSON_Delete(d->index);
}

/* Finds tensor name in exactly one shard; *t = NULL when it is nowhere.
   With an index, the shard the index names must hold it. */
static bs_status find_tensor(const hf_dir *d, const char *name, const hf_shard **shard,
                             const bs_st_tensor **t) {
    *shard = NULL;
    *t = NULL;
    for (int32_t i = 0; i < d->n_shards; i++) {
        const bs_st_tensor *x = bs_st_find(&d->shards[i].st, name);
        if (!x) continue;
        if (*t)
            return bs_fail(BS_ERR_FORMAT, "hf: tensor %s is in both %s and %s", name,
                           (*shard)->file, d->shards[i].file);
        *shard = &d->shards[i];
        *t = x;
    }
    const cJSON *where = d->weight_map ? cJSON_GetObjectItemCaseSensitive(d->weight_map, name)
                                       : NULL;
    if (where && (!*t || strcmp((*shard)->file, where->valuestring) != 0))
        return bs_fail(BS_ERR_FORMAT, "hf: %s puts tensor %s in %s, which does not hold it",
                       HF_INDEX, name, where->valuestring);
    return BS_OK;
}

/* ---- config.json ------------------------------------------------------- */

static int json_absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

/* An integer field in [lo, hi]; absent or null gives def when has_def. */
static bs_status cfg_int(const cJSON *cfg, const char *key, int has_def, int32_t def,
                         int32_t lo, int32_t hi, int32_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (json_absent(v)) {
        if (!has_def) return bs_fail(BS_ERR_FORMAT, "hf: config.json has no %s", key);
        *out = def;
        return BS_OK;
    }
    double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!(x >= lo && x <= hi) || floor(x) != x)
        return bs_fail(BS_ERR_FORMAT, "hf: config.json: %s must be an integer in [%d, %d]",
                       key, (int)lo, (int)hi);
    *out = (int32_t)x;
    return BS_OK;
}

static bs_status cfg_float(const cJSON *cfg, const char *key, double def, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (json_absent(v)) {
        *out = (float)def;
        return BS_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return bs_fail(BS_ERR_FORMAT, "hf: config.json: %s is not a number", key);
    *out = (float)v->valuedouble;
    return BS_OK;
}

static bs_status cfg_bool(const cJSON *cfg, const char *key, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (json_absent(v)) {
        *out = def;
        return BS_OK;
    }
    if (!cJSON_IsBool(v))
        return bs_fail(BS_ERR_FORMAT, "hf: config.json: %s is not true/false", key);
    *out = cJSON_IsTrue(v);
    return BS_OK;
}

/* Features of Llama-family configs that change the computation and that
   our forward pass does not implement: refuse rather than run wrongly. */
static bs_status check_unsupported(const cJSON *cfg) {
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(cfg, "hidden_act");
    if (!json_absent(act) && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return bs_fail(BS_ERR_UNSUPPORTED, "hf: hidden_act \"%.40s\" is not supported (silu)",
                       cJSON_IsString(act) ? act->valuestring : "?");
    static const char *const bias_keys[] = {"attention_bias", "mlp_bias"};
    for (size_t i = 0; i < sizeof bias_keys / sizeof *bias_keys; i++) {
        int on = 0;
        BS_TRY(cfg_bool(cfg, bias_keys[i], 0, &on));
        if (on)
            return bs_fail(BS_ERR_UNSUPPORTED, "hf: %s is true: linear layers with biases "
                           "are not supported", bias_keys[i]);
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (!json_absent(rs)) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
        if (!cJSON_IsString(ty)) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
        /* "default" is how newer transformers spell "no scaling" */
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "default") != 0)
            return bs_fail(BS_ERR_UNSUPPORTED, "hf: rope_scaling of type \"%.40s\" is not "
                           "supported (only plain RoPE)",
                           cJSON_IsString(ty) ? ty->valuestring : "?");
    }
    return BS_OK;
}

static bs_status map_config(const cJSON *cfg, bs_config *c, int *tie) {
    if (!cJSON_IsObject(cfg)) return bs_fail(BS_ERR_FORMAT, "hf: config.json is not an object");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    if (!cJSON_IsString(mt)) return bs_fail(BS_ERR_FORMAT, "hf: config.json has no model_type");
    int mistral = strcmp(mt->valuestring, "mistral") == 0;
    if (!mistral && strcmp(mt->valuestring, "llama") != 0)
        return bs_fail(BS_ERR_UNSUPPORTED, "hf: model_type \"%.60s\" is not supported "
                       "(llama, mistral)", mt->valuestring);
    BS_TRY(check_unsupported(cfg));
    memset(c, 0, sizeof *c);
    BS_TRY(cfg_int(cfg, "hidden_size", 0, 0, 1, INT32_MAX, &c->dim));
    BS_TRY(cfg_int(cfg, "intermediate_size", 0, 0, 1, INT32_MAX, &c->hidden_dim));
    BS_TRY(cfg_int(cfg, "num_hidden_layers", 0, 0, 1, INT32_MAX, &c->n_layers));
    BS_TRY(cfg_int(cfg, "num_attention_heads", 0, 0, 1, INT32_MAX, &c->n_heads));
    BS_TRY(cfg_int(cfg, "num_key_value_heads", 1, c->n_heads, 1, INT32_MAX, &c->n_kv_heads));
    /* 0: bs_config_validate derives dim / n_heads, as transformers does */
    BS_TRY(cfg_int(cfg, "head_dim", 1, 0, 1, INT32_MAX, &c->head_dim));
    BS_TRY(cfg_int(cfg, "vocab_size", 0, 0, 1, INT32_MAX, &c->vocab_size));
    /* defaults are transformers' LlamaConfig defaults */
    BS_TRY(cfg_int(cfg, "max_position_embeddings", 1, 2048, 1, INT32_MAX, &c->seq_len));
    BS_TRY(cfg_float(cfg, "rope_theta", 10000.0, &c->rope_theta));
    BS_TRY(cfg_float(cfg, "rms_norm_eps", 1e-6, &c->norm_eps));
    BS_TRY(cfg_bool(cfg, "tie_word_embeddings", 0, tie));
    if (mistral) {
        /* Sliding-window attention equals full attention over the first
           `window` positions, so capping the context keeps it exact. */
        int32_t window;
        BS_TRY(cfg_int(cfg, "sliding_window", 1, INT32_MAX, 1, INT32_MAX, &window));
        c->seq_len = BS_MIN(c->seq_len, window);
    }
    return BS_OK;
}

/* ---- weights ----------------------------------------------------------- */

/* Hugging Face Llama applies RoPE by rotate-half: in a head, element j
   (j < hd/2) pairs with element j + hd/2. Our kernel, like llama2.c and
   GGUF, pairs 2j with 2j+1, with the same frequency theta^(-2j/hd) for pair
   j. Moving row j of each head to row 2j and row j + hd/2 to row 2j + 1
   makes q and k come out in the adjacent layout; the same permutation on
   both leaves every q.k product, hence attention, unchanged. (GGUF
   converters apply the inverse to go the other way.) */
static bs_status permute_rope_rows(float *w, int32_t n_heads, int32_t head_dim, int32_t cols) {
    size_t row = (size_t)cols, half = (size_t)head_dim / 2, head = (size_t)head_dim * row;
    float *tmp = bs_malloc(head, sizeof *tmp);
    if (!tmp) return BS_ERR_NOMEM;
    for (int32_t h = 0; h < n_heads; h++) {
        float *base = w + (size_t)h * head;
        memcpy(tmp, base, head * sizeof *tmp);
        for (size_t j = 0; j < half; j++) {
            memcpy(base + 2 * j * row, tmp + j * row, row * sizeof *tmp);
            memcpy(base + (2 * j + 1) * row, tmp + (j + half) * row, row * sizeof *tmp);
        }
    }
    free(tmp);
    return BS_OK;
}

/* One model tensor: layer < 0 for the top-level ones. Checks presence,
   shape and dtype; when dst is non-NULL also reads it (and permutes the
   rows of q/k when rope_heads > 0). cols == 0: a vector of rows. */
static bs_status tensor(const hf_dir *d, const bs_config *c, int32_t layer, const char *key,
                        float *dst, int64_t rows, int64_t cols, int32_t rope_heads) {
    char name[128];
    if (layer >= 0)
        snprintf(name, sizeof name, "model.layers.%d.%s", (int)layer, key);
    else
        snprintf(name, sizeof name, "%s", key);
    const hf_shard *s;
    const bs_st_tensor *t;
    BS_TRY(find_tensor(d, name, &s, &t));
    if (!t) return bs_fail(BS_ERR_FORMAT, "hf: tensor %s is missing", name);
    int64_t want[2] = {rows, cols};
    int32_t want_dims = cols ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != rows || (cols && t->shape[1] != cols)) {
        char got_s[96], want_s[64];
        bs_st_format_shape(t->shape, t->n_dims, got_s, sizeof got_s);
        bs_st_format_shape(want, want_dims, want_s, sizeof want_s);
        return bs_fail(BS_ERR_FORMAT, "hf: tensor %s in %s has shape %s, config.json implies %s",
                       name, s->file, got_s, want_s);
    }
    if (t->dtype != BS_ST_F32 && t->dtype != BS_ST_F16 && t->dtype != BS_ST_BF16)
        return bs_fail(BS_ERR_UNSUPPORTED, "hf: tensor %s in %s has dtype %s (F32, F16 and "
                       "BF16 load)", name, s->file, bs_st_dtype_name(t->dtype));
    if (!dst) return BS_OK;
    BS_TRY(bs_st_read_f32(&s->st, t, dst, t->n_elem));
    if (rope_heads > 0) BS_TRY(permute_rope_rows(dst, rope_heads, c->head_dim, (int32_t)cols));
    return BS_OK;
}

/* Refuses checkpoints whose linear layers carry biases (Qwen2-style
   configs relabelled "llama"): dropping them would run a different model. */
static bs_status check_no_bias(const hf_dir *d, int32_t layer) {
    static const char *const keys[] = {
        "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
        "self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias",
        "mlp.down_proj.bias"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char name[128];
        snprintf(name, sizeof name, "model.layers.%d.%s", (int)layer, keys[i]);
        const hf_shard *s;
        const bs_st_tensor *t;
        BS_TRY(find_tensor(d, name, &s, &t));
        if (t)
            return bs_fail(BS_ERR_UNSUPPORTED, "hf: tensor %s: linear biases are not supported",
                           name);
    }
    return BS_OK;
}

/* Every model tensor, in one order. load 0: check only (m's weights are
   not allocated yet); load 1: read into m. */
static bs_status each_tensor(const hf_dir *d, bs_model *m, int load) {
    const bs_config *c = &m->cfg;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t dim = c->dim, hid = c->hidden_dim;
    BS_TRY(tensor(d, c, -1, "model.embed_tokens.weight", load ? m->tok_embd : NULL,
                  c->vocab_size, dim, 0));
    BS_TRY(tensor(d, c, -1, "model.norm.weight", load ? m->out_norm : NULL, dim, 0, 0));
    if (!c->tied)
        BS_TRY(tensor(d, c, -1, "lm_head.weight", load ? m->lm_head.w : NULL,
                      c->vocab_size, dim, 0));
    for (int32_t i = 0; i < c->n_layers; i++) {
        bs_layer *l = load ? &m->layers[i] : NULL;
        if (!load) BS_TRY(check_no_bias(d, i));
        BS_TRY(tensor(d, c, i, "input_layernorm.weight", l ? l->attn_norm : NULL, dim, 0, 0));
        BS_TRY(tensor(d, c, i, "post_attention_layernorm.weight", l ? l->ffn_norm : NULL,
                      dim, 0, 0));
        BS_TRY(tensor(d, c, i, "self_attn.q_proj.weight", l ? l->wq.w : NULL, q, dim,
                      c->n_heads));
        BS_TRY(tensor(d, c, i, "self_attn.k_proj.weight", l ? l->wk.w : NULL, kv, dim,
                      c->n_kv_heads));
        BS_TRY(tensor(d, c, i, "self_attn.v_proj.weight", l ? l->wv.w : NULL, kv, dim, 0));
        BS_TRY(tensor(d, c, i, "self_attn.o_proj.weight", l ? l->wo.w : NULL, dim, q, 0));
        BS_TRY(tensor(d, c, i, "mlp.gate_proj.weight", l ? l->w_gate.w : NULL, hid, dim, 0));
        BS_TRY(tensor(d, c, i, "mlp.up_proj.weight", l ? l->w_up.w : NULL, hid, dim, 0));
        BS_TRY(tensor(d, c, i, "mlp.down_proj.weight", l ? l->w_down.w : NULL, dim, hid, 0));
    }
    return BS_OK;
}

/* ---- tokenizer --------------------------------------------------------- */

/* "key": id | [id, ...] | null | absent, ids in [0, 2^31). */
static bs_status json_ids(const cJSON *obj, const char *file, const char *key, hf_ids *out) {
    out->n = 0;
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (json_absent(v)) return BS_OK;
    const cJSON *e = v;
    int list = cJSON_IsArray(v);
    if (list) e = v->child;
    for (; e; e = list ? e->next : NULL) {
        double x = cJSON_IsNumber(e) ? e->valuedouble : -1.0;
        if (!(x >= 0 && x <= INT32_MAX) || floor(x) != x)
            return bs_fail(BS_ERR_FORMAT, "hf: %s: %s must be a token id or a list of them",
                           file, key);
        if (out->n == HF_MAX_IDS)
            return bs_fail(BS_ERR_FORMAT, "hf: %s: more than %d ids in %s", file, HF_MAX_IDS, key);
        out->id[out->n++] = (int32_t)x;
    }
    return BS_OK;
}

/* tokenizer_config.json's "bos_token"/"eos_token": a string, or an
   AddedToken object {"content": ...}, looked up in the vocabulary. */
static bs_status token_by_text(const bs_tokenizer *tok, const cJSON *tcfg, const char *key,
                               hf_ids *out) {
    out->n = 0;
    const cJSON *v = tcfg ? cJSON_GetObjectItemCaseSensitive(tcfg, key) : NULL;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) return BS_OK;
    int32_t id = bs_tokenizer_find(tok, v->valuestring, strlen(v->valuestring));
    if (id < 0)
        return bs_fail(BS_ERR_FORMAT, "hf: tokenizer_config.json: %s \"%.60s\" is not a token "
                       "of tokenizer.json", key, v->valuestring);
    out->id[0] = id;
    out->n = 1;
    return BS_OK;
}

static bs_status check_ids(const hf_ids *ids, const char *what, int32_t n_vocab) {
    for (int32_t i = 0; i < ids->n; i++)
        if (ids->id[i] >= n_vocab)
            return bs_fail(BS_ERR_FORMAT, "hf: %s %d is outside the tokenizer's %d tokens",
                           what, (int)ids->id[i], (int)n_vocab);
    return BS_OK;
}

/* Chat template: tokenizer_config.json "chat_template" (a string, or a list
   of {"name", "template"} of which we take "default"), else the file
   chat_template.jinja. */
static bs_status load_chat_template(const hf_dir *d, const cJSON *tcfg, bs_model *m) {
    const cJSON *ct = tcfg ? cJSON_GetObjectItemCaseSensitive(tcfg, "chat_template") : NULL;
    if (cJSON_IsArray(ct)) {
        const cJSON *e, *found = NULL;
        cJSON_ArrayForEach(e, ct) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            if (cJSON_IsString(nm) && strcmp(nm->valuestring, "default") == 0)
                found = cJSON_GetObjectItemCaseSensitive(e, "template");
        }
        ct = found;
    }
    if (cJSON_IsString(ct)) {
        m->chat_template = bs_strndup(ct->valuestring, strlen(ct->valuestring));
        return m->chat_template ? BS_OK : BS_ERR_NOMEM;
    }
    char *path = join(d->dir, "chat_template.jinja");
    if (!path) return BS_ERR_NOMEM;
    bs_status st = is_file(path) ? bs_read_file(path, &m->chat_template, NULL) : BS_OK;
    free(path);
    return st;
}

/* BOS/EOS: config.json ids first (transformers' model-side truth), else
   tokenizer_config.json strings. Every eos id of config.json and
   generation_config.json ends generation. */
static bs_status set_special_tokens(const hf_dir *d, const cJSON *cfg, const cJSON *tcfg,
                                    bs_tokenizer *tok) {
    hf_ids bos, eos, gen_eos = {{0}, 0};
    BS_TRY(json_ids(cfg, "config.json", "bos_token_id", &bos));
    BS_TRY(json_ids(cfg, "config.json", "eos_token_id", &eos));
    if (bos.n > 1)
        return bs_fail(BS_ERR_FORMAT, "hf: config.json: bos_token_id is a list");
    if (bos.n == 0) BS_TRY(token_by_text(tok, tcfg, "bos_token", &bos));
    if (eos.n == 0) BS_TRY(token_by_text(tok, tcfg, "eos_token", &eos));
    cJSON *gen = NULL;
    BS_TRY(read_json(d, "generation_config.json", 0, &gen));
    bs_status st = json_ids(gen, "generation_config.json", "eos_token_id", &gen_eos);
    cJSON_Delete(gen);
    BS_TRY(st);
    int32_t n_vocab = bs_tokenizer_n_vocab(tok);
    BS_TRY(check_ids(&bos, "bos_token_id", n_vocab));
    BS_TRY(check_ids(&eos, "eos_token_id", n_vocab));
    BS_TRY(check_ids(&gen_eos, "generation_config.json eos_token_id", n_vocab));
    int32_t eos0 = eos.n ? eos.id[0] : -1;
    bs_tokenizer_set_bos_eos(tok, bos.n ? bos.id[0] : -1, eos0);
    for (int32_t i = 0; i < eos.n + gen_eos.n; i++) {
        int32_t id = i < eos.n ? eos.id[i] : gen_eos.id[i - eos.n];
        if (id != eos0 && !bs_tokenizer_is_eog(tok, id)) BS_TRY(bs_tokenizer_add_eog(tok, id));
    }
    return BS_OK;
}

static bs_status load_tokenizer(const hf_dir *d, const cJSON *cfg, const cJSON *tcfg,
                                bs_model *m) {
    char *path = join(d->dir, "tokenizer.json");
    if (!path) return BS_ERR_NOMEM;
    if (!is_file(path)) { /* the model still runs from token ids */
        free(path);
        return BS_OK;
    }
    char *json = NULL;
    size_t len = 0;
    bs_status st = bs_read_file(path, &json, &len);
    free(path);
    if (st != BS_OK) return st;
    st = bs_tokenizer_load_hf_json(json, len, &m->tok);
    free(json);
    BS_TRY(st);
    if (bs_tokenizer_n_vocab(m->tok) > m->cfg.vocab_size)
        return bs_fail(BS_ERR_FORMAT, "hf: tokenizer.json has %d tokens, more than the model's "
                       "vocab_size %d", (int)bs_tokenizer_n_vocab(m->tok), (int)m->cfg.vocab_size);
    return set_special_tokens(d, cfg, tcfg, m->tok);
}

/* ---- entry point ------------------------------------------------------- */

static bs_status import_dir(hf_dir *d, const cJSON *cfg, bs_model *m) {
    int tie = 0;
    BS_TRY(map_config(cfg, &m->cfg, &tie));
    BS_TRY(open_weights(d));
    /* tied when the config says so (transformers then ignores a stored
       lm_head), or when there is no lm_head to load */
    const hf_shard *s;
    const bs_st_tensor *head;
    BS_TRY(find_tensor(d, "lm_head.weight", &s, &head));
    m->cfg.tied = tie || !head;
    BS_TRY(bs_config_validate(&m->cfg));
    BS_TRY(each_tensor(d, m, 0));
    BS_TRY(bs_model_alloc_weights(m));
    BS_TRY(each_tensor(d, m, 1));
    cJSON *tcfg = NULL;
    BS_TRY(read_json(d, "tokenizer_config.json", 0, &tcfg));
    bs_status st = load_chat_template(d, tcfg, m);
    if (st == BS_OK) st = load_tokenizer(d, cfg, tcfg, m);
    cJSON_Delete(tcfg);
    BS_TRY(st);
    m->format = "hf";
    return BS_OK;
}

bs_status bs_import_hf(const char *dir, bs_model *m) {
    if (!dir || !m) return bs_fail(BS_ERR_INVALID_ARG, "bs_import_hf: NULL argument");
    hf_dir d;
    memset(&d, 0, sizeof d);
    d.dir = dir;
    cJSON *cfg = NULL;
    bs_status st = read_json(&d, "config.json", 1, &cfg);
    if (st == BS_OK) st = import_dir(&d, cfg, m);
    cJSON_Delete(cfg);
    hf_dir_free(&d);
    return st;
}
