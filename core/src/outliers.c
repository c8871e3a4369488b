/* outliers.c - input channels kept apart (FORMAT.md 5, PLANES level 0).
 *
 * Small models carry a few "massive" activation channels, tens of times
 * the median RMS (SmolLM2-135M: one channel at 69x at a layer's attention
 * input), whose weights the model keeps tiny. A quantizer without a zero
 * level (b sign planes spell the b-bit midrise levels, none at 0) rebuilds
 * those tiny weights as +-c / 2^(b-1), and the massive channel multiplies
 * that error: on SmolLM2, 3 planes on every v projection alone took the
 * perplexity from 30.5 to 178 (round-to-nearest with a zero level: 31.5).
 * So the compressor stores those few columns whole in binary16 and the
 * planes encode them as zero; the runtime zeroes the channels of x for
 * the planes' matmul (the kernels stay as they are, and an activation
 * quantizer in a kernel never sees the massive values) and adds the exact
 * columns back. Measured in docs/RESULTS.md. */
#include "linear.h"

#include "half.h"

#include <string.h>

void bs_outliers_mask(const bs_linear *l, const float *x, float *xm, int n_tok) {
    memcpy(xm, x, (size_t)n_tok * l->cols * sizeof(float));
    for (int t = 0; t < n_tok; t++)
        for (int32_t k = 0; k < l->n_out; k++) xm[(int64_t)t * l->cols + l->out_idx[k]] = 0.0f;
}

void bs_outliers_add(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1) {
    float xo[64]; /* the token's kept-apart channels, gathered once (every matrix has at most 8 by default) */
    int32_t k_n = l->n_out;
    for (int t = 0; t < n_tok; t++) {
        const float *xt = x + (int64_t)t * l->cols;
        float *yt = y + (int64_t)t * l->rows;
        const float *xs = xo;
        if (k_n <= 64)
            for (int32_t k = 0; k < k_n; k++) xo[k] = xt[l->out_idx[k]];
        for (int r = r0; r < r1; r++) {
            const uint16_t *v = l->out_val + (int64_t)r * k_n;
            float acc = 0.0f;
            if (k_n <= 64)
                for (int32_t k = 0; k < k_n; k++) acc += bs_f16_to_f32(v[k]) * xs[k];
            else
                for (int32_t k = 0; k < k_n; k++) acc += bs_f16_to_f32(v[k]) * xt[l->out_idx[k]];
            yt[r] += acc;
        }
    }
}
