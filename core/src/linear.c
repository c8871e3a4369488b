/* linear.c - size and dispatch for linear maps of every kind. */
#include "linear.h"

#include "half.h"
#include "kernels_lut.h"
#include "kernels_q8.h"
#include "rotate.h"

size_t bs_linear_scratch(const bs_linear *l) {
    switch (l->kind) {
    case BS_LIN_F32: return 0;
    case BS_LIN_AVD:
        return BS_MAX((size_t)BS_MAX(l->rank + 1, BS_KERNEL_SCRATCH_ROWS) * l->cols, bs_lut_scratch(l->cols, l->rank));
    case BS_LIN_PLANES: return BS_MAX((size_t)BS_KERNEL_SCRATCH_ROWS * l->cols, bs_q8_scratch(l->cols));
    default: return (size_t)BS_KERNEL_SCRATCH_ROWS * l->cols;
    }
}

void bs_linear_matmul(const bs_kernels *k, const bs_linear *l, const float *x, float *y, int n_tok,
                      float *scratch) {
    k->matmul[l->kind](l, x, y, n_tok, 0, l->rows, scratch);
}

void bs_linear_matmul_rows(const bs_kernels *k, const bs_linear *l, const float *x, float *y,
                           int n_tok, int r0, int r1, float *scratch) {
    k->matmul[l->kind](l, x, y, n_tok, r0, r1, scratch);
}

int32_t bs_linear_split(int32_t rows, int n_threads) {
    int32_t parts = 4 * n_threads, chunk = (rows + parts - 1) / parts;
    return (chunk + 7) & ~7;
}

void bs_linear_weights_row(const bs_linear *l, int32_t r, float *out) {
    bs_linear_row(l, r, out);
    if (l->rot_log2 > 0) bs_rotate_row_back(out, l->cols, l->rot_log2, l->rot_signs);
    for (int32_t k = 0; k < l->n_out; k++)
        out[l->out_idx[k]] = bs_f16_to_f32(l->out_val[(int64_t)r * l->n_out + k]);
}

const float *bs_linear_input(const bs_linear *l, const float *x, float *xk, int n_tok) {
    if (l->n_out == 0 && l->rot_log2 == 0) return x;
    bs_outliers_mask(l, x, xk, n_tok);
    if (l->rot_log2 > 0) bs_rotate_input(xk, l->cols, n_tok, l->rot_log2, l->rot_signs);
    return xk;
}

int32_t bs_linear_split_for(const bs_linear *l, int n_tok, int n_threads) {
    if (l->kind == BS_LIN_AVD && n_tok < BS_AVD_ROWS_MIN_TOK) { /* fast decode: tables per task */
        int32_t chunk = (l->rows + n_threads - 1) / n_threads;
        return (chunk + 7) & ~7;
    }
    return bs_linear_split(l->rows, n_threads);
}

void bs_linear_row_scales(const bs_linear *l, int32_t r, uint16_t *out) {
    int32_t gpr = bs_groups_per_row(l->cols, l->group);
    for (int32_t g = 0; g < gpr; g++) out[g] = bs_linear_scale_bits(l, r, g);
}

int64_t bs_linear_bytes(const bs_linear *l) {
    int64_t n = (int64_t)l->rows * l->cols, rb = (int64_t)l->rows * bs_row_bytes(l->cols);
    switch (l->kind) {
    case BS_LIN_F32: return 4 * n;
    case BS_LIN_F16: return 2 * n;
    case BS_LIN_AVD: return l->n_blocks * (rb + 2 * (int64_t)l->rank * (l->rows + l->cols));
    case BS_LIN_PLANES: /* scales: binary16 per group, or a code per group and a binary16 per row */
        return (l->scale_codes ? 2 * (int64_t)l->rows + (int64_t)l->rows * bs_groups_per_row(l->cols, l->group)
                               : 2 * (int64_t)l->rows * bs_groups_per_row(l->cols, l->group)) +
               l->n_blocks * rb + (4 + 2 * (int64_t)l->rows) * l->n_out +
               (l->rot_log2 > 0 ? (int64_t)bs_rotate_signs_size(l->cols) : 0);
    }
    return 0;
}
