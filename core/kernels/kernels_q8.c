/* kernels_q8.c - fast mode's shared parts and scalar reference (see
   kernels_q8.h for the canonical result). */
#include "kernels_q8.h"

#include "half.h"
#include "linear.h"
#include "model.h"

#include <string.h>

int bs_q8_planes_ok(const bs_linear *l, int n_tok) {
    return n_tok < BS_Q8_MAX_TOK && l->kind == BS_LIN_PLANES && l->n_blocks >= 1 && l->n_blocks <= BS_Q8_MAX_PLANES &&
           l->group % BS_Q8_BLOCK == 0;
}

/* Round half to even of |v| < 2^22 with two float additions (exact, the
   same on every target, and inlined: rintf is a libm call on some). */
static inline float round_even(float v) {
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    return (v + magic) - magic;
}

void bs_q8_quantize(const float *x, int nb, int8_t *q, int8_t *ql, float *d, int32_t *s, int32_t *sl) {
    for (int b = 0; b < nb; b++) {
        const float *xb = x + b * BS_Q8_BLOCK;
        float amax = 0.0f;
        for (int j = 0; j < BS_Q8_BLOCK; j++) {
            float a = xb[j] < 0 ? -xb[j] : xb[j];
            amax = a > amax ? a : amax;
        }
        int8_t *qb = q + b * BS_Q8_BLOCK, *qlb = ql ? ql + b * BS_Q8_BLOCK : NULL;
        d[b] = 0.0f;
        s[b] = 0;
        if (sl) sl[b] = 0;
        if (amax < 0x1p-100f) { /* 127 / amax would overflow: a zero block */
            memset(qb, 0, BS_Q8_BLOCK);
            if (qlb) memset(qlb, 0, BS_Q8_BLOCK);
            continue;
        }
        float id = 127.0f / amax;
        for (int j = 0; j < BS_Q8_BLOCK; j++) {
            float v = xb[j] * id;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f; /* inf / NaN: no UB cast */
            float h = round_even(v);
            qb[j] = (int8_t)(int32_t)h;
            s[b] += (int32_t)h;
            if (qlb) { /* v - h and the product by 256 are exact */
                float l = round_even((v - h) * 256.0f);
                int32_t li = (int32_t)(l > 127.0f ? 127.0f : l < -127.0f ? -127.0f : l);
                qlb[j] = (int8_t)li;
                sl[b] += li;
            }
        }
        d[b] = amax / 127.0f;
    }
}

size_t bs_q8_scratch(int32_t cols) {
    size_t nb = (size_t)cols / BS_Q8_BLOCK, stride = nb * BS_Q8_BLOCK;
    /* per token: two digit rows, d, s, sl; then qrow: 2 * stride + 3 * nb floats */
    size_t bytes = BS_Q8_TOK * (2 * stride + 12 * nb) + 2 * stride + 12 * nb;
    return (bytes + 3) / 4;
}

void bs_q8_planes_matmul(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                         float *scratch, bs_q8_rows_fn rows) {
    int cols = l->cols, nb = cols / BS_Q8_BLOCK, stride = nb * BS_Q8_BLOCK;
    /* scratch: see bs_q8_scratch */
    float *d = scratch;
    int32_t *s = (int32_t *)(d + BS_Q8_TOK * nb), *sl = s + BS_Q8_TOK * nb;
    int8_t *q = (int8_t *)(sl + BS_Q8_TOK * nb), *ql = q + BS_Q8_TOK * stride;
    uint8_t *qrow = (uint8_t *)(ql + BS_Q8_TOK * stride);
    for (int t0 = 0; t0 < n_tok; t0 += BS_Q8_TOK) {
        int nt = BS_MIN(BS_Q8_TOK, n_tok - t0);
        for (int t = 0; t < nt; t++)
            bs_q8_quantize(x + (int64_t)(t0 + t) * cols, nb, q + t * stride, ql + t * stride, d + t * nb,
                           s + t * nb, sl + t * nb);
        bs_q8_act a = {x + (int64_t)t0 * cols, q, ql, d, s, sl, nb, stride, cols};
        rows(l, &a, nt, y + (int64_t)t0 * l->rows, r0, r1, qrow);
    }
}

void bs_q8_block_scales(const bs_linear *l, int32_t r, float *cb) {
    int nb = l->cols / BS_Q8_BLOCK, per = l->group / BS_Q8_BLOCK;
    const uint16_t *sc = l->scales + (int64_t)r * bs_groups_per_row(l->cols, l->group);
    for (int b = 0; b < nb; b++) cb[b] = bs_f16_to_f32(sc[b / per]);
}

float bs_q8_planes_tail(const bs_linear *l, int32_t r, const float *x, float y) {
    int n = l->n_blocks, cols = l->cols, rb = bs_row_bytes(cols);
    int32_t offset = 1 - (1 << n);
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    const uint16_t *sc = l->scales + (int64_t)r * bs_groups_per_row(cols, l->group);
    for (int j = cols / BS_Q8_BLOCK * BS_Q8_BLOCK; j < cols; j++) {
        int32_t q = 0;
        for (int i = 0; i < n; i++) q = (q << 1) | ((l->planes[i][(int64_t)r * rb + (j >> 3)] >> (7 - (j & 7))) & 1);
        float w = bs_f16_to_f32(sc[j / l->group]) * (float)(2 * q + offset) * inv;
        y += w * x[j];
    }
    return y;
}

void bs_q8_planes_rows_ref(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0,
                           int r1, uint8_t *qrow) {
    int n = l->n_blocks, nb = a->nb, rb = bs_row_bytes(l->cols), stride = a->stride;
    int32_t offset = 1 - (1 << n);
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    uint8_t *qlo = qrow, *qhi = qrow + stride;
    float *cb = (float *)(qrow + 2 * stride), *e = cb + nb, *f = e + nb;
    for (int r = r0; r < r1; r++) {
        /* q of the row's whole blocks, as its low 7 bits and the rest */
        for (int j = 0; j < stride; j++) {
            int32_t v = 0;
            for (int i = 0; i < n; i++) v = (v << 1) | ((l->planes[i][(int64_t)r * rb + (j >> 3)] >> (7 - (j & 7))) & 1);
            qlo[j] = (uint8_t)(v & 0x7f);
            qhi[j] = (uint8_t)(v >> 7);
        }
        bs_q8_block_scales(l, r, cb);
        for (int t = 0; t < n_tok; t++) {
            const int8_t *xh = a->q + t * stride, *xl = a->ql + t * stride;
            const float *d = a->d + t * nb;
            const int32_t *sh = a->s + t * nb, *sl = a->sl + t * nb;
            for (int b = 0; b < nb; b++) {
                int32_t ih = 0, il = 0;
                for (int j = b * BS_Q8_BLOCK; j < (b + 1) * BS_Q8_BLOCK; j++) {
                    int32_t qj = qhi[j] * 128 + qlo[j];
                    ih += qj * xh[j];
                    il += qj * xl[j];
                }
                e[b] = (float)(2 * ih + offset * sh[b]) + (float)(2 * il + offset * sl[b]) * 0x1p-8f;
                f[b] = cb[b] * d[b];
            }
            float acc = bs_dot_f32_ref(e, f, nb);
            y[(int64_t)t * l->rows + r] = bs_q8_planes_tail(l, r, a->x + (int64_t)t * a->cols, acc * inv);
        }
    }
}
