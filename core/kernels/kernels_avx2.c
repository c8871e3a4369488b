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
#include "planes_pack.h"

#include "half.h"
#include "linear.h"
#include "scales.h"

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

/* ---- bit planes: the packed layout (planes_pack.h) --------------------- */

/* q of 32 columns as 32 bytes from n (<= 8) plain sign planes, 4 bytes
   each at p[i] + m (p[0] most significant): each plane's 4 bytes
   broadcast, byte k of the vector picking source byte k / 8 and testing
   bit 7 - k % 8; q = 2q + bit per plane. Only for the odd last block of a
   packed row, which its chunks keep plain. */
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

/* The chunk rows of packed row r of an n-plane matrix, in chunk order
   (quads, the pair, the single: bs_pk_chunks), and the plain planes of
   its odd last block in plane order (when nb is odd). */
BS_INLINE void pk_row(const bs_linear *l, int32_t r, int n, const uint8_t **cp, const uint8_t **op) {
    int32_t rb = bs_row_bytes(l->cols), nu = l->cols / 64;
    int k = 0, i = 0;
    for (int c4 = 0; c4 < n / 4; c4++) cp[k++] = bs_pk_chunk_row(l->planes, (bs_pk_chunk){4 * c4, 4}, r, rb);
    if (n % 4 >= 2) cp[k++] = bs_pk_chunk_row(l->planes, (bs_pk_chunk){n / 4 * 4, 2}, r, rb);
    if (n % 2) cp[k++] = bs_pk_chunk_row(l->planes, (bs_pk_chunk){n - 1, 1}, r, rb);
    for (int c = 0; c < k; c++) {
        int w = c < n / 4 ? 4 : (n % 4 >= 2 && c == n / 4) ? 2 : 1;
        for (int p = 0; p < w; p++) op[i++] = cp[c] + 8 * w * nu + 4 * p;
    }
}

/* The c-bit field at bit f of every byte, moved to bit s (one 16-bit
   shift and a mask: no bit of the neighbouring byte comes through, as
   planes_pack.h shows for fields that fit their byte). */
BS_INLINE __m256i field(__m256i v, int f, int s, int c) {
    if (f > s) v = _mm256_srli_epi16(v, f - s);
    if (f < s) v = _mm256_slli_epi16(v, s - f);
    return _mm256_and_si256(v, _mm256_set1_epi8((char)(((1 << c) - 1) << s)));
}

/* Codes of blocks 2u (*a) and 2u + 1 (*b) of a packed row as byte lanes
   (byte j: column j of the block): the chunks from chunk k0 on, each at
   its place n - p0 - c in q. k0 = 0 gives q (n <= 8); k0 = 1 gives q's low
   n - 4 bits, and quad_unit(cp[0]) its top four (n > 8). A quad unit is
   one load and two fields; a pair unit, both lanes loaded with its 16
   bytes and shifted by the field's place per lane; a single unit, its 8
   bytes in each 64-bit lane, shifted by 0..7. */
BS_INLINE void unit_codes(const uint8_t *const *cp, int u, int n, int k0, __m256i *a, __m256i *b) {
    __m256i qa = _mm256_setzero_si256(), qb = qa;
    int nq = n / 4, k = nq;
    for (int c4 = k0; c4 < nq; c4++) {
        int s = n - 4 * c4 - 4;
        __m256i v = _mm256_loadu_si256((const __m256i *)(cp[c4] + 32 * u));
        qa = _mm256_or_si256(qa, field(v, 0, s, 4));
        qb = _mm256_or_si256(qb, field(v, 4, s, 4));
    }
    if (n % 4 >= 2) {
        int s = n % 2;
        __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(cp[k++] + 16 * u)));
        qa = _mm256_or_si256(qa, field(_mm256_srlv_epi32(x, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2)), 0, s, 2));
        qb = _mm256_or_si256(qb, field(_mm256_srlv_epi32(x, _mm256_setr_epi32(4, 4, 4, 4, 6, 6, 6, 6)), 0, s, 2));
    }
    if (n % 2) {
        int64_t w;
        memcpy(&w, cp[k] + 8 * u, 8);
        __m256i x = _mm256_set1_epi64x(w), one = _mm256_set1_epi8(1);
        qa = _mm256_or_si256(qa, _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(0, 1, 2, 3)), one));
        qb = _mm256_or_si256(qb, _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(4, 5, 6, 7)), one));
    }
    *a = qa, *b = qb;
}

BS_INLINE void quad_unit(const uint8_t *row, int u, __m256i *a, __m256i *b) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(row + 32 * u));
    *a = field(v, 0, 0, 4), *b = field(v, 4, 0, 4);
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

/* 32 weights from column j: q = lo (+ hi << (n - 4) when n > 8), byte
   lanes widened 8 at a time. */
BS_INLINE void planes_store32(float *out, __m256i lo, __m256i hi, int n, scale_walk *sw, int j, __m256i voff,
                              __m256 vinv) {
    __m128i h2[2] = {_mm256_castsi256_si128(hi), _mm256_extracti128_si256(hi, 1)};
    __m128i l2[2] = {_mm256_castsi256_si128(lo), _mm256_extracti128_si256(lo, 1)};
    for (int k = 0; k < 4; k++) {
        __m128i lk = k & 1 ? _mm_srli_si128(l2[k >> 1], 8) : l2[k >> 1];
        __m256i q = _mm256_cvtepu8_epi32(lk);
        if (n > 8) {
            __m128i hk = k & 1 ? _mm_srli_si128(h2[k >> 1], 8) : h2[k >> 1];
            q = _mm256_add_epi32(q, _mm256_slli_epi32(_mm256_cvtepu8_epi32(hk), n - 4));
        }
        planes_store8(out + 8 * k, q, scale8(sw, j + 8 * k), voff, vinv);
    }
}

/* Scales a row rebuild decodes on the stack (8-bit codes): 64 KiB columns
   at groups of 32; wider rows go to the reference. */
enum { PK_ROW_SCALES = 2048 };

/* Row r of a packed PLANES matrix into out (cols floats), exactly as
   row_planes in kernels_ref.c: w = (c * (float)(2q + 1 - 2^n)) * 2^-(n-1),
   c the binary16 scale of the weight's group. Every product is exact, as
   the reference notes, and is computed in the reference's order anyway.
   64 columns per unit; the odd last block from its plain planes; the tail
   columns scalar. */
BS_INLINE void planes_row_n(const bs_linear *l, int32_t r, float *out, int n) {
    int cols = l->cols, group = l->group, nu = cols / 64, nb = cols / 32, gpr = bs_groups_per_row(cols, group);
    uint16_t decoded[PK_ROW_SCALES]; /* 8-bit codes: the row's scales decoded once (planes_row checks gpr) */
    const uint16_t *sc = l->scales + (int64_t)r * gpr;
    if (l->scale_codes) bs_linear_row_scales(l, r, decoded), sc = decoded;
    float inv = 1.0f;
    for (int i = 1; i < n; i++) inv *= 0.5f;
    int32_t offset = 1 - (1 << n);
    const __m256i voff = _mm256_set1_epi32(offset);
    const __m256 vinv = _mm256_set1_ps(inv);
    scale_walk sw = {sc, group, 0, group, group % 8 == 0, _mm256_set1_ps(bs_f16_to_f32(sc[0]))};
    const uint8_t *cp[BS_PK_MAX_CHUNKS], *op[12];
    pk_row(l, r, n, cp, op);
    __m256i ha = _mm256_setzero_si256(), hb = ha;
    int j = 0;
    for (int u = 0; u < nu; u++, j += 64) {
        __m256i a, b;
        unit_codes(cp, u, n, n > 8, &a, &b);
        if (n > 8) quad_unit(cp[0], u, &ha, &hb);
        planes_store32(out + j, a, ha, n, &sw, j, voff, vinv);
        planes_store32(out + j + 32, b, hb, n, &sw, j + 32, voff, vinv);
    }
    if (nb % 2) {
        int k = n > 8 ? 4 : 0;
        planes_store32(out + j, planes_q32(op + k, n - k, 0), n > 8 ? planes_q32(op, 4, 0) : ha, n, &sw, j, voff, vinv);
        j += 32;
    }
    for (; j < cols; j++) out[j] = bs_f16_to_f32(sc[j / group]) * (float)(2 * bs_planes_code(l, r, j) + offset) * inv;
}

/* Row r of a PLANES matrix: packed rows here, the rest (plain layouts, the
   rows past rows & ~3, no planes) by the reference. */
static void planes_row(const bs_linear *l, int32_t r, float *out) {
    int n = l->n_blocks;
    if (!l->packed || n < 1 || n > 12 || r >= bs_pk_rows4(l->rows) ||
        (l->scale_codes && bs_groups_per_row(l->cols, l->group) > PK_ROW_SCALES)) {
        bs_linear_row(l, r, out);
        return;
    }
    switch (n) { /* n constant in each copy: every shift an immediate */
    case 1: planes_row_n(l, r, out, 1); break;
    case 2: planes_row_n(l, r, out, 2); break;
    case 3: planes_row_n(l, r, out, 3); break;
    case 4: planes_row_n(l, r, out, 4); break;
    case 5: planes_row_n(l, r, out, 5); break;
    case 6: planes_row_n(l, r, out, 6); break;
    case 7: planes_row_n(l, r, out, 7); break;
    case 8: planes_row_n(l, r, out, 8); break;
    case 9: planes_row_n(l, r, out, 9); break;
    case 10: planes_row_n(l, r, out, 10); break;
    case 11: planes_row_n(l, r, out, 11); break;
    default: planes_row_n(l, r, out, 12); break;
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

/* ---- bit planes, fast mode (16-bit activations; kernels_q8.h) ----------- */

/* Four int32 vectors to one holding their lane sums, per 128-bit lane:
   (s0, s1, s2, s3 | s0', s1', s2', s3') with s = low lanes' sums, s' the
   high lanes'; hsum8x8 adds the two halves of two of these (integers: any
   order gives the same sums, mod 2^32). Taken four at a time so fewer
   registers are live. */
BS_INLINE __m256i hsum4x8(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    return _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
}

BS_INLINE __m256i hsum8x8(__m256i a, __m256i b) {
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

BS_INLINE int32_t hsum8(__m256i v) {
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* sum q_j X_j of one block as 8 int32 lanes: the byte codes split into
   16-bit lanes, even columns by a mask and odd ones by a shift, against
   the block's X in bs_q8_xpos order (vpmaddwd: q < 2^8, |X| < 2^15, exact). */
BS_INLINE __m256i code_dot(__m256i q, const int16_t *x) {
    __m256i even = _mm256_and_si256(q, _mm256_set1_epi16(0xff)), odd = _mm256_srli_epi16(q, 8);
    return _mm256_add_epi32(_mm256_madd_epi16(even, _mm256_loadu_si256((const __m256i *)x)),
                            _mm256_madd_epi16(odd, _mm256_loadu_si256((const __m256i *)(x + 16))));
}

/* Both parts of q for n > 8: hi << (n - 4) + lo, wrapping like the sums. */
BS_INLINE __m256i split_dot(__m256i lo, __m256i hi, int n, const int16_t *x) {
    __m256i v = code_dot(lo, x);
    return n > 8 ? _mm256_add_epi32(v, _mm256_slli_epi32(code_dot(hi, x), n - 4)) : v;
}

/* The scales of a row's blocks: binary16 (sc), or 8-bit codes against the
   row's reference (codes, base = ref - 32 * 255: scales.h), for groups of
   32 and 64 (per = 1, 2 blocks a group); else from cb
   (bs_q8_block_scales). */
typedef struct scale_src {
    const uint16_t *sc;
    const uint8_t *codes;
    int32_t base;
    const float *cb;
    int per;
} scale_src;

/* Decoded binary16 scales in 8 int32 lanes to f32: max(2^-14, base + 32
   code) is a normal positive binary16 (the reader checked ref), whose f32
   bits are its own shifted by 13 with the exponent bias moved (127 - 15). */
BS_INLINE __m256 code_scales(__m256i codes, int32_t base) {
    __m256i h = _mm256_max_epi32(_mm256_add_epi32(_mm256_slli_epi32(codes, 5), _mm256_set1_epi32(base)),
                                 _mm256_set1_epi32(BS_SCALE_MIN));
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(h, 13), _mm256_set1_epi32(112 << 23)));
}

/* The scales of 8 groups from group g (one per 8 blocks, per = 1) or of 4
   from g, each twice (per = 2). */
BS_INLINE __m256 group_scales(const scale_src *c, int g) {
    if (c->codes) {
        int32_t w4[2];
        if (c->per == 1) {
            memcpy(w4, c->codes + g, 8);
            return code_scales(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)w4)), c->base);
        }
        memcpy(w4, c->codes + g, 4);
        __m256 four = code_scales(_mm256_cvtepu8_epi32(_mm_cvtsi32_si128(w4[0])), c->base);
        return _mm256_permutevar8x32_ps(four, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
    }
    if (c->per == 1) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(c->sc + g)));
    __m256 four = _mm256_castps128_ps256(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(c->sc + g))));
    return _mm256_permutevar8x32_ps(four, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
}

/* c of blocks b .. b+7 (exact conversions). */
BS_INLINE __m256 scales8(const scale_src *c, int b) {
    if (c->per > 2) return _mm256_loadu_ps(c->cb + b);
    return group_scales(c, b / c->per);
}

/* scales8 for the last, partial group of rem < 8 blocks from b, reading
   only the row's own scales (the 8 or 4 groups that end the row, permuted
   into place; other lanes repeat a real scale, and acc8 masks them). */
BS_INLINE __m256 scales8_tail(const scale_src *c, int b, int rem, int gpr) {
    const __m256i k = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (c->per == 1 && gpr >= 8) {
        __m256 v = group_scales(c, gpr - 8);
        __m256i idx = _mm256_min_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(b - (gpr - 8))), _mm256_set1_epi32(7));
        return _mm256_permutevar8x32_ps(v, idx);
    }
    if (c->per == 2 && gpr >= 4) {
        __m256 v = group_scales(c, gpr - 4); /* groups gpr-4 .. gpr-1, each twice */
        __m256i g = _mm256_srli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(b)), 1);
        __m256i idx = _mm256_min_epi32(_mm256_sub_epi32(g, _mm256_set1_epi32(gpr - 4)), _mm256_set1_epi32(3));
        return _mm256_permutevar8x32_ps(v, _mm256_add_epi32(idx, idx));
    }
    if (c->per > 2) return _mm256_loadu_ps(c->cb + b);
    float t[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* narrow rows: a few scalar conversions */
    for (int i = 0; i < rem; i++) {
        int g = (b + i) / c->per;
        t[i] = bs_f16_to_f32(c->codes ? bs_scale_decode((uint16_t)(c->base + 32 * 255), c->codes[g]) : c->sc[g]);
    }
    return _mm256_loadu_ps(t);
}

/* Eight blocks' sums (hsum8x8) into the canonical dot's lanes: E = 2S + o sx,
   acc += (float)E * (c * d), lane k taking block b + k. */
BS_INLINE __m256 acc8(__m256 acc, __m256i s, const int32_t *osx, __m256 c, const float *d, int b) {
    __m256i e = _mm256_add_epi32(_mm256_add_epi32(s, s), _mm256_loadu_si256((const __m256i *)(osx + b)));
    __m256 f = _mm256_mul_ps(c, _mm256_loadu_ps(d + b));
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(e), f));
}

/* The codes of a packed row in byte lanes, block by block: read from the
   chunks (direct: one token) or from a copy made once for several tokens
   (qlo, qhi: 32 bytes per block). */
typedef struct code_src {
    const uint8_t *const *cp, *const *op;
    const uint8_t *qlo, *qhi;
} code_src;

/* Blocks 2u and 2u + 1 of the row against x (the token's X from block 2u). */
BS_INLINE void pair_dot(const code_src *q, int u, int n, int direct, const int16_t *x, __m256i *v0, __m256i *v1) {
    __m256i a, b, ha = _mm256_setzero_si256(), hb = ha;
    if (direct) {
        unit_codes(q->cp, u, n, n > 8, &a, &b);
        if (n > 8) quad_unit(q->cp[0], u, &ha, &hb);
    } else {
        a = _mm256_loadu_si256((const __m256i *)(q->qlo + 64 * u));
        b = _mm256_loadu_si256((const __m256i *)(q->qlo + 64 * u + 32));
        if (n > 8) {
            ha = _mm256_loadu_si256((const __m256i *)(q->qhi + 64 * u));
            hb = _mm256_loadu_si256((const __m256i *)(q->qhi + 64 * u + 32));
        }
    }
    *v0 = split_dot(a, ha, n, x);
    *v1 = split_dot(b, hb, n, x + 32);
}

/* The odd last block b. */
BS_INLINE __m256i odd_dot(const code_src *q, int b, int n, int direct, const int16_t *x) {
    int k = n > 8 ? 4 : 0;
    if (direct)
        return split_dot(planes_q32(q->op + k, n - k, 0), n > 8 ? planes_q32(q->op, 4, 0) : _mm256_setzero_si256(), n, x);
    __m256i lo = _mm256_loadu_si256((const __m256i *)(q->qlo + 32 * b));
    return split_dot(lo, n > 8 ? _mm256_loadu_si256((const __m256i *)(q->qhi + 32 * b)) : lo, n, x);
}

/* (float)E * (c * d) of the last, partial group of nb % 8 blocks from
   b, padded with e = f = +0 (kernels_q8.h): computed before the whole
   groups (its latency then hides behind them) and added after them, its
   place in each lane's sum. */
BS_INLINE __m256 q8_last(const code_src *q, int n, int direct, int nb, int gpr, const int16_t *x,
                         const int32_t *osx, const float *d, const scale_src *cb) {
    int b = nb & ~7, nu = nb / 2, units = nu - b / 2, k = nb - b; /* 0..3 whole units, then the odd block */
    const __m256i z = _mm256_setzero_si256();
    __m256i v0 = z, v1 = z, v2 = z, v3 = z, v4 = z, v5 = z, v6 = z, odd = z;
    if (units > 0) pair_dot(q, b / 2, n, direct, x + 32 * b, &v0, &v1);
    if (units > 1) pair_dot(q, b / 2 + 1, n, direct, x + 32 * (b + 2), &v2, &v3);
    if (units > 2) pair_dot(q, b / 2 + 2, n, direct, x + 32 * (b + 4), &v4, &v5);
    if (k & 1) odd = odd_dot(q, nb - 1, n, direct, x + 32 * (nb - 1));
    switch (units) { /* the odd block's place */
    case 0: v0 = odd; break;
    case 1: v2 = odd; break;
    case 2: v4 = odd; break;
    default: v6 = odd; break;
    }
    __m256i s = hsum8x8(hsum4x8(v0, v1, v2, v3), hsum4x8(v4, v5, v6, z));
    __m256 live = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    return acc8(_mm256_setzero_ps(), s, osx, _mm256_and_ps(scales8_tail(cb, b, k, gpr), live), d, b);
}

/* One token against one packed row: acc of kernels_q8.h's canonical
   result (before the 2^-(n+7) and the tail columns). */
BS_INLINE float q8_row(const code_src *q, int n, int direct, int nb, int gpr, const int16_t *x,
                       const int32_t *osx, const float *d, const scale_src *cb) {
    __m256 last = nb % 8 ? q8_last(q, n, direct, nb, gpr, x, osx, d, cb) : _mm256_setzero_ps();
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b + 8 <= nb; b += 8) {
        __m256i v0, v1, v2, v3, h[2];
        for (int k = 0; k < 2; k++) {
            pair_dot(q, b / 2 + 2 * k, n, direct, x + 32 * (b + 4 * k), &v0, &v1);
            pair_dot(q, b / 2 + 2 * k + 1, n, direct, x + 32 * (b + 4 * k + 2), &v2, &v3);
            h[k] = hsum4x8(v0, v1, v2, v3);
        }
        acc = acc8(acc, hsum8x8(h[0], h[1]), osx, scales8(cb, b), d, b);
    }
    if (nb % 8) acc = _mm256_add_ps(acc, last);
    return hsum_canon(acc);
}

/* Row r's scale source. */
BS_INLINE scale_src row_scales(const bs_linear *l, int32_t r, const float *cb, int per) {
    int gpr = bs_groups_per_row(l->cols, l->group);
    if (l->scale_codes)
        return (scale_src){NULL, l->scale_codes + (int64_t)r * gpr, (int32_t)l->scale_ref[r] - 32 * 255, cb, per};
    return (scale_src){l->scales + (int64_t)r * gpr, NULL, 0, cb, per};
}

/* q8_row for two rows at once (one token, direct codes): two independent
   dependency chains per step, the same operations per row. */
BS_INLINE void q8_row2(const code_src *qa, const code_src *qb, int n, int nb, int gpr, const int16_t *x,
                       const int32_t *osx, const float *d, const scale_src *ca, const scale_src *cbb, float *ya,
                       float *yb) {
    __m256 la = _mm256_setzero_ps(), lb = la, acc_a = la, acc_b = la;
    if (nb % 8) {
        la = q8_last(qa, n, 1, nb, gpr, x, osx, d, ca);
        lb = q8_last(qb, n, 1, nb, gpr, x, osx, d, cbb);
    }
    for (int b = 0; b + 8 <= nb; b += 8) {
        __m256i v0, v1, v2, v3, ha[2], hb[2];
        for (int k = 0; k < 2; k++) {
            pair_dot(qa, b / 2 + 2 * k, n, 1, x + 32 * (b + 4 * k), &v0, &v1);
            pair_dot(qa, b / 2 + 2 * k + 1, n, 1, x + 32 * (b + 4 * k + 2), &v2, &v3);
            ha[k] = hsum4x8(v0, v1, v2, v3);
            pair_dot(qb, b / 2 + 2 * k, n, 1, x + 32 * (b + 4 * k), &v0, &v1);
            pair_dot(qb, b / 2 + 2 * k + 1, n, 1, x + 32 * (b + 4 * k + 2), &v2, &v3);
            hb[k] = hsum4x8(v0, v1, v2, v3);
        }
        acc_a = acc8(acc_a, hsum8x8(ha[0], ha[1]), osx, scales8(ca, b), d, b);
        acc_b = acc8(acc_b, hsum8x8(hb[0], hb[1]), osx, scales8(cbb, b), d, b);
    }
    if (nb % 8) acc_a = _mm256_add_ps(acc_a, la), acc_b = _mm256_add_ps(acc_b, lb);
    *ya = hsum_canon(acc_a), *yb = hsum_canon(acc_b);
}

/* kernels_q8.h's rows function for n planes. One token (decode): codes
   built in registers unit by unit from the packed chunks and used at once.
   Several: every block's codes into work first, then each token against
   them from L1. Rows past rows & ~3 (plain) go to the reference. work:
   cb (nb floats), then codes (32 bytes per block, low and high parts). */
BS_INLINE void q8_rows_n(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0, int r1,
                         uint8_t *work, int n) {
    int nb = a->nb, nu = nb / 2, stride = nb * BS_Q8_BLOCK, tail = l->cols % BS_Q8_BLOCK != 0;
    int per = l->group / BS_Q8_BLOCK, gpr = bs_groups_per_row(l->cols, l->group);
    float inv = bs_q8_inv(n), *cb = (float *)work;
    uint8_t *qlo = work + 4 * (size_t)nb, *qhi = qlo + stride;
    int r = r0, rend = BS_MIN(r1, bs_pk_rows4(l->rows));
    if (n_tok == 1 && per <= 2) /* decode: rows in pairs */
        for (; r + 2 <= rend; r += 2) {
            const uint8_t *cp[2][BS_PK_MAX_CHUNKS], *op[2][12];
            pk_row(l, r, n, cp[0], op[0]);
            pk_row(l, r + 1, n, cp[1], op[1]);
            scale_src sa = row_scales(l, r, cb, per), sb = row_scales(l, r + 1, cb, per);
            code_src qa = {cp[0], op[0], NULL, NULL}, qb = {cp[1], op[1], NULL, NULL};
            float ya, yb;
            q8_row2(&qa, &qb, n, nb, gpr, a->xq, a->osx, a->d, &sa, &sb, &ya, &yb);
            ya *= inv, yb *= inv;
            y[r] = tail ? bs_q8_planes_tail(l, r, a->x, ya) : ya;
            y[r + 1] = tail ? bs_q8_planes_tail(l, r + 1, a->x, yb) : yb;
        }
    for (; r < rend; r++) {
        const uint8_t *cp[BS_PK_MAX_CHUNKS], *op[12];
        pk_row(l, r, n, cp, op);
        scale_src sc = row_scales(l, r, cb, per);
        if (per > 2) {
            bs_q8_block_scales(l, r, cb);
            for (int b = nb; b < a->nb8; b++) cb[b] = 0.0f;
        }
        code_src direct = {cp, op, NULL, NULL}, stored = {cp, op, qlo, qhi};
        if (n_tok == 1) {
            float acc = q8_row(&direct, n, 1, nb, gpr, a->xq, a->osx, a->d, &sc) * inv;
            y[r] = tail ? bs_q8_planes_tail(l, r, a->x, acc) : acc;
            continue;
        }
        for (int u = 0; u < nu; u++) {
            __m256i qa, qb;
            unit_codes(cp, u, n, n > 8, &qa, &qb);
            _mm256_storeu_si256((__m256i *)(qlo + 64 * u), qa);
            _mm256_storeu_si256((__m256i *)(qlo + 64 * u + 32), qb);
            if (n > 8) {
                quad_unit(cp[0], u, &qa, &qb);
                _mm256_storeu_si256((__m256i *)(qhi + 64 * u), qa);
                _mm256_storeu_si256((__m256i *)(qhi + 64 * u + 32), qb);
            }
        }
        if (nb % 2) {
            int k = n > 8 ? 4 : 0;
            _mm256_storeu_si256((__m256i *)(qlo + 64 * nu), planes_q32(op + k, n - k, 0));
            if (n > 8) _mm256_storeu_si256((__m256i *)(qhi + 64 * nu), planes_q32(op, 4, 0));
        }
        for (int t = 0; t < n_tok; t++) {
            float acc = q8_row(&stored, n, 0, nb, gpr, a->xq + (size_t)t * stride, a->osx + t * a->nb8, a->d + t * a->nb8, &sc) * inv;
            y[(int64_t)t * l->rows + r] = tail ? bs_q8_planes_tail(l, r, a->x + (int64_t)t * a->cols, acc) : acc;
        }
    }
    if (r < r1) bs_q8_planes_rows_ref(l, a, n_tok, y, r, r1, work);
}

static void q8_rows(const bs_linear *l, const bs_q8_act *a, int n_tok, float *y, int r0, int r1, uint8_t *work) {
    switch (l->n_blocks) { /* bs_q8_planes_ok: 1 <= n <= BS_Q8_MAX_PLANES */
    case 1: q8_rows_n(l, a, n_tok, y, r0, r1, work, 1); break;
    case 2: q8_rows_n(l, a, n_tok, y, r0, r1, work, 2); break;
    case 3: q8_rows_n(l, a, n_tok, y, r0, r1, work, 3); break;
    case 4: q8_rows_n(l, a, n_tok, y, r0, r1, work, 4); break;
    case 5: q8_rows_n(l, a, n_tok, y, r0, r1, work, 5); break;
    case 6: q8_rows_n(l, a, n_tok, y, r0, r1, work, 6); break;
    case 7: q8_rows_n(l, a, n_tok, y, r0, r1, work, 7); break;
    case 8: q8_rows_n(l, a, n_tok, y, r0, r1, work, 8); break;
    case 9: q8_rows_n(l, a, n_tok, y, r0, r1, work, 9); break;
    case 10: q8_rows_n(l, a, n_tok, y, r0, r1, work, 10); break;
    default: q8_rows_n(l, a, n_tok, y, r0, r1, work, 11); break;
    }
}

/* fast mode's quantizer (kernels_q8.h), eight columns per vector: every
   step is the reference's IEEE operation (the max ignores NaN as its
   comparison does; products and the magic-number rounding are single
   operations, never contracted), so X, d and o * sum(X) are the same. */
static void q8_token(const float *x, int nb, uint32_t o, int16_t *xq, float *d, int32_t *osx) {
    const __m256 sign = _mm256_set1_ps(-0.0f), magic = _mm256_set1_ps(12582912.0f);
    const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f), k256 = _mm256_set1_ps(256.0f);
    for (int b = 0; b < nb; b++) {
        const float *xb = x + b * BS_Q8_BLOCK;
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(xb + 8 * i);
            m = _mm256_max_ps(_mm256_andnot_ps(sign, v[i]), m); /* (a > m) ? a : m */
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        float amax = _mm_cvtss_f32(m4);
        int16_t *xt = xq + b * BS_Q8_BLOCK;
        if (amax < 0x1p-100f) {
            memset(xt, 0, BS_Q8_BLOCK * sizeof *xt);
            d[b] = 0.0f, osx[b] = 0;
            continue;
        }
        __m256 id = _mm256_set1_ps(127.0f / amax);
        __m256i sum = _mm256_setzero_si256();
        int32_t X[BS_Q8_BLOCK];
        for (int i = 0; i < 4; i++) {
            __m256 t = _mm256_mul_ps(v[i], id);
            t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q)); /* NaN -> +0 */
            t = _mm256_max_ps(_mm256_min_ps(t, hi), lo);
            __m256 h = _mm256_sub_ps(_mm256_add_ps(t, magic), magic);
            __m256 l = _mm256_mul_ps(_mm256_sub_ps(t, h), k256);
            l = _mm256_max_ps(_mm256_min_ps(_mm256_sub_ps(_mm256_add_ps(l, magic), magic), hi), lo);
            __m256i xi = _mm256_add_epi32(_mm256_slli_epi32(_mm256_cvttps_epi32(h), 8), _mm256_cvttps_epi32(l));
            sum = _mm256_add_epi32(sum, xi);
            _mm256_storeu_si256((__m256i *)(X + 8 * i), xi);
        }
        for (int j = 0; j < BS_Q8_BLOCK; j++) xt[bs_q8_xpos(j)] = (int16_t)X[j];
        d[b] = amax / 127.0f;
        osx[b] = (int32_t)(o * (uint32_t)hsum8(sum));
    }
}

static void matmul_planes_fast(const bs_linear *l, const float *x, float *y, int n_tok, int r0, int r1,
                               float *scratch) {
    if (bs_q8_planes_ok(l, n_tok)) bs_q8_planes_matmul(l, x, y, n_tok, r0, r1, scratch, q8_rows, q8_token);
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
            __m256i isum = _mm256_sub_epi32(hsum8x8(hsum4x8(v[0], v[1], v[2], v[3]), hsum4x8(v[4], v[5], v[6], v[7])), _mm256_mullo_epi32(eight, _mm256_loadu_si256((const __m256i *)(xs + b))));
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
    {matmul_f32, matmul_f16, matmul_avd_fast, matmul_planes_fast}, q8_rows, q8_token, bs_qmat_matvec_avx2};

const bs_kernels *bs_kernels_avx2(void) { return &avx2_kernels; }
