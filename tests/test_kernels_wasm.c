/* test_kernels_wasm.c - every kernel variant in the binary against the
 * scalar reference, bit for bit (memcmp), with a benchmark mode. Written for
 * the wasm builds (the SIMD128 module holds "scalar" and "simd128"); the
 * native build runs it too, over whatever variants it has.
 *
 *   test_kernels_wasm            bit-exactness (ctest runs this)
 *   test_kernels_wasm --bench [NAME]   matvec GFLOP/s of each variant (those whose
 *                                      name holds NAME), same shapes
 *
 * Coverage: dot_f32 for n = 0..300 on pointers at every offset mod 4 floats;
 * matmul of F32, F16, PLANES (0 to 12 planes, groups 1, 3, 7, 8, 12, 32,
 * 64 and cols; packed as the runtime packs them, and plain) and AVD (ranks 1 to 9, 1 to 3 blocks, n_tok below and above
 * the batched-rows switch) for cols 1, 3, 7, 8, 9, 15, 17, 63, 64, 65, 172,
 * rows 1, 3, 5, 17, sub-ranges [r0, r1) (rows outside keep a sentinel),
 * weights and x at unaligned addresses, values that are large, tiny,
 * subnormal, +-0 and of mixed signs; binary16 weights take every finite bit
 * pattern. Only finite results are compared: NaN payloads are not part of
 * the contract. The bench's Q8_0 / Q4_0-like baselines (baseline.h): the
 * chosen matvec against bs_qmat_matvec_ref, 1 to 18 blocks per row (whole
 * groups of 8 and tails), ragged last blocks, zero and tiny rows.
 */
#include "baseline.h"
#include "half.h"
#include "kernels.h"
#include "linear.h"
#include "planes_pack.h"
#include "test.h"

#include <stdint.h>
#include <time.h>

/* ---- deterministic inputs ----------------------------------------------- */

static uint64_t rng = 0x1234567u;

static uint64_t next_u64(void) { /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static float unit(void) { return (float)((double)(next_u64() >> 11) / 9007199254740992.0 * 2.0 - 1.0); }

/* One of the value classes that stress rounding. */
static float extreme(void) {
    float u = unit();
    switch (next_u64() % 8) {
    case 0: return u * 1e15f;
    case 1: return u * 1e-18f;
    case 2: return u * 1e-40f; /* subnormal */
    case 3: return 0.0f;
    case 4: return -0.0f;
    case 5: return u < 0 ? -1.0f : 1.0f;
    default: return u * 4.0f;
    }
}

static void fill(float *v, size_t n, int hard) {
    for (size_t i = 0; i < n; i++) v[i] = hard ? extreme() : unit();
}

/* A finite binary16 of any class: zero, subnormal, normal, the largest. */
static uint16_t finite_half(void) {
    for (;;) {
        uint16_t h = (uint16_t)next_u64();
        if ((h & 0x7c00u) != 0x7c00u) return h;
    }
}

/* A binary16 of moderate size (AVD factors: products of rank of them). */
static uint16_t modest_half(void) { return bs_f32_to_f16(unit() * 2.0f); }

static const bs_kernels *variants[8];
static int n_variants;

/* ---- comparing -------------------------------------------------------------- */

/* Runs rows [r0, r1) of l with the reference and every other variant, on
   y and scratch offset by one float, and compares all of y. */
static void compare(const bs_linear *l, const float *x, int n_tok, int r0, int r1, const char *what) {
    size_t ny = (size_t)n_tok * l->rows + 1, ns = bs_linear_scratch(l) + 1;
    float *want = malloc(ny * sizeof *want), *got = malloc(ny * sizeof *got), *scr = malloc(ns * sizeof *scr);
    for (int fast = 0; fast < 2; fast++) { /* each mode against its own reference */
        for (size_t i = 0; i < ny; i++) want[i] = -77.5f;
        bs_linear_kernel(variants[0], fast, l)(l, x, want + 1, n_tok, r0, r1, scr + 1);
        for (int v = 1; v < n_variants; v++) {
            for (size_t i = 0; i < ny; i++) got[i] = -77.5f;
            bs_linear_kernel(variants[v], fast, l)(l, x, got + 1, n_tok, r0, r1, scr + 1);
            size_t bad = 0;
            while (bad < ny && memcmp(&got[bad], &want[bad], 4) == 0) bad++;
            CHECK_MSG(bad == ny, "%s %s %s: rows %d cols %d n_tok %d [%d,%d): y[%zu] %.9g vs %.9g",
                      variants[v]->name, fast ? "fast" : "exact", what, l->rows, l->cols, n_tok, r0, r1, bad - 1,
                      bad < ny ? (double)got[bad] : 0.0, bad < ny ? (double)want[bad] : 0.0);
        }
    }
    free(want);
    free(got);
    free(scr);
}

/* Every n_tok and a few row ranges for one matrix. */
static void compare_all(const bs_linear *l, const char *what) {
    static const int NTOK[] = {1, 2, 3, 4, 5, 9};
    for (int hard = 0; hard < 2; hard++)
        for (size_t t = 0; t < sizeof NTOK / sizeof NTOK[0]; t++) {
            int n_tok = NTOK[t];
            float *x = malloc(((size_t)n_tok * l->cols + 1) * sizeof *x);
            fill(x, (size_t)n_tok * l->cols + 1, hard);
            compare(l, x + 1, n_tok, 0, l->rows, what);
            if (l->rows > 2) compare(l, x + 1, n_tok, 1, l->rows - 1, what);
            free(x);
        }
}

static const int COLS[] = {1, 3, 7, 8, 9, 15, 17, 63, 64, 65, 172};
static const int ROWS[] = {1, 3, 5, 17};
#define N_OF(a) (int)(sizeof a / sizeof a[0])

/* ---- the tests ---------------------------------------------------------------- */

static void test_variants_listed(void) {
    CHECK(n_variants >= 1);
    CHECK(variants[0] == bs_kernels_ref());
    CHECK(bs_kernels_best() == variants[n_variants - 1]);
    for (int v = 0; v < n_variants; v++) fprintf(stderr, "  variant %d: %s\n", v, variants[v]->name);
#if defined(__wasm_simd128__)
    CHECK_MSG(n_variants == 2 && strcmp(bs_kernels_best()->name, "simd128") == 0, "SIMD128 build without simd128");
#endif
}

static void test_dot(void) {
    float *a = malloc(310 * sizeof *a), *b = malloc(310 * sizeof *b);
    for (int hard = 0; hard < 2; hard++)
        for (int n = 0; n <= 300; n++) {
            fill(a, 310, hard);
            fill(b, 310, hard);
            int oa = n % 4, ob = (n / 4) % 4; /* every alignment pair */
            float want = bs_dot_f32_ref(a + oa, b + ob, n);
            for (int v = 1; v < n_variants; v++) {
                float got = variants[v]->dot_f32(a + oa, b + ob, n);
                CHECK_MSG(memcmp(&got, &want, 4) == 0, "%s dot n=%d: %.9g vs %.9g", variants[v]->name, n,
                          (double)got, (double)want);
            }
        }
    free(a);
    free(b);
}

static void test_f32(void) {
    for (int ri = 0; ri < N_OF(ROWS); ri++)
        for (int ci = 0; ci < N_OF(COLS); ci++) {
            int rows = ROWS[ri], cols = COLS[ci];
            float *w = malloc(((size_t)rows * cols + 1) * sizeof *w);
            fill(w, (size_t)rows * cols + 1, ci % 2);
            bs_linear l = {.rows = rows, .cols = cols, .kind = BS_LIN_F32, .w = w + 1};
            compare_all(&l, "F32");
            free(w);
        }
}

/* All 63488 finite binary16 patterns as one 31 x 2048 matrix, and random
   ones at odd shapes. */
static void test_f16(void) {
    uint16_t *h = malloc((31 * 2048 + 1) * sizeof *h);
    size_t k = 1;
    for (uint32_t p = 0; p < 0x10000u; p++)
        if ((p & 0x7c00u) != 0x7c00u) h[k++] = (uint16_t)p;
    CHECK_EQ_INT(k - 1, 31 * 2048);
    bs_linear all = {.rows = 31, .cols = 2048, .kind = BS_LIN_F16, .w16 = h + 1};
    float *x = malloc((2 * 2048 + 1) * sizeof *x);
    for (int hard = 0; hard < 2; hard++) {
        fill(x, 2 * 2048 + 1, hard);
        compare(&all, x + 1, 2, 0, 31, "F16 all patterns");
    }
    free(x);
    for (int ri = 0; ri < N_OF(ROWS); ri++)
        for (int ci = 0; ci < N_OF(COLS); ci++) {
            bs_linear l = {.rows = ROWS[ri], .cols = COLS[ci], .kind = BS_LIN_F16};
            for (size_t i = 0; i < (size_t)l.rows * l.cols; i++) h[i + 1] = finite_half();
            l.w16 = h + 1;
            compare_all(&l, "F16");
        }
    free(h);
}

static uint8_t *random_bytes(size_t n) {
    uint8_t *p = malloc(n + 1);
    for (size_t i = 0; i <= n; i++) p[i] = (uint8_t)next_u64();
    return p;
}

/* Attaches planes 0 .. n-1 of a plain map one by one, as the runtime
   does, into the packed layout the kernels read (planes_pack.h). */
static void pack_planes(bs_linear *l, int n) {
    uint8_t *tmp = malloc(bs_planes_pack_tmp(l->cols));
    l->n_blocks = 0;
    for (int i = 0; i < n; i++) {
        bs_planes_attach(l, i, tmp);
        l->n_blocks = i + 1;
    }
    free(tmp);
}

static void test_planes(void) {
    static const int GROUPS[] = {1, 3, 7, 8, 12, 32, 64, 0 /* = cols */};
    for (int ri = 0; ri < N_OF(ROWS); ri++)
        for (int ci = 0; ci < N_OF(COLS); ci++)
            for (int gi = 0; gi < N_OF(GROUPS); gi++) {
                int rows = ROWS[ri], cols = COLS[ci], group = GROUPS[gi] ? GROUPS[gi] : cols;
                if (group > cols) continue;
                size_t gpr = (size_t)bs_groups_per_row(cols, group), rb = (size_t)bs_row_bytes(cols);
                uint16_t *sc = malloc((rows * gpr + 1) * sizeof *sc);
                for (size_t i = 0; i <= rows * gpr; i++) sc[i] = finite_half();
                uint8_t *bits[12];
                const uint8_t *planes[12];
                for (int i = 0; i < 12; i++) bits[i] = random_bytes((size_t)rows * rb), planes[i] = bits[i] + 1;
                bs_linear l = {.rows = rows, .cols = cols, .kind = BS_LIN_PLANES, .max_blocks = 12,
                               .group = group, .scales = sc + 1, .planes = planes};
                for (int n = (ri + ci + gi) % 3; n <= 12; n += 3) { /* every count, spread over shapes */
                    l.n_blocks = n;
                    l.packed = 0;
                    if (gi == 0) compare_all(&l, "PLANES plain"); /* the reference's other layout */
                    uint8_t *copy[12]; /* packing rewrites the planes: pack a copy */
                    const uint8_t *cplanes[12];
                    for (int i = 0; i < n; i++) {
                        copy[i] = malloc((size_t)rows * rb + 1);
                        memcpy(copy[i], bits[i], (size_t)rows * rb + 1);
                        cplanes[i] = copy[i] + 1;
                    }
                    bs_linear p = l;
                    p.planes = cplanes;
                    pack_planes(&p, n);
                    compare_all(&p, "PLANES");
                    if (n % 2) { /* the scales as 8-bit codes against a reference per row (scales.h) */
                        uint16_t *ref = malloc(((size_t)rows + 1) * sizeof *ref);
                        uint8_t *codes = random_bytes(rows * gpr);
                        for (int r = 0; r <= rows; r++) ref[r] = (uint16_t)(0x0400 + next_u64() % (0x7bff - 0x0400 + 1));
                        p.scales = NULL, p.scale_ref = ref + 1, p.scale_codes = codes + 1;
                        compare_all(&p, "PLANES codes");
                        free(ref), free(codes);
                    }
                    for (int i = 0; i < n; i++) free(copy[i]);
                }
                for (int i = 0; i < 12; i++) free(bits[i]);
                free(sc);
            }
}

/* One quantized matrix: the chosen matvec against the reference on rows
   [r0, r1) (sentinels outside), x's arrays one element off alignment. */
static void compare_qmat(const bs_qmat *m, const float *x, int r0, int r1) {
    int nb = bs_qmat_blocks(m);
    float *xpad = calloc((size_t)nb * 32, sizeof *xpad), *xd = malloc((nb + 1) * sizeof *xd);
    int8_t *xq = malloc((size_t)nb * 32 + 1);
    int32_t *xs = malloc((nb + 1) * sizeof *xs);
    memcpy(xpad, x, (size_t)m->cols * sizeof *x);
    bs_q8_quantize(xpad, nb, xq + 1, NULL, xd + 1, xs + 1, NULL);
    float *want = malloc((m->rows + 1) * sizeof *want), *got = malloc((m->rows + 1) * sizeof *got);
    for (int i = 0; i <= m->rows; i++) want[i] = got[i] = -77.5f;
    bs_qmat_matvec_ref(m, xq + 1, xd + 1, xs + 1, want + 1, r0, r1);
    bs_qmat_matvec(m, xq + 1, xd + 1, xs + 1, got + 1, r0, r1);
    int bad = 0;
    while (bad <= m->rows && memcmp(&got[bad], &want[bad], 4) == 0) bad++;
    CHECK_MSG(bad > m->rows, "q%d rows %d cols %d [%d,%d): y[%d] %.9g vs %.9g", m->bits, m->rows, m->cols, r0, r1,
              bad - 1, bad <= m->rows ? (double)got[bad] : 0.0, bad <= m->rows ? (double)want[bad] : 0.0);
    free(xpad), free(xd), free(xq), free(xs), free(want), free(got);
}

static void test_qmat(void) {
    static const int QCOLS[] = {1, 31, 32, 33, 64, 100, 256, 257, 288, 319, 576};
    static const float SCALE[] = {1.0f, 0.0f, 1e-6f, 1e-3f, 100.0f}; /* per row: zero and tiny rows too */
    for (int bits = 4; bits <= 8; bits += 4)
        for (int ri = 0; ri < N_OF(ROWS); ri++)
            for (int ci = 0; ci < N_OF(QCOLS); ci++) {
                int rows = ROWS[ri], cols = QCOLS[ci];
                float *w = malloc((size_t)rows * cols * sizeof *w), *x = malloc(cols * sizeof *x);
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < cols; j++) w[(size_t)r * cols + j] = unit() * SCALE[(r + ci) % N_OF(SCALE)];
                bs_qmat m;
                CHECK(bs_qmat_init(&m, w, rows, cols, bits) == 0);
#if defined(__wasm_simd128__)
                CHECK_MSG(m.matvec == bs_qmat_matvec_simd128, "SIMD128 build: q%d matvec is not the SIMD128 one", bits);
#endif
                for (int hard = 0; hard < 2; hard++) {
                    fill(x, cols, hard);
                    compare_qmat(&m, x, 0, rows);
                    if (rows > 2) compare_qmat(&m, x, 1, rows - 1);
                }
                bs_qmat_free(&m);
                free(w), free(x);
            }
}

static void test_avd(void) {
    for (int ri = 0; ri < N_OF(ROWS); ri++)
        for (int ci = 0; ci < N_OF(COLS); ci++) {
            int rows = ROWS[ri], cols = COLS[ci], rank = 1 + (ri * 5 + ci) % 9;
            size_t rb = (size_t)bs_row_bytes(cols), na = (size_t)rows * rank, nb = (size_t)rank * cols;
            bs_avd_block blocks[3];
            void *mem[9];
            for (int i = 0; i < 3; i++) {
                uint16_t *a = malloc((na + 1) * sizeof *a), *b = malloc((nb + 1) * sizeof *b);
                for (size_t j = 0; j <= na; j++) a[j] = (j % 5) ? modest_half() : finite_half() & 0x83ffu;
                for (size_t j = 0; j <= nb; j++) b[j] = modest_half();
                uint8_t *s = random_bytes((size_t)rows * rb);
                blocks[i] = (bs_avd_block){s + 1, a + 1, b + 1};
                mem[3 * i] = a, mem[3 * i + 1] = b, mem[3 * i + 2] = s;
            }
            bs_linear l = {.rows = rows, .cols = cols, .kind = BS_LIN_AVD, .max_blocks = 3, .rank = rank,
                           .avd = blocks};
            for (int n = 0; n <= 3; n++) {
                l.n_blocks = n;
                compare_all(&l, "AVD");
            }
            for (int i = 0; i < 9; i++) free(mem[i]);
        }
}

/* ---- benchmark ------------------------------------------------------------------ */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fastest call (of those in 0.3 s: a call never preempted shows what the
   code does on a shared machine) of fn(arg), seconds. */
static double fastest(void (*fn)(void *), void *arg) {
    double t0 = now(), best = 1e30, t1;
    int calls = 0;
    do {
        double ts = now();
        fn(arg);
        t1 = now();
        if (t1 - ts < best) best = t1 - ts;
    } while (++calls < 3 || t1 - t0 < 0.3);
    return best;
}

typedef struct qmat_call {
    const bs_qmat *m;
    bs_qmat_fn fn;
    const int8_t *xq;
    const float *xd;
    const int32_t *xs;
    float *y;
} qmat_call;

typedef struct linear_call {
    bs_linear_fn fn;
    const bs_linear *l;
    const float *x;
    float *y, *scratch;
} linear_call;

static void run_linear(void *arg) {
    linear_call *c = arg;
    c->fn(c->l, c->x, c->y, 1, 0, c->l->rows, c->scratch);
}

static void run_qmat(void *arg) {
    qmat_call *c = arg;
    c->fn(c->m, c->xq, c->xd, c->xs, c->y, 0, c->m->rows);
}

/* The bench's baselines on the same matrix: the reference and the chosen
   variant, x quantized once (outside the timing). */
static void bench_qmat(const float *w, const float *x, int rows, int cols, const char *only) {
    int nb = (cols + 31) / 32;
    float *xpad = calloc((size_t)nb * 32, sizeof *xpad), *xd = malloc(nb * sizeof *xd), *y = malloc(rows * sizeof *y);
    int8_t *xq = malloc((size_t)nb * 32);
    int32_t *xs = malloc(nb * sizeof *xs);
    memcpy(xpad, x, (size_t)cols * sizeof *x);
    bs_q8_quantize(xpad, nb, xq, NULL, xd, xs, NULL);
    for (int bits = 8; bits >= 4; bits -= 4) {
        char name[32];
        snprintf(name, sizeof name, "Q%d_0 baseline", bits);
        if (only && !strstr(name, only)) continue;
        bs_qmat m;
        if (bs_qmat_init(&m, w, rows, cols, bits) != 0) break;
        qmat_call ref = {&m, bs_qmat_matvec_ref, xq, xd, xs, y}, best = ref;
        best.fn = m.matvec;
        printf("  %-20s  scalar %.2f  %s %.2f\n", name, 2.0 * rows * cols / fastest(run_qmat, &ref) * 1e-9,
               bs_kernels_best()->name, 2.0 * rows * cols / fastest(run_qmat, &best) * 1e-9);
        bs_qmat_free(&m);
    }
    free(xpad), free(xd), free(y), free(xq), free(xs);
}

/* Matvec (n_tok 1) GFLOP/s of each variant on a 1536 x 576 matrix
   (SmolLM2-135M's up projection) of each kind; bit planes packed as the
   runtime packs them, in groups of 32 with 2 to 8 planes (and the 4
   planes in groups of 64 of earlier runs). */
static void bench(const char *only) {
    const int rows = 1536, cols = 576, rank = 16;
    size_t n = (size_t)rows * cols, rb = (size_t)bs_row_bytes(cols);
    float *w = malloc(n * sizeof *w), *x = malloc(cols * sizeof *x), *y = malloc(rows * sizeof *y);
    uint16_t *h = malloc(n * sizeof *h), *sc = malloc((size_t)rows * 18 * sizeof *sc);
    uint16_t *a = malloc((size_t)rows * rank * 2), *b = malloc((size_t)rank * cols * 2);
    fill(w, n, 0);
    fill(x, cols, 0);
    for (size_t i = 0; i < n; i++) h[i] = bs_f32_to_f16(w[i]);
    for (size_t i = 0; i < (size_t)rows * 18; i++) sc[i] = modest_half();
    for (size_t i = 0; i < (size_t)rows * rank; i++) a[i] = modest_half();
    for (size_t i = 0; i < (size_t)rank * cols; i++) b[i] = modest_half();
    uint8_t *bits[8];
    const uint8_t *signs[4];
    for (int i = 0; i < 8; i++) bits[i] = random_bytes(rows * rb);
    for (int i = 0; i < 4; i++) signs[i] = bits[i];
    bs_avd_block blk[4];
    for (int i = 0; i < 4; i++) blk[i] = (bs_avd_block){signs[i], a, b};
    /* the planes kinds: (planes, group); each packs its own copy */
    static const int PN[6][2] = {{4, 64}, {2, 32}, {3, 32}, {4, 32}, {6, 32}, {8, 32}};
    const uint8_t *pp[6][8];
    uint8_t *copies[6][8];
    bs_linear ls[8] = {
        {.rows = rows, .cols = cols, .kind = BS_LIN_F32, .w = w},
        {.rows = rows, .cols = cols, .kind = BS_LIN_F16, .w16 = h},
    };
    for (int k = 0; k < 6; k++) {
        for (int i = 0; i < PN[k][0]; i++) {
            copies[k][i] = malloc(rows * rb);
            memcpy(copies[k][i], bits[i], rows * rb);
            pp[k][i] = copies[k][i];
        }
        ls[2 + k] = (bs_linear){.rows = rows, .cols = cols, .kind = BS_LIN_PLANES, .max_blocks = PN[k][0],
                                .group = PN[k][1], .scales = sc, .planes = pp[k]};
        pack_planes(&ls[2 + k], PN[k][0]);
    }
    bs_linear avd = {.rows = rows, .cols = cols, .kind = BS_LIN_AVD, .n_blocks = 4, .max_blocks = 4, .rank = rank,
                     .avd = blk};
    size_t ns = bs_linear_scratch(&avd);
    for (int k = 0; k < 8; k++) ns = ns > bs_linear_scratch(&ls[k]) ? ns : bs_linear_scratch(&ls[k]);
    float *scr = malloc(ns * sizeof *scr);
    printf("matvec %d x %d, GFLOP/s (2 rows*cols flops per call, fastest call); \"fast\": the kernels' fast mode\n",
           rows, cols);
    for (int kk = 0; kk < 16; kk++) {
        /* F32, F16, 6 planes kinds exact then fast, AVD exact, AVD fast */
        int fast = kk >= 8 && kk < 14 ? 1 : kk == 15;
        const bs_linear *l = kk < 8 ? &ls[kk] : kk < 14 ? &ls[kk - 6] : &avd;
        char name[32];
        if (l->kind == BS_LIN_PLANES)
            snprintf(name, sizeof name, "PLANES(%d,g%d)%s", l->n_blocks, l->group, fast ? " fast" : "");
        else
            snprintf(name, sizeof name, "%s%s", l->kind == BS_LIN_F32 ? "F32" : l->kind == BS_LIN_F16 ? "F16" : "AVD(4,k16)",
                     fast ? " fast" : "");
        if (only && !strstr(name, only)) continue;
        printf("  %-20s", name);
        for (int v = 0; v < n_variants; v++) {
            linear_call c = {bs_linear_kernel(variants[v], fast, l), l, x, y, scr};
            printf("  %s %.2f", variants[v]->name, 2.0 * (double)n / fastest(run_linear, &c) * 1e-9);
        }
        printf("\n");
    }
    bench_qmat(w, x, rows, cols, only);
    for (int i = 0; i < 8; i++) free(bits[i]);
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < PN[k][0]; i++) free(copies[k][i]);
    free(w), free(x), free(y), free(h), free(sc), free(a), free(b), free(scr);
}

int main(int argc, char **argv) {
    n_variants = bs_kernels_all(variants, 8);
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench(argc > 2 ? argv[2] : NULL);
        return 0;
    }
    RUN(test_variants_listed);
    RUN(test_dot);
    RUN(test_f32);
    RUN(test_f16);
    RUN(test_planes);
    RUN(test_avd);
    RUN(test_qmat);
    return test_summary();
}
