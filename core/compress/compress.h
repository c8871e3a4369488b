/* compress.h - the offline compressor: a float model in, a .bstk out.
 *
 * Pipeline (BITSTACK.md): activation statistics on calibration windows ->
 * scale folding -> per-matrix decomposition into residual blocks (AVD or
 * bit planes, in parallel) -> ranking of the blocks into one stack (exact
 * "average" strategy or a fast estimate) -> perplexity measured along the
 * stack -> the file. Deterministic: same input and parameters, same bytes.
 */
#ifndef BS_COMPRESS_H
#define BS_COMPRESS_H

#include "model.h"

typedef enum bs_method { BS_METHOD_AVD = 0, BS_METHOD_PLANES = 1 } bs_method;
typedef enum bs_sort_kind {
    BS_SORT_EXACT = 0,
    BS_SORT_FAST = 1,
    BS_SORT_NONE = 2 /* no gains measured: level by level, model order */
} bs_sort_kind;
typedef enum bs_order_kind {
    BS_ORDER_BYTE = 0,   /* global, by measured loss gain per byte        */
    BS_ORDER_LEVEL = 1   /* the paper's: level by level, by gain          */
} bs_order_kind;

typedef enum bs_rotate_mode {
    BS_ROTATE_OFF = 0,
    BS_ROTATE_ON = 1,    /* every matrix, the best of rotate_draws draws  */
    BS_ROTATE_AUTO = 2   /* matrices of >= 256 columns: that, or no rotation if better */
} bs_rotate_mode;

typedef struct bs_compress_params {
    bs_method method;
    int32_t rank;           /* AVD rank; 0: chosen from each shape      */
    int32_t blocks;         /* levels per matrix (AVD niter / planes)   */
    int32_t group;          /* planes: weights per scale; 0: auto       */
    int32_t scale_bits;     /* planes: 16 (binary16 per group) or 8 (8-bit
                               codes against a per-row reference, scales.h);
                               0: auto (8 in groups of 32 for matrices of
                               256 columns or more, else 16 in groups of 64) */
    int32_t scaling;        /* fold activation-aware scales (BITSTACK 2) */
    double scaling_power;   /* s_j^power is folded (1: BITSTACK 2)      */
    int32_t outliers;       /* planes: at most this many input channels
                               per matrix kept apart in binary16 ...    */
    double outlier_ratio;   /* ... those whose calibration RMS exceeds
                               ratio x the median channel's (outliers.c) */
    bs_rotate_mode rotate;  /* planes: inputs rotated by sign flips and
                               Walsh-Hadamard blocks (rotate.h)          */
    int32_t rotate_draws;   /* planes: sign draws tried per matrix; the
                               lowest activation-weighted error wins      */
    int32_t stack_embeddings; /* token table (and untied output) as stacked
                               blocks too, not resident binary16        */
    bs_sort_kind sort;      /* how gains are measured                   */
    bs_order_kind order;    /* how gains order the stack                */
    int32_t calib_windows;  /* windows for activation statistics        */
    int32_t sort_windows;   /* further, disjoint windows: sorting       */
    int32_t min_level;      /* byte order: every matrix gets this many
                               blocks (level order) before any gets more */
    int32_t probe_level;    /* fast byte-order sort: the level each matrix
                               is lowered to when its alpha is measured  */
    int32_t curve_windows;  /* further, disjoint windows: the stored curve
                               (not the sort's, whose order was chosen on
                               them and would flatter the stack)         */
    int32_t ctx;            /* tokens per window                        */
    int32_t threads;
    uint64_t seed;
    const char *calib_name; /* recorded in the metadata                 */
    const char *source_name;
    /* progress(ctx, stage, done, total); may be NULL */
    void (*progress)(void *ctx, const char *stage, uint64_t done, uint64_t total);
    void *progress_ctx;
} bs_compress_params;

/* What the compressor measured, for the CLI to print. */
typedef struct bs_compress_report {
    int32_t n_matrices, n_blocks;     /* stacked matrices, stack blocks  */
    int64_t resident_bytes, full_bytes;
    int32_t n_curve;
    uint64_t curve_blocks[64];
    uint64_t curve_bytes[64];
    float curve_ppl[64];
    double float_ppl;                 /* the float model on the curve set */
    double seconds_stats, seconds_decompose, seconds_sort, seconds_curve;
} bs_compress_report;

bs_compress_params bs_compress_default_params(void);

/* The rank chosen for a rows x cols matrix when params.rank is 0: the
   largest k whose fp16 factors cost at most 1/8 bit per weight
   (16 k (rows + cols) <= rows cols / 8, which gives the paper's 16 for
   4096 x 4096), clamped to [2, 16]. The floor of 2 is measured: on
   stories260K (64-wide matrices) 16 rank-1 blocks stay 2.6% above the
   float perplexity, rank 2 comes within 0.3% (docs/RESULTS.md). */
int32_t bs_auto_rank(int32_t rows, int32_t cols);

/* Compresses m (modified: scales are folded into it) using calibration
   tokens (BOS first), writing out_path atomically. */
bs_status bs_compress(bs_model *m, const int32_t *tokens, int64_t n_tokens, const bs_compress_params *p,
                      const char *out_path, bs_compress_report *report);

#endif
