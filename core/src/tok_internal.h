/* tok_internal.h - the tokenizer object and the pieces shared by its files
 * (tokenizer.c, tok_merge.c, tok_spm.c, tok_bpe.c, tokenizer_load*.c).
 *
 * Both kinds run the same merge engine (tok_merge.c): the text becomes a
 * doubly linked list of symbols, every adjacent pair that may merge goes
 * into a binary heap keyed by (priority, position), and the best pair is
 * merged until none is left. That is what sentencepiece's BPE model and
 * Hugging Face's BPE do, in O(n log n); stale heap entries are detected
 * by the byte length of the pair, as sentencepiece does.
 *   - SPM "score" mode: a pair merges if the concatenation of its bytes is
 *     a piece; priority = the piece's score, highest first (llama2.c /
 *     sentencepiece tokenizer.model / GGUF).
 *   - "rank" mode: a pair merges if (left id, right id) is a merge rule;
 *     priority = the rule's rank, lowest first (byte-level BPE, and SPM
 *     vocabularies loaded from a tokenizer.json with merges).
 * Ties go to the leftmost pair in both.
 */
#ifndef BS_TOK_INTERNAL_H
#define BS_TOK_INTERNAL_H

#include "tokenizer.h"

typedef struct bs_tok_entry {
    uint32_t off;           /* piece bytes at arena + off                 */
    uint32_t len;           /* piece length in bytes                      */
    float score;            /* SPM merge score (higher merges first)      */
    int32_t type;           /* BS_TOKTYPE_*; 0 while unset                */
} bs_tok_entry;

typedef struct bs_tok_mergedef {
    uint32_t off;           /* left bytes then right bytes at arena + off */
    uint32_t llen, rlen;
} bs_tok_mergedef;

typedef struct bs_tok_mslot {
    uint64_t key;           /* (uint64)left << 32 | right; ~0: empty     */
    int32_t rank;           /* merge order, 0 = first                     */
    int32_t result;         /* id of left + right                         */
} bs_tok_mslot;

struct bs_tokenizer {
    bs_tokenizer_kind kind;
    int32_t n_vocab;
    int finalized;

    bs_tok_entry *tok;      /* (n_vocab)                                  */
    char *arena;            /* piece and merge bytes                      */
    size_t arena_len, arena_cap;

    bs_tok_mergedef *merges;/* (n_merges) in rank order                   */
    int32_t n_merges, merges_cap;

    int32_t bos, eos, unk;  /* -1: none                                   */
    int32_t *eog;           /* extra end-of-generation ids (n_eog)        */
    int32_t n_eog;
    bs_pretok pretok;
    int add_space_prefix;   /* SPM: prepend U+2581                        */
    int prefix_first_only;  /* SPM: only on the first text fragment, not
                               after special tokens (Metaspace "first")  */
    int split_words;        /* SPM: merge each "▁word" alone (Metaspace
                               split=true)                               */
    int prefix_unless_space;/* SPM: no dummy prefix when the text already
                               starts with a space (Metaspace)            */
    int spm_word_safe;      /* SPM: no mergeable piece has "▁" after
                               another character (set by finalize)       */
    int ignore_merges;      /* BPE: a whole word in the vocab is one token */

    /* Built by finalize. */
    int32_t *hash;          /* piece -> id, open addressing; -1 empty     */
    size_t hash_mask;
    bs_tok_mslot *mhash;    /* (left, right) -> merge; NULL: score mode   */
    size_t mhash_mask;
    int32_t byte_id[256];   /* SPM: <0xXX> token; BPE: byte-level char    */
    int32_t *special;       /* CONTROL/USER_DEFINED ids with text, sorted
                               by first byte, then longest first          */
    int32_t n_special;
    int32_t special_start[257]; /* special[start[b]..start[b+1]) begin
                                   with byte b                           */
};

/* ---- lookups (tokenizer.c) ---- */

/* Id of the piece s[0..len), or -1. */
int32_t bs_tok_lookup(const bs_tokenizer *t, const char *s, size_t len);

static inline const char *bs_tok_piece(const bs_tokenizer *t, int32_t id) {
    return t->arena + t->tok[id].off;
}

/* Whether the piece may take part in merges. sentencepiece merges
   NORMAL, USER_DEFINED and UNUSED pieces; CONTROL, BYTE and UNKNOWN pieces
   never come out of text. */
static inline int bs_tok_mergeable(int32_t type) {
    return type == BS_TOKTYPE_NORMAL || type == BS_TOKTYPE_USER_DEFINED ||
           type == BS_TOKTYPE_UNUSED;
}

/* Mixes a (left id, right id) key for the merge table. */
static inline uint64_t bs_tok_hash_pair(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    return key ^ (key >> 33);
}

/* ---- output (every encoder writes through it) ---- */

typedef struct bs_tok_out {
    int32_t *ids;
    int64_t cap;
    int64_t n;              /* ids produced so far (may exceed cap)       */
} bs_tok_out;

static inline void bs_tok_emit(bs_tok_out *o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

/* ---- merge engine (tok_merge.c) ---- */

typedef struct bs_tok_sym {
    uint32_t start, len;    /* bytes of the symbol in the text            */
    int32_t id;             /* token id, -1 when the bytes are no token   */
    int32_t prev, next;     /* neighbours in the list, -1 at the ends     */
} bs_tok_sym;

typedef struct bs_tok_pair {
    double key;             /* lower merges first: -score, or rank        */
    int32_t left, right;    /* symbol indices                             */
    int32_t id;             /* the merged token                           */
    uint32_t len;           /* left.len + right.len when pushed           */
} bs_tok_pair;

typedef struct bs_tok_centry {
    uint64_t hash;
    uint32_t off;           /* word bytes in cbytes                       */
    uint32_t ids_off;       /* its ids in cids                            */
    uint16_t len;           /* word length; 0: empty slot                 */
    uint16_t n_ids;
} bs_tok_centry;

/* Scratch reused across the words of one encode call (not shared between
   calls, so encoding stays thread-safe), including a cache of the ids of
   the words seen so far: natural text repeats its words, and a hit skips
   the merge loop. */
typedef struct bs_tok_ws {
    bs_tok_sym *sym;
    size_t sym_cap;
    bs_tok_pair *heap;
    size_t heap_n, heap_cap;
    char *buf;              /* normalized text (SPM)                      */
    size_t buf_cap;
    int32_t *tmp;           /* ids of the word being encoded              */
    size_t tmp_cap;
    bs_tok_centry *cache;   /* open addressing, power-of-two size         */
    size_t cache_mask, cache_n;
    char *cbytes;
    size_t cbytes_len, cbytes_cap;
    int32_t *cids;
    size_t cids_len, cids_cap;
} bs_tok_ws;

bs_status bs_tok_ws_reserve(bs_tok_ws *ws, size_t n_sym, size_t n_buf);
void bs_tok_ws_free(bs_tok_ws *ws);

/* Encodes one word (a unit that merges never cross) with fn, through the
   word cache of ws. fn must emit at most one id per byte of the word. */
typedef bs_status (*bs_tok_word_fn)(const bs_tokenizer *t, bs_tok_ws *ws,
                                    const char *w, size_t n, bs_tok_out *out);
bs_status bs_tok_encode_cached(const bs_tokenizer *t, bs_tok_ws *ws,
                               const char *w, size_t n, bs_tok_word_fn fn,
                               bs_tok_out *out);

/* Merges the symbols ws->sym[0..n) (linked 0 -> n-1) over text. by_rank:
   use t->mhash, else piece scores. The survivors stay linked from 0. */
bs_status bs_tok_merge(const bs_tokenizer *t, bs_tok_ws *ws, const char *text,
                       int32_t n, int by_rank);

/* ---- per-kind encoders of one text fragment (no special tokens in it) */

/* prefix: prepend the dummy "▁" (add_space_prefix is on and the fragment
   is the first one or follows a special token). */
bs_status bs_tok_encode_spm(const bs_tokenizer *t, bs_tok_ws *ws,
                            const char *text, size_t len, int prefix,
                            bs_tok_out *out);
bs_status bs_tok_encode_bpe(const bs_tokenizer *t, bs_tok_ws *ws,
                            const char *text, size_t len, bs_tok_out *out);

/* ---- GPT-2 byte-to-unicode mapping (tok_bpe.c) ---- */

/* The code point GPT-2 uses to print byte b. */
uint32_t bs_bpe_byte_to_cp(uint8_t b);
/* The byte a code point stands for, or -1 if it is not in the mapping. */
int bs_bpe_cp_to_byte(int32_t cp);

/* ---- pre-tokenizers (tok_pretok.c) ---- */

/* Length of the next pre-token of s[0..n) (n >= 1) under a regex split. */
size_t bs_pretok_gpt2(const uint8_t *s, size_t n);
size_t bs_pretok_llama3(const uint8_t *s, size_t n);

#endif
