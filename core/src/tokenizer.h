/* tokenizer.h - SentencePiece-BPE and byte-level BPE tokenizers.
 *
 * One object serves both kinds. Importers build it token by token, then
 * finalize it; after that it is read-only and thread-safe.
 *
 * Pieces are stored as the model stores them:
 *   - SPM: SentencePiece text, the space as U+2581 "▁" (llama2.c
 *     tokenizer.bin files store ' ', which their loader maps back to "▁"),
 *     byte tokens as "<0xAB>" with type BS_TOKTYPE_BYTE;
 *   - BPE: GPT-2 byte-to-unicode text ("Ġ" for the space byte), with merges
 *     in rank order.
 *
 * Special tokens (types CONTROL and USER_DEFINED) are matched in the text
 * only with BS_TOKENIZE_SPECIAL, longest first; the text between them is
 * encoded normally, and for SPM each such fragment gets the dummy "▁" (as
 * the Hugging Face Prepend normalizer and llama.cpp do). Decoding drops that
 * space again at the start (prev < 0), after BOS and after a special token,
 * so decode(encode(s)) == s for SPM (with every U+2581 in s read as ' ') and
 * byte-level BPE alike. CONTROL/USER_DEFINED/UNKNOWN tokens decode to their
 * text. bs_tokenizer_set_bos_eos and bs_tokenizer_add_eog may also be called
 * after finalize, before the tokenizer is shared.
 */
#ifndef BS_TOKENIZER_H
#define BS_TOKENIZER_H

#include "internal.h"
#include "reader.h"

typedef struct bs_tokenizer bs_tokenizer;

/* Token types, the values GGUF (tokenizer.ggml.token_type) uses. */
enum {
    BS_TOKTYPE_NORMAL = 1,
    BS_TOKTYPE_UNKNOWN = 2,
    BS_TOKTYPE_CONTROL = 3,
    BS_TOKTYPE_USER_DEFINED = 4,
    BS_TOKTYPE_UNUSED = 5,
    BS_TOKTYPE_BYTE = 6
};

/* Pre-tokenizers of byte-level BPE (how text is split before merging). */
typedef enum bs_pretok {
    BS_PRETOK_GPT2 = 0,     /* GPT-2 regex                                  */
    BS_PRETOK_SMOLLM = 1,   /* every digit alone, then the GPT-2 regex      */
    BS_PRETOK_LLAMA3 = 2    /* Llama 3 regex (digits in runs of 1-3)        */
} bs_pretok;

bs_status bs_tokenizer_create(bs_tokenizer_kind kind, int32_t n_vocab,
                              bs_tokenizer **out);
void bs_tokenizer_free(bs_tokenizer *t);

/* Defines token id (0 <= id < n_vocab). Every id must be set once. */
bs_status bs_tokenizer_set_token(bs_tokenizer *t, int32_t id,
                                 const char *piece, size_t len, float score,
                                 int32_t type);
/* BPE: appends a merge "left right" (rank = order of calls). */
bs_status bs_tokenizer_add_merge(bs_tokenizer *t, const char *left,
                                 size_t llen, const char *right, size_t rlen);
/* -1 for none. */
void bs_tokenizer_set_bos_eos(bs_tokenizer *t, int32_t bos, int32_t eos);
/* Extra end-of-generation tokens (e.g. <|im_end|>, <|eot_id|>). */
bs_status bs_tokenizer_add_eog(bs_tokenizer *t, int32_t id);
void bs_tokenizer_set_pretok(bs_tokenizer *t, bs_pretok pre);
/* SPM: whether a "▁" is prepended to the text (default 1). */
void bs_tokenizer_set_add_space_prefix(bs_tokenizer *t, int on);
/* BPE: a pre-tokenized word that is itself a token is taken whole instead
   of merged (Hugging Face ignore_merges; Llama 3). Default 0. */
void bs_tokenizer_set_ignore_merges(bs_tokenizer *t, int on);
/* Builds lookup tables and validates; required before encode/decode. */
bs_status bs_tokenizer_finalize(bs_tokenizer *t);

/* Encoding and decoding, with the semantics of bs_tokenize and
   bs_detokenize in bitstack.h. */
bs_status bs_tokenizer_encode(const bs_tokenizer *t, const char *text,
                              size_t len, uint32_t flags, int32_t *ids,
                              int32_t cap, int32_t *n_out);
bs_status bs_tokenizer_decode(const bs_tokenizer *t, int32_t prev,
                              int32_t id, char *buf, size_t cap,
                              size_t *len);

/* Introspection, for writing the tokenizer into other files. */
bs_tokenizer_kind bs_tokenizer_get_kind(const bs_tokenizer *t);
int32_t bs_tokenizer_n_vocab(const bs_tokenizer *t);
bs_status bs_tokenizer_get_token(const bs_tokenizer *t, int32_t id,
                                 const char **piece, size_t *len,
                                 float *score, int32_t *type);
int32_t bs_tokenizer_n_merges(const bs_tokenizer *t);
bs_status bs_tokenizer_get_merge(const bs_tokenizer *t, int32_t i,
                                 const char **left, size_t *llen,
                                 const char **right, size_t *rlen);
int32_t bs_tokenizer_bos(const bs_tokenizer *t);
int32_t bs_tokenizer_eos(const bs_tokenizer *t);
int bs_tokenizer_is_eog(const bs_tokenizer *t, int32_t id);
bs_pretok bs_tokenizer_get_pretok(const bs_tokenizer *t);
int bs_tokenizer_get_add_space_prefix(const bs_tokenizer *t);
/* Exact piece lookup (special tokens included); -1 when absent. */
int32_t bs_tokenizer_find(const bs_tokenizer *t, const char *piece,
                          size_t len);

/* Loaders of tokenizer files. */
/* llama2.c tokenizer.bin (max_token_length, then per token: f32 score,
   i32 length, bytes). vocab_size comes from the model header (0: as many
   tokens as the file holds). BOS=1, EOS=2, ids 3..258 are <0xXX> byte
   tokens when present. */
bs_status bs_tokenizer_load_llama2c(bs_reader *r, int32_t vocab_size,
                                    bs_tokenizer **out);
/* Hugging Face tokenizer.json (model BPE; byte-level, or SentencePiece-
   style with byte_fallback and "▁"), added_tokens as special tokens. */
bs_status bs_tokenizer_load_hf_json(const char *json, size_t len,
                                    bs_tokenizer **out);

#endif
