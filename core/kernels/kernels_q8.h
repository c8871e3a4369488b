/* kernels_q8.h - the fast mode's bit-plane matmul: int8 activations.
 *
 * Exact mode rebuilds each weight in f32 and takes the canonical f32 dot.
 * Fast mode never builds a float weight: b planes of a group spell one
 * b-bit integer q per weight (w = c * (2q + 1 - 2^b) * 2^-(b-1)), and x is
 * quantized to int8 per block of BS_Q8_BLOCK columns with one f32 scale,
 * as llama.cpp's q8 dot products do, so the inner loop is integer
 * multiply-adds (exact in any order). The approximation is x's rounding
 * only; docs/RESULTS.md measures its perplexity cost.
 *
 * The canonical result, which every variant reproduces bit for bit (only
 * the integer sums are vectorised; the float steps are the same scalar
 * operations in the same order everywhere):
 *
 *   per token, per whole block b of 32 columns:
 *     amax = max |x_j|; blocks with amax < 2^-100 are all zero (d = 0)
 *     d_b = amax / 127,  xq_j = round-half-even(x_j * (127 / amax))
 *     s_b = sum_j xq_j                                     (int32)
 *   per row r, with n planes and offset o = 1 - 2^n:
 *     i_b = sum_{j in b} q_j * xq_j                        (int32)
 *     e_b = (float)(2 i_b + o s_b),  f_b = c_g(b) * d_b
 *     acc = the canonical dot (kernels.h) of e and f over the nb blocks
 *     y = acc * 2^-(n-1)
 *     then for the tail columns j (cols mod 32), in order, y += w_j * x_j
 *     with w_j exactly as exact mode rebuilds it.
 *
 * Used when the group is a multiple of 32 and 1 <= n <= BS_Q8_MAX_PLANES;
 * otherwise (and for n = 0) fast mode is exact mode.
 */
#ifndef BS_KERNELS_Q8_H
#define BS_KERNELS_Q8_H

#include "kernels.h"

#include <stddef.h>
#include <stdint.h>

struct bs_linear;

#define BS_Q8_BLOCK 32
/* Tokens quantized at once (a batch's rows of W are rebuilt once per this
   many tokens; bs_q8_scratch sizes the scratch for them). */
#define BS_Q8_TOK 64
/* q splits into a high part of n - 7 planes and a low part of 7 (so each
   fits a u8 x s8 pair sum in int16 without saturating): at most 14. */
#define BS_Q8_MAX_PLANES 14

/* n_tok (<= BS_Q8_TOK) quantized tokens: token t's int8 values at
   q + t * stride (nb blocks of 32), scales d + t * nb, sums s + t * nb. */
typedef struct bs_q8_act {
    const float *x;  /* the f32 tokens (tail columns), cols apart */
    int8_t *q;
    float *d;
    int32_t *s;
    int nb, stride, cols;
} bs_q8_act;

/* The rows [r0, r1) of y (n_tok tokens, y rows apart) of one variant.
   qrow: 2 * nb * 32 + 12 * nb bytes of scratch, 4-byte aligned, for one
   row's q (low, high part), block scales and the reference's e and f. */
typedef void (*bs_q8_rows_fn)(const struct bs_linear *l, const bs_q8_act *a, int n_tok, float *y,
                              int r0, int r1, uint8_t *qrow);

/* Floats of scratch bs_q8_planes_matmul needs for cols columns. */
size_t bs_q8_scratch(int32_t cols);
/* Whether fast mode takes the int8 path for l. */
int bs_q8_planes_ok(const struct bs_linear *l);
/* The driver every variant shares: quantizes BS_Q8_TOK tokens at a time
   into scratch (bs_q8_scratch floats) and calls rows. */
void bs_q8_planes_matmul(const struct bs_linear *l, const float *x, float *y, int n_tok, int r0,
                         int r1, float *scratch, bs_q8_rows_fn rows);
/* The reference rows function (scalar). */
void bs_q8_planes_rows_ref(const struct bs_linear *l, const bs_q8_act *a, int n_tok, float *y,
                           int r0, int r1, uint8_t *qrow);
/* y += the tail columns' products of row r, in order (the last step of
   the canonical result above). */
float bs_q8_planes_tail(const struct bs_linear *l, int32_t r, const float *x, float y);
/* The binary16 scale of each whole block of row r (nb floats). */
void bs_q8_block_scales(const struct bs_linear *l, int32_t r, float *cb);

#endif
