/* decompose.h - turning one f32 weight matrix into residual blocks, and
 * the round-to-nearest baselines. Native-only (the offline compressor).
 *
 * All functions are deterministic: the same input gives the same bytes on
 * every run (fixed seeds, fixed summation orders). */
#ifndef BS_DECOMPOSE_H
#define BS_DECOMPOSE_H

#include "internal.h"

/* ---- linear algebra ------------------------------------------------------ */

/* Top-k singular triplets of the (m, n) row-major matrix M by randomized
   subspace iteration (oversampling, power iterations, re-orthonormalised
   every step), for the non-negative |R| of AVD whose leading singular value
   dominates. U (m, k) row-major, s (k) descending, V (n, k) row-major, so
   M ~= U diag(s) V^T. seed fixes the random start. Returns BS_ERR_NOMEM or
   BS_ERR_INVALID_ARG (k < 1, k > min(m, n)). */
bs_status bs_topk_svd(const float *M, int32_t m, int32_t n, int32_t k, uint64_t seed, float *U,
                      float *s, float *V);

/* The knobs of bs_topk_svd (defaults from bs_svd_default_opts()). */
typedef struct bs_svd_opts {
    int32_t oversample; /* extra basis vectors p (8), capped by min(m, n) - k */
    int32_t min_iter;   /* power iterations at least (2)                      */
    int32_t max_iter;   /* and at most (24)                                   */
    double tol;         /* stop once every top-k Ritz value moved by at most
                           tol relative in one iteration (1e-6)               */
} bs_svd_opts;

/* What a call did (for tests and tuning). */
typedef struct bs_svd_info {
    int32_t iterations; /* power iterations run                              */
    int32_t rank;       /* basis size l = k + oversampling                   */
    double last_move;   /* largest relative Ritz move of the last iteration  */
} bs_svd_info;

bs_svd_opts bs_svd_default_opts(void);

/* bs_topk_svd with explicit options; info may be NULL. Also BS_ERR_FORMAT
   when M holds a NaN or an infinity (as bs_topk_svd). */
bs_status bs_topk_svd_opts(const float *M, int32_t m, int32_t n, int32_t k, uint64_t seed,
                           const bs_svd_opts *opts, float *U, float *s, float *V,
                           bs_svd_info *info);

/* ---- AVD blocks (BITSTACK.md 3) ------------------------------------------ */

/* One AVD step on the residual R (m, n), updated in place:
     S = sign(R) with sign(0) = +1;  U s V^T = top-k SVD of |R|;
     A = U diag(sqrt s) (m, k);  B = diag(sqrt s) V^T (k, n);
     R <- R - S * (A B)   (the unrounded f32 A, B, as the reference does).
   Outputs: signs (m, bs_row_bytes(n)) packed per row, MSB first, bit 1 =
   +1, padding bits 0; a16 (m, k) and b16 (k, n) as binary16. */
bs_status bs_avd_step(float *R, int32_t m, int32_t n, int32_t k, uint64_t seed, uint8_t *signs,
                      uint16_t *a16, uint16_t *b16);

/* ---- bit-plane blocks ---------------------------------------------------- */

/* Per group of `group` consecutive weights of a row (the last group of a
   row may be shorter): c = absmax / 2 rounded to binary16 (rounded up when
   rounding down would leave |w| > 2c), written to scales (m, groups per
   row). Returns BS_ERR_FORMAT if a weight is not finite. */
bs_status bs_planes_scales(const float *W, int32_t m, int32_t n, int32_t group, uint16_t *scales);

/* Plane i (0-based) on the residual R (m, n), in place: S = sign(R) (sign(0)
   = +1), R <- R - S * c / 2^i per group. signs packed as for AVD. After
   planes 0..b-1 the sum of the blocks is the b-bit midrise quantizer of W
   with step c / 2^(b-1). */
void bs_planes_step(float *R, int32_t m, int32_t n, int32_t group, const uint16_t *scales, int i,
                    uint8_t *signs);

/* ---- round-to-nearest baselines ------------------------------------------ */

/* W (m, n) replaced in place by its RTN quantize-dequantize with `bits`
   bits per weight in groups of `group` along each row, binary16 scales:
   symmetric: q in [-(2^(b-1)), 2^(b-1) - 1], scale = absmax / 2^(b-1)... (as
   documented in the .c, the common llama.cpp-style convention);
   asymmetric: q in [0, 2^b - 1], binary16 scale and minimum. */
void bs_rtn_quantize(float *W, int32_t m, int32_t n, int32_t bits, int32_t group, int asymmetric);
/* Bits per weight of that format: bits + 16/group (sym) or + 32/group. */
double bs_rtn_bpw(int32_t bits, int32_t group, int asymmetric);

#endif
