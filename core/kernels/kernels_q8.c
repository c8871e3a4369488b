/* kernels_q8.c - fast mode's shared parts and scalar reference (see
   kernels_q8.h for the canonical result). */
#include "kernels_q8.h"

#include "half.h"
#include "linear.h"
#include "model.h"
#include "planes_pack.h"

#include <string.h>

int bs_q8_planes_ok(const bs_linear *l, int n_tok) {
    return n_tok < BS_Q8_MAX_TOK && l->kind == BS_LIN_PLANES && l->packed && l->n_blocks >= 1 &&
           l->n_blocks <= BS_Q8_MAX_PLANES && l->group % BS_Q8_BLOCK == 0;
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

static size_t nb8_of(int32_t cols) { return ((size_t)cols / BS_Q8_BLOCK + 7) & ~(size_t)7; }

size_t bs_q8_work(int32_t cols) {
    return ((2 * (size_t)cols + 15) & ~(size_t)15) + 12 * nb8_of(cols) + 16; /* codes (u16), cb, e, f */
}

size_t bs_q8_scratch(int32_t cols) {
    size_t nb8 = nb8_of(cols), stride = (size_t)cols / BS_Q8_BLOCK * BS_Q8_BLOCK;
    /* per token: d, osx (4 nb8 bytes each), X (2 stride); work, 16-aligned */
    size_t bytes = BS_Q8_TOK * (8 * nb8 + 2 * stride) + 16 + bs_q8_work(cols);
    return (bytes + 3) / 4;
}

float bs_q8_inv(int n) {
    float inv = 1.0f;
    for (int i = 0; i < n + 7; i++) inv *= 0.5f;
    return inv;
}

/* scratch: per token d, osx (nb8 each), X (stride); then work, 16-aligned
   (bs_q8_scratch counts the same). */
typedef struct q8_layout {
    float *d;
    int32_t *osx;
    int16_t *xq;
    uint8_t *work;
} q8_layout;

static q8_layout layout_of(float *scratch, int32_t cols) {
    size_t nb8 = nb8_of(cols), stride = (size_t)cols / BS_Q8_BLOCK * BS_Q8_BLOCK;
    q8_layout o;
    o.d = scratch;
    o.osx = (int32_t *)(o.d + BS_Q8_TOK * nb8);
    o.xq = (int16_t *)(o.osx + BS_Q8_TOK * nb8);
    uintptr_t w = (uintptr_t)(o.xq + BS_Q8_TOK * stride);
    o.work = (uint8_t *)((w + 15) & ~(uintptr_t)15);
    return o;
}

uint8_t *bs_q8_work_in(float *scratch, int32_t cols) { return layout_of(scratch, cols).work; }

void bs_q8_token_ref(const float *x, int nb, uint32_t o, int16_t *xq, float *d, int32_t *osx) {
    for (int b = 0; b < nb; b++) {
        int8_t xh[BS_Q8_BLOCK], xl[BS_Q8_BLOCK];
        int32_t sh, sl;
        bs_q8_quantize(x + b * BS_Q8_BLOCK, 1, xh, xl, &d[b], &sh, &sl);
        for (int j = 0; j < BS_Q8_BLOCK; j++) xq[b * BS_Q8_BLOCK + bs_q8_xpos(j)] = (int16_t)(256 * xh[j] + xl[j]);
        osx[b] = (int32_t)(o * (uint32_t)(256 * sh + sl));
    }
}

void bs_q8_prepare(const bs_linear *l, const float *x, int n_tok, float *scratch, bs_q8_token_fn token,
                   bs_q8_act *a) {
    int cols = l->cols, nb = cols / BS_Q8_BLOCK, nb8 = (int)nb8_of(cols), stride = nb * BS_Q8_BLOCK;
    uint32_t o = 1u - (1u << l->n_blocks); /* 1 - 2^n mod 2^32 */
    q8_layout s = layout_of(scratch, cols);
    for (int t = 0; t < n_tok; t++) {
        token(x + (int64_t)t * cols, nb, o, s.xq + (size_t)t * stride, s.d + t * nb8, s.osx + t * nb8);
        for (int b = nb; b < nb8; b++) s.d[t * nb8 + b] = 0.0f, s.osx[t * nb8 + b] = 0;
    }
    *a = (bs_q8_act){x, s.xq, s.d, s.osx, nb, nb8, cols};
}

void bs_q8_planes_matmul(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                         float *scratch, bs_q8_rows_fn rows, bs_q8_token_fn token) {
    uint8_t *work = bs_q8_work_in(scratch, l->cols);
    for (int t0 = 0; t0 < n_tok; t0 += BS_Q8_TOK) {
        int nt = BS_MIN(BS_Q8_TOK, n_tok - t0);
        bs_q8_act a;
        bs_q8_prepare(l, x + (int64_t)t0 * l->cols, nt, scratch, token, &a);
        rows(l, &a, nt, y + (int64_t)t0 * l->rows, r0, r1, work);
    }
}

void bs_q8_block_scales(const bs_linear *l, int32_t r, float *cb) {
    int nb = l->cols / BS_Q8_BLOCK, per = l->group / BS_Q8_BLOCK;
    for (int b = 0; b < nb; b++) cb[b] = bs_f16_to_f32(bs_linear_scale_bits(l, r, b / per));
}

float bs_q8_planes_tail(const bs_linear *l, int32_t r, const float *x, float y) {
    int n = l->n_blocks, cols = l->cols;
    int32_t offset = 1 - (1 << n);
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    for (int j = cols / BS_Q8_BLOCK * BS_Q8_BLOCK; j < cols; j++) {
        float w = bs_f16_to_f32(bs_linear_scale_bits(l, r, j / l->group)) * (float)(2 * bs_planes_code(l, r, j) + offset) * inv;
        y += w * x[j];
    }
    return y;
}

void bs_q8_planes_rows_ref(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0,
                           int r1, uint8_t *work) {
    int nb = a->nb, nb8 = a->nb8, stride = nb * BS_Q8_BLOCK;
    float inv = bs_q8_inv(l->n_blocks);
    uint16_t *q = (uint16_t *)work;
    float *cb = (float *)(work + ((2 * (size_t)l->cols + 15) & ~(size_t)15)), *e = cb + nb8, *f = e + nb8;
    for (int r = r0; r < r1; r++) {
        bs_planes_row_codes(l, r, q);
        bs_q8_block_scales(l, r, cb);
        for (int t = 0; t < n_tok; t++) {
            const int16_t *xt = a->xq + (size_t)t * stride;
            for (int b = 0; b < nb; b++) {
                uint32_t s = 0; /* sum q_j X_j mod 2^32; E_b itself fits int32 */
                for (int j = 0; j < BS_Q8_BLOCK; j++)
                    s += (uint32_t)q[b * BS_Q8_BLOCK + j] * (uint32_t)xt[b * BS_Q8_BLOCK + bs_q8_xpos(j)];
                e[b] = (float)(int32_t)(2 * s + (uint32_t)a->osx[t * nb8 + b]);
                f[b] = cb[b] * a->d[t * nb8 + b];
            }
            for (int b = nb; b < nb8; b++) e[b] = f[b] = 0.0f;
            float acc = bs_dot_f32_ref(e, f, nb8); /* whole vectors of 8: no tail */
            y[(int64_t)t * l->rows + r] = bs_q8_planes_tail(l, r, a->x + (int64_t)t * a->cols, acc * inv);
        }
    }
}
