/* kernels_ref.c - scalar reference kernels (see kernels.h for the
   summation-order contract). */
#include "kernels.h"

float bs_dot_f32_ref(const float *a, const float *b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Rows outermost: each weight row is read once per call and reused for
   every token of the batch while it is in cache. */
static void matmul_f32_ref(float *y, const float *x, const float *w, int n_tok, int rows,
                           int cols, int r0, int r1) {
    for (int r = r0; r < r1; r++) {
        const float *wr = w + (int64_t)r * cols;
        for (int t = 0; t < n_tok; t++)
            y[(int64_t)t * rows + r] = bs_dot_f32_ref(wr, x + (int64_t)t * cols, cols);
    }
}

static const bs_kernels ref_kernels = {"scalar", bs_dot_f32_ref, matmul_f32_ref};

const bs_kernels *bs_kernels_ref(void) { return &ref_kernels; }

const bs_kernels *bs_kernels_best(void) { return &ref_kernels; }
