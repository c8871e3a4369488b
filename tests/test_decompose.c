/* test_decompose.c - AVD blocks, bit-plane blocks and the RTN baselines on
 * the 35 linear maps of stories260K: error figures, sign packing, and the
 * reconstruction through the runtime's reference kernels (bs_linear_row,
 * bs_linear_matmul), which must agree with the compressor's own sums. */
#include "decompose.h"
#include "half.h"
#include "linear.h"
#include "scales.h"
#include "stories260k.h"
#include "test.h"

#include <stdint.h>

static st_model g_model; /* loaded once by main (test-local state) */

static uint64_t rng_state = 0x9e3779b9u;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static int sign_bit(const uint8_t *signs, int32_t cols, int32_t i, int32_t j) {
    return (signs[(size_t)i * bs_row_bytes(cols) + (j >> 3)] >> (7 - (j & 7))) & 1;
}

static double frob(const float *x, size_t len) {
    double s = 0;
    for (size_t i = 0; i < len; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

/* ---- AVD ------------------------------------------------------------------ */

/* The blocks of one matrix: b blocks of signs (m, row_bytes), a (m, k),
   b (k, n). */
typedef struct blocks {
    int32_t m, n, k, count;
    uint8_t *signs;
    uint16_t *a, *b;
} blocks;

static void blocks_alloc(blocks *bl, int32_t m, int32_t n, int32_t k, int32_t count) {
    bl->m = m, bl->n = n, bl->k = k, bl->count = count;
    bl->signs = calloc((size_t)count * m * bs_row_bytes(n), 1);
    bl->a = calloc((size_t)count * m * k, 2);
    bl->b = calloc((size_t)count * k * n, 2);
}

static void blocks_free(blocks *bl) { free(bl->signs), free(bl->a), free(bl->b); }

static uint8_t *blk_signs(const blocks *bl, int i) {
    return bl->signs + (size_t)i * bl->m * bs_row_bytes(bl->n);
}
static uint16_t *blk_a(const blocks *bl, int i) { return bl->a + (size_t)i * bl->m * bl->k; }
static uint16_t *blk_b(const blocks *bl, int i) { return bl->b + (size_t)i * bl->k * bl->n; }

/* acc (m, n) += S * (A B) of block b, binary16 factors, in double. */
static void add_block(const blocks *bl, int b, double *acc) {
    int32_t m = bl->m, n = bl->n, k = bl->k;
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            double p = 0;
            for (int32_t t = 0; t < k; t++)
                p += (double)bs_f16_to_f32(blk_a(bl, b)[i * k + t]) *
                     bs_f16_to_f32(blk_b(bl, b)[t * n + j]);
            acc[(size_t)i * n + j] += sign_bit(blk_signs(bl, b), n, i, j) ? p : -p;
        }
}

/* out (m, n) = sum of the first nb blocks, rounded once to f32. */
static void reconstruct(const blocks *bl, int nb, float *out) {
    size_t len = (size_t)bl->m * bl->n;
    double *acc = calloc(len, sizeof(double));
    for (int b = 0; b < nb; b++) add_block(bl, b, acc);
    for (size_t i = 0; i < len; i++) out[i] = (float)acc[i];
    free(acc);
}

/* Runs `steps` AVD steps of rank k on W (feedback as bs_avd_step_ex),
   keeping the blocks; err[b - 1] = ||W - sum of the first b blocks|| /
   ||W|| with the binary16 factors, if err is not NULL. */
static void avd_run(const float *W, int32_t m, int32_t n, int32_t k, int steps, int feedback,
                    blocks *bl, double *err) {
    size_t len = (size_t)m * n;
    float *R = malloc(sizeof(float) * len);
    double *acc = calloc(len, sizeof(double));
    memcpy(R, W, sizeof(float) * len);
    blocks_alloc(bl, m, n, k, steps);
    double nw = frob(W, len);
    for (int b = 0; b < steps; b++) {
        CHECK_OK(bs_avd_step_ex(R, m, n, k, 1000u + (uint64_t)b, feedback, blk_signs(bl, b),
                                blk_a(bl, b), blk_b(bl, b)));
        if (!err) continue;
        add_block(bl, b, acc);
        double e2 = 0;
        for (size_t i = 0; i < len; i++) e2 += (W[i] - acc[i]) * (W[i] - acc[i]);
        err[b] = sqrt(e2) / nw;
    }
    free(R), free(acc);
}

/* Relative errors after 1/2/4/8/16 blocks at k = 1 and 16, every matrix:
   they decrease, and their means are printed next to the figures the
   issue quotes for k = 1 (0.55, 0.32, 0.15, 0.08 after 1, 2, 4, 8). Then
   k = 16 with binary16 feedback (bs_avd_step_ex), which has no floor. */
static void test_avd_errors(void) {
    const int at[5] = {1, 2, 4, 8, 16};
    const int32_t ks[3] = {1, 16, 16};
    for (int ki = 0; ki < 3; ki++) {
        int fb = ki == 2;
        double mean[5] = {0}, lo[5], hi[5];
        for (int a = 0; a < 5; a++) lo[a] = 1e300, hi[a] = 0;
        for (int layer = 0; layer < g_model.n_layers; layer++)
            for (int w = 0; w < 7; w++) {
                int32_t m, n;
                const float *W = st_matrix(&g_model, layer, w, &m, &n);
                blocks bl;
                double err[16];
                avd_run(W, m, n, ks[ki], 16, fb, &bl, err);
                /* Strictly decreasing down to the floor the binary16
                   factors set (~3e-4 here: their rounding is not fed back
                   into the f32 residual, as in the reference); at the
                   floor, flat to 1%. With feedback the floor is f32's
                   own (~1e-8: W rebuilt to its last bits), where the
                   rounding noise is all that moves; it must stay there. */
                double floor = fb ? 1e-6 : 2e-3;
                for (int b = 1; b < 16; b++)
                    CHECK_MSG(err[b - 1] > floor ? err[b] < err[b - 1]
                              : fb               ? err[b] <= floor
                                                 : err[b] <= err[b - 1] * 1.01,
                              "%s.%d k=%d: error rose %g -> %g at block %d", st_names[w], layer,
                              (int)ks[ki], err[b - 1], err[b], b + 1);
                CHECK(err[0] < 0.75);
                CHECK(err[15] < (ks[ki] == 1 ? 0.12 : fb ? 2e-5 : 6e-4));
                for (int a = 0; a < 5; a++) {
                    double e = err[at[a] - 1];
                    mean[a] += e / (7.0 * g_model.n_layers);
                    lo[a] = fmin(lo[a], e), hi[a] = fmax(hi[a], e);
                }
                if (layer == 0 && (w == 0 || w == 4) && !fb)
                    fprintf(stderr, "  k=%-2d %-4s.0: %.4f %.4f %.4f %.4f %.2e\n", (int)ks[ki],
                            st_names[w], err[0], err[1], err[3], err[7], err[15]);
                blocks_free(&bl);
            }
        fprintf(stderr, "  k=%-2d%s mean of 35 after 1/2/4/8/16 blocks: %.4f %.4f %.4f %.4f %.2e"
                        " (range %.3f-%.3f after 1, %.4f-%.4f after 8)\n",
                (int)ks[ki], fb ? " feedback" : "", mean[0], mean[1], mean[2], mean[3], mean[4],
                lo[0], hi[0], lo[3], hi[3]);
    }
}

/* Sign packing and the residual update, on a matrix with zeros of both
   signs and cols = 172 (4 padding bits per row). */
static void test_avd_signs(void) {
    int32_t m = 9, n = 172, k = 2, rb = bs_row_bytes(n);
    float *R = malloc(sizeof(float) * m * n), *R0 = malloc(sizeof(float) * m * n);
    for (int32_t i = 0; i < m * n; i++) R[i] = (float)(urand() - 0.5);
    for (int32_t i = 0; i < m * n; i += 7) R[i] = 0.0f;
    for (int32_t i = 3; i < m * n; i += 11) R[i] = -0.0f;
    memcpy(R0, R, sizeof(float) * m * n);
    uint8_t *sg = malloc((size_t)m * rb);
    uint16_t a16[9 * 2], b16[2 * 172];
    memset(sg, 0xa5, (size_t)m * rb);
    CHECK_OK(bs_avd_step(R, m, n, k, 7, sg, a16, b16));
    int bad = 0;
    for (int32_t i = 0; i < m; i++) {
        for (int32_t j = 0; j < n; j++) bad += sign_bit(sg, n, i, j) != (R0[i * n + j] >= 0.0f);
        CHECK_EQ_INT(sg[i * rb + rb - 1] & 0x0f, 0); /* padding bits */
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(sign_bit(sg, n, 0, 0) == 1); /* R[0] = +0 */
    CHECK(sign_bit(sg, n, 0, 3) == 1); /* R[3] = -0 */
    /* R_new = R - S * (A B): for the zeros, -(A B) < 0; everywhere
       |R_new - R| is the rank-k value, close to the binary16 one. */
    double worst = 0, scale = 0;
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            double p = 0;
            for (int32_t t = 0; t < k; t++)
                p += (double)bs_f16_to_f32(a16[i * k + t]) * bs_f16_to_f32(b16[t * n + j]);
            double sgn = R0[i * n + j] >= 0.0f ? 1 : -1;
            worst = fmax(worst, fabs((R0[i * n + j] - sgn * p) - R[i * n + j]));
            scale = fmax(scale, p);
        }
    CHECK_MSG(worst <= 2e-3 * scale, "residual update off by %g (scale %g)", worst, scale);
    /* Errors leave R unchanged. */
    memcpy(R, R0, sizeof(float) * m * n);
    CHECK_STATUS(bs_avd_step(R, m, n, 10, 7, sg, a16, b16), BS_ERR_INVALID_ARG);
    R[5] = NAN;
    CHECK_STATUS(bs_avd_step(R, m, n, k, 7, sg, a16, b16), BS_ERR_FORMAT);
    R[5] = R0[5];
    CHECK(memcmp(R, R0, sizeof(float) * m * n) == 0);
    free(R), free(R0), free(sg);
}

/* The runtime's AVD kernels over the stored blocks: bs_linear_row and the
   sign-form bs_linear_matmul (reference kernels) against reconstruct(). */
static void test_avd_runtime(void) {
    const int which[3] = {0, 4, 6}; /* q (64x64), gate (172x64), down (64x172) */
    double worst_row = 0, worst_mm = 0;
    for (int wi = 0; wi < 3; wi++) {
        int32_t m, n, k = 16;
        const float *W = st_matrix(&g_model, 1, which[wi], &m, &n);
        blocks bl;
        avd_run(W, m, n, k, 8, 0, &bl, NULL);
        bs_avd_block avd[8];
        for (int b = 0; b < 8; b++) {
            avd[b].signs = blk_signs(&bl, b);
            avd[b].a = blk_a(&bl, b);
            avd[b].b = blk_b(&bl, b);
        }
        bs_linear lin;
        memset(&lin, 0, sizeof lin);
        lin.rows = m, lin.cols = n, lin.kind = BS_LIN_AVD, lin.rank = k;
        lin.max_blocks = 8, lin.avd = avd;
        float *ref = malloc(sizeof(float) * m * n), *row = malloc(sizeof(float) * n);
        float *x = malloc(sizeof(float) * 3 * n), *y = malloc(sizeof(float) * 3 * m);
        for (int32_t i = 0; i < 3 * n; i++) x[i] = (float)(urand() * 2 - 1);
        const int nbs[4] = {1, 2, 5, 8};
        for (int q = 0; q < 4; q++) {
            lin.n_blocks = nbs[q];
            reconstruct(&bl, nbs[q], ref);
            double nref = frob(ref, (size_t)m * n), d2 = 0;
            for (int32_t i = 0; i < m; i++) {
                bs_linear_row(&lin, i, row);
                for (int32_t j = 0; j < n; j++) {
                    double d = row[j] - ref[(size_t)i * n + j];
                    d2 += d * d;
                }
            }
            worst_row = fmax(worst_row, sqrt(d2) / nref);
            float *scratch = malloc(sizeof(float) * bs_linear_scratch(&lin));
            bs_linear_matmul(bs_kernels_ref(), &lin, x, y, 3, scratch);
            double e2 = 0, y2 = 0;
            for (int t = 0; t < 3; t++)
                for (int32_t i = 0; i < m; i++) {
                    double want = 0;
                    for (int32_t j = 0; j < n; j++) want += (double)ref[(size_t)i * n + j] * x[t * n + j];
                    e2 += (y[t * m + i] - want) * (y[t * m + i] - want);
                    y2 += want * want;
                }
            worst_mm = fmax(worst_mm, sqrt(e2 / y2));
            free(scratch);
        }
        free(ref), free(row), free(x), free(y);
        blocks_free(&bl);
    }
    fprintf(stderr, "  runtime vs own sum: rows %.2e, sign-form matmul %.2e (relative Frobenius)\n",
            worst_row, worst_mm);
    CHECK_MSG(worst_row <= 1e-5, "bs_linear_row off by %g", worst_row);
    CHECK_MSG(worst_mm <= 1e-5, "bs_linear_matmul off by %g", worst_mm);
}

/* ---- bit planes -------------------------------------------------------- */

/* Distance in representable floats (0 when equal, +0 == -0). */
static int64_t ulp_diff(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

/* One f32 ulp of x (x > 0). */
static double ulp_of(float x) {
    int e;
    frexpf(x, &e);
    return ldexp(1.0, e - 24);
}

typedef struct plane_stats {
    int64_t compared;    /* weights x plane counts compared                  */
    int64_t step_differ; /* step: runtime level != W - R                     */
    double step_abs;     /* step: worst |level - (W - R)| / ulp(2c)          */
    int64_t step_ulps;   /* step: worst distance in ulps of the level        */
    int64_t enc_ulps;    /* encode: worst distance in ulps of the level      */
    int64_t enc_differ;  /* encode: runtime level != W - R                   */
    int64_t sign_differ; /* plane bits where step and encode disagree        */
} plane_stats;

/* Planes 1..12 of W (m, n) in groups of g, by bs_planes_step and by
   bs_planes_encode, each rebuilt by the runtime's row_planes (a
   BS_LIN_PLANES bs_linear over the outputs): the runtime gives exactly
   the level the test sums itself; that level is within c / 2^(b-1) of w
   (the nearest of the 2^b levels) exactly for encode and up to the
   documented rounding (one ulp of 2c) for step; and W - R equals it to one
   ulp (encode) or one ulp of 2c (step). */
static void planes_check(const char *label, const float *W, int32_t m, int32_t n, int32_t g,
                         plane_stats *ps) {
    int32_t gpr = bs_groups_per_row(n, g), rb = bs_row_bytes(n);
    uint16_t *sc = malloc(sizeof(uint16_t) * m * gpr);
    CHECK_OK(bs_planes_scales(W, m, n, g, sc));
    int bad_cover = 0, bad_pos = 0;
    for (int32_t i = 0; i < m; i++)
        for (int32_t j = 0; j < n; j++) {
            float c = bs_f16_to_f32(sc[i * gpr + j / g]);
            bad_cover += !(fabsf(W[(size_t)i * n + j]) <= 2 * c);
            bad_pos += !(c > 0);
        }
    CHECK_MSG(bad_cover == 0 && bad_pos == 0, "%s: %d weights above 2c, %d scales <= 0", label,
              bad_cover, bad_pos);
    enum { NP = 12 };
    size_t plane_bytes = (size_t)m * rb;
    float *R = malloc(sizeof(float) * m * n), *R2 = malloc(sizeof(float) * m * n);
    float *row = malloc(sizeof(float) * n);
    memcpy(R, W, sizeof(float) * m * n);
    uint8_t *step_planes = malloc(NP * plane_bytes), *enc_planes = malloc(NP * plane_bytes);
    const uint8_t *pl[NP];
    uint8_t *enc_out[NP];
    for (int p = 0; p < NP; p++) enc_out[p] = enc_planes + p * plane_bytes;
    CHECK_OK(bs_planes_encode(W, m, n, g, sc, NP, enc_out, R2));
    bs_linear lin;
    memset(&lin, 0, sizeof lin);
    lin.rows = m, lin.cols = n, lin.kind = BS_LIN_PLANES, lin.group = g, lin.scales = sc;
    lin.planes = pl, lin.max_blocks = NP;
    int bound_bad = 0, exact_bad = 0, resid_bad = 0;
    for (int b = 1; b <= NP; b++) {
        bs_planes_step(R, m, n, g, sc, b - 1, step_planes + (b - 1) * plane_bytes);
        lin.n_blocks = b;
        for (int enc = 0; enc < 2; enc++) {
            for (int p = 0; p < b; p++) pl[p] = (enc ? enc_planes : step_planes) + p * plane_bytes;
            for (int32_t i = 0; i < m; i++) {
                bs_linear_row(&lin, i, row);
                for (int32_t j = 0; j < n; j++) {
                    size_t at = (size_t)i * n + j;
                    float c = bs_f16_to_f32(sc[i * gpr + j / g]);
                    double level = 0, u2c = ulp_of(2 * c);
                    for (int p = 0; p < b; p++)
                        level += (sign_bit(pl[p], n, i, j) ? c : -(double)c) / (double)(1 << p);
                    exact_bad += row[j] != (float)level || (double)(float)level != level;
                    double bound = c / (double)(1 << (b - 1)), slack = enc ? 0 : u2c;
                    bound_bad += !(fabs(W[at] - level) <= bound * (1 + 1e-12) + slack);
                    if (!enc) {
                        bound_bad += !(fabs(R[at]) <= bound + slack);
                        ps->sign_differ +=
                            sign_bit(step_planes + (b - 1) * plane_bytes, n, i, j) !=
                            sign_bit(enc_planes + (b - 1) * plane_bytes, n, i, j);
                        float mine = W[at] - R[at];
                        int64_t u = ulp_diff(row[j], mine);
                        ps->step_ulps = u > ps->step_ulps ? u : ps->step_ulps;
                        ps->step_differ += u != 0;
                        double a = fabs((double)row[j] - mine) / u2c;
                        ps->step_abs = fmax(ps->step_abs, a);
                        resid_bad += !(a <= 1.0);
                        ps->compared++;
                    } else if (b == NP) {
                        int64_t u = ulp_diff(row[j], W[at] - R2[at]);
                        ps->enc_ulps = u > ps->enc_ulps ? u : ps->enc_ulps;
                        ps->enc_differ += u != 0;
                        resid_bad += u > 1;
                    }
                }
            }
        }
    }
    CHECK_MSG(bound_bad == 0, "%s: %d weights beyond c / 2^(b-1)", label, bound_bad);
    CHECK_MSG(exact_bad == 0, "%s: %d runtime values differ from the exact levels", label,
              exact_bad);
    CHECK_MSG(resid_bad == 0, "%s: %d residuals W - R off the level", label, resid_bad);
    free(sc), free(R), free(R2), free(row), free(step_planes), free(enc_planes);
}

static void print_planes(const char *what, const plane_stats *ps) {
    fprintf(stderr,
            "  planes, %s: %lld weight-levels; step: W - R == runtime for all but %lld, worst "
            "%.2f ulp of 2c = %lld ulp of the level; encode: all but %lld, worst %lld ulp; "
            "%lld plane bits differ\n",
            what, (long long)ps->compared, (long long)ps->step_differ, ps->step_abs,
            (long long)ps->step_ulps, (long long)ps->enc_differ, (long long)ps->enc_ulps,
            (long long)ps->sign_differ);
}

static void test_planes(void) {
    plane_stats real = {0}, corner = {0};
    const int32_t groups[3] = {32, 50, 64}; /* 50: short last groups (172, 64 cols) */
    for (int layer = 0; layer < g_model.n_layers; layer++)
        for (int w = 0; w < 7; w++)
            for (int gi = 0; gi < 3; gi++) {
                int32_t m, n;
                const float *W = st_matrix(&g_model, layer, w, &m, &n);
                char label[32];
                snprintf(label, sizeof label, "%s.%d g=%d", st_names[w], layer, (int)groups[gi]);
                planes_check(label, W, m, n, groups[gi], &real);
            }
    /* Corners: an all-zero group, tiny weights under a large scale, exact
       powers of two, values whose absmax / 2 rounds down in binary16. */
    int32_t m = 4, n = 40;
    float W[4 * 40];
    for (int32_t i = 0; i < m * n; i++) W[i] = (float)(urand() * 2 - 1);
    for (int32_t j = 0; j < 8; j++) W[j] = 0.0f;           /* row 0, group 0 (g = 8) */
    W[8] = 1.0f, W[9] = 1e-30f, W[10] = -1e-9f, W[11] = 3e-8f; /* group 1 */
    W[16] = -2.0f, W[17] = 0.5f, W[18] = -0.25f;          /* group 2 */
    W[24] = 1.00048828125f * 2.0009765625f;                /* group 3 */
    for (int32_t j = 40; j < 48; j++) W[j] = 0.0f;         /* row 1, group 0: */
    W[40] = 7e-6f, W[41] = -3e-8f;                         /* a subnormal scale */
    planes_check("corners g=8", W, m, n, 8, &corner);
    uint16_t sc[4 * 5];
    CHECK_OK(bs_planes_scales(W, m, n, 8, sc));
    CHECK_EQ_INT(sc[0], 0x0400); /* all-zero group: smallest normal half */
    CHECK(2 * bs_f16_to_f32(sc[3]) >= W[24]);
    CHECK(sc[5] < 0x0400 && sc[5] > 0); /* subnormal */
    print_planes("stories260K", &real);
    print_planes("corners", &corner);
    /* Errors. */
    uint8_t plane[4 * 5];
    uint8_t *one[1] = {plane};
    CHECK_STATUS(bs_planes_encode(W, m, n, 8, sc, 0, one, NULL), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_planes_encode(W, m, n, 8, sc, BS_PLANES_MAX + 1, one, NULL),
                 BS_ERR_INVALID_ARG);
    W[5] = NAN;
    CHECK_STATUS(bs_planes_scales(W, m, n, 8, sc), BS_ERR_FORMAT);
    W[5] = INFINITY;
    CHECK_STATUS(bs_planes_scales(W, m, n, 8, sc), BS_ERR_FORMAT);
    W[5] = -INFINITY;
    CHECK_STATUS(bs_planes_scales(W, m, n, 8, sc), BS_ERR_FORMAT);
    W[5] = 0;
    CHECK_STATUS(bs_planes_scales(W, m, n, 0, sc), BS_ERR_INVALID_ARG);
    W[5] = 1e6f;
    CHECK_STATUS(bs_planes_scales(W, m, n, 8, sc), BS_ERR_RANGE);
}

/* ---- RTN --------------------------------------------------------------- */

/* The narrow symmetric variant rtn.c was measured against:
   d = absmax / (2^(b-1) - 1), q in +-(2^(b-1) - 1). */
static void rtn_narrow(float *W, int32_t m, int32_t n, int32_t bits, int32_t g) {
    double top = (double)((1 << (bits - 1)) - 1);
    for (int32_t i = 0; i < m; i++)
        for (int32_t j0 = 0; j0 < n; j0 += g) {
            float *w = W + (size_t)i * n + j0, amax = 0;
            int32_t len = BS_MIN(g, n - j0);
            for (int32_t j = 0; j < len; j++) amax = fmaxf(amax, fabsf(w[j]));
            float d = bs_f16_to_f32(bs_f32_to_f16((float)(amax / top)));
            for (int32_t j = 0; j < len; j++) {
                double q = d > 0 ? round(w[j] / (double)d) : 0;
                q = fmax(-top, fmin(top, q));
                w[j] = (float)q * d;
            }
        }
}

/* The error bounds of both conventions, group by group. */
static void rtn_bounds(const float *W, const float *Q, int32_t m, int32_t n, int32_t bits,
                       int32_t g, int asym, int *bad) {
    for (int32_t i = 0; i < m; i++)
        for (int32_t j0 = 0; j0 < n; j0 += g) {
            const float *w = W + (size_t)i * n + j0, *q = Q + (size_t)i * n + j0;
            int32_t len = BS_MIN(g, n - j0);
            float x = 0, mn = w[0], mx = w[0];
            for (int32_t j = 0; j < len; j++) {
                if (fabsf(w[j]) > fabsf(x)) x = w[j];
                mn = fminf(mn, w[j]), mx = fmaxf(mx, w[j]);
            }
            if (!asym) {
                double d = fabs(bs_f16_to_f32(bs_f32_to_f16(x / -(float)(1 << (bits - 1)))));
                double reach = ((1 << (bits - 1)) - 0.5) * d;
                for (int32_t j = 0; j < len; j++) {
                    double e = fabs((double)w[j] - q[j]);
                    int same_side = (w[j] >= 0) == (x >= 0);
                    if (same_side || fabs(w[j]) <= reach)
                        *bad += !(e <= d / 2 * (1 + 1e-6) + 1e-12);
                    else /* clamped to the last level on the far side */
                        *bad += fabs(q[j]) != ((1 << (bits - 1)) - 1) * d;
                    double lev = q[j] / d; /* on the grid of multiples of d */
                    *bad += d > 0 && fabs(lev - round(lev)) > 1e-6;
                }
            } else {
                /* d16 >= (mx - mn) / (2^b - 1), and at most one binary16 step
                   (plus the downward rounding of mn) above it. */
                double top = (double)((1 << bits) - 1);
                double d = ((double)mx - mn) / top, slack = fabs(mn) * 1e-3 / top;
                for (int32_t j = 0; j < len; j++) {
                    double e = fabs((double)w[j] - q[j]);
                    *bad += !(e <= (d + slack) * (1 + 1.0 / 1024) / 2 + 1e-7 * fabs(w[j]) + 1e-30);
                }
            }
        }
}

static void test_rtn(void) {
    const int32_t bitss[4] = {2, 3, 4, 8}, groups[3] = {32, 50, 128};
    int bad = 0;
    for (int bi = 0; bi < 4; bi++)
        for (int gi = 0; gi < 3; gi++) {
            double e_sym = 0, e_narrow = 0, e_asym = 0, e_w = 0;
            for (int layer = 0; layer < g_model.n_layers; layer++)
                for (int w = 0; w < 7; w++) {
                    int32_t m, n;
                    const float *W = st_matrix(&g_model, layer, w, &m, &n);
                    size_t len = (size_t)m * n;
                    float *Q = malloc(sizeof(float) * len);
                    const int32_t b = bitss[bi], g = groups[gi];
                    for (int asym = 0; asym < 3; asym++) {
                        memcpy(Q, W, sizeof(float) * len);
                        if (asym < 2) bs_rtn_quantize(Q, m, n, b, g, asym);
                        else rtn_narrow(Q, m, n, b, g);
                        if (asym < 2) rtn_bounds(W, Q, m, n, b, g, asym, &bad);
                        double e2 = 0;
                        for (size_t i = 0; i < len; i++) e2 += ((double)W[i] - Q[i]) * (W[i] - Q[i]);
                        *(asym == 0 ? &e_sym : asym == 1 ? &e_asym : &e_narrow) += e2;
                    }
                    e_w += frob(W, len) * frob(W, len);
                    free(Q);
                }
            fprintf(stderr,
                    "  rtn b=%d g=%-3d rel err: sym %.4f (narrow sym %.4f), asym %.4f; bpw %.3f / %.3f\n",
                    (int)bitss[bi], (int)groups[gi], sqrt(e_sym / e_w), sqrt(e_narrow / e_w),
                    sqrt(e_asym / e_w), bs_rtn_bpw(bitss[bi], groups[gi], 0),
                    bs_rtn_bpw(bitss[bi], groups[gi], 1));
            CHECK_MSG(e_sym < e_narrow, "b=%d g=%d: the chosen symmetric form is not the better",
                      (int)bitss[bi], (int)groups[gi]);
        }
    CHECK_EQ_INT(bad, 0);
    /* Exact cases: the extreme is reproduced, zero groups stay zero, the
       short last group, invalid arguments leave W alone. */
    float w[10] = {0.5f, -1.0f, 0.25f, 0.0f, 0.75f, 0, 0, 0, 0, 3.0f};
    float q[10];
    memcpy(q, w, sizeof q);
    bs_rtn_quantize(q, 2, 5, 4, 4, 0);
    CHECK(q[1] == -1.0f && q[0] == 0.5f && q[2] == 0.25f && q[4] == 0.75f);
    CHECK(q[5] == 0 && q[6] == 0 && q[7] == 0 && q[8] == 0 && q[9] == 3.0f);
    memcpy(q, w, sizeof q);
    bs_rtn_quantize(q, 2, 5, 2, 4, 1);
    CHECK(q[1] == -1.0f && q[4] == 0.75f && q[9] == 3.0f && q[5] == 0);
    memcpy(q, w, sizeof q);
    bs_rtn_quantize(q, 2, 5, 9, 4, 0);
    bs_rtn_quantize(q, 2, 5, 1, 4, 0);
    bs_rtn_quantize(q, 2, 5, 4, 0, 1);
    CHECK(memcmp(q, w, sizeof q) == 0);
    CHECK(bs_rtn_bpw(4, 32, 0) == 4.5 && bs_rtn_bpw(4, 32, 1) == 5.0);
    CHECK(bs_rtn_bpw(3, 128, 0) == 3.125 && bs_rtn_bpw(2, 64, 1) == 2.5);
}

/* 8-bit scale codes (scales.h): the reference is the row's largest scale,
   every decoded scale covers its group (>= the exact one) and is the
   smallest code that does, scales far below the reference take the floor,
   and decoding the stored codes gives what the encoder handed back. */
static void test_scale_codes(void) {
    enum { ROWS = 3, GPR = 40 };
    uint16_t s[ROWS * GPR], exact[ROWS * GPR], ref[ROWS], back[ROWS * GPR];
    uint8_t codes[ROWS * GPR];
    uint32_t seed = 7;
    for (int i = 0; i < ROWS * GPR; i++) {
        seed = seed * 1664525u + 1013904223u;
        s[i] = (uint16_t)(0x1000 + (seed >> 8) % 0x5000); /* 2^-12 .. ~2^8 */
    }
    s[5] = 0x7bff;               /* row 0: the largest binary16 */
    s[GPR + 3] = 0x0001;         /* row 1: a subnormal scale    */
    for (int g = 0; g < GPR; g++) s[2 * GPR + g] = 0x3c00; /* row 2: all equal */
    memcpy(exact, s, sizeof s);
    bs_scales_encode(s, ROWS, GPR, ref, codes);
    CHECK(ref[0] == 0x7bff && ref[2] == 0x3c00);
    CHECK(codes[2 * GPR] == 255 && s[2 * GPR] == 0x3c00);
    for (int r = 0; r < ROWS; r++)
        for (int g = 0; g < GPR; g++) {
            int i = r * GPR + g;
            CHECK(s[i] >= exact[i]);
            CHECK(s[i] == bs_scale_decode(ref[r], codes[i]));
            if (codes[i] > 0) CHECK(bs_scale_decode(ref[r], (uint8_t)(codes[i] - 1)) < exact[i]);
            else CHECK(s[i] == BS_MAX((int)BS_SCALE_MIN, ref[r] - 255 * BS_SCALE_STEP));
        }
    CHECK(codes[GPR + 3] == 0 && s[GPR + 3] >= BS_SCALE_MIN);
    bs_scales_decode(ref, codes, ROWS, GPR, back);
    CHECK(memcmp(back, s, sizeof s) == 0);
}

int main(void) {
    if (st_load(test_path(BS_SHARED_DIR, "models/stories260K/stories260K.bin"), &g_model) != 0) {
        fprintf(stderr, "cannot read stories260K.bin\n");
        return 1;
    }
    RUN(test_avd_errors);
    RUN(test_avd_signs);
    RUN(test_avd_runtime);
    RUN(test_planes);
    RUN(test_rtn);
    RUN(test_scale_codes);
    free(g_model.data);
    return test_summary();
}
