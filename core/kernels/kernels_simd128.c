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

#include "baseline.h"
#include "kernels.h"
#include "kernels_lut.h"
#include "kernels_q8.h"
#include "planes_pack.h"

#include "half.h"
#include "linear.h"
#include "model.h"
#include "scales.h"

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
static inline v128_t f16x4_bits_to_f32(v128_t h) { /* h: four halves in u32 lanes */
    v128_t mag = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    v128_t f = wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f));
    v128_t special = wasm_i32x4_ge(mag, wasm_i32x4_splat(0x0f800000)); /* exponent 31 */
    f = wasm_v128_bitselect(wasm_v128_or(mag, wasm_i32x4_splat(0x70000000)), f, special);
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

static inline v128_t f16x4_to_f32(const uint16_t *p) { return f16x4_bits_to_f32(wasm_u32x4_load16x4(p)); }

/* A table indexed by one packed sign byte (8 columns, MSB first), built
   by the preprocessor so it is constant data: the f32 sign-bit xor that
   turns m into (bit ? m : -m) (0 where the bit is set, 0x80000000 where
   it is clear). */
#define BS_NEG(x, k) (((x) >> (7 - (k))) & 1 ? 0u : 0x80000000u)
#define BS_NEG8(x) {BS_NEG(x, 0), BS_NEG(x, 1), BS_NEG(x, 2), BS_NEG(x, 3), \
                    BS_NEG(x, 4), BS_NEG(x, 5), BS_NEG(x, 6), BS_NEG(x, 7)}
#define BS_X4(M, x) M(x), M((x) + 1), M((x) + 2), M((x) + 3)
#define BS_X16(M, x) BS_X4(M, x), BS_X4(M, (x) + 4), BS_X4(M, (x) + 8), BS_X4(M, (x) + 12)
#define BS_X64(M, x) BS_X16(M, x), BS_X16(M, (x) + 16), BS_X16(M, (x) + 32), BS_X16(M, (x) + 48)
#define BS_X256(M) BS_X64(M, 0), BS_X64(M, 64), BS_X64(M, 128), BS_X64(M, 192)
static const uint32_t neg_xor[256][8] __attribute__((aligned(16))) = {BS_X256(BS_NEG8)};

static inline int sign_bit(const uint8_t *row, int j) { return (row[j >> 3] >> (7 - (j & 7))) & 1; }

/* ---- row rebuilds ----------------------------------------------------------- */

static void row_f16(const bs_linear *l, int32_t r, float *out) {
    const uint16_t *src = l->w16 + (int64_t)r * l->cols;
    int j = 0;
    for (; j + 4 <= l->cols; j += 4) wasm_v128_store(out + j, f16x4_to_f32(src + j));
    for (; j < l->cols; j++) out[j] = bs_f16_to_f32(src[j]);
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

/* ---- bit planes: the packed layout (planes_pack.h) -------------------------- */

#define BS_INLINE static inline __attribute__((always_inline))

/* The chunk rows of packed row r of an n-plane matrix, in chunk order
   (quads, the pair, the single: bs_pk_chunks), and the plain planes of
   its odd last block in plane order (when nb is odd). */
BS_INLINE void pk_row(const bs_linear *l, int32_t r, int n, const uint8_t **cp, const uint8_t **op) {
    int32_t rb = bs_row_bytes(l->cols), nu = l->cols / 64;
    int k = 0, i = 0;
    for (int c4 = 0; c4 < n / 4; c4++) cp[k++] = bs_pk_chunk_row(l->planes, (bs_pk_chunk){4 * c4, 4}, r, rb);
    if (n % 4 >= 2) cp[k++] = bs_pk_chunk_row(l->planes, (bs_pk_chunk){n / 4 * 4, 2}, r, rb);
    if (n % 2) cp[k++] = bs_pk_chunk_row(l->planes, (bs_pk_chunk){n - 1, 1}, r, rb);
    if ((l->cols / 32) % 2)
        for (int c = 0; c < k; c++) {
            int w = c < n / 4 ? 4 : (n % 4 >= 2 && c == n / 4) ? 2 : 1;
            for (int p = 0; p < w; p++) op[i++] = cp[c] + 8 * w * nu + 4 * p;
        }
}

/* The masks of the packed layout's fields, read from memory: clang would
   fold each into a v128.const at every use, and V8 builds a v128.const
   anew each time (several instructions; a load is one, folded into the
   operation). Rows: 0-4 quad fields at bit s (0x0f << s), 5-6 pair fields
   (0x03 << s), 7-10 a single unit's bits k and k + 1 (k = 0, 2, 4, 6: one
   per half of the vector), 11 0x01 bytes, 12 0x00ff words. */
#define PK_B(x) {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}
#define PK_S(a, b) {a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b}
static const uint8_t pk_masks[13][16] __attribute__((aligned(16))) = {
    PK_B(0x0f), PK_B(0x1e), PK_B(0x3c), PK_B(0x78), PK_B(0xf0), PK_B(0x03), PK_B(0x06),
    PK_S(1, 2), PK_S(4, 8), PK_S(16, 32), PK_S(64, 128), PK_B(1),
    {0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0xff, 0}};
#undef PK_S
#undef PK_B
/* Read through an opaque pointer, so the compiler keeps loads. */
static const void *const volatile pk_masks_at = pk_masks;
static inline const v128_t *pk_k(void) { return (const v128_t *)pk_masks_at; }

/* The c-bit field at bit f of every byte, moved to bit s (one 16-bit
   shift and a mask: no bit of the neighbouring byte comes through for
   fields that fit their byte, planes_pack.h). */
BS_INLINE v128_t field(v128_t v, int f, int s, int c, const v128_t *K) {
    if (f > s) v = wasm_u16x8_shr(v, f - s);
    if (f < s) v = wasm_i16x8_shl(v, s - f);
    return wasm_v128_and(v, wasm_v128_load(&K[c == 4 ? s : 5 + s]));
}

/* Bit k (lanes 0-7) and k + 1 (lanes 8-15) of each byte of a single
   unit's 8 bytes, as 0 / 1: a mask, then an unsigned min. */
BS_INLINE v128_t single_bits(v128_t x, int k, const v128_t *K) {
    return wasm_u8x16_min(wasm_v128_and(x, wasm_v128_load(&K[7 + k / 2])), wasm_v128_load(&K[11]));
}

/* Codes of blocks 2u and 2u + 1 of a packed row as byte lanes: c[0], c[1]
   columns 0-15 and 16-31 of block 2u, c[2], c[3] those of block 2u + 1;
   the chunks from chunk k0 on, each at its place n - p0 - c in q. k0 = 0
   gives q (n <= 8); k0 = 1 its low n - 4 bits, quad_unit its top four.
   Quad units: two loads, four fields; pair units: one load, four fields;
   single units: their 8 bytes in both halves, a mask and a min per field
   pair. */
BS_INLINE void unit_codes(const uint8_t *const *cp, int u, int n, int k0, v128_t *c, const v128_t *K) {
    v128_t c0 = wasm_i8x16_splat(0), c1 = c0, c2 = c0, c3 = c0;
    int nq = n / 4, k = nq;
    for (int c4 = k0; c4 < nq; c4++) {
        int s = n - 4 * c4 - 4;
        v128_t v0 = wasm_v128_load(cp[c4] + 32 * u), v1 = wasm_v128_load(cp[c4] + 32 * u + 16);
        c0 = wasm_v128_or(c0, field(v0, 0, s, 4, K));
        c1 = wasm_v128_or(c1, field(v1, 0, s, 4, K));
        c2 = wasm_v128_or(c2, field(v0, 4, s, 4, K));
        c3 = wasm_v128_or(c3, field(v1, 4, s, 4, K));
    }
    if (n % 4 >= 2) {
        int s = n % 2;
        v128_t v = wasm_v128_load(cp[k++] + 16 * u);
        c0 = wasm_v128_or(c0, field(v, 0, s, 2, K));
        c1 = wasm_v128_or(c1, field(v, 2, s, 2, K));
        c2 = wasm_v128_or(c2, field(v, 4, s, 2, K));
        c3 = wasm_v128_or(c3, field(v, 6, s, 2, K));
    }
    if (n % 2) {
        v128_t x = wasm_v128_load64_splat(cp[k] + 8 * u);
        c0 = wasm_v128_or(c0, single_bits(x, 0, K));
        c1 = wasm_v128_or(c1, single_bits(x, 2, K));
        c2 = wasm_v128_or(c2, single_bits(x, 4, K));
        c3 = wasm_v128_or(c3, single_bits(x, 6, K));
    }
    c[0] = c0, c[1] = c1, c[2] = c2, c[3] = c3;
}

BS_INLINE void quad_unit(const uint8_t *row, int u, v128_t *c, const v128_t *K) {
    v128_t v0 = wasm_v128_load(row + 32 * u), v1 = wasm_v128_load(row + 32 * u + 16);
    c[0] = field(v0, 0, 0, 4, K), c[1] = field(v1, 0, 0, 4, K), c[2] = field(v0, 4, 0, 4, K), c[3] = field(v1, 4, 0, 4, K);
}

/* q of 16 columns (bytes m, m + 1 of n <= 8 plain planes, p[0] most
   significant) in byte lanes: each plane's two bytes splat, lane k
   picking byte k / 8 and testing bit 7 - k % 8; q = 2q + bit. Only for
   the odd last block of a packed row, which its chunks keep plain. */
BS_INLINE v128_t planes_q16(const uint8_t *const *p, int n, int m) {
    const v128_t pick = wasm_i8x16_const(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const v128_t bit = wasm_u8x16_const(0x80, 0x40, 0x20, 0x10, 8, 4, 2, 1, 0x80, 0x40, 0x20, 0x10, 8, 4, 2, 1);
    v128_t q = wasm_i8x16_splat(0);
    for (int i = 0; i < n; i++) {
        v128_t b = wasm_i8x16_swizzle(wasm_v128_load16_splat(p[i] + m), pick);
        q = wasm_i8x16_sub(wasm_i8x16_add(q, q), wasm_i8x16_eq(wasm_v128_and(b, bit), bit));
    }
    return q;
}

/* The odd last block's codes (c[0], c[1]; c[2], c[3] the high part when n > 8). */
BS_INLINE void odd_codes(const uint8_t *const *op, int n, v128_t *c) {
    int k = n > 8 ? 4 : 0;
    c[0] = planes_q16(op + k, n - k, 0), c[1] = planes_q16(op + k, n - k, 2);
    if (n > 8) c[2] = planes_q16(op, 4, 0), c[3] = planes_q16(op, 4, 2);
}

/* 16 weights from column j: (c * inv) * (float)(2q + offset), q = lo (+ hi
   << (n - 4) when n > 8) in byte lanes; the scale per 4 columns. */
BS_INLINE void planes_store16(float *out, v128_t lo, v128_t hi, int n, const uint16_t *sc, int group, int j,
                              float inv, v128_t voff) {
    v128_t l16[2] = {wasm_u16x8_extend_low_u8x16(lo), wasm_u16x8_extend_high_u8x16(lo)};
    v128_t h16[2] = {wasm_u16x8_extend_low_u8x16(hi), wasm_u16x8_extend_high_u8x16(hi)};
    for (int k = 0; k < 4; k++) {
        v128_t q = k & 1 ? wasm_u32x4_extend_high_u16x8(l16[k >> 1]) : wasm_u32x4_extend_low_u16x8(l16[k >> 1]);
        if (n > 8) {
            v128_t h = k & 1 ? wasm_u32x4_extend_high_u16x8(h16[k >> 1]) : wasm_u32x4_extend_low_u16x8(h16[k >> 1]);
            q = wasm_i32x4_add(q, wasm_i32x4_shl(h, n - 4));
        }
        v128_t v = wasm_f32x4_convert_i32x4(wasm_i32x4_add(wasm_i32x4_add(q, q), voff));
        v128_t c;
        if (group % 16 == 0) { /* the 16 columns share one scale */
            c = wasm_f32x4_splat(bs_f16_to_f32(sc[j / group]) * inv);
        } else {
            int c0 = j + 4 * k;
            if (c0 / group == (c0 + 3) / group) {
                c = wasm_f32x4_splat(bs_f16_to_f32(sc[c0 / group]) * inv);
            } else { /* a group boundary inside these 4 columns */
                float cs[4];
                for (int i = 0; i < 4; i++) cs[i] = bs_f16_to_f32(sc[(c0 + i) / group]) * inv;
                c = wasm_v128_load(cs);
            }
        }
        wasm_v128_store(out + 4 * k, wasm_f32x4_mul(c, v));
    }
}

/* Scales a row rebuild decodes on the stack (8-bit codes): 64 KiB columns
   at groups of 32; wider rows go to the reference. */
enum { PK_ROW_SCALES = 2048 };

/* Row r of a packed PLANES matrix (kernels_ref.c row_planes). The
   reference computes c * (float)(2q + offset) * inv with both products
   exact (c has 11 significant bits, 2q + offset at most 13, inv a power of
   two and no result below 2^-35), so any exact evaluation gives its bits:
   here (c * inv), once per 4 columns, times (2q + offset). 64 columns per
   unit, the odd last block from its plain planes, the tail scalar. */
BS_INLINE void row_planes_n(const bs_linear *l, int32_t r, float *out, int n) {
    int32_t cols = l->cols, group = l->group, nu = cols / 64, nb = cols / 32, gpr = bs_groups_per_row(cols, group);
    uint16_t decoded[PK_ROW_SCALES]; /* 8-bit codes: the row's scales decoded once (row_planes checks gpr) */
    const uint16_t *sc = l->scales + (int64_t)r * gpr;
    if (l->scale_codes) bs_linear_row_scales(l, r, decoded), sc = decoded;
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    const int32_t offset = 1 - (1 << n);
    const v128_t voff = wasm_i32x4_splat(offset);
    const uint8_t *cp[BS_PK_MAX_CHUNKS], *op[12];
    pk_row(l, r, n, cp, op);
    const v128_t *K = pk_k();
    v128_t c[4], h[4] = {wasm_i8x16_splat(0), wasm_i8x16_splat(0), wasm_i8x16_splat(0), wasm_i8x16_splat(0)};
    int j = 0;
    for (int u = 0; u < nu; u++, j += 64) {
        unit_codes(cp, u, n, n > 8, c, K);
        if (n > 8) quad_unit(cp[0], u, h, K);
        for (int k = 0; k < 4; k++) planes_store16(out + j + 16 * k, c[k], h[k], n, sc, group, j + 16 * k, inv, voff);
    }
    if (nb % 2) {
        odd_codes(op, n, c);
        planes_store16(out + j, c[0], c[2], n, sc, group, j, inv, voff);
        planes_store16(out + j + 16, c[1], c[3], n, sc, group, j + 16, inv, voff);
        j += 32;
    }
    for (; j < cols; j++) out[j] = bs_f16_to_f32(sc[j / group]) * (float)(2 * bs_planes_code(l, r, j) + offset) * inv;
}

#define BS_ROW_PLANES(n)                                                                             \
    static __attribute__((noinline)) void row_planes_##n(const bs_linear *l, int32_t r, float *out) { \
        row_planes_n(l, r, out, n);                                                                  \
    }
BS_ROW_PLANES(1)
BS_ROW_PLANES(2)
BS_ROW_PLANES(3)
BS_ROW_PLANES(4)
BS_ROW_PLANES(5)
BS_ROW_PLANES(6)
BS_ROW_PLANES(7)
BS_ROW_PLANES(8)
BS_ROW_PLANES(9)
BS_ROW_PLANES(10)
BS_ROW_PLANES(11)
BS_ROW_PLANES(12)
#undef BS_ROW_PLANES

/* Packed rows here (one function per plane count, as q8_rows below),
   everything else (plain layouts, the rows past rows & ~3) by the
   reference. */
static void row_planes(const bs_linear *l, int32_t r, float *out) {
    typedef void (*row_fn)(const bs_linear *, int32_t, float *);
    static const row_fn by_n[13] = {NULL,          row_planes_1, row_planes_2,  row_planes_3,  row_planes_4,
                                    row_planes_5,  row_planes_6, row_planes_7,  row_planes_8,  row_planes_9,
                                    row_planes_10, row_planes_11, row_planes_12};
    int n = l->n_blocks;
    if (!l->packed || n < 1 || n > 12 || r >= bs_pk_rows4(l->rows) ||
        (l->scale_codes && bs_groups_per_row(l->cols, l->group) > PK_ROW_SCALES))
        bs_linear_row(l, r, out);
    else
        by_n[n](l, r, out);
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
        row_planes(l, r, out);
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

/* ---- bit planes, fast mode (16-bit activations; kernels_q8.h) ------------------ */

/* sum q_j X_j of one block as 4 int32 lanes: codes c0 (columns 0-15), c1
   (16-31) in byte lanes split into 16-bit lanes, even columns by a mask and
   odd ones by a shift, against the block's X in bs_q8_xpos order
   (i32x4.dot_i16x8_s: q < 2^8, |X| < 2^15, exact). */
BS_INLINE v128_t code_dot(v128_t c0, v128_t c1, const int16_t *x, const v128_t *K) {
    const v128_t lo = wasm_v128_load(&K[12]);
    v128_t s = wasm_i32x4_dot_i16x8(wasm_v128_and(c0, lo), wasm_v128_load(x));
    s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(wasm_u16x8_shr(c0, 8), wasm_v128_load(x + 16)));
    s = wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(wasm_v128_and(c1, lo), wasm_v128_load(x + 8)));
    return wasm_i32x4_add(s, wasm_i32x4_dot_i16x8(wasm_u16x8_shr(c1, 8), wasm_v128_load(x + 24)));
}

/* Both parts of q for n > 8: (hi << (n - 4)) + lo, wrapping like the sums. */
BS_INLINE v128_t split_dot(v128_t c0, v128_t c1, v128_t h0, v128_t h1, int n, const int16_t *x, const v128_t *K) {
    v128_t v = code_dot(c0, c1, x, K);
    return n > 8 ? wasm_i32x4_add(v, wasm_i32x4_shl(code_dot(h0, h1, x, K), n - 4)) : v;
}

/* The lane sums of four int32 vectors as one vector (a, b, c, d), with
   shuffles engines map to one instruction each: one-input lane swaps
   (pshufd) and blends that keep every lane in place (pblendw); a general
   two-input shuffle costs V8 two pshufb, an or and their constants. */
BS_INLINE v128_t hsum4(v128_t a, v128_t b, v128_t c, v128_t d) {
    a = wasm_i32x4_add(a, wasm_i32x4_shuffle(a, a, 1, 0, 3, 2)); /* a0+a1, a0+a1, a2+a3, a2+a3 */
    b = wasm_i32x4_add(b, wasm_i32x4_shuffle(b, b, 1, 0, 3, 2));
    c = wasm_i32x4_add(c, wasm_i32x4_shuffle(c, c, 1, 0, 3, 2));
    d = wasm_i32x4_add(d, wasm_i32x4_shuffle(d, d, 1, 0, 3, 2));
    v128_t ab = wasm_i32x4_shuffle(a, b, 0, 5, 2, 7), cd = wasm_i32x4_shuffle(c, d, 0, 5, 2, 7); /* blends */
    ab = wasm_i32x4_add(ab, wasm_i32x4_shuffle(ab, ab, 2, 3, 0, 1)); /* sa, sb, sa, sb */
    cd = wasm_i32x4_add(cd, wasm_i32x4_shuffle(cd, cd, 2, 3, 0, 1)); /* sc, sd, sc, sd */
    return wasm_i32x4_shuffle(ab, cd, 0, 1, 6, 7); /* blend: sa, sb, sc, sd */
}

/* A packed row's codes, read from its chunks (direct: one token) or from
   a copy made once for several tokens (qlo, qhi: 32 bytes per block). */
typedef struct code_src {
    const uint8_t *const *cp, *const *op;
    const uint8_t *qlo, *qhi;
    const v128_t *K; /* pk_masks */
} code_src;

/* Blocks 2u, 2u + 1 against x (the token's X from block 2u). */
BS_INLINE void pair_dot(const code_src *q, int u, int n, int direct, const int16_t *x, v128_t *v0, v128_t *v1) {
    v128_t c[4], h[4] = {wasm_i8x16_splat(0), wasm_i8x16_splat(0), wasm_i8x16_splat(0), wasm_i8x16_splat(0)};
    if (direct) {
        unit_codes(q->cp, u, n, n > 8, c, q->K);
        if (n > 8) quad_unit(q->cp[0], u, h, q->K);
    } else {
        for (int k = 0; k < 4; k++) c[k] = wasm_v128_load(q->qlo + 64 * u + 16 * k);
        if (n > 8)
            for (int k = 0; k < 4; k++) h[k] = wasm_v128_load(q->qhi + 64 * u + 16 * k);
    }
    *v0 = split_dot(c[0], c[1], h[0], h[1], n, x, q->K);
    *v1 = split_dot(c[2], c[3], h[2], h[3], n, x + 32, q->K);
}

/* The odd last block b. */
BS_INLINE v128_t odd_dot(const code_src *q, int b, int n, int direct, const int16_t *x) {
    v128_t c[4];
    if (direct) {
        odd_codes(q->op, n, c);
    } else {
        c[0] = wasm_v128_load(q->qlo + 32 * b), c[1] = wasm_v128_load(q->qlo + 32 * b + 16);
        if (n > 8) c[2] = wasm_v128_load(q->qhi + 32 * b), c[3] = wasm_v128_load(q->qhi + 32 * b + 16);
    }
    return split_dot(c[0], c[1], c[2], c[3], n, x, q->K);
}

/* The scales of a row's blocks: binary16 (sc), or 8-bit codes against the
   row's reference (codes, base = ref - 32 * 255: scales.h). */
typedef struct scale_src {
    const uint16_t *sc;
    const uint8_t *codes;
    int32_t base;
    const float *cb; /* per > 2: bs_q8_block_scales, 0 past nb */
    int per, gpr;
} scale_src;

/* Decoded binary16 scales in 4 int32 lanes to f32: max(2^-14, base + 32
   code) is a normal positive binary16 (the reader checked ref), whose f32
   bits are its own shifted by 13 with the exponent bias moved (127 - 15). */
BS_INLINE v128_t code_scales(v128_t codes, int32_t base) {
    v128_t h = wasm_i32x4_max(wasm_i32x4_add(wasm_i32x4_shl(codes, 5), wasm_i32x4_splat(base)),
                              wasm_i32x4_splat(BS_SCALE_MIN));
    return wasm_i32x4_add(wasm_i32x4_shl(h, 13), wasm_i32x4_splat(112 << 23));
}

/* The scales of k (2 or 4) groups from g in the low lanes. */
BS_INLINE v128_t group_scales(const scale_src *s, int g, int k) {
    if (s->codes) {
        v128_t c = k == 4 ? wasm_v128_load32_zero(s->codes + g) : wasm_v128_load16_lane(s->codes + g, wasm_i32x4_splat(0), 0);
        return code_scales(wasm_u32x4_extend_low_u16x8(wasm_u16x8_extend_low_u8x16(c)), s->base);
    }
    if (k == 4) return f16x4_to_f32(s->sc + g);
    return f16x4_bits_to_f32(wasm_u32x4_extend_low_u16x8(wasm_v128_load32_zero(s->sc + g)));
}

/* c of blocks b .. b+3 (exact conversions), the row's scales read in
   bounds only; lanes past nb are masked by the caller. */
BS_INLINE v128_t scales4(const scale_src *s, int b) {
    if (s->per == 1 && b + 4 <= s->gpr) return group_scales(s, b, 4);
    if (s->per == 2 && b / 2 + 2 <= s->gpr) {
        v128_t c = group_scales(s, b / 2, 2);
        return wasm_i32x4_shuffle(c, c, 0, 0, 1, 1);
    }
    if (s->per > 2) return wasm_v128_load(s->cb + b);
    float c[4] = {0, 0, 0, 0}; /* the row's last scales */
    for (int k = 0; k < 4 && (b + k) / s->per < s->gpr; k++) {
        int g = (b + k) / s->per;
        c[k] = bs_f16_to_f32(s->codes ? bs_scale_decode((uint16_t)(s->base + 32 * 255), s->codes[g]) : s->sc[g]);
    }
    return wasm_v128_load(c);
}

/* Four blocks' sums into their canonical lanes: E = 2S + o sx,
   acc += (float)E * (c * d); blocks past nb get f = +0 (kernels_q8.h). */
BS_INLINE v128_t acc4(v128_t acc, v128_t s, const int32_t *osx, const float *d, const scale_src *c, int b, int nb) {
    v128_t e = wasm_i32x4_add(wasm_i32x4_add(s, s), wasm_v128_load(osx + b));
    v128_t f = wasm_f32x4_mul(scales4(c, b), wasm_v128_load(d + b));
    if (b + 4 > nb) f = wasm_v128_and(f, wasm_i32x4_gt(wasm_i32x4_splat(nb - b), wasm_i32x4_const(0, 1, 2, 3)));
    return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(e), f));
}

/* The sums of blocks b .. b+3 (those past nb zero). */
BS_INLINE v128_t group4(const code_src *q, int n, int direct, int nb, const int16_t *x, int b) {
    int w = nb & ~1; /* blocks in whole units */
    v128_t z = wasm_i32x4_splat(0), v0 = z, v1 = z, v2 = z, v3 = z;
    if (b + 4 <= w) {
        pair_dot(q, b / 2, n, direct, x + 32 * b, &v0, &v1);
        pair_dot(q, b / 2 + 1, n, direct, x + 32 * (b + 2), &v2, &v3);
        return hsum4(v0, v1, v2, v3);
    }
    if (b + 2 <= w) pair_dot(q, b / 2, n, direct, x + 32 * b, &v0, &v1);
    if (nb > w && w - b == 0) v0 = odd_dot(q, w, n, direct, x + 32 * w);
    if (nb > w && w - b == 2) v2 = odd_dot(q, w, n, direct, x + 32 * w);
    return hsum4(v0, v1, v2, v3);
}

/* One token against one packed row: acc of kernels_q8.h's canonical
   result (before the 2^-(n+7) and the tail columns); lanes 0-3 and 4-7 of
   the canonical dot in two vectors, as dot_f32. */
BS_INLINE float q8_row(const code_src *q, int n, int direct, int nb, int nb8, const int16_t *x,
                       const int32_t *osx, const float *d, const scale_src *c) {
    v128_t lo = wasm_f32x4_splat(0.0f), hi = lo;
    for (int b = 0; b < nb8; b += 8) {
        lo = acc4(lo, group4(q, n, direct, nb, x, b), osx, d, c, b, nb);
        hi = acc4(hi, b + 4 < nb ? group4(q, n, direct, nb, x, b + 4) : wasm_i32x4_splat(0), osx, d, c, b + 4, nb);
    }
    return reduce8(lo, hi);
}

/* q8_row for two rows at once (one token, direct codes): one load of x
   serves both, two independent chains per step. */
BS_INLINE void q8_row2(const code_src *qa, const code_src *qb, int n, int nb, int nb8, const int16_t *x,
                       const int32_t *osx, const float *d, const scale_src *ca, const scale_src *cb, float *ya,
                       float *yb) {
    v128_t z = wasm_i32x4_splat(0), la = wasm_f32x4_splat(0.0f), ha = la, lb = la, hb = la;
    for (int b = 0; b < nb8; b += 8) {
        la = acc4(la, group4(qa, n, 1, nb, x, b), osx, d, ca, b, nb);
        lb = acc4(lb, group4(qb, n, 1, nb, x, b), osx, d, cb, b, nb);
        int more = b + 4 < nb;
        ha = acc4(ha, more ? group4(qa, n, 1, nb, x, b + 4) : z, osx, d, ca, b + 4, nb);
        hb = acc4(hb, more ? group4(qb, n, 1, nb, x, b + 4) : z, osx, d, cb, b + 4, nb);
    }
    *ya = reduce8(la, ha), *yb = reduce8(lb, hb);
}

/* Row r's scale source. */
BS_INLINE scale_src row_scales(const bs_linear *l, int32_t r, const float *cb, int per, int gpr) {
    if (l->scale_codes)
        return (scale_src){NULL, l->scale_codes + (int64_t)r * gpr, (int32_t)l->scale_ref[r] - 32 * 255, cb, per, gpr};
    return (scale_src){l->scales + (int64_t)r * gpr, NULL, 0, cb, per, gpr};
}

/* kernels_q8.h's rows function for n planes: one token builds the codes
   in registers as it goes; several copy every block's codes into work
   first. Rows past rows & ~3 (plain) go to the reference. work: cb (nb8
   floats), then codes (32 bytes per block, low and high parts). */
BS_INLINE void q8_rows_n(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0, int r1,
                         uint8_t *work, int n) {
    int nb = a->nb, nb8 = a->nb8, nu = nb / 2, stride = nb * BS_Q8_BLOCK, tail = l->cols % BS_Q8_BLOCK != 0;
    int per = l->group / BS_Q8_BLOCK, gpr = bs_groups_per_row(l->cols, l->group);
    float inv = bs_q8_inv(n), *cb = (float *)work;
    uint8_t *qlo = work + 4 * (size_t)nb8, *qhi = qlo + stride;
    const v128_t *K = pk_k();
    int r = r0, rend = BS_MIN(r1, bs_pk_rows4(l->rows));
    if (n_tok == 1 && per <= 2) /* decode: rows in pairs */
        for (; r + 2 <= rend; r += 2) {
            const uint8_t *cp[2][BS_PK_MAX_CHUNKS], *op[2][12];
            pk_row(l, r, n, cp[0], op[0]);
            pk_row(l, r + 1, n, cp[1], op[1]);
            scale_src sa = row_scales(l, r, cb, per, gpr), sb = row_scales(l, r + 1, cb, per, gpr);
            code_src qa = {cp[0], op[0], NULL, NULL, K}, qb = {cp[1], op[1], NULL, NULL, K};
            float ya, yb;
            q8_row2(&qa, &qb, n, nb, nb8, a->xq, a->osx, a->d, &sa, &sb, &ya, &yb);
            ya *= inv, yb *= inv;
            y[r] = tail ? bs_q8_planes_tail(l, r, a->x, ya) : ya;
            y[r + 1] = tail ? bs_q8_planes_tail(l, r + 1, a->x, yb) : yb;
        }
    for (; r < rend; r++) {
        const uint8_t *cp[BS_PK_MAX_CHUNKS], *op[12];
        pk_row(l, r, n, cp, op);
        scale_src sc = row_scales(l, r, cb, per, gpr);
        if (per > 2) {
            bs_q8_block_scales(l, r, cb);
            for (int b = nb; b < nb8; b++) cb[b] = 0.0f;
        }
        code_src direct = {cp, op, NULL, NULL, K}, stored = {cp, op, qlo, qhi, K};
        if (n_tok == 1) {
            float acc = q8_row(&direct, n, 1, nb, nb8, a->xq, a->osx, a->d, &sc) * inv;
            y[r] = tail ? bs_q8_planes_tail(l, r, a->x, acc) : acc;
            continue;
        }
        v128_t c[4], h[4];
        for (int u = 0; u < nu; u++) {
            unit_codes(cp, u, n, n > 8, c, K);
            for (int k = 0; k < 4; k++) wasm_v128_store(qlo + 64 * u + 16 * k, c[k]);
            if (n > 8) {
                quad_unit(cp[0], u, h, K);
                for (int k = 0; k < 4; k++) wasm_v128_store(qhi + 64 * u + 16 * k, h[k]);
            }
        }
        if (nb % 2) {
            odd_codes(op, n, c);
            wasm_v128_store(qlo + 64 * nu, c[0]), wasm_v128_store(qlo + 64 * nu + 16, c[1]);
            if (n > 8) wasm_v128_store(qhi + 64 * nu, c[2]), wasm_v128_store(qhi + 64 * nu + 16, c[3]);
        }
        for (int t = 0; t < n_tok; t++) {
            float acc = q8_row(&stored, n, 0, nb, nb8, a->xq + (size_t)t * stride, a->osx + t * nb8, a->d + t * nb8, &sc) * inv;
            y[(int64_t)t * l->rows + r] = tail ? bs_q8_planes_tail(l, r, a->x + (int64_t)t * a->cols, acc) : acc;
        }
    }
    if (r < r1) bs_q8_planes_rows_ref(l, a, n_tok, y, r, r1, work);
}

/* One function per plane count (n constant: every shift an immediate),
   each its own wasm function: engines compile hot functions in a second,
   optimizing tier, and one function holding all eleven would take that
   tier seconds to reach. */
#define BS_Q8_ROWS(n)                                                                                       \
    static __attribute__((noinline)) void q8_rows_##n(const bs_linear *l, const bs_q8_act *a, int n_tok,    \
                                                      float *y, int r0, int r1, uint8_t *work) {            \
        q8_rows_n(l, a, n_tok, y, r0, r1, work, n);                                                         \
    }
BS_Q8_ROWS(1)
BS_Q8_ROWS(2)
BS_Q8_ROWS(3)
BS_Q8_ROWS(4)
BS_Q8_ROWS(5)
BS_Q8_ROWS(6)
BS_Q8_ROWS(7)
BS_Q8_ROWS(8)
BS_Q8_ROWS(9)
BS_Q8_ROWS(10)
BS_Q8_ROWS(11)
#undef BS_Q8_ROWS

static void q8_rows(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0, int r1, uint8_t *work) {
    static const bs_q8_rows_fn by_n[BS_Q8_MAX_PLANES + 1] = {
        NULL, q8_rows_1, q8_rows_2, q8_rows_3, q8_rows_4, q8_rows_5, q8_rows_6, q8_rows_7, q8_rows_8, q8_rows_9,
        q8_rows_10, q8_rows_11};
    by_n[l->n_blocks](l, a, n_tok, y, r0, r1, work); /* bs_q8_planes_ok: 1 <= n <= BS_Q8_MAX_PLANES */
}

/* fast mode's quantizer (kernels_q8.h), four columns per vector: every
   step is the reference's IEEE operation (pmax / pmin are its
   comparisons, NaN ignored by the max as there), so X, d and o * sum(X)
   are the same. */
static void q8_token(const float *x, int nb, uint32_t o, int16_t *xq, float *d, int32_t *osx) {
    const v128_t magic = wasm_f32x4_splat(12582912.0f), hi = wasm_f32x4_splat(127.0f);
    const v128_t lo = wasm_f32x4_splat(-127.0f), k256 = wasm_f32x4_splat(256.0f);
    for (int b = 0; b < nb; b++) {
        const float *xb = x + b * BS_Q8_BLOCK;
        v128_t v[8], m = wasm_f32x4_splat(0.0f);
        for (int i = 0; i < 8; i++) {
            v[i] = wasm_v128_load(xb + 4 * i);
            m = wasm_f32x4_pmax(m, wasm_f32x4_abs(v[i])); /* m < a ? a : m */
        }
        float m0 = wasm_f32x4_extract_lane(m, 0), m1 = wasm_f32x4_extract_lane(m, 1);
        float m2 = wasm_f32x4_extract_lane(m, 2), m3 = wasm_f32x4_extract_lane(m, 3);
        float m01 = m1 > m0 ? m1 : m0, m23 = m3 > m2 ? m3 : m2, amax = m23 > m01 ? m23 : m01;
        int16_t *xt = xq + b * BS_Q8_BLOCK;
        if (amax < 0x1p-100f) {
            memset(xt, 0, BS_Q8_BLOCK * sizeof *xt);
            d[b] = 0.0f, osx[b] = 0;
            continue;
        }
        v128_t id = wasm_f32x4_splat(127.0f / amax), sum = wasm_i32x4_splat(0);
        int32_t X[BS_Q8_BLOCK];
        for (int i = 0; i < 8; i++) {
            v128_t t = wasm_f32x4_mul(v[i], id);
            t = wasm_v128_and(t, wasm_f32x4_eq(t, t)); /* NaN -> +0 */
            t = wasm_f32x4_pmax(lo, wasm_f32x4_pmin(hi, t));
            v128_t h = wasm_f32x4_sub(wasm_f32x4_add(t, magic), magic);
            v128_t l = wasm_f32x4_mul(wasm_f32x4_sub(t, h), k256);
            l = wasm_f32x4_pmax(lo, wasm_f32x4_pmin(hi, wasm_f32x4_sub(wasm_f32x4_add(l, magic), magic)));
            v128_t xi = wasm_i32x4_add(wasm_i32x4_shl(wasm_i32x4_trunc_sat_f32x4(h), 8), wasm_i32x4_trunc_sat_f32x4(l));
            sum = wasm_i32x4_add(sum, xi);
            wasm_v128_store(X + 4 * i, xi);
        }
        for (int j = 0; j < BS_Q8_BLOCK; j++) xt[bs_q8_xpos(j)] = (int16_t)X[j];
        uint32_t total = (uint32_t)wasm_i32x4_extract_lane(sum, 0) + (uint32_t)wasm_i32x4_extract_lane(sum, 1) +
                         (uint32_t)wasm_i32x4_extract_lane(sum, 2) + (uint32_t)wasm_i32x4_extract_lane(sum, 3);
        d[b] = amax / 127.0f;
        osx[b] = (int32_t)(o * total);
    }
}

static void matmul_planes_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                               float *scratch) {
    if (bs_q8_planes_ok(l, n_tok)) bs_q8_planes_matmul(l, x, y, n_tok, r0, r1, scratch, q8_rows, q8_token);
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

/* ---- bench baselines: Q8_0 / Q4_0-like matvec (baseline.h) ------------- */

/* One block of 32 int8 x widened to i16, in four vectors of 8. */
BS_INLINE void qmat_widen_x(const int8_t *x, v128_t xw[4]) {
    v128_t x0 = wasm_v128_load(x), x1 = wasm_v128_load(x + 16);
    xw[0] = wasm_i16x8_extend_low_i8x16(x0);
    xw[1] = wasm_i16x8_extend_high_i8x16(x0);
    xw[2] = wasm_i16x8_extend_low_i8x16(x1);
    xw[3] = wasm_i16x8_extend_high_i8x16(x1);
}

/* Four i32 lanes that sum to isum_b of one block, before the 4-bit offset:
   codes widened to i16 against x (xw), i32x4.dot_i16x8_s. 8-bit codes are
   signed; 4-bit ones are nibbles 0..15 (the low nibbles face x[0..15], the
   high ones x[16..31]), whose -8 offset the caller takes out with the
   block's sum of x. lo4: the 0x0f byte mask, held in a register. */
BS_INLINE v128_t qmat_block(const uint8_t *qb, const v128_t xw[4], int bits, v128_t lo4) {
    v128_t w0, w1;
    if (bits == 8) {
        w0 = wasm_v128_load(qb);
        w1 = wasm_v128_load(qb + 16);
    } else {
        v128_t b = wasm_v128_load(qb);
        w0 = wasm_v128_and(b, lo4);
        w1 = wasm_u8x16_shr(b, 4);
    }
    v128_t s0 = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w0), xw[0]);
    v128_t s1 = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w0), xw[1]);
    v128_t s2 = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w1), xw[2]);
    v128_t s3 = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w1), xw[3]);
    return wasm_i32x4_add(wasm_i32x4_add(s0, s1), wasm_i32x4_add(s2, s3));
}

/* Lane k = the sum of the four lanes of v[k] (integers: exact). */
BS_INLINE v128_t qmat_hsum4(const v128_t v[4]) {
    v128_t a = wasm_i32x4_add(wasm_i32x4_shuffle(v[0], v[1], 0, 1, 4, 5), wasm_i32x4_shuffle(v[0], v[1], 2, 3, 6, 7));
    v128_t b = wasm_i32x4_add(wasm_i32x4_shuffle(v[2], v[3], 0, 1, 4, 5), wasm_i32x4_shuffle(v[2], v[3], 2, 3, 6, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 2, 4, 6), wasm_i32x4_shuffle(a, b, 1, 3, 5, 7));
}

/* Rows r .. r+R-1 (R = 1 or 2: two rows share each widened block of x),
   in the reference's order (baseline.h): per row, lanes 0..3 and 4..7 of
   the canonical dot of e and f in lo and hi, the contract's reduction,
   then the tail blocks in order. */
BS_INLINE void qmat_rows_r(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                           int r, int bits, int R) {
    int nb = bs_qmat_blocks(m), bb = bits == 8 ? 32 : 16;
    const v128_t lo4 = pk_k()[0];
    const uint8_t *q[2];
    const uint16_t *d[2];
    v128_t lo[2], hi[2], xw[4], v[2][4];
    for (int i = 0; i < R; i++) {
        q[i] = m->q + (int64_t)(r + i) * nb * bb;
        d[i] = m->d + (int64_t)(r + i) * nb;
        lo[i] = hi[i] = wasm_f32x4_splat(0.0f);
    }
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        v128_t e[2][2];
        for (int h = 0; h < 2; h++) { /* blocks b + 4h .. b + 4h + 3 */
            int b4 = b + 4 * h;
            for (int k = 0; k < 4; k++) {
                qmat_widen_x(xq + (b4 + k) * 32, xw);
                for (int i = 0; i < R; i++) v[i][k] = qmat_block(q[i] + (b4 + k) * bb, xw, bits, lo4);
            }
            v128_t off = bits == 8 ? wasm_i32x4_splat(0) : wasm_i32x4_shl(wasm_v128_load(xs + b4), 3);
            for (int i = 0; i < R; i++) e[i][h] = wasm_i32x4_sub(qmat_hsum4(v[i]), off);
        }
        v128_t xd0 = wasm_v128_load(xd + b), xd1 = wasm_v128_load(xd + b + 4);
        for (int i = 0; i < R; i++) {
            v128_t f0 = wasm_f32x4_mul(f16x4_to_f32(d[i] + b), xd0), f1 = wasm_f32x4_mul(f16x4_to_f32(d[i] + b + 4), xd1);
            lo[i] = wasm_f32x4_add(lo[i], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(e[i][0]), f0));
            hi[i] = wasm_f32x4_add(hi[i], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(e[i][1]), f1));
        }
    }
    for (int i = 0; i < R; i++) {
        float sum = reduce8(lo[i], hi[i]);
        for (int t = b; t < nb; t++) {
            qmat_widen_x(xq + t * 32, xw);
            v128_t s = qmat_block(q[i] + t * bb, xw, bits, lo4);
            int32_t isum = wasm_i32x4_extract_lane(s, 0) + wasm_i32x4_extract_lane(s, 1) +
                           wasm_i32x4_extract_lane(s, 2) + wasm_i32x4_extract_lane(s, 3);
            if (bits == 4) isum -= 8 * xs[t];
            sum += (float)isum * (bs_f16_to_f32(d[i][t]) * xd[t]);
        }
        y[r + i] = sum;
    }
}

BS_INLINE void qmat_rows(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                         int r0, int r1, int bits) {
    int r = r0;
    for (; r + 2 <= r1; r += 2) qmat_rows_r(m, xq, xd, xs, y, r, bits, 2);
    if (r < r1) qmat_rows_r(m, xq, xd, xs, y, r, bits, 1);
}

void bs_qmat_matvec_simd128(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                            int r0, int r1) {
    if (m->bits == 8) qmat_rows(m, xq, xd, xs, y, r0, r1, 8);
    else qmat_rows(m, xq, xd, xs, y, r0, r1, 4);
}

static const bs_kernels simd128_kernels = {
    "simd128", dot_f32, {matmul_f32, matmul_by_rows, matmul_avd, matmul_by_rows},
    {matmul_f32, matmul_by_rows, matmul_avd_fast, matmul_planes_fast}, q8_rows, q8_token, bs_qmat_matvec_simd128};

const bs_kernels *bs_kernels_simd128(void) { return &simd128_kernels; }

#else
typedef int bs_kernels_simd128_not_built; /* ISO C wants one declaration */
#endif
