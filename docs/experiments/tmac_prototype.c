/* tmac_prototype.c - T-MAC style table lookups (AVX2), the prototype
   measured in docs/RESULTS.md ("Fast decode"): not part of the build, not
   kept as a kernel (see there why). Against the packed code-dot kernel of
   the library on the same shapes, cache-resident, one thread:

     cmake --build build && gcc -O2 -mavx2 -mf16c -std=c11 -D_POSIX_C_SOURCE=200809L \
       -ffp-contract=off -Icore/src -Icore/kernels -Icore/include docs/experiments/tmac_prototype.c \
       build/libbitstack_core.a -lcjson -lm -lpthread -o /tmp/tmac && /tmp/tmac 1536 576

   Optimistic for the lookups: scales arrive as ready f32 per (row, block),
   rows come out permuted, no tail columns or odd rows, activations limited
   to 14 bits (the tables' int16 entries hold sums of four). Layout: tiles of 16 rows;
   per tile, per byte column m (8 columns), per plane pair: 32 bytes, byte
   2k = plane p of row k, byte 2k+1 = plane p+1. Tables per group of 4
   columns: 16 int16 signed sums of 4 activations (|X| <= 8191), as a low
   (u8) and a high (s8) byte table; vpshufb looks up 32 nibbles at once,
   vpmaddubsw folds each plane pair with weights (2, 1) into int16. */
#include "kernels.h"
#include "linear.h"
#include "planes_pack.h"
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
#define INL static inline __attribute__((always_inline))

/* tables: per group g: 32 bytes (Tl[16], Th[16]) */
static void build_tables(const int16_t *X, int cols, uint8_t *tab) {
    for (int g = 0; g < cols / 4; g++) {
        for (int nib = 0; nib < 16; nib++) {
            int t = 0;
            for (int k = 0; k < 4; k++) t += ((nib >> (3 - k)) & 1) ? X[4 * g + k] : -X[4 * g + k];
            tab[32 * g + nib] = (uint8_t)(t & 0xff);
            tab[32 * g + 16 + nib] = (uint8_t)(int8_t)((t - (t & 0xff)) >> 8);
        }
    }
}

/* layout from plain planes: pairs (zero plane for odd n) */
static uint8_t *relayout(uint8_t **pl, int n, int R, int C) {
    int rb = C / 8, np = (n + 1) / 2;
    uint8_t *out = aligned_alloc(64, (size_t)R * rb * np * 2);
    for (int t = 0; t < R / 16; t++)
        for (int m = 0; m < rb; m++)
            for (int p = 0; p < np; p++) {
                uint8_t *o = out + (((size_t)t * rb + m) * np + p) * 32;
                for (int k = 0; k < 16; k++) {
                    int r = 16 * t + k;
                    o[2 * k] = pl[2 * p][(size_t)r * rb + m];
                    o[2 * k + 1] = 2 * p + 1 < n ? pl[2 * p + 1][(size_t)r * rb + m] : 0x00;
                }
            }
    return out;
}

INL void tile(const uint8_t *w, const uint8_t *tab, int rb, int np, int nb, const float *f /* [nb][16] */, float *y, int n) {
    const __m256i m0f = _mm256_set1_epi8(0x0f);
    const __m256i w21s = _mm256_set1_epi16(0x0102); /* bytes (2, 1): plane p weight 2 */
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    for (int b = 0; b < nb; b++) {
        __m256i e0 = _mm256_setzero_si256(), e1 = e0; /* 16 rows int32 (two halves of 8) */
        for (int p = 0; p < np; p++) {
            __m256i H = _mm256_setzero_si256(), L = H;
            for (int mm = 0; mm < 4; mm++) {
                int m = 4 * b + mm;
                __m256i v = _mm256_loadu_si256((const __m256i *)(w + ((size_t)m * np + p) * 32));
                __m256i lo = _mm256_and_si256(v, m0f), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f);
                const uint8_t *tg = tab + 32 * (2 * m);      /* group 2m: the high nibble */
                __m256i tlh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tg));
                __m256i thh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tg + 16)));
                __m256i tll = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tg + 32)));
                __m256i thl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tg + 48)));
                L = _mm256_add_epi16(L, _mm256_maddubs_epi16(_mm256_shuffle_epi8(tlh, hi), w21s));
                H = _mm256_add_epi16(H, _mm256_maddubs_epi16(w21s, _mm256_shuffle_epi8(thh, hi)));
                L = _mm256_add_epi16(L, _mm256_maddubs_epi16(_mm256_shuffle_epi8(tll, lo), w21s));
                H = _mm256_add_epi16(H, _mm256_maddubs_epi16(w21s, _mm256_shuffle_epi8(thl, lo)));
            }
            /* 256 H + L per row in int32, weighted 4^(np-1-p) (pairs of planes) */
            __m256i a = _mm256_madd_epi16(_mm256_unpacklo_epi16(L, H), _mm256_set1_epi32(0x01000001));
            __m256i c = _mm256_madd_epi16(_mm256_unpackhi_epi16(L, H), _mm256_set1_epi32(0x01000001));
            int sh = 2 * (np - 1 - p);
            e0 = _mm256_add_epi32(e0, _mm256_slli_epi32(a, sh));
            e1 = _mm256_add_epi32(e1, _mm256_slli_epi32(c, sh));
        }
        /* rows order after unpack: lane groups; the prototype ignores the permutation */
        acc0 = _mm256_add_ps(acc0, _mm256_mul_ps(_mm256_cvtepi32_ps(e0), _mm256_loadu_ps(f + 16 * b)));
        acc1 = _mm256_add_ps(acc1, _mm256_mul_ps(_mm256_cvtepi32_ps(e1), _mm256_loadu_ps(f + 16 * b + 8)));
    }
    _mm256_storeu_ps(y, acc0);
    _mm256_storeu_ps(y + 8, acc1);
    (void)n;
}

static void tmac_matvec(const uint8_t *w, const uint8_t *tab, int R, int C, int n, const float *f, float *y) {
    int rb = C / 8, np = (n + 1) / 2, nb = C / 32;
    for (int t = 0; t < R / 16; t++)
        tile(w + (size_t)t * rb * np * 32, tab, rb, np, nb, f + (size_t)t * nb * 16, y + 16 * t, n);
}

int main(int argc, char **argv) {
    int R = atoi(argv[1]), C = atoi(argv[2]);
    int rb = C / 8;
    uint8_t *pl[8];
    const uint8_t *pp[8];
    for (int i = 0; i < 8; i++) { pl[i] = malloc((size_t)R * rb); for (size_t j = 0; j < (size_t)R * rb; j++) pl[i][j] = (uint8_t)(j * 2654435761u >> (13 + i)); }
    int16_t *X = malloc(C * 2);
    for (int j = 0; j < C; j++) X[j] = (int16_t)(rand() % 16383 - 8191);
    uint8_t *tab = aligned_alloc(64, (size_t)C / 4 * 32);
    float *f = malloc((size_t)R * (C / 32) * 4), *y = malloc((size_t)R * 4), *x = malloc((size_t)C * 4);
    for (size_t i = 0; i < (size_t)R * (C / 32); i++) f[i] = 1e-3f;
    for (int j = 0; j < C; j++) x[j] = (rand() % 2001 - 1000) * 1e-3f;
    uint16_t *sc = malloc((size_t)R * (C / 32) * 2);
    for (size_t i = 0; i < (size_t)R * (C / 32); i++) sc[i] = 0x3c00;
    const bs_kernels *k = bs_kernels_best();
    printf("%dx%d, fastest of 300 calls, GB/s of plane bytes\n", R, C);
    for (int n = 2; n <= 8; n += (n < 4 ? 1 : 2)) {
        uint8_t *w = relayout(pl, n, R, C);
        double tb = 1e9, tt = 1e9;
        /* the code-dot kernel (packed layout, library) */
        uint8_t *cp[8];
        for (int i = 0; i < n; i++) { cp[i] = malloc((size_t)R * rb); memcpy(cp[i], pl[i], (size_t)R * rb); pp[i] = cp[i]; }
        bs_linear l = {.rows = R, .cols = C, .kind = BS_LIN_PLANES, .max_blocks = n, .group = 32, .scales = sc, .planes = pp};
        uint8_t *tmp = malloc(bs_planes_pack_tmp(C));
        for (int i = 0; i < n; i++) { bs_planes_attach(&l, i, tmp); l.n_blocks = i + 1; }
        float *scr = malloc(bs_linear_scratch(&l) * 4);
        for (int it = 0; it < 300; it++) {
            double t0 = now();
            build_tables(X, C, tab); /* per token, as the kernel would */
            tmac_matvec(w, tab, R, C, n, f, y);
            double t1 = now();
            bs_linear_kernel(k, 1, &l)(&l, x, y, 1, 0, R, scr);
            double t2 = now();
            if (t1 - t0 < tt) tt = t1 - t0;
            if (t2 - t1 < tb) tb = t2 - t1;
        }
        double bytes = (double)n * R * rb;
        printf("n=%d: T-MAC lookups %.2f GB/s (%.3f ms)   packed codes %.2f GB/s (%.3f ms)   lookups/codes %.2fx\n", n,
               bytes / tt / 1e9, tt * 1e3, bytes / tb / 1e9, tb * 1e3, tb / tt);
        for (int i = 0; i < n; i++) free(cp[i]);
        free(w); free(tmp); free(scr);
    }
    return 0;
}
