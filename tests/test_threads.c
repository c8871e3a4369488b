/* test_threads.c - whole forward passes give the same bits whatever the
 * kernels and the thread count.
 *
 * A random model with linear maps of every kind (F32, F16, PLANES, AVD),
 * every job split over the threads however small (the session's work
 * threshold set to 0), evaluated by
 * sessions with the scalar or the best kernels, 1 to 4 threads and two
 * batch sizes: every logit of a batched prompt, of single-token decode
 * steps and the NLL sum must be identical (memcmp) to the scalar
 * single-thread run. stories260K (the real model) is checked the same way.
 */
#include "half.h"
#include "model.h"
#include "planes_pack.h"
#include "session.h"
#include "test.h"

#include <stdint.h>

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_unit(uint64_t *s) { /* [-1, 1) */
    return (float)((double)(rng_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* Buffers of the hand-made F16 and PLANES maps (the model does not own them). */
typedef struct extra {
    uint16_t *w16, *scales;
    uint8_t *planes[3];
    const uint8_t *plane_ptrs[3];
    bs_avd_block avd[2];
    void *avd_mem[6];
} extra;

/* dim 256, hidden 640, 2 layers, 8 heads of 32, 2 kv heads, vocab 700.
   Layer 0: o as AVD (2 blocks of rank 5); layer 1: gate as F16, up as
   PLANES (3 planes, groups of 64). */
static bs_model *random_model(extra *e) {
    bs_model *m = calloc(1, sizeof *m);
    m->cfg = (bs_config){.dim = 256, .hidden_dim = 640, .n_layers = 2, .n_heads = 8, .n_kv_heads = 2,
                         .vocab_size = 700, .seq_len = 256, .rope_theta = 10000.0f, .norm_eps = 1e-5f};
    if (bs_config_validate(&m->cfg) != BS_OK || bs_model_alloc_weights(m) != BS_OK) return NULL;
    uint64_t seed = 11;
    /* weights ~ U(-1, 1) / sqrt(16): activations stay in a sane range */
    for (size_t i = 0; i < m->arena_floats; i++) m->arena[i] = 0.25f * rng_unit(&seed);
    m->format = "test";
    bs_layer *l = &m->layers[1];
    size_t n = (size_t)l->w_gate.rows * l->w_gate.cols;
    e->w16 = malloc(n * sizeof *e->w16);
    for (size_t i = 0; i < n; i++) e->w16[i] = bs_f32_to_f16(0.25f * rng_unit(&seed));
    l->w_gate.kind = BS_LIN_F16;
    l->w_gate.w16 = e->w16;
    bs_linear *up = &l->w_up;
    int32_t rb = bs_row_bytes(up->cols), gpr = bs_groups_per_row(up->cols, 64);
    e->scales = malloc((size_t)up->rows * gpr * sizeof *e->scales);
    for (size_t i = 0; i < (size_t)up->rows * gpr; i++) e->scales[i] = bs_f32_to_f16(0.05f * rng_unit(&seed));
    for (int i = 0; i < 3; i++) {
        e->planes[i] = malloc((size_t)up->rows * rb);
        for (size_t j = 0; j < (size_t)up->rows * rb; j++) e->planes[i][j] = (uint8_t)rng_next(&seed);
        e->plane_ptrs[i] = e->planes[i];
    }
    up->kind = BS_LIN_PLANES;
    up->max_blocks = 3;
    up->group = 64;
    up->scales = e->scales;
    up->planes = e->plane_ptrs;
    uint8_t *tmp = malloc(bs_planes_pack_tmp(up->cols)); /* the layout the runtime keeps (planes_pack.h) */
    for (int i = 0; i < 3; i++) {
        bs_planes_attach(up, i, tmp);
        up->n_blocks = i + 1;
    }
    free(tmp);
    bs_linear *o = &m->layers[0].wo;
    for (int b = 0; b < 2; b++) {
        size_t ns = (size_t)o->rows * bs_row_bytes(o->cols), na = (size_t)o->rows * 5, nb = (size_t)5 * o->cols;
        uint8_t *sg = e->avd_mem[3 * b] = malloc(ns);
        uint16_t *a = e->avd_mem[3 * b + 1] = malloc(na * 2), *bb = e->avd_mem[3 * b + 2] = malloc(nb * 2);
        for (size_t i = 0; i < ns; i++) sg[i] = (uint8_t)rng_next(&seed);
        for (size_t i = 0; i < na; i++) a[i] = bs_f32_to_f16(0.3f * rng_unit(&seed));
        for (size_t i = 0; i < nb; i++) bb[i] = bs_f32_to_f16(0.3f * rng_unit(&seed));
        e->avd[b] = (bs_avd_block){sg, a, bb};
    }
    o->kind = BS_LIN_AVD;
    o->n_blocks = o->max_blocks = 2;
    o->rank = 5;
    o->avd = e->avd;
    return m;
}

static void extra_free(extra *e) {
    free(e->w16);
    free(e->scales);
    for (int i = 0; i < 3; i++) free(e->planes[i]);
    for (int i = 0; i < 6; i++) free(e->avd_mem[i]);
}

/* Everything one configuration computes: the prompt's last logits, then
   n_dec decode steps' logits, then the NLL sum of a second pass. */
typedef struct run_out {
    float *logits; /* ((1 + n_dec), vocab) */
    double nll;
} run_out;

static int run(const bs_model *m, const bs_kernels *k, int threads, int batch, const int32_t *ids,
               int n_prompt, int n_dec, run_out *out) {
    int vocab = m->cfg.vocab_size;
    bs_session_options so = {.ctx = 128, .max_batch = batch, .n_threads = threads};
    bs_session *s = NULL;
    if (bs_session_create(m, &so, &s) != BS_OK) return 0;
    s->k = k;
    s->par_min_work = 0; /* every job split, however small */
    const float *lg = NULL;
    out->logits = malloc((size_t)(1 + n_dec) * vocab * sizeof(float));
    int ok = bs_session_eval(s, ids, n_prompt, &lg) == BS_OK;
    if (ok) memcpy(out->logits, lg, (size_t)vocab * sizeof(float));
    for (int i = 0; ok && i < n_dec; i++) {
        ok = bs_session_eval(s, ids + n_prompt + i, 1, &lg) == BS_OK;
        if (ok) memcpy(out->logits + (size_t)(1 + i) * vocab, lg, (size_t)vocab * sizeof(float));
    }
    bs_session_reset(s);
    ok = ok && bs_session_eval_nll(s, ids, n_prompt + n_dec, &out->nll) == BS_OK;
    bs_session_free(s);
    return ok;
}

/* Every (kernels, threads, batch) configuration against the scalar,
   single-thread, batch-64 run. */
static void check_model(const bs_model *m, int n_prompt, int n_dec) {
    int vocab = m->cfg.vocab_size, total = n_prompt + n_dec;
    int32_t *ids = malloc((size_t)total * sizeof *ids);
    uint64_t seed = 5;
    for (int i = 0; i < total; i++) ids[i] = (int32_t)(rng_next(&seed) % (uint64_t)vocab);
    const bs_kernels *ks[4];
    int nk = bs_kernels_all(ks, 4);
    run_out base;
    CHECK(run(m, ks[0], 1, 64, ids, n_prompt, n_dec, &base));
    size_t bytes = (size_t)(1 + n_dec) * vocab * sizeof(float);
    for (int ki = 0; ki < nk; ki++)
        for (int threads = 1; threads <= 4; threads++)
            for (int batch = 16; batch <= 64; batch *= 4) {
                run_out o;
                CHECK(run(m, ks[ki], threads, batch, ids, n_prompt, n_dec, &o));
                CHECK_MSG(memcmp(o.logits, base.logits, bytes) == 0 && memcmp(&o.nll, &base.nll, sizeof o.nll) == 0,
                          "%s, %d threads, batch %d: logits or NLL differ (NLL %.17g vs %.17g)", ks[ki]->name,
                          threads, batch, o.nll, base.nll);
                free(o.logits);
            }
    free(base.logits);
    free(ids);
}

static void test_random_model(void) {
    extra e = {0};
    bs_model *m = random_model(&e);
    CHECK(m != NULL);
    if (!m) return;
    check_model(m, 70, 6);
    bs_model_free(m);
    extra_free(&e);
}

static void test_stories260k(void) {
    const char *path = test_path(BS_SHARED_DIR, "models/stories260K/stories260K.bin");
    bs_model *m = NULL;
    if (bs_model_load(path, NULL, &m) != BS_OK) {
        fprintf(stderr, "  (skipped: %s not loadable: %s)\n", path, bs_last_error());
        return;
    }
    check_model(m, 100, 8);
    bs_model_free(m);
}

static void test_options(void) {
    extra e = {0};
    bs_model *m = random_model(&e);
    if (!m) return;
    bs_session *s = NULL;
    bs_session_options so = {.n_threads = -1};
    CHECK_STATUS(bs_session_create(m, &so, &s), BS_ERR_INVALID_ARG);
    so.n_threads = BS_POOL_MAX_THREADS + 1;
    CHECK_STATUS(bs_session_create(m, &so, &s), BS_ERR_INVALID_ARG);
    so.n_threads = 0; /* 0: the caller alone */
    CHECK_OK(bs_session_create(m, &so, &s));
    CHECK(s && s->n_threads == 1);
    bs_session_free(s);
    so.n_threads = 3;
    CHECK_OK(bs_session_create(m, &so, &s));
    CHECK(s && s->n_threads == bs_pool_threads(s->pool)); /* 1 in builds without threads */
#ifdef BS_TEST_EXPECT_THREADS
    CHECK(s && s->n_threads == 3); /* the build under test has the pthread pool (wasm/threads.cmake) */
#endif
    bs_session_free(s);
    bs_model_free(m);
    extra_free(&e);
}

int main(void) {
    RUN(test_options);
    RUN(test_random_model);
    RUN(test_stories260k);
    return test_summary();
}
