/* compress_internal.h - state shared by the compressor's stages. */
#ifndef BS_COMPRESS_INTERNAL_H
#define BS_COMPRESS_INTERNAL_H

#include "compress.h"
#include "session.h"

/* One matrix being compressed. */
typedef struct cm_matrix {
    bs_linear *lin;        /* in the float model: .w receives reconstructions */
    int32_t role, layer;   /* FORMAT.md tensor role                           */
    bs_lin_kind kind;      /* AVD or PLANES                                   */
    int32_t rank, group;
    uint32_t scale_code;   /* planes: BSTK_SCALES_F16 or BSTK_SCALES_CODE8    */
    uint16_t *scales;      /* planes: (rows, groups) binary16 as decoded      */
    int32_t n_levels;
    uint8_t **payload;     /* (n_levels) FORMAT.md payloads                    */
    uint64_t *size;        /* (n_levels) their sizes                          */
    double *err;           /* (n_levels + 1) activation-weighted squared error */
                           /* of W minus its first b levels, b = 0..n_levels  */
    const float *act;      /* (cols) RMS of the input channels, or NULL        */
    int32_t n_out;         /* planes: input channels kept apart (outliers.c)  */
    uint32_t *out_idx;     /* (n_out) their columns, increasing               */
    int32_t rot_log2;      /* planes: Hadamard block log2, 0: not rotated     */
    uint64_t rot_seed;     /* planes: the draw of the rotation's sign flips   */
    uint64_t seed;
} cm_matrix;

/* Activation statistics of the float model over calibration windows. */
typedef struct cm_stats {
    int32_t n_layers;
    int32_t dims[4];       /* per site: dim, q_dim, dim, hidden              */
    double *win[4];        /* (n_layers, dims[s]) sum of x^2 this window      */
    double *norm_sum[4];   /* (n_layers, dims[s]) sum over windows of L2 norm  */
    double *sq_total[4];   /* (n_layers, dims[s]) sum of x^2 over all tokens   */
    int64_t n_tokens;
    int32_t n_windows;
    float *scale[4];       /* (n_layers, dims[s]) BITSTACK.md 2 statistic     */
    float *rms[4];         /* (n_layers, dims[s]) input RMS (after folding)   */
} cm_stats;

typedef struct cm_job {
    bs_model *m;
    const bs_compress_params *p;
    cm_matrix *mats;
    int32_t n_mats;
    cm_stats stats;
    const int32_t *eval_tokens; /* eval_windows * ctx tokens cm_eval scores */
    int32_t eval_windows;       /* the sort windows, then the curve's     */
    bs_session *sess;           /* on m, ctx = p->ctx                      */
    int32_t *order;             /* (n_blocks) matrix index of each block   */
    int32_t n_blocks;
    float *saved;               /* scratch: one matrix's weights           */
} cm_job;

/* compress.c */
/* Runs fn(j, i) for i in [0, n) on params.threads threads, reporting
   progress under `stage`; the first failure stops the rest. */
bs_status cm_parallel(cm_job *j, int32_t n, bs_status (*fn)(cm_job *j, int32_t i), const char *stage);

/* calib.c */
bs_status cm_collect_stats(cm_job *j, const int32_t *tokens, int32_t n_windows);
void cm_fold_scales(cm_job *j);

void cm_stats_free(cm_stats *s);

/* compress.c */
/* Writes the reconstruction of matrix i at `level` blocks into its .w. */
void cm_reconstruct(cm_job *j, int32_t i, int32_t level);
/* Mean NLL of the model as it stands over the sort windows. */
bs_status cm_eval(cm_job *j, double *nll);

/* sort.c */
bs_status cm_sort(cm_job *j);
bs_status cm_curve(cm_job *j, bs_compress_report *r);

#endif
