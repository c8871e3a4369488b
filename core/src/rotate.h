/* rotate.h - the input rotation of PLANES matrices (FORMAT.md 5, 1.3).
 *
 * A rotated matrix stores P = W (H D)^-1 instead of W, where D flips the
 * signs of some input channels and H is the block-diagonal Walsh-Hadamard
 * matrix with blocks of 2^log2b (entries +-1, unnormalized; H H = 2^log2b I),
 * so that W x = P (H D x): the runtime rotates the input, the kernels see
 * a plain PLANES matrix. Why (rotate.c): the rotation spreads every weight
 * and every activation over its block, which takes the outliers out of
 * both, and the planes' midrise levels fit the near-Gaussian result. */
#ifndef BS_ROTATE_H
#define BS_ROTATE_H

#include "internal.h"

/* The largest Hadamard block a row of `cols` can take: the largest power
   of two dividing cols, at most 2^BS_ROTATE_MAX_LOG2 (returned as log2). */
#define BS_ROTATE_MAX_LOG2 15
int32_t bs_rotate_log2(int32_t cols);

/* Bytes of the stored sign flips: one bit per column, in 4-byte words. */
static inline uint64_t bs_rotate_signs_size(int32_t cols) { return 4 * (((uint64_t)cols + 31) / 32); }

/* x (n, cols floats each) <- H D x for each of the n vectors. signs:
   bs_rotate_signs_size(cols) bytes, bit j (MSB first) = 1 keeps channel j, 0 negates it. */
void bs_rotate_input(float *x, int32_t cols, int64_t n, int32_t log2b, const uint8_t *signs);

/* w (cols) <- D H w: a stored row of P back to the row of W (H and D are
   symmetric and H D (D H) = 2^log2b I, so this is the inverse up to the
   factor the compressor divides P by). */
void bs_rotate_row_back(float *w, int32_t cols, int32_t log2b, const uint8_t *signs);

#endif
