/* test_tokenizer.c - tokenizers against golden fixtures from independent
 * references (sentencepiece, Hugging Face tokenizers, a llama2.c port; see
 * scripts/fixtures/gen_tokenizer_fixtures.py), decode round trips, hand
 * cases, and the throughput on WikiText-2 (printed, not checked).
 * Bad-input tests are in test_tokenizer_input.c. */
#include "test.h"
#include "tok_internal.h"
#include "unicode.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <time.h>

#define FIX(name) test_path(BS_TEST_DATA, "tokenizer/" name)
#define SHARED(name) test_path(BS_SHARED_DIR, name)

/* ---- helpers ---- */

static bs_tokenizer *load_bin(const char *path, int32_t vocab) {
    bs_reader r;
    bs_tokenizer *t = NULL;
    if (bs_reader_open_file(&r, path) != BS_OK) {
        CHECK_MSG(0, "cannot open %s: %s", path, bs_last_error());
        return NULL;
    }
    CHECK_OK(bs_tokenizer_load_llama2c(&r, vocab, &t));
    bs_reader_close(&r);
    return t;
}

/* Loads a tokenizer.json; pretok_file: a pre_tokenizer section to swap in. */
static bs_tokenizer *load_json(const char *path, const char *pretok_file) {
    char *text = NULL, *patched = NULL;
    size_t len = 0;
    bs_tokenizer *t = NULL;
    if (bs_read_file(path, &text, &len) != BS_OK) {
        CHECK_MSG(0, "cannot read %s: %s", path, bs_last_error());
        return NULL;
    }
    if (pretok_file) {
        char *pt = NULL;
        CHECK_OK(bs_read_file(pretok_file, &pt, NULL));
        cJSON *root = cJSON_Parse(text), *pre = pt ? cJSON_Parse(pt) : NULL;
        CHECK(root && pre);
        if (root && pre) {
            cJSON_ReplaceItemInObjectCaseSensitive(root, "pre_tokenizer", pre);
            pre = NULL;
            patched = cJSON_PrintUnformatted(root);
        }
        cJSON_Delete(root);
        cJSON_Delete(pre);
        free(pt);
        free(text);
        text = patched;
        len = text ? strlen(text) : 0;
    }
    if (text) CHECK_OK(bs_tokenizer_load_hf_json(text, len, &t));
    free(text);
    return t;
}

static uint64_t fnv_ids(const int32_t *ids, int32_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int32_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        for (int k = 0; k < 4; k++) {
            h ^= (v >> (8 * k)) & 0xFF;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n && i < 120; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127) fputc(c, stderr);
        else fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

/* Decodes ids token by token (prev = the previous id, -1 at the start). */
static char *decode_all(const bs_tokenizer *t, const int32_t *ids, int32_t n, int32_t prev,
                        size_t *out_len) {
    size_t cap = 256 * (size_t)n + 1, len = 0;
    char *buf = malloc(cap);
    for (int32_t i = 0; i < n && buf; i++) {
        size_t m = 0;
        bs_status st = bs_tokenizer_decode(t, prev, ids[i], buf + len, 256, &m);
        if (st != BS_OK) {
            CHECK_OK(st);
            break;
        }
        len += m;
        prev = ids[i];
    }
    *out_len = len;
    return buf;
}

/* What decode(encode(s)) gives back: the text itself, except that SPM
   maps a literal U+2581 to a space (it is SentencePiece's space). */
static char *expected_roundtrip(const bs_tokenizer *t, const char *s, size_t n, size_t *out_len) {
    char *e = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t->kind == BS_TOKENIZER_SPM && i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            e[k++] = ' ';
            i += 2;
        } else {
            e[k++] = s[i];
        }
    }
    *out_len = k;
    return e;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

typedef struct fixture_stats {
    int cases, failures, roundtrips;
} fixture_stats;

/* One fixture case: encode, compare, round trip. */
static void run_case(const bs_tokenizer *t, const char *name, int line, uint32_t flags,
                     const char *text, size_t len, const int32_t *want, int32_t n_want,
                     uint64_t hash, int hashed, int roundtrip, fixture_stats *fs) {
    int32_t n = n_want;
    /* Measuring call first (cap 0), then the real one; long texts only get
       the real one. */
    bs_status st = hashed ? BS_ERR_RANGE : bs_tokenizer_encode(t, text, len, flags, NULL, 0, &n);
    int ok = (n_want == 0 ? st == BS_OK : st == BS_ERR_RANGE) && n == n_want;
    int32_t *ids = malloc(sizeof *ids * (size_t)(n_want + 1));
    int32_t n2 = -1;
    st = bs_tokenizer_encode(t, text, len, flags, ids, n_want, &n2);
    ok = ok && st == BS_OK && n2 == n_want;
    if (ok && hashed) ok = fnv_ids(ids, n2) == hash;
    int first_diff = -1;
    if (ok && !hashed)
        for (int32_t i = 0; i < n_want && first_diff < 0; i++)
            if (ids[i] != want[i]) first_diff = i;
    ok = ok && first_diff < 0;
    fs->cases++;
    test_checks_++;
    if (!ok) {
        test_failures_++;
        if (fs->failures++ < 5) {
            fprintf(stderr, "%s:%d: encode mismatch (status %s, %d ids, want %d, first diff at %d): ",
                    name, line, bs_status_name(st), n2, n_want, first_diff);
            print_escaped(text, len);
            if (first_diff >= 0)
                fprintf(stderr, "  got %d want %d\n", ids[first_diff], want[first_diff]);
        }
    }
    if (ok && roundtrip) {
        int skip = (flags & BS_TOKENIZE_BOS) && t->bos >= 0 ? 1 : 0;
        size_t dlen, elen;
        char *d = decode_all(t, ids + skip, n2 - skip, skip ? t->bos : -1, &dlen);
        char *e = expected_roundtrip(t, text, len, &elen);
        test_checks_++;
        if (!(d && dlen == elen && memcmp(d, e, elen) == 0)) {
            test_failures_++;
            if (fs->failures++ < 5) {
                fprintf(stderr, "%s:%d: round trip differs: ", name, line);
                print_escaped(d ? d : "", dlen);
            }
        }
        fs->roundtrips++;
        free(d);
        free(e);
    }
    free(ids);
}

/* Replays a fixture file (format: see gen_tokenizer_fixtures.py).
   roundtrip: 0 never, 1 always, 2 except cases with BS_TOKENIZE_SPECIAL
   or text starting with a space (Metaspace adds no dummy prefix to those,
   so the decoder's dropped space is a real one). */
static fixture_stats run_fixture(const bs_tokenizer *t, const char *path, int roundtrip) {
    fixture_stats fs = {0, 0, 0};
    char *data = NULL;
    if (!t) return fs;
    if (bs_read_file(path, &data, NULL) != BS_OK) {
        CHECK_MSG(0, "cannot read fixture %s", path);
        return fs;
    }
    char name[64];
    snprintf(name, sizeof name, "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    int line = 0;
    for (char *p = data, *eol, *next; *p; p = next) {
        eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        next = *eol ? eol + 1 : eol;
        line++;
        *eol = 0;
        if (p[0] == '#' || p[0] == 0) continue;
        char kind = p[0];
        char *q = p + 2;
        uint32_t flags = (uint32_t)strtoul(q, &q, 10);
        char *text = NULL;
        size_t len = 0;
        if (kind == 'T') {
            q++;
            char *hx = q;
            while (*q != ' ') q++;
            len = hx[0] == '-' ? 0 : (size_t)(q - hx) / 2;
            text = malloc(len + 1);
            for (size_t i = 0; i < len; i++)
                text[i] = (char)(hexval(hx[2 * i]) * 16 + hexval(hx[2 * i + 1]));
        } else {
            char file[256];
            long off, n;
            int used = 0;
            sscanf(q, " %255s %ld %ld%n", file, &off, &n, &used);
            q += used;
            bs_reader r;
            text = malloc((size_t)n + 1);
            len = (size_t)n;
            if (bs_reader_open_file(&r, SHARED(file)) != BS_OK ||
                bs_reader_read(&r, (uint64_t)off, text, len) != BS_OK) {
                CHECK_MSG(0, "%s:%d: cannot read %s", name, line, SHARED(file));
                bs_reader_close(&r);
                free(text);
                continue;
            }
            bs_reader_close(&r);
        }
        int32_t n_want = (int32_t)strtol(q, &q, 10);
        int32_t *want = malloc(sizeof *want * (size_t)(n_want + 1));
        uint64_t hash = 0;
        if (kind == 'H')
            hash = strtoull(q, &q, 16);
        else
            for (int32_t i = 0; i < n_want; i++) want[i] = (int32_t)strtol(q, &q, 10);
        int rt = roundtrip == 1 ||
                 (roundtrip == 2 && !(flags & BS_TOKENIZE_SPECIAL) && !(len > 0 && text[0] == ' ') &&
                  !(len >= 3 && memcmp(text, "\xE2\x96\x81", 3) == 0));
        run_case(t, name, line, flags, text, len, want, n_want, hash, kind == 'H', rt, &fs);
        free(want);
        free(text);
    }
    free(data);
    fprintf(stderr, "     %s: %d cases, %d round trips, %d failures\n", name, fs.cases, fs.roundtrips,
            fs.failures);
    CHECK(fs.cases > 0);
    return fs;
}

static int32_t piece_id(const bs_tokenizer *t, const char *s) { return bs_tokenizer_find(t, s, strlen(s)); }

static void check_decode(const bs_tokenizer *t, int32_t prev, int32_t id, const char *want) {
    char buf[256];
    size_t n = 0;
    CHECK_OK(bs_tokenizer_decode(t, prev, id, buf, sizeof buf, &n));
    CHECK_MSG(n == strlen(want) && memcmp(buf, want, n) == 0, "decode(%d, %d) = \"%.*s\", want \"%s\"",
              prev, id, (int)n, buf, want);
}

/* ---- SentencePiece ---- */

static void test_llama2_spm(void) {
    bs_tokenizer *t = load_bin(SHARED("models/tokenizers/tokenizer.bin"), 32000);
    if (!t) return;
    CHECK_EQ_INT(bs_tokenizer_get_kind(t), BS_TOKENIZER_SPM);
    CHECK_EQ_INT(bs_tokenizer_n_vocab(t), 32000);
    CHECK_EQ_INT(bs_tokenizer_bos(t), 1);
    CHECK_EQ_INT(bs_tokenizer_eos(t), 2);
    CHECK_EQ_INT(bs_tokenizer_get_add_space_prefix(t), 1);
    const char *p;
    size_t len;
    float score;
    int32_t type;
    CHECK_OK(bs_tokenizer_get_token(t, 1, &p, &len, &score, &type));
    CHECK(len == 3 && memcmp(p, "<s>", 3) == 0 && type == BS_TOKTYPE_CONTROL);
    CHECK_OK(bs_tokenizer_get_token(t, 0, &p, &len, &score, &type));
    CHECK(type == BS_TOKTYPE_UNKNOWN && len == 5);
    CHECK_OK(bs_tokenizer_get_token(t, 3 + 0x41, &p, &len, &score, &type));
    CHECK(len == 6 && memcmp(p, "<0x41>", 6) == 0 && type == BS_TOKTYPE_BYTE);
    CHECK_OK(bs_tokenizer_get_token(t, 259, &p, &len, &score, &type));
    CHECK(len == 6 && memcmp(p, "\xE2\x96\x81\xE2\x96\x81", 6) == 0 && score == -1e9f);
    CHECK_EQ_INT(piece_id(t, "<s>"), 1);
    CHECK_EQ_INT(piece_id(t, "</s>"), 2);
    CHECK_EQ_INT(piece_id(t, "\xE2\x96\x81Hello"), 15043);
    CHECK_EQ_INT(piece_id(t, "no such piece"), -1);
    CHECK(bs_tokenizer_is_eog(t, 2) && !bs_tokenizer_is_eog(t, 1)); /* BOS does not end a reply */
    CHECK(!bs_tokenizer_is_eog(t, 15043) && !bs_tokenizer_is_eog(t, 0) && !bs_tokenizer_is_eog(t, -1));
    /* llama2.c's decode: the dummy-prefix space goes after BOS / at the start. */
    check_decode(t, 1, 15043, "Hello");
    check_decode(t, -1, 15043, "Hello");
    check_decode(t, 15043, 15043, " Hello");
    check_decode(t, 0, 15043, " Hello");
    check_decode(t, 15043, 13, "\n");
    check_decode(t, 15043, 1, "<s>");
    check_decode(t, 15043, 3 + 0xE4, "\xE4");
    check_decode(t, 1, 259, " ");
    char small[2];
    size_t n = 0;
    CHECK_STATUS(bs_tokenizer_decode(t, 15043, 15043, small, sizeof small, &n), BS_ERR_RANGE);
    CHECK_EQ_INT(n, 6);
    CHECK_STATUS(bs_tokenizer_decode(t, -1, 32000, small, sizeof small, &n), BS_ERR_RANGE);
    fixture_stats fs = run_fixture(t, FIX("llama2_spm.txt"), 1);
    CHECK(fs.cases >= 450);
    CHECK(t->spm_word_safe);
    /* The same without the split at word starts: one heap over the whole
       text, the plain algorithm the split must agree with. */
    t->spm_word_safe = 0;
    run_fixture(t, FIX("llama2_spm.txt"), 0);
    bs_tokenizer_free(t);
}

static void test_tok512_spm(void) {
    bs_tokenizer *t = load_bin(SHARED("models/stories260K/tok512.bin"), 512);
    bs_tokenizer *t0 = load_bin(SHARED("models/stories260K/tok512.bin"), 0); /* size from the file */
    if (!t || !t0) goto done;
    CHECK_EQ_INT(bs_tokenizer_n_vocab(t0), 512);
    /* The prompt of DATA.md's reference generation. */
    int32_t ids[16], n = 0;
    CHECK_OK(bs_tokenizer_encode(t, "Once upon a time", 16, BS_TOKENIZE_BOS, ids, 16, &n));
    int32_t want[] = {1, 403, 407, 261, 378};
    CHECK_EQ_INT(n, 5);
    for (int i = 0; i < 5 && i < n; i++) CHECK_EQ_INT(ids[i], want[i]);
    run_fixture(t, FIX("tok512_spm.txt"), 1);
    run_fixture(t0, FIX("tok512_spm.txt"), 1);
done:
    bs_tokenizer_free(t);
    bs_tokenizer_free(t0);
}

static void test_tok512_hf_json(void) {
    bs_tokenizer *t = load_json(FIX("tok512_hf_legacy.json"), NULL);
    if (t) {
        CHECK_EQ_INT(bs_tokenizer_get_kind(t), BS_TOKENIZER_SPM);
        CHECK_EQ_INT(bs_tokenizer_bos(t), 1);
        CHECK_EQ_INT(bs_tokenizer_eos(t), 2);
        CHECK(bs_tokenizer_n_merges(t) > 0);
        /* Export scores replay the merge order: merge 0 makes " t". */
        float score;
        CHECK_OK(bs_tokenizer_get_token(t, piece_id(t, "\xE2\x96\x81t"), NULL, NULL, &score, NULL));
        CHECK(score == 0.0f);
        run_fixture(t, FIX("tok512_hf_legacy.txt"), 1);
    }
    bs_tokenizer_free(t);
    t = load_json(FIX("tok512_hf_first.json"), NULL);
    /* Metaspace "first": no prefix after special tokens, nor before a
       leading space, so decoding cannot restore every text. */
    if (t) run_fixture(t, FIX("tok512_hf_first.txt"), 2);
    bs_tokenizer_free(t);
}

/* ---- byte-level BPE ---- */

static void test_smollm2_bpe(void) {
    bs_tokenizer *t = load_json(FIX("smollm2_tokenizer.json"), NULL);
    if (!t) return;
    CHECK_EQ_INT(bs_tokenizer_get_kind(t), BS_TOKENIZER_BPE);
    CHECK_EQ_INT(bs_tokenizer_get_pretok(t), BS_PRETOK_SMOLLM);
    CHECK_EQ_INT(bs_tokenizer_n_vocab(t), 49152);
    CHECK_EQ_INT(bs_tokenizer_n_merges(t), 48900);
    CHECK_EQ_INT(piece_id(t, "<|im_start|>"), 1);
    CHECK_EQ_INT(piece_id(t, "<|im_end|>"), 2);
    CHECK(bs_tokenizer_is_eog(t, 2) && bs_tokenizer_is_eog(t, 0));
    CHECK(!bs_tokenizer_is_eog(t, 100));
    CHECK_EQ_INT(bs_tokenizer_eos(t), 0); /* "<|endoftext|>"; HF import sets it from config */
    const char *l, *r;
    size_t ll, rl;
    CHECK_OK(bs_tokenizer_get_merge(t, 0, &l, &ll, &r, &rl));
    CHECK(ll == 2 && memcmp(l, "\xC4\xA0", 2) == 0 && rl == 1 && r[0] == 't');
    check_decode(t, -1, piece_id(t, "\xC4\xA0the"), " the");
    check_decode(t, -1, 2, "<|im_end|>");
    check_decode(t, -1, piece_id(t, "\xC4\x8A"), "\n");
    int32_t ids[32], n = 0;
    const char *chat = "<|im_start|>user\nHi<|im_end|>";
    CHECK_OK(bs_tokenizer_encode(t, chat, strlen(chat), BS_TOKENIZE_SPECIAL, ids, 32, &n));
    CHECK(n >= 4 && ids[0] == 1 && ids[n - 1] == 2);
    CHECK_OK(bs_tokenizer_encode(t, chat, strlen(chat), 0, ids, 32, &n));
    CHECK(n > 6 && ids[0] != 1);
    fixture_stats fs = run_fixture(t, FIX("smollm2_bpe.txt"), 1);
    CHECK(fs.cases >= 400);
    bs_tokenizer_free(t);
    t = load_json(FIX("smollm2_tokenizer.json"), FIX("pretok_gpt2.json"));
    if (t) {
        CHECK_EQ_INT(bs_tokenizer_get_pretok(t), BS_PRETOK_GPT2);
        run_fixture(t, FIX("smollm2_bpe_gpt2.txt"), 1);
    }
    bs_tokenizer_free(t);
    t = load_json(FIX("smollm2_tokenizer.json"), FIX("pretok_llama3.json"));
    if (t) {
        CHECK_EQ_INT(bs_tokenizer_get_pretok(t), BS_PRETOK_LLAMA3);
        run_fixture(t, FIX("smollm2_bpe_llama3.txt"), 1);
    }
    bs_tokenizer_free(t);
}

/* Splits s with a pre-tokenizer into "|"-joined words. */
static void check_split(size_t (*next)(const uint8_t *, size_t), const char *s, const char *want) {
    char got[512];
    size_t k = 0, n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t m = next((const uint8_t *)s + i, n - i);
        if (m == 0 || i + m > n) break;
        if (i) got[k++] = '|';
        memcpy(got + k, s + i, m);
        k += m;
        i += m;
    }
    got[k] = 0;
    CHECK_MSG(strcmp(got, want) == 0, "split \"%s\" = \"%s\", want \"%s\"", s, got, want);
}

static void test_pretok(void) {
    check_split(bs_pretok_gpt2, "Hello  world\n\n", "Hello| | world|\n\n");
    check_split(bs_pretok_gpt2, "Hello  world\n\nx", "Hello| | world|\n|\n|x");
    check_split(bs_pretok_gpt2, "I'm don't 'sup", "I|'m| don|'t| '|sup");
    check_split(bs_pretok_gpt2, "x'S 12ab", "x|'|S| 12|ab");
    check_split(bs_pretok_gpt2, "a  !?b", "a| | !?|b");
    check_split(bs_pretok_llama3, "I'M 12345 abc\n\n  x", "I|'M| |123|45| abc|\n\n| | x");
    check_split(bs_pretok_llama3, "\tfoo ?!\nbar", "\tfoo| ?!\n|bar");
    check_split(bs_pretok_llama3, "a \n  b", "a| \n| | b");
    for (int b = 0; b < 256; b++) CHECK_EQ_INT(bs_bpe_cp_to_byte((int32_t)bs_bpe_byte_to_cp((uint8_t)b)), b);
    CHECK_EQ_INT(bs_bpe_byte_to_cp(' '), 0x120);
    CHECK_EQ_INT(bs_bpe_byte_to_cp('\n'), 0x10A);
    CHECK_EQ_INT(bs_bpe_byte_to_cp(0xAD), 0x143);
    CHECK_EQ_INT(bs_bpe_cp_to_byte(0x144), -1);
}

static void test_unicode(void) {
    int32_t cp;
    CHECK_EQ_INT(bs_utf8_decode((const uint8_t *)"\xE2\x96\x81", 3, &cp), 3);
    CHECK_EQ_INT(cp, 0x2581);
    CHECK_EQ_INT(bs_utf8_decode((const uint8_t *)"\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    const char *bad[] = {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80",
                         "\xFF", "\xE4\xB8", "\xE4\xB8(", "\xF8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ_INT(bs_utf8_decode((const uint8_t *)bad[i], strlen(bad[i]), &cp), 1);
        CHECK_EQ_INT(cp, -1);
    }
    CHECK_EQ_INT(bs_unicode_class('a'), BS_UCLASS_LETTER);
    CHECK_EQ_INT(bs_unicode_class(0x4E2D), BS_UCLASS_LETTER);   /* 中 */
    CHECK_EQ_INT(bs_unicode_class(0x0663), BS_UCLASS_NUMBER);   /* ٣ */
    CHECK_EQ_INT(bs_unicode_class(0x00BD), BS_UCLASS_NUMBER);   /* ½ */
    CHECK_EQ_INT(bs_unicode_class(0x3000), BS_UCLASS_SPACE);
    CHECK_EQ_INT(bs_unicode_class(0x0085), BS_UCLASS_SPACE);
    CHECK_EQ_INT(bs_unicode_class(0x200B), BS_UCLASS_OTHER);    /* zero width space: Cf */
    CHECK_EQ_INT(bs_unicode_class(0x0301), BS_UCLASS_OTHER);    /* combining acute: Mn */
    CHECK_EQ_INT(bs_unicode_class(0x1F600), BS_UCLASS_OTHER);
    CHECK_EQ_INT(bs_unicode_class(-1), BS_UCLASS_OTHER);
    CHECK(strcmp(bs_unicode_version(), "14.0.0") == 0);
}

/* ---- tokenizers built through the API ---- */

static void add(bs_tokenizer *t, int32_t id, const char *s, float score, int32_t type) {
    CHECK_OK(bs_tokenizer_set_token(t, id, s, strlen(s), score, type));
}

static void check_ids(const bs_tokenizer *t, const char *s, uint32_t flags, const int32_t *want, int32_t n_want) {
    int32_t ids[64], n = 0;
    CHECK_OK(bs_tokenizer_encode(t, s, strlen(s), flags, ids, 64, &n));
    int same = n == n_want;
    for (int32_t i = 0; same && i < n; i++) same = ids[i] == want[i];
    CHECK_MSG(same, "encode \"%s\": %d ids (want %d), first %d", s, n, n_want, n > 0 ? ids[0] : -1);
}

static void test_api_spm(void) {
    bs_tokenizer *t = NULL;
    CHECK_OK(bs_tokenizer_create(BS_TOKENIZER_SPM, 8, &t));
    add(t, 0, "<unk>", 0, BS_TOKTYPE_UNKNOWN);
    add(t, 1, "a", 0, BS_TOKTYPE_NORMAL);
    add(t, 2, "b", 0, BS_TOKTYPE_NORMAL);
    add(t, 3, "ab", -1, BS_TOKTYPE_NORMAL);
    add(t, 4, "ba", -1, BS_TOKTYPE_NORMAL);   /* ties with "ab": leftmost pair wins */
    add(t, 5, "\xE2\x96\x81", 0, BS_TOKTYPE_NORMAL);
    add(t, 6, "<x>", 0, BS_TOKTYPE_USER_DEFINED);
    int32_t ids[4], n = 0;
    CHECK_STATUS(bs_tokenizer_encode(t, "a", 1, 0, ids, 4, &n), BS_ERR_STATE);
    CHECK_STATUS(bs_tokenizer_finalize(t), BS_ERR_FORMAT); /* id 7 never set */
    add(t, 7, "aba", -5, BS_TOKTYPE_NORMAL);
    bs_tokenizer_set_add_space_prefix(t, 0);
    CHECK_OK(bs_tokenizer_finalize(t));
    CHECK_STATUS(bs_tokenizer_set_token(t, 1, "a", 1, 0, 1), BS_ERR_STATE);
    { int32_t w[] = {3, 4}; check_ids(t, "abba", 0, w, 2); }
    { int32_t w[] = {4, 3}; check_ids(t, "baab", 0, w, 2); }
    { int32_t w[] = {7}; check_ids(t, "aba", 0, w, 1); }    /* "ab"+"a" merges on */
    { int32_t w[] = {1, 0, 2}; check_ids(t, "a?b", 0, w, 3); } /* no byte tokens: <unk> */
    { int32_t w[] = {1, 6, 2}; check_ids(t, "a<x>b", BS_TOKENIZE_SPECIAL, w, 3); }
    { int32_t w[] = {1, 0, 0, 0, 2}; check_ids(t, "a<x>b", 0, w, 5); }
    { int32_t w[] = {1, 5, 2}; check_ids(t, "a b", 0, w, 3); }
    /* cap too small: RANGE, and the count needed. */
    CHECK_STATUS(bs_tokenizer_encode(t, "a b", 3, 0, ids, 2, &n), BS_ERR_RANGE);
    CHECK_EQ_INT(n, 3);
    CHECK_STATUS(bs_tokenizer_encode(t, "a", 1, 0x80, ids, 4, &n), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_tokenizer_encode(t, NULL, 1, 0, ids, 4, &n), BS_ERR_INVALID_ARG);
    CHECK_OK(bs_tokenizer_encode(t, NULL, 0, BS_TOKENIZE_BOS, ids, 4, &n)); /* no BOS: none */
    CHECK_EQ_INT(n, 0);
    bs_tokenizer_free(t);
    bs_tokenizer_free(NULL);
}

static void test_api_bpe(void) {
    bs_tokenizer *t = NULL;
    CHECK_OK(bs_tokenizer_create(BS_TOKENIZER_BPE, 256 + 3, &t));
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t n = bs_utf8_encode(bs_bpe_byte_to_cp((uint8_t)b), u);
        CHECK_OK(bs_tokenizer_set_token(t, b, u, n, 0, BS_TOKTYPE_NORMAL));
    }
    add(t, 256, "ab", 0, BS_TOKTYPE_NORMAL);
    add(t, 257, "abc", 0, BS_TOKTYPE_NORMAL);
    add(t, 258, "<|end|>", 0, BS_TOKTYPE_CONTROL);
    CHECK_OK(bs_tokenizer_add_merge(t, "a", 1, "b", 1));
    CHECK_OK(bs_tokenizer_add_merge(t, "ab", 2, "c", 1));
    CHECK_OK(bs_tokenizer_add_eog(t, 258));
    CHECK_STATUS(bs_tokenizer_add_eog(t, 259), BS_ERR_RANGE);
    CHECK_OK(bs_tokenizer_finalize(t));
    { int32_t w[] = {257, 'd', 256}; check_ids(t, "abcdab", 0, w, 3); }
    { int32_t w[] = {256, 258, 'c'}; check_ids(t, "ab<|end|>c", BS_TOKENIZE_SPECIAL, w, 3); }
    { int32_t w[] = {0xFF}; check_ids(t, "\xFF", 0, w, 1); }  /* invalid UTF-8: its byte */
    CHECK(bs_tokenizer_is_eog(t, 258));
    check_decode(t, -1, 257, "abc");
    check_decode(t, -1, 0xFF, "\xFF");
    bs_tokenizer_free(t);
}

/* ---- throughput (printed, never checked) and whole-file round trips ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench_one(const char *label, const bs_tokenizer *t, const char *text, size_t len) {
    int32_t n = 0;
    double t0 = now_s();
    clock_t c0 = clock();
    bs_tokenizer_encode(t, text, len, 0, NULL, 0, &n);
    double dt = now_s() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    int32_t *ids = malloc(sizeof *ids * (size_t)(n + 1));
    CHECK_OK(bs_tokenizer_encode(t, text, len, 0, ids, n, &n));
    size_t dlen, elen;
    char *d = decode_all(t, ids, n, -1, &dlen);
    char *e = expected_roundtrip(t, text, len, &elen);
    CHECK_MSG(dlen == elen && memcmp(d, e, elen) == 0, "%s: decode(encode(text)) differs", label);
    /* CPU time too: the wall clock suffers on a busy machine. */
    fprintf(stderr, "     throughput %-16s %.2f MB in %.3f s = %.2f MB/s (cpu %.2f MB/s, %d tokens)\n",
            label, (double)len / 1e6, dt, (double)len / 1e6 / dt, (double)len / 1e6 / (cpu > 0 ? cpu : 1e-9), n);
    free(ids);
    free(d);
    free(e);
}

/* Inputs with no word boundary at all: one big merge per call. */
static void test_long_runs(void) {
    size_t n = 1 << 20;
    char *s = malloc(n);
    memset(s, 'a', n);
    for (size_t i = 0; i < n; i += 4096) s[i] = (char)('b' + (i / 4096) % 20);
    bs_tokenizer *t = load_bin(SHARED("models/tokenizers/tokenizer.bin"), 32000);
    if (t) bench_one("llama2 1MB-word", t, s, n);
    bs_tokenizer_free(t);
    t = load_json(FIX("smollm2_tokenizer.json"), NULL);
    if (t) bench_one("smollm2 1MB-word", t, s, n);
    bs_tokenizer_free(t);
    free(s);
}

static void test_throughput(void) {
    char *text = NULL;
    size_t len = 0;
    if (bs_read_file(SHARED("corpora/wikitext-2-raw/wiki.test.txt"), &text, &len) != BS_OK) {
        CHECK_MSG(0, "no wiki.test.txt: %s", bs_last_error());
        return;
    }
    bs_tokenizer *t = load_bin(SHARED("models/tokenizers/tokenizer.bin"), 32000);
    if (t) bench_one("llama2-spm", t, text, len);
    if (t) t->spm_word_safe = 0;
    if (t) bench_one("llama2-spm-whole", t, text, len);
    bs_tokenizer_free(t);
    t = load_json(FIX("smollm2_tokenizer.json"), NULL);
    if (t) bench_one("smollm2-bpe", t, text, len);
    bs_tokenizer_free(t);
    free(text);
}

int main(void) {
    RUN(test_unicode);
    RUN(test_pretok);
    RUN(test_api_spm);
    RUN(test_api_bpe);
    RUN(test_llama2_spm);
    RUN(test_tok512_spm);
    RUN(test_tok512_hf_json);
    RUN(test_smollm2_bpe);
    RUN(test_long_runs);
    RUN(test_throughput);
    return test_summary();
}
