/* linear.h - operations on a bs_linear of any kind. */
#ifndef BS_LINEAR_H
#define BS_LINEAR_H

#include "kernels.h"
#include "model.h"
#include "scales.h"

/* The kernel for l in exact (fast = 0) or fast mode (kernels.h). */
static inline bs_linear_fn bs_linear_kernel(const bs_kernels *k, int fast, const bs_linear *l) {
    return (fast ? k->fast : k->matmul)[l->kind];
}
/* Floats of scratch bs_linear_matmul needs for l. */
size_t bs_linear_scratch(const bs_linear *l);
/* y (n_tok, rows) = x (n_tok, cols) W^T. */
void bs_linear_matmul(const bs_kernels *k, const bs_linear *l, const float *x, float *y, int n_tok,
                      float *scratch);
/* The same for rows [r0, r1) of y only (one thread's share). */
void bs_linear_matmul_rows(const bs_kernels *k, const bs_linear *l, const float *x, float *y,
                           int n_tok, int r0, int r1, float *scratch);
/* A thread pool and what each of its threads needs to run matmuls. */
struct bs_pool;
typedef struct bs_par {
    const bs_kernels *k;
    int fast;             /* fast mode (kernels.h)                        */
    struct bs_pool *pool; /* its threads share each matmul                */
    float *scratch;       /* (threads, stride) floats, thread 0 the caller's */
    size_t stride;        /* at least bs_linear_scratch() of every matrix */
    int64_t min_work;     /* fewer multiply-adds stay on the caller       */
    float *xk;            /* room for the kernels' input (bs_linear_input) */
} bs_par;
/* y (n_tok, rows) = x (n_tok, cols) W^T as the model computes it (kept
   channels, rotation), rows split over p's threads (linear_par.c); the
   same result for any number of threads. */
void bs_linear_matmul_par(const bs_par *p, const bs_linear *l, const float *x, float *y, int n_tok);
/* Rows per task when a matmul is split over n_threads: about four tasks
   per thread (a thread that starts late, or shares its core with another
   process, takes fewer), each a multiple of 8 rows so the kernels' row
   blocks stay whole. */
int32_t bs_linear_split(int32_t rows, int n_threads);
/* The split for l and a batch of n_tok: one task per thread for AVD
   decode, whose fast kernel builds its tables once per task; else as
   bs_linear_split. */
int32_t bs_linear_split_for(const bs_linear *l, int n_tok, int n_threads);
/* Row r of W (the sum of the attached blocks) into out (cols floats):
   the embedding lookup. scratch as for matmul. */
void bs_linear_row(const bs_linear *l, int32_t r, float *out);
/* Row r of W as the model uses it: bs_linear_row rotated back (rotate.h)
   and with the input channels kept apart (outliers.c) put back. */
void bs_linear_weights_row(const bs_linear *l, int32_t r, float *out);

/* Input channels kept apart (outliers.c). A PLANES matrix may hold a few
   whole columns in binary16 beside its planes (whose own columns there
   encode zero): y = planes x' + W_out x_out, with x' = x zeroed on those
   channels. xm <- x (n_tok, cols) with the channels zeroed: */
void bs_outliers_mask(const bs_linear *l, const float *x, float *xm, int n_tok);
/* The input the kernels multiply for l: x (n_tok, cols) with the channels
   kept apart zeroed and, for a rotated matrix, rotated (rotate.h), written
   to xk; or x itself when l needs neither. */
const float *bs_linear_input(const bs_linear *l, const float *x, float *xk, int n_tok);
/* y (n_tok, rows) += W_out x_out for rows [r0, r1): */
void bs_outliers_add(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1);

/* The binary16 bit pattern of the scale of group g of row r of a PLANES
   matrix: stored (scales) or decoded from its 8-bit code (scales.h). */
static inline uint16_t bs_linear_scale_bits(const bs_linear *l, int32_t r, int32_t g) {
    int64_t i = (int64_t)r * bs_groups_per_row(l->cols, l->group) + g;
    return l->scale_codes ? bs_scale_decode(l->scale_ref[r], l->scale_codes[i]) : l->scales[i];
}
/* Row r's scales, all groups_per_row of them, as binary16 bits. */
void bs_linear_row_scales(const bs_linear *l, int32_t r, uint16_t *out);

/* Bytes the weights of l occupy in memory. */
int64_t bs_linear_bytes(const bs_linear *l);

#endif
