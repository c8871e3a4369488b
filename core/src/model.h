/* model.h - the in-memory model: configuration, weights, tokenizer.
 *
 * Conventions every importer must produce:
 *   - weights are f32, row-major; a linear map y = W x stores W as
 *     (rows = out features, cols = in features);
 *   - RoPE rotates adjacent pairs (x[2i], x[2i+1]) of each head, as llama2.c
 *     and GGUF do; importers of "rotate-half" checkpoints (Hugging Face)
 *     permute the rows of wq and wk so one kernel serves every format;
 *   - a tied lm_head points at tok_embd (owned once).
 */
#ifndef BS_MODEL_H
#define BS_MODEL_H

#include "internal.h"
#include "reader.h"
#include "tokenizer.h"

typedef struct bs_config {
    int32_t dim;         /* model width                                   */
    int32_t hidden_dim;  /* SwiGLU inner width                            */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;  /* divides n_heads                               */
    int32_t head_dim;    /* usually dim / n_heads                         */
    int32_t vocab_size;
    int32_t seq_len;     /* trained context                               */
    float rope_theta;    /* 10000 for Llama 2                             */
    float norm_eps;      /* RMSNorm epsilon                               */
    int32_t tied;        /* lm_head == tok_embd                           */
} bs_config;

/* How a linear map stores W. */
typedef enum bs_lin_kind {
    BS_LIN_F32 = 0,      /* dense f32 (float models)                      */
    BS_LIN_F16 = 1,      /* dense binary16 (resident tables of a .bstk)   */
    BS_LIN_AVD = 2,      /* BitStack residual blocks: sign x low rank     */
    BS_LIN_PLANES = 3    /* bit-plane blocks: sign x c / 2^i per group    */
} bs_lin_kind;

/* One AVD residual block: W_i = S_i (elementwise) (A_i B_i). */
typedef struct bs_avd_block {
    const uint8_t *signs;   /* (rows, row_bytes) bit 1 = +1, MSB first     */
    const uint16_t *a;      /* (rows, rank) binary16                       */
    const uint16_t *b;      /* (rank, cols) binary16                       */
} bs_avd_block;

/* A linear map y = W x, W of shape (rows = out, cols = in). Stacked kinds
   (AVD, PLANES) hold the first n_blocks of their residual blocks; W is the
   sum of those blocks and is never built whole. */
typedef struct bs_linear {
    int32_t rows;        /* out features                                  */
    int32_t cols;        /* in features                                   */
    bs_lin_kind kind;
    float *w;            /* F32: (rows, cols)                             */
    const uint16_t *w16; /* F16: (rows, cols)                             */
    int32_t n_blocks;    /* AVD, PLANES: blocks attached                  */
    int32_t max_blocks;  /* capacity of avd / planes                      */
    int32_t rank;        /* AVD: columns of A                             */
    bs_avd_block *avd;   /* AVD: (max_blocks)                             */
    int32_t group;       /* PLANES: weights per scale along a row         */
    const uint16_t *scales; /* PLANES: (rows, groups_per_row) binary16 c  */
    const uint8_t **planes; /* PLANES: (max_blocks) of (rows, row_bytes)  */
    int32_t n_out;       /* PLANES: input channels kept apart (outliers.c) */
    const uint32_t *out_idx; /* (n_out) their columns, increasing        */
    const uint16_t *out_val; /* (rows, n_out) their weights, binary16    */
    int32_t rot_log2;    /* PLANES: 0, or inputs rotated by Hadamard blocks
                            of 2^rot_log2 after sign flips (rotate.h)     */
    const uint8_t *rot_signs; /* the flips, bit 1 = keep (rotate.h)       */
    int32_t packed;      /* PLANES: 1 when planes[] hold the packed layout of
                            planes_pack.h (the runtime's), 0: plain sign
                            planes (the compressor's)                     */
    const uint16_t *scale_ref;  /* PLANES with 8-bit scale codes (FORMAT.md 5,
                            scales.h): (rows) binary16 references; scales is
                            then NULL and the kernels decode as they go  */
    const uint8_t *scale_codes; /* (rows, groups_per_row) the codes       */
} bs_linear;

/* Bytes of one packed sign row: signs are packed per row, so a row starts
   on a byte boundary even when cols is not a multiple of 8. */
static inline int32_t bs_row_bytes(int32_t cols) { return (cols + 7) / 8; }
static inline int32_t bs_groups_per_row(int32_t cols, int32_t group) {
    return (cols + group - 1) / group;
}

typedef struct bs_layer {
    float *attn_norm;    /* (dim)                                         */
    bs_linear wq;        /* (n_heads * head_dim, dim)                     */
    bs_linear wk;        /* (n_kv_heads * head_dim, dim)                  */
    bs_linear wv;        /* (n_kv_heads * head_dim, dim)                  */
    bs_linear wo;        /* (dim, n_heads * head_dim)                     */
    float *ffn_norm;     /* (dim)                                         */
    bs_linear w_gate;    /* (hidden_dim, dim)                             */
    bs_linear w_up;      /* (hidden_dim, dim)                             */
    bs_linear w_down;    /* (dim, hidden_dim)                             */
} bs_layer;

struct bs_model {
    bs_config cfg;
    float *tok_embd;     /* (vocab_size, dim) f32 table of float models   */
    float *out_norm;     /* (dim)                                         */
    bs_linear embed;     /* (vocab_size, dim) the token table, any kind   */
    bs_linear lm_head;   /* (vocab_size, dim) when untied                 */
    bs_linear *output;   /* &lm_head, or &embed when tied                 */
    bs_layer *layers;    /* (n_layers)                                    */
    bs_tokenizer *tok;   /* may be NULL (no tokenizer known)              */
    char *chat_template; /* Jinja source or NULL                          */
    const char *format;  /* "llama2c", "gguf", "hf" (static string)       */
    struct bs_stack *stack; /* .bstk models: file, index, payloads; or NULL */
    float *arena;        /* one allocation holding every f32 tensor       */
    size_t arena_floats;
};

/* Checks cfg for sane, overflow-free values (BS_ERR_FORMAT with a message
   naming the field otherwise). Fills head_dim when 0. */
bs_status bs_config_validate(bs_config *cfg);

/* Allocates every weight tensor for m->cfg (zeroed) and wires the pointers;
   cfg must have been validated. */
bs_status bs_model_alloc_weights(bs_model *m);

/* Iterates the linear maps of a layer in a fixed order: q k v o gate up
   down. Returns NULL for i >= 7. */
bs_linear *bs_layer_linear(bs_layer *l, int i);
extern const char *const bs_linear_names[7];

/* Importers: fill m (cfg, weights via bs_model_alloc_weights, tokenizer,
   chat template). On failure m may hold partial state; the caller frees. */
bs_status bs_import_llama2c(bs_reader *r, bs_model *m);   /* legacy + ak42 v1 */
bs_status bs_import_gguf(bs_reader *r, bs_model *m);      /* GGUF v2/v3 llama */
bs_status bs_import_hf(const char *dir, bs_model *m);     /* config.json + safetensors */
#endif
