/* kernels_avx2.c - x86 AVX2 + F16C variants of the kernels.
 *
 * Compiled with -mavx2 -mf16c (this file only, x86 targets only) and chosen
 * at run time by bs_kernels_best() when the CPU has both extensions.
 *
 * Bit-identical to kernels_ref.c: one __m256 accumulator holds the eight
 * canonical lane sums of one (row, token) pair, lane j taking elements
 * i = j mod 8 in order; products are rounded before they are added (no
 * FMA: the WebAssembly build has none); the lanes are reduced by the tree
 * of kernels.h and the tail is added in order. Register blocking only
 * interleaves independent pairs: it never changes any pair's order.
 */
#include "kernels.h"
#include "kernels_lut.h"
#include "kernels_q8.h"
#include "baseline.h"

#include "half.h"
#include "linear.h"

#include <immintrin.h>
#include <string.h>
#include <time.h>

/* The blocks below are written with constant R and T and must be inlined
   into their callers so that acc[][] lives in registers. */
#define BS_INLINE static inline __attribute__((always_inline))

/* Canonical reduction: ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). */
BS_INLINE float hsum_canon(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)); /* a_k + a_k+4 */
    __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));                                  /* s0+s2, s1+s3 */
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

static float dot_f32(const float *a, const float *b, int n) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8)
        acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    float s = hsum_canon(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ---- dense blocks: R weight rows x T tokens --------------------------- */

/* Eight weights starting at element j of a row: f32, or binary16 widened
   by F16C (exact, subnormals included, like bs_f16_to_f32). */
BS_INLINE __m256 load_w(const void *row, int f16, int j) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + j)));
    return _mm256_loadu_ps((const float *)row + j);
}

BS_INLINE float scalar_w(const void *row, int f16, int j) {
    return f16 ? bs_f16_to_f32(((const uint16_t *)row)[j]) : ((const float *)row)[j];
}

/* y[t * ldy + r] = dot(W row r, x row t) for r < R, t < T.
   w: R rows of cols weights, ldw elements apart; x: T rows, ldx floats
   apart. Each loaded weight vector serves T tokens, each x vector R rows;
   R * T independent add chains hide the add latency. */
BS_INLINE void block(const void *w, int f16, int64_t ldw, const float *x, int64_t ldx, float *y,
                     int64_t ldy, int cols, int R, int T) {
    const void *wr[8];
    for (int r = 0; r < R; r++)
        wr[r] = f16 ? (const void *)((const uint16_t *)w + r * ldw) : (const void *)((const float *)w + r * ldw);
    __m256 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        __m256 wv[8];
        for (int r = 0; r < R; r++) wv[r] = load_w(wr[r], f16, j);
        for (int t = 0; t < T; t++) {
            __m256 xv = _mm256_loadu_ps(x + t * ldx + j);
            for (int r = 0; r < R; r++) acc[r][t] = _mm256_add_ps(acc[r][t], _mm256_mul_ps(wv[r], xv));
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = hsum_canon(acc[r][t]);
            for (int i = j; i < cols; i++) s += scalar_w(wr[r], f16, i) * x[t * ldx + i];
            y[t * ldy + r] = s;
        }
}

/* Tile shapes: decode (1 token) streams 8 rows at once (8 add chains,
   one x load per 8 weight vectors); prefill uses 4 rows x 3 tokens
   (12 accumulators + 4 weight vectors = the 16 ymm registers; on SmolLM2
   shapes it beat 3 x 4, 4 x 2, 6 x 2 and 2 x 6). */
enum { DEC_R = 8, PRE_R = 4, PRE_T = 3 };
_Static_assert(PRE_R <= BS_KERNEL_SCRATCH_ROWS, "matmul_planes rebuilds PRE_R rows in scratch");

/* All tokens against R rows starting at w: the token loop of a row block. */
BS_INLINE void rows_all_tokens(const void *w, int f16, int64_t ldw, const float *x, float *y,
                               int n_tok, int rows, int cols, int R) {
    int t = 0;
    for (; t + PRE_T <= n_tok; t += PRE_T)
        block(w, f16, ldw, x + (int64_t)t * cols, cols, y + (int64_t)t * rows, rows, cols, R, PRE_T);
    for (; t < n_tok; t++)
        block(w, f16, ldw, x + (int64_t)t * cols, cols, y + (int64_t)t * rows, rows, cols, R, 1);
}

/* Dense f32 / f16 matmul over rows [r0, r1): weight rows outermost so each
   row block is read from memory once per call and reused for all tokens
   from L1. w: (rows, cols) in its element type. */
BS_INLINE void dense(const void *w, int f16, const float *x, float *y, int n_tok, int rows, int cols,
                     int r0, int r1) {
    size_t esz = f16 ? sizeof(uint16_t) : sizeof(float);
    const char *wb = (const char *)w;
    int r = r0;
    if (n_tok == 1) {
        for (; r + DEC_R <= r1; r += DEC_R)
            block(wb + (size_t)r * cols * esz, f16, cols, x, cols, y + r, rows, cols, DEC_R, 1);
    } else {
        for (; r + PRE_R <= r1; r += PRE_R)
            rows_all_tokens(wb + (size_t)r * cols * esz, f16, cols, x, y + r, n_tok, rows, cols, PRE_R);
    }
    for (; r < r1; r++) rows_all_tokens(wb + (size_t)r * cols * esz, f16, cols, x, y + r, n_tok, rows, cols, 1);
}

static void matmul_f32(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    (void)scratch;
    dense(l->w, 0, x, y, n_tok, l->rows, l->cols, r0, r1);
}

static void matmul_f16(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    (void)scratch;
    dense(l->w16, 1, x, y, n_tok, l->rows, l->cols, r0, r1);
}

/* ---- bit planes -------------------------------------------------------- */

/* SPREAD[b]: byte k (k = 0 the lowest) = bit 7 - k of b, i.e. the sign
   bits of columns 8m .. 8m + 7 (MSB first in the packed byte) as one byte
   each. Planes are then combined with shifts on 64-bit words. */
#define SP(b)                                                                                       \
    ((uint64_t)(((b) >> 7) & 1) | (uint64_t)(((b) >> 6) & 1) << 8 | (uint64_t)(((b) >> 5) & 1) << 16 | \
     (uint64_t)(((b) >> 4) & 1) << 24 | (uint64_t)(((b) >> 3) & 1) << 32 |                             \
     (uint64_t)(((b) >> 2) & 1) << 40 | (uint64_t)(((b) >> 1) & 1) << 48 | (uint64_t)((b) & 1) << 56)
#define SP4(b) SP(b), SP(b + 1), SP(b + 2), SP(b + 3)
#define SP16(b) SP4(b), SP4(b + 4), SP4(b + 8), SP4(b + 12)
#define SP64(b) SP16(b), SP16(b + 16), SP16(b + 32), SP16(b + 48)
static const uint64_t SPREAD[256] = {SP64(0), SP64(64), SP64(128), SP64(192)};
#undef SP64
#undef SP16
#undef SP4
#undef SP

/* The most planes a PLANES matrix may have here (the format allows 12);
   q then fits two bytes per column. */
enum { MAX_PLANES = 16 };

/* q of columns 8m .. 8m + 31 as 32 bytes (n <= 8 planes): each plane's
   4 bytes broadcast, byte k of the vector picking source byte k / 8 and
   testing bit 7 - k % 8; q = 2q + bit per plane. */
BS_INLINE __m256i planes_q32(const uint8_t *const *p, int n, int m) {
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /* vpshufb */
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3); /* per lane */
    const __m256i bit = _mm256_set1_epi64x((long long)0x0102040810204080ull); /* 0x80 first */
    __m256i q = _mm256_setzero_si256();
    for (int i = 0; i < n; i++) {
        int32_t w;
        memcpy(&w, p[i] + m, 4);
        __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(w), pick);
        __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit); /* 0xff: bit is 1 */
        q = _mm256_sub_epi8(_mm256_add_epi8(q, q), set);
    }
    return q;
}

/* The binary16 scale of each of 8 columns, walking the row's groups in
   order: g is the group of the next column, g_end the column it ends at. */
typedef struct scale_walk {
    const uint16_t *sc;
    int group, g, g_end, whole; /* whole: group % 8 == 0 */
    __m256 c;                   /* whole: the current group's scale */
} scale_walk;

BS_INLINE __m256 scale8(scale_walk *s, int j) {
    if (s->whole) { /* 8 columns never straddle two groups */
        if (j == s->g_end) s->g++, s->g_end += s->group, s->c = _mm256_set1_ps(bs_f16_to_f32(s->sc[s->g]));
        return s->c;
    }
    float cs[8];
    for (int k = 0; k < 8; k++) {
        if (j + k == s->g_end) s->g++, s->g_end += s->group;
        cs[k] = bs_f16_to_f32(s->sc[s->g]);
    }
    return _mm256_loadu_ps(cs);
}

/* (c * (float)(2q + 1 - 2^n)) * 2^-(n-1) for 8 columns, q as int32. */
BS_INLINE void planes_store8(float *out, __m256i q, __m256 c, __m256i voff, __m256 vinv) {
    __m256 v = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_add_epi32(q, q), voff)); /* exact */
    _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_mul_ps(c, v), vinv));
}

/* Row r of a PLANES matrix into out (cols floats), exactly as row_planes
   in kernels_ref.c: w = (c * (float)(2q + 1 - 2^n)) * 2^-(n-1), q the
   n-bit integer the planes spell (plane 0 most significant), c the
   binary16 scale of the weight's group. Every product is exact, as the
   reference notes, and is computed in the reference's order anyway.
   32 columns per step with byte lanes when n <= 8; 8 per step otherwise
   and for the last whole bytes; the columns of a partial byte, scalar. */
static void planes_row(const bs_linear *l, int32_t r, float *out) {
    int n = l->n_blocks, cols = l->cols, group = l->group;
    if (n == 0 || n > MAX_PLANES) { /* W = 0, or beyond what this code packs */
        bs_linear_row(l, r, out);
        return;
    }
    int32_t rb = bs_row_bytes(cols), gpr = bs_groups_per_row(cols, group);
    const uint8_t *p[MAX_PLANES];
    for (int i = 0; i < n; i++) p[i] = l->planes[i] + (int64_t)r * rb;
    const uint16_t *sc = l->scales + (int64_t)r * gpr;
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    int32_t offset = 1 - (1 << n);
    const __m256i voff = _mm256_set1_epi32(offset);
    const __m256 vinv = _mm256_set1_ps(inv);
    scale_walk sw = {sc, group, 0, group, group % 8 == 0, _mm256_set1_ps(bs_f16_to_f32(sc[0]))};
    int full = cols & ~7, j = 0; /* full: columns in whole bytes */
    if (n <= 8)
        for (; j + 32 <= full; j += 32) {
            __m256i q = planes_q32(p, n, j >> 3);
            __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
            planes_store8(out + j, _mm256_cvtepu8_epi32(lo), scale8(&sw, j), voff, vinv);
            planes_store8(out + j + 8, _mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), scale8(&sw, j + 8), voff, vinv);
            planes_store8(out + j + 16, _mm256_cvtepu8_epi32(hi), scale8(&sw, j + 16), voff, vinv);
            planes_store8(out + j + 24, _mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), scale8(&sw, j + 24), voff, vinv);
        }
    int n_hi = n > 8 ? n - 8 : 0; /* planes of q's high byte */
    for (; j < full; j += 8) {
        int m = j >> 3;
        uint64_t lo = 0, hi = 0;
        for (int i = n_hi; i < n; i++) lo |= SPREAD[p[i][m]] << (n - 1 - i);
        for (int i = 0; i < n_hi; i++) hi |= SPREAD[p[i][m]] << (n_hi - 1 - i);
        __m256i q = _mm256_add_epi32(_mm256_cvtepu8_epi32(_mm_set_epi64x(0, (long long)lo)),
                                     _mm256_slli_epi32(_mm256_cvtepu8_epi32(_mm_set_epi64x(0, (long long)hi)), 8));
        planes_store8(out + j, q, scale8(&sw, j), voff, vinv);
    }
    for (; j < cols; j++) {
        int32_t q = 0;
        for (int i = 0; i < n; i++) q = (q << 1) | ((p[i][j >> 3] >> (7 - (j & 7))) & 1);
        out[j] = bs_f16_to_f32(sc[j / group]) * (float)(2 * q + offset) * inv;
    }
}

/* Rebuilds PRE_R rows at a time into scratch (PRE_R * cols floats, within
   BS_KERNEL_SCRATCH_ROWS) with row(), then the dense f32 blocks over every
   token: each row is rebuilt once per call, whatever n_tok. */
typedef void (*row_fn)(const bs_linear *l, int32_t r, float *out);

static void by_rows(const bs_linear *l, row_fn row, const float *x, float *y, int n_tok, int r0, int r1,
                    float *scratch) {
    int cols = l->cols, rows = l->rows, r = r0;
    for (; r + PRE_R <= r1; r += PRE_R) {
        for (int i = 0; i < PRE_R; i++) row(l, r + i, scratch + (size_t)i * cols);
        if (n_tok == 1)
            block(scratch, 0, cols, x, cols, y + r, rows, cols, PRE_R, 1);
        else
            rows_all_tokens(scratch, 0, cols, x, y + r, n_tok, rows, cols, PRE_R);
    }
    for (; r < r1; r++) {
        row(l, r, scratch);
        rows_all_tokens(scratch, 0, cols, x, y + r, n_tok, rows, cols, 1);
    }
}

static void matmul_planes(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                          float *scratch) {
    by_rows(l, planes_row, x, y, n_tok, r0, r1, scratch);
}

/* ---- bit planes, fast mode (int8 activations; kernels_q8.h) ------------- */

/* Eight int32 vectors to the vector of their eight lane sums (integers:
   any order gives the same sums). */
BS_INLINE __m256i hsum8x8(const __m256i v[8]) {
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* q of the 32 columns from column j of a row: its low 7 planes' bits and
   the high n_hi planes' (two), either built from the planes p (direct)
   or loaded from a row built earlier (qlo, qhi). */
typedef struct q8_src {
    const uint8_t *const *p;
    int n, n_hi, direct;
    const uint8_t *qlo, *qhi;
} q8_src;

/* sum q_j x_j of one block of 32 for both digits of x (xh, xl), as 8
   int32 lanes each: u8 x s8 pairs in int16 (q's parts < 128, |x| <= 127:
   no saturation), then pairs of those in int32; q's high part (two) is
   worth 128. */
BS_INLINE void block_dot(const q8_src *q, int j, const int8_t *xh, const int8_t *xl, int two, __m256i *vh,
                         __m256i *vl) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i h = _mm256_loadu_si256((const __m256i *)(xh + j)), l = _mm256_loadu_si256((const __m256i *)(xl + j));
    __m256i lo = q->direct ? planes_q32(q->p + q->n_hi, q->n - q->n_hi, j >> 3)
                           : _mm256_loadu_si256((const __m256i *)(q->qlo + j));
    *vh = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, h), ones);
    *vl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, l), ones);
    if (two) {
        __m256i hi = q->direct ? planes_q32(q->p, q->n_hi, j >> 3) : _mm256_loadu_si256((const __m256i *)(q->qhi + j));
        *vh = _mm256_add_epi32(*vh, _mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(hi, h), ones), 7));
        *vl = _mm256_add_epi32(*vl, _mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(hi, l), ones), 7));
    }
}

BS_INLINE int32_t hsum8(__m256i v) {
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* One token against one row's q: the blocks' integer sums eight at a
   time, e and f as vectors, their canonical dot in one accumulator (lane
   k takes blocks b = k mod 8, as dot_f32), the remaining blocks in order. */
BS_INLINE float q8_row_dot(const q8_src *q, const float *cb, const bs_q8_act *a, int t, int32_t offset, int two) {
    const __m256i voff = _mm256_set1_epi32(offset);
    const __m256 low = _mm256_set1_ps(0x1p-8f);
    int nb = a->nb;
    const int8_t *xh = a->q + t * a->stride, *xl = a->ql + t * a->stride;
    const float *d = a->d + t * nb;
    const int32_t *sh = a->s + t * nb, *sl = a->sl + t * nb;
    __m256 acc = _mm256_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        __m256i vh[8], vl[8];
        for (int k = 0; k < 8; k++) block_dot(q, (b + k) * BS_Q8_BLOCK, xh, xl, two, &vh[k], &vl[k]);
        __m256i ih = hsum8x8(vh), il = hsum8x8(vl);
        __m256i eh = _mm256_add_epi32(_mm256_add_epi32(ih, ih), _mm256_mullo_epi32(voff, _mm256_loadu_si256((const __m256i *)(sh + b))));
        __m256i el = _mm256_add_epi32(_mm256_add_epi32(il, il), _mm256_mullo_epi32(voff, _mm256_loadu_si256((const __m256i *)(sl + b))));
        __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(eh), _mm256_mul_ps(_mm256_cvtepi32_ps(el), low));
        __m256 f = _mm256_mul_ps(_mm256_loadu_ps(cb + b), _mm256_loadu_ps(d + b));
        acc = _mm256_add_ps(acc, _mm256_mul_ps(e, f));
    }
    float sum = hsum_canon(acc);
    for (; b < nb; b++) {
        __m256i vh, vl;
        block_dot(q, b * BS_Q8_BLOCK, xh, xl, two, &vh, &vl);
        float e = (float)(2 * hsum8(vh) + offset * sh[b]) + (float)(2 * hsum8(vl) + offset * sl[b]) * 0x1p-8f;
        sum += e * (cb[b] * d[b]);
    }
    return sum;
}

/* bs_q8_block_scales with F16C: the row's binary16 scales 8 at a time,
   each repeated for the group's blocks (exact conversions: same floats). */
static void q8_block_scales(const bs_linear *l, int32_t r, float *cb) {
    int nb = l->cols / BS_Q8_BLOCK, per = l->group / BS_Q8_BLOCK, gpr = bs_groups_per_row(l->cols, l->group);
    const uint16_t *sc = l->scales + (int64_t)r * gpr;
    int ng = (nb + per - 1) / per; /* groups holding whole blocks */
    for (int g0 = 0; g0 < ng; g0 += 8) {
        __m128i h;
        if (g0 + 8 <= gpr) {
            h = _mm_loadu_si128((const __m128i *)(sc + g0));
        } else { /* never read past the row's scales */
            uint16_t t[8] = {0};
            for (int k = 0; g0 + k < ng; k++) t[k] = sc[g0 + k];
            h = _mm_loadu_si128((const __m128i *)t);
        }
        float c[8];
        _mm256_storeu_ps(c, _mm256_cvtph_ps(h));
        if (per == 2 && g0 + 8 <= ng && 2 * g0 + 16 <= nb) { /* the common group of 64 */
            __m256 lo = _mm256_loadu_ps(c);
            _mm256_storeu_ps(cb + 2 * g0, _mm256_permutevar8x32_ps(lo, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)));
            _mm256_storeu_ps(cb + 2 * g0 + 8, _mm256_permutevar8x32_ps(lo, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)));
            continue;
        }
        for (int k = 0; k < 8 && g0 + k < ng; k++)
            for (int b = (g0 + k) * per; b < BS_MIN(nb, (g0 + k + 1) * per); b++) cb[b] = c[k];
    }
}

/* kernels_q8.h's rows function. One token (decode): q is built in
   registers block by block and used at once. Several: q of every whole
   block into qrow first (32 columns a step, planes combined in byte
   lanes), then every token against it from L1. */
static void q8_rows(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0, int r1,
                    uint8_t *qrow) {
    int n = l->n_blocks, rb = bs_row_bytes(l->cols), stride = a->stride;
    int n_hi = n > 7 ? n - 7 : 0, two = n_hi > 0;
    int32_t offset = 1 - (1 << n);
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    uint8_t *qlo = qrow, *qhi = qrow + stride;
    float *cb = (float *)(qrow + 2 * stride);
    int tail = l->cols % BS_Q8_BLOCK != 0;
    for (int r = r0; r < r1; r++) {
        const uint8_t *p[MAX_PLANES];
        for (int i = 0; i < n; i++) p[i] = l->planes[i] + (int64_t)r * rb;
        q8_block_scales(l, r, cb);
        q8_src direct = {p, n, n_hi, 1, NULL, NULL}, stored = {p, n, n_hi, 0, qlo, qhi};
        if (n_tok == 1) {
            float acc = two ? q8_row_dot(&direct, cb, a, 0, offset, 1) : q8_row_dot(&direct, cb, a, 0, offset, 0);
            y[r] = tail ? bs_q8_planes_tail(l, r, a->x, acc * inv) : acc * inv;
            continue;
        }
        for (int j = 0; j < stride; j += BS_Q8_BLOCK) {
            _mm256_storeu_si256((__m256i *)(qlo + j), planes_q32(p + n_hi, n - n_hi, j >> 3));
            if (two) _mm256_storeu_si256((__m256i *)(qhi + j), planes_q32(p, n_hi, j >> 3));
        }
        for (int t = 0; t < n_tok; t++) {
            float acc = two ? q8_row_dot(&stored, cb, a, t, offset, 1) : q8_row_dot(&stored, cb, a, t, offset, 0);
            float yt = acc * inv;
            y[(int64_t)t * l->rows + r] = tail ? bs_q8_planes_tail(l, r, a->x + (int64_t)t * a->cols, yt) : yt;
        }
    }
}

static void matmul_planes_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                               float *scratch) {
    if (bs_q8_planes_ok(l, n_tok)) bs_q8_planes_matmul(l, x, y, n_tok, r0, r1, scratch, q8_rows);
    else matmul_planes(l, x, y, n_tok, r0, r1, scratch);
}

/* ---- bench baselines: Q8_0 / Q4_0-like matvec (baseline.h) ------------- */

/* sum w_j x_j of one block as 8 int32 lanes: 8-bit weights as
   |w| (u8) times x with w's sign; 4-bit as nibbles 0..15 (u8) times x, the
   -8 offset taken out with the block's sum of x by the caller. */
BS_INLINE __m256i qmat_block(const uint8_t *qb, const int8_t *x, int bits) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i xv = _mm256_loadu_si256((const __m256i *)x), p;
    if (bits == 8) {
        __m256i w = _mm256_loadu_si256((const __m256i *)qb);
        p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(xv, w));
    } else {
        __m128i b = _mm_loadu_si128((const __m128i *)qb);
        __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(15));
        p = _mm256_maddubs_epi16(u, xv);
    }
    return _mm256_madd_epi16(p, ones);
}

BS_INLINE void qmat_rows(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                         int r0, int r1, int bits) {
    int nb = bs_qmat_blocks(m), bb = bits == 8 ? 32 : 16;
    const __m256i eight = _mm256_set1_epi32(bits == 8 ? 0 : 8);
    for (int r = r0; r < r1; r++) {
        const uint8_t *q = m->q + (int64_t)r * nb * bb;
        const uint16_t *d = m->d + (int64_t)r * nb;
        __m256 acc = _mm256_setzero_ps();
        int b = 0;
        for (; b + 8 <= nb; b += 8) {
            __m256i v[8];
            for (int k = 0; k < 8; k++) v[k] = qmat_block(q + (b + k) * bb, xq + (b + k) * 32, bits);
            __m256i isum = _mm256_sub_epi32(hsum8x8(v), _mm256_mullo_epi32(eight, _mm256_loadu_si256((const __m256i *)(xs + b))));
            __m256 f = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d + b))), _mm256_loadu_ps(xd + b));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), f));
        }
        float sum = hsum_canon(acc);
        for (; b < nb; b++) {
            int32_t isum = hsum8(qmat_block(q + b * bb, xq + b * 32, bits)) - (bits == 8 ? 0 : 8 * xs[b]);
            sum += (float)isum * (bs_f16_to_f32(d[b]) * xd[b]);
        }
        y[r] = sum;
    }
}

void bs_qmat_matvec_avx2(const bs_qmat *m, const int8_t *xq, const float *xd, const int32_t *xs, float *y,
                         int r0, int r1) {
    if (m->bits == 8) qmat_rows(m, xq, xd, xs, y, r0, r1, 8);
    else qmat_rows(m, xq, xd, xs, y, r0, r1, 4);
}

/* vpmaddubsw + vpaddw pairs, 8 per step into 4 accumulators (written in
   asm: compilers fold a loop of identical intrinsics), best of 5 timings
   of 2^20 steps. */
double bs_int8_peak_gmacs_avx2(void) {
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, t0, t1, t2, t3;
    __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(5);
    double best = 0.0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec ts0, ts1;
        clock_gettime(CLOCK_MONOTONIC, &ts0);
        for (int i = 0; i < (1 << 20); i++)
            __asm__ volatile("vpmaddubsw %[b], %[a], %[t0]\n\tvpmaddubsw %[b], %[a], %[t1]\n\t"
                             "vpmaddubsw %[b], %[a], %[t2]\n\tvpmaddubsw %[b], %[a], %[t3]\n\t"
                             "vpaddw %[t0], %[c0], %[c0]\n\tvpaddw %[t1], %[c1], %[c1]\n\t"
                             "vpaddw %[t2], %[c2], %[c2]\n\tvpaddw %[t3], %[c3], %[c3]\n\t"
                             "vpmaddubsw %[b], %[a], %[t0]\n\tvpmaddubsw %[b], %[a], %[t1]\n\t"
                             "vpmaddubsw %[b], %[a], %[t2]\n\tvpmaddubsw %[b], %[a], %[t3]\n\t"
                             "vpaddw %[t0], %[c0], %[c0]\n\tvpaddw %[t1], %[c1], %[c1]\n\t"
                             "vpaddw %[t2], %[c2], %[c2]\n\tvpaddw %[t3], %[c3], %[c3]"
                             : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [t0] "=&x"(t0),
                               [t1] "=&x"(t1), [t2] "=&x"(t2), [t3] "=&x"(t3)
                             : [a] "x"(a), [b] "x"(b));
        clock_gettime(CLOCK_MONOTONIC, &ts1);
        double dt = (double)(ts1.tv_sec - ts0.tv_sec) + 1e-9 * (double)(ts1.tv_nsec - ts0.tv_nsec);
        double gmacs = 8.0 * 32.0 * (1 << 20) / dt * 1e-9;
        if (gmacs > best) best = gmacs;
    }
    volatile int sink = _mm256_extract_epi16(_mm256_add_epi16(_mm256_add_epi16(c0, c1), _mm256_add_epi16(c2, c3)), 0);
    (void)sink;
    return best;
}

/* ---- AVD (sign x low rank) --------------------------------------------- */

/* One packed sign row to +-1.0f (bit 1 = +1, MSB first), 8 columns a step. */
static void expand_signs(const uint8_t *bits, int cols, float *out) {
    const __m256i bit = _mm256_setr_epi32(0x80, 0x40, 0x20, 0x10, 8, 4, 2, 1);
    const __m256 plus = _mm256_set1_ps(1.0f), minus = _mm256_set1_ps(-1.0f);
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        __m256i b = _mm256_and_si256(_mm256_set1_epi32(bits[j >> 3]), bit);
        __m256 set = _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, bit));
        _mm256_storeu_ps(out + j, _mm256_blendv_ps(minus, plus, set));
    }
    for (; j < cols; j++) out[j] = (bits[j >> 3] >> (7 - (j & 7))) & 1 ? 1.0f : -1.0f;
}

/* z[t] = canonical dot(sg, u_t) for n (<= 8) consecutive u_t rows of
   cols floats: the dense block with the u rows as "weights" and the sign
   row as the one "token", so each sign vector serves n add chains. */
static void sign_dots(const float *u, const float *sg, int cols, int n, float *z) {
    switch (n) {
    case 8: block(u, 0, cols, sg, cols, z, 1, cols, 8, 1); break;
    case 7: block(u, 0, cols, sg, cols, z, 1, cols, 7, 1); break;
    case 6: block(u, 0, cols, sg, cols, z, 1, cols, 6, 1); break;
    case 5: block(u, 0, cols, sg, cols, z, 1, cols, 5, 1); break;
    case 4: block(u, 0, cols, sg, cols, z, 1, cols, 4, 1); break;
    case 3: block(u, 0, cols, sg, cols, z, 1, cols, 3, 1); break;
    case 2: block(u, 0, cols, sg, cols, z, 1, cols, 2, 1); break;
    default: block(u, 0, cols, sg, cols, z, 1, cols, 1, 1); break;
    }
}

/* m = sum over t < k, in t order, of a_t * b[t][j .. j + 8 * NB), for NB
   blocks of 8 columns (NB independent add chains). */
BS_INLINE void avd_sums(const uint16_t *a, const uint16_t *b, int64_t ldb, int k, int j, __m256 *m,
                        int NB) {
    for (int q = 0; q < NB; q++) m[q] = _mm256_setzero_ps();
    for (int t = 0; t < k; t++) {
        __m256 at = _mm256_set1_ps(bs_f16_to_f32(a[t]));
        for (int q = 0; q < NB; q++)
            m[q] = _mm256_add_ps(m[q], _mm256_mul_ps(at, load_w(b + t * ldb, 1, j + 8 * q)));
    }
}

/* out[j .. j + 8) += (sign bit ? m : -m), the bits of byte `bits`. */
BS_INLINE void add_signed(float *out, __m256 m, uint8_t bits) {
    const __m256i bit = _mm256_setr_epi32(0x80, 0x40, 0x20, 0x10, 8, 4, 2, 1);
    __m256i clear = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits), bit), _mm256_setzero_si256());
    __m256 flip = _mm256_and_ps(_mm256_castsi256_ps(clear), _mm256_set1_ps(-0.0f)); /* -m: flip the sign */
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), _mm256_xor_ps(m, flip)));
}

/* Row r of an AVD matrix into out, as row_avd in kernels_ref.c: per block,
   m_j = sum over t of A[r][t] * B[t][j] (t in order), out_j += +-m_j. */
static void avd_row(const bs_linear *l, int32_t r, float *out) {
    int32_t k = l->rank, cols = l->cols, rb = bs_row_bytes(cols);
    memset(out, 0, (size_t)cols * sizeof(float));
    for (int i = 0; i < l->n_blocks; i++) {
        const bs_avd_block *b = &l->avd[i];
        const uint16_t *a = b->a + (int64_t)r * k;
        const uint8_t *sg = b->signs + (int64_t)r * rb;
        int j = 0;
        __m256 m[4];
        for (; j + 32 <= cols; j += 32) {
            avd_sums(a, b->b, cols, k, j, m, 4);
            for (int q = 0; q < 4; q++) add_signed(out + j + 8 * q, m[q], sg[(j >> 3) + q]);
        }
        for (; j + 8 <= cols; j += 8) {
            avd_sums(a, b->b, cols, k, j, m, 1);
            add_signed(out + j, m[0], sg[j >> 3]);
        }
        for (; j < cols; j++) {
            float s = 0.0f;
            for (int t = 0; t < k; t++) s += bs_f16_to_f32(a[t]) * bs_f16_to_f32(b->b[(int64_t)t * cols + j]);
            out[j] += (sg[j >> 3] >> (7 - (j & 7))) & 1 ? s : -s;
        }
    }
}

/* bs_matmul_avd_ref's loops and roundings, vectorised inside:
   y = sum_i sum_t A_i[:, t] * (S_i (B_i[t, :] * x)). u_t = B_i[t,:] * x
   elementwise (F16C widening, one rounding, as the reference), then per
   row the rank dots with the expanded sign row, 8 at a time, added to
   the row's sum in t order. scratch: rank * cols (u) + cols (signs). */
static void matmul_avd(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                       float *scratch) {
    int32_t k = l->rank, cols = l->cols, rb = bs_row_bytes(cols);
    if (n_tok >= BS_AVD_ROWS_MIN_TOK) { /* batches: rebuilt rows, as the reference */
        by_rows(l, avd_row, x, y, n_tok, r0, r1, scratch);
        return;
    }
    float *u = scratch, *sg = scratch + (size_t)k * cols;
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
                for (; j + 8 <= cols; j += 8)
                    _mm256_storeu_ps(ut + j, _mm256_mul_ps(load_w(bt, 1, j), _mm256_loadu_ps(xt + j)));
                for (; j < cols; j++) ut[j] = bs_f16_to_f32(bt[j]) * xt[j];
            }
            for (int r = r0; r < r1; r++) {
                expand_signs(b->signs + (int64_t)r * rb, cols, sg);
                float acc = yt[r], z[8];
                for (int t0 = 0; t0 < k; t0 += 8) {
                    int n = BS_MIN(8, k - t0);
                    sign_dots(u + (size_t)t0 * cols, sg, cols, n, z);
                    for (int t = 0; t < n; t++) acc += bs_f16_to_f32(b->a[(int64_t)r * k + t0 + t]) * z[t];
                }
                yt[r] = acc;
            }
        }
    }
}

/* ---- AVD, fast mode: sign tables (kernels_lut.h) ----------------------- */

/* u transposed (ut[j][t]) with F16C, 8 columns of one rank per step, and
   the 16-entry tables of every group of 4 columns, 8 ranks per vector,
   each lane the reference's operations (signs flipped by xor). */
static void lut_tables(const bs_linear *l, int block, const float *x, float *ut, float *tab) {
    int k = l->rank, kp = bs_lut_kp(k), cols = l->cols, ng = (cols + 3) / 4;
    const uint16_t *b = l->avd[block].b;
    memset(ut, 0, (size_t)4 * ng * kp * sizeof *ut);
    for (int t = 0; t < k; t++) {
        const uint16_t *bt = b + (int64_t)t * cols;
        int j = 0;
        for (; j + 8 <= cols; j += 8) {
            float v[8];
            _mm256_storeu_ps(v, _mm256_mul_ps(load_w(bt, 1, j), _mm256_loadu_ps(x + j)));
            for (int c = 0; c < 8; c++) ut[(size_t)(j + c) * kp + t] = v[c];
        }
        for (; j < cols; j++) ut[(size_t)j * kp + t] = bs_f16_to_f32(bt[j]) * x[j];
    }
    const __m256 neg = _mm256_set1_ps(-0.0f);
    for (int g = 0; g < ng; g++)
        for (int t = 0; t < kp; t += 8) {
            const float *u = ut + (size_t)4 * g * kp + t;
            __m256 u0 = _mm256_loadu_ps(u), u1 = _mm256_loadu_ps(u + kp), u2 = _mm256_loadu_ps(u + 2 * kp),
                   u3 = _mm256_loadu_ps(u + 3 * kp);
            __m256 m0 = _mm256_xor_ps(u0, neg), m1 = _mm256_xor_ps(u1, neg), m2 = _mm256_xor_ps(u2, neg),
                   m3 = _mm256_xor_ps(u3, neg);
            __m256 a[4] = {_mm256_add_ps(m0, m1), _mm256_add_ps(m0, u1), _mm256_add_ps(u0, m1), _mm256_add_ps(u0, u1)};
            __m256 c[4] = {_mm256_add_ps(m2, m3), _mm256_add_ps(m2, u3), _mm256_add_ps(u2, m3), _mm256_add_ps(u2, u3)};
            float *tg = tab + (size_t)g * 16 * kp + t;
            for (int n = 0; n < 16; n++) _mm256_storeu_ps(tg + (size_t)n * kp, _mm256_add_ps(a[n >> 2], c[n & 3]));
        }
}

/* The nibble of group g in a sign row (column 4g in its top bit). */
BS_INLINE int nibble(const uint8_t *sg, int g) { return g & 1 ? sg[g >> 1] & 15 : sg[g >> 1] >> 4; }

/* P_m over the groups for V vectors of ranks from t0: four partial sums
   (g mod 4) per vector, combined as the reference does, into z. */
BS_INLINE void lut_z(const float *tab, const uint8_t *sg, int ng, int kp, int t0, float *z, int V) {
    __m256 p[4][2];
    for (int m = 0; m < 4; m++)
        for (int v = 0; v < V; v++) p[m][v] = _mm256_setzero_ps();
    int g = 0;
    for (; g + 4 <= ng; g += 4)
        for (int m = 0; m < 4; m++) {
            const float *e = tab + ((size_t)(g + m) * 16 + nibble(sg, g + m)) * kp + t0;
            for (int v = 0; v < V; v++) p[m][v] = _mm256_add_ps(p[m][v], _mm256_loadu_ps(e + 8 * v));
        }
    for (int m = 0; g < ng; g++, m++) {
        const float *e = tab + ((size_t)g * 16 + nibble(sg, g)) * kp + t0;
        for (int v = 0; v < V; v++) p[m][v] = _mm256_add_ps(p[m][v], _mm256_loadu_ps(e + 8 * v));
    }
    for (int v = 0; v < V; v++)
        _mm256_storeu_ps(z + 8 * v, _mm256_add_ps(_mm256_add_ps(p[0][v], p[1][v]), _mm256_add_ps(p[2][v], p[3][v])));
}

static void lut_rows(const bs_linear *l, int block, const float *tab, float *y, int r0, int r1) {
    int k = l->rank, kp = bs_lut_kp(k), ng = (l->cols + 3) / 4, rb = bs_row_bytes(l->cols);
    const bs_avd_block *blk = &l->avd[block];
    float z[256 + 16];
    for (int r = r0; r < r1; r++) {
        const uint8_t *sg = blk->signs + (int64_t)r * rb;
        float acc = y[r];
        for (int t0 = 0; t0 < kp; t0 += 256) { /* z in slices of at most 256 ranks */
            int t1 = BS_MIN(kp, t0 + 256), t = t0;
            for (; t + 16 <= t1; t += 16) lut_z(tab, sg, ng, kp, t, z + (t - t0), 2);
            for (; t < t1; t += 8) lut_z(tab, sg, ng, kp, t, z + (t - t0), 1);
            for (t = t0; t < BS_MIN(k, t1); t++) acc += bs_f16_to_f32(blk->a[(int64_t)r * k + t]) * z[t - t0];
        }
        y[r] = acc;
    }
}

static void matmul_avd_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                            float *scratch) {
    if (n_tok < BS_AVD_ROWS_MIN_TOK) bs_lut_avd_matmul(l, x, y, n_tok, r0, r1, scratch, lut_tables, lut_rows);
    else matmul_avd(l, x, y, n_tok, r0, r1, scratch);
}

static const bs_kernels avx2_kernels = {
    "avx2", dot_f32, {matmul_f32, matmul_f16, matmul_avd, matmul_planes},
    {matmul_f32, matmul_f16, matmul_avd_fast, matmul_planes_fast}};

const bs_kernels *bs_kernels_avx2(void) { return &avx2_kernels; }
