/* avd.c - one step of the iterative absolute-value decomposition
 * (BITSTACK.md 3).
 *
 * What is stored and what is subtracted differ, on purpose, as in the
 * reference implementation: the block written out holds A and B rounded to
 * binary16 (that is what the runtime multiplies), while the residual is
 * updated with the unrounded f32 A and B. So after b steps
 *     W = sum_{i<b} S_i * (A_i B_i) + R_b           (f32 A_i, B_i: exact)
 * and the runtime's reconstruction with the binary16 A_i, B_i differs from
 * W - R_b by the rounding of the factors (relative ~2^-11 per block, not
 * fed back into later blocks). That sets a floor: on stories260K at k = 16
 * the relative error stops at ~3e-4 after 6-8 blocks and later blocks do
 * nothing. bs_avd_step_ex(feedback16 = 1) subtracts the stored binary16
 * factors instead, so the residual is what the runtime still lacks and the
 * error keeps falling (< 1e-5 after 16 blocks there); identical otherwise.
 * At k = 1, or on large matrices far from the floor, the two agree. */
#include "decompose.h"

#include "half.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Packs sign(R) row by row: bit 7 - (j mod 8) of byte j / 8 is 1 when
   R[i][j] >= 0 (so sign(+0) = sign(-0) = +1); the padding bits of a row's
   last byte stay 0. signs (m, bs_row_bytes(n)). */
static void pack_signs(const float *R, int32_t m, int32_t n, uint8_t *signs) {
    int32_t rb = bs_row_bytes(n);
    memset(signs, 0, (size_t)m * rb);
    for (int32_t i = 0; i < m; i++) {
        const float *r = R + (size_t)i * n;
        uint8_t *out = signs + (size_t)i * rb;
        for (int32_t j = 0; j < n; j++)
            if (r[j] >= 0.0f) out[j >> 3] |= (uint8_t)(0x80u >> (j & 7));
    }
}

bs_status bs_avd_step(float *R, int32_t m, int32_t n, int32_t k, uint64_t seed, uint8_t *signs,
                      uint16_t *a16, uint16_t *b16) {
    return bs_avd_step_ex(R, m, n, k, seed, 0, signs, a16, b16);
}

bs_status bs_avd_step_ex(float *R, int32_t m, int32_t n, int32_t k, uint64_t seed, int feedback16,
                         uint8_t *signs, uint16_t *a16, uint16_t *b16) {
    if (!R || !signs || !a16 || !b16) return bs_fail(BS_ERR_INVALID_ARG, "avd_step: NULL argument");
    if (m < 1 || n < 1 || k < 1 || k > BS_MIN(m, n))
        return bs_fail(BS_ERR_INVALID_ARG, "avd_step: k = %d with a %d x %d matrix", (int)k, (int)m,
                       (int)n);
    size_t mn = (size_t)m * n;
    /* absR (m, n), U (m, k), s (k), V (n, k), A (m, k), B (k, n) f32, then
       one f64 row (n) for A B. */
    size_t floats = mn + 2 * (size_t)m * k + (size_t)k + 2 * (size_t)n * k;
    float *buf = bs_malloc(floats, sizeof(float));
    double *row = bs_malloc((size_t)n, sizeof(double));
    if (!buf || !row) {
        free(buf);
        free(row);
        return BS_ERR_NOMEM;
    }
    float *absR = buf, *U = absR + mn, *s = U + (size_t)m * k, *V = s + k;
    float *A = V + (size_t)n * k, *B = A + (size_t)m * k;
    for (size_t i = 0; i < mn; i++) absR[i] = fabsf(R[i]);

    /* bs_topk_svd rejects non-finite entries (BS_ERR_FORMAT) before R is
       touched; every failure below also leaves R unchanged. */
    bs_status st = bs_topk_svd(absR, m, n, k, seed, U, s, V);
    if (st != BS_OK) goto done;

    /* sqrt(sigma) split evenly between the two factors. */
    for (int32_t t = 0; t < k; t++) s[t] = sqrtf(s[t]);
    for (int32_t i = 0; i < m; i++)
        for (int32_t t = 0; t < k; t++) A[(size_t)i * k + t] = U[(size_t)i * k + t] * s[t];
    for (int32_t t = 0; t < k; t++)
        for (int32_t j = 0; j < n; j++) B[(size_t)t * n + j] = s[t] * V[(size_t)j * k + t];
    for (size_t i = 0, e = (size_t)m * k; i < e; i++) {
        a16[i] = bs_f32_to_f16(A[i]);
        if ((a16[i] & 0x7c00u) == 0x7c00u) {
            st = bs_fail(BS_ERR_RANGE, "avd_step: |A| = %g does not fit binary16", (double)A[i]);
            goto done;
        }
    }
    for (size_t i = 0, e = (size_t)k * n; i < e; i++) {
        b16[i] = bs_f32_to_f16(B[i]);
        if ((b16[i] & 0x7c00u) == 0x7c00u) {
            st = bs_fail(BS_ERR_RANGE, "avd_step: |B| = %g does not fit binary16", (double)B[i]);
            goto done;
        }
    }
    pack_signs(R, m, n, signs);

    /* R <- R - S * (A B): (A B)[i][j] summed in double over t ascending and
       rounded once to f32, then one f32 subtraction per weight. With
       feedback the factors are the stored binary16 ones (decoded into A
       and B in place). */
    if (feedback16) {
        for (size_t i = 0, e = (size_t)m * k; i < e; i++) A[i] = bs_f16_to_f32(a16[i]);
        for (size_t i = 0, e = (size_t)k * n; i < e; i++) B[i] = bs_f16_to_f32(b16[i]);
    }
    for (int32_t i = 0; i < m; i++) {
        memset(row, 0, (size_t)n * sizeof(double));
        for (int32_t t = 0; t < k; t++) {
            double a = A[(size_t)i * k + t];
            const float *b = B + (size_t)t * n;
            for (int32_t j = 0; j < n; j++) row[j] += a * (double)b[j];
        }
        float *r = R + (size_t)i * n;
        for (int32_t j = 0; j < n; j++) {
            float ab = (float)row[j];
            r[j] = r[j] >= 0.0f ? r[j] - ab : r[j] + ab;
        }
    }
done:
    free(buf);
    free(row);
    return st;
}
