/* kernels_ref.c - scalar reference kernels (see kernels.h for the
   summation-order contract). */
#include "baseline.h"
#include "kernels.h"
#include "kernels_lut.h"
#include "kernels_q8.h"
#include "planes_pack.h"

#include "half.h"
#include "linear.h"
#include "model.h"

#include <string.h>

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
static void matmul_f32(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    (void)scratch;
    for (int r = r0; r < r1; r++) {
        const float *wr = l->w + (int64_t)r * l->cols;
        for (int t = 0; t < n_tok; t++)
            y[(int64_t)t * l->rows + r] = bs_dot_f32_ref(wr, x + (int64_t)t * l->cols, l->cols);
    }
}

static void row_f16(const bs_linear *l, int32_t r, float *out) {
    const uint16_t *src = l->w16 + (int64_t)r * l->cols;
    for (int j = 0; j < l->cols; j++) out[j] = bs_f16_to_f32(src[j]);
}

/* Expands one packed sign row to +-1.0f. */
static void expand_signs(const uint8_t *bits, int cols, float *out) {
    for (int j = 0; j < cols; j++) out[j] = (bits[j >> 3] >> (7 - (j & 7))) & 1 ? 1.0f : -1.0f;
}

/* Row r of a bit-plane matrix with n planes: per group, value =
   c * (2q + 1 - 2^n) / 2^(n-1), q the n-bit integer the planes spell
   (plane 0 most significant; packed or plain, planes_pack.h). Every
   product here is exact in f32 for n <= 13, so all implementations agree
   bit for bit. */
static void row_planes(const bs_linear *l, int32_t r, float *out) {
    int32_t n = l->n_blocks;
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    int32_t offset = 1 - (1 << n);
    for (int j = 0; j < l->cols; j++) {
        int32_t q = bs_planes_code(l, r, j);
        float c = bs_f16_to_f32(bs_linear_scale_bits(l, r, j / l->group));
        out[j] = c * (float)(2 * q + offset) * inv;
    }
}

/* Row r of an AVD matrix: sum over blocks of s_ij * (A_i B_i)[r, j]. */
static void row_avd(const bs_linear *l, int32_t r, float *out) {
    int32_t rb = bs_row_bytes(l->cols), k = l->rank;
    memset(out, 0, (size_t)l->cols * sizeof(float));
    for (int i = 0; i < l->n_blocks; i++) {
        const bs_avd_block *b = &l->avd[i];
        for (int j = 0; j < l->cols; j++) {
            float m = 0.0f;
            for (int t = 0; t < k; t++)
                m += bs_f16_to_f32(b->a[(int64_t)r * k + t]) * bs_f16_to_f32(b->b[(int64_t)t * l->cols + j]);
            int bit = (b->signs[(int64_t)r * rb + (j >> 3)] >> (7 - (j & 7))) & 1;
            out[j] += bit ? m : -m;
        }
    }
}

void bs_linear_row(const bs_linear *l, int32_t r, float *out) {
    switch (l->kind) {
    case BS_LIN_F32: memcpy(out, l->w + (int64_t)r * l->cols, (size_t)l->cols * sizeof(float)); break;
    case BS_LIN_F16: row_f16(l, r, out); break;
    case BS_LIN_AVD: row_avd(l, r, out); break;
    case BS_LIN_PLANES:
        if (l->n_blocks > 0) row_planes(l, r, out);
        else memset(out, 0, (size_t)l->cols * sizeof(float));
        break;
    }
}

/* F16 and PLANES: rebuild one row at a time (never the whole matrix),
   then the canonical dot with every token. scratch: cols floats. */
static void matmul_by_rows(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                           float *scratch) {
    for (int r = r0; r < r1; r++) {
        bs_linear_row(l, r, scratch);
        for (int t = 0; t < n_tok; t++)
            y[(int64_t)t * l->rows + r] = bs_dot_f32_ref(scratch, x + (int64_t)t * l->cols, l->cols);
    }
}

/* Row r of an AVD matrix into out; used by prefill, where one rebuilt row
   serves every token of the batch. */
static void matmul_by_rows(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                           float *scratch);

/* The sign-matrix form of BITSTACK.md 3:
   y = sum_i sum_t A_i[:, t] * (S_i (B_i[t, :] * x)).
   scratch: rank * cols floats (u_t = B_i[t,:] * x) + cols (a sign row). */
void bs_matmul_avd_ref(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    int32_t k = l->rank, cols = l->cols, rb = bs_row_bytes(cols);
    /* a batch (prefill): rebuilding each row once costs rank * cols per
       block, the same as one token's sign-form products, and serves all
       tokens */
    if (n_tok >= BS_AVD_ROWS_MIN_TOK) {
        matmul_by_rows(l, x, y, n_tok, r0, r1, scratch);
        return;
    }
    float *u = scratch, *sg = scratch + (size_t)k * cols;
    for (int tok = 0; tok < n_tok; tok++) {
        const float *xt = x + (int64_t)tok * cols;
        float *yt = y + (int64_t)tok * l->rows;
        for (int r = r0; r < r1; r++) yt[r] = 0.0f;
        for (int i = 0; i < l->n_blocks; i++) {
            const bs_avd_block *b = &l->avd[i];
            for (int t = 0; t < k; t++)
                for (int j = 0; j < cols; j++)
                    u[(size_t)t * cols + j] = bs_f16_to_f32(b->b[(int64_t)t * cols + j]) * xt[j];
            for (int r = r0; r < r1; r++) {
                expand_signs(b->signs + (int64_t)r * rb, cols, sg);
                float acc = yt[r];
                for (int t = 0; t < k; t++) {
                    float z = bs_dot_f32_ref(sg, u + (size_t)t * cols, cols);
                    acc += bs_f16_to_f32(b->a[(int64_t)r * k + t]) * z;
                }
                yt[r] = acc;
            }
        }
    }
}

/* Fast mode: the int8 path where it applies (kernels_q8.h), else exact. */
static void matmul_planes_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                               float *scratch) {
    if (bs_q8_planes_ok(l, n_tok)) bs_q8_planes_matmul(l, x, y, n_tok, r0, r1, scratch, bs_q8_planes_rows_ref, bs_q8_token_ref);
    else matmul_by_rows(l, x, y, n_tok, r0, r1, scratch);
}

/* Fast mode, AVD: sign tables for decode (kernels_lut.h), exact for batches. */
static void matmul_avd_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                            float *scratch) {
    if (n_tok < BS_AVD_ROWS_MIN_TOK)
        bs_lut_avd_matmul(l, x, y, n_tok, r0, r1, scratch, bs_lut_tables_ref, bs_lut_rows_ref);
    else
        bs_matmul_avd_ref(l, x, y, n_tok, r0, r1, scratch);
}

static const bs_kernels ref_kernels = {
    "scalar", bs_dot_f32_ref, {matmul_f32, matmul_by_rows, bs_matmul_avd_ref, matmul_by_rows},
    {matmul_f32, matmul_by_rows, matmul_avd_fast, matmul_planes_fast}, bs_q8_planes_rows_ref, bs_q8_token_ref, bs_qmat_matvec_ref};

const bs_kernels *bs_kernels_ref(void) { return &ref_kernels; }

/* One selector per ISA file the build compiles (CMake defines
   BS_KERNELS_AVX2 on x86 targets, where kernels_avx2.c is built); each
   returns NULL when the CPU lacks the extensions. */
#ifdef BS_KERNELS_AVX2
#include <cpuid.h>

/* __builtin_cpu_supports("avx2") also checks that the OS saves the ymm
   registers; F16C is CPUID leaf 1, ECX bit 29 (clang 14 has no "f16c"
   feature string for the builtin). */
static const bs_kernels *avx2_if_supported(void) {
    unsigned a, b, c, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
    return __builtin_cpu_supports("avx2") && f16c ? bs_kernels_avx2() : NULL;
}
#else
static const bs_kernels *avx2_if_supported(void) { return NULL; }
#endif

/* The wasm build defines BS_KERNELS_SIMD128 when it compiles
   kernels_simd128.c (a wasm engine either validates SIMD128 code or
   refuses the whole module, so there is nothing to check at run time: JS
   picks the module instead). */
#ifdef BS_KERNELS_SIMD128
static const bs_kernels *simd128_if_built(void) { return bs_kernels_simd128(); }
#else
static const bs_kernels *simd128_if_built(void) { return NULL; }
#endif

int bs_kernels_all(const bs_kernels **out, int cap) {
    const bs_kernels *found[] = {&ref_kernels, avx2_if_supported(), simd128_if_built()};
    int n = 0;
    for (size_t i = 0; i < sizeof found / sizeof found[0]; i++)
        if (found[i] && n < cap) out[n++] = found[i];
    return n;
}

const bs_kernels *bs_kernels_best(void) {
    const bs_kernels *all[4];
    return all[bs_kernels_all(all, 4) - 1];
}
