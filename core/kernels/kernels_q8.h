/* kernels_q8.h - the fast mode's bit-plane matmul: integer codes times
 * 16-bit integer activations.
 *
 * Exact mode rebuilds each weight in f32 and takes the canonical f32 dot.
 * Fast mode never builds a float weight: the b planes of a group spell one
 * b-bit integer q per weight (w = c * (2q + 1 - 2^b) * 2^-(b-1)), read from
 * the packed layout (planes_pack.h: quads of planes are nibble codes, so a
 * code costs a shift and a mask per chunk, not a gather per plane), and x
 * is quantized per block of BS_Q8_BLOCK columns with one f32 scale to a
 * 16-bit integer X = 256 xh + xl made of two int8 digits (a 16-bit
 * quantizer: plain int8, llama.cpp's q8, moved SmolLM2's perplexity by up
 * to 2% at 3 bits per weight). The inner loop is one 16-bit multiply-add
 * per weight (AVX2 vpmaddwd, SIMD128 i32x4.dot_i16x8_s), whatever b is;
 * integer sums are exact in any order, so each variant may build them its
 * own way. The approximation is x's rounding only; docs/RESULTS.md
 * measures its perplexity cost.
 *
 * The canonical result, which every variant reproduces bit for bit (the
 * float steps are the same scalar operations in the same order everywhere):
 *
 *   per token, per whole block b of 32 columns:
 *     amax = max |x_j|; blocks with amax < 2^-100 are all zero (d = 0)
 *     d_b = amax / 127,  v_j = x_j * (127 / amax),  xh_j = rne(v_j),
 *     xl_j = clamp(rne((v_j - xh_j) * 256), -127, 127)  (rne: round half
 *     to even),  X_j = 256 xh_j + xl_j  (|X_j| <= 32639)
 *   per row r, with n planes and o = 1 - 2^n:
 *     E_b = sum_{j in b} (2 q_j + o) X_j    (exact: |E_b| < 2^31 for n <= 11;
 *           variants may wrap intermediate sums mod 2^32)
 *     e_b = (float)E_b,  f_b = c_g(b) * d_b;  e_b = f_b = +0 for the blocks
 *     b = nb .. nb8 - 1 that round nb up to a multiple of 8 (nb8)
 *     acc = the canonical dot (kernels.h) of e and f over nb8 blocks: 8
 *           lanes, lane k taking blocks b = k mod 8 in order, no tail (so a
 *           vector of 8 blocks is one step, the last one padded)
 *     y = acc * 2^-(n+7)
 *     then for the tail columns j (cols mod 32), in order, y += w_j * x_j
 *     with w_j exactly as exact mode rebuilds it.
 *
 * Used when the matrix is packed, the group is a multiple of 32,
 * 1 <= n <= BS_Q8_MAX_PLANES and the batch has fewer than BS_Q8_MAX_TOK
 * tokens (decode); otherwise (and for n = 0) fast mode is exact mode.
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
_Static_assert(BS_Q8_MAX_TOK - 1 <= BS_Q8_TOK, "a decode batch is quantized in one piece (linear_par.c)");
/* E_b fits int32 up to 11 planes (32 * 2047 * 32639 < 2^31); the format
   allows 12, which take the exact path. */
#define BS_Q8_MAX_PLANES 11

/* Where column j of a block sits in the block's 32 X values: the 16 even
   columns, then the 16 odd ones, so that a vector of byte codes splits
   into 16-bit lanes with one mask (even) and one shift (odd). */
static inline int bs_q8_xpos(int j) { return (j & 1) ? 16 + (j >> 1) : j >> 1; }

/* n_tok (<= BS_Q8_TOK) quantized tokens. */
typedef struct bs_q8_act {
    const float *x;     /* (n_tok, cols) the f32 tokens (tail columns)      */
    const int16_t *xq;  /* (n_tok, nb * 32) X, each block in bs_q8_xpos order */
    const float *d;     /* (n_tok, nb8) block scales d_b, 0 past nb         */
    const int32_t *osx; /* (n_tok, nb8) o * sum of the block's X (mod 2^32), 0 past nb */
    int nb, nb8, cols;  /* whole blocks; nb rounded up to a multiple of 8 */
} bs_q8_act;

/* bs_q8_rows_fn (kernels.h): the rows [r0, r1) of y (n_tok tokens, y rows
   apart) of one variant. work: bs_q8_work(cols) bytes, 16-byte aligned,
   private to the call. */

/* One token: its nb whole blocks of x into int8 digits q (and ql, the
   second digit, unless NULL), scales d, digit sums s (and sl). The bench's
   q8 / q4 baselines use the first digit alone. */
void bs_q8_quantize(const float *x, int nb, int8_t *q, int8_t *ql, float *d, int32_t *s, int32_t *sl);
/* Bytes of per-call work for the rows functions: a row's codes (u16),
   block scales, e and f (nb8 floats each). */
size_t bs_q8_work(int32_t cols);
/* Floats of scratch bs_q8_planes_matmul needs for cols columns. */
size_t bs_q8_scratch(int32_t cols);
/* Whether fast mode takes the integer path for l and a batch of n_tok. */
int bs_q8_planes_ok(const struct bs_linear *l, int n_tok);
/* Quantizes n_tok <= BS_Q8_TOK tokens of x (n_tok, l->cols) with token
   into scratch (bs_q8_scratch floats) and describes them in a; the rows
   functions' work area follows them (bs_q8_work_in). */
void bs_q8_prepare(const struct bs_linear *l, const float *x, int n_tok, float *scratch, bs_q8_token_fn token,
                   bs_q8_act *a);
/* The work area inside a scratch of bs_q8_scratch floats (the same place
   in every thread's scratch). */
uint8_t *bs_q8_work_in(float *scratch, int32_t cols);
/* The driver every variant shares: quantizes BS_Q8_TOK tokens at a time
   into scratch (bs_q8_scratch floats) and calls rows. */
void bs_q8_planes_matmul(const struct bs_linear *l, const float *x, float *y, int n_tok, int r0,
                         int r1, float *scratch, bs_q8_rows_fn rows, bs_q8_token_fn token);
/* The reference quantizer (scalar; bs_q8_quantize block by block). */
void bs_q8_token_ref(const float *x, int nb, uint32_t o, int16_t *xq, float *d, int32_t *osx);
/* The reference rows function (scalar). */
void bs_q8_planes_rows_ref(const struct bs_linear *l, const bs_q8_act *a, int n_tok, float *y,
                           int r0, int r1, uint8_t *work);
/* y += the tail columns' products of row r, in order (the last step of
   the canonical result above). */
float bs_q8_planes_tail(const struct bs_linear *l, int32_t r, const float *x, float y);
/* The binary16 scale of each whole block of row r (nb floats). */
void bs_q8_block_scales(const struct bs_linear *l, int32_t r, float *cb);
/* 2^-(n+7), the final factor of the canonical result. */
float bs_q8_inv(int n);

#endif
