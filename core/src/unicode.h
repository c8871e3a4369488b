/* unicode.h - UTF-8 decoding and the Unicode classes pre-tokenizers need.
 *
 * The class table is generated from Python's unicodedata by
 * scripts/fixtures/gen_unicode_tables.py (see unicode_tables.h). */
#ifndef BS_UNICODE_H
#define BS_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* The character classes of the regexes of GPT-2 / Llama 3 style
   pre-tokenizers. Invalid UTF-8 bytes count as BS_UCLASS_OTHER. */
typedef enum bs_uclass {
    BS_UCLASS_OTHER = 0,
    BS_UCLASS_LETTER = 1,   /* \p{L}: Lu Ll Lt Lm Lo                     */
    BS_UCLASS_NUMBER = 2,   /* \p{N}: Nd Nl No                           */
    BS_UCLASS_SPACE = 3     /* \s: U+0009..U+000D, U+0085, Zs Zl Zp      */
} bs_uclass;

typedef struct bs_urange {
    uint32_t lo, hi;        /* inclusive code point range                */
    uint32_t cls;           /* bs_uclass                                 */
} bs_urange;

/* Decodes one UTF-8 character at s[0..n) (n >= 1). Returns its length in
   bytes (1..4) and stores the code point in *cp; on an invalid or
   truncated sequence (overlong forms, surrogates, > U+10FFFF) returns 1 and
   stores -1, so callers treat the byte alone. */
size_t bs_utf8_decode(const uint8_t *s, size_t n, int32_t *cp);

/* Length of the valid UTF-8 character at s[0..n), or 1 for an invalid
   byte. */
static inline size_t bs_utf8_len(const uint8_t *s, size_t n) {
    if (s[0] < 0x80) return 1;
    int32_t cp;
    return bs_utf8_decode(s, n, &cp);
}

/* Encodes cp (0..0x10FFFF, no check) into out (4 bytes); returns length. */
size_t bs_utf8_encode(uint32_t cp, char out[4]);

/* Class of a code point; cp < 0 (invalid byte) is BS_UCLASS_OTHER. */
bs_uclass bs_unicode_class(int32_t cp);

/* The Unicode version of the class table ("14.0.0"). */
const char *bs_unicode_version(void);

#endif
