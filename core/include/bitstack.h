/*
 * bitstack.h - the one public header of libbitstack.
 *
 * Load a Llama-family model (llama2.c .bin, GGUF, Hugging Face directory),
 * tokenize, run it, sample:
 *
 *     bs_model *m = NULL;
 *     if (bs_model_load("stories260K.bin", NULL, &m) != BS_OK)
 *         fprintf(stderr, "%s\n", bs_last_error());
 *     bs_session *s = NULL;
 *     bs_session_create(m, NULL, &s);
 *     int32_t ids[64]; int32_t n = 0;
 *     bs_tokenize(m, "Once", 4, BS_TOKENIZE_BOS, ids, 64, &n);
 *     const float *logits = NULL;
 *     bs_session_eval(s, ids, n, &logits);            // logits of the last token
 *     ...
 *     bs_session_free(s); bs_model_free(m);
 *
 * Thread safety: a bs_model is read-only after loading and may be shared by
 * any number of sessions on any threads; a bs_session is used by one thread
 * at a time. The last-error string is thread-local.
 *
 * Errors: every fallible call returns a bs_status; values are pinned and never
 * reused. bs_last_error() gives a human-readable detail of the most recent
 * failure on the calling thread. No function calls exit() or abort() on bad
 * input.
 */
#ifndef BITSTACK_H
#define BITSTACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define BS_API __attribute__((visibility("default")))
#else
#define BS_API
#endif

/* ---- status ------------------------------------------------------------ */

typedef enum bs_status {
    BS_OK = 0,
    BS_ERR_INVALID_ARG = 1,   /* a caller passed something impossible      */
    BS_ERR_IO = 2,            /* open/read/write failed                    */
    BS_ERR_FORMAT = 3,        /* bytes do not follow the format            */
    BS_ERR_UNSUPPORTED = 4,   /* valid, but a feature we do not implement  */
    BS_ERR_NOMEM = 5,         /* allocation failed                         */
    BS_ERR_TRUNCATED = 6,     /* the input ends early                      */
    BS_ERR_CHECKSUM = 7,      /* stored checksum does not match            */
    BS_ERR_RANGE = 8,         /* an index or size out of range             */
    BS_ERR_VERSION = 9,       /* a newer format version than we read       */
    BS_ERR_STATE = 10         /* call not valid in the object's state      */
} bs_status;

/* "BS_OK", "BS_ERR_FORMAT", ...; never NULL. */
BS_API const char *bs_status_name(bs_status status);
/* Detail of the last failure on this thread ("" if none). */
BS_API const char *bs_last_error(void);

/* ---- model ------------------------------------------------------------- */

typedef struct bs_model bs_model;

typedef enum bs_tokenizer_kind {
    BS_TOKENIZER_NONE = 0,
    BS_TOKENIZER_SPM = 1,     /* SentencePiece BPE: scores, byte fallback  */
    BS_TOKENIZER_BPE = 2      /* byte-level BPE (GPT-2 style): merges      */
} bs_tokenizer_kind;

typedef struct bs_model_info {
    int32_t dim;              /* model width                               */
    int32_t hidden_dim;       /* SwiGLU inner width                        */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;       /* < n_heads means grouped-query attention   */
    int32_t head_dim;
    int32_t vocab_size;
    int32_t seq_len;          /* trained context length                    */
    float rope_theta;
    float norm_eps;
    int32_t tied_embeddings;  /* 1: lm_head shares the token embedding     */
    int32_t tokenizer_kind;   /* bs_tokenizer_kind                         */
    int32_t bos_id, eos_id;   /* -1 when the model has none                */
    int64_t n_params;         /* parameters, tied tables counted once      */
    int64_t weight_bytes;     /* bytes of weights held in memory           */
    const char *format;       /* "llama2c", "gguf", "hf"                   */
    const char *chat_template;/* Jinja source, or NULL                     */
} bs_model_info;

typedef struct bs_load_options {
    /* A llama2.c tokenizer.bin to use instead of (or in the absence of) the
       model's own tokenizer. NULL: the model's own. */
    const char *tokenizer_path;
    /* .bstk only: weight bytes to load (resident section + the longest
       prefix of the stack that fits); 0: everything the file holds. */
    int64_t budget_bytes;
    /* .bstk only: load the resident section alone (budget_bytes ignored);
       grow it afterwards with bs_model_set_blocks. */
    int32_t resident_only;
} bs_load_options;

/* Loads a model; the format is detected from the path and magic: a
   directory (config.json + *.safetensors), GGUF, llama2.c .bin (weights
   converted to f32), or a BitStack .bstk (blocks kept compressed; see the
   stack functions below). opts may be NULL. */
BS_API bs_status bs_model_load(const char *path, const bs_load_options *opts,
                               bs_model **out);
BS_API void bs_model_free(bs_model *model);
BS_API bs_status bs_model_get_info(const bs_model *model, bs_model_info *out);

/* ---- the stack of a .bstk model --------------------------------------------
 * Blocks are numbered in stack order from 0. Growing or shrinking the
 * stack must not overlap with an eval on any session of the model. */

typedef struct bs_stack_info {
    int32_t n_blocks;        /* residual blocks in the file's stack        */
    int32_t n_available;     /* blocks the source holds (prefix files)     */
    int32_t n_loaded;        /* blocks attached now                        */
    int64_t resident_bytes;  /* always-loaded payload bytes                */
    int64_t loaded_bytes;    /* resident + attached blocks                 */
    int64_t full_bytes;      /* resident + every block                     */
    int64_t stacked_params;  /* weights of the compressed matrices         */
    int64_t stacked_bytes;   /* loaded bytes of the compressed matrices    */
} bs_stack_info;

/* BS_ERR_STATE for models that are not .bstk stacks. */
BS_API bs_status bs_model_stack_info(const bs_model *model, bs_stack_info *out);
/* Blocks a weight-byte budget allows (-1: below the resident size). */
BS_API int32_t bs_model_blocks_for_budget(const bs_model *model, int64_t budget_bytes);
/* Payload bytes of block i (-1 when out of range). */
BS_API int64_t bs_model_block_bytes(const bs_model *model, int32_t block);
/* Shrinks to n blocks, or grows to n reading from the model's file. */
BS_API bs_status bs_model_set_blocks(bs_model *model, int32_t n);
/* Attaches the next block (block == n_loaded) from bytes the caller
   fetched; checks size and CRC (BS_ERR_CHECKSUM) before keeping a copy. */
BS_API bs_status bs_model_attach_block(bs_model *model, int32_t block, const void *data,
                                       size_t size);
/* Many blocks at once: with on = 1, bit-plane blocks attached next keep
   their planes as they came, and the matrices they touch run the exact
   path (still correct, slower) until on = 0 rewrites each of them once
   into the fast kernels' layout (core/kernels/planes_pack.h), instead of
   once per block. bs_model_load and bs_model_set_blocks do this by
   themselves; bs_model_attach_block callers that attach a whole budget
   before generating should. */
BS_API bs_status bs_model_defer_layout(bs_model *model, int32_t on);

/* ---- tokenizer ----------------------------------------------------------- */

enum {
    BS_TOKENIZE_BOS = 1u << 0,       /* prepend the BOS token               */
    BS_TOKENIZE_SPECIAL = 1u << 1    /* match special tokens in the text    */
};

/* Encodes len bytes of UTF-8 text (invalid UTF-8 is encoded byte-wise).
   Writes at most cap ids; *n_out is the number needed, so a call with
   cap 0 measures. Returns BS_ERR_RANGE when cap was too small. */
BS_API bs_status bs_tokenize(const bs_model *model, const char *text,
                             size_t len, uint32_t flags, int32_t *ids,
                             int32_t cap, int32_t *n_out);

/* Writes the bytes token id stands for, when it follows token prev (prev < 0:
   at the start of the text), into buf (cap bytes; 256 always suffice).
   The dummy-prefix space of SentencePiece is dropped after BOS or at the
   start; byte tokens give their raw byte. */
BS_API bs_status bs_detokenize(const bs_model *model, int32_t prev,
                               int32_t id, char *buf, size_t cap,
                               size_t *len);

/* 1 if id ends generation: EOS or an end-of-turn token of the model
   (<|im_end|>, <|eot_id|>, ...). */
BS_API int bs_token_is_eog(const bs_model *model, int32_t id);
/* Token id of an exact special token text ("<|im_end|>"), or -1. */
BS_API int32_t bs_token_find(const bs_model *model, const char *text);

/* ---- chat --------------------------------------------------------------- */

typedef struct bs_chat_message {
    const char *role;      /* "system", "user", "assistant"                */
    const char *content;   /* UTF-8                                        */
} bs_chat_message;

/* Renders a conversation as the model's chat template does, for the
   template families recognised in the template source: ChatML
   (<|im_start|>, with the template's default system prompt), Llama 3
   (<|start_header_id|>), Llama 2 ([INST]) and Zephyr (<|user|>). The
   browser build renders arbitrary Jinja templates in JavaScript instead.
   Writes a NUL-terminated string; *len excludes the NUL. BS_ERR_RANGE when
   cap is too small (*len is then the size needed), BS_ERR_UNSUPPORTED
   when the model has no template or an unknown one. */
BS_API bs_status bs_chat_render(const bs_model *model,
                                const bs_chat_message *messages,
                                int32_t n_messages, int add_generation_prompt,
                                char *buf, size_t cap, size_t *len);

/* ---- session: KV cache + scratch ---------------------------------------- */

typedef struct bs_session bs_session;

typedef struct bs_session_options {
    int32_t ctx;        /* KV cache length in tokens; 0: min(seq_len, 2048) */
    int32_t max_batch;  /* tokens per prefill pass; 0: 64                 */
    int32_t n_threads;  /* threads running the forward pass, the calling
                           thread included (the session starts n - 1 and
                           keeps them until bs_session_free); 0 or 1: the
                           caller alone; at most 256. Results are the same
                           bit for bit for every value. Builds without
                           threads (wasm32-wasi) always run 1.            */
    int32_t exact;      /* 0 (default): fast kernels, bit planes against
                           int8-quantized activations (a measured
                           approximation, docs/RESULTS.md); 1: the exact
                           f32 reference path. Either way every build and
                           thread count gives the same bits.             */
} bs_session_options;

BS_API bs_status bs_session_create(const bs_model *model,
                                   const bs_session_options *opts,
                                   bs_session **out);
BS_API void bs_session_free(bs_session *session);
/* Forget the KV cache: the next token is at position 0. */
BS_API void bs_session_reset(bs_session *session);
/* Keeps the first pos tokens of the KV cache and drops the rest, so a
   conversation can continue from a shared prefix (0 <= pos <= current). */
BS_API bs_status bs_session_rewind(bs_session *session, int32_t pos);
/* Tokens currently held in the KV cache. */
BS_API int32_t bs_session_pos(const bs_session *session);
/* Bytes this session holds (KV cache + scratch). */
BS_API int64_t bs_session_bytes(const bs_session *session);

/* Runs n tokens at the next positions (batched, any n; split internally by
   max_batch). *logits: the vocab_size logits of the last token, owned by the
   session, valid until the next eval. BS_ERR_RANGE when the context is
   full. */
BS_API bs_status bs_session_eval(bs_session *session, const int32_t *tokens,
                                 int32_t n, const float **logits);

/* Like bs_session_eval, and also the mean negative log-likelihood of each
   next token: sum over i in [0, n-1) of -log p(tokens[i+1] | ..tokens[i]).
   *nll_sum gets the sum (n-1 terms). For perplexity. */
BS_API bs_status bs_session_eval_nll(bs_session *session,
                                     const int32_t *tokens, int32_t n,
                                     double *nll_sum);

/* ---- sampler ------------------------------------------------------------ */

typedef struct bs_sampler bs_sampler;

typedef struct bs_sampler_params {
    float temperature;  /* 0: greedy (argmax)                            */
    int32_t top_k;      /* 0: off                                        */
    float top_p;        /* 1: off                                        */
    uint64_t seed;
} bs_sampler_params;

BS_API bs_sampler_params bs_sampler_default_params(void);
BS_API bs_status bs_sampler_create(const bs_sampler_params *params,
                                   int32_t vocab_size, bs_sampler **out);
BS_API void bs_sampler_free(bs_sampler *sampler);
/* Picks a token from logits (not modified). Deterministic for a seed. */
BS_API int32_t bs_sampler_sample(bs_sampler *sampler, const float *logits);

#ifdef __cplusplus
}
#endif
#endif /* BITSTACK_H */
