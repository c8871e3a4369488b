/* session.h - per-conversation state: KV cache, RoPE table, scratch. */
#ifndef BS_SESSION_H
#define BS_SESSION_H

#include "kernels.h"
#include "model.h"
#include "pool.h"

/* Sees the input of each group of linear maps during a forward pass (the
   compressor's activation statistics). site: 0 = q/k/v input (after the
   attention norm), 1 = o input, 2 = gate/up input (after the FFN norm),
   3 = down input. x is (n_tok, dim). */
typedef void (*bs_observe_fn)(void *ctx, int layer, int site, const float *x, int n_tok, int dim);

struct bs_session {
    const bs_model *m;
    const bs_kernels *k;
    int fast;            /* kernels' fast mode (not opts.exact)           */
    int32_t ctx;         /* KV cache length (tokens)                      */
    int32_t max_batch;   /* tokens per forward pass                       */
    int32_t pos;         /* tokens in the cache                           */
    float *key_cache;    /* (n_layers, ctx, kv_dim)                       */
    float *val_cache;    /* (n_layers, ctx, kv_dim)                       */
    float *rope_cos;     /* (ctx, head_dim / 2)                           */
    float *rope_sin;     /* (ctx, head_dim / 2)                           */
    float *x;            /* (max_batch, dim) residual stream              */
    float *xb;           /* (max_batch, dim)                              */
    float *xb2;          /* (max_batch, max(dim, q_dim))                  */
    float *q;            /* (max_batch, q_dim)                            */
    float *k_new;        /* (max_batch, kv_dim)                           */
    float *v_new;        /* (max_batch, kv_dim)                           */
    float *att;          /* (n_threads, ctx) one head's scores per thread */
    float *hb;           /* (max_batch, hidden_dim)                       */
    float *hb2;          /* (max_batch, hidden_dim)                       */
    float *logits;       /* (BS_LOGIT_ROWS, vocab)                        */
    float *lin_scratch;  /* (n_threads, lin_stride) per-thread scratch    */
    float *xmask;        /* (max_batch, widest input) x with the channels
                            kept apart zeroed (outliers.c)                */
    size_t lin_stride;   /* bs_linear_scratch() of the largest linear     */
    int32_t n_threads;   /* bs_pool_threads(pool)                         */
    bs_pool *pool;       /* the forward pass's threads                    */
    int64_t par_min_work; /* smaller jobs (multiply-adds) stay on the
                            caller: BS_PAR_MIN_WORK (tests lower it)     */
    bs_observe_fn observe;  /* NULL, or called at every site            */
    void *observe_ctx;
    float *mem;          /* the one allocation behind all of the above    */
    size_t mem_floats;
};

/* Below this many multiply-adds a linear map or an attention pass runs on
   the calling thread alone, where handing out tasks (a microsecond or two)
   would eat the gain: stories260K's 64 x 64 maps stay serial even for
   16-token batches; SmolLM2's 192 x 576 key and value maps (about 12
   microseconds natively at 3 planes) split, and so does its decode
   attention from about 170 tokens of context. The threaded wasm build uses
   the same value (wasm/threads.cmake). */
#ifndef BS_PAR_MIN_WORK
#define BS_PAR_MIN_WORK 100000
#endif

/* Rows of logits computed per lm_head pass when scoring a whole batch. */
#define BS_LOGIT_ROWS 8

/* Runs tokens [0, n) (n <= max_batch) at positions pos..pos+n-1 through
   the layers; leaves the final-normed hidden states in s->xb (n, dim) and
   advances pos. */
void bs_forward_layers(bs_session *s, const int32_t *tokens, int32_t n);
/* logits (n_rows, vocab) = lm_head(xb rows [row0, row0 + n_rows)). */
void bs_forward_logits(bs_session *s, int32_t row0, int32_t n_rows);

#endif
