/* tok_pretok.c - the pre-tokenizer regexes of byte-level BPE, written out
 * by hand (no regex engine). Each function returns the length of the match
 * that Oniguruma (the engine of Hugging Face tokenizers) finds at the start
 * of s[0..n): alternatives are tried left to right, quantifiers are greedy
 * and backtrack. Every character matches some alternative, so the matches
 * tile the text. Classes: see unicode.h; invalid UTF-8 bytes are "other".
 *
 * GPT-2:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * Llama 3:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *    ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 */
#include "tok_internal.h"
#include "unicode.h"

/* Class and length of the character at s[0..n). */
static bs_uclass char_at(const uint8_t *s, size_t n, size_t *len) {
    if (s[0] < 0x80) {
        *len = 1;
        return bs_unicode_class(s[0]);
    }
    int32_t cp;
    *len = bs_utf8_decode(s, n, &cp);
    return bs_unicode_class(cp);
}

/* End of the run of class c starting at i. */
static size_t run_end(const uint8_t *s, size_t n, size_t i, bs_uclass c) {
    while (i < n) {
        size_t l;
        if (char_at(s + i, n - i, &l) != c) break;
        i += l;
    }
    return i;
}

/* 's 't 're 've 'm 'll 'd; fold: also upper case (Llama 3's (?i:...)). */
static size_t contraction(const uint8_t *s, size_t n, int fold) {
    if (n < 2 || s[0] != '\'') return 0;
    uint8_t a = s[1], b = n >= 3 ? s[2] : 0;
    if (fold) {
        if (a >= 'A' && a <= 'Z') a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z') b = (uint8_t)(b + 32);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at a whitespace character: the whole run if it ends the
   text, else all but its last character (which then joins the next word
   through " ?..."), but at least one character. */
static size_t space_run(const uint8_t *s, size_t n) {
    size_t i = 0, last = 0;
    while (i < n) {
        size_t l;
        if (char_at(s + i, n - i, &l) != BS_UCLASS_SPACE) break;
        last = i;
        i += l;
    }
    if (i == n || last == 0) return i;
    return last;
}

size_t bs_pretok_gpt2(const uint8_t *s, size_t n) {
    size_t m = contraction(s, n, 0);
    if (m) return m;
    size_t j = s[0] == ' ' ? 1 : 0, l;
    if (j < n) {
        bs_uclass c = char_at(s + j, n - j, &l);
        if (c != BS_UCLASS_SPACE) return run_end(s, n, j + l, c);
    }
    return space_run(s, n);
}

static int is_crlf(uint8_t c) { return c == '\r' || c == '\n'; }

size_t bs_pretok_llama3(const uint8_t *s, size_t n) {
    size_t m = contraction(s, n, 1), l0, l;
    if (m) return m;
    bs_uclass c0 = char_at(s, n, &l0);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c0 == BS_UCLASS_LETTER) return run_end(s, n, l0, BS_UCLASS_LETTER);
    if (c0 != BS_UCLASS_NUMBER && !is_crlf(s[0]) && l0 < n &&
        char_at(s + l0, n - l0, &l) == BS_UCLASS_LETTER)
        return run_end(s, n, l0 + l, BS_UCLASS_LETTER);
    /* \p{N}{1,3} */
    if (c0 == BS_UCLASS_NUMBER) {
        size_t i = l0;
        for (int k = 1; k < 3 && i < n && char_at(s + i, n - i, &l) == BS_UCLASS_NUMBER; k++)
            i += l;
        return i;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t j = s[0] == ' ' ? 1 : 0;
    if (j < n && char_at(s + j, n - j, &l) == BS_UCLASS_OTHER) {
        size_t i = run_end(s, n, j + l, BS_UCLASS_OTHER);
        while (i < n && is_crlf(s[i])) i++;
        return i;
    }
    /* \s*[\r\n]+ : up to the last CR/LF of the whitespace run. */
    size_t i = 0, end = 0;
    while (i < n) {
        if (char_at(s + i, n - i, &l) != BS_UCLASS_SPACE) break;
        if (is_crlf(s[i])) end = i + 1;
        i += l;
    }
    if (end) return end;
    return space_run(s, n);
}
