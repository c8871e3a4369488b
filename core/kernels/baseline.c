/* baseline.c - quantization and scalar matvec of the bench baselines
   (baseline.h). */
#include "baseline.h"

#include "half.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int32_t block_bytes(int32_t bits) { return bits == 8 ? 32 : 16; }

int bs_qmat_init(bs_qmat *m, const float *w, int32_t rows, int32_t cols, int32_t bits) {
    memset(m, 0, sizeof *m);
    if (bits != 8 && bits != 4) return -1;
    int32_t nb = (cols + 31) / 32, bb = block_bytes(bits);
    m->q = malloc((size_t)rows * nb * bb);
    m->d = malloc((size_t)rows * nb * sizeof *m->d);
    if (!m->q || !m->d) {
        bs_qmat_free(m);
        return -1;
    }
    m->rows = rows, m->cols = cols, m->bits = bits;
    m->matvec = bs_kernels_best()->qmat_matvec;
    int32_t qmax = bits == 8 ? 127 : 7;
    for (int64_t b = 0; b < (int64_t)rows * nb; b++) {
        float wb[32] = {0}; /* the block, zero past the row's end */
        int64_t r = b / nb, j0 = (b % nb) * 32;
        for (int j = 0; j < 32 && j0 + j < cols; j++) wb[j] = w[r * cols + j0 + j];
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fabsf(wb[j]) > amax ? fabsf(wb[j]) : amax;
        m->d[b] = bs_f32_to_f16(amax / (float)qmax);
        float d = bs_f16_to_f32(m->d[b]), id = d > 0 ? 1.0f / d : 0.0f;
        uint8_t *qb = m->q + b * bb;
        if (bits == 4) memset(qb, 0, 16);
        for (int j = 0; j < 32; j++) {
            int v = (int)lrintf(wb[j] * id);
            v = v < -qmax ? -qmax : v > qmax ? qmax : v;
            if (bits == 8) qb[j] = (uint8_t)(int8_t)v;
            else qb[j % 16] |= (uint8_t)((v + 8) << (j < 16 ? 0 : 4)); /* GGUF order: j, j + 16 */
        }
    }
    return 0;
}

void bs_qmat_free(bs_qmat *m) {
    free(m->q);
    free(m->d);
    memset(m, 0, sizeof *m);
}

int64_t bs_qmat_bytes(const bs_qmat *m) {
    return (int64_t)m->rows * bs_qmat_blocks(m) * (block_bytes(m->bits) + 2);
}

/* isum_b of one block of 32 (baseline.h): 8-bit codes times x; 4-bit
   nibbles 0..15 times x, less 8 times the block's sum of x. */
static int32_t block_isum(const uint8_t *qb, const int8_t *x, int32_t xs, int bits) {
    int32_t isum = 0;
    if (bits == 8)
        for (int j = 0; j < 32; j++) isum += (int8_t)qb[j] * x[j];
    else {
        for (int j = 0; j < 16; j++) isum += (qb[j] & 15) * x[j] + (qb[j] >> 4) * x[j + 16];
        isum -= 8 * xs;
    }
    return isum;
}

void bs_qmat_matvec_ref(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                        int r0, int r1) {
    int nb = bs_qmat_blocks(m), bb = block_bytes(m->bits);
    for (int r = r0; r < r1; r++) {
        const uint8_t *q = m->q + (int64_t)r * nb * bb;
        const uint16_t *d = m->d + (int64_t)r * nb;
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* the canonical dot of e and f (kernels.h) */
        int b = 0;
        for (; b + 8 <= nb; b += 8)
            for (int k = 0; k < 8; k++)
                lane[k] += (float)block_isum(q + (b + k) * bb, xq + (b + k) * 32, xs[b + k], m->bits) *
                           (bs_f16_to_f32(d[b + k]) * xd[b + k]);
        float acc = ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
        for (; b < nb; b++)
            acc += (float)block_isum(q + b * bb, xq + b * 32, xs[b], m->bits) * (bs_f16_to_f32(d[b]) * xd[b]);
        y[r] = acc;
    }
}

#ifndef BS_KERNELS_AVX2
double bs_int8_peak_gmacs_avx2(void) { return 0.0; }
#endif

void bs_qmat_matvec(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                    int r0, int r1) {
    m->matvec(m, xq, xd, xs, y, r0, r1);
}

double bs_int8_peak_gmacs(void) {
    return strcmp(bs_kernels_best()->name, "avx2") == 0 ? bs_int8_peak_gmacs_avx2() : 0.0;
}
