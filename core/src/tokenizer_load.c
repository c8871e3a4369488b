/* tokenizer_load.c - the llama2.c tokenizer.bin loader.
 *
 * Format (little-endian, written by llama2.c's tokenizer.py from a
 * SentencePiece model):
 *   i32 max_token_length             longest piece in bytes
 *   vocab_size times:
 *     f32 score                      merge priority, higher first
 *     i32 len                        0 < len <= max_token_length
 *     len bytes                      the piece, with "▁" written as ' ',
 *                                    BOS as "\n<s>\n", EOS as "\n</s>\n",
 *                                    byte tokens as "<0xAB>"
 * The vocabulary size is not stored; it comes from the model header.
 * Ids: 0 <unk>, 1 <s> (BOS), 2 </s> (EOS), then the 256 byte tokens.
 */
#include "tok_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* tokenizer.bin files are well under 1 MiB; anything this large is not
   one, and reading it whole would only waste memory. */
#define LLAMA2C_MAX_FILE (64u << 20)
#define LLAMA2C_MAX_PIECE 4096

static int is_byte_piece(const uint8_t *p, int32_t n) {
    if (n != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return 0;
    for (int i = 3; i < 5; i++) {
        uint8_t c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return 1;
}

/* Walks the token records; with t NULL it only counts and validates. */
static bs_status parse_tokens(bs_cursor *c, int32_t max_len, int32_t n, bs_tokenizer *t,
                              int32_t *count, char *text) {
    const char *name = c->r->name;
    int32_t i = 0;
    for (; n < 0 ? c->pos < c->r->size : i < n; i++) {
        if (i >= (1 << 24))
            return bs_fail(BS_ERR_FORMAT, "%s: more than 2^24 tokens (not a tokenizer file?)", name);
        float score;
        int32_t len;
        uint8_t piece[LLAMA2C_MAX_PIECE];
        bs_status st = bs_cursor_f32(c, &score);
        if (st == BS_OK) st = bs_cursor_i32(c, &len);
        if (st != BS_OK)
            return bs_fail(st, "%s: truncated at token %d (vocabulary size mismatch?)", name, i);
        if (len <= 0 || len > max_len)
            return bs_fail(BS_ERR_FORMAT, "%s: token %d has length %d (max_token_length %d)", name,
                           i, len, max_len);
        if (!isfinite(score))
            return bs_fail(BS_ERR_FORMAT, "%s: token %d has a non-finite score", name, i);
        if (bs_cursor_read(c, piece, (size_t)len) != BS_OK)
            return bs_fail(BS_ERR_TRUNCATED, "%s: truncated in the text of token %d", name, i);
        if (!t) continue;
        int32_t type = BS_TOKTYPE_NORMAL;
        const uint8_t *p = piece;
        int32_t plen = len;
        if (i == 0) {
            type = BS_TOKTYPE_UNKNOWN;
        } else if (i == 1 || i == 2) {
            type = BS_TOKTYPE_CONTROL;
            /* "\n<s>\n" was only for printing; the piece is "<s>". */
            while (plen > 0 && p[0] == '\n') p++, plen--;
            while (plen > 0 && p[plen - 1] == '\n') plen--;
        } else if (is_byte_piece(p, plen)) {
            type = BS_TOKTYPE_BYTE;
        }
        size_t m = 0;
        if (type == BS_TOKTYPE_NORMAL) {
            /* tokenizer.py replaced every "▁" with ' '; undo it. */
            for (int32_t k = 0; k < plen; k++) {
                if (p[k] == ' ') {
                    memcpy(text + m, "\xE2\x96\x81", 3);
                    m += 3;
                } else {
                    text[m++] = (char)p[k];
                }
            }
        } else {
            memcpy(text, p, (size_t)plen);
            m = (size_t)plen;
        }
        if (m == 0)
            return bs_fail(BS_ERR_FORMAT, "%s: token %d is empty", name, i);
        BS_TRY(bs_tokenizer_set_token(t, i, text, m, score, type));
    }
    if (c->pos != c->r->size)
        return bs_fail(BS_ERR_FORMAT,
                       "%s: %llu bytes left after %d tokens (vocabulary size mismatch?)", name,
                       (unsigned long long)(c->r->size - c->pos), n);
    *count = i;
    return BS_OK;
}

static bs_status load_from_memory(bs_reader *mem, int32_t vocab_size, bs_tokenizer **out) {
    const char *name = mem->name;
    bs_cursor c = {mem, 0};
    int32_t max_len;
    if (bs_cursor_i32(&c, &max_len) != BS_OK)
        return bs_fail(BS_ERR_TRUNCATED, "%s: too short for a llama2.c tokenizer", name);
    if (max_len < 1 || max_len > LLAMA2C_MAX_PIECE)
        return bs_fail(BS_ERR_FORMAT, "%s: max_token_length %d out of range [1, %d] "
                       "(not a llama2.c tokenizer?)", name, max_len, LLAMA2C_MAX_PIECE);
    int32_t n = vocab_size;
    if (n == 0) {
        /* No model header: the file has as many tokens as it holds. */
        BS_TRY(parse_tokens(&c, max_len, -1, NULL, &n, NULL));
        if (n == 0) return bs_fail(BS_ERR_FORMAT, "%s: no tokens", name);
        c.pos = 4;
    } else if ((mem->size - 4) / 9 < (uint64_t)n) {
        /* Each token takes at least 9 bytes: reject absurd sizes before
           allocating for them. */
        return bs_fail(BS_ERR_TRUNCATED, "%s: %llu bytes cannot hold %d tokens "
                       "(vocabulary size mismatch?)", name, (unsigned long long)mem->size, n);
    }
    char *text = bs_malloc(3 * (size_t)max_len, 1);
    if (!text) return BS_ERR_NOMEM;
    bs_tokenizer *t = NULL;
    int32_t count = 0;
    bs_status st = bs_tokenizer_create(BS_TOKENIZER_SPM, n, &t);
    if (st == BS_OK) st = parse_tokens(&c, max_len, n, t, &count, text);
    free(text);
    if (st == BS_OK) {
        bs_tokenizer_set_bos_eos(t, n > 1 ? 1 : -1, n > 2 ? 2 : -1);
        st = bs_tokenizer_finalize(t);
    }
    if (st != BS_OK) {
        bs_tokenizer_free(t);
        return st;
    }
    *out = t;
    return BS_OK;
}

bs_status bs_tokenizer_load_llama2c(bs_reader *r, int32_t vocab_size, bs_tokenizer **out) {
    if (out) *out = NULL;
    if (!r || !out) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    const char *name = r->name ? r->name : "tokenizer";
    if (vocab_size < 0 || vocab_size > (1 << 24))
        return bs_fail(BS_ERR_RANGE, "%s: vocabulary size %d out of range", name, vocab_size);
    if (r->size > LLAMA2C_MAX_FILE)
        return bs_fail(BS_ERR_FORMAT, "%s: %llu bytes is too large for a llama2.c tokenizer",
                       name, (unsigned long long)r->size);
    if (r->data) return load_from_memory(r, vocab_size, out);
    /* Small file: read it whole rather than seeking per field. */
    uint8_t *buf = bs_malloc((size_t)r->size, 1);
    if (!buf) return BS_ERR_NOMEM;
    bs_status st = bs_reader_read(r, 0, buf, (size_t)r->size);
    if (st == BS_OK) {
        bs_reader mem;
        bs_reader_from_memory(&mem, buf, (size_t)r->size, name);
        st = load_from_memory(&mem, vocab_size, out);
    }
    free(buf);
    return st;
}
