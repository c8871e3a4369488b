/* test_gguf_bad.c - the GGUF importer on malformed input: files crafted in
 * memory with one defect each, every truncation of the fixtures, and random
 * byte flips. Every case must give the right non-OK status and a message
 * naming the problem, never a crash (run it under ASan/UBSan). */
#include "test.h"

#include "bitstack.h"
#include "dequant.h"
#include "gguf.h"
#include "model.h"

#include <stdint.h>

/* ---- a GGUF writer for crafted files --------------------------------------- */

typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
} gbuf;

static void put(gbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();  /* test harness only */
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put_u32(gbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(gbuf *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_str(gbuf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

#define MAX_ITEMS 48

/* One metadata pair: the type written, then (unless raw is set) the value. */
typedef struct ckv {
    char key[80];
    uint32_t type;
    uint64_t u;                  /* integers: written in the type's width */
    float f;
    const char *s;               /* STRING                                */
    const char *const *strs;     /* ARRAY of STRING                       */
    uint32_t n_strs;
    const uint8_t *raw;          /* bytes written verbatim after the type */
    size_t raw_len;
} ckv;

typedef struct ctensor {
    char name[80];
    uint32_t n_dims;
    uint64_t ne[8];
    uint32_t type;
    int64_t offset;              /* -1: laid out by build()               */
} ctensor;

typedef struct spec {
    uint32_t version;
    uint32_t alignment;          /* layout alignment (the key is separate) */
    int64_t n_kv_override;       /* -1: the true counts                   */
    int64_t n_t_override;
    ckv kv[MAX_ITEMS];
    int n_kv;
    ctensor t[MAX_ITEMS];
    int n_t;
} spec;

static ckv *kv_of(spec *s, const char *key) {
    for (int i = 0; i < s->n_kv; i++)
        if (strcmp(s->kv[i].key, key) == 0) return &s->kv[i];
    ckv *kv = &s->kv[s->n_kv++];
    memset(kv, 0, sizeof *kv);
    snprintf(kv->key, sizeof kv->key, "%s", key);
    return kv;
}

static void set_int(spec *s, const char *key, uint32_t type, uint64_t v) {
    ckv *kv = kv_of(s, key);
    memset(&kv->u, 0, sizeof *kv - offsetof(ckv, u));
    kv->type = type;
    kv->u = v;
}

static void set_u32(spec *s, const char *key, uint32_t v) { set_int(s, key, BS_GGUF_U32, v); }

static void set_f32(spec *s, const char *key, float v) {
    set_int(s, key, BS_GGUF_F32, 0);
    kv_of(s, key)->f = v;
}

static void set_str(spec *s, const char *key, const char *v) {
    set_int(s, key, BS_GGUF_STRING, 0);
    kv_of(s, key)->s = v;
}

static void set_strs(spec *s, const char *key, const char *const *v, uint32_t n) {
    set_int(s, key, BS_GGUF_ARRAY, 0);
    kv_of(s, key)->strs = v;
    kv_of(s, key)->n_strs = n;
}

static void set_raw(spec *s, const char *key, uint32_t type, const void *raw, size_t n) {
    set_int(s, key, type, 0);
    kv_of(s, key)->raw = raw;
    kv_of(s, key)->raw_len = n;
}

static void del_kv(spec *s, const char *key) {
    for (int i = 0; i < s->n_kv; i++)
        if (strcmp(s->kv[i].key, key) == 0) {
            s->kv[i] = s->kv[--s->n_kv];
            return;
        }
}

static ctensor *tensor_of(spec *s, const char *name) {
    for (int i = 0; i < s->n_t; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    ctensor *t = &s->t[s->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = -1;
    return t;
}

static void set_tensor(spec *s, const char *name, uint64_t cols, uint64_t rows) {
    ctensor *t = tensor_of(s, name);
    t->n_dims = rows ? 2 : 1;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->type = BS_GGML_F32;
}

static void del_tensor(spec *s, const char *name) {
    for (int i = 0; i < s->n_t; i++)
        if (strcmp(s->t[i].name, name) == 0) {
            memmove(&s->t[i], &s->t[i + 1], (size_t)(s->n_t - i - 1) * sizeof s->t[0]);
            s->n_t--;
            return;
        }
}

/* A valid minimal llama: dim 8, hidden 32, 1 layer, 2 heads / 1 kv head
   (head_dim 4), vocab 4, context 16, every tensor F32, no tokenizer. */
static void minimal(spec *s) {
    memset(s, 0, sizeof *s);
    s->version = 3;
    s->alignment = 32;
    s->n_kv_override = s->n_t_override = -1;
    set_str(s, "general.architecture", "llama");
    set_u32(s, "llama.embedding_length", 8);
    set_u32(s, "llama.feed_forward_length", 32);
    set_u32(s, "llama.block_count", 1);
    set_u32(s, "llama.attention.head_count", 2);
    set_u32(s, "llama.attention.head_count_kv", 1);
    set_u32(s, "llama.context_length", 16);
    set_tensor(s, "token_embd.weight", 8, 4);
    set_tensor(s, "output_norm.weight", 8, 0);
    set_tensor(s, "blk.0.attn_norm.weight", 8, 0);
    set_tensor(s, "blk.0.attn_q.weight", 8, 8);
    set_tensor(s, "blk.0.attn_k.weight", 8, 4);
    set_tensor(s, "blk.0.attn_v.weight", 8, 4);
    set_tensor(s, "blk.0.attn_output.weight", 8, 8);
    set_tensor(s, "blk.0.ffn_norm.weight", 8, 0);
    set_tensor(s, "blk.0.ffn_gate.weight", 8, 32);
    set_tensor(s, "blk.0.ffn_up.weight", 8, 32);
    set_tensor(s, "blk.0.ffn_down.weight", 32, 8);
}

static const char *const spm_tokens[4] = {"<unk>", "<s>", "</s>", ("\xe2\x96\x81" "a")};

static void with_spm_tokenizer(spec *s) {
    set_str(s, "tokenizer.ggml.model", "llama");
    set_strs(s, "tokenizer.ggml.tokens", spm_tokens, 4);
}

static uint64_t tensor_bytes(const ctensor *t) {
    uint64_t rest = 1;
    for (uint32_t d = 1; d < t->n_dims && d < 8; d++) rest *= t->ne[d];
    uint64_t row = bs_ggml_row_bytes(t->type, t->ne[0]);
    return (row ? row : 4 * t->ne[0]) * rest;
}

static uint8_t *build(const spec *s, size_t *size) {
    gbuf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, s->version);
    put_u64(&b, s->n_t_override >= 0 ? (uint64_t)s->n_t_override : (uint64_t)s->n_t);
    put_u64(&b, s->n_kv_override >= 0 ? (uint64_t)s->n_kv_override : (uint64_t)s->n_kv);
    for (int i = 0; i < s->n_kv; i++) {
        const ckv *kv = &s->kv[i];
        put_str(&b, kv->key);
        put_u32(&b, kv->type);
        if (kv->raw) {
            put(&b, kv->raw, kv->raw_len);
        } else if (kv->type == BS_GGUF_STRING) {
            put_str(&b, kv->s);
        } else if (kv->type == BS_GGUF_ARRAY) {
            put_u32(&b, BS_GGUF_STRING);
            put_u64(&b, kv->n_strs);
            for (uint32_t k = 0; k < kv->n_strs; k++) put_str(&b, kv->strs[k]);
        } else if (kv->type == BS_GGUF_F32) {
            uint32_t u;
            memcpy(&u, &kv->f, 4);
            put_u32(&b, u);
        } else {
            static const uint8_t width[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
            uint8_t x[8];
            for (int k = 0; k < 8; k++) x[k] = (uint8_t)(kv->u >> (8 * k));
            put(&b, x, kv->type < 13 ? width[kv->type] : 0);
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < s->n_t; i++) {
        const ctensor *t = &s->t[i];
        put_str(&b, t->name);
        put_u32(&b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(&b, t->ne[d]);
        put_u32(&b, t->type);
        put_u64(&b, t->offset >= 0 ? (uint64_t)t->offset : off);
        off += (tensor_bytes(t) + s->alignment - 1) / s->alignment * s->alignment;
    }
    static const uint8_t zero[64] = {0};
    while (b.n % s->alignment) put(&b, zero, 1);
    /* data: F32 tensors hold i + 0.5, the rest zero bytes */
    for (int i = 0; i < s->n_t; i++) {
        const ctensor *t = &s->t[i];
        uint64_t n = tensor_bytes(t), padded = (n + s->alignment - 1) / s->alignment * s->alignment;
        if (n > (1u << 20)) break;  /* absurd shapes: leave the file short */
        for (uint64_t k = 0; k < padded; k += 4) {
            float v = t->type == BS_GGML_F32 && k < n ? (float)(k / 4) + 0.5f : 0.0f;
            put(&b, &v, 4);
        }
    }
    *size = b.n;
    return b.p;
}

/* Imports bytes from memory into a fresh model; returns the status. */
static bs_status import_bytes(const uint8_t *p, size_t n, bs_model **keep) {
    bs_reader r;
    bs_reader_from_memory(&r, p, n, "crafted");
    bs_model *m = bs_calloc(1, sizeof *m);
    bs_clear_error();
    bs_status st = bs_import_gguf(&r, m);
    if (st == BS_OK && keep) *keep = m;
    else bs_model_free(m);
    return st;
}

static bs_status import_spec(const spec *s, bs_model **keep) {
    size_t n;
    uint8_t *p = build(s, &n);
    bs_status st = import_bytes(p, n, keep);
    free(p);
    return st;
}

/* The status must be want and the message must contain needle. */
#define EXPECT(s, want, needle)                                                       \
    do {                                                                              \
        bs_status got_ = import_spec(s, NULL);                                        \
        CHECK_MSG(got_ == (want) && strstr(bs_last_error(), needle) != NULL,          \
                  "got %s \"%s\", want %s containing \"%s\"", bs_status_name(got_),   \
                  bs_last_error(), bs_status_name(want), needle);                    \
    } while (0)

/* ---- crafted files ---------------------------------------------------------- */

static void test_minimal_ok(void) {
    spec s;
    minimal(&s);
    bs_model *m = NULL;
    CHECK_OK(import_spec(&s, &m));
    if (m) {
        CHECK_EQ_INT(m->cfg.dim, 8);
        CHECK_EQ_INT(m->cfg.head_dim, 4);
        CHECK_EQ_INT(m->cfg.n_kv_heads, 1);
        CHECK_EQ_INT(m->cfg.vocab_size, 4);  /* from token_embd: no tokens, no vocab_size */
        CHECK_EQ_INT(m->cfg.tied, 1);        /* no output.weight */
        CHECK(m->cfg.rope_theta == 10000.0f && m->cfg.norm_eps == 1e-5f);  /* defaults */
        CHECK(m->tok == NULL && m->chat_template == NULL);
        CHECK(m->layers[0].w_down.w[5] == 5.5f && m->tok_embd[31] == 31.5f);
        bs_model_free(m);
    }
    /* v2 differs from v3 only in allowing big-endian files: same bytes */
    minimal(&s);
    s.version = 2;
    CHECK_OK(import_spec(&s, NULL));
    /* head_count_kv defaults to head_count; alignment 64; an SPM vocab */
    minimal(&s);
    del_kv(&s, "llama.attention.head_count_kv");
    set_tensor(&s, "blk.0.attn_k.weight", 8, 8);
    set_tensor(&s, "blk.0.attn_v.weight", 8, 8);
    set_u32(&s, "general.alignment", 64);
    s.alignment = 64;
    with_spm_tokenizer(&s);
    set_f32(&s, "llama.rope.freq_base", 1e6f);
    m = NULL;
    CHECK_OK(import_spec(&s, &m));
    if (m) {
        CHECK_EQ_INT(m->cfg.n_kv_heads, 2);
        CHECK(m->cfg.rope_theta == 1e6f);
        CHECK(m->tok && bs_tokenizer_bos(m->tok) == 1 && bs_tokenizer_eos(m->tok) == 2);
        CHECK(m->tok && bs_tokenizer_get_kind(m->tok) == BS_TOKENIZER_SPM);
        bs_model_free(m);
    }
    /* an untied output.weight that differs from the embedding */
    minimal(&s);
    set_tensor(&s, "output.weight", 8, 4);
    tensor_of(&s, "output.weight")->type = BS_GGML_F16;
    m = NULL;
    CHECK_OK(import_spec(&s, &m));
    CHECK(m && m->cfg.tied == 0 && m->lm_head.w != m->tok_embd && m->lm_head.w[3] == 0.0f);
    bs_model_free(m);
}

static void test_header_errors(void) {
    spec s;
    size_t n;
    minimal(&s);
    uint8_t *p = build(&s, &n);
    p[3] = 'X';
    CHECK_STATUS(import_bytes(p, n, NULL), BS_ERR_FORMAT);
    CHECK(strstr(bs_last_error(), "magic") != NULL);
    free(p);

    minimal(&s), s.version = 1;
    EXPECT(&s, BS_ERR_UNSUPPORTED, "version 1");
    minimal(&s), s.version = 99;
    EXPECT(&s, BS_ERR_VERSION, "version 99");
    minimal(&s), s.version = 0;
    EXPECT(&s, BS_ERR_FORMAT, "version 0");
    minimal(&s), s.version = 0x03000000u;
    EXPECT(&s, BS_ERR_UNSUPPORTED, "big-endian");

    minimal(&s), s.n_kv_override = 1ll << 60;
    EXPECT(&s, BS_ERR_FORMAT, "metadata count");
    minimal(&s), s.n_t_override = INT64_MAX;
    EXPECT(&s, BS_ERR_FORMAT, "tensor count");
    minimal(&s), s.n_t_override = 200;  /* 200 infos need more than 5 KB */
    EXPECT(&s, BS_ERR_FORMAT, "tensor count 200");
    minimal(&s), s.n_t_override = 40;   /* plausible: then reads padding as infos */
    CHECK(import_spec(&s, NULL) != BS_OK && strstr(bs_last_error(), "tensor") != NULL);
    minimal(&s), s.n_kv_override = s.n_kv + 1;  /* parses a tensor info as a pair */
    CHECK(import_spec(&s, NULL) != BS_OK && bs_last_error()[0] != '\0');
}

static void test_metadata_errors(void) {
    spec s;
    static const uint8_t huge_len[8] = {0, 0, 0, 0, 0, 1, 0, 0};          /* 2^40 */
    static const uint8_t huge_array[12] = {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20}; /* u32 x 2^61 */
    static const uint8_t str_array[12] = {8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};  /* 2^40 strings */
    static const uint8_t bad_elem[12] = {42, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    /* arrays nested 5 deep, each holding one array */
    static const uint8_t deep[] = {9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0,
                                   0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1,
                                   0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};

    minimal(&s), set_raw(&s, "general.name", BS_GGUF_STRING, huge_len, 8);
    EXPECT(&s, BS_ERR_TRUNCATED, "general.name");
    minimal(&s), set_raw(&s, "general.tags", BS_GGUF_ARRAY, huge_array, 12);
    EXPECT(&s, BS_ERR_TRUNCATED, "general.tags");
    minimal(&s), set_raw(&s, "general.tags", BS_GGUF_ARRAY, str_array, 12);
    EXPECT(&s, BS_ERR_TRUNCATED, "general.tags");
    minimal(&s), set_raw(&s, "general.tags", BS_GGUF_ARRAY, bad_elem, 12);
    EXPECT(&s, BS_ERR_FORMAT, "element type 42");
    minimal(&s), set_raw(&s, "general.tags", BS_GGUF_ARRAY, deep, sizeof deep);
    EXPECT(&s, BS_ERR_UNSUPPORTED, "nested");
    minimal(&s), set_int(&s, "general.whatever", 13, 0);
    EXPECT(&s, BS_ERR_FORMAT, "value type 13");
    minimal(&s), set_int(&s, "", BS_GGUF_U8, 0);
    EXPECT(&s, BS_ERR_FORMAT, "empty metadata key");

    /* duplicate keys: kv_of() would merge them, so write one by hand */
    minimal(&s);
    s.kv[s.n_kv] = s.kv[1];
    s.n_kv++;
    EXPECT(&s, BS_ERR_FORMAT, "duplicate metadata key 'llama.embedding_length'");

    minimal(&s), set_u32(&s, "general.alignment", 48);
    EXPECT(&s, BS_ERR_FORMAT, "alignment 48");
    minimal(&s), set_u32(&s, "general.alignment", 0);
    EXPECT(&s, BS_ERR_FORMAT, "alignment 0");
    minimal(&s), set_str(&s, "llama.embedding_length", "eight");
    EXPECT(&s, BS_ERR_FORMAT, "llama.embedding_length");
    minimal(&s), set_int(&s, "llama.block_count", BS_GGUF_I32, 0xffffffffu);  /* -1 */
    EXPECT(&s, BS_ERR_FORMAT, "llama.block_count = -1");
    minimal(&s), set_int(&s, "llama.context_length", BS_GGUF_U64, 1ull << 63);
    EXPECT(&s, BS_ERR_FORMAT, "llama.context_length");
    static const uint8_t big_f64[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x7f};  /* +inf */
    minimal(&s), set_raw(&s, "llama.rope.freq_base", BS_GGUF_F64, big_f64, 8);
    EXPECT(&s, BS_ERR_FORMAT, "llama.rope.freq_base = inf");
    minimal(&s), set_f32(&s, "llama.attention.layer_norm_rms_epsilon", -1.0f);
    EXPECT(&s, BS_ERR_FORMAT, "norm_eps");
}

static void test_tensor_errors(void) {
    spec s;
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->offset = 1 << 20;
    EXPECT(&s, BS_ERR_TRUNCATED, "blk.0.attn_q.weight");
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->offset = (int64_t)(UINT64_MAX / 64 * 32);
    EXPECT(&s, BS_ERR_TRUNCATED, "blk.0.attn_q.weight");
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->offset = 4;
    EXPECT(&s, BS_ERR_FORMAT, "alignment");
    minimal(&s), tensor_of(&s, "blk.0.attn_k.weight")->offset = 0;  /* token_embd's bytes */
    EXPECT(&s, BS_ERR_FORMAT, "overlap");
    minimal(&s), tensor_of(&s, "blk.0.attn_v.weight")->type = 99;
    EXPECT(&s, BS_ERR_UNSUPPORTED, "'blk.0.attn_v.weight' has unknown type 99");
    minimal(&s), tensor_of(&s, "blk.0.ffn_down.weight")->type = 6;  /* Q5_0: known, not read */
    EXPECT(&s, BS_ERR_UNSUPPORTED, "type Q5_0");
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->type = BS_GGML_Q4_0;  /* 8 % 32 */
    EXPECT(&s, BS_ERR_FORMAT, "Q4_0 block size 32");
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->n_dims = 7;
    EXPECT(&s, BS_ERR_FORMAT, "7 dimensions");
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->n_dims = 0;
    EXPECT(&s, BS_ERR_FORMAT, "0 dimensions");
    minimal(&s), tensor_of(&s, "blk.0.attn_q.weight")->ne[1] = 0;
    EXPECT(&s, BS_ERR_FORMAT, "zero");
    minimal(&s);
    tensor_of(&s, "blk.0.attn_q.weight")->ne[0] = 1ull << 40;
    tensor_of(&s, "blk.0.attn_q.weight")->ne[1] = 1ull << 40;
    EXPECT(&s, BS_ERR_FORMAT, "too large");
    minimal(&s), set_tensor(&s, "blk.0.attn_k.weight", 8, 8);
    EXPECT(&s, BS_ERR_FORMAT, "'blk.0.attn_k.weight' has shape [8, 8, 1, 1]");
    minimal(&s), set_tensor(&s, "blk.0.ffn_down.weight", 8, 32);  /* transposed */
    EXPECT(&s, BS_ERR_FORMAT, "expected [32, 8]");
    minimal(&s), set_tensor(&s, "output_norm.weight", 4, 0);
    EXPECT(&s, BS_ERR_FORMAT, "output_norm.weight");
    minimal(&s), del_tensor(&s, "blk.0.ffn_up.weight");
    EXPECT(&s, BS_ERR_FORMAT, "'blk.0.ffn_up.weight' is missing");
    minimal(&s), set_tensor(&s, "blk.0.attn_q.bias", 8, 0);
    EXPECT(&s, BS_ERR_UNSUPPORTED, "blk.0.attn_q.bias");
    minimal(&s), set_tensor(&s, "rope_freqs.weight", 2, 0);
    EXPECT(&s, BS_ERR_UNSUPPORTED, "rope_freqs");
    minimal(&s);
    s.t[s.n_t] = s.t[2];
    s.n_t++;
    EXPECT(&s, BS_ERR_FORMAT, "duplicate tensor 'blk.0.attn_norm.weight'");
    minimal(&s);
    memset(tensor_of(&s, "output_norm.weight")->name, 'x', 70);
    EXPECT(&s, BS_ERR_FORMAT, "tensor name");
}

static void test_model_errors(void) {
    spec s;
    minimal(&s), set_str(&s, "general.architecture", "qwen2");
    EXPECT(&s, BS_ERR_UNSUPPORTED, "architecture 'qwen2'");
    minimal(&s), del_kv(&s, "general.architecture");
    EXPECT(&s, BS_ERR_FORMAT, "general.architecture is missing");
    minimal(&s), del_kv(&s, "llama.block_count");
    EXPECT(&s, BS_ERR_FORMAT, "'llama.block_count' is missing");
    minimal(&s), set_u32(&s, "llama.attention.head_count", 3);
    EXPECT(&s, BS_ERR_FORMAT, "n_heads");
    minimal(&s), set_u32(&s, "llama.block_count", 2);
    EXPECT(&s, BS_ERR_FORMAT, "'blk.1.attn_norm.weight' is missing");
    minimal(&s), set_u32(&s, "llama.expert_count", 8);
    EXPECT(&s, BS_ERR_UNSUPPORTED, "expert_count");
    minimal(&s), set_str(&s, "llama.rope.scaling.type", "yarn");
    EXPECT(&s, BS_ERR_UNSUPPORTED, "yarn");
    minimal(&s), set_u32(&s, "llama.rope.dimension_count", 2);
    EXPECT(&s, BS_ERR_UNSUPPORTED, "partial RoPE");
    minimal(&s), set_u32(&s, "llama.attention.key_length", 8);
    EXPECT(&s, BS_ERR_FORMAT, "blk.0.attn_q.weight");  /* q would be (16, 8) */
    minimal(&s), set_u32(&s, "llama.vocab_size", 5);
    EXPECT(&s, BS_ERR_FORMAT, "token_embd.weight");

    /* tokenizer metadata */
    minimal(&s), with_spm_tokenizer(&s), set_u32(&s, "llama.vocab_size", 5);
    EXPECT(&s, BS_ERR_FORMAT, "llama.vocab_size 5 disagrees");
    minimal(&s), with_spm_tokenizer(&s), set_strs(&s, "tokenizer.ggml.tokens", spm_tokens, 3);
    EXPECT(&s, BS_ERR_FORMAT, "token_embd.weight");
    minimal(&s), with_spm_tokenizer(&s), set_u32(&s, "tokenizer.ggml.bos_token_id", 99);
    EXPECT(&s, BS_ERR_FORMAT, "bos_token_id = 99");
    minimal(&s), with_spm_tokenizer(&s), set_u32(&s, "tokenizer.ggml.eos_token_id", 0xffffffffu);
    bs_model *m = NULL;
    CHECK_OK(import_spec(&s, &m));  /* "none" */
    CHECK(m && m->tok && bs_tokenizer_eos(m->tok) == -1);
    bs_model_free(m);
    minimal(&s), with_spm_tokenizer(&s), set_str(&s, "tokenizer.ggml.model", "bert");
    EXPECT(&s, BS_ERR_UNSUPPORTED, "'bert'");
    minimal(&s), with_spm_tokenizer(&s), set_u32(&s, "tokenizer.ggml.scores", 1);
    EXPECT(&s, BS_ERR_FORMAT, "tokenizer.ggml.scores");
    static const char *const two[2] = {"a", "b"};
    minimal(&s), with_spm_tokenizer(&s), set_strs(&s, "tokenizer.ggml.token_type", two, 2);
    EXPECT(&s, BS_ERR_FORMAT, "array of string, expected i32");
    minimal(&s), with_spm_tokenizer(&s), set_str(&s, "tokenizer.ggml.model", "gpt2");
    EXPECT(&s, BS_ERR_FORMAT, "merges");
    static const char *const bad_merges[2] = {"a b", "ab"};
    minimal(&s), with_spm_tokenizer(&s), set_str(&s, "tokenizer.ggml.model", "gpt2");
    set_strs(&s, "tokenizer.ggml.merges", bad_merges, 2);
    EXPECT(&s, BS_ERR_FORMAT, "merge 1 'ab'");
    static const char *const bpe_tokens[4] = {"<|endoftext|>", "a", "b", "ab"};
    static const char *const merges[1] = {"a b"};
    set_strs(&s, "tokenizer.ggml.tokens", bpe_tokens, 4);
    set_strs(&s, "tokenizer.ggml.merges", merges, 1);
    set_str(&s, "tokenizer.ggml.pre", "some-future-pretokenizer");
    m = NULL;
    CHECK_OK(import_spec(&s, &m));  /* unknown pre-tokenizer: GPT-2's */
    CHECK(m && m->tok && bs_tokenizer_get_pretok(m->tok) == BS_PRETOK_GPT2 &&
          bs_tokenizer_n_merges(m->tok) == 1);
    bs_model_free(m);
}

/* ---- truncation and corruption sweeps --------------------------------------- */

static void *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(size > 0 ? (size_t)size : 1);
    if (p && fread(p, 1, (size_t)size, f) != (size_t)size) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)size;
    return p;
}

/* Cuts the file at every byte of its header and every step-th byte of its
   data: each prefix shorter than the end of the last tensor must fail
   cleanly, and the longer ones (trailing padding) must load. */
static void truncation_sweep(const char *path, size_t step) {
    size_t n;
    uint8_t *p = slurp(path, &n);
    CHECK_MSG(p != NULL, "%s", path);
    if (!p) return;
    bs_reader r;
    bs_reader_from_memory(&r, p, n, path);
    bs_gguf g;
    CHECK_OK(bs_gguf_open(&r, &g));
    uint64_t end = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++)
        end = BS_MAX(end, g.tensors[i].offset + g.tensors[i].bytes);
    uint64_t header = g.data_offset;
    bs_gguf_close(&g);
    int bad = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += cut < header ? 1 : step) {
        uint8_t *copy = malloc(cut ? cut : 1);  /* exact size: ASan sees overreads */
        memcpy(copy, p, cut);
        bs_status st = import_bytes(copy, cut, NULL);
        free(copy);
        tried++;
        int ok = cut < end ? (st == BS_ERR_TRUNCATED || st == BS_ERR_FORMAT) &&
                                 strncmp(bs_last_error(), "gguf: ", 6) == 0
                           : st == BS_OK;
        if (!ok && bad++ < 5)
            fprintf(stderr, "  cut at %zu of %zu: %s \"%s\"\n", cut, n, bs_status_name(st),
                    bs_last_error());
    }
    CHECK_MSG(bad == 0, "%s: %d of %d cuts misbehaved", path, bad, tried);
    CHECK(tried > (int)header);
    free(p);
}

static void test_truncations(void) {
    truncation_sweep(test_path(BS_TEST_DATA, "gguf/tiny_llama.gguf"), 61);
    /* reader errors say where they hit: byte 6900 is in tensor info 17 */
    size_t tn;
    uint8_t *tiny = slurp(test_path(BS_TEST_DATA, "gguf/tiny_llama.gguf"), &tn);
    if (tiny && tn > 6900) {
        CHECK_STATUS(import_bytes(tiny, 6900, NULL), BS_ERR_TRUNCATED);
        CHECK_MSG(strstr(bs_last_error(), "tensor info 17 ('blk.1.attn_output.weight')"), "%s",
                  bs_last_error());
    }
    free(tiny);
    truncation_sweep(test_path(BS_SHARED_DIR, "models/stories260K/stories260K.gguf"), 4093);
    spec s;
    minimal(&s);
    with_spm_tokenizer(&s);
    size_t n;
    uint8_t *p = build(&s, &n);
    for (size_t cut = 0; cut < n; cut++)
        CHECK_MSG(import_bytes(p, cut, NULL) != BS_OK &&
                  strncmp(bs_last_error(), "gguf: ", 6) == 0, "cut %zu: %s", cut, bs_last_error());
    CHECK_OK(import_bytes(p, n, NULL));
    free(p);
}

/* Random byte changes in the header region: any status, never a crash, and
   a message whenever it fails. Deterministic (xorshift); BS_FUZZ_ITERS sets
   the number of rounds (default 2000). */
static void test_corruption(void) {
    size_t n;
    uint8_t *orig = slurp(test_path(BS_TEST_DATA, "gguf/tiny_llama.gguf"), &n);
    CHECK(orig != NULL);
    if (!orig) return;
    uint8_t *p = malloc(n);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int failures = 0, silent = 0;
    const size_t region = 7400;  /* header + a little data */
    const char *env = getenv("BS_FUZZ_ITERS");  /* longer runs by hand */
    int iters = env ? atoi(env) : 2000;
    for (int iter = 0; iter < iters; iter++) {
        memcpy(p, orig, n);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % region);
            /* mostly small changes; sometimes a byte that makes counts huge */
            p[at] = (uint8_t)(iter % 3 == 0 ? 0xff : p[at] ^ (1u << (x >> 40) % 8));
        }
        bs_status st = import_bytes(p, n, NULL);
        if (st != BS_OK) {
            failures++;
            if (!bs_last_error()[0]) silent++;
        }
    }
    CHECK_EQ_INT(silent, 0);
    CHECK(failures > 100);  /* the flips did reach the parser */
    free(p);
    free(orig);
}

int main(void) {
    RUN(test_minimal_ok);
    RUN(test_header_errors);
    RUN(test_metadata_errors);
    RUN(test_tensor_errors);
    RUN(test_model_errors);
    RUN(test_truncations);
    RUN(test_corruption);
    return test_summary();
}
