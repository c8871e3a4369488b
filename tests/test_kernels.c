/* test_kernels.c - every kernel variant in the binary against the scalar
 * reference, bit for bit (memcmp), and a benchmark mode.
 *
 *   test_kernels           the bit-exactness tests (ctest runs this)
 *   test_kernels --bench [f32|f16|planes|avd]
 *                          GFLOP/s and GB/s of each variant on SmolLM2-135M
 *                          shapes, n_tok 1 and 64, and the pool's speedup
 *
 * Coverage: dot_f32 for n = 0..600; matmul of kinds F32, F16, PLANES (0 to
 * 12 planes, groups 1, 7, 12, 32, 64 and cols) and AVD (ranks 1, 3, 8, 9,
 * 17; 1 to 4 blocks) for cols 1, 7, 8, 9, 63, 64, 65, 172, 577, rows 1, 3,
 * 17, n_tok 1 to 5 and 64, sub-ranges [r0, r1) of the rows, pointers offset
 * by one element, and values that are large, tiny, subnormal, +-0 and of
 * mixed signs (no NaN or infinity: only finite results have a unique bit
 * pattern); binary16 inputs take every finite bit pattern.
 */
#include "baseline.h"
#include "half.h"
#include "kernels.h"
#include "linear.h"
#include "planes_pack.h"
#include "pool.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

/* ---- deterministic random values ------------------------------------- */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_unit(uint64_t *s) { /* [-1, 1) */
    return (float)((double)(rng_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* A value of one of the classes that stress rounding: ordinary, large
   (products up to 1e34, sums of 600 of them stay finite), tiny (products
   underflow to subnormals), subnormal, +0, -0. */
static float rng_extreme(uint64_t *s) {
    float u = rng_unit(s);
    switch (rng_next(s) % 7) {
    case 0: return u * 1e17f;
    case 1: return u * 1e-20f;
    case 2: return u * 1e-39f; /* subnormal */
    case 3: return 0.0f;
    case 4: return -0.0f;
    case 5: return u * 3.0f + (u < 0 ? -1.0f : 1.0f);
    default: return u;
    }
}

static void fill(float *v, size_t n, int extreme, uint64_t *s) {
    for (size_t i = 0; i < n; i++) v[i] = extreme ? rng_extreme(s) : rng_unit(s);
}

/* A finite binary16 (subnormals and zeros included; no inf, no NaN). */
static uint16_t rng_half(uint64_t *s) {
    for (;;) {
        uint16_t h = (uint16_t)rng_next(s);
        if (((h >> 10) & 0x1f) != 0x1f) return h;
    }
}

static const bs_kernels *variants[8];
static int n_variants;

/* ---- dot --------------------------------------------------------------- */

static void test_dot(void) {
    uint64_t seed = 1;
    float *a = malloc(602 * sizeof *a), *b = malloc(602 * sizeof *b);
    for (int extreme = 0; extreme < 2; extreme++)
        for (int n = 0; n <= 600; n++) {
            fill(a, 602, extreme, &seed);
            fill(b, 602, extreme, &seed);
            float want = bs_dot_f32_ref(a + 1, b + 1, n); /* offset: unaligned */
            for (int v = 1; v < n_variants; v++) {
                float got = variants[v]->dot_f32(a + 1, b + 1, n);
                CHECK_MSG(memcmp(&got, &want, 4) == 0, "%s dot n=%d: %.9g vs %.9g", variants[v]->name, n,
                          (double)got, (double)want);
                got = variants[v]->dot_f32(a, b + 1, n);
                float want0 = bs_dot_f32_ref(a, b + 1, n);
                CHECK(memcmp(&got, &want0, 4) == 0);
            }
        }
    free(a);
    free(b);
}

/* bs_f16_to_f32 against the textbook decoding, every one of the 65536
   bit patterns (NaN payloads included: bits, not values, compared). */
static void test_half(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, want;
        if (exp == 0) {
            float f = (float)man * (1.0f / 16777216.0f); /* man * 2^-24, exact */
            want = bs_bits_from_f32(f) | sign;
        } else if (exp == 31) {
            want = sign | 0x7f800000u | (man << 13);
        } else {
            want = sign | ((exp + 112u) << 23) | (man << 13);
        }
        bad += bs_bits_from_f32(bs_f16_to_f32((uint16_t)h)) != want;
    }
    CHECK_EQ_INT(bad, 0);
}

/* ---- matmul ------------------------------------------------------------ */

static const int COLS[] = {1, 7, 8, 9, 63, 64, 65, 172, 577};
static const int ROWS[] = {1, 3, 17};
static const int NTOK[] = {1, 2, 3, 4, 5, 64};
#define N_OF(a) (int)(sizeof a / sizeof a[0])

/* Runs matmul rows [r0, r1) with every variant and compares y (all of it:
   rows outside the range must keep their sentinel). y and scratch are
   offset by one float (x by its caller). */
static int compare_matmul(const bs_linear *l, const float *x, int n_tok, int r0, int r1,
                          const char *what) {
    size_t ny = (size_t)n_tok * l->rows, ns = bs_linear_scratch(l);
    float *want = malloc((ny + 1) * sizeof *want), *got = malloc((ny + 1) * sizeof *got);
    float *scratch = malloc((ns + 1) * sizeof *scratch);
    int ok = 1;
    for (int fast = 0; fast < 2; fast++) { /* each mode against its own reference */
    for (size_t i = 0; i <= ny; i++) want[i] = got[i] = -123.25f;
    bs_linear_kernel(variants[0], fast, l)(l, x, want + 1, n_tok, r0, r1, scratch + 1);
    for (int v = 1; v < n_variants; v++) {
        for (size_t i = 0; i <= ny; i++) got[i] = -123.25f;
        bs_linear_kernel(variants[v], fast, l)(l, x, got + 1, n_tok, r0, r1, scratch + 1);
        int same = memcmp(got, want, (ny + 1) * sizeof *got) == 0;
        CHECK_MSG(same, "%s %s %s rows %d cols %d n_tok %d [%d,%d)", variants[v]->name, fast ? "fast" : "exact",
                  what, l->rows, l->cols, n_tok, r0, r1);
        if (!same) {
            ok = 0;
            for (size_t i = 0; i <= ny; i++)
                if (memcmp(&got[i], &want[i], 4)) {
                    fprintf(stderr, "  first difference at %zu: %.9g vs %.9g\n", i, (double)got[i],
                            (double)want[i]);
                    break;
                }
        }
    }
    }
    free(want);
    free(got);
    free(scratch);
    return ok;
}

/* Every n_tok and a few row ranges for one linear map. */
static void compare_all_tok(const bs_linear *l, int extreme, uint64_t *seed, const char *what) {
    size_t nx = (size_t)64 * l->cols + 1;
    float *x = malloc(nx * sizeof *x);
    fill(x, nx, extreme, seed);
    for (int t = 0; t < N_OF(NTOK); t++) {
        if (!compare_matmul(l, x + 1, NTOK[t], 0, l->rows, what)) break;
        if (l->rows > 2) compare_matmul(l, x + 1, NTOK[t], 1, l->rows - 1, what);
    }
    free(x);
}

static void test_f32(void) {
    uint64_t seed = 2;
    for (int extreme = 0; extreme < 2; extreme++)
        for (int ri = 0; ri < N_OF(ROWS); ri++)
            for (int ci = 0; ci < N_OF(COLS); ci++) {
                int rows = ROWS[ri], cols = COLS[ci];
                float *w = malloc(((size_t)rows * cols + 1) * sizeof *w);
                fill(w, (size_t)rows * cols + 1, extreme, &seed);
                bs_linear l = {.rows = rows, .cols = cols, .kind = BS_LIN_F32, .w = w + 1};
                compare_all_tok(&l, extreme, &seed, "f32");
                free(w);
            }
}

static void test_f16(void) {
    uint64_t seed = 3;
    for (int extreme = 0; extreme < 2; extreme++)
        for (int ri = 0; ri < N_OF(ROWS); ri++)
            for (int ci = 0; ci < N_OF(COLS); ci++) {
                int rows = ROWS[ri], cols = COLS[ci];
                size_t n = (size_t)rows * cols + 1;
                uint16_t *w = malloc(n * sizeof *w);
                /* random bit patterns: every exponent, subnormals, +-0 */
                for (size_t i = 0; i < n; i++) w[i] = rng_half(&seed);
                w[n / 2] = 0x8000u;
                w[n - 1] = 0x0001u;
                bs_linear l = {.rows = rows, .cols = cols, .kind = BS_LIN_F16, .w16 = w + 1};
                compare_all_tok(&l, extreme, &seed, "f16");
                free(w);
            }
}

/* A PLANES map with n planes of random signs and random binary16 scales,
   plane buffers and scales offset by one element; packed (as the runtime
   attaches planes, one at a time: planes_pack.h) unless plain. */
typedef struct planes_fixture {
    bs_linear l;
    uint8_t *bytes[16];
    uint16_t *scales, *ref;
    uint8_t *codes;
    const uint8_t *ptrs[16];
} planes_fixture;

/* The fixture's scales as 8-bit codes against a reference per row
   (scales.h; every code, references over their whole valid range). */
static void planes_use_codes(planes_fixture *f, uint64_t *seed) {
    size_t rows = (size_t)f->l.rows, gpr = (size_t)bs_groups_per_row(f->l.cols, f->l.group);
    f->ref = malloc((rows + 1) * sizeof *f->ref);
    f->codes = malloc(rows * gpr + 1);
    for (size_t r = 0; r <= rows; r++) f->ref[r] = (uint16_t)(0x0400 + rng_next(seed) % (0x7bff - 0x0400 + 1));
    for (size_t i = 0; i <= rows * gpr; i++) f->codes[i] = (uint8_t)rng_next(seed);
    f->l.scales = NULL;
    f->l.scale_ref = f->ref + 1, f->l.scale_codes = f->codes + 1;
}

/* Attaches planes 0 .. n-1 of a plain map one by one into the packed layout. */
static void planes_pack_all(bs_linear *l, int n) {
    uint8_t *tmp = malloc(bs_planes_pack_tmp(l->cols));
    l->n_blocks = 0;
    for (int i = 0; i < n; i++) {
        bs_planes_attach(l, i, tmp);
        l->n_blocks = i + 1;
    }
    free(tmp);
}

static void planes_make_as(planes_fixture *f, int rows, int cols, int n, int group, int packed, uint64_t *seed) {
    memset(f, 0, sizeof *f);
    size_t nb = (size_t)rows * bs_row_bytes(cols) + 1;
    size_t ns = (size_t)rows * bs_groups_per_row(cols, group) + 1;
    for (int i = 0; i < n; i++) {
        f->bytes[i] = malloc(nb);
        for (size_t j = 0; j < nb; j++) f->bytes[i][j] = (uint8_t)rng_next(seed);
        if (cols % 8) /* padding bits are 0 (FORMAT.md 5) */
            for (int r = 0; r < rows; r++) f->bytes[i][1 + (size_t)(r + 1) * bs_row_bytes(cols) - 1] &= (uint8_t)(0xff00 >> (cols % 8));
        f->ptrs[i] = f->bytes[i] + 1;
    }
    f->scales = malloc(ns * sizeof *f->scales);
    for (size_t j = 0; j < ns; j++) f->scales[j] = rng_half(seed);
    f->l = (bs_linear){.rows = rows, .cols = cols, .kind = BS_LIN_PLANES, .n_blocks = n,
                       .max_blocks = n, .group = group, .scales = f->scales + 1, .planes = f->ptrs};
    if (packed) planes_pack_all(&f->l, n);
}

static void planes_make(planes_fixture *f, int rows, int cols, int n, int group, uint64_t *seed) {
    planes_make_as(f, rows, cols, n, group, 1, seed);
}

static void planes_free(planes_fixture *f) {
    for (int i = 0; i < 16; i++) free(f->bytes[i]);
    free(f->scales);
    free(f->ref);
    free(f->codes);
}

static void test_planes(void) {
    uint64_t seed = 4;
    /* 32 and 64 (multiples of 8), 12 and 7 (groups that straddle bytes),
       1 and cols (extremes); most cols are not multiples of the group */
    const int groups[] = {32, 64, 12, 7, 1, 0};
    for (int extreme = 0; extreme < 2; extreme++)
        for (int ri = 0; ri < N_OF(ROWS); ri++)
            for (int ci = 0; ci < N_OF(COLS); ci++)
                for (int gi = 0; gi < N_OF(groups); gi++)
                    for (int n = 0; n <= 12; n++) {
                        int rows = ROWS[ri], cols = COLS[ci], group = groups[gi] ? groups[gi] : cols;
                        if (group > cols) continue; /* the format requires group <= cols */
                        /* every plane count on the mid sizes; a few elsewhere */
                        if (!(cols == 65 || cols == 172 || cols == 577 || n == 1 || n == 4 || n == 8 || n == 9))
                            continue;
                        for (int packed = 0; packed < 3; packed++) { /* plain, packed, packed with codes */
                            if (!packed && !(cols == 172 && (n == 3 || n == 9))) continue; /* plain: a few */
                            if (packed == 2 && !(group == 32 || group == 64 || n == 5)) continue;
                            planes_fixture f;
                            planes_make_as(&f, rows, cols, n, group, packed, &seed);
                            if (packed == 2) planes_use_codes(&f, &seed);
                            char what[64];
                            snprintf(what, sizeof what, "planes n=%d group=%d%s", n, group,
                                     packed == 2 ? " codes" : packed ? "" : " plain");
                            compare_all_tok(&f.l, extreme, &seed, what);
                            planes_free(&f);
                        }
                    }
}

/* The packed layout: every weight's code reads back as the plain planes
   spell it, at every level while planes attach one by one and detach
   again; detaching everything restores the plain bytes; packing is
   deterministic (attached one by one = packed at once from plain). Odd
   rows (past rows & ~3 stay plain), odd blocks, tails, 1 to 12 planes. */
static void test_planes_pack(void) {
    uint64_t seed = 14;
    const int rows_list[] = {1, 3, 4, 5, 8, 17}, cols_list[] = {1, 7, 8, 31, 32, 33, 63, 64, 65, 95, 96, 100, 172, 577};
    for (int ri = 0; ri < N_OF(rows_list); ri++)
        for (int ci = 0; ci < N_OF(cols_list); ci++) {
            int rows = rows_list[ri], cols = cols_list[ci], n = 12;
            size_t size = (size_t)rows * bs_row_bytes(cols);
            planes_fixture f, g;
            planes_make_as(&f, rows, cols, n, cols, 0, &seed);
            uint8_t *orig[12], *tmp = malloc(bs_planes_pack_tmp(cols));
            for (int i = 0; i < n; i++) orig[i] = malloc(size), memcpy(orig[i], f.ptrs[i], size);
            int ok = 1;
            f.l.n_blocks = 0;
            for (int step = 0; step < 2 * n && ok; step++) {
                if (step < n) { /* attach plane `step` */
                    bs_planes_attach(&f.l, step, tmp);
                    f.l.n_blocks = step + 1;
                } else { /* detach the last */
                    bs_planes_detach(&f.l, tmp);
                    f.l.n_blocks--;
                }
                int nb = f.l.n_blocks;
                for (int r = 0; r < rows && ok; r++)
                    for (int j = 0; j < cols && ok; j++) {
                        int32_t want = 0;
                        for (int i = 0; i < nb; i++) want = want << 1 | ((orig[i][(size_t)r * bs_row_bytes(cols) + j / 8] >> (7 - j % 8)) & 1);
                        ok = bs_planes_code(&f.l, r, j) == want;
                        CHECK_MSG(ok, "pack rows %d cols %d planes %d (%s): code (%d, %d) %d vs %d", rows, cols, nb,
                                  step < n ? "attaching" : "detaching", r, j, bs_planes_code(&f.l, r, j), want);
                    }
                if (step < n && ok) { /* the same bytes as packing nb plain planes at once */
                    planes_make_as(&g, rows, cols, nb, cols, 0, &seed);
                    for (int i = 0; i < nb; i++) memcpy(g.bytes[i] + 1, orig[i], size);
                    planes_pack_all(&g.l, nb);
                    for (int i = 0; i < nb; i++) ok &= memcmp(g.ptrs[i], f.ptrs[i], size) == 0;
                    CHECK_MSG(ok, "pack rows %d cols %d planes %d: one by one != at once", rows, cols, nb);
                    planes_free(&g);
                }
            }
            for (int i = 0; i < n && ok; i++)
                CHECK_MSG(memcmp(f.ptrs[i], orig[i], size) == 0, "rows %d cols %d: plane %d not restored", rows, cols, i);
            for (int i = 0; i < n; i++) free(orig[i]);
            free(tmp);
            planes_free(&f);
        }
}

/* Fast mode against exact mode on bit planes: the two-digit rounding of x
   moves each product by at most |w_j| * d_b / 512 (d_b = the block's amax
   / 127), so |fast - exact| <= sum_j |w_j| amax_b / 65024 (plus f32
   rounding); and fast mode must really differ somewhere (it took the
   int8 path). */
static void test_planes_fast_bound(void) {
    uint64_t seed = 7;
    const int cols = 577, rows = 17;
    int differs = 0;
    float *x = malloc(cols * sizeof *x), *w = malloc(cols * sizeof *w);
    float ye[17], yf[17];
    for (int n = 1; n <= 12; n++) {
        planes_fixture f;
        planes_make(&f, rows, cols, n, 64, &seed);
        for (size_t j = 0; j < (size_t)rows * bs_groups_per_row(cols, 64); j++)
            f.scales[j + 1] = bs_f32_to_f16(rng_unit(&seed)); /* ordinary scales */
        fill(x, cols, 0, &seed);
        float *scratch = malloc(bs_linear_scratch(&f.l) * sizeof *scratch);
        for (int v = 0; v < n_variants; v++) {
            bs_linear_kernel(variants[v], 0, &f.l)(&f.l, x, ye, 1, 0, rows, scratch);
            bs_linear_kernel(variants[v], 1, &f.l)(&f.l, x, yf, 1, 0, rows, scratch);
            for (int r = 0; r < rows; r++) {
                bs_linear_row(&f.l, r, w);
                double bound = 0, mag = 0;
                for (int b = 0; b < cols / 32; b++) {
                    float amax = 0;
                    for (int j = 32 * b; j < 32 * b + 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
                    for (int j = 32 * b; j < 32 * b + 32; j++) bound += fabs(w[j]) * amax / 65024.0;
                }
                for (int j = 0; j < cols; j++) mag += fabs(w[j] * x[j]);
                double err = fabs((double)yf[r] - ye[r]);
                CHECK_MSG(err <= bound + 1e-5 * mag, "%s n=%d row %d: |fast - exact| %g > bound %g",
                          variants[v]->name, n, r, err, bound);
                differs |= yf[r] != ye[r];
            }
        }
        free(scratch);
        planes_free(&f);
    }
    CHECK_MSG(differs, "fast mode never differed from exact: the int8 path did not run");
    free(x);
    free(w);
}

/* The bench's q8 / q4 baselines: the AVX2 matvec against the scalar one
   (same integer sums; float sums in another order, so a tolerance), and
   both against the f32 product of the dequantized weights. */
static void test_baselines(void) {
    uint64_t seed = 11;
    const int rows = 37, cols = 576, nb = cols / 32;
    float *w = malloc((size_t)rows * cols * sizeof *w), *x = malloc(cols * sizeof *x);
    fill(w, (size_t)rows * cols, 0, &seed);
    fill(x, cols, 0, &seed);
    int8_t xq[576];
    float xd[18], y_ref[37], y_best[37];
    int32_t xs[18];
    bs_q8_quantize(x, nb, xq, NULL, xd, xs, NULL);
    for (int bits = 4; bits <= 8; bits += 4) {
        bs_qmat m;
        CHECK(bs_qmat_init(&m, w, rows, cols, bits) == 0);
        bs_qmat_matvec_ref(&m, xq, xd, xs, y_ref, 0, rows);
        bs_qmat_matvec(&m, xq, xd, xs, y_best, 0, rows);
        for (int r = 0; r < rows; r++) {
            double exact = 0, mag = 0;
            for (int j = 0; j < cols; j++) exact += (double)w[r * cols + j] * x[j], mag += fabs(w[r * cols + j] * x[j]);
            CHECK_MSG(fabs(y_best[r] - y_ref[r]) <= 1e-5 * mag, "q%d row %d: %g vs %g", bits, r, y_best[r], y_ref[r]);
            /* rounding to 4 bits moves each weight by up to amax / 14 */
            CHECK_MSG(fabs(y_ref[r] - exact) <= (bits == 8 ? 0.02 : 0.2) * mag, "q%d row %d far from f32", bits, r);
        }
        CHECK(bs_qmat_bytes(&m) == (int64_t)rows * nb * (bits == 8 ? 34 : 18));
        bs_qmat_free(&m);
    }
    /* a width that is not whole blocks: the last block zero-padded */
    bs_qmat odd;
    CHECK(bs_qmat_init(&odd, w, 2, 33, 8) == 0);
    float xp[64] = {0}, yo[2];
    memcpy(xp, x, 33 * sizeof *x);
    bs_q8_quantize(xp, 2, xq, NULL, xd, xs, NULL);
    bs_qmat_matvec(&odd, xq, xd, xs, yo, 0, 2);
    for (int r = 0; r < 2; r++) {
        double exact = 0, mag = 0;
        for (int j = 0; j < 33; j++) exact += (double)w[r * 33 + j] * x[j], mag += fabs(w[r * 33 + j] * x[j]);
        CHECK_MSG(fabs(yo[r] - exact) <= 0.02 * mag, "q8 width 33 row %d: %g vs %g", r, yo[r], exact);
    }
    CHECK(bs_qmat_bytes(&odd) == 2 * 2 * 34);
    bs_qmat_free(&odd);
    bs_qmat bad;
    CHECK(bs_qmat_init(&bad, w, 1, 32, 5) == -1);
    free(w);
    free(x);
}

/* An AVD map of n_blocks blocks of the given rank, random signs and
   binary16 factors (ordinary or any finite bit pattern), every buffer
   offset by one element. */
typedef struct avd_fixture {
    bs_linear l;
    bs_avd_block blk[4];
    void *mem[12];
} avd_fixture;

static void avd_make(avd_fixture *f, int rows, int cols, int rank, int n_blocks, int extreme,
                     uint64_t *seed) {
    memset(f, 0, sizeof *f);
    for (int b = 0; b < n_blocks; b++) {
        size_t ns = (size_t)rows * bs_row_bytes(cols) + 1, na = (size_t)rows * rank + 1,
               nb = (size_t)rank * cols + 1;
        uint8_t *sg = f->mem[3 * b] = malloc(ns);
        uint16_t *a = f->mem[3 * b + 1] = malloc(na * 2), *bb = f->mem[3 * b + 2] = malloc(nb * 2);
        for (size_t i = 0; i < ns; i++) sg[i] = (uint8_t)rng_next(seed);
        for (size_t i = 0; i < na; i++) a[i] = extreme ? rng_half(seed) : bs_f32_to_f16(rng_unit(seed));
        for (size_t i = 0; i < nb; i++) bb[i] = extreme ? rng_half(seed) : bs_f32_to_f16(rng_unit(seed));
        f->blk[b] = (bs_avd_block){sg + 1, a + 1, bb + 1};
    }
    f->l = (bs_linear){.rows = rows, .cols = cols, .kind = BS_LIN_AVD, .n_blocks = n_blocks,
                       .max_blocks = n_blocks, .rank = rank, .avd = f->blk};
}

static void avd_free(avd_fixture *f) {
    for (int i = 0; i < 12; i++) free(f->mem[i]);
}

/* Ranks below, at and above the 8 dots the AVX2 kernel runs at once. */
static void test_avd(void) {
    uint64_t seed = 5;
    const int ranks[] = {1, 3, 8, 9, 17};
    for (int extreme = 0; extreme < 2; extreme++)
        for (int ri = 0; ri < N_OF(ROWS); ri++)
            for (int ci = 0; ci < N_OF(COLS); ci++)
                for (int ki = 0; ki < N_OF(ranks); ki++) {
                    avd_fixture f;
                    avd_make(&f, ROWS[ri], COLS[ci], ranks[ki], 1 + ki % 4, extreme, &seed);
                    char what[64];
                    snprintf(what, sizeof what, "avd rank %d blocks %d", ranks[ki], f.l.n_blocks);
                    compare_all_tok(&f.l, extreme, &seed, what);
                    avd_free(&f);
                }
}

/* Fast mode's AVD decode (sign tables) only reorders f32 sums: it stays
   within a few f32 roundings per term of the exact path, and differs from
   it somewhere (the table path ran). */
static void test_avd_fast_close(void) {
    uint64_t seed = 13;
    const int rows = 17, cols = 577;
    int differs = 0;
    float *x = malloc(cols * sizeof *x), *w = malloc(cols * sizeof *w), ye[17], yf[17];
    for (int rank = 1; rank <= 17; rank += 8) {
        avd_fixture f;
        avd_make(&f, rows, cols, rank, 3, 0, &seed);
        fill(x, cols, 0, &seed);
        float *scratch = malloc(bs_linear_scratch(&f.l) * sizeof *scratch);
        for (int v = 0; v < n_variants; v++) {
            bs_linear_kernel(variants[v], 0, &f.l)(&f.l, x, ye, 1, 0, rows, scratch);
            bs_linear_kernel(variants[v], 1, &f.l)(&f.l, x, yf, 1, 0, rows, scratch);
            for (int r = 0; r < rows; r++) {
                bs_linear_row(&f.l, r, w);
                double mag = 0;
                for (int j = 0; j < cols; j++) mag += fabs(w[j] * x[j]);
                CHECK_MSG(fabs((double)yf[r] - ye[r]) <= 1e-4 * mag + 1e-6, "%s rank %d row %d: %g vs %g",
                          variants[v]->name, rank, r, yf[r], ye[r]);
                differs |= yf[r] != ye[r];
            }
        }
        free(scratch);
        avd_free(&f);
    }
    CHECK_MSG(differs, "fast AVD never differed from exact: the table path did not run");
    free(x);
    free(w);
}

/* ---- benchmark --------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_job {
    const bs_kernels *k;
    const bs_linear *l;
    const float *x;
    float *y;
    float *scratch; /* (threads, stride) */
    size_t stride;
    int n_tok, chunk;
    int fast; /* the kernels' fast mode */
} bench_job;

/* The row split forward.c uses (bs_linear_split). */
static void bench_task(void *ctx, int task, int thread) {
    const bench_job *j = ctx;
    int r0 = task * j->chunk, r1 = BS_MIN(j->l->rows, r0 + j->chunk);
    bs_linear_kernel(j->k, j->fast, j->l)(j->l, j->x, j->y, j->n_tok, r0, r1, j->scratch + (size_t)thread * j->stride);
}

/* Seconds per call of n configurations (job j[i] on pool[i]): the fastest
   single call of each over about 0.2 s per configuration, the calls
   interleaved so that all see the same machine. The minimum, not the
   mean, because other processes may share the machine: a call that was
   never preempted shows what the code can do. */
static void time_matmuls(bench_job *j, bs_pool **pool, int n, double *best) {
    int n_tasks[4];
    for (int i = 0; i < n; i++) {
        int nt = bs_pool_threads(pool[i]), rows = j[i].l->rows;
        j[i].chunk = bs_linear_split(rows, nt);
        n_tasks[i] = (rows + j[i].chunk - 1) / j[i].chunk;
        best[i] = 1e30;
    }
    double t_start = now_s();
    for (int calls = 0; calls < 3 || now_s() - t_start < 0.2 * n; calls++)
        for (int i = 0; i < n; i++) {
            double t0 = now_s();
            bs_pool_run(pool[i], n_tasks[i], bench_task, &j[i]);
            double dt = now_s() - t0;
            if (dt < best[i]) best[i] = dt;
        }
}

typedef struct shape {
    const char *name;
    int rows, cols, per_token; /* per_token: times used per token by SmolLM2-135M */
} shape;

static void bench(const char *only) {
    /* SmolLM2-135M: 30 layers of q, o (576x576), k, v (192x576), gate, up
       (1536x576), down (576x1536), then the tied lm_head (49152x576). */
    const shape shapes[] = {{"q,o 576x576", 576, 576, 60},     {"k,v 192x576", 192, 576, 60},
                            {"gate,up 1536x576", 1536, 576, 60}, {"down 576x1536", 576, 1536, 30},
                            {"lm_head 49152x576", 49152, 576, 1}};
    const bs_lin_kind kinds[] = {BS_LIN_F32, BS_LIN_F16, BS_LIN_PLANES, BS_LIN_AVD};
    const char *kind_names[] = {"f32", "f16", "planes(4 bits, group 64)", "avd(4 blocks of rank 16)"};
    bs_pool *pool1 = NULL, *pool2 = NULL;
    if (bs_pool_create(1, &pool1) != BS_OK || bs_pool_create(2, &pool2) != BS_OK) return;
    uint64_t seed = 9;
    float *x = malloc((size_t)64 * 1536 * sizeof *x), *y = malloc((size_t)64 * 49152 * sizeof *y);
    fill(x, (size_t)64 * 1536, 0, &seed);
    printf("kernels: %s vs %s, exact mode, then %s fast mode on 1 and 2 threads (pool of 2 vs 1);\n"
           "ratios measured in this run\n"
           "n_tok 1: GB/s of weight bytes read; n_tok 64: GFLOP/s counting 2 * rows * cols per token\n"
           "(dense-equivalent for planes and avd); times: the fastest of many calls\n",
           variants[n_variants - 1]->name, variants[0]->name, variants[n_variants - 1]->name);
    const bs_kernels *ref = variants[0], *best = variants[n_variants - 1];
    for (int ki = 0; ki < N_OF(kinds); ki++) {
        if (only && strncmp(kind_names[ki], only, strlen(only)) != 0) continue;
        printf("\n== %s ==\n%-20s %5s %12s %12s %7s %12s %7s %12s %7s\n", kind_names[ki], "shape", "n_tok",
               ref->name, best->name, "ratio", "fast", "x", "fast 2thr", "x");
        double model_s[2][4] = {{0}}; /* [n_tok 1, 64][ref, best, fast, fast x2] per token */
        for (int si = 0; si < N_OF(shapes); si++) {
            const shape *sh = &shapes[si];
            size_t n = (size_t)sh->rows * sh->cols;
            float *w = NULL;
            uint16_t *w16 = NULL;
            planes_fixture pf;
            avd_fixture af;
            bs_linear l = {.rows = sh->rows, .cols = sh->cols, .kind = kinds[ki]};
            if (kinds[ki] == BS_LIN_F32) {
                w = malloc(n * sizeof *w);
                fill(w, n, 0, &seed);
                l.w = w;
            } else if (kinds[ki] == BS_LIN_F16) {
                w16 = malloc(n * sizeof *w16);
                for (size_t i = 0; i < n; i++) w16[i] = bs_f32_to_f16(rng_unit(&seed));
                l.w16 = w16;
            } else if (kinds[ki] == BS_LIN_PLANES) {
                planes_make(&pf, sh->rows, sh->cols, 4, 64, &seed);
                l = pf.l;
            } else {
                avd_make(&af, sh->rows, sh->cols, 16, 4, 0, &seed);
                l = af.l;
            }
            size_t stride = bs_linear_scratch(&l);
            float *scratch = malloc((2 * stride + 1) * sizeof *scratch);
            int64_t bytes = bs_linear_bytes(&l);
            for (int ti = 0; ti < 2; ti++) {
                int n_tok = ti ? 64 : 1;
                bench_job j[4] = {{ref, &l, x, y, scratch, stride, n_tok, 0, 0},
                                  {best, &l, x, y, scratch, stride, n_tok, 0, 0},
                                  {best, &l, x, y, scratch, stride, n_tok, 0, 1},
                                  {best, &l, x, y, scratch, stride, n_tok, 0, 1}};
                bs_pool *pools[4] = {pool1, pool1, pool1, pool2};
                double t[4];
                time_matmuls(j, pools, 4, t);
                double t_ref = t[0], t_best = t[1], t_fast = t[2], t_two = t[3];
                double flop = 2.0 * (double)n * n_tok;
                /* decode is memory-bound: weight GB/s; prefill: GFLOP/s */
                const char *unit = n_tok == 1 ? "GB/s" : "GFLOP/s";
                double r_ref = n_tok == 1 ? bytes / t_ref / 1e9 : flop / t_ref / 1e9;
                double r_best = n_tok == 1 ? bytes / t_best / 1e9 : flop / t_best / 1e9;
                double fast = n_tok == 1 ? bytes / t_fast / 1e9 : flop / t_fast / 1e9;
                double two = n_tok == 1 ? bytes / t_two / 1e9 : flop / t_two / 1e9;
                printf("%-20s %5d %7.2f %-4s %7.2f %-4s %6.2fx %7.2f %-4s %5.2fx %7.2f %-4s %5.2fx\n", sh->name,
                       n_tok, r_ref, unit, r_best, unit, t_ref / t_best, fast, unit, t_best / t_fast, two, unit,
                       t_fast / t_two);
                model_s[ti][0] += sh->per_token * t_ref / n_tok;
                model_s[ti][1] += sh->per_token * t_best / n_tok;
                model_s[ti][2] += sh->per_token * t_fast / n_tok;
                model_s[ti][3] += sh->per_token * t_two / n_tok;
            }
            free(scratch);
            free(w);
            free(w16);
            if (kinds[ki] == BS_LIN_PLANES) planes_free(&pf);
            if (kinds[ki] == BS_LIN_AVD) avd_free(&af);
        }
        for (int ti = 0; ti < 2; ti++)
            printf("SmolLM2-135M matmuls only, %s: %s %.1f tok/s, %s %.1f tok/s (%.2fx), fast %.1f tok/s "
                   "(%.2fx), fast 2 threads %.1f tok/s (%.2fx)\n",
                   ti ? "prefill (n_tok 64)" : "decode (n_tok 1)", ref->name, 1.0 / model_s[ti][0], best->name,
                   1.0 / model_s[ti][1], model_s[ti][0] / model_s[ti][1], 1.0 / model_s[ti][2],
                   model_s[ti][1] / model_s[ti][2], 1.0 / model_s[ti][3], model_s[ti][2] / model_s[ti][3]);
    }
    free(x);
    free(y);
    bs_pool_free(pool1);
    bs_pool_free(pool2);
}

/* ---- pool -------------------------------------------------------------- */

typedef struct pool_ctx {
    int *hits;
    int n_threads;
    int bad_thread;
} pool_ctx;

static void count_task(void *ctx, int task, int thread) {
    pool_ctx *c = ctx;
    c->hits[task]++; /* each task index is handed out once: no race */
    if (thread < 0 || thread >= c->n_threads) c->bad_thread = 1;
}

/* Every task runs exactly once per run, on a valid thread index, over many
   consecutive runs (the spin / sleep hand-over between jobs). */
static void test_pool(void) {
    for (int nt = 1; nt <= 4; nt++) {
        bs_pool *p = NULL;
        CHECK_OK(bs_pool_create(nt, &p));
        if (!p) continue;
        int hits[97];
        pool_ctx c = {hits, bs_pool_threads(p), 0};
        for (int run = 0; run < 2000; run++) {
            int n = 1 + run % 97;
            memset(hits, 0, sizeof hits);
            bs_pool_run(p, n, count_task, &c);
            int ok = 1;
            for (int i = 0; i < n; i++) ok &= hits[i] == 1;
            CHECK_MSG(ok, "threads %d run %d: a task ran %s", nt, run, "not exactly once");
            if (!ok) break;
        }
        CHECK(!c.bad_thread);
        bs_pool_free(p);
    }
    bs_pool *p = NULL;
    CHECK_STATUS(bs_pool_create(0, &p), BS_ERR_INVALID_ARG);
    CHECK_STATUS(bs_pool_create(BS_POOL_MAX_THREADS + 1, &p), BS_ERR_INVALID_ARG);
    bs_pool_free(NULL);
}

/* Fast mode's quantizer: every variant's q8_token gives the reference's X,
   d and o * sum(X) bit for bit, on ordinary and extreme values, NaN and
   infinity included (a NaN block still quantizes, to zeros where NaN). */
static void test_q8_token(void) {
    uint64_t seed = 77;
    enum { NB = 19, N = NB * 32 };
    float x[N];
    for (int trial = 0; trial < 60; trial++) {
        fill(x, N, trial % 3 != 0, &seed);
        if (trial % 4 == 1) x[rng_next(&seed) % N] = NAN;
        if (trial % 5 == 2) x[rng_next(&seed) % N] = -INFINITY;
        if (trial % 6 == 3) memset(x, 0, 32 * sizeof *x); /* a zero block */
        uint32_t o = 1u - (1u << (1 + trial % 11));
        int16_t xq_ref[N], xq[N];
        float d_ref[NB], d[NB];
        int32_t osx_ref[NB], osx[NB];
        bs_q8_token_ref(x, NB, o, xq_ref, d_ref, osx_ref);
        for (int v = 1; v < n_variants; v++) {
            variants[v]->q8_token(x, NB, o, xq, d, osx);
            CHECK_MSG(memcmp(xq, xq_ref, sizeof xq) == 0, "%s: X differs (trial %d)", variants[v]->name, trial);
            CHECK_MSG(memcmp(d, d_ref, sizeof d) == 0, "%s: d differs (trial %d)", variants[v]->name, trial);
            CHECK_MSG(memcmp(osx, osx_ref, sizeof osx) == 0, "%s: o*sum differs (trial %d)", variants[v]->name, trial);
        }
    }
}

int main(int argc, char **argv) {
    n_variants = bs_kernels_all(variants, 8);
    fprintf(stderr, "kernel variants:");
    for (int i = 0; i < n_variants; i++) fprintf(stderr, " %s", variants[i]->name);
    fprintf(stderr, " (best: %s)\n", bs_kernels_best()->name);
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench(argc > 2 ? argv[2] : NULL);
        return 0;
    }
    CHECK(n_variants >= 1 && variants[0] == bs_kernels_ref());
    CHECK(bs_kernels_best() == variants[n_variants - 1]);
    RUN(test_half);
    RUN(test_dot);
    RUN(test_f32);
    RUN(test_f16);
    RUN(test_planes);
    RUN(test_planes_pack);
    RUN(test_planes_fast_bound);
    RUN(test_q8_token);
    RUN(test_avd);
    RUN(test_avd_fast_close);
    RUN(test_baselines);
    RUN(test_pool);
    return test_summary();
}
