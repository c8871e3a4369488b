/* test_hf.c - the Hugging Face importer and the safetensors reader.
 *
 * 1. Reference logits: tests/data/hf/<variant>/ holds models saved by
 *    transformers and the logits transformers computes for a token sequence
 *    (scripts/fixtures/gen_hf_fixture.py). We load each directory with
 *    bs_model_load and must match every logit of every position, one token
 *    at a time and in batches, to 1e-4 (|ours - ref| <= 1e-4 * max(1, |ref|):
 *    absolute below 1, relative above).
 * 2. Mapping: a synthetic model written here, whose every element encodes
 *    (tensor, index), is loaded and compared element by element, which pins
 *    names, the q/k permutation and the F16/BF16 conversion exactly.
 * 3. Bad input: broken files, configs, indexes and shards must give the
 *    right status and a message naming the problem, never a crash.
 * The safetensors container itself is tested in test_safetensors.c.
 */
#include "bitstack.h"
#include "half.h"
#include "model.h"
#include "test.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOL 1e-4

/* ---- helpers ----------------------------------------------------------- */

static int msg_has(const char *needle) { return strstr(bs_last_error(), needle) != NULL; }

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

/* dir/file in one of 8 rotating buffers (enough for any one call). */
static const char *in_dir(const char *dir, const char *file) {
    static char buf[8][4096];
    static int i = 0;
    i = (i + 1) % 8;
    int n = snprintf(buf[i], sizeof buf[i], "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= sizeof buf[i]) {
        fprintf(stderr, "path too long: %s/%s\n", dir, file);
        buf[i][0] = '\0';
    }
    return buf[i];
}

/* A fresh, empty scratch directory under the build tree; the name stays
   valid until the next call (in_dir's ring does not touch it). */
static const char *scratch(const char *name) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/test_hf_tmp", BS_BINARY_DIR);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/test_hf_tmp/%s", BS_BINARY_DIR, name);
    mkdir(path, 0777);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') unlink(in_dir(path, e->d_name));
    if (d) closedir(d);
    return path;
}

/* ---- 1. reference logits ----------------------------------------------- */

typedef struct ref {
    int32_t ids[64];
    int32_t n;
    float *logits;  /* (n, vocab) */
    int32_t vocab;
} ref;

static int load_ref(const char *dir, int32_t vocab, ref *r) {
    memset(r, 0, sizeof *r);
    char *json = slurp(in_dir(dir, "inputs.json"), NULL);
    CHECK_MSG(json != NULL, "no inputs.json in %s", dir);
    if (!json) return 0;
    cJSON *root = cJSON_Parse(json);
    free(json);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(root, "input_ids"), *e;
    cJSON_ArrayForEach(e, ids) if (r->n < 64) r->ids[r->n++] = e->valueint;
    cJSON_Delete(root);
    size_t len = 0;
    r->logits = (float *)(void *)slurp(in_dir(dir, "logits.f32"), &len);
    r->vocab = vocab;
    CHECK_MSG(r->logits && r->n > 0 && len == (size_t)r->n * vocab * sizeof(float),
              "%s: logits.f32 has %zu bytes for %d tokens", dir, len, (int)r->n);
    return r->logits && r->n > 0 && len == (size_t)r->n * vocab * sizeof(float);
}

/* Compares one position; tracks the worst differences seen. */
static void compare_row(const float *ours, const float *want, int32_t vocab, const char *what,
                        int pos, double *max_abs, double *max_rel) {
    int bad = 0;
    for (int32_t v = 0; v < vocab; v++) {
        double d = fabs((double)ours[v] - want[v]);
        double rel = d / fmax(1.0, fabs(want[v]));
        if (d > *max_abs) *max_abs = d;
        if (rel > *max_rel) *max_rel = rel;
        if (rel > TOL && bad++ < 3)
            fprintf(stderr, "  %s pos %d logit %d: %.7f vs %.7f\n", what, pos, (int)v,
                    (double)ours[v], (double)want[v]);
    }
    CHECK_MSG(bad == 0, "%s: %d logits of position %d differ by more than 1e-4", what, bad, pos);
}

static void check_variant(const char *name) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/hf/%s", BS_TEST_DATA, name);
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(dir, NULL, &m));
    if (!m) return;
    bs_model_info info;
    CHECK_OK(bs_model_get_info(m, &info));
    ref r;
    if (!load_ref(dir, info.vocab_size, &r)) {
        free(r.logits);
        bs_model_free(m);
        return;
    }
    bs_session *s = NULL;
    CHECK_OK(bs_session_create(m, NULL, &s));
    double max_abs = 0, max_rel = 0;
    const float *lg = NULL;
    /* one token at a time: every position */
    for (int32_t t = 0; s && t < r.n; t++) {
        CHECK_OK(bs_session_eval(s, &r.ids[t], 1, &lg));
        if (lg) compare_row(lg, r.logits + (size_t)t * r.vocab, r.vocab, name, t, &max_abs, &max_rel);
    }
    /* batches: a prefix of every length in one call gives that position */
    for (int32_t k = 1; s && k <= r.n; k++) {
        bs_session_reset(s);
        lg = NULL;
        CHECK_OK(bs_session_eval(s, r.ids, k, &lg));
        if (lg) compare_row(lg, r.logits + (size_t)(k - 1) * r.vocab, r.vocab, name, k - 1,
                            &max_abs, &max_rel);
    }
    /* two batches back to back: the second continues the KV cache */
    if (s) {
        bs_session_reset(s);
        CHECK_OK(bs_session_eval(s, r.ids, r.n / 2, &lg));
        CHECK_OK(bs_session_eval(s, r.ids + r.n / 2, r.n - r.n / 2, &lg));
        CHECK_EQ_INT(bs_session_pos(s), r.n);
        if (lg) compare_row(lg, r.logits + (size_t)(r.n - 1) * r.vocab, r.vocab, name, r.n - 1,
                            &max_abs, &max_rel);
    }
    fprintf(stderr, "  %s: %d positions x %d logits, max |diff| %.3g, max diff/max(1,|ref|) %.3g\n",
            name, (int)r.n, (int)r.vocab, max_abs, max_rel);
    bs_session_free(s);
    free(r.logits);
    bs_model_free(m);
}

static void test_logits_f32(void) { check_variant("llama_f32"); }
static void test_logits_bf16_sharded(void) { check_variant("llama_bf16_sharded"); }

/* Without the q/k permutation the logits must be far off from position 1
   on (RoPE is the identity at position 0): the reference test has teeth. */
static void test_permutation_matters(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/hf/llama_f32", BS_TEST_DATA);
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(dir, NULL, &m));
    if (!m) return;
    ref r;
    if (load_ref(dir, m->cfg.vocab_size, &r)) {
        /* undo: old row j = new row 2j, old row j + hd/2 = new row 2j + 1 */
        int32_t hd = m->cfg.head_dim, cols = m->cfg.dim;
        float *tmp = malloc((size_t)hd * cols * sizeof *tmp);
        for (int32_t l = 0; l < m->cfg.n_layers; l++) {
            bs_linear *ws[2] = {&m->layers[l].wq, &m->layers[l].wk};
            for (int w = 0; w < 2; w++)
                for (int32_t h = 0; h < ws[w]->rows / hd; h++) {
                    float *base = ws[w]->w + (size_t)h * hd * cols;
                    memcpy(tmp, base, (size_t)hd * cols * sizeof *tmp);
                    for (int32_t j = 0; j < hd / 2; j++) {
                        memcpy(base + (size_t)j * cols, tmp + (size_t)2 * j * cols, cols * sizeof *tmp);
                        memcpy(base + (size_t)(j + hd / 2) * cols, tmp + (size_t)(2 * j + 1) * cols,
                               cols * sizeof *tmp);
                    }
                }
        }
        free(tmp);
        bs_session *s = NULL;
        CHECK_OK(bs_session_create(m, NULL, &s));
        double worst0 = 0, worst_rest = 0;
        const float *lg = NULL;
        for (int32_t t = 0; s && t < r.n; t++) {
            CHECK_OK(bs_session_eval(s, &r.ids[t], 1, &lg));
            for (int32_t v = 0; lg && v < r.vocab; v++) {
                double d = fabs((double)lg[v] - r.logits[(size_t)t * r.vocab + v]);
                if (t == 0) worst0 = fmax(worst0, d);
                else worst_rest = fmax(worst_rest, d);
            }
        }
        CHECK_MSG(worst0 <= TOL, "position 0 should not depend on RoPE: %g", worst0);
        CHECK_MSG(worst_rest > 0.05, "unpermuted q/k still match (max diff %g)", worst_rest);
        fprintf(stderr, "  without the permutation: max |diff| %.3g (position 0: %.3g)\n",
                worst_rest, worst0);
        bs_session_free(s);
    }
    free(r.logits);
    bs_model_free(m);
}

static void test_info(void) {
    char dir[1024];
    bs_model *m = NULL;
    bs_model_info info;
    snprintf(dir, sizeof dir, "%s/hf/llama_f32", BS_TEST_DATA);
    CHECK_OK(bs_model_load(dir, NULL, &m));
    if (m) {
        CHECK_OK(bs_model_get_info(m, &info));
        CHECK_EQ_INT(info.dim, 64);
        CHECK_EQ_INT(info.hidden_dim, 96);
        CHECK_EQ_INT(info.n_layers, 2);
        CHECK_EQ_INT(info.n_heads, 4);
        CHECK_EQ_INT(info.n_kv_heads, 2);
        CHECK_EQ_INT(info.head_dim, 16);
        CHECK_EQ_INT(info.vocab_size, 300);
        CHECK_EQ_INT(info.seq_len, 128);
        CHECK_EQ_INT(info.tied_embeddings, 0);
        CHECK(info.rope_theta == 10000.0f);
        CHECK(info.norm_eps == 1e-5f);
        CHECK(info.format && strcmp(info.format, "hf") == 0);
        CHECK(info.chat_template && strncmp(info.chat_template, "{% for message", 14) == 0);
        CHECK_EQ_INT(info.tokenizer_kind, BS_TOKENIZER_BPE);
        /* config.json: bos 1 (<|im_start|>), eos [2 (<|im_end|>), 0 (<|endoftext|>)] */
        CHECK_EQ_INT(info.bos_id, 1);
        CHECK_EQ_INT(info.eos_id, 2);
        CHECK(bs_token_is_eog(m, 2));
        CHECK(bs_token_is_eog(m, 0));
        CHECK(!bs_token_is_eog(m, 100));
        CHECK_EQ_INT(bs_token_find(m, "<|im_end|>"), 2);
        bs_model_free(m);
    }
    m = NULL;
    snprintf(dir, sizeof dir, "%s/hf/llama_bf16_sharded", BS_TEST_DATA);
    CHECK_OK(bs_model_load(dir, NULL, &m));
    if (m) {
        CHECK_OK(bs_model_get_info(m, &info));
        CHECK_EQ_INT(info.tied_embeddings, 1);
        CHECK(m->lm_head.w == m->tok_embd);
        CHECK(info.rope_theta == 500000.0f);
        CHECK_EQ_INT(info.tokenizer_kind, BS_TOKENIZER_NONE);
        CHECK_EQ_INT(info.bos_id, -1);
        CHECK(info.chat_template == NULL);
        CHECK(strcmp(info.format, "hf") == 0);
        /* tied: the embedding is counted once */
        CHECK_EQ_INT(info.n_params, 300 * 64 + 64 + 2 * (2 * 64 + 64 * 64 * 2 + 32 * 64 * 2 +
                                                         3 * 96 * 64));
        bs_model_free(m);
    }
}

/* The tokenizer of the fixture encodes the fixture's text into its ids, as
   Hugging Face's tokenizers did. */
static void test_tokenizer_hookup(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/hf/llama_f32", BS_TEST_DATA);
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(dir, NULL, &m));
    if (!m) return;
    char *json = slurp(in_dir(dir, "inputs.json"), NULL);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    ref r;
    if (cJSON_IsString(text) && load_ref(dir, 300, &r)) {
        int32_t ids[64], n = 0;
        CHECK_OK(bs_tokenize(m, text->valuestring, strlen(text->valuestring), 0, ids, 64, &n));
        CHECK_EQ_INT(n, r.n);
        for (int32_t i = 0; i < n && i < r.n; i++) CHECK_EQ_INT(ids[i], r.ids[i]);
    }
    free(r.logits);
    cJSON_Delete(root);
    free(json);
    bs_model_free(m);
}

/* ---- 2. synthetic models ----------------------------------------------- */

/* dim 8, hidden 12, 2 layers, 2 heads of 4, 1 kv head, vocab 300 (the
   fixture tokenizer's size, so its tokenizer.json can be reused). */
enum { S_DIM = 8, S_HID = 12, S_LAYERS = 2, S_HEADS = 2, S_KV = 1, S_HD = 4, S_VOCAB = 300 };

typedef struct syn_tensor {
    char name[96];
    int64_t rows, cols;  /* cols 0: vector */
} syn_tensor;

typedef struct syn_opts {
    const char *dtype;        /* of every tensor; NULL: F32                */
    const char *skip;         /* leave this tensor out                      */
    const char *reshape;      /* this tensor gets one more row              */
    const char *odd_dtype_of; /* this tensor is written with odd_dtype      */
    const char *odd_dtype;
    const char *extra;        /* an additional F32 tensor of 4 elements     */
    int no_lm_head;
    int shards;               /* 0: model.safetensors; else index + shards  */
    const char *index_first;  /* weight_map value for the first tensor      */
    int dup_first;            /* also write the first tensor into shard 2   */
    const char *config;       /* config.json text; NULL: the default        */
} syn_opts;

static const char *syn_default_config =
    "{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 12,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
    " \"vocab_size\": 300, \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-6,"
    " \"rope_theta\": 10000.0, \"rope_scaling\": null, \"tie_word_embeddings\": false}";

static int syn_list(const syn_opts *o, syn_tensor *t) {
    int n = 0;
#define ADD(r, c, ...) (snprintf(t[n].name, sizeof t[n].name, __VA_ARGS__), t[n].rows = (r), t[n].cols = (c), n++)
    ADD(S_VOCAB, S_DIM, "model.embed_tokens.weight");
    ADD(S_DIM, 0, "model.norm.weight");
    if (!o->no_lm_head) ADD(S_VOCAB, S_DIM, "lm_head.weight");
    for (int l = 0; l < S_LAYERS; l++) {
        ADD(S_DIM, 0, "model.layers.%d.input_layernorm.weight", l);
        ADD(S_DIM, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        ADD(S_HEADS * S_HD, S_DIM, "model.layers.%d.self_attn.q_proj.weight", l);
        ADD(S_KV * S_HD, S_DIM, "model.layers.%d.self_attn.k_proj.weight", l);
        ADD(S_KV * S_HD, S_DIM, "model.layers.%d.self_attn.v_proj.weight", l);
        ADD(S_DIM, S_HEADS * S_HD, "model.layers.%d.self_attn.o_proj.weight", l);
        ADD(S_HID, S_DIM, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(S_HID, S_DIM, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(S_DIM, S_HID, "model.layers.%d.mlp.down_proj.weight", l);
    }
#undef ADD
    return n;
}

/* Element e of tensor k: a multiple of 1/64 in [-0.75, 0.75], exact in
   F16 and BF16, different for neighbouring rows. */
static float syn_val(int k, uint64_t e) {
    return (float)((int)((k * 131u + e * 7u) % 97u) - 48) / 64.0f;
}

static size_t dtype_bytes(const char *dt) {
    if (!strcmp(dt, "F32") || !strcmp(dt, "I32")) return 4;
    if (!strcmp(dt, "F16") || !strcmp(dt, "BF16")) return 2;
    if (!strcmp(dt, "I64") || !strcmp(dt, "F64")) return 8;
    return 1;
}

/* One tensor as written (after the options' mutations). */
typedef struct syn_item {
    const char *name;
    const char *dtype;
    int64_t rows, cols;
    int k;                    /* value seed */
} syn_item;

/* Writes items into path as one safetensors file, as the safetensors
   library does (metadata, header padded to 8 bytes, tensors in order). */
static void write_st(const char *path, const syn_item *it, int n) {
    char header[16384];
    size_t hl = 0, off = 0;
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        size_t nb = (size_t)it[i].rows * (it[i].cols ? (size_t)it[i].cols : 1) * dtype_bytes(it[i].dtype);
        char shape[64];
        if (it[i].cols) snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)it[i].rows, (long long)it[i].cols);
        else snprintf(shape, sizeof shape, "[%lld]", (long long)it[i].rows);
        hl += (size_t)snprintf(header + hl, sizeof header - hl,
                               ",\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                               it[i].name, it[i].dtype, shape, off, off + nb);
        off += nb;
    }
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "}");
    while (hl % 8) header[hl++] = ' ';
    uint8_t *buf = calloc(1, 8 + hl + off);
    for (int b = 0; b < 8; b++) buf[b] = (uint8_t)((uint64_t)hl >> (8 * b));
    memcpy(buf + 8, header, hl);
    uint8_t *p = buf + 8 + hl;
    for (int i = 0; i < n; i++) {
        uint64_t ne = (uint64_t)it[i].rows * (it[i].cols ? (uint64_t)it[i].cols : 1);
        size_t es = dtype_bytes(it[i].dtype);
        for (uint64_t e = 0; e < ne; e++, p += es) {
            float v = syn_val(it[i].k, e);
            uint32_t u = bs_bits_from_f32(v);
            if (!strcmp(it[i].dtype, "F16")) u = bs_f32_to_f16(v);
            else if (!strcmp(it[i].dtype, "BF16")) u >>= 16;
            else if (strcmp(it[i].dtype, "F32") != 0) u = 0;
            for (size_t b = 0; b < es && b < 4; b++) p[b] = (uint8_t)(u >> (8 * b));
        }
    }
    write_file(path, buf, 8 + hl + off);
    free(buf);
}

static void syn_write(const char *dir, const syn_opts *o) {
    syn_tensor t[64];
    int n = syn_list(o, t);
    syn_item items[66];
    int ni = 0;
    for (int i = 0; i < n; i++) {
        if (o->skip && !strcmp(o->skip, t[i].name)) continue;
        syn_item *x = &items[ni++];
        x->name = t[i].name;
        x->dtype = o->dtype ? o->dtype : "F32";
        if (o->odd_dtype_of && !strcmp(o->odd_dtype_of, t[i].name)) x->dtype = o->odd_dtype;
        x->rows = t[i].rows + (o->reshape && !strcmp(o->reshape, t[i].name));
        x->cols = t[i].cols;
        x->k = i;
    }
    if (o->extra) items[ni++] = (syn_item){o->extra, "F32", 4, 0, 99};
    write_text(in_dir(dir, "config.json"), o->config ? o->config : syn_default_config);
    if (!o->shards) {
        write_st(in_dir(dir, "model.safetensors"), items, ni);
        return;
    }
    char index[16384];
    size_t il = (size_t)snprintf(index, sizeof index, "{\"metadata\":{\"total_size\":0},\"weight_map\":{");
    int first = 1;
    for (int s = 0; s < o->shards; s++) {
        syn_item mine[66];
        int nm = 0;
        char file[64];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", s + 1, o->shards);
        for (int i = 0; i < ni; i++) {
            if (i % o->shards == s || (o->dup_first && i == 0 && s == 1)) mine[nm++] = items[i];
            if (i % o->shards == s) {
                il += (size_t)snprintf(index + il, sizeof index - il, "%s\"%s\":\"%s\"",
                                       first ? "" : ",", items[i].name,
                                       i == 0 && o->index_first ? o->index_first : file);
                first = 0;
            }
        }
        write_st(in_dir(dir, file), mine, nm);
    }
    snprintf(index + il, sizeof index - il, "}}");
    write_text(in_dir(dir, "model.safetensors.index.json"), index);
}

static bs_status syn_load(const char *case_name, const syn_opts *o, bs_model **out) {
    const char *dir = scratch(case_name);
    syn_write(dir, o);
    *out = NULL;
    return bs_model_load(dir, NULL, out);
}

/* Every element lands where it should: names, permutation, conversion. */
static void check_syn_model(const bs_model *m, const syn_opts *o) {
    syn_tensor t[64];
    int n = syn_list(o, t), bad = 0;
    for (int i = 0; i < n; i++) {
        const float *w = NULL;
        int layer = -1, rope = 0;
        char key[96] = "";
        if (sscanf(t[i].name, "model.layers.%d.%95s", &layer, key) != 2) layer = -1;
        const bs_layer *l = layer >= 0 ? &m->layers[layer] : NULL;
        if (!strcmp(t[i].name, "model.embed_tokens.weight")) w = m->tok_embd;
        else if (!strcmp(t[i].name, "model.norm.weight")) w = m->out_norm;
        else if (!strcmp(t[i].name, "lm_head.weight")) w = m->lm_head.w;
        else if (!strcmp(key, "input_layernorm.weight")) w = l->attn_norm;
        else if (!strcmp(key, "post_attention_layernorm.weight")) w = l->ffn_norm;
        else if (!strcmp(key, "self_attn.q_proj.weight")) w = l->wq.w, rope = 1;
        else if (!strcmp(key, "self_attn.k_proj.weight")) w = l->wk.w, rope = 1;
        else if (!strcmp(key, "self_attn.v_proj.weight")) w = l->wv.w;
        else if (!strcmp(key, "self_attn.o_proj.weight")) w = l->wo.w;
        else if (!strcmp(key, "mlp.gate_proj.weight")) w = l->w_gate.w;
        else if (!strcmp(key, "mlp.up_proj.weight")) w = l->w_up.w;
        else if (!strcmp(key, "mlp.down_proj.weight")) w = l->w_down.w;
        CHECK_MSG(w != NULL, "no field for %s", t[i].name);
        if (!w) continue;
        int64_t cols = t[i].cols ? t[i].cols : 1;
        for (int64_t r = 0; r < t[i].rows; r++) {
            /* our row r came from HF row src (per head: 2j <- j, 2j+1 <- j + hd/2) */
            int64_t src = r;
            if (rope) {
                int64_t h = r / S_HD, j = r % S_HD;
                src = h * S_HD + (j % 2 ? j / 2 + S_HD / 2 : j / 2);
            }
            for (int64_t c = 0; c < cols; c++)
                if (w[r * cols + c] != syn_val(i, (uint64_t)(src * cols + c)) && bad++ < 3)
                    fprintf(stderr, "  %s[%lld][%lld] = %g, want %g\n", t[i].name, (long long)r,
                            (long long)c, (double)w[r * cols + c],
                            (double)syn_val(i, (uint64_t)(src * cols + c)));
        }
    }
    CHECK_MSG(bad == 0, "%d misplaced elements", bad);
}

static void test_syn_dtypes(void) {
    static const char *const dts[] = {"F32", "F16", "BF16"};
    for (int d = 0; d < 3; d++) {
        syn_opts o = {.dtype = dts[d]};
        bs_model *m = NULL;
        CHECK_OK(syn_load(dts[d], &o, &m));
        if (m) check_syn_model(m, &o);
        if (m) CHECK(m->tok == NULL && m->chat_template == NULL && m->cfg.tied == 0);
        bs_model_free(m);
    }
}

static void test_syn_sharded_and_tied(void) {
    syn_opts o = {.shards = 3, .no_lm_head = 1, .extra = "model.layers.0.self_attn.rotary_emb.inv_freq"};
    bs_model *m = NULL;
    CHECK_OK(syn_load("sharded", &o, &m));
    if (m) {
        check_syn_model(m, &o);
        CHECK_EQ_INT(m->cfg.tied, 1);  /* no lm_head.weight although the config says untied */
        CHECK(m->lm_head.w == m->tok_embd);
    }
    bs_model_free(m);
}

static void test_syn_mistral(void) {
    syn_opts o = {.config =
        "{\"model_type\": \"mistral\", \"hidden_size\": 8, \"intermediate_size\": 12,"
        " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
        " \"vocab_size\": 300, \"max_position_embeddings\": 64, \"sliding_window\": 16}"};
    bs_model *m = NULL;
    CHECK_OK(syn_load("mistral", &o, &m));
    if (m) {
        check_syn_model(m, &o);
        CHECK_EQ_INT(m->cfg.seq_len, 16);
        CHECK(m->cfg.rope_theta == 10000.0f && m->cfg.norm_eps == 1e-6f);  /* defaults */
    }
    bs_model_free(m);
}

/* bos/eos from tokenizer_config.json strings when config.json has no ids;
   eos ids of generation_config.json end generation too; the template from
   chat_template.jinja. */
static void test_syn_tokenizer_files(void) {
    const char *dir = scratch("tokfiles");
    syn_opts o = {0};
    syn_write(dir, &o);
    char src[1024];
    snprintf(src, sizeof src, "%s/hf/llama_f32/tokenizer.json", BS_TEST_DATA);
    size_t len = 0;
    char *tok = slurp(src, &len);
    CHECK(tok != NULL);
    if (!tok) return;
    write_file(in_dir(dir, "tokenizer.json"), tok, len);
    free(tok);
    write_text(in_dir(dir, "tokenizer_config.json"),
               "{\"bos_token\": {\"content\": \"<|im_start|>\", \"__type\": \"AddedToken\"},"
               " \"eos_token\": \"<|endoftext|>\"}");
    write_text(in_dir(dir, "generation_config.json"), "{\"eos_token_id\": [0, 2]}");
    write_text(in_dir(dir, "chat_template.jinja"), "{{ messages }}");
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(dir, NULL, &m));
    if (m) {
        bs_model_info info;
        CHECK_OK(bs_model_get_info(m, &info));
        CHECK_EQ_INT(info.bos_id, 1);
        CHECK_EQ_INT(info.eos_id, 0);
        CHECK(bs_token_is_eog(m, 0) && bs_token_is_eog(m, 2));
        CHECK(info.chat_template && strcmp(info.chat_template, "{{ messages }}") == 0);
    }
    bs_model_free(m);
    /* a bos_token that is not in the vocabulary */
    write_text(in_dir(dir, "tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_FORMAT);
    CHECK(msg_has("<s>"));
    /* eos id beyond the tokenizer */
    write_text(in_dir(dir, "tokenizer_config.json"), "{}");
    write_text(in_dir(dir, "generation_config.json"), "{\"eos_token_id\": 300}");
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_FORMAT);
    CHECK(msg_has("300"));
}

/* ---- 3. bad input ------------------------------------------------------ */

static void expect_fail(const char *case_name, const syn_opts *o, bs_status want,
                        const char *needle) {
    bs_model *m = NULL;
    bs_status st = syn_load(case_name, o, &m);
    CHECK_MSG(st == want, "%s: got %s want %s (%s)", case_name, bs_status_name(st),
              bs_status_name(want), bs_last_error());
    CHECK_MSG(msg_has(needle), "%s: message \"%s\" lacks \"%s\"", case_name, bs_last_error(), needle);
    CHECK(m == NULL);
    bs_model_free(m);
}

static void test_bad_dirs(void) {
    bs_model *m = NULL;
    const char *dir = scratch("empty");
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_IO);
    CHECK(msg_has("config.json"));
    write_text(in_dir(dir, "config.json"), "{\"model_type\": \"llama\", ");
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_FORMAT);
    CHECK(msg_has("config.json") && msg_has("JSON"));
    write_text(in_dir(dir, "config.json"), syn_default_config);
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_IO);   /* no weights */
    CHECK(msg_has("model.safetensors"));
    write_text(in_dir(dir, "pytorch_model.bin"), "not really");
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_UNSUPPORTED);
    CHECK(msg_has("pytorch_model.bin"));
    CHECK(m == NULL);
}

static void test_bad_config(void) {
    static const struct { const char *json; bs_status st; const char *needle; } cases[] = {
        {"[1, 2]", BS_ERR_FORMAT, "not an object"},
        {"{\"hidden_size\": 8}", BS_ERR_FORMAT, "model_type"},
        {"{\"model_type\": \"gpt2\"}", BS_ERR_UNSUPPORTED, "gpt2"},
        {"{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}",
         BS_ERR_UNSUPPORTED, "linear"},
        {"{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}",
         BS_ERR_UNSUPPORTED, "llama3"},
        {"{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"yarn\"}}", BS_ERR_UNSUPPORTED, "yarn"},
        {"{\"model_type\": \"llama\", \"attention_bias\": true}", BS_ERR_UNSUPPORTED, "attention_bias"},
        {"{\"model_type\": \"llama\", \"mlp_bias\": true}", BS_ERR_UNSUPPORTED, "mlp_bias"},
        {"{\"model_type\": \"llama\", \"hidden_act\": \"gelu\"}", BS_ERR_UNSUPPORTED, "gelu"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 8.5}", BS_ERR_FORMAT, "hidden_size"},
        {"{\"model_type\": \"llama\", \"hidden_size\": -8}", BS_ERR_FORMAT, "hidden_size"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 1e300}", BS_ERR_FORMAT, "hidden_size"},
        {"{\"model_type\": \"llama\", \"hidden_size\": \"8\"}", BS_ERR_FORMAT, "hidden_size"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 12,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 2}", BS_ERR_FORMAT, "vocab_size"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 12,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 3, \"vocab_size\": 300}",
         BS_ERR_FORMAT, "n_heads"},
        {"{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 12,"
         " \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"vocab_size\": 300,"
         " \"tie_word_embeddings\": 1}", BS_ERR_FORMAT, "tie_word_embeddings"},
        /* the sizes are plausible, the tensors are not: shape check, no huge allocation */
        {"{\"model_type\": \"llama\", \"hidden_size\": 65536, \"intermediate_size\": 200000,"
         " \"num_hidden_layers\": 10, \"num_attention_heads\": 64, \"vocab_size\": 300}",
         BS_ERR_FORMAT, "model.embed_tokens.weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32];
        snprintf(name, sizeof name, "config%zu", i);
        syn_opts o = {.config = cases[i].json};
        expect_fail(name, &o, cases[i].st, cases[i].needle);
    }
}

static void test_bad_tensors(void) {
    syn_opts o;
    o = (syn_opts){.skip = "model.layers.1.mlp.up_proj.weight"};
    expect_fail("missing", &o, BS_ERR_FORMAT, "model.layers.1.mlp.up_proj.weight is missing");
    o = (syn_opts){.reshape = "model.layers.0.self_attn.k_proj.weight"};
    expect_fail("shape", &o, BS_ERR_FORMAT, "[5, 8], config.json implies [4, 8]");
    o = (syn_opts){.odd_dtype_of = "model.norm.weight", .odd_dtype = "F8_E4M3"};
    expect_fail("f8", &o, BS_ERR_UNSUPPORTED, "F8_E4M3");
    o = (syn_opts){.odd_dtype_of = "model.layers.0.self_attn.q_proj.weight", .odd_dtype = "I64"};
    expect_fail("i64", &o, BS_ERR_UNSUPPORTED, "I64");
    o = (syn_opts){.odd_dtype_of = "lm_head.weight", .odd_dtype = "Q4_K"};
    expect_fail("unknown_dtype", &o, BS_ERR_UNSUPPORTED, "Q4_K");
    o = (syn_opts){.extra = "model.layers.1.self_attn.q_proj.bias"};
    expect_fail("bias", &o, BS_ERR_UNSUPPORTED, "q_proj.bias");
    o = (syn_opts){.shards = 2, .index_first = "missing.safetensors"};
    expect_fail("missing_shard", &o, BS_ERR_IO, "missing.safetensors");
    o = (syn_opts){.shards = 2, .index_first = "../model-00001-of-00002.safetensors"};
    expect_fail("escape", &o, BS_ERR_FORMAT, "../model-00001-of-00002.safetensors");
    o = (syn_opts){.shards = 2, .index_first = "/etc/passwd"};
    expect_fail("absolute", &o, BS_ERR_FORMAT, "/etc/passwd");
    o = (syn_opts){.shards = 2, .dup_first = 1};
    expect_fail("dup", &o, BS_ERR_FORMAT, "in both");
    /* the index names the other shard than the one holding the tensor */
    o = (syn_opts){.shards = 2, .index_first = "model-00002-of-00002.safetensors"};
    expect_fail("misplaced", &o, BS_ERR_FORMAT, "does not hold it");
}

/* A broken model.safetensors in an otherwise good directory. */
static void test_bad_container_in_dir(void) {
    const char *dir = scratch("badfile");
    syn_opts o = {0};
    syn_write(dir, &o);
    size_t len = 0;
    uint8_t *good = (uint8_t *)slurp(in_dir(dir, "model.safetensors"), &len);
    if (!good) return;
    bs_model *m = NULL;
    /* header length beyond the file */
    uint8_t *b = malloc(len);
    memcpy(b, good, len);
    b[0] = 0xff; b[1] = 0xff; b[2] = 0xff;
    write_file(in_dir(dir, "model.safetensors"), b, len);
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_TRUNCATED);
    CHECK(msg_has("header length"));
    /* truncated data section */
    write_file(in_dir(dir, "model.safetensors"), good, len - 3);
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_FORMAT);
    CHECK(msg_has("outside the data section"));
    /* empty file */
    write_file(in_dir(dir, "model.safetensors"), good, 0);
    CHECK_STATUS(bs_model_load(dir, NULL, &m), BS_ERR_TRUNCATED);
    CHECK(m == NULL);
    free(b);
    free(good);
}

int main(void) {
    RUN(test_syn_dtypes);
    RUN(test_syn_sharded_and_tied);
    RUN(test_syn_mistral);
    RUN(test_syn_tokenizer_files);
    RUN(test_bad_dirs);
    RUN(test_bad_config);
    RUN(test_bad_tensors);
    RUN(test_bad_container_in_dir);
    RUN(test_info);
    RUN(test_logits_f32);
    RUN(test_logits_bf16_sharded);
    RUN(test_permutation_matters);
    RUN(test_tokenizer_hookup);
    return test_summary();
}
