/* rotate.c - block Walsh-Hadamard input rotation (rotate.h).
 *
 * Measured on SmolLM2-135M-Instruct (3 planes on every linear map, 8-bit
 * free binary16 scales in groups of 32, channels kept apart, the same 4 x 512
 * WikiText-2 tokens): perplexity 56.2 unrotated, 45.5 / 46.2 / 49.9 rotated
 * with three sign draws; 4 planes 36.4 against 33.2 (float 30.5;
 * docs/notes-measurements.md). The rotation is exact in exact arithmetic;
 * in f32 the butterflies (additions only) round, identically on every
 * build: the same code runs everywhere and no product is contracted.
 * Cost per input vector: cols * log2b additions and cols sign flips. */
#include "rotate.h"

#include "model.h"

#include <string.h>

int32_t bs_rotate_log2(int32_t cols) {
    int32_t k = 0;
    while (k < BS_ROTATE_MAX_LOG2 && cols % (2 << k) == 0) k++;
    return k;
}

/* In-place unnormalized fast Walsh-Hadamard transform of 2^log2b floats. */
static void fwht(float *x, int32_t log2b) {
    int32_t n = 1 << log2b;
    for (int32_t h = 1; h < n; h *= 2)
        for (int32_t i = 0; i < n; i += 2 * h)
            for (int32_t j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
}

/* Negates x[j] where bit j of signs is 0, by flipping the sign bit (what
   negation does): the signs are random, so a branch would mispredict every
   other column (that made the rotation 5% of a SmolLM2 decode step). */
static void flip_signs(float *x, int32_t cols, const uint8_t *signs) {
    for (int32_t j = 0; j < cols; j++) {
        uint32_t u, keep = (signs[j >> 3] >> (7 - (j & 7))) & 1u;
        memcpy(&u, &x[j], 4);
        u ^= (keep ^ 1u) << 31;
        memcpy(&x[j], &u, 4);
    }
}

void bs_rotate_input(float *x, int32_t cols, int64_t n, int32_t log2b, const uint8_t *signs) {
    for (int64_t t = 0; t < n; t++) {
        float *v = x + t * cols;
        flip_signs(v, cols, signs);
        for (int32_t b = 0; b < cols; b += 1 << log2b) fwht(v + b, log2b);
    }
}

void bs_rotate_row_back(float *w, int32_t cols, int32_t log2b, const uint8_t *signs) {
    for (int32_t b = 0; b < cols; b += 1 << log2b) fwht(w + b, log2b);
    flip_signs(w, cols, signs);
}
