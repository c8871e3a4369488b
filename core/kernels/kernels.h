/* kernels.h - the compute kernels behind the forward pass.
 *
 * Two modes, each with its own scalar reference: exact (matmul[]: every
 * weight rebuilt in f32, the canonical f32 dot below) and fast (fast[]:
 * bit planes as integer codes against int8-quantized activations,
 * kernels_q8.h; kinds without a fast kernel use the exact one). Within a
 * mode, summation order is part of the contract: every variant of a
 * kernel must give bit-identical results to that mode's scalar reference
 * (kernels_ref.c, kernels_q8.c), so that native and WebAssembly builds
 * print the same tokens. The canonical
 * dot product keeps 8 partial sums (lane j takes elements i = j mod 8 of
 * the whole blocks of 8), reduces them as ((a0+a4)+(a2+a6)) +
 * ((a1+a5)+(a3+a7)), then adds the tail elements in order.
 */
#ifndef BS_KERNELS_H
#define BS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

struct bs_linear;
struct bs_q8_act;
struct bs_qmat;

/* y (n_tok, rows) = x (n_tok, cols) W^T for rows [r0, r1) only (so that
   callers can split rows across threads). scratch: bs_linear_scratch()
   floats, private to the caller's thread. x, y and scratch need no
   particular alignment. */
typedef void (*bs_linear_fn)(const struct bs_linear *l, const float *x, float *y, int n_tok,
                             int r0, int r1, float *scratch);

/* Fast mode's integer path for rows [r0, r1) of an activation quantized
   once (kernels_q8.h: bs_q8_prepare), so that threads sharing a matmul do
   not each quantize it again. work: bs_q8_work_in(thread's scratch). */
typedef void (*bs_q8_rows_fn)(const struct bs_linear *l, const struct bs_q8_act *a, int n_tok, float *y,
                              int r0, int r1, uint8_t *work);

/* One token's whole blocks of 32 columns quantized for that path: X in
   bs_q8_xpos order, block scales d and o * sum(X) per block (kernels_q8.h
   gives the canonical result, which every variant reproduces exactly). */
typedef void (*bs_q8_token_fn)(const float *x, int nb, uint32_t o, int16_t *xq, float *d, int32_t *osx);

/* The benchmark's 8-bit / 4-bit baseline matvec (baseline.h): y[r] for r
   in [r0, r1) = row r of m times the quantized token. */
typedef void (*bs_qmat_fn)(const struct bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs,
                           float *y, int r0, int r1);

typedef struct bs_kernels {
    const char *name;
    /* Canonical dot product of n floats. */
    float (*dot_f32)(const float *a, const float *b, int n);
    bs_linear_fn matmul[4];   /* exact mode, indexed by bs_lin_kind      */
    bs_linear_fn fast[4];     /* fast mode, indexed by bs_lin_kind       */
    bs_q8_rows_fn q8_rows;    /* the rows behind fast[BS_LIN_PLANES]     */
    bs_q8_token_fn q8_token;  /* and the quantizer in front of them      */
    bs_qmat_fn qmat_matvec;   /* the benchmark's q8 / q4 baselines       */
} bs_kernels;

/* Rows of cols floats that the F16, PLANES and AVD kernels may rebuild at
   once in their scratch (bs_linear_scratch() provides this many). */
#define BS_KERNEL_SCRATCH_ROWS 4

/* AVD matmul with at least this many tokens rebuilds each row of W and
   dots it with every token; with fewer it uses the sign-matrix form. The
   two round differently, so the switch point is part of the contract. */
#define BS_AVD_ROWS_MIN_TOK 4

/* The scalar reference: always built, the truth for every other variant. */
const bs_kernels *bs_kernels_ref(void);
/* The best variant this build and CPU support. */
const bs_kernels *bs_kernels_best(void);
/* Every variant this build and CPU support, the reference first (for
   tests and benchmarks). Returns how many were written (at most cap). */
int bs_kernels_all(const bs_kernels **out, int cap);

float bs_dot_f32_ref(const float *a, const float *b, int n);
/* The AVD matmul of the reference (variants without their own reuse it). */
void bs_matmul_avd_ref(const struct bs_linear *l, const float *x, float *y, int n_tok, int r0,
                       int r1, float *scratch);

/* Per-ISA tables, present only in builds that compile their file (x86:
   kernels_avx2.c, -mavx2 -mf16c); callers check the CPU first. */
const bs_kernels *bs_kernels_avx2(void);

/* Per-ISA tables, present only in builds that compile their file
   (wasm32 with -msimd128: kernels_simd128.c, BS_KERNELS_SIMD128). */
const bs_kernels *bs_kernels_simd128(void);

#endif
