/* kernels_lut.h - the fast mode's AVD decode: sign tables (T-MAC's idea).
 *
 * An AVD block multiplies y += A (S (B x)) where S is a +-1 matrix, so a
 * decode step needs z_t = S u_t for every rank t (u_t = B[t,:] * x). The
 * exact path makes k passes of f32 dots over each sign row. Here, per group
 * of 4 columns, a table holds all 16 signed sums of the 4 u values, for
 * every t at once (t in vector lanes); each sign row then costs one table
 * lookup per 4 columns (its nibble picks the entry) and one vector add per
 * 8 ranks, and reads S once. Everything stays f32: only the summation order
 * differs from the exact path (no quantization).
 *
 * The canonical result, per token and block (k ranks, kp = k rounded up to
 * 8, lanes t >= k zero), which every variant reproduces bit for bit (each
 * lane t is a fixed sequence of f32 operations):
 *   u_t[j] = f16(B[t][j]) * x[j]   (u = 0 past the last column)
 *   per group g of columns 4g .. 4g+3, with s(u, bit) = bit ? u : -u:
 *     A[h] = s(u_4g, h >> 1) + s(u_4g+1, h & 1),  B[h] likewise for 4g+2, 4g+3
 *     T_g[n] = A[n >> 2] + B[n & 3]     (n: the 4 sign bits, column 4g first)
 *   per row r: P_m = sum over g = m mod 4 (in g order) of T_g[nibble_g],
 *     z = (P_0 + P_1) + (P_2 + P_3); then y_r += a_rt * z_t for t in order,
 *     y_r starting from the previous blocks' sum (0 before the first).
 * Batches of BS_AVD_ROWS_MIN_TOK tokens or more take the exact path (rows
 * rebuilt once for the batch), as in exact mode.
 */
#ifndef BS_KERNELS_LUT_H
#define BS_KERNELS_LUT_H

#include "kernels.h"

#include <stddef.h>
#include <stdint.h>

struct bs_linear;

/* Ranks rounded up to whole vectors of 8 lanes. */
static inline int bs_lut_kp(int rank) { return (rank + 7) & ~7; }
/* Floats of scratch the fast AVD matmul needs. */
size_t bs_lut_scratch(int32_t cols, int32_t rank);

/* One variant's parts: build the transposed u (cols rows of kp) and the
   tables of one block, then run rows [r0, r1) against them. */
typedef void (*bs_lut_tables_fn)(const struct bs_linear *l, int block, const float *x, float *ut, float *tab);
typedef void (*bs_lut_rows_fn)(const struct bs_linear *l, int block, const float *tab, float *y, int r0, int r1);

/* The driver every variant shares (decode only: the caller sends batches
   of BS_AVD_ROWS_MIN_TOK or more to the exact path). */
void bs_lut_avd_matmul(const struct bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch, bs_lut_tables_fn tables, bs_lut_rows_fn rows);
/* The scalar reference parts. */
void bs_lut_tables_ref(const struct bs_linear *l, int block, const float *x, float *ut, float *tab);
void bs_lut_rows_ref(const struct bs_linear *l, int block, const float *tab, float *y, int r0, int r1);

#endif
