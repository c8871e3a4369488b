/* tok_spm.c - SentencePiece BPE encoding, as the sentencepiece library
 * encodes with Llama 2's tokenizer.model:
 *   normalize: identity, every ' ' becomes U+2581 "▁", and a dummy "▁" is
 *     prepended (add_space_prefix);
 *   segment: one symbol per UTF-8 character (an invalid byte is a symbol of
 *     its own; sentencepiece would turn it into U+FFFD, we keep the byte so
 *     that decoding gives the input back);
 *   merge: best pair first (tok_merge.c) over the whole text, as
 *     sentencepiece does (it does not split BPE input on whitespace, and
 *     Llama's vocabulary has pieces like "▁▁▁" for runs of spaces). When
 *     the vocabulary shows that no merge can cross the start of a "▁" run
 *     (see spm_word_safe), the text is cut there into words, which merge
 *     alone and go through the word cache: same tokens, 30x faster;
 *   output: a symbol that is no piece becomes its bytes as <0xXX> tokens
 *     (byte fallback), or the unknown token when there are none.
 */
#include "tok_internal.h"
#include "unicode.h"

#include <string.h>

/* Emits the bytes of a symbol that is no piece. */
static void fallback(const bs_tokenizer *t, const uint8_t *s, size_t n, bs_tok_out *out) {
    int has_bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (t->byte_id[s[i]] >= 0) has_bytes = 1;
    if (!has_bytes) {
        /* No byte fallback: one unknown token per symbol (or nothing, as
           Hugging Face does when there is no unknown token either). */
        if (t->unk >= 0) bs_tok_emit(out, t->unk);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[s[i]];
        if (id < 0) id = t->unk;
        if (id >= 0) bs_tok_emit(out, id);
    }
}

static int is_meta(const char *p) {
    return p[0] == '\xE2' && p[1] == '\x96' && p[2] == '\x81';
}

/* Segments buf[0..n) into characters, merges, emits. */
static bs_status encode_span(const bs_tokenizer *t, bs_tok_ws *ws, const char *buf, size_t n,
                             bs_tok_out *out) {
    /* Emits at most one id per byte, as bs_tok_encode_cached requires. */
    bs_tok_sym *sym = ws->sym;
    int32_t k = 0;
    for (size_t i = 0; i < n; k++) {
        size_t cl = bs_utf8_len((const uint8_t *)buf + i, n - i);
        int32_t id = bs_tok_lookup(t, buf + i, cl);
        sym[k].start = (uint32_t)i;
        sym[k].len = (uint32_t)cl;
        sym[k].id = id >= 0 && bs_tok_mergeable(t->tok[id].type) ? id : -1;
        sym[k].prev = k - 1;
        sym[k].next = k + 1;
        i += cl;
    }
    if (k == 0) return BS_OK;
    sym[k - 1].next = -1;
    BS_TRY(bs_tok_merge(t, ws, buf, k, t->mhash != NULL));
    for (int32_t i = 0; i >= 0; i = sym[i].next) {
        if (sym[i].id >= 0)
            bs_tok_emit(out, sym[i].id);
        else
            fallback(t, (const uint8_t *)buf + sym[i].start, sym[i].len, out);
    }
    return BS_OK;
}

bs_status bs_tok_encode_spm(const bs_tokenizer *t, bs_tok_ws *ws, const char *text,
                            size_t len, int prefix, bs_tok_out *out) {
    /* The normalized text is at most 3 * len + 3 bytes; symbol indices are
       int32. */
    if (len > (size_t)(INT32_MAX / 3 - 1))
        return bs_fail(BS_ERR_RANGE, "tokenize: text fragment of %zu bytes is too long", len);
    BS_TRY(bs_tok_ws_reserve(ws, len + 1, 3 * len + 3));
    char *buf = ws->buf;
    size_t n = 0;
    if (prefix && t->prefix_unless_space &&
        (text[0] == ' ' || (len >= 3 && memcmp(text, "\xE2\x96\x81", 3) == 0)))
        prefix = 0;
    if (prefix) {
        memcpy(buf, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            buf[n++] = text[i];
        }
    }
    /* Words merged on their own: with Metaspace split=true every "▁"
       starts one; else, when no piece has a "▁" after another character
       (t->spm_word_safe, true of Llama's vocabularies), no merge can cross
       the start of a "▁" run, so splitting there gives the very same
       tokens with small, cache-resident heaps. */
    int split = t->split_words || t->spm_word_safe;
    size_t start = 0;
    while (start < n) {
        size_t end = n;
        if (split)
            for (size_t i = start + 1; i + 3 <= n; i++)
                if (is_meta(buf + i) && (t->split_words || !(i >= 3 && is_meta(buf + i - 3)))) {
                    end = i;
                    break;
                }
        /* Only words are worth caching; a whole unsplit text is not. */
        if (split)
            BS_TRY(bs_tok_encode_cached(t, ws, buf + start, end - start, encode_span, out));
        else
            BS_TRY(encode_span(t, ws, buf + start, end - start, out));
        start = end;
    }
    return BS_OK;
}
