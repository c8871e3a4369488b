/* tok_bpe.c - byte-level BPE encoding (GPT-2 style), as Hugging Face
 * tokenizers does for a BPE model behind a ByteLevel pre-tokenizer:
 *   split the text into words (tok_pretok.c: the GPT-2 regex, SmolLM's
 *     "every digit alone" first, or the Llama 3 regex);
 *   map each byte of a word to one token (the vocabulary holds the 256
 *     GPT-2 byte characters, "Ġ" = U+0120 for the space byte);
 *   merge pairs by rank, lowest first, leftmost on ties (tok_merge.c).
 */
#include "tok_internal.h"
#include "unicode.h"

#include <string.h>

/* GPT-2 prints the bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF as
   themselves and moves the other 68 bytes (controls, space, DEL, NBSP,
   soft hyphen), in byte order, to U+0100..U+0143. */
static int bpe_printable(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

uint32_t bs_bpe_byte_to_cp(uint8_t b) {
    if (bpe_printable(b)) return b;
    if (b <= 32) return 256u + b;            /* 33 bytes: 0..32     */
    if (b <= 160) return 256u + 33 + (b - 127u); /* 34 bytes: 127..160 */
    return 256u + 67;                          /* 173                */
}

int bs_bpe_cp_to_byte(int32_t cp) {
    if (cp < 0) return -1;
    if (cp < 256) return bpe_printable((unsigned)cp) ? cp : -1;
    if (cp < 256 + 33) return cp - 256;
    if (cp < 256 + 67) return cp - 256 - 33 + 127;
    if (cp == 256 + 67) return 173;
    return -1;
}

/* With ignore_merges (Llama 3), a word that is a token is that token. */
static int32_t whole_word(const bs_tokenizer *t, bs_tok_ws *ws, const uint8_t *w, size_t n) {
    char *p = ws->buf;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += bs_utf8_encode(bs_bpe_byte_to_cp(w[i]), p + m);
    int32_t id = bs_tok_lookup(t, p, m);
    return id >= 0 && t->tok[id].type == BS_TOKTYPE_NORMAL ? id : -1;
}

/* One id per byte at most (fewer after merges), as the cache requires. */
static bs_status encode_word(const bs_tokenizer *t, bs_tok_ws *ws, const char *word, size_t n,
                             bs_tok_out *out) {
    const uint8_t *w = (const uint8_t *)word;
    BS_TRY(bs_tok_ws_reserve(ws, n, t->ignore_merges ? 2 * n : 0));
    if (t->ignore_merges) {
        int32_t id = whole_word(t, ws, w, n);
        if (id >= 0) {
            bs_tok_emit(out, id);
            return BS_OK;
        }
    }
    bs_tok_sym *sym = ws->sym;
    for (size_t i = 0; i < n; i++) {
        sym[i].start = (uint32_t)i;
        sym[i].len = 1;
        sym[i].id = t->byte_id[w[i]];
        sym[i].prev = (int32_t)i - 1;
        sym[i].next = (int32_t)i + 1;
    }
    sym[n - 1].next = -1;
    BS_TRY(bs_tok_merge(t, ws, (const char *)w, (int32_t)n, 1));
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        /* A byte without its token (a broken vocabulary): unknown token,
           or nothing, as Hugging Face does. */
        int32_t id = sym[i].id >= 0 ? sym[i].id : t->unk;
        if (id >= 0) bs_tok_emit(out, id);
    }
    return BS_OK;
}

/* Runs a regex pre-tokenizer over s[0..n) and encodes each word. */
static bs_status encode_words(const bs_tokenizer *t, bs_tok_ws *ws, const uint8_t *s, size_t n,
                              size_t (*next)(const uint8_t *, size_t), bs_tok_out *out) {
    for (size_t i = 0; i < n;) {
        size_t m = next(s + i, n - i);
        BS_TRY(bs_tok_encode_cached(t, ws, (const char *)s + i, m, encode_word, out));
        i += m;
    }
    return BS_OK;
}

bs_status bs_tok_encode_bpe(const bs_tokenizer *t, bs_tok_ws *ws, const char *text, size_t len,
                            bs_tok_out *out) {
    const uint8_t *s = (const uint8_t *)text;
    if (len > (size_t)INT32_MAX / 2)
        return bs_fail(BS_ERR_RANGE, "tokenize: text fragment of %zu bytes is too long", len);
    switch (t->pretok) {
    case BS_PRETOK_LLAMA3:
        return encode_words(t, ws, s, len, bs_pretok_llama3, out);
    case BS_PRETOK_SMOLLM:
        /* Digits(individual_digits) splits first: every \p{N} character is
           a word alone, and the regex runs on the text between them (its
           lookahead sees the end of that piece, not the digit). */
        for (size_t i = 0; i < len;) {
            int32_t cp;
            size_t cl = bs_utf8_decode(s + i, len - i, &cp);
            if (bs_unicode_class(cp) == BS_UCLASS_NUMBER) {
                BS_TRY(bs_tok_encode_cached(t, ws, (const char *)s + i, cl, encode_word, out));
                i += cl;
                continue;
            }
            size_t j = i + cl;
            while (j < len) {
                cl = bs_utf8_decode(s + j, len - j, &cp);
                if (bs_unicode_class(cp) == BS_UCLASS_NUMBER) break;
                j += cl;
            }
            BS_TRY(encode_words(t, ws, s + i, j - i, bs_pretok_gpt2, out));
            i = j;
        }
        return BS_OK;
    case BS_PRETOK_GPT2:
    default:
        return encode_words(t, ws, s, len, bs_pretok_gpt2, out);
    }
}
