/* tokenizer.c - the tokenizer object: token table, piece hash, merge table,
 * special tokens, encode dispatch, decode and introspection. The encoders
 * live in tok_spm.c and tok_bpe.c, the shared merge loop in tok_merge.c. */
#include "tok_internal.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

/* Pieces longer than this are surely a corrupt file (real ones are < 300
   bytes); the bound keeps every length arithmetic far from overflow. */
#define BS_TOK_MAX_PIECE (1u << 16)
#define BS_TOK_MAX_VOCAB (1 << 24)

bs_status bs_tokenizer_create(bs_tokenizer_kind kind, int32_t n_vocab,
                              bs_tokenizer **out) {
    if (!out) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL output");
    *out = NULL;
    if (kind != BS_TOKENIZER_SPM && kind != BS_TOKENIZER_BPE)
        return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: unknown kind %d", (int)kind);
    if (n_vocab < 1 || n_vocab > BS_TOK_MAX_VOCAB)
        return bs_fail(BS_ERR_RANGE, "tokenizer: vocabulary size %d out of range [1, %d]",
                       n_vocab, BS_TOK_MAX_VOCAB);
    bs_tokenizer *t = bs_calloc(1, sizeof *t);
    if (!t) return BS_ERR_NOMEM;
    t->kind = kind;
    t->n_vocab = n_vocab;
    t->bos = t->eos = t->unk = -1;
    t->add_space_prefix = 1;
    t->pretok = BS_PRETOK_GPT2;
    t->tok = bs_calloc((size_t)n_vocab, sizeof *t->tok);
    /* Never NULL, so that arena + off is valid even for empty pieces. */
    t->arena = bs_malloc(4096, 1);
    t->arena_cap = 4096;
    if (!t->tok || !t->arena) {
        free(t->tok);
        free(t->arena);
        free(t);
        return BS_ERR_NOMEM;
    }
    *out = t;
    return BS_OK;
}

void bs_tokenizer_free(bs_tokenizer *t) {
    if (!t) return;
    free(t->tok);
    free(t->arena);
    free(t->merges);
    free(t->eog);
    free(t->hash);
    free(t->mhash);
    free(t->special);
    free(t);
}

/* Appends n bytes to the arena; *off gets where they start. */
static bs_status arena_append(bs_tokenizer *t, const char *s, size_t n, uint32_t *off) {
    if (t->arena_len + n > UINT32_MAX)
        return bs_fail(BS_ERR_RANGE, "tokenizer: more than 4 GiB of piece text");
    if (t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap;
        while (cap < t->arena_len + n) cap *= 2;
        char *p = realloc(t->arena, cap);
        if (!p) return bs_fail(BS_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of pieces", cap);
        t->arena = p;
        t->arena_cap = cap;
    }
    if (n) memcpy(t->arena + t->arena_len, s, n);
    *off = (uint32_t)t->arena_len;
    t->arena_len += n;
    return BS_OK;
}

bs_status bs_tokenizer_set_token(bs_tokenizer *t, int32_t id, const char *piece,
                                 size_t len, float score, int32_t type) {
    if (!t || (!piece && len)) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (t->finalized) return bs_fail(BS_ERR_STATE, "tokenizer: set_token after finalize");
    if (id < 0 || id >= t->n_vocab)
        return bs_fail(BS_ERR_RANGE, "tokenizer: token id %d out of range [0, %d)", id, t->n_vocab);
    if (type < BS_TOKTYPE_NORMAL || type > BS_TOKTYPE_BYTE)
        return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: token %d has unknown type %d", id, type);
    if (score != score)
        return bs_fail(BS_ERR_FORMAT, "tokenizer: token %d has a NaN score", id);
    if (len > BS_TOK_MAX_PIECE)
        return bs_fail(BS_ERR_RANGE, "tokenizer: token %d is %zu bytes long (max %u)", id, len,
                       BS_TOK_MAX_PIECE);
    uint32_t off;
    BS_TRY(arena_append(t, piece, len, &off));
    /* Setting an id again replaces it: loaders first read the vocabulary,
       then let added tokens override type (and text). */
    t->tok[id].off = off;
    t->tok[id].len = (uint32_t)len;
    t->tok[id].score = score;
    t->tok[id].type = type;
    return BS_OK;
}

bs_status bs_tokenizer_add_merge(bs_tokenizer *t, const char *left, size_t llen,
                                 const char *right, size_t rlen) {
    if (!t || (!left && llen) || (!right && rlen))
        return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (t->finalized) return bs_fail(BS_ERR_STATE, "tokenizer: add_merge after finalize");
    if (llen == 0 || rlen == 0 || llen > BS_TOK_MAX_PIECE || rlen > BS_TOK_MAX_PIECE)
        return bs_fail(BS_ERR_FORMAT, "tokenizer: merge %d has a part of length %zu/%zu",
                       t->n_merges, llen, rlen);
    if (t->n_merges == INT32_MAX - 1)
        return bs_fail(BS_ERR_RANGE, "tokenizer: too many merges");
    if (t->n_merges == t->merges_cap) {
        int32_t cap = t->merges_cap ? (t->merges_cap > INT32_MAX / 2 ? INT32_MAX - 1 : t->merges_cap * 2) : 1024;
        bs_tok_mergedef *p = realloc(t->merges, (size_t)cap * sizeof *p);
        if (!p) return bs_fail(BS_ERR_NOMEM, "tokenizer: out of memory for %d merges", cap);
        t->merges = p;
        t->merges_cap = cap;
    }
    uint32_t off, off2;
    BS_TRY(arena_append(t, left, llen, &off));
    BS_TRY(arena_append(t, right, rlen, &off2));
    bs_tok_mergedef *m = &t->merges[t->n_merges++];
    m->off = off;
    m->llen = (uint32_t)llen;
    m->rlen = (uint32_t)rlen;
    return BS_OK;
}

void bs_tokenizer_set_bos_eos(bs_tokenizer *t, int32_t bos, int32_t eos) {
    if (!t) return;
    t->bos = bos >= 0 && bos < t->n_vocab ? bos : -1;
    t->eos = eos >= 0 && eos < t->n_vocab ? eos : -1;
}

bs_status bs_tokenizer_add_eog(bs_tokenizer *t, int32_t id) {
    if (!t) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (id < 0 || id >= t->n_vocab)
        return bs_fail(BS_ERR_RANGE, "tokenizer: end-of-generation id %d out of range [0, %d)",
                       id, t->n_vocab);
    for (int32_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return BS_OK;
    if (t->n_eog >= 1024) return bs_fail(BS_ERR_RANGE, "tokenizer: too many end-of-generation ids");
    int32_t *p = realloc(t->eog, (size_t)(t->n_eog + 1) * sizeof *p);
    if (!p) return bs_fail(BS_ERR_NOMEM, "tokenizer: out of memory");
    t->eog = p;
    t->eog[t->n_eog++] = id;
    return BS_OK;
}

void bs_tokenizer_set_pretok(bs_tokenizer *t, bs_pretok pre) {
    if (t && (pre == BS_PRETOK_GPT2 || pre == BS_PRETOK_SMOLLM || pre == BS_PRETOK_LLAMA3))
        t->pretok = pre;
}

void bs_tokenizer_set_add_space_prefix(bs_tokenizer *t, int on) {
    if (t) t->add_space_prefix = on ? 1 : 0;
}

void bs_tokenizer_set_ignore_merges(bs_tokenizer *t, int on) {
    if (t) t->ignore_merges = on ? 1 : 0;
}

/* ---- hashing ---- */

/* FNV-1a: pieces are short, so a byte loop is as fast as anything. */
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

/* Smallest power of two >= 2n (load factor <= 1/2). */
static size_t table_size(size_t n) {
    size_t s = 16;
    while (s < 2 * n) s *= 2;
    return s;
}

static int piece_eq(const bs_tokenizer *t, int32_t id, const char *s, size_t n) {
    return t->tok[id].len == n && memcmp(bs_tok_piece(t, id), s, n) == 0;
}

int32_t bs_tok_lookup(const bs_tokenizer *t, const char *s, size_t n) {
    if (!t->hash) return -1;
    for (size_t i = hash_bytes(s, n) & t->hash_mask;; i = (i + 1) & t->hash_mask) {
        int32_t id = t->hash[i];
        if (id < 0) return -1;
        if (piece_eq(t, id, s, n)) return id;
    }
}

static bs_status build_piece_hash(bs_tokenizer *t) {
    size_t size = table_size((size_t)t->n_vocab);
    t->hash = bs_malloc(size, sizeof *t->hash);
    if (!t->hash) return BS_ERR_NOMEM;
    memset(t->hash, 0xff, size * sizeof *t->hash);
    t->hash_mask = size - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *p = bs_tok_piece(t, id);
        size_t n = t->tok[id].len;
        if (n == 0) continue;   /* placeholders for holes in a vocabulary */
        size_t i = hash_bytes(p, n) & t->hash_mask;
        for (;; i = (i + 1) & t->hash_mask) {
            int32_t other = t->hash[i];
            if (other < 0) {
                t->hash[i] = id;
                break;
            }
            if (piece_eq(t, other, p, n)) {
                /* Duplicate text: the lowest id wins, except that a piece
                   that can come out of merges beats one that cannot. */
                if (!bs_tok_mergeable(t->tok[other].type) && bs_tok_mergeable(t->tok[id].type))
                    t->hash[i] = id;
                break;
            }
        }
    }
    return BS_OK;
}

static bs_status build_merge_hash(bs_tokenizer *t) {
    size_t size = table_size((size_t)t->n_merges);
    t->mhash = bs_malloc(size, sizeof *t->mhash);
    if (!t->mhash) return BS_ERR_NOMEM;
    for (size_t i = 0; i < size; i++) t->mhash[i].key = UINT64_MAX;
    t->mhash_mask = size - 1;
    for (int32_t r = 0; r < t->n_merges; r++) {
        const bs_tok_mergedef *m = &t->merges[r];
        const char *s = t->arena + m->off;
        int32_t l = bs_tok_lookup(t, s, m->llen);
        int32_t rr = bs_tok_lookup(t, s + m->llen, m->rlen);
        int32_t res = bs_tok_lookup(t, s, (size_t)m->llen + m->rlen);
        if (l < 0 || rr < 0 || res < 0)
            return bs_fail(BS_ERR_FORMAT,
                           "tokenizer: merge %d (\"%.*s\" + \"%.*s\"): %s is not in the vocabulary",
                           r, (int)BS_MIN(m->llen, 64u), s, (int)BS_MIN(m->rlen, 64u), s + m->llen,
                           l < 0 ? "the left part" : rr < 0 ? "the right part" : "the result");
        uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)rr;
        size_t i = bs_tok_hash_pair(key) & t->mhash_mask;
        while (t->mhash[i].key != UINT64_MAX && t->mhash[i].key != key)
            i = (i + 1) & t->mhash_mask;
        /* A repeated rule keeps the later rank, as Hugging Face's map does. */
        t->mhash[i].key = key;
        t->mhash[i].rank = r;
        t->mhash[i].result = res;
    }
    return BS_OK;
}

/* Parses "<0xAB>" into 0xAB; -1 if the piece has another form. */
static int parse_byte_piece(const char *p, size_t n) {
    if (n != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
              : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

typedef struct special_key {
    uint8_t first;          /* first byte of the piece                    */
    uint32_t len;
    int32_t id;
} special_key;

/* By first byte, then longest first (so the first match is the longest),
   then by id. */
static int special_cmp(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static bs_status build_specials(bs_tokenizer *t) {
    int32_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int32_t ty = t->tok[id].type;
        if ((ty == BS_TOKTYPE_CONTROL || ty == BS_TOKTYPE_USER_DEFINED) && t->tok[id].len) n++;
    }
    t->special = bs_malloc((size_t)n + 1, sizeof *t->special);
    special_key *keys = bs_malloc((size_t)n + 1, sizeof *keys);
    if (!t->special || !keys) {
        free(keys);
        return BS_ERR_NOMEM;
    }
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int32_t ty = t->tok[id].type;
        if ((ty == BS_TOKTYPE_CONTROL || ty == BS_TOKTYPE_USER_DEFINED) && t->tok[id].len) {
            special_key *k = &keys[t->n_special++];
            k->first = (uint8_t)bs_tok_piece(t, id)[0];
            k->len = t->tok[id].len;
            k->id = id;
        }
    }
    qsort(keys, (size_t)t->n_special, sizeof *keys, special_cmp);
    for (int32_t i = 0; i < t->n_special; i++) t->special[i] = keys[i].id;
    free(keys);
    int32_t k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < t->n_special && (uint8_t)bs_tok_piece(t, t->special[k])[0] < b) k++;
        t->special_start[b] = k;
    }
    return BS_OK;
}

static void build_byte_ids(bs_tokenizer *t) {
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    if (t->kind == BS_TOKENIZER_SPM) {
        for (int32_t id = 0; id < t->n_vocab; id++) {
            if (t->tok[id].type != BS_TOKTYPE_BYTE) continue;
            int b = parse_byte_piece(bs_tok_piece(t, id), t->tok[id].len);
            if (b >= 0 && t->byte_id[b] < 0) t->byte_id[b] = id;
        }
    } else {
        for (int b = 0; b < 256; b++) {
            char u[4];
            size_t n = bs_utf8_encode(bs_bpe_byte_to_cp((uint8_t)b), u);
            t->byte_id[b] = bs_tok_lookup(t, u, n);
        }
    }
}

/* Whether every piece a merge can make is "▁"* followed by no "▁": then
   merges never cross the start of a run of "▁" that follows another
   character. (In rank mode a rule may make a piece of any type.) */
static int spm_word_safe(const bs_tokenizer *t) {
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!t->mhash && !bs_tok_mergeable(t->tok[id].type)) continue;
        const char *p = bs_tok_piece(t, id);
        size_t n = t->tok[id].len, i = 0;
        while (i + 3 <= n && memcmp(p + i, "\xE2\x96\x81", 3) == 0) i += 3;
        for (; i + 3 <= n; i++)
            if (memcmp(p + i, "\xE2\x96\x81", 3) == 0) return 0;
    }
    return 1;
}

bs_status bs_tokenizer_finalize(bs_tokenizer *t) {
    if (!t) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (t->finalized) return BS_OK;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->tok[id].type == 0)
            return bs_fail(BS_ERR_FORMAT, "tokenizer: token %d of %d was never set", id, t->n_vocab);
    BS_TRY(build_piece_hash(t));
    if (t->n_merges > 0) BS_TRY(build_merge_hash(t));
    build_byte_ids(t);
    BS_TRY(build_specials(t));
    t->spm_word_safe = t->kind == BS_TOKENIZER_SPM && spm_word_safe(t);
    if (t->unk < 0)
        for (int32_t id = 0; id < t->n_vocab && t->unk < 0; id++)
            if (t->tok[id].type == BS_TOKTYPE_UNKNOWN) t->unk = id;
    t->finalized = 1;
    return BS_OK;
}

/* ---- encode ---- */

/* Encodes text between special tokens. *prefix: whether this fragment
   gets SentencePiece's dummy prefix; cleared once a fragment used it when
   only the first fragment may have one (Metaspace "first"). */
static bs_status encode_fragment(const bs_tokenizer *t, bs_tok_ws *ws, const char *s,
                                 size_t n, int *prefix, bs_tok_out *out) {
    if (n == 0) return BS_OK;
    if (t->kind != BS_TOKENIZER_SPM) return bs_tok_encode_bpe(t, ws, s, n, out);
    int p = *prefix && t->add_space_prefix;
    if (t->prefix_first_only) *prefix = 0;
    return bs_tok_encode_spm(t, ws, s, n, p, out);
}

/* The longest special token at s[0..n), or -1. */
static int32_t match_special(const bs_tokenizer *t, const char *s, size_t n) {
    uint8_t b = (uint8_t)s[0];
    for (int32_t k = t->special_start[b]; k < t->special_start[b + 1]; k++) {
        int32_t id = t->special[k];
        size_t len = t->tok[id].len;
        if (len <= n && memcmp(s, bs_tok_piece(t, id), len) == 0) return id;
    }
    return -1;
}

bs_status bs_tokenizer_encode(const bs_tokenizer *t, const char *text, size_t len,
                              uint32_t flags, int32_t *ids, int32_t cap, int32_t *n_out) {
    if (n_out) *n_out = 0;
    if (!t || !n_out || (!text && len) || cap < 0 || (!ids && cap > 0))
        return bs_fail(BS_ERR_INVALID_ARG, "tokenize: bad arguments");
    if (!t->finalized) return bs_fail(BS_ERR_STATE, "tokenize: tokenizer not finalized");
    if (flags & ~(uint32_t)(BS_TOKENIZE_BOS | BS_TOKENIZE_SPECIAL))
        return bs_fail(BS_ERR_INVALID_ARG, "tokenize: unknown flags 0x%x", (unsigned)flags);
    bs_tok_out out = {ids, cap, 0};
    bs_tok_ws ws;
    memset(&ws, 0, sizeof ws);
    /* A model without BOS (many byte-level ones) just gets none. */
    if ((flags & BS_TOKENIZE_BOS) && t->bos >= 0) bs_tok_emit(&out, t->bos);
    bs_status st = BS_OK;
    size_t frag = 0;
    /* The dummy prefix goes on the first fragment and, as the Hugging
       Face Prepend normalizer and llama.cpp do, on every fragment after a
       special token. */
    int prefix = 1;
    if ((flags & BS_TOKENIZE_SPECIAL) && t->n_special > 0) {
        for (size_t i = 0; i < len && st == BS_OK;) {
            int32_t id = match_special(t, text + i, len - i);
            if (id < 0) {
                i++;
                continue;
            }
            st = encode_fragment(t, &ws, text + frag, i - frag, &prefix, &out);
            bs_tok_emit(&out, id);
            i += t->tok[id].len;
            frag = i;
            if (!t->prefix_first_only) prefix = 1;
        }
    }
    if (st == BS_OK && len > frag) st = encode_fragment(t, &ws, text + frag, len - frag, &prefix, &out);
    bs_tok_ws_free(&ws);
    if (st != BS_OK) return st;
    if (out.n > INT32_MAX) return bs_fail(BS_ERR_RANGE, "tokenize: more than 2^31 tokens");
    *n_out = (int32_t)out.n;
    if (out.n > cap)
        return bs_fail(BS_ERR_RANGE, "tokenize: %lld tokens do not fit in %d", (long long)out.n, cap);
    return BS_OK;
}

/* ---- decode ---- */

static bs_status put(char *buf, size_t cap, size_t *len, const char *s, size_t n) {
    if (*len + n <= cap) memcpy(buf + *len, s, n);
    *len += n;
    return BS_OK;
}

bs_status bs_tokenizer_decode(const bs_tokenizer *t, int32_t prev, int32_t id, char *buf,
                              size_t cap, size_t *len) {
    if (len) *len = 0;
    if (!t || !len || (!buf && cap)) return bs_fail(BS_ERR_INVALID_ARG, "detokenize: bad arguments");
    if (!t->finalized) return bs_fail(BS_ERR_STATE, "detokenize: tokenizer not finalized");
    if (id < 0 || id >= t->n_vocab)
        return bs_fail(BS_ERR_RANGE, "detokenize: token %d out of range [0, %d)", id, t->n_vocab);
    const bs_tok_entry *e = &t->tok[id];
    const char *p = bs_tok_piece(t, id);
    size_t n = 0;
    if (e->type == BS_TOKTYPE_CONTROL || e->type == BS_TOKTYPE_USER_DEFINED ||
        e->type == BS_TOKTYPE_UNKNOWN) {
        /* Special tokens give their text; generation loops stop on
           bs_tokenizer_is_eog before printing them. */
        put(buf, cap, &n, p, e->len);
    } else if (t->kind == BS_TOKENIZER_SPM) {
        int byte = e->type == BS_TOKTYPE_BYTE ? parse_byte_piece(p, e->len) : -1;
        if (byte >= 0) {
            char c = (char)byte;
            put(buf, cap, &n, &c, 1);
        } else {
            /* The dummy prefix the encoder added at the start of the text
               or after a special token is not part of the text. */
            int drop = t->add_space_prefix &&
                       (prev < 0 || prev == t->bos ||
                        (!t->prefix_first_only && prev < t->n_vocab &&
                         (t->tok[prev].type == BS_TOKTYPE_CONTROL ||
                          t->tok[prev].type == BS_TOKTYPE_USER_DEFINED)));
            for (size_t i = 0; i < e->len;) {
                if (i + 3 <= e->len && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
                    if (!(drop && i == 0)) put(buf, cap, &n, " ", 1);
                    i += 3;
                } else {
                    if (drop && i == 0 && p[0] == ' ') { i++; continue; }
                    put(buf, cap, &n, p + i, 1);
                    i++;
                }
            }
        }
    } else {
        /* Byte-level: every character maps back to one byte; a piece with
           a character outside the mapping is emitted as UTF-8 text, as the
           Hugging Face ByteLevel decoder does. */
        const uint8_t *u = (const uint8_t *)p;
        int ok = 1;
        for (size_t i = 0; i < e->len && ok;) {
            int32_t cp;
            i += bs_utf8_decode(u + i, e->len - i, &cp);
            int b = bs_bpe_cp_to_byte(cp);
            if (b < 0) {
                ok = 0;
                break;
            }
            char c = (char)b;
            put(buf, cap, &n, &c, 1);
        }
        if (!ok) {
            n = 0;
            put(buf, cap, &n, p, e->len);
        }
    }
    *len = n;
    if (n > cap)
        return bs_fail(BS_ERR_RANGE, "detokenize: token %d needs %zu bytes, buffer has %zu", id, n, cap);
    return BS_OK;
}

/* ---- introspection ---- */

bs_tokenizer_kind bs_tokenizer_get_kind(const bs_tokenizer *t) {
    return t ? t->kind : BS_TOKENIZER_NONE;
}

int32_t bs_tokenizer_n_vocab(const bs_tokenizer *t) { return t ? t->n_vocab : 0; }

bs_status bs_tokenizer_get_token(const bs_tokenizer *t, int32_t id, const char **piece,
                                 size_t *len, float *score, int32_t *type) {
    if (!t) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (id < 0 || id >= t->n_vocab)
        return bs_fail(BS_ERR_RANGE, "tokenizer: token %d out of range [0, %d)", id, t->n_vocab);
    const bs_tok_entry *e = &t->tok[id];
    if (piece) *piece = bs_tok_piece(t, id);
    if (len) *len = e->len;
    if (score) *score = e->score;
    if (type) *type = e->type;
    return BS_OK;
}

int32_t bs_tokenizer_n_merges(const bs_tokenizer *t) { return t ? t->n_merges : 0; }

bs_status bs_tokenizer_get_merge(const bs_tokenizer *t, int32_t i, const char **left,
                                 size_t *llen, const char **right, size_t *rlen) {
    if (!t) return bs_fail(BS_ERR_INVALID_ARG, "tokenizer: NULL argument");
    if (i < 0 || i >= t->n_merges)
        return bs_fail(BS_ERR_RANGE, "tokenizer: merge %d out of range [0, %d)", i, t->n_merges);
    const bs_tok_mergedef *m = &t->merges[i];
    if (left) *left = t->arena + m->off;
    if (llen) *llen = m->llen;
    if (right) *right = t->arena + m->off + m->llen;
    if (rlen) *rlen = m->rlen;
    return BS_OK;
}

int32_t bs_tokenizer_bos(const bs_tokenizer *t) { return t ? t->bos : -1; }
int32_t bs_tokenizer_eos(const bs_tokenizer *t) { return t ? t->eos : -1; }

int bs_tokenizer_is_eog(const bs_tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n_vocab) return 0;
    /* EOS and the declared end-of-turn tokens only: other control tokens
       (BOS, <|im_start|>) do not end a reply */
    if (id == t->eos) return 1;
    for (int32_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}

bs_pretok bs_tokenizer_get_pretok(const bs_tokenizer *t) { return t ? t->pretok : BS_PRETOK_GPT2; }

int bs_tokenizer_get_add_space_prefix(const bs_tokenizer *t) {
    return t ? t->add_space_prefix : 0;
}

int32_t bs_tokenizer_find(const bs_tokenizer *t, const char *piece, size_t len) {
    if (!t || !t->finalized || (!piece && len) || len == 0) return -1;
    /* The hash keeps one id per text; a special token wins over a normal
       piece of the same text only when no normal one exists, so look for
       an exact special match first. */
    uint8_t b = (uint8_t)piece[0];
    for (int32_t k = t->special_start[b]; k < t->special_start[b + 1]; k++)
        if (piece_eq(t, t->special[k], piece, len)) return t->special[k];
    return bs_tok_lookup(t, piece, len);
}
