/* tokenizer_load_hf.c - the Hugging Face tokenizer.json loader.
 *
 * Supported: model.type "BPE" with
 *   - byte-level pre-tokenization -> BS_TOKENIZER_BPE:
 *       ByteLevel(use_regex)                         GPT-2 regex
 *       Sequence[Digits(individual), ByteLevel]      SmolLM
 *       Sequence[Split(Llama 3 regex), ByteLevel]    Llama 3
 *   - SentencePiece style -> BS_TOKENIZER_SPM (merges kept, so the merge
 *     order is exactly the file's; scores derived from it for export):
 *       normalizer Sequence[Prepend("▁"), Replace(" ", "▁")] (or the
 *       Replace alone), or pre_tokenizer Metaspace (split or not).
 * model.vocab maps piece -> id; model.merges are "a b" strings or [a, b]
 * arrays in rank order; added_tokens become CONTROL (special) or
 * USER_DEFINED tokens. WordPiece, Unigram and WordLevel models are
 * rejected with BS_ERR_UNSUPPORTED.
 */
#include "tok_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HF_MAX_VOCAB (1 << 24)

static const char LLAMA3_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* What the file's normalizer / pre-tokenizer / model settings amount to. */
typedef struct hf_setup {
    bs_tokenizer_kind kind;
    bs_pretok pretok;
    int add_space_prefix;
    int prefix_first_only;
    int split_words;
    int prefix_unless_space;
    int byte_fallback;
    int ignore_merges;
} hf_setup;

static const char *str_field(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A boolean field; def when absent or null. */
static int bool_field(const cJSON *o, const char *key, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return def;
}

static int type_is(const cJSON *o, const char *type) {
    const char *s = str_field(o, "type");
    return s && strcmp(s, type) == 0;
}

static bs_status unsupported(const char *what, const cJSON *o) {
    const char *type = o ? str_field(o, "type") : NULL;
    return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: %s %s is not supported", what,
                   type ? type : "(untyped)");
}

/* ByteLevel pre-tokenizer: with_regex is what the position requires. */
static bs_status check_bytelevel(const cJSON *o, int with_regex) {
    if (bool_field(o, "add_prefix_space", 0))
        return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: ByteLevel add_prefix_space=true is not supported");
    if (bool_field(o, "use_regex", 1) != with_regex)
        return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: ByteLevel use_regex=%s here is not supported",
                       with_regex ? "false" : "true");
    return BS_OK;
}

static int is_split_llama3(const cJSON *o) {
    if (!type_is(o, "Split")) return 0;
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    const char *re = str_field(pat, "Regex");
    const char *beh = str_field(o, "behavior");
    return re && strcmp(re, LLAMA3_REGEX) == 0 && beh && strcmp(beh, "Isolated") == 0 &&
           !bool_field(o, "invert", 0);
}

static bs_status setup_bytelevel(const cJSON *pre, hf_setup *s) {
    s->kind = BS_TOKENIZER_BPE;
    if (type_is(pre, "ByteLevel")) {
        s->pretok = BS_PRETOK_GPT2;
        return check_bytelevel(pre, 1);
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
    if (cJSON_GetArraySize(list) == 2) {
        const cJSON *a = cJSON_GetArrayItem(list, 0), *b = cJSON_GetArrayItem(list, 1);
        if (type_is(a, "Digits") && bool_field(a, "individual_digits", 0) && type_is(b, "ByteLevel")) {
            s->pretok = BS_PRETOK_SMOLLM;
            return check_bytelevel(b, 1);
        }
        if (is_split_llama3(a) && type_is(b, "ByteLevel")) {
            s->pretok = BS_PRETOK_LLAMA3;
            return check_bytelevel(b, 0);
        }
    }
    return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: this pre_tokenizer Sequence is not supported "
                   "(known: ByteLevel; Digits+ByteLevel; Llama 3 Split+ByteLevel)");
}

static int is_space_to_meta(const cJSON *o) {
    if (!type_is(o, "Replace")) return 0;
    const char *from = str_field(cJSON_GetObjectItemCaseSensitive(o, "pattern"), "String");
    const char *to = str_field(o, "content");
    return from && to && strcmp(from, " ") == 0 && strcmp(to, "\xE2\x96\x81") == 0;
}

static bs_status setup_spm(const cJSON *norm, const cJSON *pre, hf_setup *s) {
    s->kind = BS_TOKENIZER_SPM;
    s->add_space_prefix = 0;
    if (norm && !cJSON_IsNull(norm)) {
        /* Llama 2 style: Sequence[Prepend("▁"), Replace(" ", "▁")]. */
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers");
        const cJSON *it;
        int replace = 0;
        if (type_is(norm, "Sequence")) {
            cJSON_ArrayForEach(it, list) {
                const char *pp = str_field(it, "prepend");
                if (type_is(it, "Prepend") && pp && strcmp(pp, "\xE2\x96\x81") == 0)
                    s->add_space_prefix = 1;
                else if (is_space_to_meta(it))
                    replace = 1;
                else
                    return unsupported("normalizer", it);
            }
        } else if (is_space_to_meta(norm)) {
            replace = 1;
        } else {
            return unsupported("normalizer", norm);
        }
        if (!replace)
            return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: SentencePiece-style normalizer without Replace(' ', '▁')");
        if (pre && !cJSON_IsNull(pre)) return unsupported("pre_tokenizer (with a normalizer)", pre);
        return BS_OK;
    }
    if (type_is(pre, "Metaspace")) {
        const char *rep = str_field(pre, "replacement");
        if (rep && strcmp(rep, "\xE2\x96\x81") != 0)
            return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: Metaspace replacement other than U+2581");
        /* Before tokenizers 0.19 Metaspace always split; the key is new. */
        s->split_words = bool_field(pre, "split", 1);
        /* Metaspace prepends only to text not already starting with "▁". */
        s->prefix_unless_space = 1;
        const char *scheme = str_field(pre, "prepend_scheme");
        if (scheme) {
            s->add_space_prefix = strcmp(scheme, "never") != 0;
            s->prefix_first_only = strcmp(scheme, "first") == 0;
        } else {
            s->add_space_prefix = bool_field(pre, "add_prefix_space", 1);
        }
        return BS_OK;
    }
    return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: BPE model that is neither byte-level "
                   "(ByteLevel pre-tokenizer) nor SentencePiece-style (\"▁\" normalizer or Metaspace)");
}

static int contains_bytelevel(const cJSON *pre) {
    if (type_is(pre, "ByteLevel")) return 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers"))
        if (type_is(it, "ByteLevel")) return 1;
    return 0;
}

static bs_status read_setup(const cJSON *root, const cJSON *model, hf_setup *s) {
    memset(s, 0, sizeof *s);
    const char *type = str_field(model, "type");
    if (type && strcmp(type, "BPE") != 0)
        return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: model type %s is not supported (only BPE)", type);
    if (!type && !cJSON_GetObjectItemCaseSensitive(model, "merges"))
        return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: untyped model without merges (only BPE is supported)");
    const char *csp = str_field(model, "continuing_subword_prefix");
    const char *eow = str_field(model, "end_of_word_suffix");
    if ((csp && *csp) || (eow && *eow))
        return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: BPE with continuing_subword_prefix/end_of_word_suffix is not supported");
    s->byte_fallback = bool_field(model, "byte_fallback", 0);
    s->ignore_merges = bool_field(model, "ignore_merges", 0);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (contains_bytelevel(pre)) {
        /* NFC leaves text that is already NFC (nearly all text) alone;
           other normalizers change what the model sees. */
        if (norm && !cJSON_IsNull(norm) && !type_is(norm, "NFC")) return unsupported("normalizer", norm);
        return setup_bytelevel(pre, s);
    }
    return setup_spm(norm, pre, s);
}

/* Integer id in [0, HF_MAX_VOCAB), or -1. */
static int32_t json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < HF_MAX_VOCAB) || d != floor(d)) return -1;
    return (int32_t)d;
}

/* Splits a merge entry into its two parts. */
static bs_status merge_parts(const cJSON *m, int32_t r, const char **a, size_t *alen, const char **b,
                             size_t *blen) {
    if (cJSON_IsString(m)) {
        const char *s = m->valuestring, *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return bs_fail(BS_ERR_FORMAT, "tokenizer.json: merge %d \"%.64s\" is not \"a b\"", r, s);
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        *blen = strlen(sp + 1);
        return BS_OK;
    }
    if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
        *a = cJSON_GetArrayItem(m, 0)->valuestring;
        *b = cJSON_GetArrayItem(m, 1)->valuestring;
        *alen = strlen(*a);
        *blen = strlen(*b);
        return BS_OK;
    }
    return bs_fail(BS_ERR_FORMAT, "tokenizer.json: merge %d is neither \"a b\" nor [a, b]", r);
}

static int is_byte_piece(const char *p) {
    return strlen(p) == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>';
}

/* Best-effort BOS/EOS and end-of-turn ids from well-known token texts; the
   importer overrides them from config.json when it has one. */
static bs_status guess_specials(bs_tokenizer *t) {
    static const char *const bos[] = {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"};
    static const char *const eos[] = {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"};
    static const char *const eog[] = {"<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>",
                                      "<end_of_turn>", "<|endoftext|>"};
    int32_t b = -1, e = -1;
    for (size_t i = 0; i < sizeof bos / sizeof *bos && b < 0; i++) b = bs_tokenizer_find(t, bos[i], strlen(bos[i]));
    for (size_t i = 0; i < sizeof eos / sizeof *eos && e < 0; i++) e = bs_tokenizer_find(t, eos[i], strlen(eos[i]));
    bs_tokenizer_set_bos_eos(t, b, e);
    for (size_t i = 0; i < sizeof eog / sizeof *eog; i++) {
        int32_t id = bs_tokenizer_find(t, eog[i], strlen(eog[i]));
        if (id >= 0 && t->tok[id].type == BS_TOKTYPE_CONTROL) BS_TRY(bs_tokenizer_add_eog(t, id));
    }
    return BS_OK;
}

/* SPM scores for export (GGUF, tokenizer.bin): a piece made by merge r
   scores -r, so "higher score first" replays the merge order; pieces no
   merge makes come after all of them. */
static void derive_scores(bs_tokenizer *t) {
    for (int32_t id = 0; id < t->n_vocab; id++) t->tok[id].score = -(float)t->n_merges - (float)id;
    for (int32_t r = t->n_merges - 1; r >= 0; r--) {
        const bs_tok_mergedef *m = &t->merges[r];
        int32_t id = bs_tok_lookup(t, t->arena + m->off, (size_t)m->llen + m->rlen);
        if (id >= 0) t->tok[id].score = -(float)r;
    }
}

static bs_status build(const cJSON *root, bs_tokenizer **out) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return bs_fail(BS_ERR_FORMAT, "tokenizer.json: no \"model\" object");
    const char *mtype = str_field(model, "type");
    if (mtype && strcmp(mtype, "BPE") != 0)
        return bs_fail(BS_ERR_UNSUPPORTED, "tokenizer.json: model type %s is not supported (only BPE)", mtype);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (!cJSON_IsObject(vocab)) return bs_fail(BS_ERR_FORMAT, "tokenizer.json: model.vocab is not an object");
    if (!vocab->child) return bs_fail(BS_ERR_FORMAT, "tokenizer.json: empty model.vocab");
    hf_setup s;
    BS_TRY(read_setup(root, model, &s));
    if (merges && !cJSON_IsArray(merges) && !cJSON_IsNull(merges))
        return bs_fail(BS_ERR_FORMAT, "tokenizer.json: model.merges is not an array");
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added))
        return bs_fail(BS_ERR_FORMAT, "tokenizer.json: added_tokens is not an array");
    int32_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        int32_t id = json_id(it);
        if (id < 0 || !it->string)
            return bs_fail(BS_ERR_FORMAT, "tokenizer.json: vocab entry \"%.64s\" has no valid id",
                           it->string ? it->string : "");
        n = BS_MAX(n, id + 1);
    }
    cJSON_ArrayForEach(it, added) {
        int32_t id = json_id(cJSON_GetObjectItemCaseSensitive(it, "id"));
        if (id < 0 || !str_field(it, "content"))
            return bs_fail(BS_ERR_FORMAT, "tokenizer.json: an added token has no valid id/content");
        n = BS_MAX(n, id + 1);
    }
    /* Real vocabularies are dense; a huge id in a small file would only make
       us allocate for nothing. */
    int64_t entries = cJSON_GetArraySize(vocab) + cJSON_GetArraySize(added);
    if (n > 2 * entries + 4096)
        return bs_fail(BS_ERR_FORMAT, "tokenizer.json: ids up to %d for only %lld entries", n - 1,
                       (long long)entries);
    bs_tokenizer *t = NULL;
    BS_TRY(bs_tokenizer_create(s.kind, n, &t));
    bs_status st = BS_OK;
    const char *unk = str_field(model, "unk_token");
    int32_t unk_id = -1;
    cJSON_ArrayForEach(it, vocab) {
        const char *p = it->string;
        int32_t type = BS_TOKTYPE_NORMAL;
        if (unk && strcmp(p, unk) == 0) {
            type = BS_TOKTYPE_UNKNOWN;
            unk_id = json_id(it);
        } else if (s.kind == BS_TOKENIZER_SPM && s.byte_fallback && is_byte_piece(p)) type = BS_TOKTYPE_BYTE;
        int32_t id = json_id(it);
        if (t->tok[id].type != 0) {
            st = bs_fail(BS_ERR_FORMAT, "tokenizer.json: id %d appears twice in model.vocab", id);
            break;
        }
        st = bs_tokenizer_set_token(t, id, p, strlen(p), 0.0f, type);
        if (st != BS_OK) break;
    }
    cJSON_ArrayForEach(it, added) {
        if (st != BS_OK) break;
        const char *p = str_field(it, "content");
        int32_t type = bool_field(it, "special", 0) ? BS_TOKTYPE_CONTROL : BS_TOKTYPE_USER_DEFINED;
        st = bs_tokenizer_set_token(t, json_id(cJSON_GetObjectItemCaseSensitive(it, "id")), p, strlen(p),
                                    0.0f, type);
    }
    /* Ids no entry names (some vocabularies have holes): empty, unused. */
    for (int32_t id = 0; id < n && st == BS_OK; id++)
        if (t->tok[id].type == 0) st = bs_tokenizer_set_token(t, id, "", 0, 0.0f, BS_TOKTYPE_UNUSED);
    int32_t r = 0;
    const cJSON *merge_list = cJSON_IsArray(merges) ? merges : NULL;
    cJSON_ArrayForEach(it, merge_list) {
        if (st != BS_OK) break;
        const char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        st = merge_parts(it, r++, &a, &alen, &b, &blen);
        if (st == BS_OK) st = bs_tokenizer_add_merge(t, a, alen, b, blen);
    }
    if (st == BS_OK) {
        bs_tokenizer_set_pretok(t, s.pretok);
        bs_tokenizer_set_add_space_prefix(t, s.add_space_prefix);
        t->prefix_first_only = s.prefix_first_only;
        t->split_words = s.split_words;
        t->prefix_unless_space = s.prefix_unless_space;
        bs_tokenizer_set_ignore_merges(t, s.ignore_merges);
        /* The unknown token keeps its role even when added_tokens made it a
           special token. */
        t->unk = unk_id;
        st = bs_tokenizer_finalize(t);
    }
    if (st == BS_OK && s.kind == BS_TOKENIZER_SPM) derive_scores(t);
    if (st == BS_OK) st = guess_specials(t);
    if (st != BS_OK) {
        bs_tokenizer_free(t);
        return st;
    }
    *out = t;
    return BS_OK;
}

bs_status bs_tokenizer_load_hf_json(const char *json, size_t len, bs_tokenizer **out) {
    if (out) *out = NULL;
    if (!json || !out) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer.json: NULL argument");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long long off = at && at >= json && at <= json + len ? (long long)(at - json) : -1;
        return bs_fail(BS_ERR_FORMAT, "tokenizer.json: invalid JSON near byte %lld", off);
    }
    /* cJSON stops after the first value; anything but blanks after it
       means a damaged file. */
    for (const char *p = end; p && p < json + len && *p; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            cJSON_Delete(root);
            return bs_fail(BS_ERR_FORMAT, "tokenizer.json: unexpected data after the JSON value at byte %lld",
                           (long long)(p - json));
        }
    }
    bs_status st = cJSON_IsObject(root) ? build(root, out)
                                        : bs_fail(BS_ERR_FORMAT, "tokenizer.json: top level is not an object");
    cJSON_Delete(root);
    return st;
}
