/* kernels_simd128.c - WebAssembly SIMD128 kernels (clang -msimd128).
 *
 * Bit-identical to kernels_ref.c (see kernels.h for the contract):
 *   - the canonical dot keeps its 8 partial sums in two f32x4 registers,
 *     lo = lanes 0..3 and hi = lanes 4..7, so lane j still takes elements
 *     i = j mod 8; the reduction ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)) is
 *     t = lo + hi (t0 = a0+a4, t1 = a1+a5, t2 = a2+a6, t3 = a3+a7), then
 *     (t0 + t2) + (t1 + t3); tail elements are added in order;
 *   - products are f32x4.mul then f32x4.add, each rounded, as the scalar
 *     code does under -ffp-contract=off (wasm has no fused or relaxed
 *     operation here: clang 14 emits none);
 *   - row rebuilds (binary16, bit planes, AVD) compute every element with
 *     the same operations in the same order as the scalar code, only four
 *     columns at a time; multiplying by a sign of +-1 is exact, so it is
 *     done as a sign-bit xor.
 * wasm SIMD is IEEE with subnormals (no flush to zero), so the results
 * match the native reference for every finite input.
 *
 * Compiled by the wasm build only (it defines BS_KERNELS_SIMD128 and adds
 * -msimd128); elsewhere this file is empty, so a native build that globs
 * core/kernels/ stays unaffected. */
#ifdef __wasm_simd128__

#include "kernels.h"
#include "kernels_lut.h"
#include "kernels_q8.h"

#include "half.h"
#include "linear.h"
#include "model.h"

#include <string.h>
#include <wasm_simd128.h>

/* ---- building blocks ------------------------------------------------------ */

/* (t0 + t2) + (t1 + t3) of t = lo + hi: the contract's reduction tree. */
static inline float reduce8(v128_t lo, v128_t hi) {
    v128_t t = wasm_f32x4_add(lo, hi);
    v128_t u = wasm_f32x4_add(t, wasm_i32x4_shuffle(t, t, 2, 3, 2, 3));
    return wasm_f32x4_extract_lane(u, 0) + wasm_f32x4_extract_lane(u, 1);
}

static float dot_f32(const float *a, const float *b, int n) {
    v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        lo = wasm_f32x4_add(lo, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        hi = wasm_f32x4_add(hi, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    }
    float s = reduce8(lo, hi);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Four canonical dots of rows w0..w3 with one x: four independent chains
   keep the adder busy while each row's order stays the contract's. */
static void dot4_f32(const float *w0, const float *w1, const float *w2, const float *w3,
                     const float *x, int n, float out[4]) {
    v128_t z = wasm_f32x4_splat(0.0f);
    v128_t l0 = z, h0 = z, l1 = z, h1 = z, l2 = z, h2 = z, l3 = z, h3 = z;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t xl = wasm_v128_load(x + i), xh = wasm_v128_load(x + i + 4);
        l0 = wasm_f32x4_add(l0, wasm_f32x4_mul(wasm_v128_load(w0 + i), xl));
        h0 = wasm_f32x4_add(h0, wasm_f32x4_mul(wasm_v128_load(w0 + i + 4), xh));
        l1 = wasm_f32x4_add(l1, wasm_f32x4_mul(wasm_v128_load(w1 + i), xl));
        h1 = wasm_f32x4_add(h1, wasm_f32x4_mul(wasm_v128_load(w1 + i + 4), xh));
        l2 = wasm_f32x4_add(l2, wasm_f32x4_mul(wasm_v128_load(w2 + i), xl));
        h2 = wasm_f32x4_add(h2, wasm_f32x4_mul(wasm_v128_load(w2 + i + 4), xh));
        l3 = wasm_f32x4_add(l3, wasm_f32x4_mul(wasm_v128_load(w3 + i), xl));
        h3 = wasm_f32x4_add(h3, wasm_f32x4_mul(wasm_v128_load(w3 + i + 4), xh));
    }
    float s0 = reduce8(l0, h0), s1 = reduce8(l1, h1), s2 = reduce8(l2, h2), s3 = reduce8(l3, h3);
    for (; i < n; i++) {
        s0 += w0[i] * x[i];
        s1 += w1[i] * x[i];
        s2 += w2[i] * x[i];
        s3 += w3[i] * x[i];
    }
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
}

/* Four binary16 at p -> f32, exactly as bs_f16_to_f32: the magnitude bits
   shifted into f32 position read as 2^-112 times the value for normal and
   subnormal halves alike, so one multiply by 2^112 (exact: a power of two
   with an in-range result) rebuilds them; exponent 31 (inf, NaN) is
   patched to the f32 inf/NaN with the same mantissa bits; the sign is
   or-ed back (giving -0 and negative subnormals as -f does). */
static inline v128_t f16x4_to_f32(const uint16_t *p) {
    v128_t h = wasm_u32x4_load16x4(p);
    v128_t mag = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    v128_t f = wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f));
    v128_t special = wasm_i32x4_ge(mag, wasm_i32x4_splat(0x0f800000)); /* exponent 31 */
    f = wasm_v128_bitselect(wasm_v128_or(mag, wasm_i32x4_splat(0x70000000)), f, special);
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

/* Tables indexed by one packed sign byte (8 columns, MSB first), built
   by the preprocessor so they are constant data: the 8 bits as i16 lanes
   (0 or 1), and as the f32 sign-bit xor that turns m into (bit ? m : -m)
   (0 where the bit is set, 0x80000000 where it is clear). */
#define BS_BITS8(x) {((x) >> 7) & 1, ((x) >> 6) & 1, ((x) >> 5) & 1, ((x) >> 4) & 1, \
                     ((x) >> 3) & 1, ((x) >> 2) & 1, ((x) >> 1) & 1, (x) & 1}
#define BS_NEG(x, k) (((x) >> (7 - (k))) & 1 ? 0u : 0x80000000u)
#define BS_NEG8(x) {BS_NEG(x, 0), BS_NEG(x, 1), BS_NEG(x, 2), BS_NEG(x, 3), \
                    BS_NEG(x, 4), BS_NEG(x, 5), BS_NEG(x, 6), BS_NEG(x, 7)}
#define BS_X4(M, x) M(x), M((x) + 1), M((x) + 2), M((x) + 3)
#define BS_X16(M, x) BS_X4(M, x), BS_X4(M, (x) + 4), BS_X4(M, (x) + 8), BS_X4(M, (x) + 12)
#define BS_X64(M, x) BS_X16(M, x), BS_X16(M, (x) + 16), BS_X16(M, (x) + 32), BS_X16(M, (x) + 48)
#define BS_X256(M) BS_X64(M, 0), BS_X64(M, 64), BS_X64(M, 128), BS_X64(M, 192)
static const int16_t bits_i16[256][8] __attribute__((aligned(16))) = {BS_X256(BS_BITS8)};
static const uint32_t neg_xor[256][8] __attribute__((aligned(16))) = {BS_X256(BS_NEG8)};

static inline int sign_bit(const uint8_t *row, int j) { return (row[j >> 3] >> (7 - (j & 7))) & 1; }

/* ---- row rebuilds ----------------------------------------------------------- */

static void row_f16(const bs_linear *l, int32_t r, float *out) {
    const uint16_t *src = l->w16 + (int64_t)r * l->cols;
    int j = 0;
    for (; j + 4 <= l->cols; j += 4) wasm_v128_store(out + j, f16x4_to_f32(src + j));
    for (; j < l->cols; j++) out[j] = bs_f16_to_f32(src[j]);
}

/* Row r of a bit-plane matrix (kernels_ref.c row_planes). Eight columns
   (one byte of each plane) per step: q is built in i16 lanes as
   q = 2q + bit (bits from a table; q < 2^12 fits), then
   widened to i32 and converted. The reference computes
   c * (float)(2q + offset) * inv with both products exact (c has 11
   significant bits, 2q + offset at most 13, inv a power of two and no
   result below 2^-35), so any exact evaluation gives its bits: here
   (c * inv), once per group, times (2q + offset). Needs n >= 1; the
   .bstk reader allows at most 12 planes, more go to the reference. */
static void row_planes(const bs_linear *l, int32_t r, float *out) {
    int32_t n = l->n_blocks, cols = l->cols, group = l->group, rb = bs_row_bytes(cols);
    if (n > 12) {
        bs_linear_row(l, r, out);
        return;
    }
    int32_t gpr = bs_groups_per_row(cols, group);
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    const int32_t offset = 1 - (1 << n);
    const uint16_t *sc = l->scales + (int64_t)r * gpr;
    const uint8_t *bytes[12];
    for (int i = 0; i < n; i++) bytes[i] = l->planes[i] + (int64_t)r * rb;
    const v128_t voff = wasm_i32x4_splat(offset);
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        v128_t q = wasm_i16x8_splat(0);
        for (int i = 0; i < n; i++) {
            q = wasm_i16x8_add(wasm_i16x8_add(q, q), wasm_v128_load(bits_i16[bytes[i][j >> 3]]));
        }
        v128_t qlo = wasm_i32x4_extend_low_i16x8(q), qhi = wasm_i32x4_extend_high_i16x8(q);
        v128_t vlo = wasm_f32x4_convert_i32x4(wasm_i32x4_add(wasm_i32x4_add(qlo, qlo), voff));
        v128_t vhi = wasm_f32x4_convert_i32x4(wasm_i32x4_add(wasm_i32x4_add(qhi, qhi), voff));
        v128_t clo, chi;
        if (j / group == (j + 7) / group) {
            clo = chi = wasm_f32x4_splat(bs_f16_to_f32(sc[j / group]) * inv);
        } else { /* a group boundary inside these 8 columns */
            float c[8];
            for (int k = 0; k < 8; k++) c[k] = bs_f16_to_f32(sc[(j + k) / group]) * inv;
            clo = wasm_v128_load(c);
            chi = wasm_v128_load(c + 4);
        }
        wasm_v128_store(out + j, wasm_f32x4_mul(clo, vlo));
        wasm_v128_store(out + j + 4, wasm_f32x4_mul(chi, vhi));
    }
    for (; j < cols; j++) {
        int32_t q = 0;
        for (int i = 0; i < n; i++) q = (q << 1) | sign_bit(bytes[i], j);
        out[j] = bs_f16_to_f32(sc[j / group]) * (float)(2 * q + offset) * inv;
    }
}

/* Row r of an AVD matrix (kernels_ref.c row_avd): per block, column j's
   magnitude m = sum over t of a[r,t] * b[t,j] in t order (four columns
   per step), then out += (bit ? m : -m). */
static void row_avd(const bs_linear *l, int32_t r, float *out) {
    int32_t cols = l->cols, rb = bs_row_bytes(cols), k = l->rank;
    memset(out, 0, (size_t)cols * sizeof(float));
    for (int i = 0; i < l->n_blocks; i++) {
        const bs_avd_block *b = &l->avd[i];
        const uint8_t *srow = b->signs + (int64_t)r * rb;
        const uint16_t *ar = b->a + (int64_t)r * k;
        int j = 0;
        for (; j + 8 <= cols; j += 8) {
            v128_t mlo = wasm_f32x4_splat(0.0f), mhi = mlo;
            for (int t = 0; t < k; t++) {
                v128_t at = wasm_f32x4_splat(bs_f16_to_f32(ar[t]));
                const uint16_t *bt = b->b + (int64_t)t * cols + j;
                mlo = wasm_f32x4_add(mlo, wasm_f32x4_mul(at, f16x4_to_f32(bt)));
                mhi = wasm_f32x4_add(mhi, wasm_f32x4_mul(at, f16x4_to_f32(bt + 4)));
            }
            const uint32_t *neg = neg_xor[srow[j >> 3]];
            v128_t olo = wasm_f32x4_add(wasm_v128_load(out + j), wasm_v128_xor(mlo, wasm_v128_load(neg)));
            v128_t ohi = wasm_f32x4_add(wasm_v128_load(out + j + 4), wasm_v128_xor(mhi, wasm_v128_load(neg + 4)));
            wasm_v128_store(out + j, olo);
            wasm_v128_store(out + j + 4, ohi);
        }
        for (; j < cols; j++) {
            float m = 0.0f;
            for (int t = 0; t < k; t++) m += bs_f16_to_f32(ar[t]) * bs_f16_to_f32(b->b[(int64_t)t * cols + j]);
            out[j] += sign_bit(srow, j) ? m : -m;
        }
    }
}

/* ---- matmul ------------------------------------------------------------------- */

static void matmul_f32(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    (void)scratch;
    int cols = l->cols, rows = l->rows, r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *w = l->w + (int64_t)r * cols;
        for (int t = 0; t < n_tok; t++) {
            float s[4];
            dot4_f32(w, w + cols, w + 2 * cols, w + 3 * cols, x + (int64_t)t * cols, cols, s);
            for (int q = 0; q < 4; q++) y[(int64_t)t * rows + r + q] = s[q];
        }
    }
    for (; r < r1; r++)
        for (int t = 0; t < n_tok; t++)
            y[(int64_t)t * rows + r] = dot_f32(l->w + (int64_t)r * cols, x + (int64_t)t * cols, cols);
}

static void linear_row(const bs_linear *l, int32_t r, float *out) {
    switch (l->kind) {
    case BS_LIN_F16: row_f16(l, r, out); break;
    case BS_LIN_AVD: row_avd(l, r, out); break;
    case BS_LIN_PLANES:
        if (l->n_blocks > 0 && !l->packed) row_planes(l, r, out);
        else bs_linear_row(l, r, out);
        break;
    default: bs_linear_row(l, r, out); break;
    }
}

/* F16, PLANES and batched AVD: rebuild one row, then the canonical dot
   with every token. scratch: cols floats. */
static void matmul_by_rows(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                           float *scratch) {
    for (int r = r0; r < r1; r++) {
        linear_row(l, r, scratch);
        for (int t = 0; t < n_tok; t++)
            y[(int64_t)t * l->rows + r] = dot_f32(scratch, x + (int64_t)t * l->cols, l->cols);
    }
}

/* Dots of one packed sign row (as +-1) with u_t0..u_t0+nt-1 (nt <= 4),
   each in the canonical order: sg[j] * u[j] is +-u[j] exactly, a sign
   xor. One pass over the sign row serves up to four rank columns. */
static inline __attribute__((always_inline)) void sign_dots(const uint8_t *srow, const float *u, int cols, int nt,
                                                            float *z) {
    v128_t zero = wasm_f32x4_splat(0.0f);
    v128_t lo[4] = {zero, zero, zero, zero}, hi[4] = {zero, zero, zero, zero};
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        const uint32_t *neg = neg_xor[srow[j >> 3]];
        v128_t nlo = wasm_v128_load(neg), nhi = wasm_v128_load(neg + 4);
        for (int t = 0; t < nt; t++) {
            const float *ut = u + (size_t)t * cols + j;
            lo[t] = wasm_f32x4_add(lo[t], wasm_v128_xor(wasm_v128_load(ut), nlo));
            hi[t] = wasm_f32x4_add(hi[t], wasm_v128_xor(wasm_v128_load(ut + 4), nhi));
        }
    }
    for (int t = 0; t < nt; t++) {
        const float *ut = u + (size_t)t * cols;
        float s = reduce8(lo[t], hi[t]);
        for (int jj = j; jj < cols; jj++) s += (sign_bit(srow, jj) ? 1.0f : -1.0f) * ut[jj];
        z[t] = s;
    }
}

/* The sign-matrix form (kernels_ref.c matmul_avd): u_t = B_i[t,:] * x
   elementwise, z_t = S_i[r,:] . u_t (canonical dot), y_r += a[r,t] * z_t
   in t order. Batches of BS_AVD_ROWS_MIN_TOK+ tokens rebuild rows
   instead, as the reference does. scratch: (rank + 1) * cols floats. */
static void matmul_avd(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    if (n_tok >= BS_AVD_ROWS_MIN_TOK) {
        matmul_by_rows(l, x, y, n_tok, r0, r1, scratch);
        return;
    }
    int32_t k = l->rank, cols = l->cols, rb = bs_row_bytes(cols);
    float *u = scratch;
    for (int tok = 0; tok < n_tok; tok++) {
        const float *xt = x + (int64_t)tok * cols;
        float *yt = y + (int64_t)tok * l->rows;
        for (int r = r0; r < r1; r++) yt[r] = 0.0f;
        for (int i = 0; i < l->n_blocks; i++) {
            const bs_avd_block *b = &l->avd[i];
            for (int t = 0; t < k; t++) {
                const uint16_t *bt = b->b + (int64_t)t * cols;
                float *ut = u + (size_t)t * cols;
                int j = 0;
                for (; j + 4 <= cols; j += 4)
                    wasm_v128_store(ut + j, wasm_f32x4_mul(f16x4_to_f32(bt + j), wasm_v128_load(xt + j)));
                for (; j < cols; j++) ut[j] = bs_f16_to_f32(bt[j]) * xt[j];
            }
            for (int r = r0; r < r1; r++) {
                const uint8_t *srow = b->signs + (int64_t)r * rb;
                const uint16_t *ar = b->a + (int64_t)r * k;
                float acc = yt[r];
                for (int t0 = 0; t0 < k; t0 += 4) {
                    float z[4];
                    int nt = k - t0 < 4 ? k - t0 : 4;
                    if (nt == 4) sign_dots(srow, u + (size_t)t0 * cols, cols, 4, z); /* unrolled */
                    else sign_dots(srow, u + (size_t)t0 * cols, cols, nt, z);
                    for (int t = 0; t < nt; t++) acc += bs_f16_to_f32(ar[t0 + t]) * z[t];
                }
                yt[r] = acc;
            }
        }
    }
}

/* ---- bit planes, fast mode (kernels_q8.h) ----------------------------------- */

static void matmul_planes_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                               float *scratch) {
    if (bs_q8_planes_ok(l, n_tok)) bs_q8_planes_matmul(l, x, y, n_tok, r0, r1, scratch, bs_q8_planes_rows_ref);
    else matmul_by_rows(l, x, y, n_tok, r0, r1, scratch);
}

/* ---- AVD, fast mode: sign tables (kernels_lut.h) ------------------------------ */

/* The tables, 4 ranks per vector, each lane the reference's operations
   (signs flipped by xor); u transposed by the reference's loop. */
static void lut_tables(const bs_linear *l, int block, const float *x, float *ut, float *tab) {
    int k = l->rank, kp = bs_lut_kp(k), cols = l->cols, ng = (cols + 3) / 4;
    const uint16_t *b = l->avd[block].b;
    memset(ut, 0, (size_t)4 * ng * kp * sizeof *ut);
    for (int t = 0; t < k; t++)
        for (int j = 0; j < cols; j++) ut[(size_t)j * kp + t] = bs_f16_to_f32(b[(int64_t)t * cols + j]) * x[j];
    const v128_t neg = wasm_f32x4_splat(-0.0f);
    for (int g = 0; g < ng; g++)
        for (int t = 0; t < kp; t += 4) {
            const float *u = ut + (size_t)4 * g * kp + t;
            v128_t u0 = wasm_v128_load(u), u1 = wasm_v128_load(u + kp), u2 = wasm_v128_load(u + 2 * kp),
                   u3 = wasm_v128_load(u + 3 * kp);
            v128_t m0 = wasm_v128_xor(u0, neg), m1 = wasm_v128_xor(u1, neg), m2 = wasm_v128_xor(u2, neg),
                   m3 = wasm_v128_xor(u3, neg);
            v128_t a[4] = {wasm_f32x4_add(m0, m1), wasm_f32x4_add(m0, u1), wasm_f32x4_add(u0, m1), wasm_f32x4_add(u0, u1)};
            v128_t c[4] = {wasm_f32x4_add(m2, m3), wasm_f32x4_add(m2, u3), wasm_f32x4_add(u2, m3), wasm_f32x4_add(u2, u3)};
            float *tg = tab + (size_t)g * 16 * kp + t;
            for (int n = 0; n < 16; n++) wasm_v128_store(tg + (size_t)n * kp, wasm_f32x4_add(a[n >> 2], c[n & 3]));
        }
}

static inline int nibble(const uint8_t *sg, int g) { return g & 1 ? sg[g >> 1] & 15 : sg[g >> 1] >> 4; }

/* z for 8 ranks from t0: four partial sums (g mod 4) per vector of 4. */
static inline void lut_z8(const float *tab, const uint8_t *sg, int ng, int kp, int t0, float *z) {
    v128_t p[4][2];
    for (int m = 0; m < 4; m++) p[m][0] = p[m][1] = wasm_f32x4_splat(0.0f);
    for (int g = 0; g < ng; g++) {
        const float *e = tab + ((size_t)g * 16 + nibble(sg, g)) * kp + t0;
        int m = g & 3;
        p[m][0] = wasm_f32x4_add(p[m][0], wasm_v128_load(e));
        p[m][1] = wasm_f32x4_add(p[m][1], wasm_v128_load(e + 4));
    }
    for (int v = 0; v < 2; v++)
        wasm_v128_store(z + 4 * v, wasm_f32x4_add(wasm_f32x4_add(p[0][v], p[1][v]), wasm_f32x4_add(p[2][v], p[3][v])));
}

static void lut_rows(const bs_linear *l, int block, const float *tab, float *y, int r0, int r1) {
    int k = l->rank, kp = bs_lut_kp(k), ng = (l->cols + 3) / 4, rb = bs_row_bytes(l->cols);
    const bs_avd_block *blk = &l->avd[block];
    for (int r = r0; r < r1; r++) {
        const uint8_t *sg = blk->signs + (int64_t)r * rb;
        float acc = y[r], z[8];
        for (int t0 = 0; t0 < kp; t0 += 8) {
            lut_z8(tab, sg, ng, kp, t0, z);
            for (int t = t0; t < BS_MIN(k, t0 + 8); t++) acc += bs_f16_to_f32(blk->a[(int64_t)r * k + t]) * z[t - t0];
        }
        y[r] = acc;
    }
}

static void matmul_avd_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                            float *scratch) {
    if (n_tok < BS_AVD_ROWS_MIN_TOK) bs_lut_avd_matmul(l, x, y, n_tok, r0, r1, scratch, lut_tables, lut_rows);
    else matmul_avd(l, x, y, n_tok, r0, r1, scratch);
}

static const bs_kernels simd128_kernels = {
    "simd128", dot_f32, {matmul_f32, matmul_by_rows, matmul_avd, matmul_by_rows},
    {matmul_f32, matmul_by_rows, matmul_avd_fast, matmul_planes_fast}};

const bs_kernels *bs_kernels_simd128(void) { return &simd128_kernels; }

#else
typedef int bs_kernels_simd128_not_built; /* ISO C wants one declaration */
#endif
