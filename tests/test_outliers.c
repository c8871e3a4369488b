/* test_outliers.c - input channels kept apart (core/src/outliers.c,
 * FORMAT.md 5): the compressor picks the channels with the largest
 * calibration RMS and stores their columns in binary16; a loaded file
 * rebuilds exactly those values there, and the runtime's masked matmul plus
 * the exact columns equals the dense product of the rows it rebuilds. */
#include "bitstack.h"
#include "bstk.h"
#include "compress.h"
#include "half.h"
#include "linear.h"
#include "test.h"

#include <unistd.h>

static const char *tmp_path(const char *name) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/test_outliers_%d_%s", BS_BINARY_DIR, (int)getpid(), name);
    return buf;
}

static bs_model *load_float(void) {
    bs_load_options o = {test_path(BS_SHARED_DIR, "models/stories260K/tok512.bin"), 0, 0};
    bs_model *m = NULL;
    CHECK_OK(bs_model_load(test_path(BS_SHARED_DIR, "models/stories260K/stories260K.bin"), &o, &m));
    return m;
}

/* stories260K with a low ratio, so that every matrix keeps channels apart. */
static void compress_with_outliers(const char *out, int32_t max_out) {
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
    p.blocks = 4;
    p.calib_windows = 2;
    p.sort_windows = 1;
    p.curve_windows = 1;
    p.ctx = 64;
    p.outliers = max_out;
    p.outlier_ratio = 1.5;
    bs_compress_report rep;
    CHECK_OK(bs_compress(m, ids, n, &p, out, &rep));
    bs_model_free(m);
}

static float rand_unit(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

/* The kept columns hold the source weights (binary16), and masked matmul +
   exact columns == the dense rows bs_linear_weights_row rebuilds. */
static void check_linear(const bs_linear *q, const bs_linear *src, int32_t max_out, int *with_out) {
    CHECK(q->n_out >= 0 && q->n_out <= max_out);
    if (q->n_out == 0) return;
    (*with_out)++;
    int32_t rows = q->rows, cols = q->cols, n_tok = 3;
    float *row = malloc((size_t)cols * sizeof *row), *x = malloc((size_t)n_tok * cols * sizeof *x);
    float *xm = malloc((size_t)n_tok * cols * sizeof *xm), *y = malloc((size_t)n_tok * rows * sizeof *y);
    float *scratch = malloc(bs_linear_scratch(q) * sizeof *scratch + 64);
    uint64_t seed = 7;
    for (int32_t i = 0; i < n_tok * cols; i++) x[i] = rand_unit(&seed);
    for (int32_t k = 0; k < q->n_out; k++) x[q->out_idx[k]] *= 50.0f; /* massive, as in real models */
    for (int32_t k = 1; k < q->n_out; k++) CHECK(q->out_idx[k] > q->out_idx[k - 1]);
    bs_linear_matmul(bs_kernels_best(), q, bs_linear_input(q, x, xm, n_tok), y, n_tok, scratch);
    bs_outliers_add(q, x, y, n_tok, 0, rows);
    double worst = 0.0;
    for (int32_t r = 0; r < rows; r++) {
        bs_linear_weights_row(q, r, row);
        for (int32_t k = 0; k < q->n_out; k++) {
            float w = src->w[(size_t)r * cols + q->out_idx[k]];
            CHECK(row[q->out_idx[k]] == bs_f16_to_f32(bs_f32_to_f16(w)));
        }
        for (int t = 0; t < n_tok; t++) {
            double ref = 0.0, mag = 0.0;
            for (int32_t c = 0; c < cols; c++) {
                ref += (double)row[c] * x[(size_t)t * cols + c];
                mag += fabs((double)row[c] * x[(size_t)t * cols + c]);
            }
            worst = fmax(worst, fabs(y[(size_t)t * rows + r] - ref) / (mag + 1e-30));
        }
    }
    CHECK_MSG(worst < 1e-5, "masked matmul + kept columns vs dense rows: %g relative", worst);
    free(row), free(x), free(xm), free(y), free(scratch);
}

static void test_kept_channels(void) {
    const int32_t max_out = 3;
    compress_with_outliers(tmp_path("o.bstk"), max_out);
    bs_model *q = NULL, *src = load_float();
    CHECK_OK(bs_model_load(tmp_path("o.bstk"), NULL, &q));
    if (!q || !src) return;
    int with_out = 0;
    for (int32_t li = 0; li < q->cfg.n_layers; li++)
        for (int k = 0; k < 7; k++)
            check_linear(bs_layer_linear(&q->layers[li], k), bs_layer_linear(&src->layers[li], k), max_out,
                         &with_out);
    CHECK_MSG(with_out > 0, "no matrix kept a channel apart at ratio 1.5");
    CHECK(q->embed.n_out == 0); /* a lookup table has no input statistics */
    bs_model_free(q);
    bs_model_free(src);
}

/* --outliers 0: no matrix keeps a channel apart (the 1.0 layout). */
static void test_none(void) {
    compress_with_outliers(tmp_path("n.bstk"), 0);
    bs_model *q = NULL;
    CHECK_OK(bs_model_load(tmp_path("n.bstk"), NULL, &q));
    for (int32_t li = 0; q && li < q->cfg.n_layers; li++)
        for (int k = 0; k < 7; k++) CHECK(bs_layer_linear(&q->layers[li], k)->n_out == 0);
    bs_model_free(q);
}

int main(void) {
    RUN(test_kept_channels);
    RUN(test_none);
    remove(tmp_path("o.bstk"));
    remove(tmp_path("n.bstk"));
    return test_summary();
}
