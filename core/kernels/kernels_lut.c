/* kernels_lut.c - fast-mode AVD decode: shared driver and scalar reference
   (kernels_lut.h has the canonical result). */
#include "kernels_lut.h"

#include "half.h"
#include "model.h"

static int n_groups(int32_t cols) { return (cols + 3) / 4; }

size_t bs_lut_scratch(int32_t cols, int32_t rank) {
    size_t kp = (size_t)bs_lut_kp(rank), ng = (size_t)n_groups(cols);
    return 4 * ng * kp + ng * 16 * kp; /* ut (padded to whole groups) + tables */
}

void bs_lut_avd_matmul(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1, float *scratch,
                       bs_lut_tables_fn tables, bs_lut_rows_fn rows) {
    size_t kp = (size_t)bs_lut_kp(l->rank), ng = (size_t)n_groups(l->cols);
    float *ut = scratch, *tab = scratch + 4 * ng * kp;
    for (int tok = 0; tok < n_tok; tok++) {
        float *yt = y + (int64_t)tok * l->rows;
        for (int r = r0; r < r1; r++) yt[r] = 0.0f;
        for (int i = 0; i < l->n_blocks; i++) {
            tables(l, i, x + (int64_t)tok * l->cols, ut, tab);
            rows(l, i, tab, yt, r0, r1);
        }
    }
}

static inline float sgn(float u, int bit) { return bit ? u : -u; }

void bs_lut_tables_ref(const bs_linear *l, int block, const float *x, float *ut, float *tab) {
    int k = l->rank, kp = bs_lut_kp(k), cols = l->cols, ng = n_groups(cols);
    const uint16_t *b = l->avd[block].b;
    for (int j = 0; j < 4 * ng; j++)
        for (int t = 0; t < kp; t++)
            ut[(size_t)j * kp + t] = j < cols && t < k ? bs_f16_to_f32(b[(int64_t)t * cols + j]) * x[j] : 0.0f;
    for (int g = 0; g < ng; g++)
        for (int t = 0; t < kp; t++) {
            const float *u = ut + (size_t)4 * g * kp + t;
            float a[4], c[4];
            for (int h = 0; h < 4; h++) {
                a[h] = sgn(u[0], h >> 1) + sgn(u[kp], h & 1);
                c[h] = sgn(u[2 * kp], h >> 1) + sgn(u[3 * kp], h & 1);
            }
            for (int n = 0; n < 16; n++) tab[((size_t)g * 16 + n) * kp + t] = a[n >> 2] + c[n & 3];
        }
}

void bs_lut_rows_ref(const bs_linear *l, int block, const float *tab, float *y, int r0, int r1) {
    int k = l->rank, kp = bs_lut_kp(k), ng = n_groups(l->cols), rb = bs_row_bytes(l->cols);
    const bs_avd_block *blk = &l->avd[block];
    for (int r = r0; r < r1; r++) {
        const uint8_t *sg = blk->signs + (int64_t)r * rb;
        float acc = y[r];
        for (int t = 0; t < k; t++) {
            float p[4] = {0, 0, 0, 0};
            for (int g = 0; g < ng; g++) {
                int nib = g & 1 ? sg[g >> 1] & 15 : sg[g >> 1] >> 4;
                p[g & 3] += tab[((size_t)g * 16 + nib) * kp + t];
            }
            float z = (p[0] + p[1]) + (p[2] + p[3]);
            acc += bs_f16_to_f32(blk->a[(int64_t)r * k + t]) * z;
        }
        y[r] = acc;
    }
}
