/* fuzz_tokenizer.c - encoding arbitrary bytes and decoding arbitrary ids
 * with every kind of tokenizer the core has, built once from real files:
 *
 *   0  SentencePiece BPE, llama2.c tok512.bin (stories260K), byte fallback
 *   1  the same vocabulary without the dummy-prefix space
 *   2  SentencePiece BPE from a Hugging Face tokenizer.json (tok512)
 *   3  byte-level BPE, SmolLM2 tokenizer.json (digits split, GPT-2 regex)
 *   4  the same vocabulary and merges with the GPT-2 pre-tokenizer
 *   5  ... with the Llama 3 pre-tokenizer and ignore_merges
 *
 * Input: a selector byte (tokenizer = byte % 6, bit 6: BS_TOKENIZE_BOS,
 * bit 7: BS_TOKENIZE_SPECIAL), then the text. The same bytes read as
 * little-endian i32 are then decoded as token ids, each after the previous.
 * Checked: measuring (cap 0) and encoding agree; every id is in range;
 * byte-level BPE gives back exactly the bytes it encoded when its
 * vocabulary has a token for each of them (SmolLM2's lacks some bytes that
 * never occur in UTF-8, 0xF5..0xFF; those are dropped, as Hugging Face
 * does). */
#include "fuzz.h"

#include "tok_internal.h"
#include "unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BS_SOURCE_DIR
#error "BS_SOURCE_DIR must name the repository"
#endif

#define N_TOK 6
#define MAX_TEXT 4096
static bs_tokenizer *toks[N_TOK];
static uint8_t bpe_has_byte[N_TOK][256]; /* byte-level BPE: the byte's token exists */

static void die(const char *what) {
    fprintf(stderr, "fuzz_tokenizer: cannot build %s: %s\n", what, bs_last_error());
    abort(); /* a harness without its tokenizers would test nothing */
}

static bs_tokenizer *load_bin(const char *path) {
    bs_reader r;
    bs_tokenizer *t = NULL;
    if (bs_reader_open_file(&r, path) != BS_OK || bs_tokenizer_load_llama2c(&r, 512, &t) != BS_OK) die(path);
    bs_reader_close(&r);
    return t;
}

static bs_tokenizer *load_json(const char *path) {
    char *text = NULL;
    size_t len = 0;
    bs_tokenizer *t = NULL;
    if (bs_read_file(path, &text, &len) != BS_OK || bs_tokenizer_load_hf_json(text, len, &t) != BS_OK) die(path);
    free(text);
    return t;
}

/* A copy of src's vocabulary and merges with other settings. */
static bs_tokenizer *clone(const bs_tokenizer *src, int pretok, int ignore_merges, int space_prefix) {
    int32_t n = bs_tokenizer_n_vocab(src);
    bs_tokenizer *t = NULL;
    if (bs_tokenizer_create(bs_tokenizer_get_kind(src), n, &t) != BS_OK) die("a copy");
    for (int32_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        float score;
        int32_t type;
        if (bs_tokenizer_get_token(src, i, &p, &len, &score, &type) != BS_OK ||
            bs_tokenizer_set_token(t, i, p, len, score, type) != BS_OK)
            die("a copied token");
    }
    for (int32_t i = 0; i < bs_tokenizer_n_merges(src); i++) {
        const char *a, *b;
        size_t al, bl;
        if (bs_tokenizer_get_merge(src, i, &a, &al, &b, &bl) != BS_OK || bs_tokenizer_add_merge(t, a, al, b, bl) != BS_OK)
            die("a copied merge");
    }
    bs_tokenizer_set_bos_eos(t, bs_tokenizer_bos(src), bs_tokenizer_eos(src));
    if (pretok >= 0) bs_tokenizer_set_pretok(t, (bs_pretok)pretok);
    bs_tokenizer_set_ignore_merges(t, ignore_merges);
    bs_tokenizer_set_add_space_prefix(t, space_prefix);
    if (bs_tokenizer_finalize(t) != BS_OK) die("a copy (finalize)");
    return t;
}

static void build_all(void) {
    toks[0] = load_bin(BS_SOURCE_DIR "/models/stories260K/tok512.bin");
    toks[1] = clone(toks[0], -1, 0, 0);
    toks[2] = load_json(BS_SOURCE_DIR "/tests/data/tokenizer/tok512_hf_first.json");
    toks[3] = load_json(BS_SOURCE_DIR "/tests/data/tokenizer/smollm2_tokenizer.json");
    toks[4] = clone(toks[3], BS_PRETOK_GPT2, 0, 0);
    toks[5] = clone(toks[3], BS_PRETOK_LLAMA3, 1, 0);
    for (int i = 0; i < N_TOK; i++)
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t n = bs_utf8_encode(bs_bpe_byte_to_cp((uint8_t)b), u);
            bpe_has_byte[i][b] = bs_tokenizer_find(toks[i], u, n) >= 0;
        }
}

static int all_bytes_known(int tok, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!bpe_has_byte[tok][s[i]]) return 0;
    return 1;
}

static void free_all(void) {
    for (int i = 0; i < N_TOK; i++) bs_tokenizer_free(toks[i]);
}

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        abort();
    }
}

/* Encodes text, checks the ids, decodes them back into out (cap bytes);
   returns the decoded length, or -1 when encoding refused. */
static long encode_decode(const bs_tokenizer *t, const char *text, size_t len, uint32_t flags, char *out, size_t cap) {
    int32_t need = 0;
    bs_status st = bs_tokenizer_encode(t, text, len, flags, NULL, 0, &need);
    if (st != BS_OK && st != BS_ERR_RANGE) return -1;
    int32_t *ids = malloc((size_t)(need ? need : 1) * sizeof *ids), n = 0;
    check(ids != NULL, "out of memory");
    check(bs_tokenizer_encode(t, text, len, flags, ids, need, &n) == BS_OK && n == need,
          "measuring and encoding disagree");
    int32_t nv = bs_tokenizer_n_vocab(t);
    size_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        check(ids[i] >= 0 && ids[i] < nv, "an id out of range");
        char piece[256];
        size_t pl = 0;
        check(bs_tokenizer_decode(t, i ? ids[i - 1] : -1, ids[i], piece, sizeof piece, &pl) == BS_OK,
              "an encoded id does not decode");
        if (pos + pl <= cap) memcpy(out + pos, piece, pl);
        pos += pl;
    }
    free(ids);
    return (long)pos;
}

static void decode_raw_ids(const bs_tokenizer *t, const uint8_t *p, size_t size) {
    int32_t prev = -1;
    for (size_t i = 0; i + 4 <= size; i += 4) {
        int32_t id = (int32_t)((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                               (uint32_t)p[i + 3] << 24);
        /* mostly ids near the vocabulary, sometimes anything */
        if (!(p[i + 3] & 0x80)) id %= bs_tokenizer_n_vocab(t) + 2;
        char buf[256];
        size_t len = 0;
        bs_tokenizer_decode(t, prev, id, buf, sizeof buf, &len);
        bs_tokenizer_decode(t, prev, id, buf, 3, &len); /* too small a buffer */
        prev = id;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!toks[0]) {
        build_all();
        atexit(free_all);
    }
    if (size < 1) return 0;
    int which = data[0] % N_TOK;
    const bs_tokenizer *t = toks[which];
    uint32_t flags = (data[0] & 0x40 ? BS_TOKENIZE_BOS : 0) | (data[0] & 0x80 ? BS_TOKENIZE_SPECIAL : 0);
    const char *text = (const char *)data + 1;
    size_t len = size - 1 > MAX_TEXT ? MAX_TEXT : size - 1;
    static char out[MAX_TEXT * 4];
    long n = encode_decode(t, text, len, flags, out, sizeof out);
    /* byte-level BPE maps every byte to a symbol: the round trip is exact */
    if (bs_tokenizer_get_kind(t) == BS_TOKENIZER_BPE && flags == 0 && all_bytes_known(which, data + 1, len))
        check(n == (long)len && memcmp(out, text, len) == 0, "byte-level BPE round trip differs");
    decode_raw_ids(t, data + 1, len);
    return 0;
}
