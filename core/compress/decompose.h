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
   M ~= U diag(s) V^T. seed fixes the random start. Signs: the largest-
   magnitude component of each u is positive (the first on ties), so for a
   non-negative M the leading u and v are non-negative. Singular values at
   zero (rank < k) come with unit vectors completing the orthonormal sets.
   Accuracy (tests/test_linalg.c, against LAPACK): on |W| and |R| of real
   weights, every top-k value within ~1e-5 relative; on pure-noise
   matrices sigma_2..k sit in a flat bulk and converge slowly (1e-3 at the
   default budget) while the rank-k approximation stays within 1e-4 of
   optimal. Single-threaded and reentrant: run matrices on several threads.
   Returns BS_ERR_NOMEM, BS_ERR_INVALID_ARG (k < 1, k > min(m, n)) or
   BS_ERR_FORMAT (a NaN or infinity in M). */
bs_status bs_topk_svd(const float *M, int32_t m, int32_t n, int32_t k, uint64_t seed, float *U,
                      float *s, float *V);

/* The knobs of bs_topk_svd (defaults from bs_svd_default_opts()). */
typedef struct bs_svd_opts {
    int32_t oversample; /* extra basis vectors p (8), capped by min(m, n) - k */
    int32_t min_iter;   /* power iterations at least (2)                      */
    int32_t max_iter;   /* and at most (24)                                   */
    double tol;         /* stop once every top-k Ritz value moved by at most
                           tol relative in one iteration (1e-5)               */
} bs_svd_opts;

/* What a call did (for tests and tuning). */
typedef struct bs_svd_info {
    int32_t iterations; /* power iterations run                              */
    int32_t rank;       /* basis size l = k + oversampling                   */
    double last_move;   /* largest relative Ritz move of the last iteration  */
} bs_svd_info;

bs_svd_opts bs_svd_default_opts(void);

/* bs_topk_svd with explicit options; info may be NULL. */
bs_status bs_topk_svd_opts(const float *M, int32_t m, int32_t n, int32_t k, uint64_t seed,
                           const bs_svd_opts *opts, float *U, float *s, float *V,
                           bs_svd_info *info);

/* ---- AVD blocks (BITSTACK.md 3) ------------------------------------------ */

/* One AVD step on the residual R (m, n), updated in place:
     S = sign(R) with sign(0) = +1;  U s V^T = top-k SVD of |R|;
     A = U diag(sqrt s) (m, k);  B = diag(sqrt s) V^T (k, n);
     R <- R - S * (A B)   (the unrounded f32 A, B, as the reference does).
   Outputs: signs (m, bs_row_bytes(n)) packed per row, MSB first, bit 1 =
   +1, padding bits 0; a16 (m, k) and b16 (k, n) as binary16 (round to
   nearest even). So the stored block rebuilds with the binary16 factors
   while R moved by the f32 ones (see avd.c for what that costs).
   Errors leave R untouched: BS_ERR_INVALID_ARG (k outside [1, min(m, n)]),
   BS_ERR_FORMAT (R not finite), BS_ERR_RANGE (a factor beyond binary16),
   BS_ERR_NOMEM. */
bs_status bs_avd_step(float *R, int32_t m, int32_t n, int32_t k, uint64_t seed, uint8_t *signs,
                      uint16_t *a16, uint16_t *b16);

/* bs_avd_step, and with feedback16 = 1 the residual subtracts the stored
   binary16 A, B instead of the f32 ones: not the reference's rule, but the
   error then keeps falling below the ~2^-12 floor the rounding of the
   factors otherwise sets (avd.c). feedback16 = 0 is bs_avd_step. */
bs_status bs_avd_step_ex(float *R, int32_t m, int32_t n, int32_t k, uint64_t seed, int feedback16,
                         uint8_t *signs, uint16_t *a16, uint16_t *b16);

/* ---- bit-plane blocks ---------------------------------------------------- */

/* Per group of `group` consecutive weights of a row (the last group of a
   row may be shorter): c = absmax / 2 rounded to binary16 (nearest, then
   up while |w| > 2c), written to scales (m, groups per row); so |w| <= 2c
   for every weight of the group. An all-zero group gets the smallest
   normal binary16, 2^-14 (c > 0 always; zero is then rebuilt within
   2^-14 / 2^(b-1)). Returns BS_ERR_FORMAT if a weight is not finite,
   BS_ERR_RANGE if absmax / 2 exceeds binary16, BS_ERR_INVALID_ARG. */
bs_status bs_planes_scales(const float *W, int32_t m, int32_t n, int32_t group, uint16_t *scales);

/* Plane i (0-based, i < BS_PLANES_MAX) on the residual R (m, n), in place:
   S = sign(R) (sign(0) = +1), R <- R - S * c / 2^i per group. signs packed
   as for AVD. After planes 0..b-1 the sum of the blocks is the b-bit
   midrise quantizer of W: levels c (2q + 1 - 2^b) / 2^(b-1), q in
   [0, 2^b), spaced c / 2^(b-2), the nearest one taken, so |W - sum| <=
   c / 2^(b-1) = absmax / 2^b. Up to f32 rounding: the residual carries at
   most one f32 ulp of 2c of rounding error (planes.c), which
   bs_planes_encode avoids. */
void bs_planes_step(float *R, int32_t m, int32_t n, int32_t group, const uint16_t *scales, int i,
                    uint8_t *signs);

/* The most planes the runtime rebuilds exactly (kernels_ref.c row_planes). */
#define BS_PLANES_MAX 13

/* Planes 0..nplanes-1 of W at once, each sign decided exactly (w against
   the partial level, exact in f32), so the planes spell exactly the
   nearest of the 2^nplanes levels for every weight; bs_planes_step on the
   f32 residual can miss that by the residual's rounding (planes.c). planes:
   nplanes pointers to (m, bs_row_bytes(n)) outputs; R (m, n), if not NULL,
   receives W - level, rounded once (W - R is within 1 ulp of the level).
   BS_ERR_INVALID_ARG unless 1 <= nplanes <= BS_PLANES_MAX. */
bs_status bs_planes_encode(const float *W, int32_t m, int32_t n, int32_t group,
                           const uint16_t *scales, int nplanes, uint8_t *const *planes, float *R);

/* ---- round-to-nearest baselines ------------------------------------------ */

/* W (m, n) replaced in place by its RTN quantize-dequantize with `bits`
   bits per weight in groups of `group` along each row (the last group of a
   row may be shorter), binary16 parameters; rtn.c has the exact rules.
   symmetric (llama.cpp Q4_0 generalised): x = the group's weight of
   largest magnitude, with its sign; d = binary16(x / -2^(b-1));
   q = clamp(round(w / d), -2^(b-1), 2^(b-1) - 1); w' = q d.
   asymmetric (Q4_1 generalised): m16 = min rounded down, d16 =
   (max - m16) / (2^b - 1) rounded up to binary16; q = clamp(round((w -
   m16) / d16), 0, 2^b - 1); w' = m16 + q d16, |w - w'| <= d16 / 2.
   bits: 2..8 (sym), 1..8 (asym); group >= 1; otherwise W is unchanged. */
void bs_rtn_quantize(float *W, int32_t m, int32_t n, int32_t bits, int32_t group, int asymmetric);
/* Nominal bits per weight of that format: bits + 16/group (sym) or
   + 32/group (asym); a short last group of a row costs slightly more. */
double bs_rtn_bpw(int32_t bits, int32_t group, int asymmetric);

#endif
