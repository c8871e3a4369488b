/* planes.c - bit-plane residual blocks (DESIGN.md 8.7): sign planes with a
 * fixed halving magnitude per group, so that any b planes spell the b-bit
 * midrise quantizer of W.
 *
 * Per group of a row, c = absmax / 2 (binary16, rounded so that |w| <= 2c).
 * Plane i subtracts sign(R) * c / 2^i from the residual. By induction
 * |R| <= c / 2^i after plane i (|w| <= 2c starts it; |r| <= 2h gives
 * |r - sign(r) h| <= h), so after b planes
 *     W - R = sum_{i<b} s_i c / 2^i = c (2q + 1 - 2^b) / 2^(b-1)
 * with q the b-bit integer the planes spell (plane 0 most significant): the
 * levels are the odd multiples of c / 2^(b-1) in (-2c, 2c), 2^b of them,
 * spaced c / 2^(b-2), and the error |R| <= c / 2^(b-1) = (absmax / 2^b, up
 * to the rounding of c) is at most half a spacing: the nearest level.
 * That is exactly what the runtime's row_planes rebuilds (kernels_ref.c).
 *
 * Two encoders:
 *   bs_planes_step works on the f32 residual alone. r - s h is exact while
 *   the residual's bits fit in 24, but for a weight much smaller than its
 *   group's scale the first step rounds (w - c needs the bits of w below
 *   the ulp of c), and that error, at most half an f32 ulp of 2c, is
 *   carried by every later plane. So W - R differs from the runtime's
 *   level by at most one f32 ulp of 2c (absolute: up to ~2^11 ulps of a
 *   small level), and a sign can differ from the exact nearest-level choice
 *   only for a weight within that distance of a decision boundary.
 *   bs_planes_encode reads W and decides each plane by comparing w with the
 *   partial level L_i, which is exact in f32 (c has 11 significant bits and
 *   L_i = c * odd / 2^(i-1), so at most 24 bits for i <= 13): the planes are
 *   exactly the nearest level (w at a midpoint goes up: sign(0) = +1), and
 *   R = W - L_b is rounded once; as |w - L_b| <= |L_b|, W - R is then L_b
 *   or one f32 ulp from it (measured: bit-exact on every stories260K weight
 *   except those ulp cases, tests/test_decompose.c). */
#include "decompose.h"

#include "half.h"
#include "model.h"

#include <math.h>
#include <string.h>

/* The scale of an all-zero group: the smallest normal binary16, 2^-14. Any
   positive c represents zero within c / 2^(b-1); a normal value keeps every
   stored scale away from the subnormal range that some f16 hardware
   flushes. */
#define ZERO_GROUP_SCALE 0x0400u

bs_status bs_planes_scales(const float *W, int32_t m, int32_t n, int32_t group, uint16_t *scales) {
    if (!W || !scales) return bs_fail(BS_ERR_INVALID_ARG, "planes_scales: NULL argument");
    if (m < 1 || n < 1 || group < 1)
        return bs_fail(BS_ERR_INVALID_ARG, "planes_scales: %d x %d matrix, group %d", (int)m,
                       (int)n, (int)group);
    int32_t gpr = bs_groups_per_row(n, group);
    for (int32_t i = 0; i < m; i++)
        for (int32_t g = 0; g < gpr; g++) {
            int32_t j0 = g * group, j1 = BS_MIN(n, j0 + group);
            float amax = 0.0f;
            for (int32_t j = j0; j < j1; j++) {
                float w = W[(size_t)i * n + j];
                if (!isfinite(w))
                    return bs_fail(BS_ERR_FORMAT, "planes_scales: non-finite weight at (%d, %d)",
                                   (int)i, (int)j);
                amax = fmaxf(amax, fabsf(w));
            }
            uint16_t h = ZERO_GROUP_SCALE;
            if (amax > 0.0f) {
                /* Nearest binary16 to amax / 2, then up one step at a time
                   while 2c < amax (once at most, bar subnormal corners).
                   2c is exact in f32 for every finite half. */
                h = bs_f32_to_f16(amax * 0.5f);
                while (2.0f * bs_f16_to_f32(h) < amax && h < 0x7c00u) h++;
                if (h >= 0x7c00u)
                    return bs_fail(BS_ERR_RANGE,
                                   "planes_scales: |w| = %g at row %d exceeds the binary16 scale range",
                                   (double)amax, (int)i);
            }
            scales[(size_t)i * gpr + g] = h;
        }
    return BS_OK;
}

void bs_planes_step(float *R, int32_t m, int32_t n, int32_t group, const uint16_t *scales, int i,
                    uint8_t *signs) {
    int32_t gpr = bs_groups_per_row(n, group), rb = bs_row_bytes(n);
    /* 2^-i exactly (i < 13 by contract; any i >= 0 is still exact here). */
    float halving = 1.0f;
    for (int t = 0; t < i; t++) halving *= 0.5f;
    memset(signs, 0, (size_t)m * rb);
    for (int32_t r = 0; r < m; r++) {
        float *row = R + (size_t)r * n;
        uint8_t *out = signs + (size_t)r * rb;
        for (int32_t g = 0; g < gpr; g++) {
            float h = bs_f16_to_f32(scales[(size_t)r * gpr + g]) * halving;
            int32_t j1 = BS_MIN(n, (g + 1) * group);
            for (int32_t j = g * group; j < j1; j++) {
                if (row[j] >= 0.0f) {
                    out[j >> 3] |= (uint8_t)(0x80u >> (j & 7));
                    row[j] -= h;
                } else {
                    row[j] += h;
                }
            }
        }
    }
}

bs_status bs_planes_encode(const float *W, int32_t m, int32_t n, int32_t group,
                           const uint16_t *scales, int nplanes, uint8_t *const *planes, float *R) {
    if (!W || !scales || !planes) return bs_fail(BS_ERR_INVALID_ARG, "planes_encode: NULL argument");
    if (m < 1 || n < 1 || group < 1 || nplanes < 1 || nplanes > BS_PLANES_MAX)
        return bs_fail(BS_ERR_INVALID_ARG, "planes_encode: %d x %d, group %d, %d planes (1..%d)",
                       (int)m, (int)n, (int)group, nplanes, BS_PLANES_MAX);
    int32_t gpr = bs_groups_per_row(n, group), rb = bs_row_bytes(n);
    for (int p = 0; p < nplanes; p++) {
        if (!planes[p]) return bs_fail(BS_ERR_INVALID_ARG, "planes_encode: plane %d is NULL", p);
        memset(planes[p], 0, (size_t)m * rb);
    }
    for (int32_t r = 0; r < m; r++)
        for (int32_t j = 0; j < n; j++) {
            float w = W[(size_t)r * n + j], h = bs_f16_to_f32(scales[(size_t)r * gpr + j / group]);
            float level = 0.0f; /* L_i: every sum below is exact */
            for (int p = 0; p < nplanes; p++, h *= 0.5f) {
                if (w >= level) {
                    planes[p][(size_t)r * rb + (j >> 3)] |= (uint8_t)(0x80u >> (j & 7));
                    level += h;
                } else {
                    level -= h;
                }
            }
            if (R) R[(size_t)r * n + j] = w - level;
        }
    return BS_OK;
}
