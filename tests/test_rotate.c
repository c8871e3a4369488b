/* test_rotate.c - the input rotation of PLANES matrices (core/src/rotate.c,
 * FORMAT.md 5, 1.3): the fast transform against the dense Walsh-Hadamard
 * definition, its inverse, and compressed rotated matrices that multiply
 * and rebuild as the unrotated weights they stand for. */
#include "bitstack.h"
#include "compress.h"
#include "linear.h"
#include "rotate.h"
#include "test.h"

#include <unistd.h>

static float rand_unit(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void random_signs(uint8_t *signs, int32_t cols, uint64_t *seed) {
    memset(signs, 0, bs_rotate_signs_size(cols));
    for (int32_t j = 0; j < cols; j++)
        if (rand_unit(seed) > 0) signs[j >> 3] |= (uint8_t)(0x80u >> (j & 7));
}

static void test_block_sizes(void) {
    CHECK_EQ_INT(bs_rotate_log2(576), 6);   /* SmolLM2's width: 9 x 64 */
    CHECK_EQ_INT(bs_rotate_log2(1536), 9);  /* its hidden width: 3 x 512 */
    CHECK_EQ_INT(bs_rotate_log2(172), 2);   /* stories260K's hidden width */
    CHECK_EQ_INT(bs_rotate_log2(64), 6);
    CHECK_EQ_INT(bs_rotate_log2(7), 0);
    CHECK_EQ_INT(bs_rotate_log2(1 << 20), BS_ROTATE_MAX_LOG2);
    CHECK_EQ_INT(bs_rotate_signs_size(1), 4);
    CHECK_EQ_INT(bs_rotate_signs_size(64), 8);
    CHECK_EQ_INT(bs_rotate_signs_size(65), 12);
}

/* y = H D x with H_ij = (-1)^popcount(i & j) within each block, in double. */
static void dense_rotate(const float *x, double *y, int32_t cols, int32_t log2b, const uint8_t *signs) {
    int32_t b = 1 << log2b;
    for (int32_t i = 0; i < cols; i++) {
        int32_t base = i / b * b;
        double acc = 0.0;
        for (int32_t j = base; j < base + b; j++) {
            double d = (signs[j >> 3] & (0x80u >> (j & 7))) ? 1.0 : -1.0;
            acc += (__builtin_popcount((unsigned)((i - base) & (j - base))) & 1 ? -1.0 : 1.0) * d * x[j];
        }
        y[i] = acc;
    }
}

static void test_against_dense(void) {
    const int32_t widths[] = {2, 6, 48, 576, 1536};
    uint64_t seed = 11;
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int32_t cols = widths[w], k = bs_rotate_log2(cols), n = 3;
        float *x = malloc((size_t)n * cols * sizeof *x), *r = malloc((size_t)n * cols * sizeof *r);
        double *ref = malloc((size_t)cols * sizeof *ref);
        uint8_t signs[256];
        random_signs(signs, cols, &seed);
        for (int32_t i = 0; i < n * cols; i++) x[i] = rand_unit(&seed) * (i % 17 == 0 ? 40.0f : 1.0f);
        memcpy(r, x, (size_t)n * cols * sizeof *r);
        bs_rotate_input(r, cols, n, k, signs);
        double worst = 0.0;
        for (int t = 0; t < n; t++) {
            dense_rotate(x + (size_t)t * cols, ref, cols, k, signs);
            double mag = 0.0;
            for (int32_t j = 0; j < cols; j++) mag += fabs(x[(size_t)t * cols + j]);
            for (int32_t i = 0; i < cols; i++) worst = fmax(worst, fabs(r[(size_t)t * cols + i] - ref[i]) / mag);
        }
        CHECK_MSG(worst < 1e-6, "width %d: fast vs dense Hadamard %g relative", cols, worst);
        free(x), free(r), free(ref);
    }
}

/* D H (H D x) = 2^k x, exactly when every partial sum is an integer. */
static void test_inverse(void) {
    int32_t cols = 1536, k = bs_rotate_log2(cols);
    float *x = malloc((size_t)cols * sizeof *x), *r = malloc((size_t)cols * sizeof *r);
    uint8_t signs[256];
    uint64_t seed = 5;
    random_signs(signs, cols, &seed);
    for (int32_t j = 0; j < cols; j++) x[j] = (float)((int)(rand_unit(&seed) * 1000.0f));
    memcpy(r, x, (size_t)cols * sizeof *r);
    bs_rotate_input(r, cols, 1, k, signs);
    bs_rotate_row_back(r, cols, k, signs);
    int exact = 1;
    for (int32_t j = 0; j < cols; j++) exact &= r[j] == x[j] * (float)(1 << k);
    CHECK_MSG(exact, "D H (H D x) != 2^%d x", k);
    free(x), free(r);
}

static bs_model *load_float(void) {
    bs_load_options o = {test_path(BS_SHARED_DIR, "models/stories260K/tok512.bin"), 0, 0};
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(test_path(BS_SHARED_DIR, "models/stories260K/stories260K.bin"), &o, &m));
    return m;
}

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/test_rotate_%d_%s", BS_BINARY_DIR, (int)getpid(), name);
    return buf;
}

/* One rotated matrix of a loaded file against its source: the runtime's
   product (rotated input, kernels) equals the dense product of the rows it
   rebuilds, and those rows are within the planes' error of the source. */
static void check_rotated(const bs_linear *q, const bs_linear *src, double *worst_w) {
    int32_t rows = q->rows, cols = q->cols, n_tok = 2;
    float *row = malloc((size_t)cols * sizeof *row), *x = malloc((size_t)n_tok * cols * sizeof *x);
    float *xk = malloc((size_t)n_tok * cols * sizeof *xk), *y = malloc((size_t)n_tok * rows * sizeof *y);
    float *scratch = malloc(bs_linear_scratch(q) * sizeof *scratch + 64);
    uint64_t seed = 3;
    for (int32_t i = 0; i < n_tok * cols; i++) x[i] = rand_unit(&seed);
    bs_linear_matmul(bs_kernels_ref(), q, bs_linear_input(q, x, xk, n_tok), y, n_tok, scratch);
    if (q->n_out > 0) bs_outliers_add(q, x, y, n_tok, 0, rows);
    double worst_y = 0.0, err = 0.0, norm = 0.0;
    for (int32_t r = 0; r < rows; r++) {
        bs_linear_weights_row(q, r, row);
        for (int32_t c = 0; c < cols; c++) {
            double d = (double)row[c] - src->w[(size_t)r * cols + c];
            err += d * d, norm += (double)src->w[(size_t)r * cols + c] * src->w[(size_t)r * cols + c];
        }
        for (int t = 0; t < n_tok; t++) {
            double ref = 0.0, mag = 0.0;
            for (int32_t c = 0; c < cols; c++) {
                ref += (double)row[c] * x[(size_t)t * cols + c];
                mag += fabs((double)row[c] * x[(size_t)t * cols + c]);
            }
            worst_y = fmax(worst_y, fabs(y[(size_t)t * rows + r] - ref) / (mag + 1e-30));
        }
    }
    CHECK_MSG(worst_y < 1e-5, "rotated matmul vs dense rows: %g relative", worst_y);
    *worst_w = fmax(*worst_w, sqrt(err / norm));
    free(row), free(x), free(xk), free(y), free(scratch);
}

static void test_compressed(void) {
    bs_model *m = load_float();
    if (!m) return;
    const char *text = "Once upon a time, there was a little girl named Lily. She loved to play outside. "
                       "One day she saw a big red ball in the park and ran to get it. ";
    char buf[8192] = "";
    while (strlen(buf) + strlen(text) < sizeof buf - 1) strcat(buf, text);
    int32_t ids[4096], n = 0;
    CHECK_OK(bs_tokenize(m, buf, strlen(buf), BS_TOKENIZE_BOS, ids, 4096, &n));
    bs_compress_params p = bs_compress_default_params();
    p.sort = BS_SORT_NONE;
    p.rotate = BS_ROTATE_ON;
    p.scaling = 0; /* W as in the source, to compare with */
    p.stack_embeddings = 1;
    p.calib_windows = 2, p.sort_windows = 1, p.curve_windows = 1, p.ctx = 64;
    bs_compress_report rep;
    CHECK_OK(bs_compress(m, ids, n, &p, tmp_path("r.bstk"), &rep));
    bs_model_free(m);
    bs_model *q = NULL, *src = load_float();
    CHECK_OK(bs_model_load(tmp_path("r.bstk"), NULL, &q));
    if (!q || !src) return;
    double worst_w = 0.0;
    for (int32_t li = 0; li < q->cfg.n_layers; li++)
        for (int k = 0; k < 7; k++) {
            const bs_linear *l = bs_layer_linear(&q->layers[li], k);
            CHECK_EQ_INT(l->rot_log2, bs_rotate_log2(l->cols)); /* every matrix with --rotate on */
            check_rotated(l, bs_layer_linear(&src->layers[li], k), &worst_w);
        }
    CHECK_EQ_INT(q->embed.rot_log2, 6); /* the token table: a lookup rebuilds rows through D H */
    /* --rotate auto leaves matrices narrower than 256 columns unrotated (all of stories260K's) */
    bs_model *m2 = load_float();
    p.rotate = BS_ROTATE_AUTO;
    bs_model *a = NULL;
    if (m2) {
        CHECK_OK(bs_compress(m2, ids, n, &p, tmp_path("a.bstk"), &rep));
        bs_model_free(m2);
        CHECK_OK(bs_model_load(tmp_path("a.bstk"), NULL, &a));
    }
    for (int32_t li = 0; a && li < a->cfg.n_layers; li++)
        for (int k = 0; k < 7; k++) CHECK_EQ_INT(bs_layer_linear(&a->layers[li], k)->rot_log2, 0);
    if (a) CHECK_EQ_INT(a->embed.rot_log2, 0);
    bs_model_free(a);
    remove(tmp_path("a.bstk"));
    bs_linear table = {.rows = src->cfg.vocab_size, .cols = src->cfg.dim, .kind = BS_LIN_F32, .w = src->tok_embd};
    check_rotated(&q->embed, &table, &worst_w);
    /* 8 planes: the midrise error is absmax / 2^8 per group; relative to the
       rows' norm that is well under 1% */
    CHECK_MSG(worst_w < 0.01, "rotated planes rebuild the source within %g relative", worst_w);
    bs_model_free(q);
    bs_model_free(src);
    remove(tmp_path("r.bstk"));
}

int main(void) {
    RUN(test_block_sizes);
    RUN(test_against_dense);
    RUN(test_inverse);
    RUN(test_compressed);
    return test_summary();
}
