/* test_tokenizer_input.c - the tokenizer loaders and API on bad input:
 * truncated and corrupted tokenizer.bin files, malformed or unsupported
 * tokenizer.json, misuse of the API. Every case must give a clear error
 * status and message and never crash (run it under ASan + UBSan too). */
#include "test.h"
#include "tok_internal.h"

#include <math.h>
#include <stdint.h>

#define FIX(name) test_path(BS_TEST_DATA, "tokenizer/" name)
#define SHARED(name) test_path(BS_SHARED_DIR, name)

/* Small deterministic generator for the mutation loops. */
static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bs_status load_bin_mem(const void *data, size_t n, int32_t vocab, bs_tokenizer **t) {
    bs_reader r;
    bs_reader_from_memory(&r, data, n, "tok.bin");
    bs_clear_error();
    bs_status st = bs_tokenizer_load_llama2c(&r, vocab, t);
    if (st != BS_OK) CHECK_MSG(bs_last_error()[0] != 0, "no error message for %s", bs_status_name(st));
    return st;
}

/* Exercises a loaded tokenizer a little, so that a corrupt one that loads
   still gets used under the sanitizers. */
static void poke(const bs_tokenizer *t) {
    const char *s = "Hello world, \xE4\xB8\xAD\xE6\x96\x87 <s> 123 \xFF";
    int32_t ids[256], n = 0;
    bs_status st = bs_tokenizer_encode(t, s, strlen(s), BS_TOKENIZE_BOS | BS_TOKENIZE_SPECIAL, ids, 256, &n);
    CHECK(st == BS_OK || st == BS_ERR_RANGE);
    char buf[256];
    for (int32_t i = 0; i < n && i < 256; i++) {
        size_t len;
        bs_status d = bs_tokenizer_decode(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf, &len);
        CHECK(d == BS_OK || d == BS_ERR_RANGE);
    }
}

static void set_i32(uint8_t *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i));
}

/* Offset of token i's record (score) in a tokenizer.bin image. */
static size_t token_offset(const uint8_t *d, int32_t i) {
    size_t off = 4;
    for (int32_t k = 0; k < i; k++) {
        int32_t len = (int32_t)((uint32_t)d[off + 4] | (uint32_t)d[off + 5] << 8 |
                                (uint32_t)d[off + 6] << 16 | (uint32_t)d[off + 7] << 24);
        off += 8 + (size_t)len;
    }
    return off;
}

static void test_llama2c_bad(void) {
    char *file = NULL;
    size_t size = 0;
    if (bs_read_file(SHARED("models/stories260K/tok512.bin"), &file, &size) != BS_OK) {
        CHECK_MSG(0, "no tok512.bin: %s", bs_last_error());
        return;
    }
    uint8_t *d = malloc(size);
    bs_tokenizer *t = NULL;
    memcpy(d, file, size);
    CHECK_OK(load_bin_mem(d, size, 512, &t));
    bs_tokenizer_free(t);

    /* Every truncation fails with 512 tokens expected; counting mode may
       accept a cut between records, with fewer tokens. */
    int bad_status = 0;
    for (size_t n = 0; n < size; n++) {
        t = NULL;
        bs_status st = load_bin_mem(d, n, 512, &t);
        if (!(st == BS_ERR_TRUNCATED || st == BS_ERR_FORMAT) || t) bad_status++;
        bs_tokenizer_free(t);
        t = NULL;
        st = load_bin_mem(d, n, 0, &t);
        if (st == BS_OK) {
            CHECK(bs_tokenizer_n_vocab(t) < 512);
            poke(t);
        }
        bs_tokenizer_free(t);
    }
    CHECK_EQ_INT(bad_status, 0);
    CHECK_STATUS(load_bin_mem(d, 0, 512, &t), BS_ERR_TRUNCATED);

    /* Vocabulary size mismatches. */
    CHECK_STATUS(load_bin_mem(d, size, 513, &t), BS_ERR_TRUNCATED);
    CHECK_STATUS(load_bin_mem(d, size, 511, &t), BS_ERR_FORMAT);
    CHECK(strstr(bs_last_error(), "mismatch") != NULL);
    CHECK_STATUS(load_bin_mem(d, size, 32000, &t), BS_ERR_TRUNCATED);
    CHECK_STATUS(load_bin_mem(d, size, -1, &t), BS_ERR_RANGE);
    CHECK_STATUS(load_bin_mem(d, size, INT32_MAX, &t), BS_ERR_RANGE);
    CHECK(t == NULL);

    /* Absurd max_token_length. */
    int32_t bad_max[] = {0, -1, INT32_MIN, 1 << 30, 4097};
    for (size_t i = 0; i < sizeof bad_max / sizeof *bad_max; i++) {
        set_i32(d, bad_max[i]);
        CHECK_STATUS(load_bin_mem(d, size, 512, &t), BS_ERR_FORMAT);
    }
    memcpy(d, file, size);
    /* A piece longer than max_token_length breaks llama2.c's fixed buffers. */
    set_i32(d, 3);
    CHECK_STATUS(load_bin_mem(d, size, 512, &t), BS_ERR_FORMAT);
    memcpy(d, file, size);

    /* Absurd token lengths. */
    size_t off = token_offset(d, 300);
    int32_t bad_len[] = {0, -1, INT32_MIN, INT32_MAX, 1 << 30, 8};
    for (size_t i = 0; i < sizeof bad_len / sizeof *bad_len; i++) {
        set_i32(d + off + 4, bad_len[i]);
        bs_status st = load_bin_mem(d, size, 512, &t);
        CHECK_MSG(st == BS_ERR_FORMAT || st == BS_ERR_TRUNCATED, "len %d: %s", bad_len[i], bs_status_name(st));
    }
    memcpy(d, file, size);
    /* Non-finite score. */
    float nan = NAN;
    memcpy(d + off, &nan, 4);
    CHECK_STATUS(load_bin_mem(d, size, 512, &t), BS_ERR_FORMAT);
    CHECK(strstr(bs_last_error(), "score") != NULL);
    memcpy(d, file, size);

    /* Random corruption: whatever loads must work. */
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int loaded = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(d, file, size);
        int flips = 1 + (int)(rng_next(&s) % 8);
        for (int k = 0; k < flips; k++) d[rng_next(&s) % size] = (uint8_t)rng_next(&s);
        t = NULL;
        if (load_bin_mem(d, size, (it & 1) ? 512 : 0, &t) == BS_OK) {
            loaded++;
            poke(t);
        }
        bs_tokenizer_free(t);
    }
    fprintf(stderr, "     corrupted tokenizer.bin: %d of 3000 still loaded (and were used)\n", loaded);
    free(d);
    free(file);
}

static bs_status load_json_str(const char *s, bs_tokenizer **t) {
    *t = NULL;
    bs_clear_error();
    bs_status st = bs_tokenizer_load_hf_json(s, strlen(s), t);
    if (st != BS_OK) CHECK_MSG(bs_last_error()[0] != 0, "no error message for %s", bs_status_name(st));
    if (st != BS_OK) CHECK(*t == NULL);
    return st;
}

/* A small byte-level tokenizer.json with the given model/pre-tokenizer
   parts spliced in. */
static char *json_doc(const char *model, const char *pre, const char *extra) {
    char *s = malloc(4096);
    snprintf(s, 4096, "{\"added_tokens\":[{\"id\":7,\"content\":\"<|e|>\",\"special\":true}],"
             "\"pre_tokenizer\":%s,%s\"model\":%s}",
             pre ? pre : "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}",
             extra ? extra : "", model);
    return s;
}

static void expect_json(const char *model, const char *pre, const char *extra, bs_status want,
                        const char *msg_part) {
    char *doc = json_doc(model, pre, extra);
    bs_tokenizer *t = NULL;
    bs_status st = load_json_str(doc, &t);
    CHECK_MSG(st == want, "%s -> %s (%s), want %s", doc, bs_status_name(st), bs_last_error(),
              bs_status_name(want));
    if (msg_part) CHECK_MSG(strstr(bs_last_error(), msg_part) != NULL, "message \"%s\" lacks \"%s\"",
                            bs_last_error(), msg_part);
    if (t) poke(t);
    bs_tokenizer_free(t);
    free(doc);
}

#define VOCAB "\"vocab\":{\"a\":0,\"b\":1,\"ab\":2}"
#define MODEL(extra) "{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"a b\"]" extra "}"

static void test_json_bad(void) {
    bs_tokenizer *t = NULL;
    const char *malformed[] = {"", "{", "[]", "null", "\"x\"", "{}", "{\"model\":3}",
                               "{\"model\":{\"type\":\"BPE\"}}", "{\"model\":{\"type\":\"BPE\",\"vocab\":[]}}",
                               "{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", "{\"model\":{\"vocab\":{\"a\":0}}} x"};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
        CHECK_MSG(load_json_str(malformed[i], &t) == BS_ERR_FORMAT, "%s: %s", malformed[i], bs_last_error());
    CHECK_STATUS(bs_tokenizer_load_hf_json(NULL, 0, &t), BS_ERR_INVALID_ARG);

    /* Supported minimal model, and its encoding. */
    char *doc = json_doc(MODEL(""), NULL, NULL);
    CHECK_OK(load_json_str(doc, &t));
    free(doc);
    if (t) {
        int32_t ids[8], n = 0;
        CHECK_OK(bs_tokenizer_encode(t, "abc<|e|>", 8, BS_TOKENIZE_SPECIAL, ids, 8, &n));
        CHECK(n == 2 && ids[0] == 2 && ids[1] == 7); /* "c" has no token: dropped, as HF does */
        bs_tokenizer_free(t);
    }

    /* Unsupported models and pipelines. */
    expect_json("{\"type\":\"WordPiece\"," VOCAB "}", NULL, NULL, BS_ERR_UNSUPPORTED, "WordPiece");
    expect_json("{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0]]}", NULL, NULL, BS_ERR_UNSUPPORTED, "Unigram");
    expect_json("{\"type\":\"WordLevel\"," VOCAB "}", NULL, NULL, BS_ERR_UNSUPPORTED, "WordLevel");
    expect_json(MODEL(",\"continuing_subword_prefix\":\"##\""), NULL, NULL, BS_ERR_UNSUPPORTED, NULL);
    expect_json(MODEL(""), "{\"type\":\"Whitespace\"}", NULL, BS_ERR_UNSUPPORTED, NULL);
    expect_json(MODEL(""), "{\"type\":\"ByteLevel\",\"add_prefix_space\":true}", NULL, BS_ERR_UNSUPPORTED,
                "add_prefix_space");
    expect_json(MODEL(""), "{\"type\":\"ByteLevel\",\"use_regex\":false}", NULL, BS_ERR_UNSUPPORTED, NULL);
    expect_json(MODEL(""), NULL, "\"normalizer\":{\"type\":\"NFKC\"},", BS_ERR_UNSUPPORTED, "NFKC");
    expect_json(MODEL(""), "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
                "{\"Regex\":\"\\\\s+\"},\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\"}]}", NULL,
                BS_ERR_UNSUPPORTED, NULL);
    expect_json(MODEL(""), "{\"type\":\"Metaspace\",\"replacement\":\"_\"}", NULL, BS_ERR_UNSUPPORTED, NULL);

    /* Malformed vocabularies and merges. */
    expect_json("{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}", NULL, NULL, BS_ERR_FORMAT, "\"a\"");
    expect_json("{\"type\":\"BPE\",\"vocab\":{\"a\":1.5},\"merges\":[]}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\",\"vocab\":{\"a\":1e12},\"merges\":[]}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\",\"vocab\":{\"a\":16000000},\"merges\":[]}", NULL, NULL, BS_ERR_FORMAT,
                "entries");
    expect_json("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}", NULL, NULL, BS_ERR_FORMAT,
                "twice");
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"ab\"]}", NULL, NULL, BS_ERR_FORMAT, "merge 0");
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"a b c\"]}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[[1,2]]}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[\" b\"]}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"a z\"]}", NULL, NULL, BS_ERR_FORMAT, "right part");
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[\"b a\"]}", NULL, NULL, BS_ERR_FORMAT, "result");
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":{}}", NULL, NULL, BS_ERR_FORMAT, NULL);
    expect_json("{\"type\":\"BPE\"," VOCAB ",\"merges\":[[\"a\",\"b\"]]}", NULL, NULL, BS_OK, NULL);
    doc = json_doc(MODEL(""), NULL, NULL);
    memcpy(strstr(doc, "\"id\":7"), "\"id\":-", 6); /* added token with a bad id */
    CHECK_STATUS(load_json_str(doc, &t), BS_ERR_FORMAT);
    free(doc);
}

static void test_json_features(void) {
    bs_tokenizer *t = NULL;
    /* Holes in the ids become empty UNUSED tokens. */
    char *doc = json_doc("{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":5},\"merges\":[]}", NULL, NULL);
    CHECK_OK(load_json_str(doc, &t));
    free(doc);
    if (t) {
        int32_t type = 0;
        size_t len = 9;
        CHECK_EQ_INT(bs_tokenizer_n_vocab(t), 8);
        CHECK_OK(bs_tokenizer_get_token(t, 2, NULL, &len, NULL, &type));
        CHECK(type == BS_TOKTYPE_UNUSED && len == 0);
        CHECK_EQ_INT(bs_tokenizer_find(t, "", 0), -1);
        bs_tokenizer_free(t);
    }
    /* ignore_merges (Llama 3): a word that is a token is taken whole. */
    const char *m = "{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"ab\":3,\"abc\":4},"
                    "\"merges\":[\"a b\"]%s}";
    for (int ignore = 0; ignore < 2; ignore++) {
        char model[256];
        snprintf(model, sizeof model, m, ignore ? ",\"ignore_merges\":true" : "");
        doc = json_doc(model, NULL, NULL);
        CHECK_OK(load_json_str(doc, &t));
        free(doc);
        int32_t ids[4], n = 0;
        if (t) CHECK_OK(bs_tokenizer_encode(t, "abc", 3, 0, ids, 4, &n));
        if (ignore) CHECK(n == 1 && ids[0] == 4);
        else CHECK(n == 2 && ids[0] == 3 && ids[1] == 2);
        bs_tokenizer_free(t);
    }
}

/* Truncated and corrupted copies of a real tokenizer.json. */
static void test_json_mutations(void) {
    char *file = NULL;
    size_t size = 0;
    if (bs_read_file(FIX("tok512_hf_legacy.json"), &file, &size) != BS_OK) {
        CHECK_MSG(0, "no tok512_hf_legacy.json");
        return;
    }
    bs_tokenizer *t = NULL;
    int not_format = 0;
    for (size_t n = 0; n < size; n += 7) {
        bs_status st = bs_tokenizer_load_hf_json(file, n, &t);
        if (st != BS_ERR_FORMAT) not_format++;
        bs_tokenizer_free(t);
    }
    CHECK_EQ_INT(not_format, 0);
    char *d = malloc(size + 1);
    uint64_t s = 12345;
    int loaded = 0;
    for (int it = 0; it < 1000; it++) {
        memcpy(d, file, size + 1);
        int flips = 1 + (int)(rng_next(&s) % 4);
        for (int k = 0; k < flips; k++) {
            static const char pool[] = "{}[]\":,0123456789 abc\\-<>";
            d[rng_next(&s) % size] = pool[rng_next(&s) % (sizeof pool - 1)];
        }
        t = NULL;
        if (bs_tokenizer_load_hf_json(d, size, &t) == BS_OK) {
            loaded++;
            poke(t);
        }
        bs_tokenizer_free(t);
    }
    fprintf(stderr, "     corrupted tokenizer.json: %d of 1000 still loaded (and were used)\n", loaded);
    free(d);
    free(file);
}

static void test_api_misuse(void) {
    bs_tokenizer *t = NULL;
    CHECK_STATUS(bs_tokenizer_create(BS_TOKENIZER_NONE, 10, &t), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_create(BS_TOKENIZER_SPM, 0, &t), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_create(BS_TOKENIZER_SPM, INT32_MAX, &t), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_create(BS_TOKENIZER_SPM, 10, NULL), BS_ERR_INVALID_ARG);
    CHECK_OK(bs_tokenizer_create(BS_TOKENIZER_SPM, 4, &t));
    CHECK_STATUS(bs_tokenizer_set_token(t, 4, "a", 1, 0, 1), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_set_token(t, -1, "a", 1, 0, 1), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_set_token(t, 0, "a", 1, 0, 7), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_set_token(t, 0, NULL, 1, 0, 1), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_add_merge(t, "", 0, "a", 1), BS_ERR_FORMAT);
    char buf[8];
    size_t len;
    CHECK_STATUS(bs_tokenizer_decode(t, -1, 0, buf, sizeof buf, &len), BS_ERR_STATE);
    const char *pieces[] = {"<unk>", "a", "b", "ab"};
    for (int32_t i = 0; i < 4; i++)
        CHECK_OK(bs_tokenizer_set_token(t, i, pieces[i], strlen(pieces[i]), 0, i ? 1 : 2));
    CHECK_OK(bs_tokenizer_add_merge(t, "a", 1, "x", 1)); /* checked at finalize */
    CHECK_STATUS(bs_tokenizer_finalize(t), BS_ERR_FORMAT);
    bs_tokenizer_free(t);
    CHECK_OK(bs_tokenizer_create(BS_TOKENIZER_SPM, 2, &t));
    CHECK_OK(bs_tokenizer_set_token(t, 0, "a", 1, 0, 1));
    CHECK_OK(bs_tokenizer_set_token(t, 1, "b", 1, 0, 1));
    CHECK_OK(bs_tokenizer_finalize(t));
    CHECK_OK(bs_tokenizer_finalize(t)); /* idempotent */
    CHECK_STATUS(bs_tokenizer_add_merge(t, "a", 1, "b", 1), BS_ERR_STATE);
    CHECK_STATUS(bs_tokenizer_get_token(t, 2, NULL, NULL, NULL, NULL), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_get_merge(t, 0, NULL, NULL, NULL, NULL), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_decode(t, -1, 2, buf, sizeof buf, &len), BS_ERR_RANGE);
    CHECK_STATUS(bs_tokenizer_decode(t, -1, 0, NULL, 4, &len), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_decode(t, 99, 0, buf, sizeof buf, &len), BS_OK); /* any prev */
    int32_t ids[2], n;
    CHECK_STATUS(bs_tokenizer_encode(t, "ab", 2, 0, NULL, 2, &n), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_encode(t, "ab", 2, 0, ids, -1, &n), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_encode(t, "ab", 2, 0, ids, 2, NULL), BS_ERR_INVALID_ARG);
    bs_tokenizer_set_bos_eos(t, 5, -3); /* out of range: none */
    CHECK(bs_tokenizer_bos(t) == -1 && bs_tokenizer_eos(t) == -1);
    CHECK_EQ_INT(bs_tokenizer_find(t, NULL, 0), -1);
    CHECK(!bs_tokenizer_is_eog(t, 5));
    bs_tokenizer_free(t);
    CHECK_EQ_INT(bs_tokenizer_n_vocab(NULL), 0);
    CHECK_EQ_INT(bs_tokenizer_bos(NULL), -1);
    CHECK_STATUS(bs_tokenizer_load_llama2c(NULL, 0, &t), BS_ERR_INVALID_ARG);
}

int main(void) {
    RUN(test_llama2c_bad);
    RUN(test_json_bad);
    RUN(test_json_features);
    RUN(test_json_mutations);
    RUN(test_api_misuse);
    return test_summary();
}
