/* kernels_q8.h - the fast mode's bit-plane matmul: int8 activations.
 *
 * Exact mode rebuilds each weight in f32 and takes the canonical f32 dot.
 * Fast mode never builds a float weight: b planes of a group spell one
 * b-bit integer q per weight (w = c * (2q + 1 - 2^b) * 2^-(b-1)), and x is
 * quantized per block of BS_Q8_BLOCK columns with one f32 scale, as
 * llama.cpp's q8 dot products do, but to two int8 digits (x ~ d (xh +
 * xl / 256), a 16-bit quantizer: plain int8 moved SmolLM2's perplexity by
 * up to 2% at 3 bits per weight), so the inner loop is integer
 * multiply-adds (exact in any order), two per weight against one build of
 * q. The approximation is x's rounding only; docs/RESULTS.md measures its
 * perplexity cost.
 *
 * The canonical result, which every variant reproduces bit for bit (only
 * the integer sums are vectorised; the float steps are the same scalar
 * operations in the same order everywhere):
 *
 *   per token, per whole block b of 32 columns:
 *     amax = max |x_j|; blocks with amax < 2^-100 are all zero (d = 0)
 *     d_b = amax / 127,  v_j = x_j * (127 / amax),  xh_j = rne(v_j),
 *     xl_j = clamp(rne((v_j - xh_j) * 256), -127, 127)  (rne: round half
 *     to even),  sh_b = sum_j xh_j,  sl_b = sum_j xl_j     (int32)
 *   per row r, with n planes and offset o = 1 - 2^n:
 *     ih_b = sum_{j in b} q_j xh_j,  il_b = sum q_j xl_j   (int32)
 *     e_b = (float)(2 ih_b + o sh_b) + (float)(2 il_b + o sl_b) * 2^-8
 *     f_b = c_g(b) * d_b
 *     acc = the canonical dot (kernels.h) of e and f over the nb blocks
 *     y = acc * 2^-(n-1)
 *     then for the tail columns j (cols mod 32), in order, y += w_j * x_j
 *     with w_j exactly as exact mode rebuilds it.
 *
 * Used when the group is a multiple of 32, 1 <= n <= BS_Q8_MAX_PLANES and
 * the batch has fewer than BS_Q8_MAX_TOK tokens (decode); otherwise (and
 * for n = 0) fast mode is exact mode.
 */
#ifndef BS_KERNELS_Q8_H
#define BS_KERNELS_Q8_H

#include "kernels.h"

#include <stddef.h>
#include <stdint.h>

struct bs_linear;

#define BS_Q8_BLOCK 32
/* Batches of at least this many tokens (prefill) take the exact path in
   fast mode too: rebuilding f32 rows once and reusing them across tokens
   in registers beats the integer path there (docs/RESULTS.md). Like
   BS_AVD_ROWS_MIN_TOK, the switch point is part of the contract. */
#define BS_Q8_MAX_TOK 4
/* Tokens quantized at once (up to BS_Q8_MAX_TOK - 1 are ever asked). */
#define BS_Q8_TOK 4
/* q splits into a high part of n - 7 planes and a low part of 7 (so each
   fits a u8 x s8 pair sum in int16 without saturating): at most 14. */
#define BS_Q8_MAX_PLANES 14

/* n_tok (<= BS_Q8_TOK) quantized tokens: token t's int8 digits at
   q + t * stride and ql + t * stride (nb blocks of 32), scales d + t * nb,
   digit sums s + t * nb and sl + t * nb. */
typedef struct bs_q8_act {
    const float *x;  /* the f32 tokens (tail columns), cols apart */
    int8_t *q, *ql;
    float *d;
    int32_t *s, *sl;
    int nb, stride, cols;
} bs_q8_act;

/* The rows [r0, r1) of y (n_tok tokens, y rows apart) of one variant.
   qrow: 2 * nb * 32 + 12 * nb bytes of scratch, 4-byte aligned, for one
   row's q (low, high part), block scales and the reference's e and f. */
typedef void (*bs_q8_rows_fn)(const struct bs_linear *l, const bs_q8_act *a, int n_tok, float *y,
                              int r0, int r1, uint8_t *qrow);

/* One token: its nb whole blocks of x into int8 digits q (and ql, the
   second digit, unless NULL), scales d, digit sums s (and sl). */
void bs_q8_quantize(const float *x, int nb, int8_t *q, int8_t *ql, float *d, int32_t *s, int32_t *sl);
/* Floats of scratch bs_q8_planes_matmul needs for cols columns. */
size_t bs_q8_scratch(int32_t cols);
/* Whether fast mode takes the int8 path for l and a batch of n_tok. */
int bs_q8_planes_ok(const struct bs_linear *l, int n_tok);
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
